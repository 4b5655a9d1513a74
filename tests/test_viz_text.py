"""graph_text: the text tree that needs no Graphviz."""

from __future__ import annotations

import pytest
from chainrule.engine import Value
from chainrule.viz import graph_text


def test_gate_tree():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    assert graph_text(f) == "\n".join([
        "f [*] = -12  (grad 1)",
        "├── q [+] = 3  (grad -4)",
        "│   ├── x = -2  (grad -4)",
        "│   └── y = 5  (grad -4)",
        "└── z = -4  (grad 3)",
    ])
    assert "grad" not in graph_text(f, show_grad=False)


def test_shared_subtrees_are_referenced_not_repeated():
    x = Value(2.0, label="x")
    h = (x * 3.0).tanh()
    h.label = "h"
    out = h * h + h
    text = graph_text(out, show_grad=False)
    assert text.count("h [tanh]") == 1
    assert text.count("h (see #1)") == 2
    assert text.count("x = 2") == 1


def test_exponential_paths_stay_linear():
    # each level uses the previous node twice: 2**60 paths, 61 + 60 Values
    v = Value(1.0, label="v0")
    for i in range(60):
        v = v + v * 1.0
        v.label = f"v{i + 1}"
    lines = graph_text(v, show_grad=False).splitlines()
    assert len(lines) < 400


def test_deep_chain_is_iterative():
    v = Value(0.5, label="x")
    for _ in range(20_000):
        v = v.tanh()
    lines = graph_text(v).splitlines()
    assert len(lines) == 20_001 and lines[-1].endswith("└── x = 0.5  (grad 0)")
    assert max(len(line) for line in lines) < 250  # indentation restarts, never quadratic
    assert lines[41].startswith("[depth 41] └── [tanh] = ")
    assert lines[81].startswith("[depth 81] └── [tanh] = ")


def test_max_lines_and_constants_and_nan():
    x = Value(float("nan"), label="x")
    out = x * 2.0
    assert graph_text(out, show_grad=False).splitlines() == [
        "[*] = nan", "├── x = nan", "└── const = 2"]
    assert graph_text(out, max_lines=1).splitlines()[-1] == "... (cut at max_lines=1)"
    with pytest.raises(ValueError, match="max_lines must be a positive int or None, got 0"):
        graph_text(out, max_lines=0)
    with pytest.raises(TypeError, match="graph_text needs a Value, got list"):
        graph_text([x])
