"""``fit``: a training loop with the practice chapter's knobs, and ``History``.

One call covers what a course's "experiment design" lists: a loss, an optimizer
(Adam by default), epochs, batch size, validation data, early stopping with patience
(restoring the best weights), L1/L2 penalties, a learning-rate schedule, gradient
clipping and a progress bar. It infers the task from ``y`` and the model's output width:

======================================  ==============  ======================================
labels and outputs                      task            default loss
======================================  ==============  ======================================
integer labels in {0, 1} (or {-1, 1}),  ``binary``      ``binary_cross_entropy_with_logits``
1 output                                                (``binary_cross_entropy`` when the
                                                        model's output activation is sigmoid)
integer labels in [0, K), K outputs     ``multiclass``  ``cross_entropy``
anything else (float targets)           ``regression``  ``mse_loss``
======================================  ==============  ======================================

Safety: gradients are zeroed before every batch (and left zero at the end); a loss that
becomes nan or inf stops training with a ``FloatingPointError`` naming the epoch and
step, before the optimizer touches the parameters, so they keep their last finite
values.

Engines: the per-batch work (forward, loss, backward) is one function.
:func:`scalar_loss_and_grad` builds one scalar graph per sample and backpropagates it;
:class:`TapeLossAndGrad` records the graph of one sample once (the model, the loss and
the target as an input) and replays it for every batch with numpy
(:mod:`chainrule.engine.tape`): the same rules, the same numbers to ~1e-15, hundreds of
times faster. ``fit(engine="auto")`` uses the tape when the model is ``traceable`` (no
active Dropout, no custom Module that did not declare ``trace_safe``) and the loss
declares ``trace_safe`` (the built-in ones do), and otherwise says why it falls back to
the scalar engine (``History.engine``, and a line above the progress bar).

:func:`train_step` is one update (zero the gradients, loss and gradients, penalty,
refuse a non-finite loss, clip, step): ``fit`` makes each of its steps with it, and so
does the playground.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from chainrule.engine import Value, enable_grad, no_grad
from chainrule.engine.checks import is_real, number, positive_int
from chainrule.engine.tape import Tape

from .data import Batches, as_matrix, train_val_test_split
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    elastic_net_penalty,
    hinge_loss,
    mae_loss,
    mse_loss,
)
from .module import Module
from .optim import Adam, LRScheduler, Optimizer, clip_grad_norm

__all__ = [
    "History",
    "NonFiniteLossError",
    "TapeLossAndGrad",
    "evaluate",
    "fit",
    "loss_and_grad_for",
    "output_activation",
    "predict",
    "scalar_loss_and_grad",
    "train_step",
]

_LOSSES: dict[str, Callable[..., Value]] = {
    "mse": mse_loss,
    "mae": mae_loss,
    "bce": binary_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "bce_with_logits": binary_cross_entropy_with_logits,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "hinge": hinge_loss,
    "cross_entropy": cross_entropy,
}
_TASKS = ("binary", "multiclass", "regression")
_ENGINES = ("auto", "tape", "scalar")
# Below this many rows, evaluate/predict skip recording a tape (recording costs about
# as much as a few dozen scalar forward passes).
_TAPE_MIN_ROWS = 64


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch.

    ``loss`` and ``accuracy`` are running averages over the epoch's batches (as Keras
    reports them: the weights change during the epoch); ``val_loss`` and
    ``val_accuracy`` are computed at the end of each epoch. Accuracy lists stay empty for
    regression, validation lists without validation data. ``best_epoch`` (1-based) is
    the epoch with the lowest validation loss, ``stopped_early`` tells whether patience
    ran out.

    Example:
        >>> from chainrule.nn import MLP, make_moons
        >>> X, y = make_moons(40, seed=0)
        >>> history = fit(MLP(2, [4, 1], seed=0), X, y, epochs=3, progress=False)
        >>> len(history.loss), history.task, history.loss_name
        (3, 'binary', 'binary_cross_entropy_with_logits')
    """

    task: str
    loss_name: str
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    engine: str = ""

    @property
    def epochs(self) -> int:
        """How many epochs ran."""
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """The history as plain lists and numbers (for JSON or pandas)."""
        return {"task": self.task, "loss_name": self.loss_name, "loss": self.loss,
                "accuracy": self.accuracy, "val_loss": self.val_loss,
                "val_accuracy": self.val_accuracy, "lr": self.lr,
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early,
                "engine": self.engine}

    def __repr__(self) -> str:
        if not self.loss:
            return f"History({self.task}, {self.loss_name}, no epochs)"
        parts = [f"{self.epochs} epochs", f"loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}"]
        if self.accuracy:
            parts.append(f"accuracy {self.accuracy[-1]:.3f}")
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4g}")
        if self.val_accuracy:
            parts.append(f"val_accuracy {self.val_accuracy[-1]:.3f}")
        if self.stopped_early:
            parts.append(f"stopped early, best epoch {self.best_epoch}")
        return f"History({self.task}, {self.loss_name}: {', '.join(parts)})"


