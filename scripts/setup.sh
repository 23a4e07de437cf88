#!/usr/bin/env bash
# Creates the virtualenv and installs livecart into it; with --dev also the test tools and,
# when run as root, Debian's Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"livecart needs Python 3.11 or newer; this is {sys.version.split()[0]}")
PY
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if [ "${1:-}" = "--dev" ]; then
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "setup: installing Debian's chromium for the browser tests"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "setup: /usr/bin/chromium is missing; browser tests will be skipped (install chromium)"
    fi
  fi
else
  "$VENV/bin/python" -m pip install -q -e .
fi
