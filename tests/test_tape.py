"""The tape (batched replay) gives the scalar path's numbers, for every rule and model.

The reference for every comparison is the scalar engine run sample by sample: build
the graph with fresh input Values, call ``backward(seed)`` on each output, read the
input gradients, and let the parameters accumulate their gradients over the batch.

Tolerance: ``|tape - scalar| <= 1e-12 * max(|scalar|, scale)`` where ``scale`` is the
largest magnitude in the compared array. Sums are the only source of differences:
``Value.sum`` adds with ``math.fsum``, numpy adds left to right, so a sum that cancels
to near zero can differ in its last bits relative to itself but not relative to its
terms. Non-finite entries must match exactly (same nan positions, same infinities).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from chainrule.engine import RULES, Value, detect_anomaly, no_grad
from chainrule.engine.tape import Tape, TraceError
from hypothesis import given, settings
from hypothesis import strategies as st

RTOL = 1e-12


# -- the scalar reference and the comparison ------------------------------------------------


def scalar_reference(fn: Callable, batch: np.ndarray, params: Sequence[Value],
                     seed: np.ndarray | None = None) -> tuple:
    """Outputs, input gradients and summed parameter gradients from the scalar path."""
    for p in params:
        p.grad = 0.0
    outs, input_grads = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for b, row in enumerate(batch):
            xs = [Value(float(v)) for v in row]
            result = fn(xs)
            ys = [result] if isinstance(result, Value) else list(result)
            outs.append([y.data for y in ys])
            for k, y in enumerate(ys):
                y.backward(1.0 if seed is None else float(seed[b, k]))
            input_grads.append([x.grad for x in xs])
    grads = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    return np.array(outs), np.array(input_grads).reshape(len(batch), -1), grads


def tape_result(fn: Callable, batch: np.ndarray, params: Sequence[Value],
                seed: np.ndarray | None = None) -> tuple:
    """The same three arrays from a tape recorded on the first row."""
    for p in params:
        p.grad = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tape = Tape.record(fn, batch[0], params)
        out = tape.forward(batch)
        dx = tape.backward(seed)
    grads = np.array([p.grad for p in params])
    for p in params:
        p.grad = 0.0
    return out, dx, grads


def assert_same(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: nan")
    inf = np.isinf(expected)
    np.testing.assert_array_equal(actual[inf], expected[inf], err_msg=f"{what}: inf")
    assert not np.isinf(actual[~inf]).any(), f"{what}: unexpected inf"
    finite = np.isfinite(expected)
    if finite.any():
        e, a = expected[finite], actual[finite]
        scale = np.abs(e).max()
        bound = RTOL * np.maximum(np.abs(e), scale)
        worst = np.max(np.abs(a - e) - bound)
        assert worst <= 0, f"{what}: differs by {np.max(np.abs(a - e)):.3g} (scale {scale:.3g})"


def assert_matches_scalar(fn: Callable, batch: np.ndarray, params: Sequence[Value],
                          seed: np.ndarray | None = None) -> None:
    want = scalar_reference(fn, batch, params, seed)
    got = tape_result(fn, batch, params, seed)
    for name, a, e in zip(("outputs", "input grads", "param grads"), got, want):
        assert_same(a, e, name)


def values(rng: np.random.Generator, n: int, lo: float = -2.0, hi: float = 2.0) -> list[Value]:
    return [Value(float(v), label=f"p{i}") for i, v in enumerate(rng.uniform(lo, hi, n))]


# -- every rule of the table ------------------------------------------------------------------

# For each rule: how to build it from operands, an argument, and the interval in which
# every operand (inputs and parameters alike) is drawn: inside the op's domain, where
# the random draws never land exactly on a kink.
OPS: dict[str, tuple[Callable[..., Value], Sequence[Any], tuple[float, float]]] = {
    "add": (lambda arg, a, b: a + b, [None], (-3.0, 3.0)),
    "sub": (lambda arg, a, b: a - b, [None], (-3.0, 3.0)),
    "mul": (lambda arg, a, b: a * b, [None], (-3.0, 3.0)),
    "div": (lambda arg, a, b: a / b, [None], (0.2, 3.0)),
    "pow": (lambda arg, a, b: a ** b, [None], (0.2, 2.5)),
    "powc": (lambda c, x: x ** c, [2.0, 3.0, 0.5, -1.0, 0.0, -1.5], (0.2, 3.0)),
    "rpow": (lambda c, x: c ** x, [2.0, 0.5, math.e], (-2.0, 2.0)),
    "neg": (lambda arg, x: -x, [None], (-3.0, 3.0)),
    "exp": (lambda arg, x: x.exp(), [None], (-3.0, 3.0)),
    "log": (lambda arg, x: x.log(), [None], (0.1, 5.0)),
    "sqrt": (lambda arg, x: x.sqrt(), [None], (0.1, 5.0)),
    "tanh": (lambda arg, x: x.tanh(), [None], (-3.0, 3.0)),
    "sigmoid": (lambda arg, x: x.sigmoid(), [None], (-6.0, 6.0)),
    "relu": (lambda arg, x: x.relu(), [None], (-3.0, 3.0)),
    "leaky_relu": (lambda a, x: x.leaky_relu(a), [0.01, 0.2], (-3.0, 3.0)),
    "elu": (lambda a, x: x.elu(a), [1.0, 0.5], (-3.0, 3.0)),
    "softplus": (lambda arg, x: x.softplus(), [None], (-6.0, 6.0)),
    "abs": (lambda arg, x: abs(x), [None], (-3.0, 3.0)),
    "sin": (lambda arg, x: x.sin(), [None], (-4.0, 4.0)),
    "cos": (lambda arg, x: x.cos(), [None], (-4.0, 4.0)),
    "clamp": (lambda b, x: x.clamp(*b), [(-1.0, 1.0), (0.5, 2.0)], (-3.0, 3.0)),
    "sum": (lambda arg, *xs: Value.sum(xs), [None], (-3.0, 3.0)),
    "max": (lambda arg, *xs: Value.max(xs), [None], (-3.0, 3.0)),
}


def test_every_rule_has_a_tape_test_entry():
    assert set(OPS) == set(RULES), f"rules without a tape test: {set(RULES) - set(OPS)}"


def uses_of(name: str) -> Callable[[list[Value], list[Value]], list[Value]]:
    """A function of 3 inputs and 3 parameters using the op in every operand layout:
    per-sample with per-sample, per-sample with shared, shared only (computed once per
    batch), an operand repeated, and (for n-ary ops) several arities at one depth."""
    call, _, _ = OPS[name]
    arity = RULES[name].arity

    def fn(xs: list[Value], ps: list[Value], arg: Any) -> list[Value]:
        x0, x1, x2 = xs
        p0, p1, p2 = ps
        if arity == 1:
            return [call(arg, x0), call(arg, x1), call(arg, p0) * x2, call(arg, p1),
                    call(arg, call(arg, x2))]
        if arity == 2:
            return [call(arg, x0, x1), call(arg, x0, p0), call(arg, p1, x1),
                    call(arg, p0, p2) * x2, call(arg, x2, x2), call(arg, x1, x0)]
        return [call(arg, x0), call(arg, x0, x1), call(arg, x2, p0, x1), call(arg, p0, p1) * x2,
                call(arg, x0, x1, x2, p2), call(arg, x1, x1, p1)]

    return fn


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_matches_the_scalar_path(name):
    _, args, (lo, hi) = OPS[name]
    rng = np.random.default_rng(sorted(RULES).index(name))
    for arg in args:
        params = values(rng, 3, lo, hi)
        batch = rng.uniform(lo, hi, (9, 3))
        use = uses_of(name)

        def fn(xs, use=use, params=params, arg=arg):
            return use(xs, params, arg)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            n_outputs = len(fn([Value(float(v)) for v in batch[0]]))
        seed = rng.uniform(-1.0, 1.0, (9, n_outputs))
        assert_matches_scalar(fn, batch, params, seed)


def test_max_ties_share_the_gradient_as_in_the_scalar_path():
    p = Value(1.0, label="p")
    batch = np.array([[1.0, 1.0], [1.0, 2.0], [0.5, 0.5], [2.0, 1.0]])
    assert_matches_scalar(lambda xs: Value.max([xs[0], xs[1], p]), batch, [p])


# -- models and losses ------------------------------------------------------------------------


nn = pytest.importorskip("chainrule.nn")
ACTIVATIONS = ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "swish")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_random_mlp_matches_the_scalar_path(activation):
    model = nn.MLP(3, [8, 6, 2], activation=activation, seed=7)
    params = model.parameters()
    batch = np.random.default_rng(1).normal(size=(12, 3))
    seed = np.random.default_rng(2).normal(size=(12, 2))
    assert_matches_scalar(lambda xs: model(xs), batch, params, seed)


def _logsumexp(zs: list[Value]) -> Value:
    m = Value.max(zs).detach()  # a constant shift, as stable implementations do
    return m + Value.sum([(z - m).exp() for z in zs]).log()


LOSSES: dict[str, Callable[[list[Value], Value], Value]] = {
    # per-sample losses on a model's outputs `s` (two outputs) and a target `y`
    "hinge": lambda s, y: (1 - y * s[0]).relu(),
    "squared": lambda s, y: (s[0] - y) ** 2,
    "absolute": lambda s, y: abs(s[0] - y),
    "bce_logits": lambda s, y: s[0].softplus() - y * s[0],
    "bce_probabilities": lambda s, y: -(y * s[0].sigmoid().log()
                                        + (1 - y) * (1 - s[0].sigmoid()).log()),
    "cross_entropy": lambda s, y: _logsumexp(s) - (y * s[0] + (1 - y) * s[1]),
    "huber_like": lambda s, y: ((s[0] - y) ** 2 + 1).sqrt() - 1,
    "log_cosh": lambda s, y: ((s[0] - y).exp() + (y - s[0]).exp()).log(),
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_losses_with_weight_penalty_match_the_scalar_path(loss):
    model = nn.MLP(2, [6, 2], activation="tanh", seed=3)
    params = model.parameters()
    rng = np.random.default_rng(4)
    batch = np.column_stack([rng.normal(size=(10, 2)), rng.integers(0, 2, 10)])
    n = len(batch)

    def per_sample(xs):
        penalty = 1e-3 * Value.sum([p * p for p in params])  # shared: computed once
        return LOSSES[loss](model(xs[:2]), xs[2]) * (1.0 / n) + penalty * (1.0 / n)

    assert_matches_scalar(per_sample, batch, params)


def test_micrograd_demo_loss_matches_the_scalar_path():
    """The hinge loss + L2 of micrograd's demo, split as the bench does: a per-sample
    tape for the data term and a tape with no inputs for the penalty."""
    model = nn.MLP(2, [16, 16, 1], seed=1337)
    params = model.parameters()
    points, y = nn.make_moons(40, noise=0.1, seed=0)
    data = np.column_stack([points, 2.0 * y - 1.0])
    hinge = Tape.record(lambda v: (1 - v[2] * model(v[:2])).relu(), data[0], params)
    penalty = Tape.record(lambda v: 1e-4 * Value.sum([p * p for p in params]), [], params)
    assert hinge.n_nodes == 304 + 33 + 32 + 3  # the MLP's 369 nodes, then y*s, 1-., relu
    for p in params:
        p.grad = 0.0
    total = hinge.forward(data).mean() + penalty.forward(np.empty((1, 0)))[0, 0]
    hinge.backward(np.full(len(data), 1.0 / len(data)))
    penalty.backward()
    tape_grads = [p.grad for p in params]

    model.zero_grad()
    scores = [model(list(row)) for row in points]
    losses = [(1 - float(t) * s).relu() for t, s in zip(data[:, 2], scores)]
    loss = Value.sum(losses) * (1.0 / len(losses)) + 1e-4 * Value.sum([p * p for p in params])
    loss.backward()
    assert total == pytest.approx(loss.data, rel=1e-12)
    assert_same(tape_grads, [p.grad for p in params], "param grads")


# -- structure: layouts, constants, leaves as outputs, scatter plans ----------------------------


def test_every_scatter_plan_is_exercised_and_matches():
    """Each way of adding contributions (slice, reshaped slice, distinct rows, a tiled
    pattern, distinct rows after dropping constants, a sorted reduction) gives the
    scalar path's gradients."""
    rng = np.random.default_rng(5)
    p = values(rng, 4)
    c = Value(0.5, label="c")

    def fn(xs):
        x0, x1, x2 = xs
        h = [(x0 * p[0]).tanh(), (x1 * p[1]).tanh(), (x2 * p[2]).tanh()]
        mixed = [x0 * x1, x1 * x0, x0 * x0, x2 * c, c * x1, x0 * x2]  # repeats: reduce
        fanout = [Value.sum([h[j] * q for j in range(3)]) for q in p]  # tile
        return [Value.sum(mixed), Value.sum(fanout), h[0] + c, Value.sum([x0, x1, p[3]])]

    seen = set()
    tape = Tape.record(fn, [0.1, 0.2, 0.3], p)
    for group in tape._exact.groups:
        seen.update(block.scatter.kind for block in group.blocks if block.scatter)
    assert seen >= {"span", "tspan", "unique", "tile", "pick", "reduce"}, seen
    batch = rng.normal(size=(6, 3))
    assert_matches_scalar(fn, batch, p, rng.normal(size=(6, 4)))


