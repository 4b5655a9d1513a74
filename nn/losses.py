"""Losses, softmax, regularisation penalties and accuracy, over Values.

Every loss is a plain function ``loss(predictions, targets) -> Value``. ``predictions``
is one prediction (a ``Value`` or a number) or a batch (a sequence of them, or for
``cross_entropy`` a sequence of logit lists); ``targets`` matches it. A batch is
averaged, as PyTorch's ``reduction="mean"`` does. Targets may be numbers, numpy arrays
or ``Value``s. The graph of a loss never branches on a target's value (a Value target
is an ordinary input), so one recorded sample can be replayed with other targets.

Numerical care, as in PyTorch:

* ``binary_cross_entropy`` clamps each log at -100, so p in {0, 1} gives a finite loss;
* ``binary_cross_entropy_with_logits`` uses softplus, exact for logits of +-1000;
* ``softmax``, ``log_softmax`` and ``cross_entropy`` subtract the largest logit first
  (the log-sum-exp trick), so logits of +-1000 give exact probabilities and gradients.

What a loss tells :func:`~chainrule.nn.fit`, as attributes of the function:
``target_encoding``, how class labels are given to it (``"0/1"`` for the binary
cross-entropies, ``"-1/+1"`` for hinge, ``"index"`` for ``cross_entropy``, None for as they
are); ``predictions``, what it reads the model's outputs as (``"probabilities"``, with
0.5 between two classes, ``"scores"``, with 0 between them, or None for regression
values); and ``trace_safe``, True when its graph is the same for every input, so the tape
can replay it. A loss of one's own may set the same attributes.

Example:
    >>> from chainrule.engine import Value
    >>> round(mse_loss([Value(1.0), Value(2.0)], [0.0, 4.0]).data, 6)
    2.5
    >>> round(cross_entropy([Value(1000.0), Value(-1000.0)], 1).data, 6)
    2000.0
    >>> hinge_loss.target_encoding, binary_cross_entropy.predictions
    ('-1/+1', 'probabilities')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
from chainrule.engine import Value
from chainrule.engine.checks import is_integer, is_real, number

from .module import Module

__all__ = [
    "accuracy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "elastic_net_penalty",
    "hinge_loss",
    "l1_penalty",
    "l2_penalty",
    "log_softmax",
    "mae_loss",
    "mse_loss",
    "softmax",
]

_vsum = Value.sum
_vmax = Value.max
_F = TypeVar("_F", bound=Callable[..., Value])
# log(p) is clamped at -100 like torch.nn.functional.binary_cross_entropy. Clamping p
# (not log p) at e^-100 gives the same value and, at p = 0 exactly, a finite gradient
# where clamping the log would give 0 * inf = nan.
_LOG_FLOOR = math.exp(-100.0)


# -- argument handling ------------------------------------------------------------------------

def _is_scalar(x: Any) -> bool:
    return isinstance(x, Value) or is_real(x)


def _scalar(x: Any, what: str) -> Value | float:
    """A Value or a float, refusing everything else."""
    if isinstance(x, Value):
        return x
    if is_real(x):
        return float(x)
    raise TypeError(f"{what} must be a Value or a real number, got {type(x).__name__}")


def _seq(x: Any, what: str) -> list[Any]:
    if isinstance(x, np.ndarray):
        return list(x) if x.ndim else [x.item()]
    if isinstance(x, (str, bytes, set, frozenset, dict)) or not isinstance(x, Iterable):
        raise TypeError(f"{what} must be a sequence, got {type(x).__name__}")
    return list(x)


def _batch_targets(items: list[Any], target: Any, name: str, noun: str) -> list[Any]:
    """The targets of a batch of ``len(items)`` predictions (or rows of logits), one each."""
    if _is_scalar(target):
        raise ValueError(f"{name}: {len(items)} {noun} need {len(items)} targets, "
                         "got one number")
    targets = _seq(target, f"{name} targets")
    if len(items) != len(targets):
        raise ValueError(f"{name}: {noun} and targets differ in length ({len(items)} vs "
                         f"{len(targets)})")
    return targets


def _pairs(pred: Any, target: Any, name: str) -> tuple[list[Value | float], list[Value | float]]:
    """Flatten matching predictions and targets (a scalar, a batch, or a batch of rows)."""
    if _is_scalar(pred):
        if not _is_scalar(target):
            raise ValueError(f"{name}: one prediction needs one target, got "
                             f"{type(target).__name__}")
        return [_scalar(pred, f"{name} prediction")], [_scalar(target, f"{name} target")]
    preds = _seq(pred, f"{name} predictions")
    targets = _batch_targets(preds, target, name, "predictions")
    if not preds:
        raise ValueError(f"{name}: empty batch (no predictions)")
    ps: list[Value | float] = []
    ts: list[Value | float] = []
    for i, (p, t) in enumerate(zip(preds, targets)):
        if _is_scalar(p):
            ps.append(_scalar(p, f"{name} prediction {i}"))
            ts.append(_scalar(t, f"{name} target {i}"))
            continue
        if isinstance(p, (str, bytes)) or not isinstance(p, (Iterable, np.ndarray)):
            raise TypeError(f"{name}: prediction {i} is {type(p).__name__}, not a Value, "
                            "a number or a row of them")
        row_p, row_t = _seq(p, f"{name} prediction {i}"), _seq(t, f"{name} target {i}")
        if len(row_p) != len(row_t):
            raise ValueError(f"{name}: prediction {i} has {len(row_p)} entries, "
                             f"its target {len(row_t)}")
        ps.extend(_scalar(v, f"{name} prediction {i}") for v in row_p)
        ts.extend(_scalar(v, f"{name} target {i}") for v in row_t)
    if not ps:
        raise ValueError(f"{name}: empty batch (no predictions)")
    return ps, ts


def _as_value(x: Value | float) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _data(x: Value | float) -> float:
    return x.data if isinstance(x, Value) else x


def _mean(terms: list[Value]) -> Value:
    if len(terms) == 1:
        return terms[0]
    return _vsum(terms) / len(terms)


# -- what a loss tells fit ------------------------------------------------------------------------

def _loss(targets: str | None, predictions: str | None) -> Callable[[_F], _F]:
    """Mark a built-in loss with what ``fit`` needs to know about it (see the module
    docstring): no list of losses to compare against, so a loss of one's own can say the
    same by setting the three attributes."""
    def mark(fn: _F) -> _F:
        fn.target_encoding = targets  # type: ignore[attr-defined]
        fn.predictions = predictions  # type: ignore[attr-defined]
        fn.trace_safe = True  # type: ignore[attr-defined]
        return fn
    return mark


# -- regression losses --------------------------------------------------------------------------

@_loss(targets=None, predictions=None)
def mse_loss(predictions: Any, targets: Any) -> Value:
    """Mean squared error ``mean((p - t)^2)`` (PyTorch's ``mse_loss``, no 1/2 factor).

    Example:
        >>> mse_loss(Value(3.0), 1.0).data
        4.0
    """
    ps, ts = _pairs(predictions, targets, "mse_loss")
    return _mean([(_as_value(p) - t) ** 2 for p, t in zip(ps, ts)])


@_loss(targets=None, predictions=None)
def mae_loss(predictions: Any, targets: Any) -> Value:
    """Mean absolute error ``mean(|p - t|)`` (PyTorch's ``l1_loss``).

    Example:
        >>> mae_loss([Value(3.0), Value(0.0)], [1.0, 1.0]).data
        1.5
    """
    ps, ts = _pairs(predictions, targets, "mae_loss")
    return _mean([abs(_as_value(p) - t) for p, t in zip(ps, ts)])


# -- binary classification ------------------------------------------------------------------------

def _check_01(ts: list[Value | float], name: str) -> None:
    for i, t in enumerate(ts):
        v = _data(t)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name}: target {i} is {v!r}; targets must lie in [0, 1]")


@_loss(targets="0/1", predictions="probabilities")
def binary_cross_entropy(probabilities: Any, targets: Any) -> Value:
    """``mean(-(t log p + (1 - t) log(1 - p)))`` for probabilities p in [0, 1].

    Each log is clamped at -100 (as PyTorch does), so a confident mistake costs 100
    instead of inf. Targets are in [0, 1] (class labels 0/1, or soft labels).

    Example:
        >>> round(binary_cross_entropy(Value(0.8), 1.0).data, 6)
        0.223144
        >>> binary_cross_entropy(Value(0.0), 1.0).data
        100.0
    """
    ps, ts = _pairs(probabilities, targets, "binary_cross_entropy")
    _check_01(ts, "binary_cross_entropy")
    for i, p in enumerate(ps):
        v = _data(p)
        if v < 0.0 or v > 1.0:  # nan passes, so that fit() reports it as a nan loss
            raise ValueError(
                f"binary_cross_entropy: prediction {i} is {v!r}, not a probability in [0, 1] "
                "(use binary_cross_entropy_with_logits for raw scores)"
            )
    terms = []
    for p, t in zip(ps, ts):
        p = _as_value(p)
        log_p = p.clamp(_LOG_FLOOR, 1.0).log()
        log_q = (1.0 - p).clamp(_LOG_FLOOR, 1.0).log()
        # -(t log p + (1-t) log q), written without branching on t
        terms.append(-(t * log_p + (1.0 - t) * log_q))
    return _mean(terms)


@_loss(targets="0/1", predictions="scores")
def binary_cross_entropy_with_logits(logits: Any, targets: Any) -> Value:
    """Binary cross-entropy of ``sigmoid(z)``, computed stably from the logit z.

    Algebra: -(t log s(z) + (1-t) log(1 - s(z))) = softplus(z) - t z, and softplus is
    exact for any z, so logits of +-1000 give exact losses and gradients (s(z) - t).

    Example:
        >>> binary_cross_entropy_with_logits(Value(-1000.0), 1.0).data
        1000.0
    """
    zs, ts = _pairs(logits, targets, "binary_cross_entropy_with_logits")
    _check_01(ts, "binary_cross_entropy_with_logits")
    return _mean([_as_value(z).softplus() - t * z for z, t in zip(zs, ts)])


@_loss(targets="-1/+1", predictions="scores")
def hinge_loss(scores: Any, targets: Any) -> Value:
    """``mean(max(0, 1 - t s))`` with targets t in {-1, +1} (SVM max-margin loss).

    Example:
        >>> hinge_loss([Value(0.5), Value(-2.0)], [1, -1]).data
        0.25
    """
    ss, ts = _pairs(scores, targets, "hinge_loss")
    for i, t in enumerate(ts):
        v = _data(t)
        if v not in (-1.0, 1.0):
            raise ValueError(f"hinge_loss: target {i} is {v!r}; targets must be -1 or +1")
    return _mean([(1.0 - _as_value(s) * t).relu() for s, t in zip(ss, ts)])


# -- softmax and multi-class ----------------------------------------------------------------------

def _logit_row(logits: Any, name: str) -> list[Value]:
    row = _seq(logits, f"{name} logits")
    if not row:
        raise ValueError(f"{name}: empty list of logits")
    return [_as_value(_scalar(z, f"{name} logit {i}")) for i, z in enumerate(row)]


def _shifted(zs: list[Value]) -> list[Value]:
    # Subtracting the maximum changes nothing mathematically (softmax is shift
    # invariant) and keeps every exp() at most 1. The max is a graph node, not a
    # constant, so a recorded graph stays valid for other logits.
    if len(zs) == 1:
        return [zs[0] - zs[0]]
    m = _vmax(zs)
    return [z - m for z in zs]


def softmax(logits: Any) -> list[Value]:
    """``exp(z_j) / sum_k exp(z_k)``, computed after subtracting the largest logit.

    Example (the softmax table of NTNU's *FCNN, Learning*, slide "Softmax AF"):
        >>> [round(p.data, 2) for p in softmax([2.0, 1.0, -1.0])]
        [0.71, 0.26, 0.04]
    """
    shifted = _shifted(_logit_row(logits, "softmax"))
    exps = [s.exp() for s in shifted]
    total = _vsum(exps)
    return [e / total for e in exps]


def log_softmax(logits: Any) -> list[Value]:
    """``z_j - log sum_k exp(z_k)``, with the log-sum-exp shift (no overflow, no log 0).

    Example:
        >>> [round(v.data, 4) for v in log_softmax([1000.0, 0.0])]
        [0.0, -1000.0]
    """
    shifted = _shifted(_logit_row(logits, "log_softmax"))
    lse = _vsum([s.exp() for s in shifted]).log()
    return [s - lse for s in shifted]


def _is_row(x: Any) -> bool:
    """A sequence of scalars (one sample's logits) rather than a batch of rows."""
    if isinstance(x, np.ndarray):
        return x.ndim == 1
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        return False
    return len(x) > 0 and _is_scalar(x[0])


def _sample_ce(zs: list[Value], target: Any, name: str) -> Value:
    k = len(zs)
    shifted = _shifted(zs)
    lse = _vsum([s.exp() for s in shifted]).log()
    if is_integer(target):
        t = int(target)
        if not 0 <= t < k:
            raise ValueError(f"{name}: class index {t} is outside [0, {k - 1}] "
                             f"for {k} logits")
        # -log softmax(z)_t = log sum exp(z - m) - (z_t - m)
        return lse - shifted[t]
    if _is_scalar(target):
        raise TypeError(
            f"{name}: a class target must be an int index or a list of {k} class "
            f"probabilities, got {type(target).__name__} {_data(_scalar(target, name))!r}"
        )
    probs = _seq(target, f"{name} target")
    if len(probs) != k:
        raise ValueError(f"{name}: target has {len(probs)} class probabilities, "
                         f"logits have {k}")
    probs = [_scalar(p, f"{name} target") for p in probs]
    for j, p in enumerate(probs):
        if not 0.0 <= _data(p) <= 1.0:
            raise ValueError(f"{name}: target probability {j} is {_data(p)!r}, "
                             "outside [0, 1]")
    # -sum_j t_j log softmax(z)_j = sum_j t_j (lse - (z_j - m)); every class is in the
    # graph, so a one-hot target given as Values can be swapped for another class.
    return _vsum([t * (lse - s) for t, s in zip(probs, shifted)])


@_loss(targets="index", predictions="scores")
def cross_entropy(logits: Any, target: Any) -> Value:
    """Softmax + negative log-likelihood: ``-log softmax(z)[target]``, batch-averaged.

    ``logits`` is one sample's list of K logits, or a batch (a list of such lists,
    or an (n, K) array). ``target`` is a class index in ``[0, K)`` (a batch: a sequence
    of indices) or a list of K class probabilities such as a one-hot vector (a batch:
    a sequence of such lists), given as numbers or Values. Stable for logits of +-1000.

    Example:
        >>> round(cross_entropy([2.0, 1.0, -1.0], 0).data, 4)
        0.349
        >>> cross_entropy([Value(1000.0), Value(-1000.0)], 1).data
        2000.0
    """
    name = "cross_entropy"
    if _is_row(logits):
        return _sample_ce(_logit_row(logits, name), target, name)
    rows = _seq(logits, f"{name} logits")
    if not rows:
        raise ValueError(f"{name}: empty batch (no logits)")
    targets = _batch_targets(rows, target, name, "rows of logits")
    widths = set()
    losses = []
    for row, t in zip(rows, targets):
        zs = _logit_row(row, name)
        widths.add(len(zs))
        if len(widths) > 1:
            raise ValueError(f"{name}: rows of logits differ in length ({sorted(widths)})")
        losses.append(_sample_ce(zs, t, name))
    return _mean(losses)


# -- regularisation -------------------------------------------------------------------------------

def _params(params: Any, name: str) -> list[Value]:
    if isinstance(params, Module):
        return params.parameters()
    if isinstance(params, Value):
        return [params]
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{name} needs an ordered sequence of Values, got a set")
    items = _seq(params, name)
    for i, p in enumerate(items):
        if not isinstance(p, Value):
            raise TypeError(f"{name}: item {i} is {type(p).__name__}, not a Value")
    return items


def l1_penalty(params: Any, strength: float = 1.0) -> Value:
    """``strength * sum |w|`` over ``params`` (a Module's parameters, or Values).

    Add it to the loss: ``loss = data_loss + l1_penalty(model, 1e-4)``. L1 pushes
    weights to exactly zero (sparse models).

    Example:
        >>> from chainrule.engine import Value
        >>> l1_penalty([Value(-2.0), Value(0.5)], 0.1).data
        0.25
    """
    ws = _params(params, "l1_penalty")
    return _vsum([abs(w) for w in ws]) * _strength(strength, "l1_penalty")


def l2_penalty(params: Any, strength: float = 1.0) -> Value:
    """``strength * sum w^2`` (``R(W) = sum W_ij^2`` of the *Back Propagation*
    notes' regularization slide; weight decay).

    Example:
        >>> l2_penalty([Value(1.0), Value(-2.0)], 0.5).data
        2.5
    """
    ws = _params(params, "l2_penalty")
    return _vsum([w * w for w in ws]) * _strength(strength, "l2_penalty")


def elastic_net_penalty(params: Any, l1: float = 0.5, l2: float = 0.5) -> Value:
    """``l1 * sum |w| + l2 * sum w^2``: the elastic net, both penalties at once.

    Example:
        >>> elastic_net_penalty([Value(1.0), Value(-2.0)], l1=1.0, l2=0.5).data
        5.5
    """
    ws = _params(params, "elastic_net_penalty")
    a = _strength(l1, "elastic_net_penalty l1")
    b = _strength(l2, "elastic_net_penalty l2")
    return _vsum([abs(w) * a + w * w * b for w in ws])


def _strength(x: Any, name: str) -> float:
    return number(x, name, low=0.0, type_message="{name}: strength must be a real number, got "
                  "{type}", message="{name}: strength must be finite and >= 0, got {value}")


# -- accuracy -------------------------------------------------------------------------------------

def accuracy(outputs: Any, labels: Any, *, threshold: float = 0.0) -> float:
    """Fraction of correct predictions, as a float in [0, 1].

    ``outputs`` is a batch of model outputs: one number or Value per sample (binary:
    class 1 when the output is above ``threshold``; use 0.5 for probabilities, 0 for
    logits and hinge scores), or one list of K scores per sample (the class is the
    argmax). ``labels`` are class indices (binary labels may be 0/1 or -1/+1).

    Example:
        >>> accuracy([0.3, -1.2, 2.0], [1, 0, 0])
        0.6666666666666666
    """
    outs = _seq(outputs, "accuracy outputs")
    labs = [float(_data(_scalar(t, "accuracy label"))) for t in _seq(labels, "accuracy labels")]
    if len(outs) != len(labs):
        raise ValueError(f"accuracy: outputs and labels differ in length "
                         f"({len(outs)} vs {len(labs)})")
    if not outs:
        raise ValueError("accuracy: empty batch")
    correct = 0
    for out, lab in zip(outs, labs):
        if _is_scalar(out):
            predicted = 1.0 if _data(_scalar(out, "accuracy output")) > threshold else 0.0
            correct += predicted == (1.0 if lab > 0 else 0.0)
        else:
            row = [_data(_scalar(v, "accuracy output")) for v in _seq(out, "accuracy output")]
            correct += int(np.argmax(row)) == lab
    return correct / len(outs)
