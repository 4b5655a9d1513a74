"""The safe expression parser behind ``chainrule graph`` (in process; the CLI has its own)."""

from __future__ import annotations

import math

import pytest
from chainrule.engine import RULES, Value
from chainrule.viz.expr import (
    MAX_LENGTH,
    ExpressionError,
    build_expression,
    functions,
    parse_assignments,
)


def test_gate_expression_matches_the_lecture():
    f, leaves = build_expression("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    f.backward()
    assert f.data == -12.0 and f.label == "(x + y) * z"
    assert {k: v.grad for k, v in leaves.items()} == {"x": -4.0, "y": -4.0, "z": 3.0}
    q = f.parents[0]
    assert q.label == "x + y" and q.grad == -4.0


@pytest.mark.parametrize("text, expected", [
    ("x ** 2", 9.0), ("2 ** x", 8.0), ("x ** y", 81.0), ("-x + +y", 1.0),
    ("x / y - 1", -0.25), ("exp(0)", 1.0), ("log(y)", math.log(4.0)),
    ("sqrt(y)", 2.0), ("tanh(0) + sigmoid(0)", 0.5), ("relu(-x) + abs(-x)", 3.0),
    ("sin(0) + cos(0)", 1.0), ("softplus(0)", math.log(2.0)), ("swish(0)", 0.0),
    ("leaky_relu(-x)", -0.03), ("leaky_relu(-x, 0.5)", -1.5), ("elu(0 - 1, 2)", 2 * math.expm1(-1)),
    ("clamp(x, -1, 2)", 2.0), ("1 + 2 * 3", 7.0), ("2 ** -1", 0.5), ("1e-3 * x", 0.003),
])
def test_allowed_syntax(text, expected):
    out, _ = build_expression(text, {"x": 3.0, "y": 4.0})
    assert out.data == pytest.approx(expected)


def test_variables_are_shared_leaves_and_gradients_follow():
    out, leaves = build_expression("x * x + x", {"x": 3.0})
    out.backward()
    assert list(leaves) == ["x"] and leaves["x"].grad == 7.0


def test_constant_exponent_is_one_op():
    out, _ = build_expression("x ** 3", {"x": 2.0})
    assert out.op == "powc" and out.arg == 3.0


@pytest.mark.parametrize("text, match", [
    ("x.real", "attribute access not allowed"),
    ("x[0]", "subscripts not allowed"),
    ("lambda: 1", "lambda not allowed"),
    ("[i for i in x]", "comprehensions not allowed"),
    ("__import__('os')", "unknown function '__import__'"),
    ("open('f')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("x.exp()", "attribute access not allowed"),
    ("y + 1", "unknown name 'y': give it a value with --at y=..."),
    ("exp", "exp is a function: call it"),
    ("x ** 100000", "the exponent 100000 is too large"),
    ("9 ** 9 ** 9", "the exponent 9 \\*\\* 9 = 3.874.*e\\+08 is too large"),
    ("x ^ 2", "use \\*\\*"),
    ("x % 2", "'%' is not supported"),
    ("x // 2", "'//' is not supported"),
    ("x < 1", "comparisons not allowed"),
    ("x and 1", "and/or not allowed"),
    ("x if x else 1", "if-expressions not allowed"),
    ("'text'", "str constants are not allowed"),
    ("1j * x", "complex constants are not allowed"),
    ("True + x", "bool constants are not allowed"),
    ("(x := 1)", "assignments"),
    ("exp(x, 2)", "exp\\(\\) takes one argument, got 2"),
    ("exp(x=1)", "exp\\(\\) takes no keyword arguments"),
    ("clamp(x, 1, 2, 3)", "clamp\\(\\) takes one argument and up to 2 constants .lo, hi., got 4"),
    ("leaky_relu(x, x)", "'x' must be a number"),
    ("clamp(x, 2, 1)", "clamp needs lo <= hi"),
    ("1e999 * x", "the number 1e309 is not finite"),
    ("1" + "0" * 400 + " * x", "too large for a float"),
    ("(" * 300 + "x" + ")" * 300, "not a valid expression: too many nested parentheses"),
    ("exp(" * 60 + "x" + ")" * 60, "nested too deeply"),
    ("-" * 60 + "x", "nested too deeply"),
    ("x + " * 300 + "x", "too long|too large"),
    ("x; import os", "not a valid expression"),
    ("", "the expression is empty"),
    ("x\x00", "NUL"),
    ("{1: 2}", "dicts not allowed"),
    ("(x, x)", "tuples not allowed"),
])
def test_refused(text, match):
    with pytest.raises(ExpressionError, match=match):
        build_expression(text, {"x": 1.0})


def test_long_input_is_refused_before_parsing():
    with pytest.raises(ExpressionError, match=f"too long .* limit {MAX_LENGTH}"):
        build_expression("x" * (MAX_LENGTH + 1), {})


def test_ieee_results_are_drawn_not_refused():
    with pytest.warns(RuntimeWarning):
        out, _ = build_expression("log(x)", {"x": 0.0})
    assert out.data == -math.inf


@pytest.mark.parametrize("text, expected", [
    ("x=-2,y=5,z=-4", {"x": -2.0, "y": 5.0, "z": -4.0}),
    (" a = 1.5e3 , b_2=-0 ", {"a": 1500.0, "b_2": -0.0}),
    ("", {}),
])
def test_assignments(text, expected):
    assert parse_assignments(text) == expected


@pytest.mark.parametrize("text, match", [
    ("x", "expected name=number, got 'x'"),
    ("x=", "expected name=number"),
    ("x=abc", "'abc' \\(for x\\) is not a number"),
    ("x=1,x=2", "'x' is given twice"),
    ("1x=3", "'1x' is not a valid variable name"),
    ("x=nan", "not a finite number"),
    ("x=inf", "not a finite number"),
    ("exp=1", "'exp' is a function name"),
    ("x=1,,y=2", "expected name=number, got ''"),
    ("x:1", "expected name=number"),
])
def test_bad_assignments(text, match):
    with pytest.raises(ExpressionError, match=match):
        parse_assignments(text)


def test_every_named_op_of_the_rule_table_can_be_called():
    """The function list is the rule table's: each call builds that op's node, with the
    op's own value (a new row of the table appears here without an edit)."""
    table = functions()
    named = {r.name for r in RULES.values() if r.arity == 1 and not r.method.startswith("__")}
    assert set(table) == named | {"abs", "swish"}
    for name in named:
        node, _ = build_expression(f"{name}(x)", {"x": 0.5})
        assert node.op == name and node.data == getattr(Value(0.5), name)().data, name
    assert build_expression("clamp(x, 0.7)", {"x": 0.5})[0].data == 0.7  # hi: inf
    assert build_expression("abs(x)", {"x": -0.5})[0].op == "abs"
