"""Every derivative path agrees: the disagreements that random graphs found, one test each.

The paths: first-order ``backward()`` on floats, ``grad()``, ``grad(create_graph=True)``
(and ``hessian``) on Values, the numpy tape, the viz step-through and replay, and (when
installed) PyTorch float64. The random search itself is ``test_differential.py``.
"""

from __future__ import annotations

import copy
import math
import pickle
import warnings

import numpy as np
import pytest
from chainrule.engine import Tape, Value, grad, hessian
from chainrule.viz import backward_steps, check_leaves
from chainrule.viz.gradcheck import replay
from chainrule.viz.graph import topological_nodes

INF, NAN = math.inf, math.nan


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def same(a: float, b: float) -> bool:
    """Equal as numbers (nan equals nan; +0 equals -0)."""
    return a == b or (a != a and b != b)


def every_path(fn, point: list[float]) -> dict[str, list[float]]:
    """d fn / d x at ``point`` by each path of the engine (and the step-through)."""
    xs = [Value(x) for x in point]
    y = fn(*xs)
    y.backward()
    paths = {"backward": [x.grad for x in xs]}
    xs = [Value(x) for x in point]
    y = fn(*xs)
    paths["grad"] = [g.data for g in grad(y, xs)]
    paths["create_graph"] = [g.data for g in grad(y, xs, create_graph=True)]
    steps = {}
    for step in backward_steps(y):
        for parent, after in zip(step.parents, step.after):
            steps[parent] = after
    paths["steps"] = [steps.get(x, 0.0) for x in xs]
    tape = Tape.record(lambda v: fn(*v), point)
    tape.forward([point])
    paths["tape"] = tape.backward()[0].tolist()
    return paths


def assert_every_path(fn, point: list[float], expected: list[float]) -> None:
    for path, got in every_path(fn, point).items():
        assert all(same(g, e) for g, e in zip(got, expected)), (path, got, expected)


# -- 1. second order through a structural zero ------------------------------------------------


def test_hessian_through_relu_below_zero_is_a_zero_matrix():
    """Crashed with KeyError: Value(data=-2.0, op='mul')."""
    assert hessian(lambda a, b: (a * b).relu(), [-1.0, 2.0]) == [[0.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: (x * -1.0).relu(),  # relu below 0
        lambda x: (x * x).clamp(-1.0, 0.5),  # clamp above its upper bound
        lambda x: Value.max([x * 1.0, Value(10.0)]),  # a non-maximal input of max
        lambda x: abs(x - 2.0) * 1.0,  # abs at 0
        lambda x: (x * 3.0) ** 0,  # x ** 0
    ],
    ids=["relu", "clamp", "max", "abs", "pow0"],
)
def test_create_graph_through_a_structural_zero_gives_zeros(fn):
    x = Value(2.0)
    (d,) = grad(fn(x), [x], create_graph=True)
    assert d.data == 0.0
    (d2,) = grad(d, [x])
    assert d2.data == 0.0
    assert hessian(fn, [2.0]) == [[0.0]]


def torch_hessian(torch, fn, point: list[float]) -> list[list[float]]:
    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    first = torch.autograd.grad(fn(*ts), ts, create_graph=True, allow_unused=True)
    rows = []
    for g in first:
        if g is None or not g.requires_grad:  # torch's way of saying "a constant"
            rows.append([0.0] * len(point))
            continue
        row = torch.autograd.grad(g, ts, allow_unused=True, retain_graph=True)
        rows.append([0.0 if r is None else r.item() for r in row])
    return rows


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda a, b: (a * b).relu(), lambda a, b: (a * b).relu()),
        (lambda a, b: (a * b).clamp(0.0, 1.0) * b, lambda a, b: (a * b).clamp(0.0, 1.0) * b),
        (lambda a, b: Value.max([a, b * b]) * a, lambda a, b: a.maximum(b * b) * a),
    ],
    ids=["relu", "clamp", "max"],
)
def test_second_order_through_structural_zeros_matches_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    assert hessian(ours, [-1.0, 2.0]) == torch_hessian(torch, theirs, [-1.0, 2.0])


# -- 2. a structural zero stops inf and nan from above ------------------------------------------


@pytest.mark.parametrize(
    ("fn", "point"),
    [
        (lambda x: x.relu().log(), -1.0),  # relu' = 0, log'(0) = inf
        (lambda x: x.clamp(-1.0, 0.0).log(), 5.0),  # clamp' = 0 outside the bounds
        (lambda x: ((x ** 0.0) - 1.0).log(), 3.0),  # d x**0 / dx = 0
        (lambda x: Value.max([x, x * 0.0 + 1.0]).log() * 0.0 + (x - 5.0).relu().sqrt(), -2.0),
    ],
    ids=["relu", "clamp", "pow0", "max"],
)
def test_a_zero_local_derivative_passes_nothing_back_on_every_path(fn, point):
    """Was nan (0 * inf) on the float path; PyTorch's masked backward gives 0."""
    assert_every_path(fn, [point], [0.0])


