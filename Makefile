# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv, installs what it needs, and runs.
.PHONY: demo test lint lab notebooks bench exercises test-e2e docs serve-docs clean

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

# The notebooks in JupyterLab (the `notebook` extra: JupyterLab, matplotlib and the
# playground's widgets). `make notebooks` is the same.
lab notebooks:
	@bash scripts/bootstrap.sh notebook
	@bash scripts/ensure-dot.sh
	.venv/bin/jupyter lab notebooks/

bench:
	@bash scripts/bootstrap.sh bench
	.venv/bin/python -m bench

# Student versions of the exercise notebooks (nbgrader's preprocessors): assignments/release/.
exercises:
	@bash scripts/bootstrap.sh exercises
	.venv/bin/python scripts/make_exercises.py

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
