"""Bad input to the engine: each case raises a specific exception naming what was given.

BAD_INPUTS 1-8, 10, 31 and the argument checks of the ops (labels, Value.sum,
Value.max, clamp, leaky_relu/elu alpha).
"""

from __future__ import annotations

import decimal
import fractions
import math

import pytest
from chainrule.engine import Value

# -- construction (BAD_INPUTS 1-7) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "type_name"),
    [
        ("3", "str"),  # "3" + "3" would silently give "33"
        (b"3", "bytes"),
        (None, "NoneType"),
        (True, "bool"),  # bool is an int subclass: rejected, not coerced
        (False, "bool"),
        (1j, "complex"),
        (1 + 2j, "complex"),
        ([1.0], "list"),
        ((1.0,), "tuple"),
        ({1.0}, "set"),
        ({"x": 1.0}, "dict"),
        (object(), "object"),
    ],
)
def test_construction_refuses_non_reals_by_type_name(data, type_name):
    with pytest.raises(TypeError, match=rf"needs a real number, got {type_name}\b"):
        Value(data)


def test_a_value_of_a_value_is_refused_not_nested():
    with pytest.raises(TypeError, match=r"got Value; use v\.data .* or v\.detach\(\)"):
        Value(Value(2.0))


def test_numpy_bool_is_refused_like_bool():
    np = pytest.importorskip("numpy")
    with pytest.raises(TypeError, match="bool"):
        Value(np.bool_(True))


def test_numpy_arrays_are_refused():
    np = pytest.importorskip("numpy")
    with pytest.raises(TypeError, match="ndarray"):
        Value(np.array([1.0]))
    with pytest.raises(TypeError, match="ndarray"):
        Value(np.array(1.0))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (3, 3.0),
        (-7, -7.0),
        (fractions.Fraction(1, 4), 0.25),
        (decimal.Decimal("0.1"), 0.1),
        (decimal.Decimal("-2.5"), -2.5),
        (math.inf, math.inf),  # non-finite values are allowed as values (BAD_INPUTS 6)
        (decimal.Decimal("Infinity"), math.inf),
    ],
)
def test_real_numbers_become_python_floats(data, expected):
    v = Value(data)
    assert type(v.data) is float and v.data == expected
    assert type(v.grad) is float and v.grad == 0.0


def test_nan_is_allowed_as_a_value():
    assert math.isnan(Value(math.nan).data)
    assert math.isnan(Value(decimal.Decimal("NaN")).data)


def test_numpy_scalars_become_python_floats():
    np = pytest.importorskip("numpy")
    v = Value(np.float32(0.1))
    # float32 would keep 32-bit precision (and numpy's own arithmetic) if stored as is
    assert type(v.data) is float and v.data == float(np.float32(0.1))
    for scalar in (np.float64(2.5), np.int64(3), np.int8(-4), np.float16(0.5), np.uint8(7)):
        assert type(Value(scalar).data) is float and Value(scalar).data == float(scalar)
    assert type((Value(1.0) * np.float32(2.0)).data) is float
    assert type((np.float64(2.0) * Value(1.0)).data) is float  # numpy defers to Value


@pytest.mark.parametrize(
    "data", [10 ** 400, -(10 ** 400), fractions.Fraction(10 ** 400, 3),
             decimal.Decimal("1e400"), decimal.Decimal("-1e400")],
    ids=["int", "-int", "Fraction", "Decimal", "-Decimal"])
def test_a_finite_number_too_large_for_a_float_overflows_at_construction(data):
    """BAD_INPUTS 5: an OverflowError that says what and how large, never a silent inf."""
    with pytest.raises(OverflowError, match=rf"{type(data).__name__} \(about 10\*\*(399|400)\)"):
        Value(data)


@pytest.mark.parametrize(
    ("expr", "what"),
    [
        (lambda v: v + 10 ** 400, "operand"),
        (lambda v: 10 ** 400 - v, "operand"),
        (lambda v: v * decimal.Decimal("1e400"), "operand"),
        (lambda v: v ** (10 ** 400), "exponent"),
        (lambda v: (10 ** 400) ** v, "base"),
        (lambda v: Value.sum([v, 10 ** 400]), "int"),
        (lambda v: Value.max([10 ** 400, v]), "int"),
    ],
)
def test_a_constant_too_large_for_a_float_overflows_with_a_message(expr, what):
    with pytest.raises(OverflowError, match=rf"{what}.*too large for a float"):
        expr(Value(1.0))


