"""Losses, softmax, penalties and accuracy: closed forms, PyTorch, edge cases, bad input."""

import math

import numpy as np
import pytest
from chainrule.engine import Value, backward_order
from chainrule.nn import (
    MLP,
    SGD,
    Neuron,
    accuracy,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    elastic_net_penalty,
    hinge_loss,
    l1_penalty,
    l2_penalty,
    log_softmax,
    mae_loss,
    mse_loss,
    softmax,
)
from hypothesis import given, settings
from hypothesis import strategies as st


def values(xs):
    return [Value(float(x)) for x in xs]


def grads(vs):
    return [v.grad for v in vs]


# -- closed forms -------------------------------------------------------------------------------

def test_mse_and_mae_closed_forms_and_gradients():
    p = values([1.0, 2.0, -1.0])
    loss = mse_loss(p, [0.0, 4.0, -1.0])
    assert loss.data == pytest.approx((1 + 4 + 0) / 3)
    loss.backward()
    assert grads(p) == pytest.approx([2 * 1 / 3, 2 * -2 / 3, 0.0])
    q = values([3.0, 0.0])
    loss = mae_loss(q, np.array([1.0, 1.0]))
    assert loss.data == 1.5
    loss.backward()
    assert grads(q) == [0.5, -0.5]


def test_single_prediction_and_nested_rows():
    assert mse_loss(Value(3.0), 1).data == 4.0
    assert mse_loss(3.0, Value(1.0)).data == 4.0
    rows = [values([1.0, 2.0]), values([0.0, 0.0])]
    assert mse_loss(rows, [[1.0, 0.0], [2.0, 0.0]]).data == pytest.approx((0 + 4 + 4 + 0) / 4)
    assert mae_loss(rows, np.array([[1.0, 0.0], [2.0, 0.0]])).data == pytest.approx(1.0)


def test_hinge_closed_form():
    s = values([0.5, -2.0, 3.0, -0.2])
    loss = hinge_loss(s, [1, -1, -1, -1])
    assert loss.data == pytest.approx((0.5 + 0.0 + 4.0 + 0.8) / 4)
    loss.backward()
    assert grads(s) == pytest.approx([-0.25, 0.0, 0.25, 0.25])


def test_binary_cross_entropy_closed_form():
    p = values([0.8, 0.3])
    loss = binary_cross_entropy(p, [1, 0])
    assert loss.data == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    loss.backward()
    assert grads(p) == pytest.approx([-1 / 0.8 / 2, 1 / 0.7 / 2])


def test_binary_cross_entropy_at_probabilities_0_and_1_is_clamped_like_pytorch():
    for p, t, expected in [(0.0, 1.0, 100.0), (1.0, 0.0, 100.0), (0.0, 0.0, 0.0),
                           (1.0, 1.0, 0.0)]:
        v = Value(p)
        loss = binary_cross_entropy(v, t)
        assert loss.data == expected
        loss.backward()
        assert math.isfinite(v.grad)


def test_bce_with_logits_is_exact_at_plus_minus_1000():
    z = values([1000.0, -1000.0, 1000.0, -1000.0])
    loss = binary_cross_entropy_with_logits(z, [1, 0, 0, 1])
    assert loss.data == (0.0 + 0.0 + 1000.0 + 1000.0) / 4
    loss.backward()
    # d/dz = (sigmoid(z) - t) / n
    assert grads(z) == [0.0, 0.0, 0.25, -0.25]


def test_ntnu_softmax_table():
    """node x e^x softmax: 2 7.39 0.71 / 1 2.72 0.26 / -1 0.37 0.04 / total 10.48 1.00"""
    assert [round(math.exp(x), 2) for x in (2, 1, -1)] == [7.39, 2.72, 0.37]
    assert round(sum(math.exp(x) for x in (2, 1, -1)), 2) == 10.48
    probs = softmax([2.0, 1.0, -1.0])
    assert [round(p.data, 2) for p in probs] == [0.71, 0.26, 0.04]
    assert round(sum(p.data for p in probs), 2) == 1.00


