#!/usr/bin/env bash
# A longer pass of the hostile-input suite (Tests/SlipwayCLITests/Python/hostile.py): builds slipway if needed,
# starts `slipway server --dev` on a free loopback port with a temporary data directory, runs every part of the
# script with the given seed and iteration count, stops the server, and exits with the script's status. A failing
# check prints its request and answer; the same seed replays the same requests.
#
#   scripts/hostile-pass.sh                                  # seed 1, 50 iterations
#   scripts/hostile-pass.sh --seed 7 --iterations 500
#   scripts/hostile-pass.sh --seed 7 -- --parts s3,sigv4     # anything after -- goes to hostile.py
#   scripts/hostile-pass.sh --big-archives                   # also the archive of a million and one entries
#
# Needs Python 3 with scripts/requirements.txt installed.
set -euo pipefail
cd "$(dirname "$0")/.."

seed=1
iterations=50
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        --iterations) iterations="$2"; shift 2 ;;
        --big-archives) extra+=("--big-archives"); shift ;;
        --) shift; extra+=("$@"); break ;;
        *) echo "usage: $0 [--seed N] [--iterations N] [--big-archives] [-- hostile.py options]" >&2; exit 2 ;;
    esac
done

binary="$(swift build --show-bin-path)/slipway"
if [ ! -x "$binary" ]; then
    swift build --product slipway
fi

data_dir="$(mktemp -d -t slipway-hostile-pass.XXXXXX)"
log="$data_dir.log"
server_pid=""
status=1
# Stops the server and removes its data; the server's log stays when the pass failed.
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$data_dir"
    if [ "$status" -eq 0 ]; then rm -f "$log"; fi
}
trap cleanup EXIT INT TERM

# --poll-hold 1: a PollHostCommand that passes validation is answered within a second.
"$binary" server --dev --listen 127.0.0.1:0 --data-dir "$data_dir" --no-agent --poll-hold 1 >"$log" 2>&1 &
server_pid=$!

# The banner ends with "Then try:"; its export lines point the AWS clients at the server.
for _ in $(seq 1 300); do
    if grep -q "Then try:" "$log" 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "hostile-pass: the server did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
while read -r name value; do
    export "$name=$value"
done < <(sed -n 's/^ *export \([A-Z_]*\)=\(.*\)$/\1 \2/p' "$log")
if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
    echo "hostile-pass: no AWS_ENDPOINT_URL in the server's banner:" >&2
    cat "$log" >&2
    exit 1
fi
echo "hostile-pass: server $server_pid at $AWS_ENDPOINT_URL, log $log, seed $seed, $iterations iterations"

status=0
# hostile.py: 200,000 entries in the entry-count archive (CI's default is 50,000).
SLIPWAY_BIN="$binary" SLIPWAY_SERVER_PID="$server_pid" python3 Tests/SlipwayCLITests/Python/hostile.py \
    --seed "$seed" --iterations "$iterations" --entries 200000 ${extra[@]+"${extra[@]}"} || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "hostile-pass: the server process is gone; its log's end:" >&2
    tail -n 40 "$log" >&2
    status=1
fi
exit "$status"