def test_outputs_may_be_inputs_parameters_or_constants():
    p = Value(2.0, label="p")
    const = Value(7.0, label="c")
    batch = np.array([[1.0, -1.0], [3.0, 0.5]])

    def fn(xs):
        return [xs[0], p, const, xs[1] * p]

    assert_matches_scalar(fn, batch, [p], np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 0.25, 1.0, -1.0]]))


def test_constants_keep_their_recorded_value_and_constant_subgraphs_are_folded():
    c = Value(3.0, label="c")
    p = Value(1.5, label="p")

    def fn(xs):
        folded = Value(2.0) * Value(5.0)  # depends on nothing: one constant
        return xs[0] * c + folded * p

    tape = Tape.record(fn, [1.0], [p])
    c.data = 100.0  # not a parameter: the tape keeps 3.0
    out = tape.forward([[1.0], [2.0]])
    assert out.ravel().tolist() == [3.0 + 15.0, 6.0 + 15.0]
    assert tape.n_nodes == 3  # x*c, folded*p, the sum; 2*5 is folded away
    dx = tape.backward()
    assert dx.ravel().tolist() == [3.0, 3.0]
    assert p.grad == 20.0  # 10 per sample


def test_tape_follows_parameter_updates():
    model = nn.MLP(2, [4, 1], activation="tanh", seed=0)
    params = model.parameters()
    tape = Tape.record(lambda xs: model(xs), [0.0, 0.0], params)
    batch = np.random.default_rng(6).normal(size=(5, 2))
    before = tape.forward(batch)
    with no_grad():
        for p in params:
            p.data -= 0.1 * (p.data + 0.3)
    after = tape.forward(batch)
    assert not np.allclose(before, after)
    assert_matches_scalar(lambda xs: model(xs), batch, params)
    assert_same(after[:, 0], [model(list(row)).data for row in batch], "after the update")