def test_softmax_and_log_softmax_are_stable_at_plus_minus_1000():
    probs = softmax(values([1000.0, -1000.0, 1000.0]))
    assert [p.data for p in probs] == [0.5, 0.0, 0.5]
    logs = log_softmax([1000.0, -1000.0])
    assert [v.data for v in logs] == [0.0, -2000.0]
    z = values([1000.0, 999.0])
    probs = softmax(z)
    probs[0].backward()
    s0, s1 = 1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))
    assert grads(z) == pytest.approx([s0 * (1 - s0), -s0 * s1], rel=1e-12)
    assert softmax([5.0])[0].data == 1.0


def test_cross_entropy_at_plus_minus_1000():
    z = values([1000.0, -1000.0])
    loss = cross_entropy(z, 1)
    assert loss.data == 2000.0
    loss.backward()
    assert grads(z) == [1.0, -1.0]
    z = values([1000.0, -1000.0])
    loss = cross_entropy(z, 0)
    assert loss.data == 0.0
    loss.backward()
    assert grads(z) == [0.0, 0.0]


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    z = values([2.0, 1.0, -1.0])
    cross_entropy(z, 2).backward()
    p = [v.data for v in softmax([2.0, 1.0, -1.0])]
    assert grads(z) == pytest.approx([p[0], p[1], p[2] - 1.0], rel=1e-12)


def test_cross_entropy_accepts_one_hot_and_probability_targets():
    logits = [0.3, -1.2, 2.0]
    by_index = cross_entropy(logits, 2).data
    assert cross_entropy(logits, [0, 0, 1]).data == pytest.approx(by_index, rel=1e-15)
    assert cross_entropy(logits, values([0, 0, 1])).data == pytest.approx(by_index, rel=1e-15)
    logs = [v.data for v in log_softmax(logits)]
    assert cross_entropy(logits, [0.2, 0.3, 0.5]).data == pytest.approx(
        -(0.2 * logs[0] + 0.3 * logs[1] + 0.5 * logs[2]))


def test_cross_entropy_batches_average():
    rows = [[0.3, -1.2, 2.0], [1.0, 1.0, 1.0]]
    expected = (cross_entropy(rows[0], 0).data + cross_entropy(rows[1], 2).data) / 2
    assert cross_entropy(rows, [0, 2]).data == pytest.approx(expected, rel=1e-15)
    assert cross_entropy(np.array(rows), np.array([0, 2])).data == pytest.approx(expected)
    assert cross_entropy(rows, [[1, 0, 0], [0, 0, 1]]).data == pytest.approx(expected)
    assert cross_entropy(rows, [0, 2]).data == pytest.approx(
        (math.log(sum(math.exp(z) for z in rows[0])) - 0.3 + math.log(3)) / 2)


# -- the graph does not branch on the target ------------------------------------------------------

def _ops(loss):
    return [(n.op, len(n.parents)) for n in backward_order(loss)]


@pytest.mark.parametrize(
    ("fn", "pred", "targets"),
    [
        (mse_loss, 0.3, (0.0, 1.0)),
        (mae_loss, 0.3, (0.0, 1.0)),
        (hinge_loss, 0.3, (-1.0, 1.0)),
        (binary_cross_entropy, 0.3, (0.0, 1.0)),
        (binary_cross_entropy_with_logits, 0.3, (0.0, 1.0)),
    ],
)
def test_binary_losses_build_the_same_graph_for_every_target(fn, pred, targets):
    shapes = []
    for t in targets:
        target = Value(t)
        loss = fn(Value(pred), target)
        loss.backward()
        shapes.append(_ops(loss))
        assert target in {p for n in backward_order(loss) for p in n.parents}
    assert shapes[0] == shapes[1]


def test_cross_entropy_with_value_one_hot_builds_the_same_graph_for_every_class():
    shapes = [_ops(cross_entropy(values([0.5, -1.0, 2.0]), values(onehot)))
              for onehot in ([1, 0, 0], [0, 1, 0], [0, 0, 1])]
    assert shapes[0] == shapes[1] == shapes[2]


# -- NTNU (FCNN, Learning), "Learning slowdown": MSE with a sigmoid output -----------------------