# -- labels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [3, None, b"x", ["x"]])
def test_bad_labels(label):
    with pytest.raises(TypeError, match=f"label must be a str, got {type(label).__name__}"):
        Value(1.0, label=label)


def test_labels_are_kept_verbatim():
    v = Value(1.0, label="w{1}|<x>")
    assert v.label == "w{1}|<x>" and "w{1}|<x>" in repr(v)


# -- operators with unsupported operands return NotImplemented (BAD_INPUTS 8) ----------------------


@pytest.mark.parametrize(
    ("expr", "pattern"),
    [
        (lambda v: v + "a", r"unsupported operand type\(s\) for \+: 'Value' and 'str'"),
        (lambda v: "a" + v, r"can only concatenate str|unsupported operand"),
        (lambda v: v * [1], r"can't multiply sequence|unsupported operand"),
        (lambda v: [1] * v, r"can't multiply sequence|unsupported operand"),
        (lambda v: v ** "2", r"for \*\* or pow\(\): 'Value' and 'str'"),
        (lambda v: "2" ** v, r"for \*\* or pow\(\): 'str' and 'Value'"),
        (lambda v: v - None, r"unsupported operand type\(s\) for -: 'Value' and 'NoneType'"),
        (lambda v: v / True, r"unsupported operand type\(s\) for /: 'Value' and 'bool'"),
        (lambda v: v ** True, r"unsupported operand type\(s\) for \*\* or pow\(\)"),
        (lambda v: v * 1j, r"unsupported operand type\(s\) for \*: 'Value' and 'complex'"),
        (lambda v: v < "1", "cannot compare Value with str"),
    ],
)
def test_unsupported_operands_raise_type_error(expr, pattern):
    with pytest.raises(TypeError, match=pattern):
        expr(Value(1.0))


def test_operators_return_not_implemented_for_python_to_handle():
    v = Value(1.0)
    assert v.__add__("a") is NotImplemented
    assert v.__radd__("a") is NotImplemented
    assert v.__mul__([1]) is NotImplemented
    assert v.__pow__("2") is NotImplemented
    assert v.__rpow__("2") is NotImplemented
    assert v.__truediv__(None) is NotImplemented


# -- backward seeds (BAD_INPUTS 31) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "exc", "pattern"),
    [
        (math.nan, ValueError, "needs a finite seed, got nan"),
        (math.inf, ValueError, "needs a finite seed, got inf"),
        (-math.inf, ValueError, "needs a finite seed, got -inf"),
        ("1", TypeError, "needs a real number, got str"),
        (True, TypeError, "needs a real number, got bool"),
        ([1.0], TypeError, "needs a real number, got list"),
        (1j, TypeError, "needs a real number, got complex"),
    ],
)
def test_backward_refuses_bad_seeds(seed, exc, pattern):
    x = Value(2.0)
    y = x * x
    with pytest.raises(exc, match=rf"backward\(grad=\.\.\.\) {pattern}"):
        y.backward(seed)
    with pytest.raises(exc, match=pattern):
        x.backward(seed)  # a leaf checks its seed too
    assert x.grad == 0.0 and y.grad == 0.0


def test_backward_accepts_real_seeds():
    x = Value(2.0)
    y = x * x
    y.backward(2)
    assert x.grad == 8.0
    y.backward(fractions.Fraction(1, 2))
    assert x.grad == 10.0


def test_backward_none_is_the_default_seed():
    """As PyTorch and MyGrad read it: backward(None) seeds 1 (issue: it raised TypeError)."""
    x = Value(2.0)
    y = x * x
    y.backward(None)
    assert x.grad == 4.0 and y.grad == 1.0
    x.backward(None)  # a leaf too
    assert x.grad == 5.0


# -- n-ary ops, clamp, alpha ----------------------------------------------------------------------


def test_value_sum_refuses_bad_items():
    with pytest.raises(TypeError, match=r"Value\.sum: item 1 is str"):
        Value.sum([Value(1.0), "2"])
    with pytest.raises(TypeError, match=r"Value\.sum: item 0 is NoneType"):
        Value.sum([None])
    with pytest.raises(TypeError, match=r"Value\.sum: item 0 is bool"):
        Value.sum([True, 1.0])
    with pytest.raises(TypeError, match="needs an iterable of Values or numbers, got Value"):
        Value.sum(Value(1.0))
    with pytest.raises(TypeError, match="got str"):
        Value.sum("12")
    with pytest.raises(TypeError, match="got int"):
        Value.sum(3)


