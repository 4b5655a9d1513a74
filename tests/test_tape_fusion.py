"""The tape's fusion of layers into matrix products (``Tape.record(..., fuse=True)``).

A fused tape must give what the per-op replay gives (``fuse=False``) and what a loop of
scalar backward calls gives, to 1e-12 relative (``differential.magnitudes`` scales the
bound: BLAS adds a neuron's terms in its own order), on random networks with twists
that look like a layer and are not one (``differential.networks``), and bit for bit
where the order of summation is the same. With an inf or nan, and in anomaly mode, the
tape runs the per-op plan, so warnings, errors and structural zeros are the same.
"""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest
from chainrule.engine import Value, detect_anomaly
from chainrule.engine.tape import Tape
from chainrule.nn import MLP, Layer
from chainrule.viz.graph import topological_nodes
from differential import (
    N_PARAMS,
    VALUE_OPS,
    Network,
    close,
    decode_network,
    magnitudes,
    networks,
    run,
    same,
)
from hypothesis import given, settings
from hypothesis import strategies as st

RTOL = 1e-12
EXAMPLES = max(1_000, settings.default.max_examples)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _record(net: Network, params: list[Value], example: list[float], fuse: bool) -> Tape:
    return Tape.record(lambda v: run(net.program, [*params, *v], VALUE_OPS)[-1], example,
                       params, fuse=fuse)


def check_network(net: Network, values: list[float], batch: list[list[float]]) -> int:
    """Fused and per-op tapes against a scalar loop; returns the fused tape's layers."""
    where = f"\n{net}\nparams {values}\nbatch {batch}"
    outs, dxs, grads, scales = [], [], [0.0] * N_PARAMS, [0.0] * N_PARAMS
    for sample in batch:
        ps = [Value(v) for v in values]
        xs = [Value(v) for v in sample]
        y = run(net.program, [*ps, *xs], VALUE_OPS)[-1]
        y.backward()
        forward, backward = magnitudes(topological_nodes(y), y)
        outs.append((y.data, forward[y]))
        dxs.append([(x.grad, backward.get(x, 0.0)) for x in xs])
        for i, p in enumerate(ps):
            grads[i] += p.grad
            scales[i] += backward.get(p, 0.0)
    results = {}
    for fuse in (True, False):
        params = [Value(v) for v in values]
        tape = _record(net, params, batch[0], fuse)
        out, dx = tape.forward(batch), tape.backward()
        for k in range(len(batch)):
            want, scale = outs[k]
            assert close(float(out[k, 0]), want, scale, RTOL), \
                f"fuse={fuse}: value {out[k, 0]} != {want} (sample {k}){where}"
            for i, (g, s) in enumerate(dxs[k]):
                assert close(float(dx[k, i]), g, s, RTOL), \
                    f"fuse={fuse}: d/dx{i} {dx[k, i]} != {g} (sample {k}){where}"
        for i, p in enumerate(params):
            assert close(p.grad, grads[i], scales[i], RTOL), \
                f"fuse={fuse}: p{i}.grad {p.grad} != loop {grads[i]}{where}"
        results[fuse] = (tape, out, dx, [p.grad for p in params])
    # The two replays agree with each other as closely as with the loop; where nothing
    # was fused they are the same program.
    tape, out, dx, pg = results[True]
    if "layers=" not in repr(tape):
        _, out2, dx2, pg2 = results[False]
        assert all(same(a, b) for a, b in zip([*out.ravel(), *dx.ravel(), *pg],
                                               [*out2.ravel(), *dx2.ravel(), *pg2])), where
    return tape._fast.n_layers if tape._fast is not None else 0


inputs = st.one_of(st.floats(-3.0, 3.0), st.sampled_from([0.0, -0.0, 1.0, -1.0]))
edges = st.sampled_from([math.inf, -math.inf, math.nan, 710.0, -750.0])


