#!/usr/bin/env bash
# Create .venv and install chainrule (editable) with the extras named in $1.
# Works on a bare Debian with only python3: installs python3-venv with apt-get when
# the venv module is missing and we are root, and says what to do otherwise.
set -euo pipefail
extras="${1:-test}"
py="${PYTHON:-python3}"
venv=".venv"

if ! command -v "$py" >/dev/null 2>&1; then
    echo "chainrule setup: $py not found; install Python 3.10 or newer" >&2
    exit 1
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "chainrule setup: $("$py" --version) is too old; chainrule needs Python 3.10+" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    if ! "$py" -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "chainrule setup: installing python3-venv with apt-get"
            ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv "python$ver-venv" \
                || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
            "$py" -m venv "$venv"
        else
            echo "chainrule setup: '$py -m venv' failed; install the venv module" \
                 "(Debian/Ubuntu: sudo apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
fi

stamp="$venv/.installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
    "$venv/bin/python" -m pip install -q -e ".[$extras]" 2>&1 | grep -v "is ignored" || true
    "$venv/bin/python" -c "import chainrule.engine" \
        || { echo "chainrule setup: installing the package failed" >&2; exit 1; }
    # PyTorch is an optional test oracle. Install it only when pip finds its wheel
    # without an index (a wheel already on this machine, through pip's find-links),
    # never a download of gigabytes; the comparisons skip without it.
    if [ "$extras" = test ] && "$venv/bin/python" -m pip install -q --dry-run --no-index \
            --no-deps --ignore-installed torch==2.13.0 >/dev/null 2>&1; then
        "$venv/bin/python" -m pip install -q torch==2.13.0 2>&1 | grep -v "is ignored" || true
    fi
    touch "$stamp"
fi
