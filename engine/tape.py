"""The tape: record the scalar graph of one sample once, replay it over a batch with numpy.

A scalar engine spends its time in Python: one object and a handful of interpreted
operations per node, and ``MLP(2, [16, 16, 1])`` on 100 points is ~37,000 nodes. The tape
records the graph of *one* sample (``fn`` applied to fresh input Values), then replays
the same graph for a whole batch at once: every node becomes a row of a
``(nodes, batch)`` array, and nodes that do the same op at the same depth of the graph
are computed by one numpy call over their gathered rows.

Example:
    >>> from chainrule.engine import Value
    >>> from chainrule.engine.tape import Tape
    >>> w, b = Value(2.0, label="w"), Value(1.0, label="b")
    >>> tape = Tape.record(lambda xs: (w * xs[0] + b).tanh(), [0.0], [w, b])
    >>> out = tape.forward([[0.0], [0.5]])         # (batch, outputs)
    >>> dx = tape.backward()                         # (batch, inputs); adds into w.grad
    >>> out.round(6).ravel().tolist(), round(w.grad, 6)
    ([0.761594, 0.964028], 0.035325)

Same numbers as the scalar path
-------------------------------
The derivative of every op comes from its row in :data:`chainrule.engine.RULES`: the
tape calls the same ``rule.local(xp, out, *inputs, arg)`` as the scalar path, with a
numpy backend ``xp``. Forward kernels follow the float kernels' IEEE semantics (``log(0)
= -inf``, ``1/0 = inf``, a negative base to a non-integer power is ``nan``). A non-finite
forward result from finite inputs gives one ``RuntimeWarning`` naming the op (one per op
per ``forward`` call, with the number of samples affected); inside ``detect_anomaly()``
the first non-finite value in forward or backward raises ``FloatingPointError`` naming
the op, the nodes involved and the sample. Results equal a loop of scalar backward
calls up to rounding: ``Value.sum`` rounds once (``math.fsum``) where the tape adds left
to right, and contributions reach a node in another order, so sums can differ by up to
``(n - 1) * 2**-53 * sum(|terms|)`` (the README's "Numbers at the edges"); nan and inf
positions are identical. A local derivative of exactly 0 passes nothing back, as on the
scalar path.

What is recorded, and what is not
---------------------------------
* **Inputs** are fresh leaf Values made from ``example``; **parameters** are the Values
  in ``params``: each ``forward`` reads their *current* ``.data``, and ``backward`` adds
  the batch sum of their gradients into ``.grad`` (as scalar backward of the summed
  loss would). Every other leaf the graph reaches is a **constant** with the number it
  had at record time. So a parameter missing from ``params`` is silently frozen.
* Every node that depends on an input or a parameter is computed per sample, also one
  that depends on parameters only (a weight penalty ``sum(p*p)``), so the gradient is
  exactly a sum of per-sample gradients, as a loop of scalar backward calls would give
  (``d * (g1 + g2)`` is not ``d * g1 + d * g2`` when ``d`` is infinite). Nodes that
  depend on neither are folded into constants.
* **Python control flow is frozen at record time.** ``fn`` runs once, on ``example``;
  the tape replays the ops that run made. ``if x.data > 0:`` (or ``if x > 0``, which
  compares ``.data``), loops whose length depends on values, ``float(v)``, ``round``,
  and anything else computed from numbers instead of Values take the branch the
  example took, for every sample. Ops that branch *inside* a rule (``relu``, ``abs``,
  ``clamp``, ``max``, ``leaky_relu``, ``elu``) are fine: the branch is an element-wise
  ``where`` in the replay. Write data-dependent choices with those ops.
* **Randomness is frozen too**: dropout drawn with ``random`` in ``fn`` keeps the mask
  of the recording for every sample and step; a traced dropout would need a random op
  in the rule table. Record without dropout (evaluation mode).
* n-ary ops (``Value.sum``, ``Value.max``) of any arity are fine; nodes of different
  arities simply run in different groups.
* A tape is not thread-safe: ``forward`` keeps the values that ``backward`` uses, in
  arrays preallocated per batch size (the last two sizes; :meth:`Tape.release` frees them).

How the replay is fast
----------------------
At record time nodes are sorted by depth (longest path from an input or parameter)
and grouped by (depth, op, arity, op argument, which operands are per-sample); each
group's operand rows and output rows are fixed index arrays. ``forward`` is then one
gather and one numpy kernel per group; ``backward`` visits the groups in reverse,
calls the rule's ``local`` once per group, and adds the contributions into the parents'
gradient rows: a slice or a fancy-index ``+=`` when the targets are distinct, a reshape
and ``sum`` when they repeat in a regular pattern (a hidden unit feeding every neuron of
the next layer), ``np.add.reduceat`` over a precomputed sorted order otherwise
(``np.add.at`` is about 6 times slower). Kernels write into arrays preallocated per batch
size: a fresh 200 kB temporary per op costs a round of page faults, which took half the
time. The hinge loss of ``MLP(2, [16, 16, 1])`` is 372 nodes per sample in 11 groups.

Each group costs a few microseconds of Python, so the tape suits wide graphs replayed
over many samples; a deep chain (one node per level) replays slower than the scalar path.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .modes import ANOMALY, QUIET, enable_grad, get_mode
from .rules import Rule
from .value import Value, _parents, _to_float, as_values

__all__ = ["ARRAYS", "KERNELS", "Tape", "TraceError"]


class TraceError(ValueError):
    """``fn`` or its arguments cannot be recorded as a tape (the message says why)."""


# -- the numpy backend of the derivative rules ------------------------------------------


def _sigmoid(x: Any) -> Any:
    # exp of a non-positive number only, as the float kernel: stable at +-1000.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _pow(a: Any, b: Any, out: np.ndarray | None = None) -> np.ndarray:
    # As the float kernel: C99 pow, but a negative base to a non-integer power is nan
    # (-inf included, where C gives inf or 0). numpy takes a square root for the exponent
    # 0.5, giving -0.0 at -0.0 where C gives +0.0; no non-integer power is -0.0.
    out = np.power(a, b, out=out)
    fraction = np.floor(b) != b  # also True for a nan exponent, harmless here
    if np.any(fraction):
        np.copyto(out, np.nan, where=fraction & (a < 0.0))
        np.add(out, 0.0, out=out, where=fraction)  # -0.0 + 0.0 is +0.0
    return out


def _sign(x: Any) -> Any:
    # 0 at nan, as the float kernel and PyTorch (numpy's sign gives nan).
    return np.greater(x, 0.0) - np.less(x, 0.0).astype(np.float64)


class NumpyBackend:
    """The operations the derivative rules need, on numpy arrays (IEEE, no exceptions).

    Callers run inside ``np.errstate(all="ignore")``: the tape reports non-finite
    values itself, once per op, like the scalar path.
    """

    div = staticmethod(np.divide)
    pow = staticmethod(_pow)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sigmoid = staticmethod(_sigmoid)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    sign = staticmethod(_sign)
    where = staticmethod(np.where)

    @staticmethod
    def raw(x: Any) -> Any:
        """The array behind ``x`` (an array is its own), for ``==`` in conditions."""
        return x


ARRAYS = NumpyBackend()
"""The numpy backend instance passed to ``rule.local`` by the tape."""


# -- forward kernels: the numpy twins of chainrule.engine.kernels -------------------------
# A kernel writes its result into ``out`` (rows of the tape's preallocated value array):
# unary kernels are called as f(x, arg, out), binary f(a, b, arg, out), n-ary
# f(xs, arg, out). Writing in place matters: a fresh 200 kB temporary per op costs a
# round of page faults in glibc's malloc, which took half the replay's time.


def _unary(ufunc: Any) -> Callable[..., None]:
    return lambda x, arg, out: ufunc(x, out=out)


def _binary(ufunc: Any) -> Callable[..., None]:
    return lambda a, b, arg, out: ufunc(a, b, out=out)


def _relu(x: Any, arg: Any, out: np.ndarray) -> None:
    np.copyto(out, x)
    np.copyto(out, 0.0, where=x <= 0.0)  # nan <= 0 is False: nan propagates


def _leaky_relu(x: Any, alpha: float, out: np.ndarray) -> None:
    np.copyto(out, x)
    np.multiply(x, alpha, out=out, where=~(x > 0.0))


def _elu(x: Any, alpha: float, out: np.ndarray) -> None:
    np.copyto(out, x)
    low = ~(x > 0.0)
    np.expm1(x, out=out, where=low)
    np.multiply(out, alpha, out=out, where=low)


def _sigmoid_into(x: Any, arg: Any, out: np.ndarray) -> None:
    # e = exp(-|x|) never overflows; sigmoid is 1/(1+e) for x >= 0, e/(1+e) below.
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    denominator = out + 1.0
    np.copyto(out, 1.0, where=x >= 0.0)
    np.divide(out, denominator, out=out)


def _softplus(x: Any, arg: Any, out: np.ndarray) -> None:
    # max(x, 0) + log1p(e^-|x|): never overflows; np.maximum propagates nan.
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    np.add(out, np.maximum(x, 0.0), out=out)


def _clamp(x: Any, bounds: tuple[float, float], out: np.ndarray) -> None:
    lo, hi = bounds
    # Not np.clip: this keeps -0.0 and nan exactly as the float kernel does.
    np.copyto(out, x)
    np.copyto(out, lo, where=x < lo)
    np.copyto(out, hi, where=x > hi)


def _fold(ufunc: Any) -> Callable[..., None]:
    def kernel(xs: Sequence[Any], arg: Any, out: np.ndarray) -> None:
        np.copyto(out, xs[0])
        for x in xs[1:]:
            ufunc(out, x, out=out)

    return kernel


KERNELS: dict[str, Callable[..., None]] = {
    "add": _binary(np.add),
    "sub": _binary(np.subtract),
    "mul": _binary(np.multiply),
    "div": _binary(np.divide),
    "pow": lambda a, b, arg, out: _pow(a, b, out),
    "powc": lambda x, c, out: _pow(x, c, out),
    "rpow": lambda x, c, out: _pow(c, x, out),
    "neg": _unary(np.negative),
    "exp": _unary(np.exp),
    "log": _unary(np.log),
    "sqrt": _unary(np.sqrt),
    "tanh": _unary(np.tanh),
    "sigmoid": _sigmoid_into,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "softplus": _softplus,
    "abs": _unary(np.abs),
    "sin": _unary(np.sin),
    "cos": _unary(np.cos),
    "clamp": _clamp,
    "sum": _fold(np.add),
    "max": _fold(np.maximum),  # np.maximum propagates nan, as maximum_many
}
"""Forward kernel of every rule, by rule name (the tests check that none is missing)."""

# Row-wise dot product, for the batch sum of d * g (numpy >= 2 has vecdot).
_rowdot = getattr(np, "vecdot", None) or (lambda a, b: np.einsum("...i,...i->...", a, b))


# -- the recorded program -------------------------------------------------------------------

# Where a node's value lives: per-sample rows (inputs and every node computed from an
# input or a parameter) or shared rows (parameters and constants, which no group writes).
_INPUT, _PARAM, _CONST, _VAR = range(4)


class _Work:
    """Preallocated arrays for one batch size: values, gradients and scratch buffers."""

    __slots__ = ("rows", "grads", "buffers")

    def __init__(self, n_rows: int, batch: int) -> None:
        self.rows = np.empty((n_rows, batch))
        self.grads = np.empty((n_rows, batch))
        self.buffers: dict[tuple[int, str], np.ndarray] = {}

    def buffer(self, owner: object, tag: str, shape: tuple[int, ...]) -> np.ndarray:
        """A scratch array of ``shape`` that belongs to ``owner`` (made on first use)."""
        key = (id(owner), tag)
        buf = self.buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self.buffers[key] = np.empty(shape)
        return buf


class _Scatter:
    """How one block of contributions is added into gradient rows (fixed at record time).

    Contributions ``c`` arrive with shape ``(positions, k, *width)`` (or ``(1, k, *width)``
    when every position gets the same one). ``kind`` is one of
    ``span``   the targets are the rows start..stop in position-major order: a slice ``+=``;
    ``tspan``  the rows start..stop in node-major order (an n-ary node's parents are
               usually made just before it): a reshaped slice ``+=``;
    ``unique`` distinct targets: gather, add, put back;
    ``tile``   one row of distinct targets repeated ``reps`` times (a hidden unit feeding
               every neuron of the next layer): reshape, ``sum``, then add;
    ``pick``   distinct targets once constants (which need no gradient) are dropped;
    ``reduce`` anything else: gather the contributions sorted by target (``flat``), then
               ``np.add.reduceat`` (per-sample rows) or ``np.bincount`` (shared rows).
    """

    __slots__ = ("kind", "npos", "k", "start", "stop", "index", "flat", "reps", "starts", "ids")

    def __init__(self, kind: str, npos: int, k: int) -> None:
        self.kind = kind
        self.npos, self.k = npos, k
        self.start = self.stop = self.reps = 0
        self.index = self.flat = self.starts = self.ids = None

    def add(self, grads: np.ndarray, c: np.ndarray, work: _Work) -> None:
        """Add contributions ``c`` into the target rows of ``grads``."""
        kind = self.kind
        width = grads.shape[1:]
        if kind == "unique":
            if not width:
                grads[self.index] += c
                return
            rows = work.buffer(self, "rows", (*self.index.shape, *width))
            np.take(grads, self.index, axis=0, out=rows)
            rows += c
            grads[self.index] = rows
            return
        if kind == "tspan":
            view = grads[self.start:self.stop].reshape((self.k, self.npos, *width))
            view += c.swapaxes(0, 1)
            return
        if c.shape[0] != self.npos:
            c = np.broadcast_to(c, (self.npos, *c.shape[1:]))
        flat = c.reshape((-1, *width))
        if kind == "span":
            grads[self.start:self.stop] += flat
            return
        if kind == "tile":
            m = len(flat) // self.reps
            rows = np.sum(flat.reshape((self.reps, m, *width)), axis=0,
                          out=work.buffer(self, "rows", (m, *width)))
            if self.index is None:
                grads[self.start:self.stop] += rows
            else:
                grads[self.index] += rows
            return
        picked = np.take(flat, self.flat, axis=0,
                         out=work.buffer(self, "pick", (len(self.flat), *width)))
        if kind == "pick":
            grads[self.index] += picked
        elif not width:  # shared rows: a weighted bincount adds repeated targets
            grads[self.index] += np.bincount(self.ids, weights=picked, minlength=len(self.index))
        else:
            grads[self.index] += np.add.reduceat(picked, self.starts, axis=0)


def _contiguous(rows: np.ndarray) -> bool:
    return len(rows) > 0 and bool(np.all(np.diff(rows) == 1))


def _scatter_plan(targets: np.ndarray, keep: np.ndarray) -> _Scatter | None:
    """The cheapest correct way to add contributions into ``targets`` (None: no target
    needs a gradient). ``targets`` and ``keep`` have shape ``(positions, k)``."""
    npos, k = targets.shape
    flat, kept = targets.ravel(), keep.ravel()
    if not kept.any():
        return None
    if kept.all():
        for kind, order in (("span", flat), ("tspan", targets.T.ravel())):
            if _contiguous(order) and (kind == "span" or npos > 1):
                plan = _Scatter(kind, npos, k)
                plan.start, plan.stop = int(order[0]), int(order[-1]) + 1
                return plan
        distinct = np.unique(flat)
        if len(distinct) == len(flat):
            plan = _Scatter("unique", npos, k)
            plan.index = targets
            return plan
        row = flat[: len(distinct)]
        reps = len(flat) // len(distinct)
        if (len(distinct) * reps == len(flat) and len(np.unique(row)) == len(row)
                and np.array_equal(flat.reshape(reps, -1), np.broadcast_to(row, (reps, len(row))))):
            plan = _Scatter("tile", npos, k)
            plan.reps = reps
            if _contiguous(row):
                plan.start, plan.stop = int(row[0]), int(row[-1]) + 1
            else:
                plan.index = row
            return plan
    where = np.flatnonzero(kept)
    chosen = flat[where]
    if len(np.unique(chosen)) == len(chosen):
        plan = _Scatter("pick", npos, k)
        plan.index, plan.flat = chosen, where
        return plan
    order = np.argsort(chosen, kind="stable")
    where, chosen = where[order], chosen[order]
    plan = _Scatter("reduce", npos, k)
    plan.flat = where
    new = np.r_[True, chosen[1:] != chosen[:-1]]
    plan.starts = np.flatnonzero(new)
    plan.index = chosen[plan.starts]
    plan.ids = np.cumsum(new) - 1
    return plan


class _Block:
    """The operands of a group that live in one store, gathered with one index.

    ``mode`` says how: ``span`` (the rows start..stop, position-major) and ``tspan``
    (node-major) are reshaped views, no copy; ``gather`` is ``np.take`` into a buffer.
    """

    __slots__ = ("shared", "positions", "index", "mode", "start", "stop", "scatter")

    def __init__(self, shared: bool, positions: list[int], index: np.ndarray,
                 scatter: _Scatter | None) -> None:
        self.shared = shared  # operands from the shared store (parameters, constants, ...)
        self.positions = positions  # which operand slots of the op
        self.index = index  # (positions, k) rows in the store
        self.scatter = scatter
        self.mode, self.start, self.stop = "gather", 0, 0
        for mode, order in (("span", index.ravel()), ("tspan", index.T.ravel())):
            if _contiguous(order) and (mode == "span" or len(positions) > 1):
                self.mode, self.start, self.stop = mode, int(order[0]), int(order[-1]) + 1
                break

    def gather(self, store: np.ndarray, work: _Work) -> np.ndarray:
        """Operand values, shape ``(positions, k, *width)``."""
        width = store.shape[1:]
        if self.mode == "gather":
            return np.take(store, self.index, axis=0,
                           out=work.buffer(self, "gather", (*self.index.shape, *width)))
        npos, k = self.index.shape
        values = store[self.start:self.stop]
        if self.mode == "span":
            return values.reshape((npos, k, *width))
        return values.reshape((k, npos, *width)).swapaxes(0, 1)

    def contributions(self, ds: Sequence, g: np.ndarray, work: _Work,
                      masked: bool = False) -> np.ndarray:
        """``d * g`` for each operand slot of the block, shape ``(positions or 1, *g.shape)``;
        ``masked``: 0 wherever ``d`` is 0 (a structural zero), whatever ``g`` is."""
        if _all_floats(ds):
            if ds.count(1.0) == len(ds):  # 1.0 * g == g exactly, nan and inf included
                return g[None]
            buf = work.buffer(self, "c", (len(ds), *g.shape))
            d = np.array(ds).reshape((-1,) + (1,) * g.ndim)
            np.multiply(d, g, out=buf)
            if masked:
                np.copyto(buf, 0.0, where=d == 0.0)
            return buf
        buf = work.buffer(self, "c", (len(ds), *g.shape))
        for j, d in enumerate(ds):
            np.multiply(d, g, out=buf[j])
            if masked:
                np.copyto(buf[j], 0.0, where=np.asarray(d) == 0.0)
        return buf

    def batch_sums(self, ds: Sequence, g: np.ndarray, masked: bool = False) -> np.ndarray:
        """Batch sums of ``d * g`` (per sample, then summed) for the shared operands;
        ``masked`` as in :meth:`contributions`."""
        if _all_floats(ds) and ds.count(1.0) == len(ds):
            return g.sum(axis=-1)[None]
        g_sum = None
        sums = []
        for d in ds:
            if type(d) is float:
                if g_sum is None:
                    g_sum = g.sum(axis=-1)
                # A float d is the same for every sample, so d * sum(g) = sum(d * g) but
                # for rounding; a structural zero passes nothing.
                sums.append(g_sum if d == 1.0 else np.zeros_like(g_sum) if masked and d == 0.0
                            else d * g_sum)
            elif masked:
                sums.append(np.where(np.asarray(d) == 0.0, 0.0, d * g).sum(axis=-1))
            else:
                sums.append(_rowdot(np.broadcast_to(d, g.shape), g))
        return sums[0][None] if len(sums) == 1 else np.stack(sums)


class _Group:
    """Nodes with the same op, arity, argument and operand layout at the same depth."""

    __slots__ = ("rule", "kernel", "arg", "nary", "is_sum", "arity", "depth",
                 "start", "stop", "blocks", "nodes", "single")

    def __init__(self, rule: Rule, arg: Any, arity: int, depth: int, nodes: list[Value]) -> None:
        self.rule = rule
        self.depth = depth
        self.kernel = KERNELS[rule.name]
        self.arg = arg
        self.nary = rule.arity == 0
        self.is_sum = rule.name == "sum"
        self.arity = arity
        self.single = False  # set by Tape._build: one block holds slots 0..arity-1 in order
        self.nodes = nodes  # the recorded Values (for messages)
        self.start = self.stop = 0
        self.blocks: list[_Block] = []  # the per-sample block (if any) comes first

    def run(self, shared: np.ndarray, rows: np.ndarray, work: _Work) -> list[np.ndarray]:
        """Compute the group's outputs into its rows; return the gathered operand blocks."""
        parts = []
        for block in self.blocks:
            values = block.gather(shared if block.shared else rows, work)
            if block.shared:
                values = values[..., None]  # a batch axis of length 1, to broadcast
            parts.append(values)
        out = rows[self.start:self.stop]
        if self.is_sum:
            # One reduction per block instead of arity - 1 additions.
            for i, values in enumerate(parts):
                if i == 0:
                    if len(values) == 1:
                        np.copyto(out, values[0])
                    elif values.shape[-1] != out.shape[-1]:  # shared: broadcast the sum
                        np.copyto(out, values.sum(axis=0))
                    else:
                        np.sum(values, axis=0, out=out)
                else:
                    np.add(out, values[0] if len(values) == 1 else values.sum(axis=0), out=out)
        elif self.nary:
            self.kernel(self.operands(parts), self.arg, out)
        else:
            self.kernel(*self.operands(parts), self.arg, out)
        return parts

    def operands(self, parts: list[np.ndarray]) -> Sequence[np.ndarray]:
        """The operand of each slot, in order. When one block holds every slot, its
        ``(positions, k, ...)`` array is that sequence already (an n-ary sum of 337
        terms would otherwise cost 337 Python-level views)."""
        if self.single:
            return parts[0]
        xs: list[Any] = [None] * self.arity
        for block, values in zip(self.blocks, parts):
            for j, p in enumerate(block.positions):
                xs[p] = values[j]
        return xs

    def local(self, out: np.ndarray, parts: list[np.ndarray]) -> Sequence:
        """The rule's local derivatives, one per operand slot."""
        xs = self.operands(parts)
        if self.nary:
            return self.rule.local(ARRAYS, out, xs, self.arg)
        return self.rule.local(ARRAYS, out, *xs, self.arg)


