#!/usr/bin/env bash
# ApplicationStop: stop the service started by the installed revision. Nothing
# running is not an error: the first deployment to a host has nothing to stop.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    say "ml-inference is not running under $APP_HOME; nothing to stop"
    exit 0
fi

say "stopping ml-inference (pid $pid)"
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do
    alive "$pid" || break
    sleep 0.2
done
if alive "$pid"; then
    say "pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
fi
rm -f "$PID_FILE"
say "stopped"
