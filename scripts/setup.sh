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
apt_install() {  # package names; installs what is missing when run as root on Debian
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "setup: missing $* (install them; the features that need them will say so)"
  fi
}

# Live video: nginx with the RTMP module ingests, ffmpeg packages HLS and makes the demo stream.
if ! command -v ffmpeg >/dev/null || ! command -v nginx >/dev/null \
   || [ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then
  apt_install nginx libnginx-mod-rtmp ffmpeg
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if [ "${1:-}" = "--dev" ]; then
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  if [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
  # A CJK font, so that screenshots of the Chinese pages show text and not empty boxes.
  if ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then apt_install fonts-wqy-microhei; fi
else
  "$VENV/bin/python" -m pip install -q -e .
fi
