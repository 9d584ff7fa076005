#!/usr/bin/env bash
# AfterInstall: write the service's configuration next to the installed files.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ -f "$APP_HOME/model/weights.json" ] || fail "the model was not installed: $APP_HOME/model/weights.json is missing"

# Written to a temporary file and renamed so that a reader never sees half of it.
python3 - "$CONFIG_FILE" "$PORT" "$APP_HOME/model" <<'PY'
import json, os, sys
path, port, model_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path + ".tmp", "w") as handle:
    json.dump({"host": "127.0.0.1", "port": port, "model_dir": model_dir}, handle, indent=2)
os.replace(path + ".tmp", path)
PY
say "wrote $CONFIG_FILE (port $PORT)"