def test_backward_twice_accumulates_like_scalar_backward():
    p = Value(3.0)
    tape = Tape.record(lambda xs: p * xs[0], [1.0], [p])
    tape.forward([[1.0], [2.0]])
    tape.backward()
    tape.backward()
    assert p.grad == 6.0  # (1 + 2) twice


def test_backward_without_accumulating_sets_each_gradient():
    p, q = Value(3.0), Value(-1.0)
    tape = Tape.record(lambda xs: p * xs[0] + q * q, [1.0], [p, q])
    tape.forward([[1.0], [2.0]])
    p.grad, q.grad = 100.0, float("nan")  # stale values from an earlier step
    dx = tape.backward(accumulate=False)
    assert (p.grad, q.grad) == (3.0, -4.0)  # 1 + 2, and 2q for each of two samples
    assert dx.tolist() == [[3.0], [3.0]]
    tape.backward(accumulate=False)
    assert (p.grad, q.grad) == (3.0, -4.0)  # set again, not doubled
    tape.backward()
    assert (p.grad, q.grad) == (6.0, -8.0)


def test_backward_without_accumulating_matches_zeroing_first_on_a_network():
    model = nn.MLP(2, [6, 6, 1], seed=4)
    params = model.parameters()
    batch = np.random.default_rng(4).normal(size=(9, 2))
    tape = Tape.record(lambda xs: model(xs), batch[0], params)
    tape.forward(batch)
    for p in params:
        p.grad = 0.0
    tape.backward()
    zeroed_first = [p.grad for p in params]
    for p in params:
        p.grad = 7.0
    tape.backward(accumulate=False)
    assert [p.grad for p in params] == zeroed_first


