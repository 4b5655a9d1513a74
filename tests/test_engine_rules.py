"""Every row of the rule table, checked against central differences (and PyTorch).

``OPS`` below has one entry per rule in ``chainrule.engine.RULES``: how to call the op,
which points of its domain to sample (away from kinks and poles), and the same
function in PyTorch. ``test_every_rule_has_an_op_entry`` fails as soon as a rule is
added to the table without an entry here, so no op ships without a gradient check.

Tolerance: PyTorch's rule ``|analytic - numeric| <= atol + rtol * |numeric|``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from chainrule.engine import RULES, Value, grad, no_grad
from hypothesis import given, settings
from hypothesis import strategies as st

H = 1e-6  # central-difference step; every sampled point is >= 1e-3 from a kink or pole
ATOL, RTOL = 1e-6, 1e-5  # the differences here are accurate to ~1e-9 relative


def close(analytic: float, numeric: float, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """PyTorch's allclose rule (False for nan, so a nan gradient fails)."""
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)


# -- sampling the domain of each op -----------------------------------------------------


def real(lo: float = -10.0, hi: float = 10.0) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo: float = 1e-3, hi: float = 10.0) -> st.SearchStrategy[float]:
    """|x| in [lo, hi], either sign: keeps the samples off a kink or pole at 0."""
    return st.tuples(st.sampled_from((-1.0, 1.0)), real(lo, hi)).map(lambda t: t[0] * t[1])


def distinct(n_min: int = 1, n_max: int = 5, gap: float = 1e-3) -> st.SearchStrategy:
    """Tuples of numbers at least ``gap`` apart (so max has no tie within a step H)."""

    def spread(xs: list[float]) -> bool:
        s = sorted(xs)
        return all(b - a >= gap for a, b in itertools.pairwise(s))

    return st.lists(real(-5.0, 5.0), min_size=n_min, max_size=n_max).filter(spread).map(tuple)


@st.composite
def powc_case(draw: Any) -> tuple[tuple[float], float]:
    """``x ** c`` for a constant c: integer exponents on both signs of x, others on x > 0."""
    c = draw(st.sampled_from((0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5, -0.5, 1.5, 1 / 3, 2.5, -1.25)))
    x = draw(away_from_zero(0.1, 4.0)) if c == int(c) else draw(real(0.1, 4.0))
    return (x,), c


@st.composite
def clamp_case(draw: Any) -> tuple[tuple[float], tuple[float, float]]:
    """clamp(x, lo, hi) with x inside, below or above, but >= 1e-3 from either bound."""
    lo = draw(real(-3.0, 1.0))
    hi = lo + draw(real(0.01, 4.0))
    x = draw(real(-6.0, 6.0).filter(lambda v: abs(v - lo) >= 1e-3 and abs(v - hi) >= 1e-3))
    return (x,), (lo, hi)


def no_arg(inputs: st.SearchStrategy) -> st.SearchStrategy:
    return inputs.map(lambda xs: (xs, None))


