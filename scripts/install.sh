#!/usr/bin/env bash
# Installs what hotline-link needs on a Debian machine, as root: Debian packages
# (debootstrap for the Asterisk 22 root, SIPp, Redis, espeak-ng/sox, Chromium, baresip, node and npm),
# the desk page's JsSIP (npm) and a virtualenv with the project.
# Idempotent: run it again at will. Asterisk itself is built by 'hotline-link sandbox up'.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (apt-get, debootstrap and chroot need it)" >&2
  exit 2
fi

# espeak-ng and sox synthesise the IVR prompts at set-up time; nftables lets chaos cut the
# trunk between two sites; chromium and its driver run
# the supervisor page's browser test (fonts-wqy-zenhei: Chinese text in its screenshots);
# nodejs runs the pages' scripts in their unit tests; npm installs the desk page's JsSIP;
# baresip is a real softphone we did not write, which the tests drive as an agent to make
# the phone's own transfers (SIP REFER).
packages=(debootstrap sip-tester redis-server redis-tools ca-certificates espeak-ng sox nftables
          chromium chromium-driver fonts-wqy-zenhei nodejs baresip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's nodejs comes without npm (its own package); a nodejs that brings npm conflicts with it
command -v npm >/dev/null || missing+=(npm)
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=(python3 python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install: apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts a system redis on 6379 when the package is installed; the sandbox runs its
# own on a private port and does not need that one.

# The desk page's browser softphone: JsSIP from npm, as pinned in desk/package-lock.json, bundled
# for the browser (desk/vendor/jssip.min.js, which the server inlines into /desk). Skipped while
# node_modules holds what the lock names and the bundle is there.
if cmp -s desk/package-lock.json desk/node_modules/.installed-lock && [ -s desk/vendor/jssip.min.js ]; then
  :
else
  echo "install: npm ci in desk/ (JsSIP) and its browser bundle"
  npm ci --prefix desk --no-audit --no-fund --ignore-scripts
  npm run --prefix desk --silent build
  cp desk/package-lock.json desk/node_modules/.installed-lock
fi

python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version' || {
  echo "install: Python 3.11 or newer is needed" >&2; exit 2; }
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]' -e ./devtools
echo "install: done ($(.venv/bin/hotline-link --help >/dev/null && echo hotline-link ready))"
