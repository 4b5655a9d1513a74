#!/usr/bin/env bash
# Make sure the Graphviz `dot` program is present: install it with apt-get when we are
# root on Debian/Ubuntu, otherwise explain how (rendering tests skip without it).
set -uo pipefail
if command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chainrule setup: installing Graphviz (dot) with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
    command -v dot >/dev/null 2>&1 && exit 0
fi
cat >&2 <<'MSG'
chainrule setup: the Graphviz 'dot' program is missing, so graphs cannot be rendered.
  Debian/Ubuntu: sudo apt-get install graphviz
  macOS:         brew install graphviz
  conda:         conda install -c conda-forge graphviz
Everything else works; rendering tests are skipped.
MSG
exit 0
