"""Checks of user arguments, shared by the engine, nn and viz.

Each function returns the argument converted (a float, an int, a bool) or raises the
exception a user should see: ``TypeError`` for a wrong kind of thing, ``ValueError`` for
a wrong value, ``OverflowError`` for a number too large for a float, each naming the
argument and what was given. ``bool`` is never a number here (``True + 1`` is 2 in
Python, but ``lr=True`` is a mistake).

Example:
    >>> real(3, "lr")
    3.0
    >>> real(True, "lr")
    Traceback (most recent call last):
    TypeError: lr needs a real number, got bool (True)
"""

from __future__ import annotations

import decimal
import math
import numbers
from typing import Any

_INFINITIES = (math.inf, -math.inf)


def real(x: Any, name: str, *, nan: bool = True) -> float:
    """``x`` as a Python float: ints, numpy scalars, Fraction and Decimal are converted;
    ``str``, ``None``, ``bool``, ``complex`` and sequences raise TypeError naming ``name``.
    ``nan=False`` refuses nan too."""
    if type(x) is float:
        number = x
    else:
        if type(x) is int:  # the common case, before the slower checks
            try:
                return float(x)
            except OverflowError:
                pass
        if isinstance(x, bool) or type(x).__name__ == "bool_":
            raise TypeError(f"{name} needs a real number, got bool ({x!r})")
        if type(x).__name__ == "Value":  # (the engine's; this module cannot import it)
            raise TypeError(f"{name} needs a real number, got Value; use v.data for its "
                            "number or v.detach() for a constant copy")
        if not isinstance(x, (numbers.Real, decimal.Decimal)):
            raise TypeError(f"{name} needs a real number, got {type(x).__name__}")
        try:
            number = float(x)
        except OverflowError:
            number = None
        except ValueError:  # a signaling Decimal NaN refuses float()
            raise ValueError(f"{name}: cannot convert {x!r} to a float") from None
        # float() raises for an int or Fraction beyond the float range, but silently
        # gives inf for a Decimal or a numpy long double: refuse both alike.
        if number is None or (number in _INFINITIES and x != number):
            raise OverflowError(f"{name}: the {type(x).__name__} (about "
                                f"10**{_decimal_exponent(x)}) is too large for a float")
    if not nan and number != number:
        raise ValueError(f"{name} must not be nan")
    return number


def finite(x: Any, name: str) -> float:
    """``x`` as a finite float (nan and +-inf raise ValueError)."""
    number = real(x, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number!r}")
    return number


def positive(x: Any, name: str, *, zero: bool = False) -> float:
    """``x`` as a finite float > 0 (``>= 0`` with ``zero=True``)."""
    number = finite(x, name)
    if number < 0.0 or (number == 0.0 and not zero):
        raise ValueError(f"{name} must be {'>= 0' if zero else '> 0'}, got {number!r}")
    return number


def integer(x: Any, name: str, *, minimum: int | None = None) -> int:
    """``x`` as an int (numpy integers too; floats and bools raise TypeError), at least
    ``minimum`` when given."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} ({x!r})")
    number = int(x)
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def flag(x: Any, name: str) -> bool:
    """``x`` as a bool (only ``True`` and ``False``; 0 and 1 raise TypeError)."""
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be True or False, got {type(x).__name__} ({x!r})")
    return x


# -- the arguments of ops (see rules.py: a row's ``param``) ---------------------------------

def alpha(default: float) -> Any:
    """The ``param`` of an op with a finite ``alpha`` (leaky_relu, elu)."""
    def alpha(alpha: float = default) -> float:
        return finite(alpha, "alpha")

    return alpha


def bounds(lo: float = -math.inf, hi: float = math.inf) -> tuple[float, float]:
    """clamp's ``param``: ``lo <= hi``, neither nan."""
    low, high = real(lo, "lo", nan=False), real(hi, "hi", nan=False)
    if not low <= high:
        raise ValueError(f"clamp needs lo <= hi, got lo={lo!r}, hi={hi!r}")
    return (low, high)


def constant(name: str) -> Any:
    """The ``param`` of ``x ** c`` and ``c ** x``: any real number (inf and nan are IEEE's
    business)."""
    return lambda c: c if type(c) is float else real(c, name)


def _decimal_exponent(number: Any) -> int:
    if isinstance(number, int):
        return int(abs(number).bit_length() * 0.30103)
    if isinstance(number, numbers.Rational):  # Fraction: Decimal() cannot take it
        bits = abs(number.numerator).bit_length() - number.denominator.bit_length()
        return int(bits * 0.30103)
    try:
        return int(decimal.Decimal(str(number)).adjusted())
    except (TypeError, ValueError, ArithmeticError):
        return 308