@pytest.mark.parametrize("bad", [0, 1, "no", None])
def test_backward_accumulate_must_be_a_bool(bad):
    p = Value(1.0)
    tape = Tape.record(lambda xs: p * xs[0], [1.0], [p])
    tape.forward([[1.0]])
    with pytest.raises(TypeError, match=r"Tape\.backward accumulate must be True or False"):
        tape.backward(accumulate=bad)
    assert p.grad == 0.0  # nothing written


def test_batch_sizes_can_change_between_calls():
    model = nn.MLP(2, [5, 1], seed=2)
    params = model.parameters()
    tape = Tape.record(lambda xs: model(xs), [0.0, 0.0], params)
    rng = np.random.default_rng(7)
    for size in (4, 1, 9, 4, 3, 2, 9):
        batch = rng.normal(size=(size, 2))
        assert_matches_scalar(lambda xs: model(xs), batch, params)
        assert tape.forward(batch).shape == (size, 1)
        assert tape.backward().shape == (size, 2)


def test_release_frees_the_kept_arrays_and_forward_makes_them_again():
    p = Value(2.0)
    tape = Tape.record(lambda xs: p * xs[0], [1.0], [p])
    for size in (3, 4, 5):
        tape.forward(np.ones((size, 1)))
    assert sorted(batch for _, batch in tape._works) == [4, 5]  # the last two batch sizes
    tape.release()
    assert tape._works == {}
    with pytest.raises(RuntimeError, match=r"call forward\(X\) first"):
        tape.backward()
    assert tape.forward([[3.0]]).tolist() == [[6.0]]