# -- the task: what the loss sees and how accuracy is counted -------------------------------------

@dataclass
class _Task:
    kind: str
    loss_fn: Callable[..., Value]
    loss_name: str
    width: int
    encoding: str | None  # the loss's target_encoding: "-1/+1", "0/1", "index" or None
    threshold: float = 0.0

    def targets(self, y: np.ndarray) -> list[Any]:
        """The batch's labels in the form the loss expects."""
        if self.encoding == "-1/+1":
            return np.where(y == 1, 1.0, -1.0).tolist()
        if self.encoding == "0/1":
            return np.where(y == 1, 1.0, 0.0).tolist()
        if self.encoding == "index":
            return y.astype(np.int64).tolist()
        if y.ndim == 2 and self.width == 1:
            y = y[:, 0]
        return y.astype(np.float64).tolist()

    def correct(self, outputs: np.ndarray, y: np.ndarray) -> int:
        """How many samples the outputs classify correctly."""
        if self.kind == "binary":
            return int(np.sum((outputs.reshape(-1) > self.threshold) == (y == 1)))
        return int(np.sum(np.argmax(outputs, axis=1) == y))


def output_activation(model: Module) -> str | None:
    """The name of :attr:`model.output_activation <chainrule.nn.Module.output_activation>`
    (an :class:`Activation` or a name), or None if unknown.

    ``fit`` picks the loss and the accuracy threshold from it, and the decision-boundary
    plot its threshold.

    Example:
        >>> from chainrule.nn import Neuron, Sequential, Dropout
        >>> output_activation(Neuron(2, activation="sigmoid"))
        'sigmoid'
        >>> output_activation(Sequential(Neuron(2, activation="tanh"), Dropout(0.1)))
        'tanh'
    """
    act = getattr(model, "output_activation", None)
    name = getattr(act, "name", act)
    return name if isinstance(name, str) else None


def _integral(y: np.ndarray) -> bool:
    if np.issubdtype(y.dtype, np.integer):
        return True
    return np.issubdtype(y.dtype, np.floating) and bool(np.all(np.isfinite(y))) and bool(
        np.all(y == np.round(y)))


def _make_task(model: Module, width: int, y: np.ndarray, loss: Any, task: str | None,
               *, warn: bool = True) -> _Task:
    """What ``fit`` trains: the task, the loss and what the loss says about its targets
    and predictions (see :mod:`chainrule.nn.losses`)."""
    task, labels = _task_of(width, y, task)
    sigmoid_out = output_activation(model) == "sigmoid"
    fn = _loss_function(loss, task, sigmoid_out)
    name = getattr(fn, "__name__", type(fn).__name__)
    encoding = getattr(fn, "target_encoding", None)
    predictions = getattr(fn, "predictions", None)
    if predictions is not None:
        threshold = 0.5 if predictions == "probabilities" else 0.0
    else:  # midway between the two label values the loss is fitted to
        threshold = 0.5 if task == "binary" and labels <= {0, 1} else 0.0
    binary_loss = encoding in ("-1/+1", "0/1")
    if warn and sigmoid_out and binary_loss and predictions == "scores":
        # The loss reads the output as a score with 0 as the boundary; a probability is > 0.
        twice = "the loss applies a second sigmoid and " if encoding == "0/1" else ""
        warnings.warn(
            f"{name} expects raw scores, but {model!r} ends in a sigmoid: its outputs are "
            f"probabilities, so {twice}accuracy counts every output (all above 0) as "
            "class 1; use loss='bce'", UserWarning, stacklevel=3)
    if binary_loss and task != "binary":
        raise ValueError(f"{name} is a binary loss; the task is {task}")
    if encoding == "index" and task != "multiclass":
        raise ValueError(f"{name} needs a multi-class task (K outputs, integer "
                         f"labels); the task is {task}")
    return _Task(task, fn, name, width, encoding, threshold)


