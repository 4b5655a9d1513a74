"""IEEE values, the kink table, warnings, and no bare math exception (BAD_INPUTS 12-22).

The conventions (DESIGN.md, "Numeric conventions"): every op follows IEEE-754 as
PyTorch and numpy do (log 0 = -inf, 1/0 = inf, exp 1000 = inf, a negative base with a
non-integer exponent = nan, never complex); a non-finite forward result from finite
inputs issues exactly one RuntimeWarning naming the op, a non-finite input issues
none, and backward stays silent. ``math`` would raise instead (ZeroDivisionError,
OverflowError, "math domain error"): none of those may escape an op.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from chainrule.engine import RULES, Value, grad
from hypothesis import given, settings
from hypothesis import strategies as st

INF, NAN = math.inf, math.nan


def same(actual: float, expected: float) -> bool:
    """Exact equality where nan equals nan and the sign of a zero does not matter."""
    if math.isnan(expected):
        return math.isnan(actual)
    return actual == expected


def runtime_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]


# -- the edge table: value, every input's derivative, and whether forward warns -----------
# (id, f(*values), inputs, value, derivatives, op name if a RuntimeWarning is expected)

EDGES: list[tuple[str, Callable[..., Value], tuple[float, ...], float, tuple, str | None]] = [
    # logarithm (BAD_INPUTS 12): -inf with gradient +inf; nan (gradient 1/x, as torch).
    ("log(0)", lambda x: x.log(), (0.0,), -INF, (INF,), "log"),
    ("log(-1)", lambda x: x.log(), (-1.0,), NAN, (-1.0,), "log"),
    ("log(inf)", lambda x: x.log(), (INF,), INF, (0.0,), None),
    # division (14): +-inf and nan, never ZeroDivisionError.
    ("1/0", lambda x: 1 / x, (0.0,), INF, (-INF,), "div"),
    ("1/-0.0", lambda x: 1 / x, (-0.0,), -INF, (-INF,), "div"),
    ("-1/0", lambda a, b: a / b, (-1.0, 0.0), -INF, (INF, INF), "div"),
    ("0/0", lambda a, b: a / b, (0.0, 0.0), NAN, (INF, NAN), "div"),
    ("x*y**-1 at y=0", lambda x, y: x * y ** -1, (2.0, 0.0), INF, (INF, -INF), "powc"),
    # overflow (20): inf, never OverflowError.
    ("exp(1000)", lambda x: x.exp(), (1000.0,), INF, (INF,), "exp"),
    ("exp(-1000)", lambda x: x.exp(), (-1000.0,), 0.0, (0.0,), None),
    ("10.0**400", lambda x: 10.0 ** x, (400.0,), INF, (INF,), "rpow"),
    ("x**400 at 10", lambda x: x ** 400, (10.0,), INF, (INF,), "powc"),
    ("Value(10)**Value(400)", lambda a, b: a ** b, (10.0, 400.0), INF, (INF, INF), "pow"),
    ("1e308*10", lambda x: x * 10, (1e308,), INF, (10.0,), "mul"),
    ("1e308+1e308", lambda a, b: a + b, (1e308, 1e308), INF, (1.0, 1.0), "add"),
    ("inf-inf", lambda a, b: a - b, (INF, INF), NAN, (1.0, -1.0), None),
    # powers (15, 16, 17): nan and never complex; the 0**0 convention of PyTorch.
    ("(-8)**(1/3)", lambda x: x ** (1 / 3), (-8.0,), NAN, (NAN,), "powc"),
    ("(-2)**3", lambda x: x ** 3, (-2.0,), -8.0, (12.0,), None),
    ("(-2)**Value(3)", lambda a, b: a ** b, (-2.0, 3.0), -8.0, (12.0, NAN), None),
    ("(-2)**Value(2)", lambda a, b: a ** b, (-2.0, 2.0), 4.0, (-4.0, NAN), None),
    ("(-2)**Value(0.5)", lambda a, b: a ** b, (-2.0, 0.5), NAN, (NAN, NAN), "pow"),
    ("0**0", lambda x: x ** 0, (0.0,), 1.0, (0.0,), None),
    ("Value(0)**Value(0)", lambda a, b: a ** b, (0.0, 0.0), 1.0, (0.0, 0.0), None),
    ("0.0**Value(0)", lambda x: 0.0 ** x, (0.0,), 1.0, (0.0,), None),
    ("Value(0)**Value(2)", lambda a, b: a ** b, (0.0, 2.0), 0.0, (0.0, 0.0), None),
    ("Value(0)**Value(0.5)", lambda a, b: a ** b, (0.0, 0.5), 0.0, (INF, 0.0), None),
    ("x**2 at 0", lambda x: x ** 2, (0.0,), 0.0, (0.0,), None),
    ("x**0.5 at 0", lambda x: x ** 0.5, (0.0,), 0.0, (INF,), None),
    ("x**-1 at 0", lambda x: x ** -1, (0.0,), INF, (-INF,), "powc"),
    ("nan**0", lambda x: x ** 0, (NAN,), 1.0, (0.0,), None),  # C99 and PyTorch: 1
    ("1**nan", lambda x: 1.0 ** x, (NAN,), 1.0, (0.0,), None),  # C99 and PyTorch: 1
    # square root (13): gradient inf at 0; nan below.
    ("sqrt(0)", lambda x: x.sqrt(), (0.0,), 0.0, (INF,), None),
    ("sqrt(-1)", lambda x: x.sqrt(), (-1.0,), NAN, (NAN,), "sqrt"),
    # kinks (18): DESIGN.md's table.
    ("relu(0)", lambda x: x.relu(), (0.0,), 0.0, (0.0,), None),
    ("abs(0)", lambda x: abs(x), (0.0,), 0.0, (0.0,), None),
    ("abs(-0.0)", lambda x: abs(x), (-0.0,), 0.0, (0.0,), None),
    ("leaky_relu(0)", lambda x: x.leaky_relu(), (0.0,), 0.0, (0.01,), None),
    ("leaky_relu(0, 0.2)", lambda x: x.leaky_relu(0.2), (0.0,), 0.0, (0.2,), None),
    ("elu(0)", lambda x: x.elu(), (0.0,), 0.0, (1.0,), None),
    ("clamp at lo", lambda x: x.clamp(0.0, 1.0), (0.0,), 0.0, (1.0,), None),
    ("clamp at hi", lambda x: x.clamp(0.0, 1.0), (1.0,), 1.0, (1.0,), None),
    ("clamp below", lambda x: x.clamp(0.0, 1.0), (-0.5,), 0.0, (0.0,), None),
    ("clamp above", lambda x: x.clamp(0.0, 1.0), (1.5,), 1.0, (0.0,), None),
    ("max tie", lambda a, b: Value.max([a, b]), (1.0, 1.0), 1.0, (0.5, 0.5), None),
    ("max tie of 2 in 3", lambda a, b, c: Value.max([a, b, c]), (2.0, 1.0, 2.0), 2.0,
     (0.5, 0.0, 0.5), None),
    ("max tie of 3", lambda a, b, c: Value.max([a, b, c]), (3.0, 3.0, 3.0), 3.0,
     (1 / 3, 1 / 3, 1 / 3), None),
    ("max 0.0 vs -0.0", lambda a, b: Value.max([a, b]), (0.0, -0.0), 0.0, (0.5, 0.5), None),
    # saturation (19): no OverflowError, exact limits, zero gradients.
    ("tanh(1000)", lambda x: x.tanh(), (1000.0,), 1.0, (0.0,), None),
    ("tanh(-1000)", lambda x: x.tanh(), (-1000.0,), -1.0, (0.0,), None),
    ("sigmoid(1000)", lambda x: x.sigmoid(), (1000.0,), 1.0, (0.0,), None),
    ("sigmoid(-1000)", lambda x: x.sigmoid(), (-1000.0,), 0.0, (0.0,), None),
    ("softplus(1000)", lambda x: x.softplus(), (1000.0,), 1000.0, (1.0,), None),
    ("softplus(-1000)", lambda x: x.softplus(), (-1000.0,), 0.0, (0.0,), None),
    ("elu(-1000)", lambda x: x.elu(), (-1000.0,), -1.0, (0.0,), None),
    ("swish(-1000)", lambda x: x.swish(), (-1000.0,), -0.0, (0.0,), None),
    ("sin(inf)", lambda x: x.sin(), (INF,), NAN, (NAN,), None),
    ("cos(-inf)", lambda x: x.cos(), (-INF,), NAN, (NAN,), None),
    # sums of many terms (21): overflow and inf - inf.
    ("sum overflow", lambda a, b: Value.sum([a, b]), (1e308, 1e308), INF, (1.0, 1.0), "sum"),
    ("sum inf-inf", lambda a, b: Value.sum([a, b]), (INF, -INF), NAN, (1.0, 1.0), None),
    ("sum inf+1", lambda a, b: Value.sum([a, b]), (INF, 1.0), INF, (1.0, 1.0), None),
]


@pytest.mark.parametrize(("f", "inputs", "value", "derivatives", "warns"),
                         [e[1:] for e in EDGES], ids=[e[0] for e in EDGES])
def test_edge_value_derivative_and_warning(f, inputs, value, derivatives, warns):
    xs = [Value(x, label=f"x{i}") for i, x in enumerate(inputs)]
    with warnings.catch_warnings(record=True) as forward:
        warnings.simplefilter("always")
        out = f(*xs)
    assert type(out.data) is float  # never complex, never an int
    assert same(out.data, value), f"value {out.data!r}, expected {value!r}"
    messages = runtime_warnings(forward)
    if warns:
        assert len(messages) == 1, messages
        assert warns in messages[0] and repr(out.data) in messages[0]
        assert forward[0].filename == __file__  # points at the caller's line
    else:
        assert messages == []
    with warnings.catch_warnings(record=True) as backward:
        warnings.simplefilter("always")
        out.backward()
    assert runtime_warnings(backward) == []
    got = tuple(x.grad for x in xs)
    assert all(same(g, d) for g, d in zip(got, derivatives)), f"gradients {got}"
    # grad() gives the same numbers without touching .grad.
    assert all(same(g.data, d) for g, d in zip(grad(out, xs), derivatives))


def test_negative_base_with_fractional_exponent_is_nan_not_complex():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        outs = [Value(-8.0) ** (1 / 3), Value(-8.0) ** Value(1 / 3), (-8.0) ** Value(1 / 3)]
    for out in outs:
        assert type(out.data) is float and math.isnan(out.data)


# -- nan propagates through every op (BAD_INPUTS 22) ----------------------------------------
# (f(nan-holding Values), number of inputs); each slot that holds nan is listed.

NAN_CASES: dict[str, list[tuple[Callable[..., Value], tuple[float, ...]]]] = {
    "add": [(lambda a, b: a + b, (NAN, 1.0)), (lambda a, b: a + b, (1.0, NAN))],
    "sub": [(lambda a, b: a - b, (NAN, 1.0)), (lambda a, b: a - b, (1.0, NAN))],
    "mul": [(lambda a, b: a * b, (NAN, 2.0)), (lambda a, b: a * b, (0.0, NAN))],
    "div": [(lambda a, b: a / b, (NAN, 2.0)), (lambda a, b: a / b, (1.0, NAN))],
    "pow": [(lambda a, b: a ** b, (NAN, 2.0)), (lambda a, b: a ** b, (2.0, NAN))],
    "powc": [(lambda x: x ** 2, (NAN,)), (lambda x: x ** 0.5, (NAN,))],
    "rpow": [(lambda x: 2.0 ** x, (NAN,))],
    "neg": [(lambda x: -x, (NAN,))],
    "exp": [(lambda x: x.exp(), (NAN,))],
    "log": [(lambda x: x.log(), (NAN,))],
    "sqrt": [(lambda x: x.sqrt(), (NAN,))],
    "tanh": [(lambda x: x.tanh(), (NAN,))],
    "sigmoid": [(lambda x: x.sigmoid(), (NAN,))],
    "relu": [(lambda x: x.relu(), (NAN,))],
    "leaky_relu": [(lambda x: x.leaky_relu(0.1), (NAN,))],
    "elu": [(lambda x: x.elu(), (NAN,))],
    "softplus": [(lambda x: x.softplus(), (NAN,))],
    "abs": [(lambda x: abs(x), (NAN,))],
    "sin": [(lambda x: x.sin(), (NAN,))],
    "cos": [(lambda x: x.cos(), (NAN,))],
    "clamp": [(lambda x: x.clamp(-1.0, 1.0), (NAN,)), (lambda x: x.clamp(), (NAN,))],
    "sum": [(lambda a, b, c: Value.sum([a, b, c]), (1.0, NAN, 2.0))],
    # builtin max() would answer 5.0 or nan depending on the argument order
    "max": [(lambda a, b: Value.max([a, b]), (NAN, 5.0)),
            (lambda a, b: Value.max([a, b]), (5.0, NAN))],
}


def test_nan_table_covers_every_rule():
    assert set(NAN_CASES) == set(RULES), sorted(set(RULES) ^ set(NAN_CASES))


@pytest.mark.parametrize(("f", "inputs"),
                         [case for name in sorted(NAN_CASES) for case in NAN_CASES[name]],
                         ids=[f"{name}-{i}" for name in sorted(NAN_CASES)
                              for i in range(len(NAN_CASES[name]))])
def test_nan_propagates_silently(f, inputs):
    xs = [Value(x) for x in inputs]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = f(*xs)
        out.backward()
    assert math.isnan(out.data)
    assert runtime_warnings(record) == []  # the input was already non-finite


def test_relu_passes_the_gradient_of_nan_like_torch():
    """relu'(nan) = 1: the mask is ``x <= 0``, False for nan (PyTorch's threshold_backward)."""
    x = Value(NAN)
    x.relu().backward()
    assert x.grad == 1.0


def test_nan_gradients_of_the_other_piecewise_ops():
    """At nan every piecewise op takes the derivative PyTorch takes, so the two agree
    wherever PyTorch's gradient is a number: leaky_relu passes alpha, abs gives 0
    (sign(nan) = 0), elu passes 1 (nan <= 0 is False, as for relu), clamp gives 0."""
    cases = [(lambda x: x.leaky_relu(0.1), 0.1), (lambda x: abs(x), 0.0), (lambda x: x.elu(), 1.0),
             (lambda x: x.clamp(-1.0, 1.0), 0.0)]
    for f, expected in cases:
        x = Value(NAN)
        f(x).backward()
        assert same(x.grad, expected), (f, x.grad)


def test_no_warning_from_infinite_inputs():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        x = Value(INF)
        ys = [x + 1, x * 2, x.exp(), x.log(), x.sqrt(), -x, x - x, x * 0, 1 / x, x ** 2]
    assert runtime_warnings(record) == []
    assert [y.data for y in ys[:5]] == [INF, INF, INF, INF, INF]
    assert math.isnan(ys[6].data) and math.isnan(ys[7].data) and ys[8].data == 0.0


def test_one_warning_per_non_finite_result():
    """Each non-finite result from finite inputs warns once; later ops on it stay silent."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        x = Value(0.0)
        y = x.log()  # -inf: warns
        z = (y * 2 + 1).exp()  # inputs already non-finite: silent
        w = Value(-1.0).sqrt()  # nan: warns
    assert math.isinf(y.data) and z.data == 0.0 and math.isnan(w.data)
    messages = runtime_warnings(record)
    assert len(messages) == 2
    assert "log" in messages[0] and "sqrt" in messages[1]


