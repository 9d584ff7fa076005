#!/usr/bin/env bash
# Builds a deployable revision of the example: a directory with appspec.yml at
# its root, the inference service, the model and the hook scripts.
#
#   ./make-bundle.sh [--destination DIR] [--port N] [--version v1|v2|v2-broken|v2-degraded] [--output DIR]
#
#   --destination  where hosts install the service (default ~/.slipway/apps/ml-inference);
#                  made absolute now, because an AppSpec destination is fixed text
#   --port         the port the service listens on, on 127.0.0.1 (default 8601)
#   --version      v1: the trained model; v2: the same model released again as v2
#                  (for blue/green); v2-broken: the same model exported with
#                  its weights' signs flipped, which loads and reports healthy but
#                  answers every prediction wrongly, so ValidateService fails;
#                  v2-degraded: the model right, the service faulty: 8 s after it
#                  starts (ValidateService has passed), every third prediction
#                  answers HTTP 500; its error rate shows in GET /metrics
#   --output       the bundle directory to write (default build/<version>)
#
# The model is trained first (python3 train.py) when model/weights.json is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
destination="$HOME/.slipway/apps/ml-inference"
port=8601
version=v1
output=""

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "make-bundle.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --destination) [ $# -ge 2 ] || die "--destination needs a directory"; destination=$2; shift 2 ;;
        --port) [ $# -ge 2 ] || die "--port needs a number"; port=$2; shift 2 ;;
        --version) [ $# -ge 2 ] || die "--version needs v1, v2, v2-broken or v2-degraded"; version=$2; shift 2 ;;
        --output) [ $# -ge 2 ] || die "--output needs a directory"; output=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

case "$version" in v1 | v2 | v2-broken | v2-degraded) ;; *) die "--version must be v1, v2, v2-broken or v2-degraded, not '$version'" ;; esac
case "$port" in '' | *[!0-9]*) die "--port must be a number, not '$port'" ;; esac
[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "--port must be between 1 and 65535"

# The destination goes into the AppSpec (double-quoted YAML) and into a shell
# file, so keep it to characters that need no escaping in either.
case "$destination" in "~"/*) destination="$HOME/${destination#"~/"}" ;; esac
case "$destination" in /*) ;; *) destination="$PWD/$destination" ;; esac
case "$destination" in *[!A-Za-z0-9_./@+=,-]*) die "--destination may only contain letters, digits and _./@+=,- ('$destination')" ;; esac
destination=${destination%/}
[ -n "$destination" ] || die "--destination cannot be /"

output=${output:-"$here/build/$version"}
if [ -e "$output" ]; then
    # Only ever delete a directory this script made.
    [ -f "$output/.ml-inference-bundle" ] || die "$output exists and is not a bundle made by this script; choose another --output"
    rm -rf "$output"
fi

if [ ! -f "$here/model/weights.json" ]; then
    python3 "$here/train.py" --output "$here/model"
fi

mkdir -p "$output/app" "$output/model" "$output/scripts"
touch "$output/.ml-inference-bundle"
cp "$here/app/server.py" "$output/app/"
cp "$here/scripts/"*.sh "$here/scripts/check_service.py" "$output/scripts/"
cp "$here/model/canaries.json" "$output/scripts/canaries.json"

# The model file of the revision, stamped with its version.
python3 - "$here/model/weights.json" "$output/model/weights.json" "$version" <<'PY'
import json, sys
source, target, version = sys.argv[1:]
with open(source) as handle:
    model = json.load(handle)
model["version"] = version
if version == "v2-broken":
    # An export bug: every coefficient's sign flipped. The file is well formed
    # and the service starts, but each answer is the opposite of the truth.
    model["weights"] = [-w for w in model["weights"]]
    model["bias"] = -model["bias"]
if version == "v2-degraded":
    # A serving bug that shows only under load, after the release checks passed.
    model["serving_fault"] = {"after_seconds": 8, "every": 3}
with open(target, "w") as handle:
    json.dump(model, handle, indent=2)
    handle.write("\n")
PY

cat >"$output/scripts/deploy.env" <<ENV
# Written by make-bundle.sh; read by the hook scripts.
APP_HOME=$destination
PORT=$port
MODEL_VERSION=$version
ENV

sed -e '/^#%/d' -e "s|@APP_HOME@|$destination|g" "$here/appspec.template.yml" >"$output/appspec.yml"

echo "bundle $version: $output"
echo "  installs into $destination, serves http://127.0.0.1:$port"