def _task_of(width: int, y: np.ndarray, task: str | None) -> tuple[str, set | None]:
    """The task (given, or inferred from the labels and the model's output width) and the
    set of integer labels (None for other targets), checked against each other."""
    if task is not None and task not in _TASKS:
        raise ValueError(f"task must be one of {', '.join(_TASKS)} or None, got {task!r}")
    labels = set(np.unique(y).tolist()) if y.ndim == 1 and _integral(y) else None
    if task is None:
        if labels is not None and width == 1 and (labels <= {0, 1} or labels <= {-1, 1}):
            task = "binary"
        elif labels is not None and width > 1 and labels <= set(range(width)):
            task = "multiclass"
        elif labels is not None and width == 1 and y.ndim == 1 and 2 < len(labels) <= 100:
            raise ValueError(
                f"fit cannot infer the task: the model has 1 outputs and y holds "
                f"{len(labels)} integer labels {sorted(labels)[:10]}; for "
                f"{len(labels)} classes give the model {len(labels)} outputs, or pass "
                "task='regression' to fit the numbers"
            )
        elif (width == 1 and y.ndim == 1) or (y.ndim == 2 and y.shape[1] == width):
            task = "regression"
        else:
            raise ValueError(
                f"fit cannot infer the task: the model has {width} outputs and y has shape "
                f"{y.shape}{' with labels ' + str(sorted(labels)[:10]) if labels else ''}; "
                "multi-class labels must be integers in [0, outputs)"
            )
    # check the labels fit the task
    if task == "binary":
        if width != 1:
            raise ValueError(f"binary classification needs 1 output, the model has {width}")
        if labels is None or not (labels <= {0, 1} or labels <= {-1, 1}):
            raise ValueError(f"binary classification needs labels 0/1 or -1/+1, got "
                             f"{sorted(labels)[:10] if labels else y.dtype}")
    elif task == "multiclass":
        if labels is None or not labels <= set(range(width)):
            found = sorted(labels)[:10] if labels else y.dtype
            raise ValueError(f"multi-class labels must be integers in [0, {width}) for a model "
                             f"with {width} outputs, got {found}")
    elif (y.ndim == 2 and y.shape[1] != width) or (y.ndim == 1 and width != 1):
        raise ValueError(f"regression targets of shape {y.shape} do not match the model's "
                         f"{width} outputs")

    return task, labels


def _loss_function(loss: Any, task: str, sigmoid_out: bool) -> Callable[..., Value]:
    """The loss function ``loss`` names (or is); None picks the task's default."""
    if loss is None:
        loss = {"binary": "bce" if sigmoid_out else "bce_with_logits",
                "multiclass": "cross_entropy", "regression": "mse"}[task]
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(_LOSSES)} "
                             "or pass a function")
        return _LOSSES[loss]
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a name or a function, got {type(loss).__name__}")


# -- the per-batch computation --------------------------------------------------------------------

def _outputs_as_values(out: Any, width: int) -> Any:
    """A model output as the loss wants it: one Value for width 1, else a list."""
    if isinstance(out, Value):
        return out
    return out[0] if width == 1 else out


def _output_data(outs: list[Any]) -> np.ndarray:
    if not outs:
        return np.zeros((0, 1))
    if isinstance(outs[0], Value):
        return np.array([[o.data] for o in outs])
    return np.array([[v.data for v in o] for o in outs])


def scalar_loss_and_grad(model: Module, loss_fn: Callable[..., Value], inputs: np.ndarray,
                         targets: list[Any], width: int) -> tuple[float, np.ndarray]:
    """Forward the batch one sample at a time, average the loss, backpropagate once.

    Returns the batch loss and the outputs (n x width floats, for accuracy). Gradients
    are *added* to the parameters' ``.grad`` (the caller zeroes them first); when the
    loss is not finite nothing is backpropagated.
    """
    outs = [_outputs_as_values(model(x), width) for x in inputs.tolist()]
    loss = loss_fn(outs, targets)
    if math.isfinite(loss.data):
        loss.backward()
    return loss.data, _output_data(outs)


