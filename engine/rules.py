"""The table of ops: one row per primitive, and the whole calculus of the engine.

A row gives an op's forward function and its *local derivatives* side by side:
``local(xp, out, *inputs, arg)`` returns ``d out / d input_i`` for each input, against a
backend ``xp``, so one function serves floats (``kernels.FLOAT``: first-order backward),
Values (``functional.VALUES``: ``create_graph``) and numpy arrays (``arrays.ARRAYS``: the
tape). So a rule uses ``+ - *``, comparisons, and ``xp``'s ``div pow exp log sigmoid sin
cos sign where raw`` (``raw(x)``: the number behind x, for ``==``).

The ``Value`` methods, the tape's kernels, the pictures' replay, the command line's
functions and nn's activations all come from this table. Adding an op is one row here and
one in ``tests/test_engine_rules.py``, which checks every row against finite differences.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import arrays, kernels
from .checks import alpha, bounds, constant


@dataclass(frozen=True, slots=True)
class Rule:
    """A primitive op: how to compute it, its local derivatives, and its name on Value.

    ``arity``: 1, 2, or 0 for n-ary. ``forward(*inputs[, arg])`` on floats (``arg``: an
    alpha, clamp's bounds, the c of ``x ** c``), ``numpy(*inputs, arg, out)`` on arrays.
    ``method``: the Value attribute (default: the name; an operator such as ``"__add__"``
    gets its reflected twin too); ``param`` makes and checks ``arg`` from the method's
    arguments; ``doc`` and ``derivative`` are for people. ``const``: local derivatives that
    are plain numbers, stored without a call (checked against ``local`` here).

    Example:
        >>> RULES["mul"].local(kernels.FLOAT, 6.0, 2.0, 3.0, None)
        (3.0, 2.0)
    """

    name: str
    symbol: str
    arity: int
    forward: Callable[..., float]
    numpy: Callable[..., None]
    local: Callable[..., tuple]
    derivative: str
    doc: str = ""
    method: str = ""
    param: Callable[..., Any] | None = None
    const: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method or self.name)
        inputs = ((1.0, 2.0, 3.0),) if self.arity == 0 else (1.5, -2.0)[: self.arity]
        if self.const is not None and (
                tuple(self.local(kernels.FLOAT, 0.5, *inputs, None))
                != self.const * (3 if self.arity == 0 else 1)):
            raise ValueError(f"rule {self.name!r}: const={self.const!r} disagrees with local")

    @property
    def arguments(self) -> dict[str, Any]:
        """The method's arguments and their defaults (``{"alpha": 0.01}``)."""
        if self.param is None or self.method.startswith("__"):
            return {}
        return {k: p.default for k, p in inspect.signature(self.param).parameters.items()}

    def evaluate(self, inputs: Sequence[float], arg: Any = None) -> float:
        """The forward function on the numbers ``inputs`` (and the op's ``arg``)."""
        if self.arity == 0:
            return self.forward(list(inputs))
        return self.forward(*inputs) if self.param is None else self.forward(*inputs, arg)

    def __repr__(self) -> str:
        return f"Rule({self.name!r}: {self.derivative})"

    def __reduce__(self) -> tuple:
        return (_rule_named, (self.name,))  # pickled by name: the table's row is the rule


# -- local derivatives that take more than a line --------------------------------------------

def _pow_local(xp, out, a, b, arg):
    # d/da a**b = b a**(b-1), d/db a**b = a**b log a. 0**0 = 1 is flat both ways (as
    # PyTorch; JAX gives nan). Only the points where these would be inf * 0 are masked
    # (a == 0 or nan at b == 0; a == 0 with b >= 0), so elsewhere create_graph keeps the
    # dependence on b: d2/da db a**b = 1/a at b == 0, not 0.
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
    # 1 for the maximal input; ties share equally (as torch.amax): a convex combination.
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


def _elu_local(xp, out, x, alpha):
    # alpha e^x below 0 (out + alpha is the same in exact arithmetic, but cancels: 0, not
    # 1.2e-48, at -111); at the kink the constant alpha (second derivative 0, as PyTorch);
    # at nan 1, as relu.
    return (xp.where(x < 0.0, alpha * xp.exp(x), xp.where(xp.raw(x) == 0.0, alpha, 1.0)),)


_ROWS = (
    # name, symbol, arity, float forward, numpy kernel, local derivatives, in words
    Rule("add", "+", 2, operator.add, arrays.binary(np.add),
         lambda xp, out, a, b, arg: (1.0, 1.0), "d(a+b)/da = 1, d(a+b)/db = 1",
         doc="``a + b``", method="__add__", const=(1.0, 1.0)),
    Rule("sub", "-", 2, operator.sub, arrays.binary(np.subtract),
         lambda xp, out, a, b, arg: (1.0, -1.0), "d(a-b)/da = 1, d(a-b)/db = -1",
         doc="``a - b``", method="__sub__", const=(1.0, -1.0)),
    Rule("mul", "*", 2, operator.mul, arrays.binary(np.multiply),
         lambda xp, out, a, b, arg: (b, a), "d(ab)/da = b, d(ab)/db = a",
         doc="``a * b``", method="__mul__"),
    Rule("div", "/", 2, kernels.div, arrays.binary(np.divide),  # -a/b**2 is -(a/b)/b: -out/b
         lambda xp, out, a, b, arg: (xp.div(1.0, b), xp.div(-out, b)),
         "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2", doc="``a / b`` (x/0 is +-inf, 0/0 is nan)",
         method="__truediv__"),
    Rule("pow", "**", 2, kernels.pow, lambda a, b, arg, out: arrays.pow(a, b, out),
         _pow_local, "d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log a",
         doc="``a ** b``: nan, never complex, for a negative base and a fractional exponent",
         method="__pow__"),
    Rule("powc", "**", 1, kernels.pow, lambda x, c, out: arrays.pow(x, c, out),
         _powc_local, "d(x^c)/dx = c x^(c-1)", doc="``x ** c`` for a constant c",
         method="__pow__", param=constant("exponent")),
    Rule("rpow", "**", 1, lambda x, c: kernels.pow(c, x), lambda x, c, out: arrays.pow(c, x, out),
         _rpow_local, "d(c^x)/dx = c^x log c", doc="``c ** x`` for a constant c",
         method="__rpow__", param=constant("base")),
    Rule("neg", "-", 1, operator.neg, arrays.unary(np.negative),
         lambda xp, out, x, arg: (-1.0,), "d(-x)/dx = -1", doc="``-x``",
         method="__neg__", const=(-1.0,)),
    Rule("exp", "exp", 1, kernels.exp, arrays.unary(np.exp), lambda xp, out, x, arg: (out,),
         "d exp(x)/dx = exp(x)", doc="``e ** x`` (inf above about 709.78)"),
    Rule("log", "log", 1, kernels.log, arrays.unary(np.log),
         lambda xp, out, x, arg: (xp.div(1.0, x),), "d log(x)/dx = 1/x",
         doc="natural logarithm: log(0) = -inf, log(x < 0) = nan"),
    Rule("sqrt", "sqrt", 1, kernels.sqrt, arrays.unary(np.sqrt),
         lambda xp, out, x, arg: (xp.div(0.5, out),), "d sqrt(x)/dx = 1/(2 sqrt(x))",
         doc="square root: sqrt(x < 0) = nan, sqrt'(0) = inf"),
    Rule("tanh", "tanh", 1, kernels.tanh, arrays.unary(np.tanh),
         lambda xp, out, x, arg: (1.0 - out * out,), "d tanh(x)/dx = 1 - tanh(x)^2",
         doc="hyperbolic tangent (saturates to +-1)"),
    Rule("sigmoid", "sigmoid", 1, kernels.sigmoid, arrays.sigmoid_into,
         lambda xp, out, x, arg: (out * (1.0 - out),),
         "d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))", doc="``1/(1+e^-x)``, stable"),
    # nan passes the gradient through, as in PyTorch (nan <= 0 is False).
    Rule("relu", "relu", 1, kernels.relu, arrays.relu,
         lambda xp, out, x, arg: (xp.where(x <= 0.0, 0.0, 1.0),),
         "d relu(x)/dx = 1 if x > 0 else 0 (0 at 0)", doc="``max(x, 0)``"),
    Rule("leaky_relu", "leaky_relu", 1, kernels.leaky_relu, arrays.leaky_relu,
         lambda xp, out, x, alpha: (xp.where(x > 0.0, 1.0, alpha),),
         "d leaky_relu(x)/dx = 1 if x > 0 else alpha (alpha at 0)",
         doc="``x`` if x > 0 else ``alpha * x``", param=alpha(0.01)),
    Rule("elu", "elu", 1, kernels.elu, arrays.elu, _elu_local, "d elu(x)/dx = 1 if x > 0 else "
         "alpha e^x", doc="``x`` if x > 0 else ``alpha (e^x - 1)``", param=alpha(1.0)),
    Rule("softplus", "softplus", 1, kernels.softplus, arrays.softplus,
         lambda xp, out, x, arg: (xp.sigmoid(x),), "d softplus(x)/dx = sigmoid(x)",
         doc="``log(1 + e^x)``, without overflow"),
    Rule("abs", "abs", 1, math.fabs, arrays.unary(np.abs),
         lambda xp, out, x, arg: (xp.sign(x),), "d|x|/dx = sign(x) (0 at 0 and at nan)",
         doc="``|x|`` (the derivative at 0 is 0, as PyTorch; JAX uses 1)", method="__abs__"),
    Rule("sin", "sin", 1, kernels.sin, arrays.unary(np.sin),
         lambda xp, out, x, arg: (xp.cos(x),), "d sin(x)/dx = cos(x)", doc="sine"),
    Rule("cos", "cos", 1, kernels.cos, arrays.unary(np.cos),
         lambda xp, out, x, arg: (-xp.sin(x),), "d cos(x)/dx = -sin(x)", doc="cosine"),
    Rule("clamp", "clamp", 1, kernels.clamp, arrays.clamp, _clamp_local,
         "d clamp(x, lo, hi)/dx = 1 on [lo, hi], else 0", doc="x within [lo, hi]", param=bounds),
    Rule("sum", "sum", 0, kernels.fsum, arrays.reduce(np.add),
         lambda xp, out, xs, arg: (1.0,) * len(xs), "d(x1 + ... + xn)/dxi = 1",
         doc="one node for ``t1 + ... + tn``, correctly rounded; an empty sum is 0",
         const=(1.0,)),
    Rule("max", "max", 0, kernels.maximum_many, arrays.reduce(np.maximum), _max_local,
         "d max(x1..xn)/dxi = 1 for the largest (ties share equally), else 0",
         doc="the largest of the items (nan if any is nan)"),
)

RULES: dict[str, Rule] = {rule.name: rule for rule in _ROWS}
"""Every primitive op by name. Tests iterate over this table."""


def _rule_named(name: str) -> Rule:
    """The row of :data:`RULES` called ``name`` (how a pickled node finds its rule)."""
    if name not in RULES:
        raise ValueError(f"no rule named {name!r} in chainrule.engine.RULES")
    return RULES[name]
