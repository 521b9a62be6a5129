#!/usr/bin/env bash
# The dashboard tests drive Debian's headless Chromium; install it when it is missing and we may.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium and chromium-driver for the dashboard tests" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "warning: /usr/bin/chromium is missing and cannot be installed here; browser tests will skip" >&2
fi
