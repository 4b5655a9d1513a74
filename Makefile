# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv, installs what it needs, and runs.
.PHONY: demo test lint bench test-e2e docs serve-docs clean

demo:
	@bash scripts/bootstrap.sh plot
	@bash scripts/ensure-dot.sh
	.venv/bin/chainrule demo

test:
	@bash scripts/bootstrap.sh test
	@bash scripts/ensure-dot.sh
	@bash scripts/ensure-chromium.sh
	.venv/bin/ruff check .
	.venv/bin/python -m pytest

lint:
	@bash scripts/bootstrap.sh test
	.venv/bin/ruff check .

bench:
	@bash scripts/bootstrap.sh bench
	.venv/bin/python -m bench

# The playground in a real browser (JupyterLab + headless Chromium); not part of `make test`.
test-e2e:
	bash e2e/run.sh

# The documentation site, built strictly into site/ (also built and checked by `make test`).
docs:
	@bash scripts/bootstrap.sh docs
	bash scripts/build-docs.sh site

serve-docs: docs
	@echo "chainrule docs: http://127.0.0.1:8000 (Ctrl-C stops)"
	.venv/bin/python -m http.server 8000 --bind 127.0.0.1 --directory site

clean:
	rm -rf .venv build *.egg-info .pytest_cache .hypothesis chainrule-demo site
	rm -f docs/*/*.ipynb
