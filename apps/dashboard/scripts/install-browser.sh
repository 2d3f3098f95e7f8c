#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser tests (driven by playwright-core).
# Idempotent: does nothing when a usable chromium is already there. Never downloads a browser
# build of its own: only Debian's package, through apt.
#
#   bash apps/dashboard/scripts/install-browser.sh      # prints the browser's path on success
#
# REGSTREAM_CHROMIUM may point at another Chromium binary; it is then only checked.
set -euo pipefail

want="${REGSTREAM_CHROMIUM:-/usr/bin/chromium}"

usable() {
  [ -x "$1" ] && "$1" --version >/dev/null 2>&1
}

if usable "$want"; then
  echo "$want"
  exit 0
fi

if [ -n "${REGSTREAM_CHROMIUM:-}" ]; then
  echo "REGSTREAM_CHROMIUM=$REGSTREAM_CHROMIUM is not an executable Chromium" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and apt-get is not available: install Chromium and set REGSTREAM_CHROMIUM" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "installing chromium needs root (apt-get install -y chromium)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Fonts so text renders in screenshots; both are small Debian packages.
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-liberation >&2

if usable /usr/bin/chromium; then
  echo /usr/bin/chromium
else
  echo "chromium was installed but /usr/bin/chromium does not run" >&2
  exit 1
fi
