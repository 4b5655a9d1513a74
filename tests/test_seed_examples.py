"""The worked examples of the lecture notes chainrule is built for, with the slides' numbers.

The courses (cited by title, institution and slide; numbers and short formulas only):

* BU: *AI Neural Networks: Backpropagation*, Margrit Betke, Boston University;
* NTNU: *FCNN, Learning, etc.*, Frank Lindseth, Department of Computer Science (IDI), NTNU;
* Douglas: *Fundamentals of Machine Learning in Data Science* (CSIS 3290, "Fundamentals of
  Neural Networks in Machine Learning (2)"), Fatemeh Ahmadi, Douglas College.

Each example is built as a scalar graph of chainrule Values; the deltas of the notes
(delta = dC/dz, the gradient at a neuron's pre-activation z) are read off the graph as
the ``.grad`` of the labelled z nodes. Printed numbers are asserted to the digits the
slide prints (``round(x, k) == printed``) where the slide is right. Where a slide's
arithmetic is wrong, the test asserts the exact value and its docstring says where
and how the slide differs.
"""

from __future__ import annotations

import math

import pytest
from chainrule.engine import Value, grad, no_grad


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def dense(weights: list[list[Value]], inputs: list[Value], biases: list[Value] | None,
          layer: int) -> list[Value]:
    """z_j = sum_k w_jk a_k + b_j, one labelled Value.sum node per neuron."""
    zs = []
    for j, row in enumerate(weights):
        terms = [w * a for w, a in zip(row, inputs)]
        if biases is not None:
            terms.append(biases[j])
        z = Value.sum(terms)
        z.label = f"z{layer}_{j + 1}"
        zs.append(z)
    return zs


def values(numbers: list[float], name: str) -> list[Value]:
    return [Value(x, label=f"{name}{i + 1}") for i, x in enumerate(numbers)]


def matrix(rows: list[list[float]], name: str) -> list[list[Value]]:
    return [[Value(w, label=f"{name}_{j + 1}{k + 1}") for k, w in enumerate(row)]
            for j, row in enumerate(rows)]


# -- NTNU, slide "Back-propagation": the (x + y) z gate ----------------------------------------


def gate(x: float, y: float, z: float) -> tuple[Value, dict[str, Value]]:
    nodes = {"x": Value(x, label="x"), "y": Value(y, label="y"), "z": Value(z, label="z")}
    q = nodes["x"] + nodes["y"]
    q.label = "q"
    f = q * nodes["z"]
    f.label = "f"
    nodes["q"] = q
    return f, nodes


def test_gate_values_and_gradients():
    """NTNU: f = (x + y) z at x = -2, y = 5, z = -4: q = 3, f = -12;
    df/dx = df/dy = z = -4, df/dz = q = 3, df/dq = -4, df/df = 1."""
    f, n = gate(-2.0, 5.0, -4.0)
    f.backward()
    assert (n["q"].data, f.data) == (3.0, -12.0)
    assert (n["x"].grad, n["y"].grad, n["z"].grad, n["q"].grad, f.grad) == (-4.0, -4.0, 3.0,
                                                                          -4.0, 1.0)


@pytest.mark.parametrize(
    ("variable", "nudged", "f_after"),
    [("x", (-1.0, 5.0, -4.0), -16.0),  # x: -2 -> -1, f: -12 -> -16, delta f = -4
     ("y", (-2.0, 6.0, -4.0), -16.0),  # y: 5 -> 6, f: -12 -> -16, delta f = -4
     ("z", (-2.0, 5.0, -3.0), -9.0)],  # z: -4 -> -3, f: -12 -> -9, delta f = 3
)
def test_gate_finite_nudges(variable, nudged, f_after):
    """NTNU's nudges: f is linear in each variable, so a unit nudge changes f by
    exactly the partial derivative."""
    f, n = gate(-2.0, 5.0, -4.0)
    f.backward()
    with no_grad():
        after, _ = gate(*nudged)
    assert after.data == f_after
    assert after.data - f.data == n[variable].grad


def test_gate_nudge_of_q():
    """NTNU: q: 3 -> 4 gives f = 4 * -4 = -16, delta f = -4 = df/dq."""
    q, z = Value(4.0), Value(-4.0)
    assert (q * z).data == -16.0
    f, n = gate(-2.0, 5.0, -4.0)
    f.backward()
    assert (q * z).data - f.data == n["q"].grad