class TapeLossAndGrad:
    """Per-batch loss and gradients by batched replay (the tape), for a traceable model.

    One sample's graph is recorded once: the model, then the loss against the target,
    which is an *input* of the tape (a one-hot vector for ``cross_entropy``), so the
    graph does not depend on any label. Its outputs are the sample's loss and the
    model's outputs. Calling the object has the signature and effect of
    :func:`scalar_loss_and_grad`: the batch-mean loss, the outputs, and the mean
    gradient added into each parameter's ``.grad`` (nothing when the loss is not finite).
    ``encoding`` is the loss's ``target_encoding`` (``"index"`` makes the target a one-hot
    input; None passes targets as they are), ``nin`` and ``width`` the model's numbers of
    inputs and outputs. The playground trains with it too.
    """

    def __init__(self, model: Module, loss_fn: Callable[..., Value], encoding: str | None,
                 nin: int, width: int) -> None:
        self.width = width
        self.encoding = encoding
        self.n_targets = width if encoding == "index" or (encoding is None and width > 1) else 1
        # binary_cross_entropy checks that every prediction is a probability. Recording
        # runs that check once, on the example below; the replay never calls the loss,
        # so forward() repeats the check on every batch, as the scalar engine does.
        self._probabilities = getattr(loss_fn, "predictions", None) == "probabilities"
        self._loss_name = getattr(loss_fn, "__name__", "the loss")
        self._seeds: dict[int, np.ndarray] = {}  # backward's seed by batch size

        def one_sample(v: list[Value]) -> list[Value]:
            out = _outputs_as_values(model(v[:nin]), width)
            t = v[nin:]
            target = t if self.n_targets > 1 else t[0]
            outs = [out] if width == 1 else list(out)
            return [loss_fn([out], [target]), *outs]

        # A valid target for every loss: class 0 (one-hot), label 1, or 0.0 / zeros.
        example = [0.0] * nin + [0.0 if encoding is None else 1.0] + [
            0.0] * (self.n_targets - 1)
        self.tape = Tape.record(one_sample, example, model.parameters())

    def _inputs(self, inputs: np.ndarray, targets: list[Any]) -> np.ndarray:
        n = len(inputs)
        if self.encoding == "index":
            cols = np.zeros((n, self.n_targets))
            cols[np.arange(n), np.asarray(targets, dtype=np.int64)] = 1.0
        else:
            cols = np.asarray(targets, dtype=np.float64).reshape(n, self.n_targets)
        return np.concatenate([inputs, cols], axis=1)

    def forward(self, inputs: np.ndarray, targets: list[Any]) -> tuple[float, np.ndarray]:
        """The batch-mean loss and the outputs, without gradients."""
        res = self.tape.forward(self._inputs(inputs, targets))
        outputs = res[:, 1:]
        if self._probabilities:
            _check_probabilities(outputs, self._loss_name)
        return float(res[:, 0].mean()), outputs

    def __call__(self, model: Module, loss_fn: Callable[..., Value], inputs: np.ndarray,
                 targets: list[Any], width: int) -> tuple[float, np.ndarray]:
        value, outputs = self.forward(inputs, targets)
        if math.isfinite(value):
            n = len(inputs)
            seed = self._seeds.get(n)
            if seed is None:  # d mean / d loss_i for each sample, nothing for the outputs
                seed = self._seeds[n] = np.zeros((n, 1 + width))
                seed[:, 0] = 1.0 / n
                seed.flags.writeable = False  # reused: nothing may change it
            self.tape.backward(seed)
        return value, outputs


def _check_probabilities(outputs: np.ndarray, name: str) -> None:
    """The scalar ``binary_cross_entropy``'s refusal of predictions outside [0, 1], for
    a batch of replayed outputs (nan passes, so that fit reports it as a nan loss)."""
    bad = (outputs < 0.0) | (outputs > 1.0)
    if bad.any():
        i = int(np.argmax(bad.any(axis=1)))
        v = float(outputs[i][bad[i]][0])
        raise ValueError(
            f"{name}: prediction {i} is {v!r}, not a probability in [0, 1] "
            "(use binary_cross_entropy_with_logits for raw scores)"
        )


def _tape_refusal(model: Module, loss_fn: Callable[..., Value]) -> str | None:
    """Why the tape cannot run this model and loss, or None when it can."""
    for m in model.modules():
        reason = m.untraceable_reason()
        if reason is not None:
            return reason
    if not getattr(loss_fn, "trace_safe", False):
        return (f"the loss {getattr(loss_fn, '__name__', loss_fn)!r} is not a built-in one "
                "(pass engine='tape' if it never branches on .data, or set its "
                "trace_safe = True)")
    return None


