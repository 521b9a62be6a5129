#!/usr/bin/env bash
# System tools some tests drive, from Debian's packages: headless Chromium for the dashboard and
# promtool for the Prometheus rules. Installed when missing and we are root; otherwise those tests
# skip and say why.
set -euo pipefail
missing=()
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || missing+=(chromium chromium-driver fonts-dejavu-core)
command -v promtool >/dev/null || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages for the tests: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "warning: missing ${missing[*]} and cannot install them here; the tests that need them will skip" >&2
fi
