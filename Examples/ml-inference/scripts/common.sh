# Sourced by every hook script. deploy.env is written into the bundle by
# make-bundle.sh: APP_HOME (the AppSpec's destination), PORT and MODEL_VERSION.
# Hooks run from the revision's own copy of the scripts, so ApplicationStop
# reads the settings of the revision that is installed, not the new one.

HOOK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
. "$HOOK_DIR/deploy.env"

# Several hosts on one machine (a test fleet) share APP_HOME: each host's agent may give its own port and run
# directory in its environment, which hooks inherit.
PORT="${ML_INFERENCE_PORT:-$PORT}"
RUN_DIR="${ML_INFERENCE_RUN_DIR:-$APP_HOME/run}"
LOG_DIR="${ML_INFERENCE_RUN_DIR:-$APP_HOME}/log"
PID_FILE="$RUN_DIR/server.pid"
CONFIG_FILE="$RUN_DIR/config.json"
LOG_FILE="$LOG_DIR/server.log"

say() { echo "[${LIFECYCLE_EVENT:-hook} ${DEPLOYMENT_ID:-local}] $*"; }
fail() { echo "[${LIFECYCLE_EVENT:-hook} ${DEPLOYMENT_ID:-local}] ERROR: $*" >&2; exit 1; }

# Whether a process is alive. A process that has exited but not been reaped
# yet (a zombie, which kill -0 still finds) counts as gone.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    case "$(ps -p "$1" -o stat= 2>/dev/null)" in Z* | '') return 1 ;; esac
}

# The pid in PID_FILE if that process is alive and is our server (a pid file
# can outlive its process, and the pid can be reused by something else).
running_pid() {
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
    case "$pid" in '' | *[!0-9]*) return 1 ;; esac
    alive "$pid" || return 1
    ps -p "$pid" -o args= 2>/dev/null | grep -q "app/server.py" || return 1
    echo "$pid"
}
