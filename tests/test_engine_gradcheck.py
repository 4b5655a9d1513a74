"""gradcheck: passes on correct gradients, fails loudly on a wrong one, checks its arguments."""

from __future__ import annotations

import math

import pytest
from chainrule.engine import GradcheckError, Value, gradcheck


def test_passes_on_correct_functions():
    assert gradcheck(lambda x, y: (x * y).tanh(), [0.5, -1.5])
    assert gradcheck(lambda x: x.exp().log() * x.sin(), [0.3])
    assert gradcheck(lambda a, b, c: Value.sum([a * b, b ** 3, c.sigmoid()]) / c, [1.0, 2.0, 3.0])
    assert gradcheck(lambda x, y: x ** y + 2 ** x, [1.7, 0.4])
    assert gradcheck(lambda *xs: Value.max(xs).softplus(), [0.1, 0.7, -0.2])


def test_accepts_ints_fractions_and_numpy_scalars():
    np = pytest.importorskip("numpy")
    from fractions import Fraction

    assert gradcheck(lambda x, y: x * y, [2, Fraction(1, 3)])
    assert gradcheck(lambda x: x * x, [np.float32(1.5)])


def _broken_tanh(swap_rule) -> None:
    """tanh with a wrong derivative: 1 + tanh^2 instead of 1 - tanh^2."""
    swap_rule("tanh", local=lambda xp, out, x, arg: (1.0 + out * out,))


def test_fails_on_a_deliberately_wrong_gradient(swap_rule):
    """The fixture puts the engine's tanh rule back when the test ends."""
    _broken_tanh(swap_rule)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: x.tanh() * y, [0.5, 2.0])
    assert isinstance(info.value, AssertionError)
    table = str(info.value).splitlines()
    assert "gradcheck failed" in table[0]
    header = table[1].split()
    assert header == ["input", "value", "analytic", "numeric", "|error|", "allowed", "ok"]
    rows = [line.split() for line in table[2:]]
    assert [row[0] for row in rows] == ["0", "1"]
    assert rows[0][-1] == "NO"  # x goes through the broken tanh
    assert rows[1][-1] == "yes"  # y only multiplies: its gradient tanh(x) is still right
    t = math.tanh(0.5)
    assert float(rows[0][2]) == pytest.approx(2.0 * (1 + t * t), rel=1e-6)
    assert float(rows[0][3]) == pytest.approx(2.0 * (1 - t * t), rel=1e-6)


def test_the_wrong_rule_is_restored_after_the_test():
    x = Value(0.5)
    x.tanh().backward()
    assert x.grad == pytest.approx(1 - math.tanh(0.5) ** 2, rel=1e-15)
    assert x.tanh().rule.local(None, 0.5, 0.0, None) == (1 - 0.25,)


def test_returns_false_without_raising(swap_rule):
    _broken_tanh(swap_rule)
    assert gradcheck(lambda x: x.tanh(), [0.3], raise_exception=False) is False
    assert gradcheck(lambda x: x.exp(), [0.3], raise_exception=False) is True


def test_tolerances_decide():
    """x**3 at 1 with eps = 0.1: the central difference is 3.01 (truncation error
    eps^2 = 0.01) against the exact 3, so zero tolerance fails and rtol = 1e-2 passes."""
    assert not gradcheck(lambda x: x ** 3, [1.0], eps=0.1, atol=0.0, rtol=0.0,
                         raise_exception=False)
    assert gradcheck(lambda x: x ** 3, [1.0], eps=0.1, atol=0.0, rtol=1e-2)
    assert gradcheck(lambda x: x ** 3, [1.0], eps=0.1, atol=0.011, rtol=0.0)


def test_fails_on_a_nan_gradient(swap_rule):
    """A nan never passes: |nan - n| <= tol is False."""
    swap_rule("exp", local=lambda xp, out, x, arg: (math.nan,))
    with pytest.raises(GradcheckError, match="nan"):
        gradcheck(lambda x: x.exp(), [0.5])


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"eps": 0.0}, ValueError, "eps must be a finite number > 0, got 0.0"),
        ({"eps": -1e-6}, ValueError, "eps must be .*got -1e-06"),
        ({"eps": math.nan}, ValueError, "eps .*nan"),
        ({"eps": math.inf}, ValueError, "eps .*inf"),
        ({"atol": -1.0}, ValueError, "atol .*-1.0"),
        ({"rtol": math.nan}, ValueError, "rtol .*nan"),
        ({"eps": "1e-6"}, TypeError, "eps needs a real number, got str"),
    ],
)
def test_bad_tolerances(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        gradcheck(lambda x: x * x, [1.0], **kwargs)


def test_bad_function_and_inputs():
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        gradcheck(3, [1.0])
    with pytest.raises(TypeError, match="fn must return a Value, got float"):
        gradcheck(lambda x: 2.0, [1.0])
    with pytest.raises(TypeError, match="fn must return a Value, got float"):
        gradcheck(lambda x: x.data * 2, [1.0])
    with pytest.raises(ValueError, match="inputs is empty"):
        gradcheck(lambda: Value(1.0), [])
    with pytest.raises(ValueError, match=r"inputs\[1\] must be finite, got nan"):
        gradcheck(lambda x, y: x * y, [1.0, math.nan])
    with pytest.raises(ValueError, match=r"inputs\[0\] must be finite, got inf"):
        gradcheck(lambda x: x, [math.inf])
    with pytest.raises(TypeError, match=r"inputs\[0\] needs a real number, got str"):
        gradcheck(lambda x: x, ["1.0"])
    with pytest.raises(TypeError, match="sequence of real numbers, got set"):
        gradcheck(lambda x: x, {1.0})
    with pytest.raises(TypeError, match="sequence of real numbers, got float"):
        gradcheck(lambda x: x, 1.0)
