"""Forward kernels on Python floats with IEEE-754 semantics.

Python's own float operators and ``math`` functions raise where numpy and PyTorch
return inf or nan: ``1.0 / 0.0`` raises ZeroDivisionError, ``math.log(0)`` and
``math.sqrt(-1)`` raise "math domain error", ``math.exp(1000)`` and ``10.0 ** 400``
raise OverflowError, and ``(-8.0) ** (1 / 3)`` silently returns a complex number.
The functions here give the IEEE answer instead (``inf``, ``-inf`` or ``nan``), so
the scalar path agrees with the numpy replay and with PyTorch, and no bare math
exception ever escapes an op.

This module is also the float *backend* of the derivative rules in
``chainrule.engine.rules`` (see :data:`FLOAT`).
"""

from __future__ import annotations

import math
import sys

INF = math.inf
NAN = math.nan

_exp = math.exp
_log = math.log
_sqrt = math.sqrt
_pow = math.pow
_log1p = math.log1p
_expm1 = math.expm1
_isfinite = math.isfinite
_fabs = math.fabs
_copysign = math.copysign
_floor = math.floor
_fsum = math.fsum


def div(a: float, b: float) -> float:
    """``a / b`` with IEEE results for a zero divisor (``+-inf``, or ``nan`` for 0/0)."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return NAN
        # The sign of an IEEE infinity quotient is sign(a) xor sign(b); b may be -0.0.
        return _copysign(INF, a) * _copysign(1.0, b)


def _is_odd_integer(y: float) -> bool:
    return _isfinite(y) and y == _floor(y) and _fabs(y) % 2.0 == 1.0


def pow(a: float, b: float) -> float:  # noqa: A001 - mirrors math.pow
    """``a ** b`` with C99 ``pow`` semantics: never complex, never an exception.

    A negative base with a non-integer exponent gives ``nan`` (``-inf`` included, where
    C gives ``+-inf`` or 0); ``0 ** -1`` gives ``inf`` (``-inf`` for ``-0.0``); overflow
    gives ``+-inf``; ``0 ** 0`` is ``1``; ``(-0.0) ** 0.5`` is ``+0.0`` as in C (numpy
    and PyTorch take a square root there and give ``-0.0``).
    """
    if a < 0.0 and _isfinite(b) and b != _floor(b):
        return NAN
    try:
        return _pow(a, b)
    except ValueError:
        # math.pow raises for 0 ** negative and for negative ** non-integer.
        if a == 0.0:
            if _copysign(1.0, a) < 0.0 and _is_odd_integer(b):
                return -INF
            return INF
        return NAN
    except OverflowError:
        if a < 0.0 and _is_odd_integer(b):
            return -INF
        return INF


def fsum(xs: list[float]) -> float:
    """``x1 + ... + xn`` correctly rounded (``math.fsum``), so the result depends neither
    on the order of the terms nor on the Python version; with an infinite term or an
    overflow (where fsum raises) the terms are added left to right, as IEEE does."""
    try:
        return _fsum(xs)
    except (ValueError, OverflowError):
        total = 0.0
        for x in xs:
            total += x
        return total


def exp(x: float) -> float:
    """``e ** x``; ``inf`` instead of OverflowError above about 709.78."""
    try:
        return _exp(x)
    except OverflowError:
        return INF


def expm1(x: float) -> float:
    """``e ** x - 1`` accurate near zero; ``inf`` on overflow."""
    try:
        return _expm1(x)
    except OverflowError:
        return INF


def log(x: float) -> float:
    """Natural logarithm: ``log(0) = -inf``, ``log(x < 0) = nan``."""
    if x > 0.0:
        return _log(x)
    if x == 0.0:
        return -INF
    return NAN  # negative or nan (log(inf) took the first branch)


def sqrt(x: float) -> float:
    """Square root: ``sqrt(x < 0) = nan``."""
    if x >= 0.0:
        return _sqrt(x)
    return NAN


tanh = math.tanh  # math.tanh already saturates to +-1 without overflow.


def sigmoid(x: float) -> float:
    """Logistic function, stable for any x: exp is only taken of a non-positive number."""
    if x >= 0.0:
        return 1.0 / (1.0 + _exp(-x))
    if x < 0.0:
        e = _exp(x)
        return e / (1.0 + e)
    return x  # nan


def softplus(x: float) -> float:
    """``log(1 + e**x)`` computed as ``max(x, 0) + log1p(e**-|x|)`` so it never overflows."""
    if x != x:
        return x
    return (x if x > 0.0 else 0.0) + _log1p(_exp(-_fabs(x)))


def relu(x: float) -> float:
    """``max(x, 0)``, written so that nan propagates (``nan > 0`` is False)."""
    return 0.0 if x <= 0.0 else x


def leaky_relu(x: float, alpha: float) -> float:
    """``x`` for ``x > 0``, else ``alpha * x`` (nan propagates)."""
    return x if x > 0.0 else alpha * x


def elu(x: float, alpha: float) -> float:
    """``x`` for ``x > 0``, else ``alpha * (e**x - 1)``."""
    return x if x > 0.0 else alpha * expm1(x)


def sin(x: float) -> float:
    """Sine; ``sin(+-inf) = nan`` instead of ValueError."""
    return math.sin(x) if _isfinite(x) else NAN


def cos(x: float) -> float:
    """Cosine; ``cos(+-inf) = nan`` instead of ValueError."""
    return math.cos(x) if _isfinite(x) else NAN


def clamp(x: float, bounds: tuple[float, float]) -> float:
    """``x`` limited to ``[lo, hi]`` (nan stays nan)."""
    lo, hi = bounds
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def sign(x: float) -> float:
    """-1, 0 or 1; 0 at 0 and at nan, as PyTorch's ``sign`` (numpy's gives nan there)."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


def where(cond: bool, a, b):
    """``a if cond else b``: the float twin of ``numpy.where``."""
    return a if cond else b


def maximum_many(xs: tuple[float, ...]) -> float:
    """Largest of ``xs``; nan if any is nan (builtin ``max`` depends on argument order)."""
    best = xs[0]
    for x in xs:
        if x != x:
            return x
        if x > best:
            best = x
    return best


def raw(x: float) -> float:
    """The plain number behind ``x``, for conditions (a float is its own)."""
    return x


FLOAT = sys.modules[__name__]
"""The float backend of the derivative rules: this module itself.

The rules need ``div pow exp log sigmoid sin cos sign where raw``; each backend (floats
here, Values for ``create_graph``, numpy arrays for the tape) offers these names, so one
rule serves all three paths. A module rather than an instance of a class of
staticmethods: CPython looks up ``xp.where`` on a module about 12 ns faster, and the
float path calls a rule for almost every node it builds.
"""
