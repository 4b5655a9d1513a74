"""The derivative rules: one row per primitive op, and nothing else.

A rule gives the *local derivatives* of an op's output with respect to each input,
``d out / d input_i``, as a function ``local(xp, out, *inputs, arg)`` written against a
small backend ``xp``. The same function serves three paths:

* floats (``xp`` = :data:`chainrule.engine.kernels.FLOAT`): the fast first-order
  backward; inputs and ``out`` are Python floats;
* Values (``xp`` = the Value backend): ``create_graph=True``; inputs and ``out`` are the
  graph's own nodes, so the local derivatives are themselves differentiable;
* numpy arrays (``xp`` = the numpy backend of the tape): batched replay.

So a rule uses only arithmetic operators (``+ - *``, safe on all three), order
comparisons (``<``, ``<=``, ``>``, ``>=``: a Value compares its number), and the
backend's ``div pow exp log sigmoid sin cos sign where raw``. ``xp.raw(x)`` is the plain
number (or array) behind ``x``, needed for ``==`` (which is identity on Values);
``xp.where`` picks between branches; ``xp.sign`` and the conditions are constants (their
derivative is zero almost everywhere), so higher-order derivatives stay correct.

A row whose local derivatives are plain numbers (``+``, ``-``, negation, ``sum``) also
states them as ``const``, checked against ``local`` when the row is made; the float path
stores them without a call (a call is about a fifth of building a node).

The forward functions live with each backend (``kernels`` for floats, the tape's
numpy kernels), because a float and an array want different code; the *calculus*
lives only here. The test-suite iterates over :data:`RULES` and checks each row
against central differences, so a new op cannot ship without a gradient check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    """A primitive op and its local derivatives.

    ``arity`` is 1 or 2, or 0 for an n-ary op whose inputs arrive as one tuple.
    ``local(xp, out, *inputs, arg)`` returns one local derivative per input.
    ``derivative`` states the rule for people (docs, pictures, reprs).
    ``const``, for an op whose local derivatives are numbers that depend on nothing
    (``+``, ``-``, ``sum``), is what ``local`` returns (for an n-ary op: the one number
    every input gets); the float path stores it without calling ``local``. It is
    checked against ``local`` when the rule is made, so it cannot drift from it: a rule
    made from one of these with another ``local`` (``dataclasses.replace``) must pass
    ``const=None`` too.
    """

    name: str
    symbol: str
    arity: int
    local: Callable
    derivative: str
    const: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.const is None:
            return
        from .kernels import FLOAT  # kernels imports nothing from here; no cycle

        # Constants do not depend on the point: any finite one will do.
        if self.arity == 0:
            got = tuple(self.local(FLOAT, 6.0, (1.0, 2.0, 3.0), None))
            expected = self.const * 3
        else:
            got = tuple(self.local(FLOAT, 0.5, *(1.5, -2.0)[: self.arity], None))
            expected = self.const
        if got != expected or not all(type(d) is float for d in self.const):
            raise ValueError(f"rule {self.name!r}: const={self.const!r} disagrees with "
                             f"local, which gives {got!r}")

    def __repr__(self) -> str:
        return f"Rule({self.name!r}: {self.derivative})"

    def __reduce__(self) -> tuple:
        # Pickled (and deep-copied) by name: the table's row is the rule, and its
        # lambdas cannot be pickled anyway.
        return (_rule_named, (self.name,))


def _pow_local(xp, out, a, b, arg):
    # d/da a**b = b * a**(b-1); d/db a**b = a**b * log(a).
    # 0**0 = 1 is flat in both directions (PyTorch's convention; JAX gives nan):
    # at b == 0 the base derivative is 0, and the exponent derivative is 0 where
    # a == 0 and b >= 0 (log(0) = -inf would otherwise give 0 * -inf = nan).
    # b * a**(b-1) is already 0 at b == 0 unless a**(b-1) is inf or nan (a == 0, or
    # a nan), so only those points are masked: elsewhere the create_graph path keeps
    # its dependence on b (d2/da db a**b = 1/a at b == 0, not 0).
    ra, rb = xp.raw(a), xp.raw(b)
    d_base = xp.where((rb == 0.0) & ((ra == 0.0) | (ra != ra)), 0.0, b * xp.pow(a, b - 1.0))
    d_exp = xp.where((ra == 0.0) & (rb >= 0.0), 0.0, out * xp.log(a))
    return d_base, d_exp


def _powc_local(xp, out, x, c):
    # d/dx x**c = c * x**(c-1); for c == 0 the function is constant (0**0 included).
    if c == 0.0:
        return (0.0,)
    return (c * xp.pow(x, c - 1.0),)


def _rpow_local(xp, out, x, c):
    # d/dx c**x = c**x * log(c); flat where c == 0 and x >= 0 (as for pow).
    if c == 0.0:
        return (xp.where(x >= 0.0, 0.0, out * xp.log(c)),)
    return (out * xp.log(c),)


def _max_local(xp, out, xs, arg):
    # d/dx_i max(x) = 1 for the maximal input; ties share the gradient equally
    # (as torch.amax), so the derivative stays a convex combination.
    ro = xp.raw(out)
    hits = [xp.where(xp.raw(x) == ro, 1.0, 0.0) for x in xs]
    count = hits[0]
    for h in hits[1:]:
        count = count + h
    return tuple(xp.div(h, count) for h in hits)


def _clamp_local(xp, out, x, bounds):
    # d/dx clamp(x, lo, hi) = 1 inside [lo, hi] (bounds included, as PyTorch), else 0.
    lo, hi = bounds
    return (xp.where((x >= lo) & (x <= hi), 1.0, 0.0),)


_ROWS = (
    # name, symbol, arity, local(xp, out, *inputs, arg), the rule for people[, const]
    Rule("add", "+", 2, lambda xp, out, a, b, arg: (1.0, 1.0),
         "d(a+b)/da = 1, d(a+b)/db = 1", const=(1.0, 1.0)),
    Rule("sub", "-", 2, lambda xp, out, a, b, arg: (1.0, -1.0),
         "d(a-b)/da = 1, d(a-b)/db = -1", const=(1.0, -1.0)),
    Rule("mul", "*", 2, lambda xp, out, a, b, arg: (b, a),
         "d(ab)/da = b, d(ab)/db = a"),
    # d/db (a/b) = -a/b**2 = -(a/b)/b: reuse the output instead of squaring b.
    Rule("div", "/", 2, lambda xp, out, a, b, arg: (xp.div(1.0, b), xp.div(-out, b)),
         "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"),
    Rule("pow", "**", 2, _pow_local,
         "d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log a"),
    Rule("powc", "**", 1, _powc_local, "d(x^c)/dx = c x^(c-1)"),
    Rule("rpow", "**", 1, _rpow_local, "d(c^x)/dx = c^x log c"),
    Rule("neg", "-", 1, lambda xp, out, x, arg: (-1.0,), "d(-x)/dx = -1", const=(-1.0,)),
    Rule("exp", "exp", 1, lambda xp, out, x, arg: (out,), "d exp(x)/dx = exp(x)"),
    Rule("log", "log", 1, lambda xp, out, x, arg: (xp.div(1.0, x),), "d log(x)/dx = 1/x"),
    Rule("sqrt", "sqrt", 1, lambda xp, out, x, arg: (xp.div(0.5, out),),
         "d sqrt(x)/dx = 1/(2 sqrt(x))"),
    Rule("tanh", "tanh", 1, lambda xp, out, x, arg: (1.0 - out * out,),
         "d tanh(x)/dx = 1 - tanh(x)^2"),
    Rule("sigmoid", "sigmoid", 1, lambda xp, out, x, arg: (out * (1.0 - out),),
         "d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))"),
    # nan passes the gradient through, as in PyTorch (nan <= 0 is False).
    Rule("relu", "relu", 1, lambda xp, out, x, arg: (xp.where(x <= 0.0, 0.0, 1.0),),
         "d relu(x)/dx = 1 if x > 0 else 0 (0 at 0)"),
    Rule("leaky_relu", "leaky_relu", 1,
         lambda xp, out, x, alpha: (xp.where(x > 0.0, 1.0, alpha),),
         "d leaky_relu(x)/dx = 1 if x > 0 else alpha (alpha at 0)"),
    # For x < 0, d/dx alpha (e^x - 1) = alpha e^x (out + alpha is the same number in
    # exact arithmetic, but cancels: 0 instead of 1.2e-48 at x = -111). At the kink the
    # constant alpha: the slope from the left, with second derivative 0 (as PyTorch).
    # At nan the gradient passes (1), as for relu and in PyTorch.
    Rule("elu", "elu", 1,
         lambda xp, out, x, alpha: (xp.where(x < 0.0, alpha * xp.exp(x),
                                             xp.where(xp.raw(x) == 0.0, alpha, 1.0)),),
         "d elu(x)/dx = 1 if x > 0 else alpha e^x"),
    Rule("softplus", "softplus", 1, lambda xp, out, x, arg: (xp.sigmoid(x),),
         "d softplus(x)/dx = sigmoid(x)"),
    Rule("abs", "abs", 1, lambda xp, out, x, arg: (xp.sign(x),),
         "d|x|/dx = sign(x) (0 at 0 and at nan)"),
    Rule("sin", "sin", 1, lambda xp, out, x, arg: (xp.cos(x),), "d sin(x)/dx = cos(x)"),
    Rule("cos", "cos", 1, lambda xp, out, x, arg: (-xp.sin(x),), "d cos(x)/dx = -sin(x)"),
    Rule("clamp", "clamp", 1, _clamp_local, "d clamp(x, lo, hi)/dx = 1 on [lo, hi], else 0"),
    Rule("sum", "sum", 0, lambda xp, out, xs, arg: (1.0,) * len(xs),
         "d(x1 + ... + xn)/dxi = 1", const=(1.0,)),
    Rule("max", "max", 0, _max_local,
         "d max(x1..xn)/dxi = 1 for the largest (ties share equally), else 0"),
)

RULES: dict[str, Rule] = {rule.name: rule for rule in _ROWS}
"""Every primitive op by name. Tests iterate over this table."""


def _rule_named(name: str) -> Rule:
    """The row of :data:`RULES` called ``name`` (how a pickled node finds its rule)."""
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(f"no rule named {name!r} in chainrule.engine.RULES") from None
