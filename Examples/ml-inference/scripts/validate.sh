#!/usr/bin/env bash
# ValidateService: the deployment succeeds only if the running service is the
# model just installed and it answers known examples correctly.
set -euo pipefail
. "$(dirname "$0")/common.sh"

python3 "$HOOK_DIR/check_service.py" \
    --url "http://127.0.0.1:$PORT" \
    --expect-version "$MODEL_VERSION" \
    --canaries "$HOOK_DIR/canaries.json"
