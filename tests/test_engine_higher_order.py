"""Higher-order derivatives: grad(..., create_graph=True) and hessian.

Closed forms for tanh, with t = tanh x:
    t'    = 1 - t^2
    t''   = -2 t (1 - t^2)
    t'''  = -2 (1 - t^2)(1 - 3 t^2)
    t'''' = 8 t (1 - t^2)(2 - 3 t^2)
"""

from __future__ import annotations

import math

import pytest
from chainrule.engine import Value, grad, hessian
from hypothesis import given, settings
from hypothesis import strategies as st


def nth_derivative(f, x0: float, n: int) -> float:
    """d^n f / dx^n at x0 by n nested grad() calls (all but the last with create_graph)."""
    x = Value(x0, label="x")
    g = f(x)
    for k in range(n):
        (g,) = grad(g, [x], create_graph=k < n - 1)
    return g.data


def test_x_cubed_second_derivative_is_6x():
    for x0 in (-2.0, 0.0, 0.5, 3.0):
        assert nth_derivative(lambda x: x ** 3, x0, 1) == pytest.approx(3 * x0 * x0, abs=1e-15)
        assert nth_derivative(lambda x: x ** 3, x0, 2) == pytest.approx(6 * x0, abs=1e-15)
        assert nth_derivative(lambda x: x ** 3, x0, 3) == pytest.approx(6.0, abs=1e-15)
        assert nth_derivative(lambda x: x ** 3, x0, 4) == 0.0


def test_x_times_x_times_x_written_with_products():
    assert nth_derivative(lambda x: x * x * x, 2.0, 2) == 12.0


@settings(max_examples=25, deadline=None)
@given(st.floats(-3.0, 3.0))
def test_tanh_derivatives_up_to_fourth_order_match_closed_forms(x0):
    t = math.tanh(x0)
    s = 1 - t * t
    closed = [t, s, -2 * t * s, -2 * s * (1 - 3 * t * t), 8 * t * s * (2 - 3 * t * t)]
    for n in range(1, 5):
        got = nth_derivative(lambda x: x.tanh(), x0, n)
        assert got == pytest.approx(closed[n], rel=1e-9, abs=1e-12), (n, x0)


@settings(max_examples=25, deadline=None)
@given(st.floats(-3.0, 3.0))
def test_sigmoid_second_derivative(x0):
    s = 1 / (1 + math.exp(-x0))
    assert nth_derivative(lambda x: x.sigmoid(), x0, 2) == pytest.approx(
        s * (1 - s) * (1 - 2 * s), rel=1e-9, abs=1e-12)


def test_mixed_hessian_of_x_squared_y():
    """f = x^2 y at (3, 2): H = [[2y, 2x], [2x, 0]] = [[4, 6], [6, 0]]."""
    assert hessian(lambda x, y: x * x * y, [3.0, 2.0]) == [[4.0, 6.0], [6.0, 0.0]]


def test_mixed_hessian_is_symmetric_for_a_nonlinear_function():
    """f = sin(x y) + exp(x) / y at (0.7, 1.3), against the closed form."""
    x0, y0 = 0.7, 1.3
    h = hessian(lambda x, y: (x * y).sin() + x.exp() / y, [x0, y0])
    c, s = math.cos(x0 * y0), math.sin(x0 * y0)
    e = math.exp(x0)
    expected = [
        [-y0 * y0 * s + e / y0, c - x0 * y0 * s - e / y0 ** 2],
        [c - x0 * y0 * s - e / y0 ** 2, -x0 * x0 * s + 2 * e / y0 ** 3],
    ]
    for i in range(2):
        for j in range(2):
            assert h[i][j] == pytest.approx(expected[i][j], rel=1e-12)
    assert h[0][1] == pytest.approx(h[1][0], rel=1e-14)


def test_hessian_of_value_pow_value_at_zero_exponent():
    """a^b at b = 0: d2/da db = 1/a (a masked derivative must not hide it)."""
    h = hessian(lambda a, b: a ** b, [2.0, 0.0])
    assert h[0][1] == pytest.approx(0.5) and h[1][0] == pytest.approx(0.5)
    assert h[1][1] == pytest.approx(math.log(2.0) ** 2)
    assert h[0][0] == 0.0


def test_grad_does_not_touch_dot_grad():
    x, y = Value(2.0), Value(-1.0)
    x.grad, y.grad = 7.0, 8.0
    f = x * x * y
    gx, gy = grad(f, [x, y])
    assert (gx.data, gy.data) == (-4.0, 4.0)
    (gx2,) = grad(grad(f, [x], create_graph=True)[0], [x])
    assert gx2.data == -2.0
    assert (x.grad, y.grad, f.grad) == (7.0, 8.0, 0.0)


def test_grad_of_an_unrelated_input_is_zero():
    x, z = Value(2.0), Value(5.0)
    f = x * x
    gx, gz = grad(f, [x, z])
    assert (gx.data, gz.data) == (4.0, 0.0)
    gx, gz = grad(f, [x, z], create_graph=True)
    assert gz.data == 0.0
    assert grad(gz, [x, z])[0].data == 0.0  # still differentiable, still zero


def test_grad_of_a_leaf_output():
    x, z = Value(2.0), Value(3.0)
    assert [g.data for g in grad(x, [x, z])] == [1.0, 0.0]


def test_create_graph_results_are_values_of_a_graph():
    x = Value(1.5)
    (d,) = grad(x.exp() * x, [x], create_graph=True)
    assert isinstance(d, Value) and not d.is_leaf
    # d = e^x (1 + x), so dd/dx = e^x (2 + x); its backward works like any other graph
    d.backward()
    assert x.grad == pytest.approx(math.exp(1.5) * 3.5, rel=1e-14)


def test_grad_argument_errors():
    x = Value(1.0)
    with pytest.raises(TypeError, match="output must be a Value"):
        grad(2.0, [x])
    with pytest.raises(TypeError, match="set"):
        grad(x * x, {x})
    with pytest.raises(TypeError, match=r"inputs\[1\] is float"):
        grad(x * x, [x, 1.0])
    with pytest.raises(TypeError, match="create_graph must be a bool"):
        grad(x * x, [x], create_graph=1)


def test_hessian_argument_errors():
    with pytest.raises(ValueError, match="empty"):
        hessian(lambda: Value(1.0), [])
    with pytest.raises(TypeError, match="callable"):
        hessian(3, [1.0])
    with pytest.raises(TypeError, match="return a Value"):
        hessian(lambda x: 1.0, [1.0])