def test_product_example_sensitivity():
    """NTNU, slide "Back-propagation: Gradients": f = x y at x = 4, y = -3: f = -12,
    df/dx = -3, df/dy = 4 ("increase x with small h -> reduce f with 3h")."""
    x, y = Value(4.0, label="x"), Value(-3.0, label="y")
    f = x * y
    f.backward()
    assert (f.data, x.grad, y.grad) == (-12.0, -3.0, 4.0)
    h = 1e-3
    assert (Value(4.0 + h) * y).data - f.data == pytest.approx(-3 * h, rel=1e-9)


# -- BU, slide "Main Ingredients for Training Algorithm": P = 3 o1 - 7 o2 ------------------------


@pytest.mark.parametrize("w", [(0.0, 0.0, 0.0), (1.0, -2.0, 0.5), (3.7, 1e3, -42.0)])
def test_linear_chain_gradient(w):
    """BU: P = 3 o1 - 7 o2, o1 = w1 - 2 w2 + 5 w3, o2 = 2 w1 - w2 - 6:
    the gradient (-11, 1, 15) at every w (P is linear); with r = 2, r * grad = (-22, 2, 30)."""
    w1, w2, w3 = (Value(v, label=f"w{i + 1}") for i, v in enumerate(w))
    o1 = w1 - 2 * w2 + 5 * w3
    o2 = 2 * w1 - w2 - 6
    p = 3 * o1 - 7 * o2
    p.backward()
    assert (w1.grad, w2.grad, w3.grad) == (-11.0, 1.0, 15.0)
    assert (o1.grad, o2.grad) == (3.0, -7.0)
    assert [2 * g.grad for g in (w1, w2, w3)] == [-22.0, 2.0, 30.0]


# -- Douglas, slides "Forward Pass" to "Parameters Update Equation": one sigmoid neuron ----------


def douglas_neuron() -> tuple[Value, Value, Value, list[Value]]:
    x1, x2 = Value(0.1, label="X1"), Value(0.3, label="X2")
    w1, w2, b = Value(0.5, label="W1"), Value(0.2, label="W2"), Value(1.83, label="b")
    s = Value.sum([x1 * w1, x2 * w2, b])
    s.label = "s"
    out = s.sigmoid()
    out.label = "out"
    error = 0.5 * (0.03 - out) ** 2
    error.label = "E"
    return s, out, error, [b, w1, w2]


def test_single_sigmoid_neuron_forward():
    """Douglas: s = 0.1*0.5 + 0.3*0.2 + 1.83 = 1.94, f(s) = 0.874352143,
    E = 1/2 (0.03 - 0.874352143)^2 = 0.356465271."""
    s, out, error, _ = douglas_neuron()
    assert round(s.data, 9) == 1.94
    assert round(out.data, 9) == 0.874352143
    assert round(error.data, 9) == 0.356465271
    assert out.data == sigmoid(s.data)


def test_single_sigmoid_neuron_one_step_update():
    """Douglas's update W(n+1) = W(n) + eta [d - Y] X with eta = 0.01, X = [+1, 0.1, 0.3]
    gives [1.821556479, 0.499155648, 0.197466943] (b, W1, W2).

    That rule is the perceptron delta rule: it uses dE/dout = Y - d (read here off the
    graph as out.grad) but leaves out the sigmoid's slope out (1 - out) = 0.11; it is not
    gradient descent on E. The slide's last weight is truncated: 0.2 - 0.002533056429
    = 0.197466943571, which rounds to 0.197466944.
    """
    _, out, error, params = douglas_neuron()
    error.backward()
    assert round(out.grad, 9) == 0.844352143  # Y - d = -(d - Y)
    inputs = [1.0, 0.1, 0.3]
    delta_rule = [p.data - 0.01 * out.grad * x for p, x in zip(params, inputs)]
    assert [round(v, 9) for v in delta_rule[:2]] == [1.821556479, 0.499155648]
    assert round(delta_rule[2], 9) == 0.197466944  # slide: 0.197466943 (truncated)
    assert delta_rule[2] == pytest.approx(0.197466943, abs=1e-9)
    # Gradient descent on E itself includes the slope out (1 - out):
    slope = out.data * (1 - out.data)
    for p, x in zip(params, inputs):
        assert p.grad == pytest.approx(out.grad * slope * x, rel=1e-14)
    descent = [p.data - 0.01 * p.grad for p in params]
    assert [round(v, 9) for v in descent] == [1.829072391, 0.499907239, 0.199721717]


