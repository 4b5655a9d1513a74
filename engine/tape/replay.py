"""The Tape: record one sample's graph, replay it over batches (see the package docs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..checks import real
from ..functional import as_values
from ..modes import ANOMALY, enable_grad, get_mode
from ..value import Value
from ..walk import interior_nodes
from .nonfinite import check_backward, check_forward, describe, nonfinite, warn_nonfinite
from .plan import CONST, INPUT, PARAM, VAR, Block, Group, Work, scatter_plan


class TraceError(ValueError):
    """``fn`` or its arguments cannot be recorded as a tape (the message says why)."""


def _example(example: Any) -> list[float]:
    if isinstance(example, np.ndarray):
        if example.ndim != 1:
            raise ValueError(f"Tape.record: example must be 1-D, got shape {example.shape}")
    elif isinstance(example, (str, bytes, Value, set, frozenset)) or not isinstance(
            example, Sequence):
        raise TypeError("Tape.record: example must be a sequence of numbers, got "
                        f"{type(example).__name__}")
    return [real(x, f"Tape.record: example[{i}]") for i, x in enumerate(example)]


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
        self._works: dict[int, Work] = {}
        self._groups: list[Group] = []
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
                raise TraceError(f"Tape.record: params[{i}] ({describe(p)}) is not a leaf: "
                                 f"it was computed by {p.op!r}; pass the leaf Values")
        if len(set(params)) != len(params):
            dup = next(i for i, p in enumerate(params) if params.index(p) != i)
            raise TraceError(f"Tape.record: params[{dup}] ({describe(params[dup])}) is "
                             f"listed twice (also at {params.index(params[dup])})")
        inputs = [Value(x, label=f"x{i}") for i, x in enumerate(numbers)]
        with enable_grad():
            outputs = _outputs(fn(inputs))
        tape = cls()
        tape._build(inputs, params, outputs)
        return tape

    def _build(self, inputs: list[Value], params: tuple[Value, ...],
               outputs: tuple[Value, ...]) -> None:
        try:
            interior = interior_nodes(outputs)[::-1]  # oldest first: inputs before results
        except ValueError as exc:  # a tampered graph
            raise TraceError(str(exc)) from None
        kind = {**dict.fromkeys(inputs, INPUT), **dict.fromkeys(params, PARAM)}
        depth = dict.fromkeys(kind, 0)
        constants: list[Value] = []
        groups: dict[tuple, Group] = {}
        for node in [*outputs, *(p for n in interior for p in n.parents)]:
            if node.is_leaf and node not in kind:  # any other leaf is a constant
                kind[node], depth[node] = CONST, 0
                constants.append(node)
        for node in interior:
            ps = node.parents
            kinds = [kind[p] for p in ps]
            if kinds.count(CONST) == len(kinds):  # constants only: fold into one
                kind[node] = CONST
                constants.append(node)
                continue
            kind[node] = VAR
            depth[node] = d = 1 + max(depth[p] for p, k in zip(ps, kinds) if k != CONST)
            layout = tuple(k in (INPUT, VAR) for k in kinds)
            key = (d, node.op, len(ps), repr(node.arg), layout)
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group(node.rule, node.arg, len(ps), d, [])
            group.nodes.append(node)

        # Shared store: parameters, then constants; per-sample store: inputs, then the
        # groups. Each group's outputs are consecutive rows.
        row = {**{p: j for j, p in enumerate(params)},
               **{c: len(params) + i for i, c in enumerate(constants)},
               **{v: i for i, v in enumerate(inputs)}}
        ordered = sorted(groups.values(), key=lambda g: (g.depth, g.nodes[0]._seq))
        top = len(inputs)
        for group in ordered:
            group.start, group.stop = top, top + len(group.nodes)
            top = group.stop
            for i, node in enumerate(group.nodes):
                row[node] = group.start + i

        # Operand blocks and the scatter plan of each (constants need no gradient).
        for group in ordered:
            first = group.nodes[0].parents
            for shared in (False, True):
                positions = [p for p in range(group.arity)
                             if (kind[first[p]] in (PARAM, CONST)) == shared]
                if not positions:
                    continue
                index = np.array([[row[n.parents[p]] for n in group.nodes]
                                  for p in positions], dtype=np.intp)
                keep = np.array([[kind[n.parents[p]] != CONST for n in group.nodes]
                                 for p in positions], dtype=bool)
                group.blocks.append(Block(shared, positions, index, scatter_plan(index, keep)))
            group.single = len(group.blocks) == 1

        self.params = params
        self.n_inputs = len(inputs)
        self.n_outputs = len(outputs)
        self.n_nodes = sum(len(g.nodes) for g in ordered)
        self._n_constants = len(constants)
        self._n_rows = top
        self._shared0 = np.zeros(len(params) + len(constants))
        self._shared0[len(params):] = [c.data for c in constants]
        self._groups = ordered
        self._outputs = [(kind[v] in (INPUT, VAR), row[v]) for v in outputs]

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
                    check_forward(group, saved[-1], rows[group.start:group.stop])
            if not anomaly and nonfinite(rows[self.n_inputs:]):
                warn_nonfinite(self._groups, rows, saved, batch)
        self._state = (work, shared, saved)
        out = np.empty((batch, self.n_outputs))
        for k, (per_sample, r) in enumerate(self._outputs):
            out[:, k] = rows[r] if per_sample else shared[r]
        return out

    def _work_for(self, batch: int) -> Work:
        """The preallocated arrays for this batch size (the last two sizes are kept)."""
        work = self._works.pop(batch, None)
        if work is None:
            work = Work(self._n_rows, batch)
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
            if not anomaly and (nonfinite(grads[: self.n_inputs]) or nonfinite(param_grads)):
                grads, param_grads = self._backward(seed, saved, work, True)
        for p, g in zip(self.params, param_grads.tolist()):
            p.grad += g
        return grads[: self.n_inputs].T.copy()

    def _backward(self, seed: np.ndarray, saved: list, work: Work,
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
                        check_backward(group, block, c, ds, g)
                    plan.add(grads, c, work)
                else:
                    if anomaly:
                        check_backward(group, block, block.contributions(ds, g, work, masked),
                                       ds, g)
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

    def __repr__(self) -> str:
        ops: dict[str, int] = {}
        for group in self._groups:
            ops[group.rule.name] = ops.get(group.rule.name, 0) + len(group.nodes)
        listed = ", ".join(f"{name}: {n}" for name, n in sorted(ops.items(), key=lambda t: -t[1]))
        return (f"Tape(inputs={self.n_inputs}, outputs={self.n_outputs}, params="
                f"{len(self.params)}, nodes={self.n_nodes} in "
                f"{len(self._groups)} groups {{{listed}}}, "
                f"constants={self._n_constants})")
