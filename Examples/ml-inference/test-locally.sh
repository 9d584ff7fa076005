#!/usr/bin/env bash
# Runs the example end to end on this machine with `slipway local`, without a
# server and without root: trains the model, deploys v1 into a temporary
# directory, asks it for a prediction, deploys v2-broken (which must fail at
# ValidateService), deploys v1 again as a rollback would, and stops the
# service. Exits 0 when everything behaved as described in README.md.
#
#   ./test-locally.sh            # uses $SLIPWAY, or slipway on PATH, or the package's .build/debug/slipway
#   KEEP=1 ./test-locally.sh     # keep the temporary directory for a look afterwards
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${SLIPWAY:-}" ]; then
    slipway=$SLIPWAY
elif command -v slipway >/dev/null; then
    slipway=$(command -v slipway)
elif [ -x "$here/../../.build/debug/slipway" ]; then
    slipway="$here/../../.build/debug/slipway"
else
    echo "test-locally.sh: no slipway binary; run 'swift build --product slipway' or set SLIPWAY" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ml-inference-test.XXXXXX")
app_home="$work/app"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
    status=$?
    # Whatever happened, leave no service running.
    if [ -f "$app_home/run/server.pid" ]; then
        pid=$(cat "$app_home/run/server.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if [ "${KEEP:-}" = 1 ] || [ "$status" -ne 0 ]; then
        echo "kept $work (deployments under root/, service log in app/log/server.log)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

deploy() {
    "$slipway" local --bundle-location "$1" --type directory --root-dir "$work/root" \
        --application-name ml-inference --deployment-group-name local
}

predict() {
    curl -sS -f -X POST -H 'Content-Type: application/json' \
        -d '{"features": [69.5, 0.57, 95.2, 13.3]}' "http://127.0.0.1:$port/predict"
}

step "train"
python3 "$here/train.py"

step "bundles for $app_home, port $port"
"$here/make-bundle.sh" --destination "$app_home" --port "$port" --version v1 --output "$work/bundles/v1"
"$here/make-bundle.sh" --destination "$app_home" --port "$port" --version v2-broken --output "$work/bundles/v2-broken"

step "deploy v1"
deploy "$work/bundles/v1" || fail "the v1 deployment failed"
answer=$(predict) || fail "POST /predict failed: $answer"
echo "POST /predict -> $answer"
case "$answer" in *'"label": 1'*'"model_version": "v1"'*) ;; *) fail "v1 should answer label 1 for a failing machine" ;; esac

step "deploy v2-broken (must fail at ValidateService)"
set +e
output=$(deploy "$work/bundles/v2-broken" 2>&1)
code=$?
set -e
echo "$output"
[ "$code" -ne 0 ] || fail "the v2-broken deployment succeeded; ValidateService should have failed it"
echo "$output" | grep -q 'ValidateService *FAILED' || fail "v2-broken should fail at ValidateService"
log=$(echo "$output" | sed -n 's/.*Script output: //p')
[ -f "$log" ] && { echo "--- the end of $log:"; tail -n 10 "$log"; }
echo "slipway local exited with $code, as it should"

step "roll back: deploy v1 again"
deploy "$work/bundles/v1" || fail "the rollback to v1 failed"
answer=$(predict) || fail "POST /predict failed: $answer"
echo "POST /predict -> $answer"
case "$answer" in *'"label": 1'*'"model_version": "v1"'*) ;; *) fail "after the rollback v1 should answer again" ;; esac

step "stop the service"
"$work/bundles/v1/scripts/stop.sh"
if curl -s -o /dev/null "http://127.0.0.1:$port/health"; then
    fail "the service still answers after stop.sh"
fi

printf '\nPASS: v1 deployed and answered, v2-broken failed at ValidateService, v1 came back, service stopped\n'