def test_single_sigmoid_neuron_sensitivity_of_w1():
    """Douglas says increasing W1 by 1.0 "increases the network error by 0.07"; with its
    own numbers dE/dW1 = 0.0093 and the actual change for W1 = 1.5 is 0.0090, so that
    sentence (carried over from another example) is not reproducible here."""
    _, _, error, (b, w1, w2) = douglas_neuron()
    error.backward()
    assert round(w1.grad, 4) == 0.0093
    with no_grad():
        s = Value.sum([0.1 * Value(1.5), 0.3 * w2, b])
        bumped = 0.5 * (0.03 - s.sigmoid()) ** 2
    assert round(bumped.data - error.data, 4) == 0.0090


# -- NTNU, slide "Numerical Example": a ReLU layer, forward -------------------------------------


def test_relu_layer_forward():
    """NTNU: a0 = [-1, 1], w1 = [[-0.2, 0.4], [0.3, 0.1], [-0.5, -0.3]],
    b1 = [-0.3, 0.1, 0]: w1 a0 = [0.6, -0.2, 0.2], z = [0.3, -0.1, 0.2], a1 = [0.3, 0, 0.2];
    the bias trick (bias as a weight on a constant input 1) gives the same."""
    a0 = values([-1.0, 1.0], "a0_")
    w1 = matrix([[-0.2, 0.4], [0.3, 0.1], [-0.5, -0.3]], "w1")
    b1 = values([-0.3, 0.1, 0.0], "b1_")
    products = dense(w1, a0, None, 1)
    assert [round(v.data, 12) for v in products] == [0.6, -0.2, 0.2]
    zs = dense(w1, a0, b1, 1)
    assert [round(z.data, 12) for z in zs] == [0.3, -0.1, 0.2]
    a1 = [z.relu() for z in zs]
    assert [round(a.data, 12) for a in a1] == [0.3, 0.0, 0.2]
    augmented = [[*row, b] for row, b in zip(w1, b1)]
    tricked = dense(augmented, [*a0, Value(1.0)], None, 1)
    assert [t.data for t in tricked] == [z.data for z in zs]


# -- NTNU, slide "Numerical Examples (NEs)": the one-input chain ---------------------------------


def one_input_chain() -> dict[str, Value]:
    """x = [0.1, 0.3], w1 = [0.4, -0.2], b1 = 0, w2 = 0.1, b2 = 0, y = 1,
    sigmoid activations, C = 1/2 (y - a2)^2."""
    x = values([0.1, 0.3], "x")
    w1 = matrix([[0.4, -0.2]], "w1")
    w2 = matrix([[0.1]], "w2")
    b1, b2 = Value(0.0, label="b1"), Value(0.0, label="b2")
    (z1,) = dense(w1, x, [b1], 1)
    a1 = z1.sigmoid()
    (z2,) = dense(w2, [a1], [b2], 2)
    a2 = z2.sigmoid()
    cost = 0.5 * (1.0 - a2) ** 2
    return {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "C": cost, "w1_1": w1[0][0],
            "w1_2": w1[0][1], "w2": w2[0][0], "b1": b1, "b2": b2}


def test_one_input_chain_forward_and_deltas():
    """NTNU: z1 = -0.02, a1 = 0.495, z2 = 0.0495, a2 = 0.5124, delta2 = -0.1218,
    dC/dw2 = delta2 a1 = -0.060."""
    n = one_input_chain()
    n["C"].backward()
    assert round(n["z1"].data, 12) == -0.02
    assert round(n["a1"].data, 3) == 0.495
    assert round(n["z2"].data, 4) == 0.0495
    assert round(n["a2"].data, 4) == 0.5124
    assert round(n["z2"].grad, 4) == -0.1218  # delta2 = (a2 - y) f'(z2)
    assert round(n["w2"].grad, 3) == -0.060
    assert n["b2"].grad == n["z2"].grad  # BP3: dC/db = delta


