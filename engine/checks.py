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


# -- the options of nn and viz: counts, sizes, rates, switches ------------------------------
#
# Each takes ``message``, a template with the fields ``{name}``, ``{value}`` (the repr of
# what was given), ``{type}`` (its type's name) and ``{got}`` (the type and the value for a
# wrong type, the value alone for a wrong value), for an option whose error wording is
# part of its documentation ("Invalid learning rate: -0.1", as PyTorch says it). A wrong
# type raises ``type_error`` (TypeError unless the function says otherwise) with
# ``type_message`` (``message`` unless given), a wrong value ValueError with ``message``.

def is_real(x: Any) -> bool:
    """True for a real number that is not a bool: int, float, Fraction, numpy's numbers.

    Example:
        >>> is_real(2), is_real(0.5), is_real(True), is_real("2"), is_real(None)
        (True, True, False, False, False)
    """
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def is_integer(x: Any) -> bool:
    """True for an int (numpy's integers too) that is not a bool.

    Example:
        >>> is_integer(3), is_integer(3.0), is_integer(False)
        (True, False, False)
    """
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _refusal(error: type[Exception], message: str, name: str, x: Any,
             converted: Any = None) -> Exception:
    """The error for ``x``; ``converted`` is the number for a wrong value, None for a
    wrong type."""
    # {value} shows what was typed: 0 stays 0 (not 0.0), but np.int64(0) shows as 0.
    shown = x if converted is None or type(x) in (int, float) else converted
    kind = type(x).__name__
    got = f"{kind} {shown!r}" if converted is None else repr(shown)
    return error(message.format(name=name, value=repr(shown), type=kind, got=got))


def number(x: Any, name: str, *, low: float = -math.inf, high: float = math.inf,
           low_open: bool = False, high_open: bool = False, finite: bool = True,
           message: str | None = None, type_message: str | None = None,
           type_error: type[Exception] = TypeError) -> float:
    """``x`` as a float in the interval from ``low`` to ``high`` (closed unless ``low_open``
    / ``high_open``); nan is always refused, +-inf unless ``finite=False``.

    Example:
        >>> number(0.25, "noise", low=0.0)
        0.25
        >>> number(-1, "lr", low=0.0, low_open=True, message="Invalid learning rate: {value}",
        ...        type_error=ValueError)
        Traceback (most recent call last):
        ValueError: Invalid learning rate: -1
    """
    if not is_real(x):
        raise _refusal(type_error, type_message or message
                       or "{name} must be a real number, got {type}", name, x)
    v = float(x)
    if (v != v or (finite and v in _INFINITIES) or v < low or v > high
            or (low_open and v == low) or (high_open and v == high)):
        if message is None:
            message = "{name} must be " + _interval(low, high, low_open, high_open,
                                                    finite) + ", got {value}"
        raise _refusal(ValueError, message, name, x, v)
    return v


def _interval(low: float, high: float, low_open: bool, high_open: bool, finite: bool) -> str:
    """What :func:`number` accepts, in words: "finite and >= 0", "in [0, 1)"."""
    if low > -math.inf and high < math.inf:
        bounds = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low > -math.inf:
        bounds = f"{'>' if low_open else '>='} {low:g}"
    elif high < math.inf:
        bounds = f"{'<' if high_open else '<='} {high:g}"
    else:
        return "finite" if finite else "a number (not nan)"
    return f"finite and {bounds}" if finite and "in" not in bounds else bounds


def fraction(x: Any, name: str, *,
             message: str = "{name} must be a fraction in [0, 1), got {value}") -> float:
    """``x`` as a float in [0, 1) (a share of the data, a dropout probability). Anything
    else raises ValueError.

    Example:
        >>> fraction(0.2, "val")
        0.2
        >>> fraction(1, "val")
        Traceback (most recent call last):
        ValueError: val must be a fraction in [0, 1), got 1
    """
    return number(x, name, low=0.0, high=1.0, high_open=True, message=message,
                  type_error=ValueError)


def integer(x: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
            message: str | None = None, type_message: str | None = None,
            type_error: type[Exception] = TypeError) -> int:
    """``x`` as an int (numpy integers too; floats and bools raise ``type_error``), from
    ``minimum`` to ``maximum`` when given (ValueError otherwise).

    Example:
        >>> integer(3, "k", minimum=2)
        3
        >>> integer(2.0, "k")
        Traceback (most recent call last):
        TypeError: k must be an int, got float 2.0
    """
    if not is_integer(x):
        raise _refusal(type_error, type_message or message
                       or "{name} must be an int, got {got}", name, x)
    n = int(x)
    if (minimum is not None and n < minimum) or (maximum is not None and n > maximum):
        if message is None:
            message = ("{name} must be " + (f">= {minimum}" if maximum is None else
                                            f"<= {maximum}" if minimum is None else
                                            f"an int from {minimum} to {maximum}")
                       + ", got {value}")
        raise _refusal(ValueError, message, name, x, n)
    return n


def positive_int(x: Any, name: str, *,
                 message: str = "{name} must be a positive int, got {value}") -> int:
    """``x`` as an int >= 1 (a count or a size: epochs, batch_size, max_bytes). Anything
    else, a float or a bool included, raises ValueError (as PyTorch does for a
    ``batch_size``).

    Example:
        >>> positive_int(32, "batch_size")
        32
        >>> positive_int(0, "batch_size")
        Traceback (most recent call last):
        ValueError: batch_size must be a positive int, got 0
    """
    return integer(x, name, minimum=1, message=message, type_error=ValueError)


def int_in(x: Any, name: str, low: int, high: int, *,
           message: str | None = None) -> int:
    """``x`` as an int from ``low`` to ``high`` (both included); anything else raises
    ValueError.

    Example:
        >>> int_in(17, "precision", 1, 17)
        17
        >>> int_in(0, "precision", 1, 17)
        Traceback (most recent call last):
        ValueError: precision must be an int from 1 to 17, got 0
    """
    return integer(x, name, minimum=low, maximum=high, type_error=ValueError,
                   message=message or f"{{name}} must be an int from {low} to {high}, "
                                      "got {value}")


def flag(x: Any, name: str, *, message: str | None = None) -> bool:
    """``x`` as a bool (only ``True`` and ``False``; 0 and 1 raise TypeError).

    Example:
        >>> flag(1, "shuffle")
        Traceback (most recent call last):
        TypeError: shuffle must be True or False, got int 1
    """
    if not isinstance(x, bool):
        raise _refusal(TypeError, message or "{name} must be True or False, got {got}", name, x)
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
