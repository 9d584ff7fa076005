#!/usr/bin/env bash
# ApplicationStart: start the service in the background, detached from the hook.
set -euo pipefail
. "$(dirname "$0")/common.sh"

# ApplicationStop normally stopped it; but a host's first deployment through a
# new agent (or after `slipway local`) skips ApplicationStop, so a service
# installed earlier into the same directory may still run and hold the port.
if pid=$(running_pid); then
    say "ml-inference from an earlier install is still running (pid $pid); stopping it first"
    "$HOOK_DIR/stop.sh"
fi
rm -f "$PID_FILE"

# Detach properly: a session of its own where setsid exists, and every standard
# stream redirected, so that the lifecycle event does not wait for the
# service's output to close (the stock CodeDeploy agent would hang until the
# event's timeout otherwise) and the service outlives the hook.
launcher=nohup
command -v setsid >/dev/null && launcher=setsid
echo "--- $(date '+%Y-%m-%d %H:%M:%S') starting model $MODEL_VERSION (deployment ${DEPLOYMENT_ID:-local})" >>"$LOG_FILE"
$launcher python3 "$APP_HOME/app/server.py" --config "$CONFIG_FILE" --pid-file "$PID_FILE" \
    >>"$LOG_FILE" 2>&1 </dev/null &
launched=$!

# The server writes its pid file once it listens.
for _ in $(seq 1 50); do
    if pid=$(running_pid); then
        say "started ml-inference (pid $pid) on http://127.0.0.1:$PORT, log $LOG_FILE"
        exit 0
    fi
    if ! alive "$launched" && [ ! -f "$PID_FILE" ]; then
        tail -n 5 "$LOG_FILE" >&2 || true
        fail "ml-inference exited during start-up (log: $LOG_FILE)"
    fi
    sleep 0.2
done
fail "ml-inference did not start listening on port $PORT within 10 s (log: $LOG_FILE)"