def test_one_input_chain_inner_delta_and_update():
    """NTNU: delta1 = 0.1 * (-0.1218) * 0.495 (1 - 0.495) = -0.003045;
    dC/dw1 = -[0.0003045, 0.0009135]; w2' = 0.1 + 0.0006 = 0.1006;
    w1' = [0.400003045, -0.199990865] with eta = 0.01.

    The slide rounds before multiplying (delta2 to -0.1218, a1 (1 - a1) to 0.25), so its
    last digits differ from the exact values: delta1 = -0.0030455013 (slide -0.003045),
    dC/dw1 = -[0.00030455, 0.00091365], w1' = [0.4000030455, -0.1999908635]. They agree
    with the slide to within its rounding (|difference| < 1e-6 for delta1).
    """
    n = one_input_chain()
    n["C"].backward()
    delta1 = n["z1"].grad
    assert round(delta1, 10) == -0.0030455013
    assert delta1 == pytest.approx(-0.003045, abs=1e-6)
    assert n["b1"].grad == delta1  # BP3
    dw1 = [n["w1_1"].grad, n["w1_2"].grad]
    assert [round(g, 8) for g in dw1] == [-0.00030455, -0.00091365]
    assert dw1 == pytest.approx([-0.0003045, -0.0009135], abs=2e-7)
    eta = 0.01
    assert round(n["w2"].data - eta * n["w2"].grad, 4) == 0.1006
    new_w1 = [n["w1_1"].data - eta * dw1[0], n["w1_2"].data - eta * dw1[1]]
    assert [round(w, 10) for w in new_w1] == [0.4000030455, -0.1999908635]
    assert new_w1 == pytest.approx([0.400003045, -0.199990865], abs=2e-9)


# -- NTNU, slides "NE3" / "Backpropagation example": the 2-2 network deltas ----------------------


def two_two_network() -> dict[str, object]:
    """z1 = [0.51, 0.55] (hidden pre-activations), w2 = [[0.6, 0.1], [0.7, 0.4]] (row j
    feeds output neuron j), z2 = [0.46, 0.8], y = [0.35, -0.5], C = 1/2 sum (a2 - y)^2,
    a0 = [0.4, -0.45]. w1 is not printed: any w1 gives the same dC/dw1 once z1 is fixed,
    so w1 = 0 and b1 = z1; b2 is chosen so that z2 is the printed [0.46, 0.8]."""
    a0 = values([0.4, -0.45], "a0_")
    w1 = matrix([[0.0, 0.0], [0.0, 0.0]], "w1")
    b1 = values([0.51, 0.55], "b1_")
    z1 = dense(w1, a0, b1, 1)
    a1 = [z.sigmoid() for z in z1]
    w2 = matrix([[0.6, 0.1], [0.7, 0.4]], "w2")
    target_z2 = [0.46, 0.8]
    b2 = [Value(t - sum(w.data * a.data for w, a in zip(row, a1)), label=f"b2_{j + 1}")
          for j, (row, t) in enumerate(zip(w2, target_z2))]
    z2 = dense(w2, a1, b2, 2)
    a2 = [z.sigmoid() for z in z2]
    cost = 0.5 * Value.sum([(a - y) ** 2 for a, y in zip(a2, (0.35, -0.5))])
    return {"z1": z1, "z2": z2, "a2": a2, "w1": w1, "C": cost}


def test_two_two_network_output_deltas():
    """NTNU: z_L = [0.46, 0.8], a_L = [0.61, 0.52],
    delta_L = (a_L - y) * sigma(z_L) (1 - sigma(z_L)) = [0.06, 0.25].

    The printed z_L and a_L disagree in the second neuron: sigma(0.8) = 0.69, not 0.52.
    With the printed z_L (as built here) delta_L = [0.0624, 0.2545], the slide's
    [0.06, 0.25]; test_two_two_network_second_output_two_readings shows that the
    other reading gives the same 0.25.
    """
    n = two_two_network()
    assert [round(z.data, 12) for z in n["z2"]] == [0.46, 0.8]
    assert [round(a.data, 2) for a in n["a2"]] == [0.61, 0.69]  # slide: [0.61, 0.52]
    n["C"].backward()
    assert [round(z.grad, 2) for z in n["z2"]] == [0.06, 0.25]
    assert [round(z.grad, 4) for z in n["z2"]] == [0.0624, 0.2545]