def test_an_empty_batch_gives_empty_results():
    p = Value(2.0)
    tape = Tape.record(lambda xs: (p * xs[0]).tanh(), [1.0], [p])
    assert tape.forward(np.empty((0, 1))).shape == (0, 1)
    assert tape.backward().shape == (0, 1)
    assert p.grad == 0.0


def test_python_control_flow_is_frozen_at_record_time():
    """`if x.data > 0` records the branch the example took, for every sample."""

    def fn(xs):
        x = xs[0]
        return x * 2 if x.data > 0 else -x

    tape = Tape.record(fn, [1.0], [])
    assert tape.forward([[3.0], [-3.0]]).ravel().tolist() == [6.0, -6.0]  # not 3.0 for -3
    relu_tape = Tape.record(lambda xs: xs[0].relu(), [1.0], [])  # a branch inside an op
    assert relu_tape.forward([[3.0], [-3.0]]).ravel().tolist() == [3.0, 0.0]


def test_recording_works_under_no_grad():
    p = Value(2.0)
    with no_grad():
        tape = Tape.record(lambda xs: p * xs[0], [1.0], [p])
    assert tape.forward([[4.0]]).ravel().tolist() == [8.0]


def test_repr_counts_inputs_outputs_nodes_and_ops():
    model = nn.MLP(2, [16, 16, 1], seed=0)
    tape = Tape.record(lambda xs: model(xs), [0.0, 0.0], model.parameters())
    assert (tape.n_inputs, tape.n_outputs, tape.n_nodes) == (2, 1, 369)
    text = repr(tape)
    assert text.startswith("Tape(inputs=2, outputs=1, params=337, nodes=369 in ")
    assert "mul: 304" in text and "sum: 33" in text and "relu: 32" in text


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(-5, 5)), min_size=1, max_size=6))
def test_any_batch_matches_the_scalar_path(rows):
    model = nn.MLP(2, [3, 2], activation="elu", seed=11)
    assert_matches_scalar(lambda xs: model(xs), np.array(rows), model.parameters())


