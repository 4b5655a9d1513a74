"""Every docstring example runs and prints what it says.

These are the examples the API reference of the documentation site shows (it renders
the same docstrings), so a page cannot show an example that does not work. Every
module of chainrule.engine, chainrule.nn, chainrule.viz and chainrule.exercises is run,
found by walking the packages, so a new module is covered without an edit here.

An example marked ``# doctest: +SKIP`` is one that needs the Graphviz ``dot`` program
(the pages show it without the marker): it runs too whenever ``dot`` is installed,
which ``make test`` arranges.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import shutil

import pytest

PACKAGES = ("chainrule.engine", "chainrule.nn", "chainrule.viz", "chainrule.exercises")
# Public packages whose names the API pages list (each's __all__).
PUBLIC = ("chainrule.engine", "chainrule.nn", "chainrule.viz", "chainrule.viz.playground",
          "chainrule.exercises")
# Names that may still lack an example. The set may only shrink: a name that gains an
# example must be taken off it.
NO_EXAMPLE_YET: set[str] = set()


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]
    return names


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    if name.startswith("chainrule.viz.playground"):
        pytest.importorskip("ipywidgets")
    if name.startswith(("chainrule.viz.plots", "chainrule.viz.playground")):
        pytest.importorskip("matplotlib").use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    module = importlib.import_module(name)
    have_dot = shutil.which("dot") is not None
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(module):
        for example in test.examples:
            if have_dot and example.options.get(doctest.SKIP):
                example.options[doctest.SKIP] = False
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_every_public_name_is_defined_in_a_doctested_module():
    for package in PUBLIC:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            home = getattr(obj, "__module__", None)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert home in MODULES, f"{package}.{name} is defined in {home}"


def _public_without_example() -> set[str]:
    missing = set()
    for package in PUBLIC:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue  # an exception's docstring says when it is raised
            if obj.__module__ != package and not obj.__module__.startswith(package + "."):
                continue  # a re-export (chainrule.nn.Value) is checked where it lives
            if ">>>" not in (inspect.getdoc(obj) or ""):
                missing.add(f"{package}.{name}")
    return missing


def test_public_functions_and_classes_have_an_example():
    missing = _public_without_example()
    new = sorted(missing - NO_EXAMPLE_YET)
    assert not new, f"public names without an Example: section in their docstring: {new}"
    done = sorted(NO_EXAMPLE_YET - missing)
    assert not done, f"these have an example now; take them off NO_EXAMPLE_YET: {done}"