@pytest.mark.parametrize("case", ["relu", "clamp", "pow0"])
def test_structural_zeros_match_torch(case):
    torch = pytest.importorskip("torch")
    ours = {"relu": (lambda x: x.relu().log(), -1.0),
            "clamp": (lambda x: x.clamp(-1.0, 0.0).log(), 5.0),
            "pow0": (lambda x: ((x ** 0.0) - 1.0).log(), 3.0)}[case]
    theirs = {"relu": lambda t: t.relu().log(),
              "clamp": lambda t: t.clamp(-1.0, 0.0).log(),
              "pow0": lambda t: ((t ** 0.0) - 1.0).log()}[case]
    fn, point = ours
    t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    theirs(t).backward()
    x = Value(point)
    fn(x).backward()
    assert x.grad == t.grad.item() == 0.0


def test_a_zero_gradient_from_above_still_multiplies_as_in_torch():
    """Only a zero *local derivative* is structural: a node whose gradient is 0 passes
    0 * d back, so an infinite d below it gives nan (PyTorch too); the README's
    safe-input pattern avoids it."""
    assert_every_path(lambda x: 0.0 * x.sqrt(), [0.0], [NAN])


# -- 3 and 4. pow at -inf and -0.0 ----------------------------------------------------------------


def test_a_negative_infinite_base_to_a_non_integer_power_is_nan_on_every_path():
    """Was inf on the scalar path and for Value ** Value (C's pow), nan on the tape."""
    assert math.isnan((Value(-INF) ** 0.5).data)
    assert math.isnan((Value(-INF) ** Value(0.5)).data)
    assert math.isnan((Value(-INF) ** (1 / 3)).data)
    assert math.isnan(((-INF) ** Value(0.5)).data)
    tape = Tape.record(lambda v: [v[0] ** 0.5, v[0] ** v[1], (-INF) ** v[1]], [1.0, 0.5])
    assert np.isnan(tape.forward([[-INF, 0.5]])).all()
    # An integer exponent is an ordinary power: (-inf) ** 3 = -inf, (-inf) ** -2 = 0.
    assert (Value(-INF) ** 3).data == -INF and (Value(-INF) ** -2).data == 0.0


def test_the_sign_of_zero_under_a_square_root_power_agrees():
    """1 / (x ** 0.5) at x = -0.0 was inf on the scalar path and -inf on the tape."""
    x = Value(-0.0)
    assert (1 / (x ** 0.5)).data == INF
    assert (1 / (x ** Value(0.5))).data == INF
    tape = Tape.record(lambda v: [1 / (v[0] ** 0.5), 1 / (v[0] ** v[1])], [1.0, 0.5])
    assert tape.forward([[-0.0, 0.5]]).tolist() == [[INF, INF]]
    # sqrt is another op: sqrt(-0.0) is -0.0, as IEEE says.
    assert math.copysign(1.0, x.sqrt().data) == -1.0


# -- 5. the tape and a loop of scalar backward calls, with infinities ----------------------------


def test_tape_gradient_is_the_sum_of_per_sample_gradients_with_infinities():
    """p.grad was inf: the tape summed g over the batch before multiplying by sqrt'(0)."""
    p = Value(0.0)
    tape = Tape.record(lambda v: v[0] * p.sqrt(), [1.0], [p])
    tape.forward([[1.0], [-0.5]])
    tape.backward()
    loop = Value(0.0)
    for x in (1.0, -0.5):
        (x * loop.sqrt()).backward()
    assert math.isnan(loop.grad) and math.isnan(p.grad)


def test_nodes_of_parameters_only_are_computed_per_sample():
    p = Value(2.0)
    tape = Tape.record(lambda v: v[0] * (p * p).log() + (p * 3.0).relu(), [1.0], [p])
    out = tape.forward([[1.0], [2.0], [-1.0]])
    assert out.ravel().tolist() == [math.log(4.0) * k + 6.0 for k in (1.0, 2.0, -1.0)]
    tape.backward()
    assert p.grad == pytest.approx(2.0 * (1.0 / 2.0 * 2.0) + 9.0)


# -- 6. one summation ----------------------------------------------------------------------------


def test_sum_of_opposite_infinities_is_nan_and_the_replay_agrees():
    """Value.sum gave nan where the viz replay raised ValueError (a bare math.fsum)."""
    a, b = Value(INF), Value(-INF)
    s = Value.sum([a, b, 1.0])
    assert math.isnan(s.data)
    values = replay(topological_nodes(s))
    assert math.isnan(values[s])
    assert [c.status for c in check_leaves(s)] == ["non-finite"] * 3