def loss_and_grad_for(model: Module, spec: Any = None, nin: int | None = None,
                      engine: str = "auto") -> tuple[Callable[..., tuple[float, np.ndarray]],
                                                     str]:
    """The per-batch function ``fit`` uses for ``model``, and a note saying which and why.

    ``engine="auto"`` picks :class:`TapeLossAndGrad` when :func:`_tape_refusal` finds
    nothing against it, else :func:`scalar_loss_and_grad`; ``"tape"`` and ``"scalar"``
    force one (``"tape"`` still refuses a model that is not traceable).
    """
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {', '.join(_ENGINES)}, got {engine!r}")
    if spec is None or engine == "scalar":
        return scalar_loss_and_grad, "scalar"
    reason = _tape_refusal(model, spec.loss_fn)
    if engine == "tape" and reason is not None and not model.traceable:
        raise ValueError(f"engine='tape' cannot trace this model: {reason}")
    if engine == "auto" and reason is not None:
        return scalar_loss_and_grad, f"scalar ({reason})"
    return TapeLossAndGrad(model, spec.loss_fn, spec.encoding, nin, spec.width), "tape"


# -- public helpers -------------------------------------------------------------------------------

def _features(model: Module, X: Any, name: str = "X") -> np.ndarray:  # noqa: N803
    xs = as_matrix(X, name, column=False, what="inputs")
    nin = getattr(model, "nin", None)
    if isinstance(nin, int) and xs.shape[1] != nin:
        raise ValueError(f"{name} has {xs.shape[1]} features, the model expects {nin} inputs")
    return xs


def _labels(y: Any, n: int, name: str = "y", xname: str = "X") -> np.ndarray:
    b = np.asarray(y)
    if b.dtype == bool:
        raise TypeError(f"{name} must be a numeric array, got dtype bool (class labels are "
                        f"integers: pass {name}.astype(int) for 0/1)")
    if b.dtype == object or not (np.issubdtype(b.dtype, np.integer)
                                 or np.issubdtype(b.dtype, np.floating)):
        raise TypeError(f"{name} must be a numeric array, got dtype {b.dtype}")
    if b.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (or 2-D for several outputs), got shape {b.shape}")
    if len(b) != n:
        raise ValueError(f"{xname} and {name} differ in length ({n} vs {len(b)} samples)")
    if np.issubdtype(b.dtype, np.floating) and not np.isfinite(b).all():
        raise ValueError(f"{name} contains nan or inf")
    if b.ndim == 2 and b.shape[1] == 1:
        # A column of labels (PyTorch's (n, 1) targets) is the same data as a vector;
        # kept 2-D, the task inference would take class labels for regression targets.
        b = b[:, 0]
    return b


def _width(model: Module, x0: np.ndarray) -> int:
    """The number of model outputs, found by one forward pass without a graph."""
    with model.mode(False), no_grad():
        out = model(x0.tolist())
    if isinstance(out, Value):
        return 1
    if isinstance(out, (list, tuple)) and out and all(isinstance(v, Value) for v in out):
        return len(out)
    raise TypeError(f"the model must return a Value or a list of Values, got "
                    f"{type(out).__name__}")


def predict(model: Module, X: Any) -> np.ndarray:  # noqa: N803
    """The model's outputs for every row of ``X`` as floats (n, or n x K), no graph built.

    Uses evaluation mode (Dropout off) and restores the previous mode.

    Example:
        >>> from chainrule.nn import MLP
        >>> predict(MLP(2, [4, 3], seed=0), [[0.0, 0.0], [1.0, 1.0]]).shape
        (2, 3)
    """
    xs = _features(model, X)
    with model.mode(False):
        if len(xs) >= _TAPE_MIN_ROWS and model.traceable:
            # One recorded sample replayed on all rows: same numbers, far faster.
            data = Tape.record(model, xs[0], model.parameters()).forward(xs)
        else:
            with no_grad():
                outs = [model(x) for x in xs.tolist()]
            data = _output_data([o[0] if not isinstance(o, Value) and len(o) == 1 else o
                                 for o in outs])
    return data[:, 0] if data.shape[1] == 1 else data


def evaluate(model: Module, X: Any, y: Any, *, loss: Any = None,  # noqa: N803
             task: str | None = None) -> tuple[float, float | None]:
    """``(loss, accuracy)`` of the model on ``(X, y)`` at its current weights.

    The loss and task follow the same defaults as :func:`fit`; accuracy is None for
    regression. No graph is built and the model is evaluated in eval mode.

    Example:
        >>> from chainrule.nn import MLP, make_moons
        >>> X, y = make_moons(20)
        >>> loss, acc = evaluate(MLP(2, [4, 1], seed=0), X, y)
        >>> 0.0 <= acc <= 1.0
        True
    """
    xs = _features(model, X)
    b = _labels(y, len(xs))
    spec = _make_task(model, _width(model, xs[0]), b, loss, task)
    return _evaluate(model, spec, xs, b)


