#!/usr/bin/env bash
# The playground's end-to-end browser test (make test-e2e): JupyterLab + headless Chromium.
# Installs what it needs into .venv (the playground and e2e extras) and Debian's chromium
# when missing and we are root; never downloads a browser build (no 'playwright install').
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
if ! .venv/bin/python -c "import ipywidgets, ipyevents, jupyterlab, playwright, PIL" 2>/dev/null; then
    echo "chainrule e2e: installing ipywidgets, ipyevents, jupyterlab, playwright into .venv"
    .venv/bin/python -m pip install -q "ipywidgets>=8.1" "ipyevents>=2.0" "jupyterlab>=4.0" \
        "playwright>=1.40" "pillow>=9.5" 2>&1 | grep -v "is ignored" || true
fi
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "chainrule e2e: installing chromium with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    else
        echo "chainrule e2e: no Chromium at $chromium; install it (Debian: sudo apt-get install" \
             "chromium) or set CHROMIUM=/path/to/chromium" >&2
        exit 1
    fi
fi
export CHROMIUM="$chromium"
# -p no:nbmake: the repository's pytest options execute notebooks; here the browser does.
exec .venv/bin/python -m pytest e2e/test_playground_browser.py -q -s -o addopts="" \
    -p no:cacheprovider "$@"
