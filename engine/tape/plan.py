"""How a tape runs: operand blocks, groups of nodes, and scatter plans.

Fixed when the tape is recorded: each group of nodes (same op, depth, argument and operand
layout) gathers its operands with one index per block, runs one numpy kernel (the rule
table's ``numpy``), and in backward adds its contributions into the parents' gradient
rows with the cheapest plan that is correct for the pattern of its targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..arrays import ARRAYS
from ..rules import Rule
from ..value import Value

# Row-wise dot product, for the batch sum of d * g (numpy >= 2 has vecdot).
_rowdot = getattr(np, "vecdot", None) or (lambda a, b: np.einsum("...i,...i->...", a, b))


# -- the recorded program -------------------------------------------------------------------

# Where a node's value lives: per-sample rows (inputs and every node computed from an
# input or a parameter) or shared rows (parameters and constants, which no group writes).
INPUT, PARAM, CONST, VAR = range(4)


class Work:
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


class Scatter:
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

    def add(self, grads: np.ndarray, c: np.ndarray, work: Work) -> None:
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


def scatter_plan(targets: np.ndarray, keep: np.ndarray) -> Scatter | None:
    """The cheapest correct way to add contributions into ``targets`` (None: no target
    needs a gradient). ``targets`` and ``keep`` have shape ``(positions, k)``."""
    npos, k = targets.shape
    flat, kept = targets.ravel(), keep.ravel()
    if not kept.any():
        return None
    if kept.all():
        for kind, order in (("span", flat), ("tspan", targets.T.ravel())):
            if _contiguous(order) and (kind == "span" or npos > 1):
                plan = Scatter(kind, npos, k)
                plan.start, plan.stop = int(order[0]), int(order[-1]) + 1
                return plan
        distinct = np.unique(flat)
        if len(distinct) == len(flat):
            plan = Scatter("unique", npos, k)
            plan.index = targets
            return plan
        row = flat[: len(distinct)]
        reps = len(flat) // len(distinct)
        if (len(distinct) * reps == len(flat) and len(np.unique(row)) == len(row)
                and np.array_equal(flat.reshape(reps, -1), np.broadcast_to(row, (reps, len(row))))):
            plan = Scatter("tile", npos, k)
            plan.reps = reps
            if _contiguous(row):
                plan.start, plan.stop = int(row[0]), int(row[-1]) + 1
            else:
                plan.index = row
            return plan
    where = np.flatnonzero(kept)
    chosen = flat[where]
    if len(np.unique(chosen)) == len(chosen):
        plan = Scatter("pick", npos, k)
        plan.index, plan.flat = chosen, where
        return plan
    order = np.argsort(chosen, kind="stable")
    where, chosen = where[order], chosen[order]
    plan = Scatter("reduce", npos, k)
    plan.flat = where
    new = np.r_[True, chosen[1:] != chosen[:-1]]
    plan.starts = np.flatnonzero(new)
    plan.index = chosen[plan.starts]
    plan.ids = np.cumsum(new) - 1
    return plan


class Block:
    """The operands of a group that live in one store, gathered with one index.

    ``mode`` says how: ``span`` (the rows start..stop, position-major) and ``tspan``
    (node-major) are reshaped views, no copy; ``gather`` is ``np.take`` into a buffer.
    """

    __slots__ = ("shared", "positions", "index", "mode", "start", "stop", "scatter", "ones")

    def __init__(self, shared: bool, positions: list[int], index: np.ndarray,
                 scatter: Scatter | None, ones: bool = False) -> None:
        self.shared = shared  # operands from the shared store (parameters, constants, ...)
        self.positions = positions  # which operand slots of the op
        self.index = index  # (positions, k) rows in the store
        self.scatter = scatter
        self.ones = ones  # every local derivative of these slots is the constant 1.0
        self.mode, self.start, self.stop = "gather", 0, 0
        for mode, order in (("span", index.ravel()), ("tspan", index.T.ravel())):
            if _contiguous(order) and (mode == "span" or len(positions) > 1):
                self.mode, self.start, self.stop = mode, int(order[0]), int(order[-1]) + 1
                break

    def gather(self, store: np.ndarray, work: Work) -> np.ndarray:
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

    def contributions(self, ds: Sequence, g: np.ndarray, work: Work,
                      masked: bool = False) -> np.ndarray:
        """``d * g`` for each operand slot of the block, shape ``(positions or 1, *g.shape)``;
        ``masked``: 0 wherever ``d`` is 0 (a structural zero), whatever ``g`` is."""
        if self.ones:  # 1.0 * g == g exactly, nan and inf included
            return g[None]
        if _all_floats(ds):
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
        if self.ones:
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
                d = np.asarray(d)
                sums.append(_rowdot(d if d.shape == g.shape else np.broadcast_to(d, g.shape), g))
        return sums[0][None] if len(sums) == 1 else np.stack(sums)


class Group:
    """Nodes with the same op, arity, argument and operand layout at the same depth."""

    __slots__ = ("rule", "kernel", "arg", "nary", "arity", "depth", "ones",
                 "start", "stop", "blocks", "nodes", "single")

    def __init__(self, rule: Rule, arg: Any, arity: int, depth: int, nodes: list[Value]) -> None:
        self.rule = rule
        self.depth = depth
        self.kernel = rule.numpy
        self.arg = arg
        self.nary = rule.arity == 0
        self.arity = arity
        self.single = False  # set by Tape._build: one block holds slots 0..arity-1 in order
        self.ones = False  # set with the blocks: every local derivative is the constant 1
        self.nodes = nodes  # the recorded Values (for messages)
        self.start = self.stop = 0
        self.blocks: list[Block] = []  # the per-sample block (if any) comes first

    def run(self, shared: np.ndarray, rows: np.ndarray, work: Work) -> list[np.ndarray]:
        """Compute the group's outputs into its rows; return the gathered operand blocks."""
        parts = []
        for block in self.blocks:
            values = block.gather(shared if block.shared else rows, work)
            if block.shared:
                values = values[..., None]  # a batch axis of length 1, to broadcast
            parts.append(values)
        out = rows[self.start:self.stop]
        if self.nary:  # the kernel reduces block by block (see arrays.reduce)
            self.kernel(parts, self.arg, out)
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