def _evaluate(model: Module, spec: _Task, xs: np.ndarray, b: np.ndarray,
              tape: Any = None) -> tuple[float, float | None]:
    with model.mode(False):
        if tape is None and len(xs) >= _TAPE_MIN_ROWS and _tape_refusal(model, spec.loss_fn) \
                is None:
            tape = TapeLossAndGrad(model, spec.loss_fn, spec.encoding, xs.shape[1], spec.width)
        if isinstance(tape, TapeLossAndGrad):
            value, outputs = tape.forward(xs, spec.targets(b))
        else:
            with no_grad():
                outs = [_outputs_as_values(model(x), spec.width) for x in xs.tolist()]
                value = spec.loss_fn(outs, spec.targets(b)).data
            outputs = _output_data(outs)
    acc = None if spec.kind == "regression" else spec.correct(outputs, b) / len(xs)
    return value, acc


# -- one update -----------------------------------------------------------------------------------

class NonFiniteLossError(FloatingPointError):
    """The loss of a :func:`train_step` was nan or inf: no parameter was changed and the
    gradients are zero. ``loss`` holds the value."""

    def __init__(self, loss: float) -> None:
        self.loss = loss
        super().__init__(f"the loss became {loss!r}; no parameter was changed")


def train_step(optimizer: Optimizer, loss_and_grad: Callable[[], tuple[float, Any]], *,
               params: list[Value] | None = None, penalty: Callable[[], Value] | None = None,
               clip_norm: float | None = None) -> tuple[float, Any]:
    """One update of the parameters, as :func:`fit` and the playground make it.

    Zeroes the gradients of ``params`` (default: the optimizer's); calls
    ``loss_and_grad()``, which adds the batch loss's gradients into ``.grad`` and returns
    ``(loss, extra)``; backpropagates ``penalty()`` (a regulariser, a Value) and adds it to
    the loss; refuses a nan or inf loss (:class:`NonFiniteLossError`); clips the gradient
    norm to ``clip_norm``; and steps the optimizer. Returns ``(loss, extra)``. On any error
    the gradients are zeroed again and no parameter has changed.

    Example:
        >>> from chainrule.nn import SGD
        >>> w = Value(3.0)
        >>> def loss_and_grad():
        ...     loss = (w - 1.0) ** 2
        ...     loss.backward()
        ...     return loss.data, None
        >>> train_step(SGD([w], lr=0.25), loss_and_grad)
        (4.0, None)
        >>> w.data    # 3 - 0.25 * d(w - 1)^2/dw = 3 - 0.25 * 4
        2.0
    """
    params = optimizer.params if params is None else params
    for p in params:
        p.grad = 0.0
    try:
        loss, extra = loss_and_grad()
        if penalty is not None:
            reg = penalty()
            reg.backward()
            loss += reg.data
        if not math.isfinite(loss):
            raise NonFiniteLossError(loss)
        if clip_norm is not None:
            clip_grad_norm(params, clip_norm)
        optimizer.step()
    except Exception:
        for p in params:
            p.grad = 0.0
        raise
    return loss, extra


# -- fit ------------------------------------------------------------------------------------------