def test_ntnu_mse_vs_cross_entropy_learning_slowdown():
    """x = 1, y = 0: with C = (y - a)^2 / 2, dC/dw = (a - y) s'(z) x = a s'(z);
    with cross-entropy, dC/dw = x (s(z) - y). A saturated neuron (w = b = 2,
    a = 0.98) therefore learns slowly from MSE and quickly from cross-entropy."""
    runs = {}
    for name in ("mse", "ce"):
        n = Neuron(1, activation="sigmoid", seed=0)
        n.w[0].data, n.b.data = 2.0, 2.0
        a = n([1.0])
        loss = 0.5 * mse_loss(a, 0.0) if name == "mse" else binary_cross_entropy(a, 0.0)
        loss.backward()
        s = a.data
        expected = s * s * (1 - s) if name == "mse" else s
        assert n.w[0].grad == pytest.approx(expected, rel=1e-12)
        assert n.b.grad == pytest.approx(expected, rel=1e-12)
        opt = SGD(n.parameters(), lr=0.15)
        for _ in range(30):
            opt.zero_grad()
            a = n([1.0])
            (0.5 * mse_loss(a, 0.0) if name == "mse" else binary_cross_entropy(a, 0.0)).backward()
            opt.step()
        runs[name] = n([1.0]).data
    assert runs["mse"] > 0.9   # still saturated: almost no progress
    assert runs["ce"] < 0.25   # cross-entropy has learned


# -- against PyTorch ------------------------------------------------------------------------------

def _torch_case(torch, fn_ours, fn_torch, preds, targets, target_dtype=None):
    ours = values(preds)
    loss = fn_ours(ours, targets)
    loss.backward()
    tp = torch.tensor(preds, dtype=torch.float64, requires_grad=True)
    tt = torch.tensor(targets, dtype=target_dtype or torch.float64)
    ref = fn_torch(tp, tt)
    ref.backward()
    assert loss.data == pytest.approx(ref.item(), rel=1e-12, abs=1e-15)
    assert grads(ours) == pytest.approx(tp.grad.tolist(), rel=1e-10, abs=1e-15)


def test_losses_against_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional  # noqa: N806
    _torch_case(torch, mse_loss, F.mse_loss, [0.5, -1.0, 2.0], [0.0, 1.0, 2.5])
    _torch_case(torch, mae_loss, F.l1_loss, [0.5, -1.0, 2.0], [0.0, 1.0, 2.5])
    _torch_case(torch, binary_cross_entropy, F.binary_cross_entropy,
                [0.9, 0.2, 0.6, 0.5], [1.0, 0.0, 0.0, 0.3])
    _torch_case(torch, binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
                [2.0, -0.5, 30.0, -1000.0, 1000.0], [1.0, 0.0, 0.0, 1.0, 0.5])
    _torch_case(torch, hinge_loss, lambda s, t: torch.clamp(1 - s * t, min=0).mean(),
                [0.5, -2.0, 3.0, -0.2], [1.0, -1.0, -1.0, -1.0])


def test_bce_values_at_0_and_1_against_pytorch():
    torch = pytest.importorskip("torch")
    p = [0.0, 1.0, 0.0, 1.0]
    t = [1.0, 0.0, 0.0, 1.0]
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(p, dtype=torch.float64),
                                                   torch.tensor(t, dtype=torch.float64))
    assert binary_cross_entropy(p, t).data == ref.item() == 50.0


@pytest.mark.parametrize("logits", [[0.3, -1.2, 2.0], [1000.0, -1000.0, 0.0],
                                    [-1000.0, -1000.0, -999.0]])