def test_two_two_network_second_output_two_readings():
    """NTNU's second output neuron: z = 0.8 and a = 0.52 cannot both be right, and the
    slide's delta = 0.25 does not tell which is the slip.

    * Reading A, z = 0.8 as printed: a = sigma(0.8) = 0.6900 (the printed 0.52 is the
      slip), delta = (0.6900 + 0.5) sigma'(0.8) = 1.1900 * 0.2139 = 0.2545.
    * Reading B, a = 0.52 as printed: 0.52 is sigma(0.08) = 0.5200 (the printed 0.8 is
      the slip, for 0.08), delta = (0.52 + 0.5) sigma'(0.08) = 1.0200 * 0.2496 = 0.2546.

    Both give the printed 0.25, so either the 0.8 or the 0.52 is the slip; "a typo in
    the activation only" is not established. Only mixing the readings (a = 0.52 with
    sigma'(0.8)) gives another number, 0.22, which the slide does not print.
    """
    def second_output(z: float) -> tuple[Value, Value]:
        zv = Value(z, label="z2_2")
        a = zv.sigmoid()
        (0.5 * (a - (-0.5)) ** 2).backward()  # C's term for this neuron; y = -0.5
        return zv, a

    z_a, a_a = second_output(0.8)
    z_b, a_b = second_output(0.08)
    assert round(a_a.data, 4) == 0.6900  # slide: 0.52
    assert round(a_b.data, 4) == 0.5200 and round(a_b.data, 2) == 0.52
    assert (round(z_a.grad, 4), round(z_b.grad, 4)) == (0.2545, 0.2546)
    assert round(z_a.grad, 2) == round(z_b.grad, 2) == 0.25  # the slide's delta, both ways
    mixed = (0.52 + 0.5) * sigmoid(0.8) * (1 - sigmoid(0.8))
    assert round(mixed, 2) == 0.22
    # The 2-2 network built with reading A has the same delta as this neuron alone.
    n = two_two_network()
    n["C"].backward()
    assert n["z2"][1].grad == pytest.approx(z_a.grad, rel=1e-12)


def test_two_two_network_hidden_deltas_differ_from_the_slide():
    """NTNU: delta_1 = (w2^T delta_2) * sigma'(z1); the slide prints [0.0005, 0.0013]
    and dC/dw1 = [[0.00022, -0.00025], [0.00052, -0.00059]].

    The slide's delta_1 is wrong (by about a factor 100): w2^T delta_2 = [0.2156, 0.1081]
    and sigma'(z1) = [0.2344, 0.2320] give delta_1 = [0.0505, 0.0251]. The other
    orientation of w2 would give [0.0147, 0.0338], which does not match either. Its
    dC/dw1 = delta_1 a0^T is consistent with its own delta_1; the exact one is
    [[0.0202, -0.0227], [0.0100, -0.0113]].
    """
    n = two_two_network()
    n["C"].backward()
    delta2 = [z.grad for z in n["z2"]]
    delta1 = [z.grad for z in n["z1"]]
    w2 = [[0.6, 0.1], [0.7, 0.4]]
    back = [sum(w2[j][k] * delta2[j] for j in range(2)) for k in range(2)]
    assert [round(b, 4) for b in back] == [0.2156, 0.1081]
    assert [round(d, 4) for d in delta1] == [0.0505, 0.0251]  # slide: [0.0005, 0.0013]
    dw1 = [[w.grad for w in row] for row in n["w1"]]
    assert [[round(g, 4) for g in row] for row in dw1] == [[0.0202, -0.0227],
                                                           [0.0100, -0.0113]]
    # BP4 holds on the graph: dC/dw1_jk = a0_k * delta1_j
    for j in range(2):
        for k, a in enumerate((0.4, -0.45)):
            assert dw1[j][k] == pytest.approx(a * delta1[j], rel=1e-14)


# -- NTNU, the "Backpropagation" slides, steps 1 to 4: the 2-2-1 network ------------------------