# Training needs graphs whatever mode the caller is in (Lightning's fit does the same):
# inside no_grad() the tape, which records regardless, trained, while the scalar engine
# and the L1/L2 penalties failed with "computed under no_grad".
@enable_grad()
def fit(
    model: Module,
    X: Any,  # noqa: N803 - X as in every ML text
    y: Any,
    *,
    loss: Any = None,
    optimizer: Optimizer | None = None,
    epochs: int = 20,
    batch_size: int = 32,
    validation: Any = None,
    patience: int | None = None,
    progress: bool = True,
    seed: int | None = 0,
    l1: float = 0.0,
    l2: float = 0.0,
    scheduler: LRScheduler | None = None,
    clip_norm: float | None = None,
    task: str | None = None,
    min_delta: float = 0.0,
    callback: Callable[[int, History], Any] | None = None,
    engine: str = "auto",
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches and return a :class:`History`.

    Args:
        model: a Module taking one row of ``X`` (e.g. an :class:`MLP`).
        X: (n, nin) inputs. y: n labels or targets (see the task table in the module
            docstring).
        loss: a loss function ``loss(outputs, targets)`` or a name (``"mse"``, ``"mae"``,
            ``"bce"``, ``"bce_with_logits"``, ``"hinge"``, ``"cross_entropy"``); None
            picks the task's default. Binary labels are given to the loss as its
            ``target_encoding`` says (hinge: -1/+1, the cross-entropies: 0/1; as they are
            when it has none); a loss of your own can set the same attributes.
        optimizer: default ``Adam(model.parameters(), lr=0.01)``.
        epochs: passes over the data (default 20). batch_size: samples per update
            (default 32; larger than n means full batch).
        validation: ``(X_val, y_val)``, or a fraction of the data to hold out (seeded).
        patience: stop after this many epochs without a lower validation loss (by more
            than ``min_delta``), then restore the weights of the best epoch. None: no
            early stopping.
        progress: show a tqdm progress bar over epochs.
        seed: seeds the shuffling (and a validation fraction's split).
        l1, l2: strengths of the L1 / L2 penalties on all parameters, added to the loss.
        scheduler: a learning-rate schedule over ``optimizer``, stepped once per epoch.
        clip_norm: clip the gradient norm to this value before each step.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"`` to override inference.
        callback: called as ``callback(epoch, history)`` after each epoch.
        engine: ``"auto"`` (the tape when the model and loss can be traced, else the
            scalar engine, saying why), ``"tape"`` or ``"scalar"``. ``History.engine``
            records the choice.

    Raises:
        FloatingPointError: the loss (or a gradient) became nan or inf; the message
            names the epoch and step, and the parameters keep their last finite values.

    Example:
        >>> from chainrule.nn import MLP, make_moons
        >>> X, y = make_moons(40, seed=0)
        >>> history = fit(MLP(2, [8, 1], seed=0), X, y, epochs=3, progress=False)
        >>> history.epochs, len(history.accuracy)
        (3, 3)
    """
    if not isinstance(model, Module):
        raise TypeError(f"fit needs a Module, got {type(model).__name__}")
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    if patience is not None:
        patience = positive_int(patience, "patience")
        if validation is None:
            raise ValueError("patience (early stopping) needs validation data: pass "
                             "validation=(X_val, y_val) or a fraction such as 0.2")
    l1 = number(l1, "fit l1: strength", low=0.0)
    l2 = number(l2, "fit l2: strength", low=0.0)
    if clip_norm is not None:
        clip_norm = number(clip_norm, "clip_norm", low=0.0, low_open=True, finite=False,
                           type_error=ValueError,
                           message="{name} must be a positive number or None, got {value}")
    min_delta = number(min_delta, "min_delta", low=0.0, finite=False, type_error=ValueError,
                       message="{name} must be a number >= 0, got {value}")
    xs, b, val = _fit_data(model, X, y, validation, seed)
    params, optimizer = _fit_optimizer(model, optimizer, scheduler)
    spec = _make_task(model, _width(model, xs[0]), b, loss, task)
    if val is not None:
        _make_task(model, spec.width, val[1], spec.loss_fn, spec.kind, warn=False)  # y_val
    penalty = functools.partial(elastic_net_penalty, params, l1=l1, l2=l2) if l1 or l2 \
        else None
    best = _Best(min_delta, keep_weights=patience is not None)
    with model.mode(True):  # record (and check traceability) in the mode the batches run in
        compute, note = loss_and_grad_for(model, spec, xs.shape[1], engine)
        history = History(spec.kind, spec.loss_name, engine=note)
        run = _Epochs(Batches(xs, b, batch_size, shuffle=True, seed=seed), model, spec,
                      compute, optimizer, params, penalty, clip_norm)
        tqdm = _tqdm()
        if progress and note != "tape":
            tqdm.write(f"fit: using the {note} engine", file=sys.stderr)
        bar = tqdm(range(1, epochs + 1), desc="fit", unit="epoch", disable=not progress,
                   leave=True)
        try:
            for epoch in bar:
                run.epoch(epoch, history)
                if val is not None:
                    val_loss, val_acc = _evaluate(model, spec, *val, compute)
                    history.val_loss.append(val_loss)
                    if val_acc is not None:
                        history.val_accuracy.append(val_acc)
                    best.update(val_loss, epoch, params, history)
                bar.set_postfix(_postfix(history), refresh=False)
                if scheduler is not None:
                    scheduler.step()
                if callback is not None:
                    callback(epoch, history)
                if patience is not None and best.waited >= patience:
                    history.stopped_early = True
                    break
        finally:
            bar.close()
            if isinstance(compute, TapeLossAndGrad):
                compute.tape.release()
    best.restore(params)
    return history


def _fit_data(model: Module, X: Any, y: Any, validation: Any,  # noqa: N803
              seed: Any) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """The training inputs and labels, and the validation pair (held out of them when
    ``validation`` is a fraction), each checked."""
    xs = _features(model, X)
    b = _labels(y, len(xs))
    if is_real(validation):
        split = train_val_test_split(xs, b, val=float(validation), test=0.0, seed=seed)
        (xs, b), (xv, bv) = split.train, split.val
        if len(xv) == 0:
            raise ValueError(f"validation={validation!r} leaves no validation samples")
        return xs, b, (xv, bv)
    if validation is None:
        return xs, b, None
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError("validation must be (X_val, y_val) or a fraction, got "
                        f"{type(validation).__name__}")
    xv = _features(model, validation[0], "X_val")
    return xs, b, (xv, _labels(validation[1], len(xv), "y_val", "X_val"))


def _fit_optimizer(model: Module, optimizer: Optimizer | None,
                   scheduler: LRScheduler | None) -> tuple[list[Value], Optimizer]:
    """The model's parameters and the optimizer fit steps (Adam, lr 0.01, by default)."""
    params = model.parameters()
    if not params:
        raise ValueError(f"{model!r} has no parameters to train")
    if optimizer is None:
        optimizer = Adam(params, lr=0.01)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
    if scheduler is not None and (not isinstance(scheduler, LRScheduler)
                                  or scheduler.optimizer is not optimizer):
        raise ValueError("scheduler must be an LRScheduler built on the optimizer fit uses")
    return params, optimizer


@dataclass
class _Epochs:
    """What one epoch of ``fit`` runs, and the step count (for messages) across epochs."""

    batches: Batches
    model: Module
    spec: _Task
    compute: Callable[..., tuple[float, np.ndarray]]
    optimizer: Optimizer
    params: list[Value]
    penalty: Callable[[], Value] | None
    clip_norm: float | None
    step: int = 0

    def epoch(self, epoch: int, history: History) -> None:
        """One pass over the batches; appends the epoch's loss, accuracy and lr."""
        spec = self.spec
        total, correct, seen = 0.0, 0, 0
        for xb, yb in self.batches:
            self.step += 1
            batch = functools.partial(self.compute, self.model, spec.loss_fn, xb,
                                      spec.targets(yb), spec.width)
            try:
                value, outputs = train_step(self.optimizer, batch, params=self.params,
                                            penalty=self.penalty, clip_norm=self.clip_norm)
            except NonFiniteLossError as err:
                raise FloatingPointError(
                    f"fit: the loss became {err.loss!r} at epoch {epoch}, step {self.step}; "
                    "training stopped before the update, so the parameters keep their "
                    "last finite values (lower the learning rate, standardise the "
                    "inputs, or clip gradients with clip_norm=...)"
                ) from None
            except FloatingPointError as err:
                raise FloatingPointError(f"fit: epoch {epoch}, step {self.step}: {err}") from err
            total += value * len(xb)
            seen += len(xb)
            if spec.kind != "regression":
                correct += spec.correct(outputs, yb)
        for p in self.params:
            p.grad = 0.0
        history.loss.append(total / seen)
        if spec.kind != "regression":
            history.accuracy.append(correct / seen)
        history.lr.append(self.optimizer.lr)


@dataclass
class _Best:
    """Early stopping's memory: the lowest validation loss, and (with patience) the
    weights it was reached with."""

    min_delta: float
    keep_weights: bool
    loss: float = math.inf
    weights: list[float] | None = None
    waited: int = 0

    def update(self, val_loss: float, epoch: int, params: list[Value],
               history: History) -> None:
        if val_loss < self.loss - self.min_delta:
            self.loss, self.waited = val_loss, 0
            history.best_epoch = epoch
            if self.keep_weights:
                self.weights = [p.data for p in params]
        else:
            self.waited += 1

    def restore(self, params: list[Value]) -> None:
        if self.weights is not None:
            # in place, so the optimizer (and its state) still holds the model's parameters
            for p, w in zip(params, self.weights):
                p.data = w


def _postfix(history: History) -> dict[str, str]:
    """The progress bar's numbers for the last epoch."""
    postfix = {"loss": f"{history.loss[-1]:.4f}"}
    for key, values, fmt in (("acc", history.accuracy, ".3f"),
                             ("val_loss", history.val_loss, ".4f"),
                             ("val_acc", history.val_accuracy, ".3f")):
        if values:
            postfix[key] = f"{values[-1]:{fmt}}"
    return postfix


def _tqdm() -> Any:
    """tqdm's notebook widget when ipywidgets is there, else the text bar.

    (``tqdm.auto`` without ipywidgets warns in every notebook before falling back.)
    """
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm
