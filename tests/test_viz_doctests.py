"""The examples in chainrule.viz docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["chainrule.viz", "chainrule.viz._io", "chainrule.viz.graph", "chainrule.viz.steps",
           "chainrule.viz.text", "chainrule.viz.gradcheck", "chainrule.viz.expr",
           "chainrule.viz.summary", "chainrule.viz.plots", "chainrule.viz.playground.core"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    if name.endswith("plots"):
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