def test_value_sum_accepts_numbers_generators_and_empty():
    x = Value(1.0)
    total = Value.sum(t for t in (x, 2, 3.5))
    assert total.data == 6.5 and len(total.parents) == 3
    empty = Value.sum([])
    assert empty.data == 0.0 and empty.is_leaf


def test_value_max_refuses_bad_and_empty_items():
    with pytest.raises(ValueError, match=r"Value\.max needs at least one item, got an empty"):
        Value.max([])
    with pytest.raises(ValueError, match="empty"):
        Value.max(iter(()))
    with pytest.raises(TypeError, match=r"Value\.max: item 2 is str"):
        Value.max([1.0, Value(2.0), "3"])
    with pytest.raises(TypeError, match="got NoneType"):
        Value.max(None)


@pytest.mark.parametrize(
    ("lo", "hi", "exc", "pattern"),
    [
        (1.0, 0.0, ValueError, r"clamp needs lo <= hi, got lo=1.0, hi=0.0"),
        (math.inf, -math.inf, ValueError, "lo <= hi"),
        (math.nan, 1.0, ValueError, "lo must not be nan"),
        (0.0, math.nan, ValueError, "hi must not be nan"),
        ("0", 1.0, TypeError, "lo needs a real number, got str"),
        (0.0, None, TypeError, "hi needs a real number, got NoneType"),
    ],
)
def test_clamp_bounds(lo, hi, exc, pattern):
    with pytest.raises(exc, match=pattern):
        Value(0.5).clamp(lo, hi)


def test_clamp_with_equal_or_infinite_bounds_is_fine():
    assert Value(3.0).clamp(1.0, 1.0).data == 1.0
    assert Value(3.0).clamp(-math.inf, math.inf).data == 3.0
    assert Value(3.0).clamp(hi=2).data == 2.0


@pytest.mark.parametrize("method", ["leaky_relu", "elu"])
@pytest.mark.parametrize(
    ("alpha", "exc", "pattern"),
    [
        (math.nan, ValueError, "alpha must be finite, got nan"),
        (math.inf, ValueError, "alpha must be finite, got inf"),
        ("0.1", TypeError, "alpha needs a real number, got str"),
        (None, TypeError, "alpha needs a real number, got NoneType"),
        (True, TypeError, "alpha needs a real number, got bool"),
    ],
)
def test_activation_alpha(method, alpha, exc, pattern):
    with pytest.raises(exc, match=pattern):
        getattr(Value(-1.0), method)(alpha)


def test_activation_alpha_is_stored_as_the_node_arg():
    out = Value(-1.0).leaky_relu(fractions.Fraction(1, 5))
    assert out.arg == 0.2 and type(out.arg) is float and out.data == -0.2


def test_backward_order_needs_a_value():
    from chainrule.engine import backward_order

    with pytest.raises(TypeError, match="backward_order needs a Value, got float"):
        backward_order(1.0)


def test_invariants_hold_under_python_dash_o():
    """Errors are explicit raises, not asserts, so ``python -O`` keeps them (BAD_INPUTS 10)."""
    import subprocess
    import sys

    code = (
        "from chainrule.engine import Value\n"
        "try:\n    Value('3')\nexcept TypeError as e:\n    print('TypeError', e)\n"
        "try:\n    Value(1.0).clamp(1, 0)\nexcept ValueError as e:\n    print('ValueError', e)\n"
    )
    result = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    assert result.stdout.splitlines() == [
        "TypeError Value needs a real number, got str",
        "ValueError clamp needs lo <= hi, got lo=1, hi=0",
    ]


def test_comparisons_with_numbers_beyond_the_float_range_are_exact():
    assert Value(1.0) < 10**400 and not Value(1.0) > 10**400
    assert Value(1e308) > -(10**400)
    assert Value(0.5) > fractions.Fraction(1, 3)
    assert Value(0.1) < decimal.Decimal("0.1000000000000000056")  # 0.1 is 0.10000000000000000555


def test_a_signaling_decimal_nan_is_refused_by_name():
    with pytest.raises(ValueError, match=r"cannot convert Decimal\('sNaN'\) to a float"):
        Value(decimal.Decimal("sNaN"))