def _all_floats(ds: Sequence) -> bool:
    """True when every local derivative is a Python float (checked at C speed)."""
    return set(map(type, ds)) == {float}


def _describe(node: Value, value: float | None = None) -> str:
    name = node.label or (node.op or "leaf")
    return f"{name}={node.data if value is None else value!r}"


def _example(example: Any) -> list[float]:
    if isinstance(example, np.ndarray):
        if example.ndim != 1:
            raise ValueError(f"Tape.record: example must be 1-D, got shape {example.shape}")
    elif isinstance(example, (str, bytes, Value, set, frozenset)) or not isinstance(
            example, Sequence):
        raise TypeError("Tape.record: example must be a sequence of numbers, got "
                        f"{type(example).__name__}")
    return [_to_float(x, f"Tape.record: example[{i}]") for i, x in enumerate(example)]


def _outputs(result: Any) -> tuple[Value, ...]:
    if isinstance(result, Value):
        return (result,)
    if not isinstance(result, (list, tuple)):
        raise TraceError(f"fn must return a Value or a list/tuple of Values, got "
                         f"{type(result).__name__}")
    if not result:
        raise TraceError("fn returned an empty sequence: nothing to record")
    for i, item in enumerate(result):
        if not isinstance(item, Value):
            hint = " (use Values, not .data)" if isinstance(item, (int, float)) else ""
            raise TraceError(f"fn returned {type(item).__name__} at position {i}, "
                             f"not a Value{hint}")
    return tuple(result)