def two_two_one() -> dict[str, object]:
    """x = [0, 1], w1 = [[1, 0.5], [0.1, 0]], b1 = 0 (sigma(z1) = [0.62, 0.5] on the slide
    needs it), w2 = [0.2, 0.8], b2 = 0.75, y = 1, sigmoid everywhere, C = (yhat - y)^2."""
    x = values([0.0, 1.0], "x")
    w1 = matrix([[1.0, 0.5], [0.1, 0.0]], "w1")
    b1 = values([0.0, 0.0], "b1_")
    z1 = dense(w1, x, b1, 1)
    a1 = [z.sigmoid() for z in z1]
    w2 = matrix([[0.2, 0.8]], "w2")
    b2 = Value(0.75, label="b2")
    (z2,) = dense(w2, a1, [b2], 2)
    yhat = z2.sigmoid()
    yhat.label = "yhat"
    cost = (yhat - 1.0) ** 2
    return {"z1": z1, "a1": a1, "z2": z2, "yhat": yhat, "C": cost, "w1": w1, "w2": w2[0],
            "b2": b2}


def test_two_two_one_forward_matches_the_slide():
    """NTNU: sigma(z1) = [0.62, 0.5], sigma'(z1) = [0.24, 0.25], yhat = 0.78."""
    n = two_two_one()
    assert [round(a.data, 2) for a in n["a1"]] == [0.62, 0.50]
    assert [round(a.data * (1 - a.data), 2) for a in n["a1"]] == [0.24, 0.25]
    assert round(n["yhat"].data, 2) == 0.78
    assert round(n["yhat"].data, 4) == 0.7815


def test_two_two_one_output_error_differs_from_the_slide():
    """NTNU prints dC/dyhat = 2 (0.78 - 1) = 0.44, yhat (1 - yhat) = 0.78 (1 - 0.78)
    = 0.20 and delta2 = 0.44 * 0.20 = 0.09. Two slips:

    * the sign: 2 (0.78 - 1) = -0.44, not 0.44 (exactly -0.4370);
    * the slope: 0.78 * 0.22 = 0.17, not 0.20 (exactly 0.1708).

    So delta2 = dC/dz2 = -0.0746, not 0.09: the output is too small, and gradient
    descent must raise b2 and w2, where the slide lowers them.
    """
    n = two_two_one()
    n["C"].backward()
    assert round(n["yhat"].grad, 4) == -0.4370  # slide: 0.44
    assert round(n["yhat"].grad, 2) == -0.44
    slope = n["yhat"].data * (1 - n["yhat"].data)
    assert round(slope, 2) == 0.17  # slide: 0.20
    assert round(n["z2"].grad, 4) == -0.0746  # delta2; slide: 0.09
    assert n["z2"].grad == pytest.approx(n["yhat"].grad * slope, rel=1e-14)


def test_two_two_one_update_with_the_exact_gradients():
    """With lr = 0.4 the exact step gives b2' = 0.7798 (slide 0.71), w2' = [0.2186,
    0.8149] (slide [0.18, 0.78]), delta1 = [-0.0035, -0.0149] (slide [0.01, 0.02]) and
    w1' = [[1, 0.5014], [0.1, 0.0060]] (slide [[1, 0.49], [0.1, -0.01]]). Where the slide
    is right: dC/dw1_11 = dC/dw1_21 = 0 because x1 = 0, so w1_11 = 1 and w1_21 = 0.1
    stay, and BP3/BP4 (dC/db2 = delta2, dC/dw2_k = a1_k delta2) hold."""
    n = two_two_one()
    n["C"].backward()
    lr = 0.4
    delta2 = n["z2"].grad
    assert n["b2"].grad == delta2
    assert round(n["b2"].data - lr * n["b2"].grad, 4) == 0.7798
    for w, a in zip(n["w2"], n["a1"]):
        assert w.grad == pytest.approx(a.data * delta2, rel=1e-14)
    assert [round(g.grad, 4) for g in n["w2"]] == [-0.0464, -0.0373]
    assert [round(w.data - lr * w.grad, 4) for w in n["w2"]] == [0.2186, 0.8149]
    assert [round(z.grad, 4) for z in n["z1"]] == [-0.0035, -0.0149]
    new_w1 = [[round(w.data - lr * w.grad, 4) for w in row] for row in n["w1"]]
    assert new_w1 == [[1.0, 0.5014], [0.1, 0.006]]
    assert n["w1"][0][0].grad == 0.0 and n["w1"][1][0].grad == 0.0


