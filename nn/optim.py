"""Optimizers with PyTorch's update rules, learning-rate schedules, gradient clipping.

Each optimizer follows the arithmetic of ``torch.optim``'s single-tensor code, in the
same order, so a trajectory can be compared with PyTorch step by step (the tests do,
on the Rosenbrock function, to 1e-9). The state is kept in numpy float64 arrays, one
entry per parameter, in the order of the parameter list.

Safety, beyond PyTorch:

* ``step()`` checks every gradient first: a nan or inf raises ``FloatingPointError``
  naming the parameter, and nothing changes. It also computes every new value before
  assigning any, and refuses (the same way) a step that would make a parameter
  non-finite, so an optimizer never writes nan into a model.
* ``step()`` before any ``backward()`` (every gradient exactly 0.0 and no step taken
  yet) does nothing.
* The parameter collection must be ordered: a list, tuple, generator (read once) or a
  Module; a set is refused (its order changes between runs), duplicates are dropped
  with a warning, non-Values raise ``TypeError``, an empty collection ``ValueError``.

Example:
    >>> from chainrule.engine import Value
    >>> x = Value(3.0)
    >>> opt = SGD([x], lr=0.1)
    >>> loss = x * x
    >>> loss.backward(); opt.step(); opt.zero_grad()
    >>> round(x.data, 6)
    2.4
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from chainrule.engine import Value
from chainrule.engine.checks import flag, number, positive_int

from .module import Module

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LRScheduler",
    "LinearLR",
    "Optimizer",
    "RMSprop",
    "StepLR",
    "clip_grad_norm",
]


# -- hyperparameter checks (messages follow torch.optim) ------------------------------------------

_POSITIVE_INT = "Invalid {name}: {value} (need a positive int)"


def _check(x: Any, message: str, lo: float, hi: float = math.inf, *, lo_open: bool = False,
           hi_open: bool = True) -> float:
    """``x`` as a finite float within the bounds, else ValueError(f"{message}: {x!r}")."""
    return number(x, message, low=lo, high=hi, low_open=lo_open, high_open=hi_open,
                  message=message + ": {value}", type_error=ValueError)


def _lr(lr: Any) -> float:
    return _check(lr, "Invalid learning rate", 0.0, lo_open=True)


def _eps(eps: Any) -> float:
    return _check(eps, "Invalid epsilon value", 0.0, lo_open=True)


def _weight_decay(wd: Any) -> float:
    return _check(wd, "Invalid weight_decay value", 0.0)


def _refuse_nonfinite(values: np.ndarray, what: Callable[[int], str]) -> None:
    """FloatingPointError saying ``what(i)`` for the first nan or inf in ``values``."""
    finite = np.isfinite(values)
    if not finite.all():
        raise FloatingPointError(f"{what(int(np.argmin(finite)))}; no parameter was changed")


def _collect(params: Any) -> tuple[list[Value], list[str]]:
    """The parameter list (and names when known), validated as documented above."""
    if isinstance(params, Module):
        named = params.named_parameters()
        if not named:
            raise ValueError("optimizer got an empty parameter list")
        return [p for _, p in named], [n for n, _ in named]
    if isinstance(params, (set, frozenset)):
        raise TypeError(
            "optimizer params must be an ordered collection (a list), got a set; a set's "
            "order changes between runs, so results would not be reproducible"
        )
    if isinstance(params, Value):
        raise TypeError("optimizer params must be a list of Values, got a single Value; "
                        "wrap it in a list")
    if isinstance(params, (str, bytes, dict)) or not isinstance(params, Iterable):
        raise TypeError(f"optimizer params must be a list of Values, got {type(params).__name__}")
    items = list(params)  # a generator is read exactly once
    if not items:
        raise ValueError("optimizer got an empty parameter list")
    out: list[Value] = []
    seen: set[int] = set()
    dropped = 0
    for i, p in enumerate(items):
        if not isinstance(p, Value):
            raise TypeError(f"optimizer params[{i}] is {type(p).__name__}, not a Value")
        if not p.is_leaf:
            raise ValueError(
                f"optimizer params[{i}] was computed by {p.op!r}; only leaf Values "
                "(parameters) can be optimized"
            )
        if id(p) in seen:
            dropped += 1
            continue
        seen.add(id(p))
        out.append(p)
    if dropped:
        warnings.warn(
            f"optimizer params contain {dropped} duplicate(s); each parameter is kept once",
            UserWarning,
            stacklevel=3,
        )
    return out, [f"params[{i}]" for i in range(len(out))]


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    # torch.lerp's two-branch form (the small weight multiplies the difference), so
    # that results agree with PyTorch to the last bit.
    if weight < 0.5:
        return start + weight * (end - start)
    return end + (weight - 1.0) * (end - start)


# -- the base class -------------------------------------------------------------------------------

class Optimizer:
    """Base class: parameter bookkeeping, checks, ``zero_grad`` and the guarded step.

    A subclass implements ``_update(p, g) -> (new_p, new_state)`` on float64 arrays
    (``p`` the parameters, ``g`` the gradients) without side effects; ``step()`` commits
    it only when every new value is finite. ``lr`` is a plain attribute (schedules set it).

    Example:
        >>> from chainrule.engine import Value
        >>> w = Value(2.0)
        >>> opt = SGD([w], lr=0.1)
        >>> loss = (w - 5.0) ** 2
        >>> opt.zero_grad(); loss.backward(); opt.step()
        >>> round(w.data, 6)   # w - lr * 2 (w - 5)
        2.6
    """

    def __init__(self, params: Any, lr: float) -> None:
        self.params, self._names = _collect(params)
        self.lr = _lr(lr)
        self.state: dict[str, Any] = {}
        self.steps = 0

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Apply one update from the current ``.grad`` of every parameter.

        Raises ``FloatingPointError`` (changing nothing) when a gradient is nan or inf,
        or when the update would make a parameter non-finite.
        """
        params = self.params
        n = len(params)
        name = type(self).__name__
        g = np.fromiter((p.grad for p in params), dtype=np.float64, count=n)
        _refuse_nonfinite(g, lambda i: f"{name}.step: the gradient of {self._describe(i)} is "
                                       f"{float(g[i])!r}")
        if self.steps == 0 and not g.any():
            return  # step() before any backward(): nothing to do
        p = np.fromiter((v.data for v in params), dtype=np.float64, count=n)
        with np.errstate(all="ignore"):  # a non-finite result is reported just below
            new_p, new_state = self._update(p, g)
        _refuse_nonfinite(new_p, lambda i: f"{name}.step would set {self._describe(i)} to "
                                           f"{float(new_p[i])!r} (learning rate {self.lr!r} "
                                           "too large?)")
        for v, x in zip(params, new_p.tolist()):
            v.data = x
        self.state = new_state
        self.steps += 1

    def _describe(self, i: int) -> str:
        p = self.params[i]
        label = f" ({p.label})" if p.label else ""
        return f"{self._names[i]}{label}"

    def _update(self, p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _hyper(self) -> str:
        return f"lr={self.lr!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, {self._hyper()})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov and weight decay.

    As ``torch.optim.SGD``: ``d = g + weight_decay * p``; with momentum ``buf = d`` on
    the first step, then ``buf = momentum * buf + (1 - dampening) * d``; the direction
    is ``d + momentum * buf`` (Nesterov) or ``buf``; ``p = p - lr * direction``.

    Example:
        >>> from chainrule.engine import Value
        >>> x = Value(1.0)
        >>> opt = SGD([x], lr=0.5, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (x * x).backward(); opt.step()
        >>> x.data
        -0.9
    """

    def __init__(self, params: Any, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _check(momentum, "Invalid momentum value", 0.0, 1.0)
        self.dampening = _check(dampening, "Invalid dampening value", 0.0, 1.0, hi_open=False)
        self.nesterov = flag(nesterov, "nesterov")
        self.weight_decay = _weight_decay(weight_decay)
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening, got "
                             f"momentum={momentum!r}, dampening={dampening!r}")

    def _update(self, p, g):
        d = g + self.weight_decay * p if self.weight_decay != 0.0 else g
        state = {}
        if self.momentum != 0.0:
            buf = self.state.get("momentum_buffer")
            buf = d.copy() if buf is None else buf * self.momentum + (1.0 - self.dampening) * d
            state["momentum_buffer"] = buf
            d = d + self.momentum * buf if self.nesterov else buf
        return p - self.lr * d, state

    def _hyper(self) -> str:
        return (f"lr={self.lr!r}, momentum={self.momentum!r}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay!r}")


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``.

    ``g += weight_decay * p`` (L2, coupled); ``m = b1 m + (1-b1) g``;
    ``v = b2 v + (1-b2) g^2``; ``p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)``.
    ``amsgrad=True`` uses the running maximum of ``v``.

    Example:
        >>> from chainrule.engine import Value
        >>> x = Value(1.0)
        >>> opt = Adam([x], lr=0.1)
        >>> (x * x).backward(); opt.step()
        >>> round(x.data, 6)   # the first Adam step moves every parameter by about lr
        0.9
    """

    _decoupled = False

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (need a pair of numbers in [0, 1))")
        self.betas = (_check(betas[0], "Invalid beta parameter at index 0", 0.0, 1.0),
                      _check(betas[1], "Invalid beta parameter at index 1", 0.0, 1.0))
        self.eps = _eps(eps)
        self.weight_decay = _weight_decay(weight_decay)
        self.amsgrad = flag(amsgrad, "amsgrad")

    def _update(self, p, g):
        b1, b2 = self.betas
        step = self.steps + 1
        if self.weight_decay != 0.0:
            if self._decoupled:
                p = p * (1.0 - self.lr * self.weight_decay)
            else:
                g = g + self.weight_decay * p
        zeros = np.zeros_like(p)
        m = _lerp(self.state.get("exp_avg", zeros), g, 1.0 - b1)
        v = self.state.get("exp_avg_sq", zeros) * b2 + (1.0 - b2) * g * g
        state = {"exp_avg": m, "exp_avg_sq": v}
        bias_correction1 = 1.0 - b1 ** step
        bias_correction2 = 1.0 - b2 ** step
        step_size = self.lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if self.amsgrad:
            v = np.maximum(self.state.get("max_exp_avg_sq", zeros), v)
            state["max_exp_avg_sq"] = v
        denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
        return p - step_size * (m / denom), state

    def _hyper(self) -> str:
        return (f"lr={self.lr!r}, betas={self.betas!r}, eps={self.eps!r}, "
                f"weight_decay={self.weight_decay!r}")


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``:
    ``p *= 1 - lr * weight_decay`` before the Adam step, instead of adding to ``g``.

    Example:
        >>> from chainrule.engine import Value
        >>> x = Value(1.0)
        >>> opt = AdamW([x], lr=0.1, weight_decay=0.5)
        >>> (x * x).backward(); opt.step()
        >>> round(x.data, 6)   # 1 * (1 - 0.1 * 0.5), then Adam's first step of about lr
        0.85
    """

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``: divide the gradient by a running RMS.

    ``sq = alpha sq + (1-alpha) g^2``; ``avg = sqrt(sq) + eps`` (``centered``: subtract
    the squared running mean of g first); ``p -= lr g / avg``, or with momentum
    ``buf = momentum buf + g / avg; p -= lr buf``.

    Example:
        >>> from chainrule.engine import Value
        >>> x = Value(1.0)
        >>> opt = RMSprop([x], lr=0.01)
        >>> (x * x).backward(); opt.step()
        >>> round(x.data, 6)   # g = 2, sq = 0.01 * 4: p -= 0.01 * 2 / 0.2
        0.9
    """

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr)
        self.alpha = _check(alpha, "Invalid alpha value", 0.0, 1.0)
        self.eps = _eps(eps)
        self.weight_decay = _weight_decay(weight_decay)
        self.momentum = _check(momentum, "Invalid momentum value", 0.0, 1.0)
        self.centered = flag(centered, "centered")

    def _update(self, p, g):
        if self.weight_decay != 0.0:
            g = g + self.weight_decay * p
        zeros = np.zeros_like(p)
        sq = self.state.get("square_avg", zeros) * self.alpha + (1.0 - self.alpha) * g * g
        state = {"square_avg": sq}
        if self.centered:
            ga = _lerp(self.state.get("grad_avg", zeros), g, 1.0 - self.alpha)
            state["grad_avg"] = ga
            avg = np.sqrt(sq + (-1.0) * ga * ga) + self.eps
        else:
            avg = np.sqrt(sq) + self.eps
        if self.momentum > 0.0:
            buf = self.state.get("momentum_buffer", zeros) * self.momentum + g / avg
            state["momentum_buffer"] = buf
            return p - self.lr * buf, state
        return p - self.lr * (g / avg), state

    def _hyper(self) -> str:
        return (f"lr={self.lr!r}, alpha={self.alpha!r}, eps={self.eps!r}, "
                f"momentum={self.momentum!r}, centered={self.centered}")


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``: per-parameter rates from accumulated g^2.

    ``clr = lr / (1 + (t-1) lr_decay)``; ``sum += g^2``; ``p -= clr g / (sqrt(sum) + eps)``.

    Example:
        >>> from chainrule.engine import Value
        >>> x = Value(1.0)
        >>> opt = Adagrad([x], lr=0.5)
        >>> (x * x).backward(); opt.step()
        >>> round(x.data, 6)   # the first step is lr * g / |g|
        0.5
    """

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, lr)
        self.lr_decay = _check(lr_decay, "Invalid lr_decay value", 0.0)
        self.weight_decay = _weight_decay(weight_decay)
        self.initial_accumulator_value = _check(
            initial_accumulator_value, "Invalid initial_accumulator_value value", 0.0)
        self.eps = _eps(eps)

    def _update(self, p, g):
        step = self.steps + 1
        if self.weight_decay != 0.0:
            g = g + self.weight_decay * p
        clr = self.lr / (1 + (step - 1) * self.lr_decay)
        acc = self.state.get("sum")
        if acc is None:
            acc = np.full_like(p, self.initial_accumulator_value)
        acc = acc + g * g
        std = np.sqrt(acc) + self.eps
        return p - clr * (g / std), {"sum": acc}

    def _hyper(self) -> str:
        return f"lr={self.lr!r}, lr_decay={self.lr_decay!r}, eps={self.eps!r}"


# -- learning-rate schedules ----------------------------------------------------------------------

class LRScheduler:
    """Base of the schedules: ``step()`` once per epoch sets ``optimizer.lr``.

    The schedule is a closed form ``lr_at(epoch)`` of the learning rate the optimizer
    had when the scheduler was made (``base_lr``); creating the scheduler applies
    ``lr_at(0)``, as PyTorch does.

    Example:
        >>> from chainrule.engine import Value
        >>> opt = SGD([Value(0.0)], lr=1.0)
        >>> sched = StepLR(opt, step_size=1, gamma=0.5)
        >>> sched.step(), opt.lr, sched.get_last_lr()
        (0.5, 0.5, [0.5])
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a scheduler needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch: int) -> float:
        """The learning rate after ``epoch`` calls of :meth:`LRScheduler.step`."""
        raise NotImplementedError

    def step(self) -> float:
        """Advance one epoch and return the new learning rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)
        return self.optimizer.lr

    def get_last_lr(self) -> list[float]:
        """The current learning rate, in a list (as PyTorch's schedulers)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``: decay by ``gamma`` every
    ``step_size`` epochs.

    Example:
        >>> from chainrule.engine import Value
        >>> sched = StepLR(SGD([Value(0.0)], lr=1.0), step_size=2, gamma=0.5)
        >>> [sched.step() for _ in range(4)]
        [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = positive_int(step_size, "step_size", message=_POSITIVE_INT)
        self.gamma = _check(gamma, "Invalid gamma value", 0.0, lo_open=True)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs, then hold it (``torch.optim.lr_scheduler.LinearLR``).

    Example:
        >>> from chainrule.engine import Value
        >>> opt = SGD([Value(0.0)], lr=1.0)
        >>> sched = LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> opt.lr, [sched.step() for _ in range(4)]
        (0.25, [0.5, 0.75, 1.0, 1.0])
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5) -> None:
        self.start_factor = _check(start_factor, "Invalid start_factor", 0.0, 1.0,
                                   lo_open=True, hi_open=False)
        self.end_factor = _check(end_factor, "Invalid end_factor", 0.0, 1.0, hi_open=False)
        self.total_iters = positive_int(total_iters, "total_iters", message=_POSITIVE_INT)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        t = min(epoch, self.total_iters) / self.total_iters
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * t)


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2``
    (``torch.optim.lr_scheduler.CosineAnnealingLR``'s closed form).

    Example:
        >>> from chainrule.engine import Value
        >>> sched = CosineAnnealingLR(SGD([Value(0.0)], lr=1.0), T_max=4)
        >>> [round(sched.step(), 4) for _ in range(4)]
        [0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        self.T_max = positive_int(T_max, "T_max", message=_POSITIVE_INT)
        self.eta_min = _check(eta_min, "Invalid eta_min", 0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        cos = 1.0 + math.cos(math.pi * epoch / self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * cos / 2.0


# -- gradient clipping ----------------------------------------------------------------------------

def clip_grad_norm(params: Any, max_norm: float, norm_type: float = 2.0, *,
                   error_if_nonfinite: bool = True) -> float:
    """Scale all gradients together so their ``norm_type``-norm is at most ``max_norm``.

    Returns the norm before clipping. Like ``torch.nn.utils.clip_grad_norm_``, the
    factor is ``max_norm / (norm + 1e-6)`` when below 1. A zero norm changes nothing;
    the 2-norm is computed without overflow (``math.hypot``), so huge finite gradients
    are scaled rather than zeroed. A nan or inf gradient raises ``FloatingPointError``
    (or, with ``error_if_nonfinite=False``, leaves the gradients alone and returns the
    non-finite norm).

    Example:
        >>> from chainrule.engine import Value
        >>> a, b = Value(0.0), Value(0.0)
        >>> a.grad, b.grad = 3.0, 4.0
        >>> clip_grad_norm([a, b], 1.0), round(a.grad, 6), round(b.grad, 6)
        (5.0, 0.6, 0.8)
    """
    if isinstance(params, Module):
        ps = params.parameters()
    else:
        ps, _ = _collect(params)
    limit = number(max_norm, "max_norm", low=0.0, finite=False, type_error=ValueError,
                   message="Invalid {name}: {value} (need a number >= 0)")
    p = number(norm_type, "norm_type", low=1.0, finite=False, type_error=ValueError,
               message="Invalid {name}: {value} (need a number >= 1 or inf)")
    grads = [v.grad for v in ps]
    bad = [i for i, g in enumerate(grads) if not math.isfinite(g)]
    if bad:
        if error_if_nonfinite:
            i = bad[0]
            raise FloatingPointError(
                f"clip_grad_norm: parameter {i} has gradient {grads[i]!r}, so the gradient "
                "norm is not finite; no gradient was changed"
            )
        return math.nan if any(g != g for g in grads) else math.inf
    if p == math.inf:
        total = max(abs(g) for g in grads)
    elif p == 2.0:
        total = math.hypot(*grads)
    else:
        # (sum |g|^p)^(1/p), computed relative to the largest |g| so it cannot overflow.
        top = max(abs(g) for g in grads)
        total = 0.0 if top == 0.0 else top * math.fsum((abs(g) / top) ** p for g in grads) ** (
            1.0 / p)
    coef = limit / (total + 1e-6)
    if coef < 1.0:
        for v in ps:
            v.grad = v.grad * coef
    return total