def with_arg(inputs: st.SearchStrategy, args: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(inputs, args)


def one(x: st.SearchStrategy[float]) -> st.SearchStrategy:
    return x.map(lambda v: (v,))


# -- the op table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """How to call one rule, where to sample it, and its PyTorch twin.

    ``call(arg, *values)`` builds the op from chainrule Values; ``torch(nnf, arg, *tensors)``
    does the same with torch tensors (``nnf`` is ``torch.nn.functional``).
    ``cases`` draws ``(inputs, arg)``.
    """

    call: Callable[..., Value]
    cases: st.SearchStrategy
    torch: Callable[..., Any]


def _stack(*ts: Any) -> Any:
    import torch

    return torch.stack(ts)


OPS: dict[str, Op] = {
    "add": Op(lambda _, a, b: a + b, no_arg(st.tuples(real(), real())),
              lambda nnf, _, a, b: a + b),
    "sub": Op(lambda _, a, b: a - b, no_arg(st.tuples(real(), real())),
              lambda nnf, _, a, b: a - b),
    "mul": Op(lambda _, a, b: a * b, no_arg(st.tuples(real(), real())),
              lambda nnf, _, a, b: a * b),
    "div": Op(lambda _, a, b: a / b, no_arg(st.tuples(real(), away_from_zero(0.1))),
              lambda nnf, _, a, b: a / b),
    # Value ** Value: the exponent's derivative a^b log a needs a > 0.
    "pow": Op(lambda _, a, b: a ** b, no_arg(st.tuples(real(0.1, 5.0), real(-3.0, 3.0))),
              lambda nnf, _, a, b: a ** b),
    "powc": Op(lambda c, x: x ** c, powc_case(), lambda nnf, c, x: x ** c),
    "rpow": Op(lambda c, x: c ** x, with_arg(one(real(-3.0, 3.0)), real(0.1, 5.0)),
               lambda nnf, c, x: c ** x),
    "neg": Op(lambda _, x: -x, no_arg(one(real())), lambda nnf, _, x: -x),
    "exp": Op(lambda _, x: x.exp(), no_arg(one(real())), lambda nnf, _, x: x.exp()),
    "log": Op(lambda _, x: x.log(), no_arg(one(real(0.05, 50.0))), lambda nnf, _, x: x.log()),
    "sqrt": Op(lambda _, x: x.sqrt(), no_arg(one(real(0.01, 50.0))), lambda nnf, _, x: x.sqrt()),
    "tanh": Op(lambda _, x: x.tanh(), no_arg(one(real(-8.0, 8.0))), lambda nnf, _, x: x.tanh()),
    "sigmoid": Op(lambda _, x: x.sigmoid(), no_arg(one(real(-12.0, 12.0))),
                  lambda nnf, _, x: x.sigmoid()),
    "relu": Op(lambda _, x: x.relu(), no_arg(one(away_from_zero())), lambda nnf, _, x: x.relu()),
    "leaky_relu": Op(lambda a, x: x.leaky_relu(a),
                     with_arg(one(away_from_zero()), st.sampled_from((0.01, 0.1, 0.2, 1.5))),
                     lambda nnf, a, x: nnf.leaky_relu(x, a)),
    "elu": Op(lambda a, x: x.elu(a),
              with_arg(one(away_from_zero()), st.sampled_from((1.0, 0.5, 2.0))),
              lambda nnf, a, x: nnf.elu(x, a)),
    "softplus": Op(lambda _, x: x.softplus(), no_arg(one(real(-20.0, 20.0))),
                   lambda nnf, _, x: nnf.softplus(x)),
    "abs": Op(lambda _, x: abs(x), no_arg(one(away_from_zero())), lambda nnf, _, x: x.abs()),
    "sin": Op(lambda _, x: x.sin(), no_arg(one(real())), lambda nnf, _, x: x.sin()),
    "cos": Op(lambda _, x: x.cos(), no_arg(one(real())), lambda nnf, _, x: x.cos()),
    "clamp": Op(lambda b, x: x.clamp(*b), clamp_case(), lambda nnf, b, x: x.clamp(*b)),
    "sum": Op(lambda _, *xs: Value.sum(xs), no_arg(st.lists(real(), min_size=1, max_size=5)
                                                    .map(tuple)),
              lambda nnf, _, *xs: _stack(*xs).sum()),
    "max": Op(lambda _, *xs: Value.max(xs), no_arg(distinct()),
              lambda nnf, _, *xs: _stack(*xs).amax()),
}

NAMES = sorted(RULES)
EXAMPLES = settings(max_examples=30, deadline=None)


def test_every_rule_has_an_op_entry():
    """A rule added to RULES without a row in OPS fails here: no op ships unchecked."""
    assert set(OPS) == set(RULES), (
        f"rules without a gradient check: {sorted(set(RULES) - set(OPS))}; "
        f"entries for unknown rules: {sorted(set(OPS) - set(RULES))}"
    )


# -- helpers -----------------------------------------------------------------------------


def evaluate(op: Op, arg: Any, point: tuple[float, ...]) -> float:
    with no_grad():
        return op.call(arg, *(Value(x) for x in point)).data


def first_derivatives(op: Op, arg: Any, point: tuple[float, ...]) -> list[float]:
    xs = [Value(x) for x in point]
    return [g.data for g in grad(op.call(arg, *xs), xs)]


def central(f: Callable[[tuple[float, ...]], Any], point: tuple[float, ...], j: int) -> Any:
    """(f(x + H e_j) - f(x - H e_j)) / 2H for a scalar- or list-valued f."""
    up, down = list(point), list(point)
    up[j] += H
    down[j] -= H
    hi, lo = f(tuple(up)), f(tuple(down))
    if isinstance(hi, list):
        return [(a - b) / (2 * H) for a, b in zip(hi, lo)]
    return (hi - lo) / (2 * H)


# -- first derivatives: backward against central differences --------------------------


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name):
    op = OPS[name]

    @EXAMPLES
    @given(op.cases)
    def check(case):
        point, arg = case
        xs = [Value(x, label=f"x{i}") for i, x in enumerate(point)]
        out = op.call(arg, *xs)
        assert out.op == name, f"OPS[{name!r}] built a {out.op!r} node"
        assert type(out.data) is float
        assert out.data == evaluate(op, arg, point)
        out.backward()
        for j, x in enumerate(xs):
            numeric = central(lambda p: evaluate(op, arg, p), point, j)
            assert close(x.grad, numeric), (
                f"{name} at {point} (arg {arg}): d/dx{j} analytic {x.grad!r}, "
                f"numeric {numeric!r}"
            )

    check()


@pytest.mark.parametrize("name", NAMES)
def test_local_grads_are_the_rule_applied_to_floats(name):
    """The saved local derivatives are exactly what the rule gives on the float backend."""
    from chainrule.engine.kernels import FLOAT

    op = OPS[name]

    @settings(max_examples=10, deadline=None)
    @given(op.cases)
    def check(case):
        point, arg = case
        out = op.call(arg, *(Value(x) for x in point))
        ins = tuple(p.data for p in out.parents)
        expected = (RULES[name].local(FLOAT, out.data, ins, out.arg) if RULES[name].arity == 0
                    else RULES[name].local(FLOAT, out.data, *ins, out.arg))
        assert tuple(out.local_grads) == tuple(expected)
        assert out.rule is RULES[name]

    check()


# -- second derivatives: the create_graph path against differences of the first ----------


@pytest.mark.parametrize("name", NAMES)
def test_create_graph_path_gives_first_and_second_derivatives(name):
    op = OPS[name]

    @EXAMPLES
    @given(op.cases)
    def check(case):
        point, arg = case
        xs = [Value(x) for x in point]
        firsts = grad(op.call(arg, *xs), xs, create_graph=True)
        # The Value path of the rule agrees with the float path.
        plain = first_derivatives(op, arg, point)
        for j, (g, p) in enumerate(zip(firsts, plain)):
            assert close(g.data, p, atol=1e-12, rtol=1e-12), (name, point, j, g.data, p)
        # Column j of the Hessian by differences of the first derivatives along x_j;
        # row i analytically, by differentiating d out / d x_i once more.
        columns = [central(lambda p: first_derivatives(op, arg, p), point, j)
                   for j in range(len(xs))]
        for i, g in enumerate(firsts):
            row = [h.data for h in grad(g, xs)]
            for j in range(len(xs)):
                numeric = columns[j][i]
                assert close(row[j], numeric), (
                    f"{name} at {point} (arg {arg}): d2/dx{i}dx{j} analytic {row[j]!r}, "
                    f"numeric {numeric!r}"
                )

    check()


# -- PyTorch as a second oracle ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    op = OPS[name]

    @EXAMPLES
    @given(op.cases)
    def check(case):
        point, arg = case
        xs = [Value(x) for x in point]
        out = op.call(arg, *xs)
        out.backward()
        ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
        ref = op.torch(functional, arg, *ts)
        ref.backward()
        assert close(out.data, ref.item(), atol=1e-12, rtol=1e-12), (name, point, arg)
        for x, t in zip(xs, ts):
            expected = 0.0 if t.grad is None else t.grad.item()
            assert close(x.grad, expected, atol=1e-12, rtol=1e-10), (
                name, point, arg, x.grad, expected)

    check()


# How the lecture writes each op where its name is not its spelling.
_WRITTEN = {"mul": "ab", "neg": "-x", "abs": "|x|", "sum": "x1 + ... + xn", "powc": "x^c",
            "rpow": "c^x"}


def test_rule_rows_describe_their_derivatives():
    """Each row states its derivative for people, as the repr, the docs' derivative table
    and the step-through show it: one partial derivative per input, of the op by name."""
    inputs = {2: ("a", "b"), 1: ("x",), 0: ("xi",)}
    for name, rule in RULES.items():
        assert rule.name == name and rule.symbol
        assert repr(rule) == f"Rule({name!r}: {rule.derivative})"
        text = rule.derivative
        assert text.startswith("d"), (name, text)
        for v in inputs[rule.arity]:
            assert re.search(rf"/d{v} = \S", text), (name, v, text)
        left = text.split(" = ")[0]
        spelled = _WRITTEN.get(name, rule.symbol.replace("**", "^"))
        assert spelled in left, (name, text)
    # the lecture's own lines, word for word
    assert RULES["tanh"].derivative == "d tanh(x)/dx = 1 - tanh(x)^2"
    assert RULES["sigmoid"].derivative == "d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))"
    assert RULES["mul"].derivative == "d(ab)/da = b, d(ab)/db = a"
    assert RULES["exp"].derivative == "d exp(x)/dx = exp(x)"


def test_constant_local_derivatives_agree_with_local():
    """``const`` is what ``local`` returns, on floats and on Values, wherever it is
    evaluated; the float path stores it without calling ``local``."""
    from chainrule.engine.functional import VALUES
    from chainrule.engine.kernels import FLOAT

    with_const = {name for name, rule in RULES.items() if rule.const is not None}
    assert with_const == {"add", "sub", "neg", "sum"}
    for name in sorted(with_const):
        rule = RULES[name]
        for point in ((0.0, 0.0, 0.0), (-3.5, 2.25, 1e300), (float("nan"), float("inf"), -0.0)):
            for xp, wrap in ((FLOAT, float), (VALUES, Value)):
                ins = tuple(wrap(x) for x in point)
                got = (rule.local(xp, wrap(1.0), ins, None) if rule.arity == 0
                       else rule.local(xp, wrap(1.0), *ins[: rule.arity], None))
                expected = rule.const * 3 if rule.arity == 0 else rule.const
                assert tuple(got) == expected, (name, point, got)


def test_a_const_that_disagrees_with_local_is_refused():
    import dataclasses

    with pytest.raises(ValueError, match=r"rule 'add': const=\(1.0, 1.0\) disagrees with local"):
        dataclasses.replace(RULES["add"], local=lambda xp, out, a, b, arg: (1.0, 2.0))
    with pytest.raises(ValueError, match=r"rule 'sum': const=.*disagrees"):
        dataclasses.replace(RULES["sum"], local=lambda xp, out, xs, arg: (2.0,) * len(xs))
    rule = dataclasses.replace(RULES["add"], local=lambda xp, out, a, b, arg: (1.0, 2.0),
                               const=None)
    assert rule.const is None


def test_sum_nodes_store_one_shared_derivative():
    xs = [Value(float(i)) for i in range(4)]
    s = Value.sum(xs)
    assert s.local_grads == (1.0, 1.0, 1.0, 1.0)
    (s * 2.0).backward()
    assert [x.grad for x in xs] == [2.0] * 4