def test_softmax_log_softmax_and_cross_entropy_against_pytorch(logits):
    torch = pytest.importorskip("torch")
    tz = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64)
    (torch.softmax(tz, 0) * weights).sum().backward()
    z = values(logits)
    Value.sum([p * w for p, w in zip(softmax(z), weights.tolist())]).backward()
    assert grads(z) == pytest.approx(tz.grad.tolist(), rel=1e-10, abs=1e-300)
    assert [v.data for v in log_softmax(logits)] == pytest.approx(
        torch.log_softmax(tz.detach(), 0).tolist(), rel=1e-12)
    for target in range(3):
        tz.grad = None
        ref = torch.nn.functional.cross_entropy(tz[None], torch.tensor([target]))
        ref.backward()
        z = values(logits)
        loss = cross_entropy(z, target)
        loss.backward()
        assert loss.data == pytest.approx(ref.item(), rel=1e-12, abs=1e-300)
        assert grads(z) == pytest.approx(tz.grad.tolist(), rel=1e-10, abs=1e-300)


def test_batched_cross_entropy_with_probability_targets_against_pytorch():
    torch = pytest.importorskip("torch")
    rows = [[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]]
    probs = [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]
    tz = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(tz, torch.tensor(probs, dtype=torch.float64))
    ref.backward()
    zs = [values(r) for r in rows]
    loss = cross_entropy(zs, probs)
    loss.backward()
    assert loss.data == pytest.approx(ref.item(), rel=1e-12)
    assert grads(zs[0] + zs[1]) == pytest.approx(tz.grad.flatten().tolist(), rel=1e-10)


# -- bad inputs (BAD_INPUTS 26, 40) ---------------------------------------------------------------

@pytest.mark.parametrize("fn", [mse_loss, mae_loss, binary_cross_entropy,
                                binary_cross_entropy_with_logits, hinge_loss])
def test_length_mismatch_and_empty_batch(fn):
    with pytest.raises(ValueError, match=r"differ in length \(2 vs 3\)"):
        fn(values([0.5, 0.5]), [1, 1, 1])
    with pytest.raises(ValueError, match=r"empty batch"):
        fn([], [])
    with pytest.raises(ValueError, match=r"2 predictions need 2 targets"):
        fn(values([0.5, 0.5]), 1)