def test_tape_sums_stay_within_the_stated_bound_under_cancellation():
    """The scalar path rounds a sum once (math.fsum); the tape adds in float64 left to
    right, so under cancellation they differ by up to (n - 1) * 2**-53 * sum(|x_i|), the
    README's bound, and not by 1e-12 relative to the result."""
    terms = [1e17, 7.94, -1e17]
    scalar = Value.sum([Value(t) for t in terms]).data
    tape = Tape.record(lambda v: Value.sum(v), terms)
    taped = float(tape.forward([terms])[0, 0])
    assert scalar == 7.94
    bound = (len(terms) - 1) * 2.0 ** -53 * math.fsum(abs(t) for t in terms)
    assert abs(taped - scalar) <= bound
    assert taped != scalar  # this one really does cancel: the bound is not idle


# -- 7. elu's derivative below zero ------------------------------------------------------------


@pytest.mark.parametrize("x", [-1.0, -30.0, -111.0, -700.0])
def test_elu_derivative_below_zero_does_not_cancel(x):
    """Was out + alpha: relative error 1.7e-4 at -30, and 0 instead of 1.2e-48 at -111."""
    alpha = 1.5
    exact = alpha * math.exp(x)
    assert exact > 0.0
    assert_every_path(lambda v: v.elu(alpha), [x], [exact])
    v = Value(x)
    (d,) = grad(v.elu(alpha), [v], create_graph=True)
    assert grad(d, [v])[0].data == pytest.approx(exact, rel=1e-15)


# -- 8. deep graphs, copy and pickle -----------------------------------------------------------


def chain(n: int) -> tuple[Value, Value]:
    x = Value(0.5, label="x")
    y = x
    for _ in range(n):
        y = (y * 1.0001).tanh() + 0.25
    return x, y


@pytest.mark.parametrize("n", [200, 400, 20_000])
def test_deep_chains_deepcopy_and_pickle(n):
    """deepcopy of a 200-op chain and pickle of a 400-op one raised RecursionError."""
    x, y = chain(n)
    y.backward()
    for copied_x, copied_y in (copy.deepcopy((x, y)), pickle.loads(pickle.dumps((x, y)))):
        assert copied_y.data == y.data and copied_x.grad == x.grad
        assert copied_x is not x
        copied_x.grad = 0.0
        copied_y.backward()
        assert copied_x.grad == x.grad  # the copy is the whole graph, x shared in it
        assert copied_y.parents[0].parents[0].parents[0].parents[0] is not None


def test_pickling_keeps_identity_across_the_whole_pickle():
    w = Value(0.5, label="w")
    xs = [Value(float(i)) for i in range(3)]
    loss = Value.sum([(x * w).tanh() for x in xs])
    other = (w * 2.0).exp()
    w2, loss2, other2 = pickle.loads(pickle.dumps([w, loss, other]))
    loss2.backward()
    other2.backward()
    loss.backward()
    other.backward()
    assert w2.grad == w.grad  # one w in the copy, reached from both graphs
    assert other2.parents[0].parents[0] is w2


def test_a_copied_graph_mixes_with_new_nodes():
    """Restored nodes get fresh creation numbers, so new ops on them are not 'cycles'."""
    _, y = chain(50)
    y2 = pickle.loads(pickle.dumps(y))
    z = y2 * Value(3.0) + y2
    z.backward()
    assert z.data == pytest.approx(4 * y.data)


# -- 9. user attributes ------------------------------------------------------------------------


def test_user_code_may_set_attributes_on_a_value():
    """micrograd scripts keep optimizer state on parameters (EurekaLabs' AdamW: p.m, p.v)."""
    p = Value(0.0)
    p.m = 0.0
    p.v = 0.0
    p.color = "red"
    for _ in range(3):
        loss = (p - 1.0) ** 2
        p.grad = 0.0
        loss.backward()
        p.m = 0.9 * p.m + 0.1 * p.grad
        p.data -= 0.1 * p.m
    assert p.m != 0.0 and p.color == "red"
    q = copy.deepcopy(p)
    assert q.m == p.m and q.color == "red"
    assert pickle.loads(pickle.dumps(p)).v == p.v
    with pytest.raises(AttributeError):
        Value(1.0).not_set  # noqa: B018 - reading an attribute never set still fails


# -- 10. backward(None) ---------------------------------------------------------------------


def test_backward_none_means_the_default_seed():
    x = Value(3.0)
    (x * x).backward(None)
    assert x.grad == 6.0
