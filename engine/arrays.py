"""The ops on numpy arrays: the tape's forward kernels and the rules' numpy backend.

The numpy twin of :mod:`chainrule.engine.kernels`, with the same IEEE answers (``log(0)
= -inf``, ``1/0 = inf``, a negative base to a non-integer power is ``nan``), so the tape
replays exactly what the scalar path computes. Callers run inside
``np.errstate(all="ignore")``: the tape reports non-finite values itself, once per op.

A forward kernel writes its result into ``out`` (rows of the tape's preallocated array):
a fresh temporary per op costs a round of page faults, which once took half the replay's
time. Unary kernels are called as ``f(x, arg, out)``, binary ``f(a, b, arg, out)``, and
n-ary ``f(blocks, arg, out)``, where each block is an array of operands stacked on axis 0
(a neuron's products in one block, its bias in another).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Kernel = Callable[..., None]


def unary(ufunc: Any) -> Kernel:
    """The kernel of an op that is one numpy ufunc of its input."""
    return lambda x, arg, out: ufunc(x, out=out)


def binary(ufunc: Any) -> Kernel:
    """The kernel of an op that is one numpy ufunc of its two inputs."""
    return lambda a, b, arg, out: ufunc(a, b, out=out)


def reduce(ufunc: Any) -> Kernel:
    """The kernel of an n-ary op that folds its inputs with ``ufunc`` (sum, max)."""

    def kernel(blocks: Sequence[np.ndarray], arg: Any, out: np.ndarray) -> None:
        for i, block in enumerate(blocks):
            if i == 0 and block.shape[1:] == out.shape:
                ufunc.reduce(block, axis=0, out=out)
            elif i == 0:  # a block of shared operands broadcasts over the batch
                np.copyto(out, ufunc.reduce(block, axis=0))
            else:
                ufunc(out, ufunc.reduce(block, axis=0), out=out)

    return kernel


def pow(a: Any, b: Any, out: np.ndarray | None = None) -> np.ndarray:  # noqa: A001
    """``a ** b`` as the float kernel: C99 ``pow``, but a negative base to a non-integer
    power is nan (``-inf`` included). numpy takes a square root for the exponent 0.5,
    giving -0.0 at -0.0 where C gives +0.0; no non-integer power is -0.0."""
    out = np.power(a, b, out=out)
    fraction = np.floor(b) != b  # also True for a nan exponent, harmless here
    if np.any(fraction):
        np.copyto(out, np.nan, where=fraction & (a < 0.0))
        np.add(out, 0.0, out=out, where=fraction)  # -0.0 + 0.0 is +0.0
    return out


def relu(x: Any, arg: Any, out: np.ndarray) -> None:
    np.copyto(out, x)
    np.copyto(out, 0.0, where=x <= 0.0)  # nan <= 0 is False: nan propagates


def leaky_relu(x: Any, alpha: float, out: np.ndarray) -> None:
    np.copyto(out, x)
    np.multiply(x, alpha, out=out, where=~(x > 0.0))


def elu(x: Any, alpha: float, out: np.ndarray) -> None:
    np.copyto(out, x)
    low = ~(x > 0.0)
    np.expm1(x, out=out, where=low)
    np.multiply(out, alpha, out=out, where=low)


def sigmoid_into(x: Any, arg: Any, out: np.ndarray) -> None:
    # e = exp(-|x|) never overflows; sigmoid is 1/(1+e) for x >= 0, e/(1+e) below.
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    denominator = out + 1.0
    np.copyto(out, 1.0, where=x >= 0.0)
    np.divide(out, denominator, out=out)


def softplus(x: Any, arg: Any, out: np.ndarray) -> None:
    # max(x, 0) + log1p(e^-|x|): never overflows; np.maximum propagates nan.
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    np.add(out, np.maximum(x, 0.0), out=out)


def clamp(x: Any, bounds: tuple[float, float], out: np.ndarray) -> None:
    lo, hi = bounds
    # Not np.clip: this keeps -0.0 and nan exactly as the float kernel does.
    np.copyto(out, x)
    np.copyto(out, lo, where=x < lo)
    np.copyto(out, hi, where=x > hi)


# -- the numpy backend of the rules (see rules.py): the names a rule's ``local`` uses -----

def sigmoid(x: Any) -> Any:
    # exp of a non-positive number only, as the float kernel: stable at +-1000.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def sign(x: Any) -> Any:
    # 0 at nan, as the float kernel and PyTorch (numpy's sign gives nan).
    return np.greater(x, 0.0) - np.less(x, 0.0).astype(np.float64)


def raw(x: Any) -> Any:
    """The array behind ``x`` (an array is its own), for ``==`` in conditions."""
    return x


div = np.divide
exp = np.exp
log = np.log
sin = np.sin
cos = np.cos
where = np.where

ARRAYS = sys.modules[__name__]
"""The numpy backend of the rules: this module (``div pow exp log sigmoid sin cos sign
where raw``), as :data:`chainrule.engine.kernels.FLOAT` is for floats."""
