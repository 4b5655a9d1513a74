#!/usr/bin/env bash
# Build the documentation site into $1 (default: site/) in strict mode: every warning is
# an error (a broken link, a reference to a name that does not exist, a docstring that
# does not parse, a notebook that cannot be read, a public name left out of the API
# pages), all of them reported before failing. Always a fresh build (-E), so a warning
# from an unchanged page cannot hide behind a cache. `make docs` and the test suite
# both build through this script.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-site}"
py="${PYTHON:-.venv/bin/python}"
doctrees="${DOCTREES:-build/docs/doctrees}"
exec "$py" -m sphinx -E -W --keep-going -n -q -b html -d "$doctrees" docs "$out"