def test_create_graph_builds_its_inf_derivatives_silently():
    """d/dx sqrt(x) at 0 is inf: the derivative graph holds it on purpose, without warnings."""
    x = Value(0.0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        (d,) = grad(x.sqrt(), [x], create_graph=True)
        (d2,) = grad(d, [x])
    assert d.data == INF and d2.data == -INF
    assert runtime_warnings(record) == []


# -- no bare math exception escapes any op (hypothesis over extreme floats) ------------------

EXTREMES = (INF, -INF, NAN, 0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, 1e308, -1e308, 5e-324,
            -5e-324, 2.2250738585072014e-308, 709.8, -745.2, 1e16, 1.7976931348623157e308)
extreme = st.sampled_from(EXTREMES) | st.floats()
finite = st.floats(allow_nan=False, allow_infinity=False)

# How to call each rule on arbitrary floats: (number of inputs, arg strategy, call(arg, *xs)).
CALLS: dict[str, tuple[int, st.SearchStrategy, Callable[..., Value]]] = {
    "add": (2, st.none(), lambda _, a, b: a + b),
    "sub": (2, st.none(), lambda _, a, b: a - b),
    "mul": (2, st.none(), lambda _, a, b: a * b),
    "div": (2, st.none(), lambda _, a, b: a / b),
    "pow": (2, st.none(), lambda _, a, b: a ** b),
    "powc": (1, extreme, lambda c, x: x ** c),
    "rpow": (1, extreme, lambda c, x: c ** x),
    "neg": (1, st.none(), lambda _, x: -x),
    "exp": (1, st.none(), lambda _, x: x.exp()),
    "log": (1, st.none(), lambda _, x: x.log()),
    "sqrt": (1, st.none(), lambda _, x: x.sqrt()),
    "tanh": (1, st.none(), lambda _, x: x.tanh()),
    "sigmoid": (1, st.none(), lambda _, x: x.sigmoid()),
    "relu": (1, st.none(), lambda _, x: x.relu()),
    "leaky_relu": (1, finite, lambda a, x: x.leaky_relu(a)),
    "elu": (1, finite, lambda a, x: x.elu(a)),
    "softplus": (1, st.none(), lambda _, x: x.softplus()),
    "abs": (1, st.none(), lambda _, x: abs(x)),
    "sin": (1, st.none(), lambda _, x: x.sin()),
    "cos": (1, st.none(), lambda _, x: x.cos()),
    "clamp": (1, st.lists(st.floats(allow_nan=False), min_size=2, max_size=2).map(sorted),
              lambda b, x: x.clamp(*b)),
    "sum": (4, st.none(), lambda _, *xs: Value.sum(xs)),
    "max": (3, st.none(), lambda _, *xs: Value.max(xs)),
}


def test_extreme_table_covers_every_rule():
    assert set(CALLS) == set(RULES), sorted(set(RULES) ^ set(CALLS))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_no_bare_math_exception_escapes(name):
    """Forward, backward and both create_graph levels on inf, nan, +-0, 1e308, 5e-324 ...:
    every result is a float, and ZeroDivisionError / OverflowError / ValueError never leak."""
    arity, args, call = CALLS[name]

    @settings(max_examples=60, deadline=None)
    @given(st.lists(extreme, min_size=arity, max_size=arity), args)
    def check(inputs: list[float], arg: Any) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            xs = [Value(x) for x in inputs]
            out = call(arg, *xs)
            assert out.op == name and type(out.data) is float
            out.backward()
            assert all(type(x.grad) is float for x in xs)
            firsts = grad(out, xs, create_graph=True)
            for g in firsts:
                assert type(g.data) is float
                for h in grad(g, xs):
                    assert type(h.data) is float

    check()


# -- PyTorch at the edges ---------------------------------------------------------------------

EDGE_POINTS = (0.0, -0.0, NAN, INF, -INF, 1000.0, -1000.0, -1.0, 1.0, 710.0, -710.0)

UNARY = {
    "neg": (lambda v: -v, lambda t, nnf: -t),
    "exp": (lambda v: v.exp(), lambda t, nnf: t.exp()),
    "log": (lambda v: v.log(), lambda t, nnf: t.log()),
    "sqrt": (lambda v: v.sqrt(), lambda t, nnf: t.sqrt()),
    "tanh": (lambda v: v.tanh(), lambda t, nnf: t.tanh()),
    "sigmoid": (lambda v: v.sigmoid(), lambda t, nnf: t.sigmoid()),
    "relu": (lambda v: v.relu(), lambda t, nnf: t.relu()),
    "leaky_relu": (lambda v: v.leaky_relu(0.1), lambda t, nnf: nnf.leaky_relu(t, 0.1)),
    "elu": (lambda v: v.elu(0.5), lambda t, nnf: nnf.elu(t, 0.5)),
    "softplus": (lambda v: v.softplus(), lambda t, nnf: nnf.softplus(t)),
    "abs": (lambda v: abs(v), lambda t, nnf: t.abs()),
    "sin": (lambda v: v.sin(), lambda t, nnf: t.sin()),
    "cos": (lambda v: v.cos(), lambda t, nnf: t.cos()),
    "clamp": (lambda v: v.clamp(-1.0, 1.0), lambda t, nnf: t.clamp(-1.0, 1.0)),
    "x**2": (lambda v: v ** 2, lambda t, nnf: t ** 2),
    "x**3": (lambda v: v ** 3, lambda t, nnf: t ** 3),
    "x**0": (lambda v: v ** 0, lambda t, nnf: t ** 0),
    "x**-1": (lambda v: v ** -1, lambda t, nnf: t ** -1),
    "x**0.5": (lambda v: v ** 0.5, lambda t, nnf: t ** 0.5),
    "x**(1/3)": (lambda v: v ** (1 / 3), lambda t, nnf: t ** (1 / 3)),
    "2**x": (lambda v: 2.0 ** v, lambda t, nnf: 2.0 ** t),
    "0**x": (lambda v: 0.0 ** v, lambda t, nnf: 0.0 ** t),
    "(-2)**x": (lambda v: (-2.0) ** v, lambda t, nnf: (-2.0) ** t),
}

# Where chainrule and PyTorch differ on purpose (value or gradient), and why.
# Keyed by (name, repr(point)): nan is not equal to itself, so it cannot be a plain key.
DIFFERENT_FROM_TORCH = {
    ("x**(1/3)", "-inf"): "a negative base to a non-integer power is nan here; torch "
                          "follows C's pow(-inf, 1/3) = inf",
}


def _torch_value_and_grad(torch: Any, f: Callable, *xs: float) -> tuple[float, list[float]]:
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    out.backward()
    return out.item(), [0.0 if t.grad is None else t.grad.item() for t in ts]


def _agree(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-12 * max(1.0, abs(b))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_edges_agree_with_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = UNARY[name]
    for x in EDGE_POINTS:
        if (name, repr(x)) in DIFFERENT_FROM_TORCH:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            v = Value(x)
            out = ours(v)
            out.backward()
        value, (derivative,) = _torch_value_and_grad(
            torch, lambda t: theirs(t, torch.nn.functional), x)
        assert _agree(out.data, value), (name, x, out.data, value)
        assert _agree(v.grad, derivative), (name, x, v.grad, derivative)


def test_documented_differences_from_torch_hold():
    """The exceptions above are real (so the list cannot go stale silently)."""
    torch = pytest.importorskip("torch")
    for (name, point), _why in DIFFERENT_FROM_TORCH.items():
        x = float(point)
        ours, theirs = UNARY[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            v = Value(x)
            out = ours(v)
            out.backward()
        value, (derivative,) = _torch_value_and_grad(
            torch, lambda t, theirs=theirs: theirs(t, torch.nn.functional), x)
        assert not (_agree(out.data, value) and _agree(v.grad, derivative)), (name, x)


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b, torch: a + b),
    "sub": (lambda a, b: a - b, lambda a, b, torch: a - b),
    "mul": (lambda a, b: a * b, lambda a, b, torch: a * b),
    "div": (lambda a, b: a / b, lambda a, b, torch: a / b),
    "pow": (lambda a, b: a ** b, lambda a, b, torch: a ** b),
    "sum": (lambda a, b: Value.sum([a, b]), lambda a, b, torch: torch.stack([a, b]).sum()),
    "max": (lambda a, b: Value.max([a, b]), lambda a, b, torch: torch.stack([a, b]).amax()),
}
PAIR_POINTS = (0.0, -0.0, NAN, INF, -INF, 1.0, -1.0, 2.0, -2.0, 0.5)


BINARY_DIFFERENT_FROM_TORCH = {
    ("pow", "-inf", "0.5"): "a negative base to a non-integer power is nan here; torch's "
                            "pow with a tensor exponent follows C: pow(-inf, 0.5) = inf",
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_edges_agree_with_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = BINARY[name]
    for x in PAIR_POINTS:
        for y in PAIR_POINTS:
            if (name, repr(x), repr(y)) in BINARY_DIFFERENT_FROM_TORCH:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                a, b = Value(x), Value(y)
                out = ours(a, b)
                out.backward()
            value, (da, db) = _torch_value_and_grad(
                torch, lambda s, t: theirs(s, t, torch), x, y)
            assert _agree(out.data, value), (name, x, y, out.data, value)
            assert _agree(a.grad, da) and _agree(b.grad, db), (name, x, y, a.grad, b.grad, da, db)


# -- piecewise code and inf * 0 (BAD_INPUTS 24) ------------------------------------------------


def test_masking_after_an_infinite_derivative_gives_nan_and_the_safe_input_pattern_fixes_it():
    """A branch selected by multiplying with a 0/1 mask still runs backward through the
    unselected branch: at x = 0, 0 * sqrt(x) has local derivative 0 * inf = nan. Feed the
    op a safe input instead (the "double where" pattern), or branch in Python: only the
    branch taken is recorded."""
    x = Value(0.0)
    mask = 0.0  # "x > 0" is false: the sqrt branch is not wanted
    (mask * x.sqrt()).backward()
    assert math.isnan(x.grad)

    x = Value(0.0)
    safe = x * mask + (1.0 - mask) * 1.0  # sqrt sees 1.0 where the branch is masked off
    (mask * safe.sqrt()).backward()
    assert x.grad == 0.0

    x = Value(0.0)
    y = x.sqrt() if x.data > 0 else x * 0.0
    y.backward()
    assert x.grad == 0.0


def test_documented_binary_differences_from_torch_hold():
    torch = pytest.importorskip("torch")
    for (name, x, y), _why in BINARY_DIFFERENT_FROM_TORCH.items():
        ours, theirs = BINARY[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = ours(Value(float(x)), Value(float(y)))
        value, _ = _torch_value_and_grad(
            torch, lambda s, t, theirs=theirs: theirs(s, t, torch), float(x), float(y))
        assert not _agree(out.data, value), (name, x, y)
