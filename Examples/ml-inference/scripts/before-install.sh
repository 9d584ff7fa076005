#!/usr/bin/env bash
# BeforeInstall: check the host can run the service and create its directories.
set -euo pipefail
. "$(dirname "$0")/common.sh"

command -v python3 >/dev/null || fail "python3 is not installed on this host (the service needs Python 3.8 or later)"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' ||
    fail "the service needs Python 3.8 or later; this host has $(python3 --version 2>&1)"

mkdir -p "$APP_HOME" "$RUN_DIR" "$LOG_DIR"
say "ready to install model $MODEL_VERSION into $APP_HOME ($(python3 --version 2>&1))"