def test_labels_outside_the_loss_domain():
    with pytest.raises(ValueError, match=r"target 1 is 0.0; targets must be -1 or \+1"):
        hinge_loss(values([0.5, 0.5]), [1, 0])
    with pytest.raises(ValueError, match=r"target 0 is 2.0; targets must lie in \[0, 1\]"):
        binary_cross_entropy(values([0.5]), [2])
    with pytest.raises(ValueError, match=r"target 0 is -1.0; targets must lie in \[0, 1\]"):
        binary_cross_entropy_with_logits(values([0.5]), [-1])
    with pytest.raises(ValueError, match=r"prediction 0 is 1.5, not a probability"):
        binary_cross_entropy(values([1.5]), [1])
    with pytest.raises(ValueError, match=r"class index 3 is outside \[0, 2\] for 3 logits"):
        cross_entropy([0.1, 0.2, 0.3], 3)
    with pytest.raises(ValueError, match=r"class index -1 is outside"):
        cross_entropy([0.1, 0.2, 0.3], -1)
    with pytest.raises(ValueError, match=r"class index 5 is outside"):
        cross_entropy([[0.1, 0.2, 0.3]], [5])
    with pytest.raises(TypeError, match=r"must be an int index .* got float 1.0"):
        cross_entropy([0.1, 0.2, 0.3], 1.0)
    with pytest.raises(ValueError, match=r"target has 2 class probabilities, logits have 3"):
        cross_entropy([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match=r"target probability 0 is 1.5, outside \[0, 1\]"):
        cross_entropy([0.1, 0.2], [1.5, -0.5])


def test_other_bad_inputs():
    with pytest.raises(TypeError, match=r"predictions must be a sequence, got str"):
        mse_loss("a", 1.0)
    with pytest.raises(TypeError, match=r"prediction 1 is str, not a Value, a number or a row"):
        mse_loss([Value(1.0), "a"], [1.0, 2.0])
    with pytest.raises(TypeError, match=r"target 0 must be a Value or a real number, got str"):
        mse_loss([Value(1.0)], ["1"])
    with pytest.raises(ValueError, match=r"empty list of logits"):
        softmax([])
    with pytest.raises(ValueError, match=r"rows of logits differ in length"):
        cross_entropy([[0.1, 0.2], [0.1, 0.2, 0.3]], [0, 0])
    with pytest.raises(ValueError, match=r"logits and targets differ in length \(2 vs 1\)"):
        cross_entropy([[0.1, 0.2], [0.1, 0.2]], [0])
    with pytest.raises(ValueError, match=r"empty batch"):
        cross_entropy([], [])
    with pytest.raises(TypeError, match=r"must be a sequence, got set"):
        mse_loss({1.0, 2.0}, [1.0, 2.0])


def test_nan_predictions_give_a_nan_loss_not_an_exception():
    assert math.isnan(binary_cross_entropy(Value(math.nan), 1.0).data)
    assert math.isnan(mse_loss(Value(math.nan), 1.0).data)
    assert math.isnan(cross_entropy([math.nan, 0.0], 0).data)


# -- penalties ------------------------------------------------------------------------------------

def test_l1_l2_and_elastic_net_closed_forms():
    w = values([1.5, -2.0, 0.0])
    p = l1_penalty(w, 0.1)
    assert p.data == pytest.approx(0.35)
    p.backward()
    assert grads(w) == pytest.approx([0.1, -0.1, 0.0])
    w = values([1.5, -2.0])
    p = l2_penalty(w, 0.5)
    assert p.data == pytest.approx(0.5 * (2.25 + 4.0))
    p.backward()
    assert grads(w) == pytest.approx([1.5, -2.0])
    w = values([1.0, -2.0])
    p = elastic_net_penalty(w, l1=1.0, l2=0.5)
    assert p.data == pytest.approx(3.0 + 2.5)
    p.backward()
    assert grads(w) == pytest.approx([1.0 + 1.0, -1.0 - 2.0])


def test_penalties_accept_a_module_and_refuse_bad_input():
    m = MLP(2, [3, 1], seed=0)
    assert l2_penalty(m).data == pytest.approx(sum(p.data ** 2 for p in m.parameters()))
    with pytest.raises(TypeError, match=r"ordered sequence of Values, got a set"):
        l1_penalty(set(m.parameters()))
    with pytest.raises(TypeError, match=r"item 1 is float, not a Value"):
        l2_penalty([Value(1.0), 2.0])
    with pytest.raises(ValueError, match=r"strength must be finite and >= 0, got -1.0"):
        l2_penalty(m, -1.0)


# -- accuracy -------------------------------------------------------------------------------------

def test_accuracy_binary_and_multiclass():
    assert accuracy([0.3, -1.2, 2.0, -0.1], [1, 0, 0, 0]) == 0.75
    assert accuracy(values([0.3, -1.2]), [1, -1]) == 1.0
    assert accuracy([0.6, 0.4], [1, 1], threshold=0.5) == 0.5
    assert accuracy([[0.1, 2.0, 0.3], [5.0, 1.0, 0.0]], np.array([1, 2])) == 0.5
    with pytest.raises(ValueError, match=r"differ in length \(2 vs 1\)"):
        accuracy([0.1, 0.2], [1])
    with pytest.raises(ValueError, match=r"empty batch"):
        accuracy([], [])


# -- properties -------------------------------------------------------------------------------

logit_lists = st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(logit_lists, st.floats(-50.0, 50.0))
def test_softmax_is_a_distribution_and_shift_invariant(logits, shift):
    probs = [p.data for p in softmax(logits)]
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert math.fsum(probs) == pytest.approx(1.0, abs=1e-12)
    shifted = [p.data for p in softmax([z + shift for z in logits])]
    assert shifted == pytest.approx(probs, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(logit_lists, st.data())
def test_cross_entropy_is_finite_non_negative_and_equals_minus_log_softmax(logits, data):
    target = data.draw(st.integers(0, len(logits) - 1))
    z = values(logits)
    loss = cross_entropy(z, target)
    assert math.isfinite(loss.data) and loss.data >= 0.0
    assert loss.data == pytest.approx(-log_softmax(logits)[target].data, rel=1e-12, abs=1e-12)
    loss.backward()
    assert all(math.isfinite(g) for g in grads(z))
    assert math.fsum(grads(z)) == pytest.approx(0.0, abs=1e-9)  # softmax - one-hot sums to 0