def _nonfinite(values: np.ndarray) -> bool:
    return values.size > 0 and not np.isfinite(values).all()


class Tape:
    """A recorded scalar graph, replayed over batches with numpy.

    Build one with :meth:`Tape.record`; then ``forward(X)`` returns the outputs for
    every row of ``X`` and ``backward()`` adds the batch sum of the parameter gradients
    into each parameter's ``.grad`` and returns the input gradients.

    Example:
        >>> from chainrule.engine import Value
        >>> a = Value(3.0, label="a")
        >>> tape = Tape.record(lambda xs: a * xs[0] * xs[0], [1.0], [a])
        >>> tape.forward([[1.0], [2.0]]).ravel().tolist()
        [3.0, 12.0]
        >>> tape.backward().ravel().tolist(), a.grad
        ([6.0, 12.0], 5.0)
    """

    def __init__(self) -> None:  # use Tape.record
        self.params: tuple[Value, ...] = ()
        self.n_inputs = 0
        self.n_outputs = 0
        self.n_nodes = 0
        self._n_rows = 0
        self._shared0 = np.zeros(0)  # parameters, then constants: the rows no group writes
        self._works: dict[int, _Work] = {}
        self._groups: list[_Group] = []
        self._outputs: list[tuple[bool, int]] = []
        self._state: tuple | None = None

    # -- recording -------------------------------------------------------------------------
    @classmethod
    def record(cls, fn: Callable[[list[Value]], Any], example: Sequence[float],
               params: Sequence[Value] = ()) -> Tape:
        """Run ``fn`` once on fresh leaf Values made from ``example`` and record its graph.

        ``fn(inputs)`` takes a list of ``len(example)`` Values and returns a Value or a
        list/tuple of Values (the outputs). ``params`` are the leaf Values shared by all
        samples (a model's ``parameters()``); any other leaf is a constant. Raises
        :class:`TraceError` when ``fn`` returns something other than Values, or a
        parameter is not a leaf or is listed twice.
        """
        if not callable(fn):
            raise TypeError(f"Tape.record: fn must be callable, got {type(fn).__name__}")
        numbers = _example(example)
        params = as_values(params, "Tape.record: params")
        for i, p in enumerate(params):
            if not p.is_leaf:
                raise TraceError(f"Tape.record: params[{i}] ({_describe(p)}) is not a leaf: "
                                 f"it was computed by {p.op!r}; pass the leaf Values")
        if len(set(params)) != len(params):
            dup = next(i for i, p in enumerate(params) if params.index(p) != i)
            raise TraceError(f"Tape.record: params[{dup}] ({_describe(params[dup])}) is "
                             f"listed twice (also at {params.index(params[dup])})")
        inputs = [Value(x, label=f"x{i}") for i, x in enumerate(numbers)]
        with enable_grad():
            outputs = _outputs(fn(inputs))
        tape = cls()
        tape._build(inputs, params, outputs)
        return tape

    def _build(self, inputs: list[Value], params: tuple[Value, ...],
               outputs: tuple[Value, ...]) -> None:
        seen = set(outputs)
        stack = list(outputs)
        while stack:
            node = stack.pop()
            for parent in _parents(node):
                if parent._seq >= node._seq:
                    raise TraceError(f"cycle in the graph: {_describe(parent)} is an input of "
                                     f"{_describe(node)} but was created after it")
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        order = sorted(seen, key=lambda v: v._seq)  # creation order is topological

        kind: dict[Value, int] = {}
        depth: dict[Value, int] = {}
        input_row = {v: i for i, v in enumerate(inputs)}
        param_row = {p: j for j, p in enumerate(params)}
        constants: list[Value] = []
        groups: dict[tuple, _Group] = {}
        for node in order:
            depth[node] = 0
            if node in input_row:
                kind[node] = _INPUT
            elif node in param_row:
                kind[node] = _PARAM
            elif node._a is None:
                kind[node] = _CONST
                constants.append(node)
            else:
                ps = _parents(node)
                kinds = [kind[p] for p in ps]
                if kinds.count(_CONST) == len(kinds):  # constants only: fold into one
                    kind[node] = _CONST
                    constants.append(node)
                    continue
                kind[node] = _VAR
                near = [depth[p] for p, k in zip(ps, kinds) if k != _CONST]
                if node.op not in KERNELS:
                    raise TraceError(f"the op {node.op!r} has no numpy kernel in "
                                     "chainrule.engine.tape.KERNELS")
                depth[node] = d = 1 + max(near)
                layout = tuple(k in (_INPUT, _VAR) for k in kinds)
                key = (d, node.op, len(ps), repr(node.arg), layout)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group(node.rule, node.arg, len(ps), d, [])
                group.nodes.append(node)

        # Shared store: parameters, then constants; per-sample store: inputs, then the
        # groups. Each group's outputs are consecutive rows.
        row: dict[Value, int] = {}
        for p, j in param_row.items():
            row[p] = j
        for i, c in enumerate(constants):
            row[c] = len(params) + i
        for v, i in input_row.items():
            row[v] = i
        n_fixed = len(params) + len(constants)
        ordered = sorted(groups.values(), key=lambda g: (g.depth, g.nodes[0]._seq))
        top = len(inputs)
        for group in ordered:
            group.start, group.stop = top, top + len(group.nodes)
            top = group.stop
            for i, node in enumerate(group.nodes):
                row[node] = group.start + i

        # Operand blocks and the scatter plan of each (constants need no gradient).
        for group in ordered:
            for shared in (False, True):
                positions = [p for p in range(group.arity)
                             if (kind[_parents(group.nodes[0])[p]] in (_PARAM, _CONST))
                             == shared]
                if not positions:
                    continue
                index = np.array([[row[_parents(n)[p]] for n in group.nodes]
                                  for p in positions], dtype=np.intp)
                keep = np.array([[kind[_parents(n)[p]] != _CONST for n in group.nodes]
                                 for p in positions], dtype=bool)
                group.blocks.append(_Block(shared, positions, index, _scatter_plan(index, keep)))
            group.single = len(group.blocks) == 1

        self.params = params
        self.n_inputs = len(inputs)
        self.n_outputs = len(outputs)
        self.n_nodes = sum(len(g.nodes) for g in ordered)
        self._n_constants = len(constants)
        self._n_rows = top
        self._shared0 = np.zeros(n_fixed)
        self._shared0[len(params):] = [c.data for c in constants]
        self._groups = ordered
        self._outputs = [(kind[v] in (_INPUT, _VAR), row[v]) for v in outputs]

    # -- replay ------------------------------------------------------------------------------
    def forward(self, X: Any) -> np.ndarray:  # noqa: N803 - X is the batch, as in sklearn
        """Outputs for every row of ``X`` (shape ``(batch, n_inputs)``), as a
        ``(batch, n_outputs)`` float64 array, with the parameters' current ``.data``.

        Non-finite numbers in ``X`` or in the parameters are allowed and propagate
        (as ``Value(nan)`` does); a non-finite result from finite operands warns once
        per op, and raises ``FloatingPointError`` inside ``detect_anomaly()``.
        """
        data = self._batch(X)
        batch = data.shape[0]
        work = self._work_for(batch)
        shared = self._shared0.copy()
        n_params = len(self.params)
        if n_params:
            shared[:n_params] = [p.data for p in self.params]
        rows = work.rows
        rows[: self.n_inputs] = data.T
        anomaly = bool(get_mode() & ANOMALY)
        saved = []
        with np.errstate(all="ignore"):
            for group in self._groups:
                saved.append(group.run(shared, rows, work))
                if anomaly:
                    self._check_forward(group, saved[-1], rows[group.start:group.stop])
            if not anomaly and _nonfinite(rows[self.n_inputs:]):
                self._warn_nonfinite(rows, saved, batch)
        self._state = (work, shared, saved)
        out = np.empty((batch, self.n_outputs))
        for k, (per_sample, r) in enumerate(self._outputs):
            out[:, k] = rows[r] if per_sample else shared[r]
        return out

    def _work_for(self, batch: int) -> _Work:
        """The preallocated arrays for this batch size (the last two sizes are kept)."""
        work = self._works.pop(batch, None)
        if work is None:
            work = _Work(self._n_rows, batch)
            while len(self._works) >= 2:  # mini-batches: the batch size and the last one
                del self._works[next(iter(self._works))]
        self._works[batch] = work  # most recently used last
        return work

    def release(self) -> None:
        """Free the arrays kept between calls (about ``2 * nodes * batch * 8`` bytes per
        batch size, for the last two sizes); the next ``forward`` makes them again."""
        self._works.clear()
        self._state = None

    def backward(self, grad_outputs: Any = None) -> np.ndarray:
        """Backpropagate the last ``forward``: add the batch sum of the parameter
        gradients into each parameter's ``.grad`` and return the ``(batch, n_inputs)``
        input gradients.

        ``grad_outputs`` (shape ``(batch, n_outputs)``, or ``(batch,)`` for one output;
        default ones) weighs each output of each sample, like the seed of scalar
        ``backward``; use ``1/batch`` for a mean. It must be finite. Calling
        ``backward`` twice adds the parameter gradients twice (leaves accumulate).
        """
        if self._state is None:
            raise RuntimeError("Tape.backward: call forward(X) first")
        work, _, saved = self._state
        batch = work.rows.shape[1]
        seed = self._seed(grad_outputs, batch)
        anomaly = bool(get_mode() & ANOMALY)
        # A local derivative of exactly 0 is a structural zero: it passes nothing back,
        # whatever the upstream gradient (0 * inf would be nan). That matters only where
        # an upstream gradient is inf or nan, and then nan or inf reaches an input or a
        # parameter: so the fast pass multiplies, and only a non-finite result is
        # computed again with the zeros masked (anomaly mode masks from the start).
        with np.errstate(all="ignore"):
            grads, param_grads = self._backward(seed, saved, work, anomaly)
            if not anomaly and (_nonfinite(grads[: self.n_inputs]) or _nonfinite(param_grads)):
                grads, param_grads = self._backward(seed, saved, work, True)
        for p, g in zip(self.params, param_grads.tolist()):
            p.grad += g
        return grads[: self.n_inputs].T.copy()

    def _backward(self, seed: np.ndarray, saved: list, work: _Work,
                  masked: bool) -> tuple[np.ndarray, np.ndarray]:
        """One reverse pass: the per-sample gradient rows and the parameters' batch sums.
        ``masked`` applies the structural zeros (and anomaly mode's checks, if on)."""
        rows, grads = work.rows, work.grads
        grads_shared = np.zeros(len(self._shared0))
        grads.fill(0.0)
        for k, (per_sample, r) in enumerate(self._outputs):
            if per_sample:
                grads[r] += seed[:, k]
            else:
                grads_shared[r] += seed[:, k].sum()
        anomaly = masked and bool(get_mode() & ANOMALY)
        # An empty batch has nothing to propagate (and numpy cannot reshape 0 by -1).
        for i in range(len(self._groups) - 1, -1, -1) if rows.shape[1] else ():
            group = self._groups[i]
            g = grads[group.start:group.stop]
            local = group.local(rows[group.start:group.stop], saved[i])
            for block in group.blocks:
                plan = block.scatter
                if plan is None:
                    continue
                ds = local if group.single else [local[p] for p in block.positions]
                if not block.shared:
                    c = block.contributions(ds, g, work, masked)
                    if anomaly:
                        self._check_backward(group, block, c, ds, g)
                    plan.add(grads, c, work)
                else:
                    if anomaly:
                        self._check_backward(group, block,
                                             block.contributions(ds, g, work, masked), ds, g)
                    plan.add(grads_shared, block.batch_sums(ds, g, masked), work)
        return grads, grads_shared[: len(self.params)]

    # -- argument checks -----------------------------------------------------------------------
    def _batch(self, batch: Any) -> np.ndarray:
        try:
            arr = np.asarray(batch)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Tape.forward: X must be a (batch, {self.n_inputs}) array of "
                             f"numbers: {exc}") from None
        if arr.dtype.kind not in "fiu":
            what = "objects (Values?)" if arr.dtype.kind == "O" else f"dtype {arr.dtype}"
            raise TypeError(f"Tape.forward: X must hold real numbers, got {what}")
        if arr.ndim != 2 or arr.shape[1] != self.n_inputs:
            raise ValueError(f"Tape.forward: X must have shape (batch, {self.n_inputs}), "
                             f"got {arr.shape}")
        return arr.astype(np.float64, copy=False)

    def _seed(self, grad_outputs: Any, batch: int) -> np.ndarray:
        if grad_outputs is None:
            return np.ones((batch, self.n_outputs))
        seed = np.asarray(grad_outputs)
        if seed.dtype.kind not in "fiu":
            raise TypeError(f"Tape.backward: grad_outputs must hold real numbers, got dtype "
                            f"{seed.dtype}")
        seed = seed.astype(np.float64, copy=False)
        if seed.shape == (batch,) and self.n_outputs == 1:
            seed = seed[:, None]
        if seed.shape != (batch, self.n_outputs):
            raise ValueError(f"Tape.backward: grad_outputs must have shape "
                             f"({batch}, {self.n_outputs}) like the last forward's outputs, "
                             f"got {seed.shape}")
        if not np.isfinite(seed).all():
            bad = np.argwhere(~np.isfinite(seed))[0]
            raise ValueError(f"Tape.backward: grad_outputs must be finite, got "
                             f"{float(seed[tuple(bad)])!r} at {tuple(int(i) for i in bad)}")
        return seed

    # -- non-finite values ------------------------------------------------------------------------
    def _warn_nonfinite(self, rows: np.ndarray, saved: list, batch: int) -> None:
        """One RuntimeWarning per op that made inf/nan from finite operands."""
        if get_mode() & QUIET:
            return
        found: dict[str, tuple[float, np.ndarray]] = {}  # op -> (first value, samples hit)
        for group, parts in zip(self._groups, saved):
            out = rows[group.start:group.stop]
            bad = ~np.isfinite(out)
            if not bad.any():
                continue
            for x in group.operands(parts):
                bad &= np.isfinite(x)
            if bad.any():
                hit = bad.any(axis=0)
                value, before = found.get(group.rule.name, (float(out[bad][0]), hit))
                found[group.rule.name] = (value, before | hit)
        for name, (value, hit) in found.items():
            warnings.warn(
                f"chainrule: {name} produced {value!r} from finite inputs (tape replay: in "
                f"{int(hit.sum())} of {batch} samples, first {int(np.argmax(hit))})",
                RuntimeWarning,
                stacklevel=3,
            )

    def _check_forward(self, group: _Group, parts: list, out: np.ndarray) -> None:
        if not _nonfinite(out):
            return
        i, *b = np.argwhere(~np.isfinite(out))[0]
        at = tuple(b)
        operands = [float(np.broadcast_to(x, out.shape)[(i, *at)])
                    for x in group.operands(parts)]
        finite = all(math.isfinite(v) for v in operands)
        node = group.nodes[i]
        involved = ", ".join(_describe(p, v) for p, v in zip(_parents(node), operands))
        sample = f" in sample {b[0]}" if b else ""
        raise FloatingPointError(
            f"{group.rule.name} produced {float(out[(i, *at)])!r} from "
            f"{'finite' if finite else 'non-finite'} input ({involved}){sample} of the tape replay"
        )

    def _check_backward(self, group: _Group, block: _Block, c: np.ndarray, ds: list,
                        g: np.ndarray) -> None:
        if np.isfinite(c).all():
            return
        j, i, *b = np.argwhere(~np.isfinite(c))[0]
        at = (i, *b)
        d = float(np.broadcast_to(ds[j], g.shape)[at])
        node = group.nodes[i]
        p = block.positions[j]
        sample = f" in sample {b[0]}" if b else ""
        raise FloatingPointError(
            f"backward of {group.rule.name} ({_describe(node)}) gave {float(c[(j, *at)])!r} "
            f"for its input {p} ({_describe(_parents(node)[p])}){sample}: local derivative "
            f"{d!r} times upstream gradient {float(g[at])!r}"
        )

    def __repr__(self) -> str:
        ops: dict[str, int] = {}
        for group in self._groups:
            ops[group.rule.name] = ops.get(group.rule.name, 0) + len(group.nodes)
        listed = ", ".join(f"{name}: {n}" for name, n in sorted(ops.items(), key=lambda t: -t[1]))
        return (f"Tape(inputs={self.n_inputs}, outputs={self.n_outputs}, params="
                f"{len(self.params)}, nodes={self.n_nodes} in "
                f"{len(self._groups)} groups {{{listed}}}, "
                f"constants={self._n_constants})")