@st.composite
def cases(draw):
    net = draw(networks())
    # (bytes draw fast: weights in [-1.5, 1.5], never 0)
    values = [(b - 127.5) / 85 for b in draw(st.binary(min_size=N_PARAMS, max_size=N_PARAMS))]
    size = draw(st.integers(1, 4))
    batch = [draw(st.lists(inputs, min_size=net.n_x, max_size=net.n_x)) for _ in range(size)]
    if draw(st.integers(0, 9)) == 0:  # an edge value: the fused tape falls back
        k, i = draw(st.integers(0, size - 1)), draw(st.integers(0, net.n_x - 1))
        batch[k][i] = draw(edges)
    return net, values, batch


@settings(max_examples=EXAMPLES)
@given(cases())
def test_fused_and_per_op_replays_agree_with_the_scalar_loop(case):
    check_network(*case)


def test_the_random_networks_fuse_most_layers_and_break_on_every_twist():
    """The generator is not vacuous: plain networks fuse, and every twist occurs."""
    rng = random.Random(7)
    fused, twists = 0, set()
    for _ in range(120):
        net = decode_network([rng.randrange(256) for _ in range(160)])
        twists.update(net.twists)
        values = [rng.uniform(-1, 1) for _ in range(N_PARAMS)]
        batch = [[rng.uniform(-2, 2) for _ in range(net.n_x)] for _ in range(3)]
        fused += check_network(net, values, batch) > 0
    assert fused >= 80, fused
    assert twists >= {"x*w", "x*x", "w*constant", "product reused", "input twice",
                      "no bias", "two biases", "constant bias", "input as bias",
                      "shared bias", "shared weights", "sum reused", "activation reused",
                      "penalty"}, twists


# -- named cases ------------------------------------------------------------------------------


def _loop(fn, params, batch):
    for p in params:
        p.grad = 0.0
    outs, dxs = [], []
    for row in batch:
        xs = [Value(float(v)) for v in row]
        y = fn(xs)
        ys = y if isinstance(y, list) else [y]
        Value.sum(ys).backward()
        outs.append([v.data for v in ys])
        dxs.append([x.grad for x in xs])
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return np.array(outs), np.array(dxs), grads


def test_neurons_that_share_weights_and_a_bias_get_every_contribution():
    # Found by the random networks: a weight in two neurons of one fused layer got only
    # one neuron's gradient (a fancy-index += adds a repeated index once).
    w, b = [Value(0.5), Value(-0.3)], Value(0.1)

    def fn(xs):
        return [Value.sum([w[0] * xs[0], w[1] * xs[1], b]).tanh() for _ in range(2)]

    batch = np.array([[1.0, 2.0], [0.3, -0.4]])
    outs, dxs, grads = _loop(fn, [*w, b], batch)
    tape = Tape.record(fn, batch[0], [*w, b])
    assert "layers=1" in repr(tape)
    np.testing.assert_allclose(tape.forward(batch), outs, rtol=1e-15)
    np.testing.assert_allclose(tape.backward(), dxs, rtol=1e-15)
    np.testing.assert_allclose([p.grad for p in [*w, b]], grads, rtol=1e-15)


