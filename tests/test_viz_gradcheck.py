"""The gradient-check overlay: replay, agreement, a deliberately broken rule, stale graphs."""

from __future__ import annotations

import math

import pytest
from chainrule.engine import Value
from chainrule.viz import check_leaves, draw_gradcheck
from chainrule.viz.gradcheck import replay
from chainrule.viz.graph import topological_nodes


def composite():
    x, y = Value(0.7, label="x"), Value(-1.3, label="y")
    a = (x * y).tanh() + x.sin() * 2.0
    b = Value.sum([a, y ** 2, (x - y).sigmoid(), Value.max([x, y])])
    return b / (1.0 + x.exp()) + (y.elu(0.5) * x.softplus()).clamp(-1.0, 1.0), x, y


def test_replay_reproduces_every_value_bit_for_bit():
    root, *_ = composite()
    order = topological_nodes(root)
    values = replay(order)
    assert all(values[v] == v.data for v in order)


def test_all_leaves_agree_on_a_composite():
    root, x, y = composite()
    checks = check_leaves(root)
    assert [c.leaf for c in checks][:2] == [x, y]
    assert all(c.ok for c in checks), [(c.leaf.label, c.analytic, c.numeric) for c in checks]
    # the overlay reports the same gradients backward() gives
    root.backward()
    assert checks[0].analytic == x.grad and checks[1].analytic == y.grad
    assert checks[0].numeric == pytest.approx(x.grad, rel=1e-6)


def test_gate_overlay_is_green():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    f = (x + y) * z
    src = draw_gradcheck(f).source
    assert "3 of 3 leaves agree" in src and src.count("✓ matches") == 3
    assert src.count('fillcolor="#dafbe1"') == 3 and "MISMATCH" not in src
    assert x.grad == 0.0  # the overlay simulates backward; .grad stays untouched


def test_broken_rule_shows_red(swap_rule):
    # A wrong derivative for sin (d sin/dx = sin x instead of cos x), swapped into the
    # rule table for this test only.
    original = Value.sin
    swap_rule("sin", local=lambda xp, out, x, arg: (xp.sin(x),), derivative="wrong on purpose")
    x, w = Value(0.4, label="x"), Value(3.0, label="w")
    out = x.sin() * w
    checks = {c.leaf.label: c for c in check_leaves(out)}
    assert checks["x"].ok is False and checks["x"].status == "mismatch"
    assert checks["x"].analytic == pytest.approx(math.sin(0.4) * 3.0)
    assert checks["x"].numeric == pytest.approx(math.cos(0.4) * 3.0, rel=1e-6)
    assert checks["w"].ok is True  # w's gradient does not go through sin'
    src = draw_gradcheck(out).source
    assert "1 of 2 leaves agree with central differences, 1 DO NOT" in src
    assert src.count('fillcolor="#ffebe9"') == 1 and "✗ MISMATCH" in src
    assert Value.sin is not original  # (the swap really installed the broken rule)


def test_non_finite_is_grey_not_a_verdict():
    x = Value(0.0, label="x")
    out = x.sqrt()
    (check,) = check_leaves(out)
    assert check.ok is None and check.status == "non-finite"
    assert "? non-finite" in draw_gradcheck(out).source


def test_stale_graph_is_refused():
    x = Value(2.0, label="x")
    out = x * x
    x.data = 3.0  # as an optimizer step would
    with pytest.raises(ValueError, match="the graph is out of date"):
        check_leaves(out)


def test_bad_tolerances():
    x = Value(1.0)
    with pytest.raises(ValueError, match="eps must be > 0, got 0"):
        check_leaves(x * 2.0, eps=0.0)
    with pytest.raises(ValueError, match="atol must be a finite number >= 0, got -1"):
        check_leaves(x * 2.0, atol=-1)


def test_the_swapped_rule_is_put_back():
    """(Runs after test_broken_rule_shows_red: the table's sin is right again.)"""
    assert all(c.ok for c in check_leaves(Value(0.4).sin() * 3.0))
