#!/usr/bin/env bash
# Make sure Chromium is present for the documentation site's browser check: install
# Debian's `chromium` with apt-get when we are root, otherwise explain how (the check is
# then skipped, and pytest's summary says why). Never downloads a browser build.
set -uo pipefail
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chainrule setup: installing chromium with apt-get (for the docs' browser check)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    [ -x "$chromium" ] && exit 0
fi
cat >&2 <<MSG
chainrule setup: no Chromium at $chromium, so the documentation site's browser check
is skipped.
  Debian/Ubuntu: sudo apt-get install chromium
  elsewhere:     set CHROMIUM=/path/to/chromium
MSG
exit 0