# -- IEEE edge cases, warnings and anomaly mode ---------------------------------------------------

EDGES: dict[str, tuple[Callable[[list[Value]], Value], list[list[float]]]] = {
    "log": (lambda v: v[0].log(), [[0.0], [-1.0], [-0.0], [math.inf], [math.nan], [2.0]]),
    "div": (lambda v: v[0] / v[1], [[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [1.0, -0.0],
                                    [math.inf, 0.0], [3.0, 2.0]]),
    "exp": (lambda v: v[0].exp(), [[1000.0], [-1000.0], [709.0], [math.nan]]),
    "pow_value": (lambda v: v[0] ** v[1], [[0.0, 0.0], [-8.0, 1 / 3], [-2.0, 3.0], [0.0, -1.0],
                                          [-0.0, -3.0], [10.0, 400.0], [-10.0, 401.0],
                                          [0.0, 2.0], [-1.0, 0.5]]),
    "powc": (lambda v: v[0] ** (1 / 3), [[-8.0], [0.0], [8.0]]),
    "square_at_zero": (lambda v: v[0] ** 2, [[0.0], [-0.0]]),
    "sqrt": (lambda v: v[0].sqrt(), [[0.0], [-1.0], [4.0]]),
    "rpow": (lambda v: 0.0 ** v[0], [[0.0], [-1.0], [2.0]]),
    "kinks": (lambda v: [v[0].relu(), abs(v[0]), v[0].leaky_relu(0.1), v[0].clamp(0.0, 1.0),
                         v[0].elu()], [[0.0], [-0.0], [1.0], [math.nan], [-math.inf]]),
    "saturation": (lambda v: [v[0].tanh(), v[0].sigmoid(), v[0].softplus()],
                   [[1000.0], [-1000.0], [math.inf], [-math.inf], [math.nan]]),
    "trig_of_inf": (lambda v: [v[0].sin(), v[0].cos()], [[math.inf], [-math.inf], [1.0]]),
    "overflow": (lambda v: v[0] * v[1] - v[0] * v[1], [[1e200, 1e200], [1.0, 2.0]]),
    "zero_times_inf_in_backward": (lambda v: (v[0].relu() * v[1]).sqrt(),
                                   [[-1.0, 1.0], [0.0, 5.0], [4.0, 1.0]]),
    "max_with_nan": (lambda v: Value.max([v[0], v[1]]), [[math.nan, 1.0], [1.0, math.nan]]),
    "sum_of_infinities_and_overflow": (lambda v: Value.sum([v[0], v[1]]),
                                       [[math.inf, -math.inf], [1e308, 1e308], [math.nan, 1.0],
                                        [math.inf, 1.0]]),
}


@pytest.mark.parametrize("case", sorted(EDGES))
def test_ieee_edge_cases_equal_the_scalar_path(case):
    fn, rows = EDGES[case]
    assert_matches_scalar(fn, np.array(rows, dtype=float), [])


def test_sum_of_opposite_infinities_is_nan():
    tape = Tape.record(lambda v: Value.sum([v[0], v[1]]), [1.0, 1.0], [])
    assert math.isnan(tape.forward([[math.inf, -math.inf]])[0, 0])


def _warned_ops(caught: list) -> set[str]:
    return {str(w.message).split(" produced")[0].removeprefix("chainrule: ")
            for w in caught if issubclass(w.category, RuntimeWarning)}


def test_nonfinite_results_warn_once_per_op_like_the_scalar_path():
    def fn(v):
        return [v[0].log(), v[1].exp(), (v[0] + 1.0).sqrt(), v[1] / v[0]]

    batch = np.array([[0.0, 1000.0], [0.0, 2000.0], [1.0, 1.0], [-0.5, 800.0]])
    with warnings.catch_warnings(record=True) as scalar:
        warnings.simplefilter("always")
        for row in batch:
            fn([Value(float(v)) for v in row])
    tape = Tape.record(fn, [1.0, 1.0], [])
    with warnings.catch_warnings(record=True) as replay:
        warnings.simplefilter("always")
        tape.forward(batch)
    assert _warned_ops(replay) == _warned_ops(scalar) == {"log", "exp", "div"}
    assert len(replay) == 3  # one per op, however many samples
    message = next(str(w.message) for w in replay if "log" in str(w.message))
    assert message.startswith("chainrule: log produced -inf from finite inputs")
    assert "in 3 of 4 samples, first 0" in message  # log(0) twice, log(-0.5) = nan once
    assert replay[0].filename == __file__  # points at the caller of forward


def test_nonfinite_inputs_and_parameters_propagate_without_a_warning():
    p = Value(math.nan, label="p")
    tape = Tape.record(lambda v: (v[0] * 2.0).exp() + p * v[1], [1.0, 1.0], [p])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tape.forward([[math.inf, 1.0], [math.nan, 0.0], [1.0, 0.0]])
    assert math.isinf(out[0, 0]) or math.isnan(out[0, 0])
    assert np.isnan(out).all()  # p is nan, so every sample is
    batch = np.array([[math.inf, 1.0], [math.nan, 0.0], [1.0, 0.0]])
    assert_matches_scalar(lambda v: (v[0] * 2.0).exp() + p * v[1], batch, [p])


def test_anomaly_mode_raises_in_forward_naming_the_op_and_sample():
    x_label = Value(5.0, label="offset")
    tape = Tape.record(lambda v: (v[0] - x_label).log(), [6.0], [])
    with detect_anomaly(), pytest.raises(FloatingPointError,
                                         match=r"log produced -inf from finite input .* "
                                               r"in sample 1 of the tape replay"):
        tape.forward([[7.0], [5.0]])
    with pytest.warns(RuntimeWarning, match="log produced -inf"):
        tape.forward([[7.0], [5.0]])  # outside anomaly mode: a warning, no error


def test_anomaly_mode_raises_in_backward_naming_the_contribution():
    tape = Tape.record(lambda v: v[0].sqrt(), [1.0], [])
    with detect_anomaly():
        tape.forward([[4.0], [0.0]])  # sqrt(0) = 0 is finite
        with pytest.raises(FloatingPointError,
                           match=r"backward of sqrt .* gave inf for its input 0 .* in sample 1: "
                                 r"local derivative inf times upstream gradient 1.0"):
            tape.backward()


def test_anomaly_mode_checks_shared_operands_too():
    p = Value(0.0, label="p")
    tape = Tape.record(lambda v: v[0] * p.sqrt(), [1.0], [p])
    with detect_anomaly():
        tape.forward([[1.0]])
        with pytest.raises(FloatingPointError, match=r"backward of sqrt \(.*\) gave inf"):
            tape.backward()


# -- bad arguments ----------------------------------------------------------------------------


@pytest.fixture
def small_tape() -> Tape:
    p = Value(1.0, label="p")
    return Tape.record(lambda v: [p * v[0] + v[1], v[0]], [1.0, 2.0], [p])


@pytest.mark.parametrize("batch, match", [
    (np.ones(2), r"must have shape \(batch, 2\), got \(2,\)"),
    (np.ones((3, 3)), r"must have shape \(batch, 2\), got \(3, 3\)"),
    (np.ones((2, 2, 1)), r"got \(2, 2, 1\)"),
    ([[1.0, 2.0], [3.0]], r"X must be a \(batch, 2\) array of numbers"),
])
def test_forward_rejects_wrong_shapes(small_tape, batch, match):
    with pytest.raises(ValueError, match=match):
        small_tape.forward(batch)


@pytest.mark.parametrize("batch, match", [
    (np.array([[Value(1.0), Value(2.0)]], dtype=object), r"got objects \(Values\?\)"),
    (np.array([[True, False]]), r"got dtype bool"),
    (np.array([[1j, 2.0]]), r"got dtype complex128"),
    ([["1", "2"]], r"got dtype <U1"),
])
def test_forward_rejects_non_real_data(small_tape, batch, match):
    with pytest.raises(TypeError, match=match):
        small_tape.forward(batch)


def test_forward_accepts_integers_and_lists(small_tape):
    assert small_tape.forward([[1, 2], [3, 4]]).tolist() == [[3.0, 1.0], [7.0, 3.0]]


def test_backward_checks_grad_outputs(small_tape):
    with pytest.raises(RuntimeError, match=r"call forward\(X\) first"):
        small_tape.backward()
    small_tape.forward([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match=r"must have shape \(2, 2\) like the last forward's "
                                         r"outputs, got \(2,\)"):
        small_tape.backward(np.ones(2))  # (batch,) only for a single output
    with pytest.raises(ValueError, match=r"got \(3, 2\)"):
        small_tape.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"must be finite, got nan at \(1, 0\)"):
        small_tape.backward([[1.0, 1.0], [math.nan, 1.0]])
    with pytest.raises(TypeError, match=r"must hold real numbers, got dtype <U1"):
        small_tape.backward([["a", "b"], ["c", "d"]])
    dx = small_tape.backward([[1.0, 0.0], [2.0, 1.0]])
    assert dx.tolist() == [[1.0, 1.0], [3.0, 2.0]]


def test_record_rejects_what_cannot_be_traced():
    p = Value(1.0, label="w")
    with pytest.raises(TraceError, match=r"fn returned float at position 0, not a Value "
                                         r"\(use Values, not \.data\)"):
        Tape.record(lambda v: [v[0].data], [1.0], [])
    with pytest.raises(TraceError, match=r"a Value or a list/tuple of Values, got dict"):
        Tape.record(lambda v: {"y": v[0]}, [1.0], [])
    with pytest.raises(TraceError, match=r"fn returned an empty sequence"):
        Tape.record(lambda v: [], [1.0], [])
    with pytest.raises(TraceError, match=r"params\[1\] \(.*\) is not a leaf: it was computed "
                                         r"by 'mul'"):
        Tape.record(lambda v: v[0] * p, [1.0], [p, p * 2])
    with pytest.raises(TraceError, match=r"params\[2\] \(w=1.0\) is listed twice \(also at 0\)"):
        Tape.record(lambda v: v[0] * p, [1.0], [p, Value(2.0), p])


def test_record_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"fn must be callable, got int"):
        Tape.record(3, [1.0], [])
    with pytest.raises(TypeError, match=r"example must be a sequence of numbers, got float"):
        Tape.record(lambda v: v[0], 1.0, [])
    with pytest.raises(TypeError, match=r"example\[0\] needs a real number, got bool"):
        Tape.record(lambda v: v[0], [True], [])
    with pytest.raises(ValueError, match=r"example must be 1-D, got shape \(1, 2\)"):
        Tape.record(lambda v: v[0], np.ones((1, 2)), [])
    with pytest.raises(TypeError, match=r"params\[0\] is float, not a Value"):
        Tape.record(lambda v: v[0], [1.0], [1.0])
    with pytest.raises(TypeError, match=r"must be an ordered sequence, got a set"):
        Tape.record(lambda v: v[0], [1.0], {Value(1.0)})


def test_an_exception_inside_fn_surfaces_unchanged():
    def fn(v):
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        Tape.record(fn, [1.0], [])