def test_two_two_one_slide_arithmetic_from_its_own_delta2():
    """What the slide computed after its slip, reproduced by seeding backward at z2 with
    its delta2 = 0.09 (z2.backward(grad=0.09) gives every upstream dC/d(.) = 0.09 dz2/d(.)).

    Right to the slide's two digits: b2' = 0.75 - 0.4 * 0.09 = 0.71, dC/dw2_11 = 0.06,
    w2' = [0.18, 0.78], w1_22' = -0.01. Off because the slide rounds intermediates:
    dC/dw2_12 = 0.5 * 0.09 = 0.045 (slide 0.05); delta1_1 = 0.2 * 0.09 * 0.235 = 0.0042
    (slide 0.01, from 0.02 * 0.24 after rounding 0.018 to 0.02), hence w1_12' = 0.4983,
    not 0.49.
    """
    n = two_two_one()
    n["z2"].backward(grad=0.09)
    lr = 0.4
    assert round(n["b2"].data - lr * n["b2"].grad, 2) == 0.71
    assert [round(w.grad, 3) for w in n["w2"]] == [0.056, 0.045]  # slide: [0.06, 0.05]
    assert [round(w.data - lr * w.grad, 2) for w in n["w2"]] == [0.18, 0.78]
    assert [round(z.grad, 4) for z in n["z1"]] == [0.0042, 0.018]  # slide: [0.01, 0.02]
    w1 = n["w1"]
    assert round(w1[1][1].data - lr * w1[1][1].grad, 2) == -0.01
    assert round(w1[0][1].data - lr * w1[0][1].grad, 4) == 0.4983  # slide: 0.49


def test_two_two_one_slide_products_of_its_own_rounded_numbers():
    """Two more slips in NTNU's 2-2-1 example, in the slide's arithmetic on its own
    rounded numbers (step 3 b and step 4 b):

    * delta1_1 = 0.02 * 0.24 is printed 0.01, but 0.02 * 0.24 = 0.0048, which rounds to
      0.00 (two decimals), not 0.01;
    * w1_12' = 0.5 - 0.4 * 0.01 is printed 0.49, but 0.5 - 0.004 = 0.496, which rounds to
      0.50, not 0.49 (the last digit is cut off).

    The neighbouring products are right: 0.07 * 0.25 = 0.0175 -> 0.02 and
    0 - 0.4 * 0.02 = -0.008 -> -0.01. The slide's factors themselves come from its
    delta2 = 0.09: (w2)^T delta2 = [0.018, 0.072] -> [0.02, 0.07] and
    sigma'(z1) = [0.2350, 0.25] -> [0.24, 0.25].
    """
    n = two_two_one()
    n["z2"].backward(grad=0.09)
    back = [w.data * 0.09 for w in n["w2"]]
    assert [round(b, 2) for b in back] == [0.02, 0.07]
    slope = [a.data * (1 - a.data) for a in n["a1"]]
    assert [round(v, 2) for v in slope] == [0.24, 0.25]
    assert math.isclose(0.02 * 0.24, 0.0048, abs_tol=1e-15)
    assert round(0.02 * 0.24, 2) == 0.0  # slide: 0.01
    assert math.isclose(0.5 - 0.4 * 0.01, 0.496, abs_tol=1e-15)
    assert round(0.5 - 0.4 * 0.01, 2) == 0.50  # slide: 0.49
    assert round(0.07 * 0.25, 2) == 0.02 and round(0 - 0.4 * 0.02, 2) == -0.01


def test_deltas_by_grad_match_backward():
    """grad() reads the same deltas without touching .grad (for notebooks that compare)."""
    n = two_two_one()
    z1, z2 = n["z1"], n["z2"]
    deltas = grad(n["C"], [*z1, z2])
    n["C"].backward()
    assert [d.data for d in deltas] == [z1[0].grad, z1[1].grad, z2.grad]