class Elementwise:
    """A one- or two-input group whose every operand slot sits in consecutive rows: the
    kernel runs on row slices, and backward adds ``d * g`` into the same slices. The fast
    program's form of the small groups around a network (a loss's arithmetic); the
    per-op plan keeps :class:`Group`, which masks structural zeros and checks anomalies.
    """

    __slots__ = ("rule", "kernel", "arg", "nodes", "depth", "start", "stop", "slots")

    def __init__(self, group: Group, slots: list[tuple[bool, slice, bool]]) -> None:
        self.rule, self.kernel, self.arg = group.rule, group.kernel, group.arg
        self.nodes, self.depth, self.start, self.stop = (group.nodes, group.depth,
                                                         group.start, group.stop)
        self.slots = slots  # per operand: (per-sample, its rows, needs a gradient)

    def run(self, shared: np.ndarray, rows: np.ndarray, work: Work) -> list[np.ndarray]:
        xs = [rows[s] if per_sample else shared[s][:, None] for per_sample, s, _ in self.slots]
        self.kernel(*xs, self.arg, rows[self.start:self.stop])
        return xs

    def backward(self, g: np.ndarray, xs: list, grads: np.ndarray, grads_shared: np.ndarray,
                 work: Work) -> None:
        ds = self.rule.local(ARRAYS, work.rows[self.start:self.stop], *xs, self.arg)
        for (per_sample, s, needed), d in zip(self.slots, ds):
            if needed:
                c = g if type(d) is float and d == 1.0 else d * g
                if per_sample:
                    grads[s] += c
                else:
                    grads_shared[s] += c.sum(axis=1)


def elementwise(group: Group) -> Elementwise | None:
    """``group`` as an :class:`Elementwise`, when each operand slot's rows are consecutive
    (and distinct), else None."""
    if group.nary or len(group.blocks) == 0:
        return None
    slots: list[Any] = [None] * group.arity
    for block in group.blocks:
        for j, p in enumerate(block.positions):
            index = block.index[j]
            if not _contiguous(index):
                return None
            # (a shared slot may hold constants: their gradients are added and never read)
            slots[p] = (not block.shared, slice(int(index[0]), int(index[-1]) + 1),
                        block.scatter is not None)
    return Elementwise(group, slots)