def test_an_mlp_fuses_every_layer_with_its_activation():
    random.seed(0)
    model = MLP(2, [16, 16, 1])
    tape = Tape.record(lambda xs: model(xs), [0.0, 0.0], model.parameters())
    assert "layers=3" in repr(tape)
    batch = np.random.default_rng(0).normal(size=(50, 2))
    per_op = Tape.record(lambda xs: model(xs), [0.0, 0.0], model.parameters(), fuse=False)
    assert "layers" not in repr(per_op)
    out, dx = tape.forward(batch), tape.backward(np.full(50, 0.02))
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    np.testing.assert_allclose(out, per_op.forward(batch), rtol=1e-12)
    np.testing.assert_allclose(dx, per_op.backward(np.full(50, 0.02)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads, [p.grad for p in model.parameters()], rtol=1e-12,
                               atol=1e-15)


def test_one_input_neurons_are_bit_identical_to_the_per_op_replay():
    # w * x + b: the same product, then the bias, in both replays.
    layer = Layer(1, 8, "tanh", seed=1)
    batch = np.linspace(-3, 3, 41)[:, None]
    results = []
    for fuse in (True, False):
        tape = Tape.record(lambda xs: layer(xs), [0.0], layer.parameters(), fuse=fuse)
        out, dx = tape.forward(batch), tape.backward()
        results.append((out, dx, [p.grad for p in layer.parameters()]))
        layer.zero_grad()
    (a, da, ga), (b, db, gb) = results
    assert np.array_equal(a, b)
    # (sums over the neurons and over the batch: the fused ones in BLAS's order)
    np.testing.assert_allclose(da, db, rtol=1e-13)
    np.testing.assert_allclose(ga, gb, rtol=1e-13, atol=1e-12)  # (a symmetric batch: 0s)


def test_with_an_inf_the_fused_tape_replays_the_per_op_plan():
    random.seed(2)
    model = MLP(2, [4, 1])
    batch = np.array([[0.5, math.inf], [1.0, -1.0], [math.nan, 0.0]])
    got = []
    for fuse in (True, False):
        tape = Tape.record(lambda xs: model(xs), [0.0, 0.0], model.parameters(), fuse=fuse)
        out, dx = tape.forward(batch), tape.backward()
        got.append((out, dx, [p.grad for p in model.parameters()]))
        model.zero_grad()
    (a, da, ga), (b, db, gb) = got
    assert np.array_equal(a, b, equal_nan=True) and np.array_equal(da, db, equal_nan=True)
    assert np.array_equal(ga, gb, equal_nan=True)


def test_a_nonfinite_result_warns_once_naming_the_op_as_without_fusion():
    w, b = [Value(400.0), Value(400.0)], Value(0.0)
    tape = Tape.record(lambda xs: Value.sum([w[0] * xs[0], w[1] * xs[1], b]).exp(), [0.0, 0.0],
                       [*w, b])
    assert "layers=1" in repr(tape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = tape.forward([[1.0, 1.0], [0.0, 0.0]])
    assert out[0, 0] == math.inf and out[1, 0] == 1.0
    messages = [str(c.message) for c in caught]
    assert len(messages) == 1 and "exp produced inf" in messages[0], messages
    assert "1 of 2 samples" in messages[0]
    assert caught[0].filename == __file__  # points at the caller's line


def test_anomaly_mode_replays_the_per_op_plan_and_names_the_op():
    w, b = [Value(400.0), Value(400.0)], Value(0.0)
    tape = Tape.record(lambda xs: Value.sum([w[0] * xs[0], w[1] * xs[1], b]).exp(), [0.0, 0.0],
                       [*w, b])
    with detect_anomaly(), pytest.raises(FloatingPointError, match="exp"):
        tape.forward([[1.0, 1.0]])


def test_a_structural_zero_stops_an_infinite_gradient_also_when_fused():
    # relu(x) at x < 0 has derivative 0: an infinite seed gradient behind it is not
    # multiplied into 0 * inf = nan, on the fused path as on the scalar one.
    w, b = [Value(1.0)], Value(-5.0)
    tape = Tape.record(lambda xs: Value.sum([w[0] * xs[0], b]).relu() * xs[0] ** -1,
                       [1.0], [*w, b])
    assert "layers=1" in repr(tape)
    tape.forward([[0.0]])  # 1/0 = inf upstream of the relu, whose derivative is 0
    tape.backward()
    assert w[0].grad == 0.0 and b.grad == 0.0


def test_fuse_must_be_a_bool():
    with pytest.raises(TypeError, match=r"Tape.record: fuse must be True or False, got int"):
        Tape.record(lambda xs: xs[0], [0.0], fuse=1)
