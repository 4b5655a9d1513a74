"""The Tape: record one sample's graph, replay it over batches (see the package docs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..checks import flag, real
from ..functional import as_values
from ..modes import ANOMALY, enable_grad, get_mode
from ..value import Value
from ..walk import interior_nodes
from .nonfinite import describe, nonfinite
from .plan import Work
from .program import Program


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
        self._exact: Program | None = None  # the per-op plan
        self._fast: Program | None = None  # layers as matrix products (None: no layer)
        self._works: dict[tuple[int, int], Work] = {}
        self._state: tuple | None = None

    # -- recording -------------------------------------------------------------------------
    @classmethod
    def record(cls, fn: Callable[[list[Value]], Any], example: Sequence[float],
               params: Sequence[Value] = (), fuse: bool = True) -> Tape:
        """Run ``fn`` once on fresh leaf Values made from ``example`` and record its graph.

        ``fn(inputs)`` takes a list of ``len(example)`` Values and returns a Value or a
        list/tuple of Values (the outputs). ``params`` are the leaf Values shared by all
        samples (a model's ``parameters()``); any other leaf is a constant. Raises
        :class:`TraceError` when ``fn`` returns something other than Values, or a
        parameter is not a leaf or is listed twice.

        ``fuse`` (default True) replays each layer of neurons (sums of weight-times-input
        products) as one matrix product; ``fuse=False`` keeps the per-op replay for every
        node, the tape as it teaches (results agree to rounding, see the package docs).
        """
        if not callable(fn):
            raise TypeError(f"Tape.record: fn must be callable, got {type(fn).__name__}")
        numbers = _example(example)
        fuse = flag(fuse, "Tape.record: fuse")
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
        tape._build(inputs, params, outputs, fuse)
        return tape

    def _build(self, inputs: list[Value], params: tuple[Value, ...],
               outputs: tuple[Value, ...], fuse: bool) -> None:
        try:
            interior = interior_nodes(outputs)[::-1]  # oldest first: inputs before results
        except ValueError as exc:  # a tampered graph
            raise TraceError(str(exc)) from None
        self._exact = Program(inputs, params, outputs, interior, fuse=False)
        fast = Program(inputs, params, outputs, interior, fuse=True) if fuse else None
        self._fast = fast if fast is not None and fast.n_layers else None
        self.params = params
        self.n_inputs = len(inputs)
        self.n_outputs = len(outputs)
        self.n_nodes = self._exact.n_nodes

    # -- replay ------------------------------------------------------------------------------
    def forward(self, X: Any) -> np.ndarray:  # noqa: N803 - X is the batch, as in sklearn
        """Outputs for every row of ``X`` (shape ``(batch, n_inputs)``), as a
        ``(batch, n_outputs)`` float64 array, with the parameters' current ``.data``.

        Non-finite numbers in ``X`` or in the parameters are allowed and propagate
        (as ``Value(nan)`` does); a non-finite result from finite operands warns once
        per op, and raises ``FloatingPointError`` inside ``detect_anomaly()``.
        """
        data = self._batch(X)
        # Layers run as matrix products; with an inf or nan anywhere (or in anomaly mode),
        # the per-op plan runs instead, which names the op and masks the structural zeros.
        program = self._fast
        if program is None or get_mode() & ANOMALY:
            program = self._exact
        with np.errstate(all="ignore"):
            state = self._run(program, data)
            if program is self._fast and nonfinite(state[0].rows[self.n_inputs:]):
                program, state = self._exact, self._run(self._exact, data)
        self._state = (program, data, *state)
        rows, shared = state[0].rows, state[1]
        if program.output_rows is not None:  # (consecutive rows: one copy)
            return rows[program.output_rows].T.copy()
        out = np.empty((data.shape[0], self.n_outputs))
        for k, (per_sample, r) in enumerate(program.outputs):
            out[:, k] = rows[r] if per_sample else shared[r]
        return out

    def _run(self, program: Program, data: np.ndarray) -> tuple[Work, np.ndarray, list]:
        work = self._work_for(program, data.shape[0])
        shared = program.shared()
        work.rows[: self.n_inputs] = data.T
        return work, shared, program.forward(shared, work.rows, work)

    def _work_for(self, program: Program, batch: int) -> Work:
        """The preallocated arrays of a program for this batch size (the last two kept)."""
        key = (id(program), batch)
        work = self._works.pop(key, None)
        if work is None:
            work = Work(program.n_rows, batch)
            while len(self._works) >= 2:  # mini-batches: the batch size and the last one
                del self._works[next(iter(self._works))]
        self._works[key] = work  # most recently used last
        return work

    def release(self) -> None:
        """Free the arrays kept between calls (about ``2 * nodes * batch * 8`` bytes per
        batch size, for the last two sizes); the next ``forward`` makes them again."""
        self._works.clear()
        self._state = None

    def backward(self, grad_outputs: Any = None, *, accumulate: bool = True) -> np.ndarray:
        """Backpropagate the last ``forward``: add the batch sum of the parameter
        gradients into each parameter's ``.grad`` and return the ``(batch, n_inputs)``
        input gradients.

        ``grad_outputs`` (shape ``(batch, n_outputs)``, or ``(batch,)`` for one output;
        default ones) weighs each output of each sample, like the seed of scalar
        ``backward``; use ``1/batch`` for a mean. It must be finite. Calling
        ``backward`` twice adds the parameter gradients twice (leaves accumulate).
        ``accumulate=False`` sets each ``.grad`` to this batch's gradient instead, so
        a training loop need not zero the gradients first (one pass over the
        parameters less: about 2-3 ms a step for 66,561 of them).
        """
        accumulate = flag(accumulate, "Tape.backward accumulate")
        if self._state is None:
            raise RuntimeError("Tape.backward: call forward(X) first")
        program, data, work, _, saved = self._state
        seed = self._seed(grad_outputs, data.shape[0])
        anomaly = bool(get_mode() & ANOMALY)
        # A local derivative of exactly 0 is a structural zero: it passes nothing back,
        # whatever the upstream gradient (0 * inf would be nan). That matters only where
        # an upstream gradient is inf or nan, and then nan or inf reaches an input or a
        # parameter: so the fast pass multiplies, and only a non-finite result is
        # computed again, by the per-op plan with the zeros masked (anomaly mode masks
        # from the start).
        with np.errstate(all="ignore"):
            grads, param_grads = program.backward(seed, saved, work, anomaly)
            if not anomaly and (nonfinite(grads[: self.n_inputs]) or nonfinite(param_grads)):
                if program is not self._exact:
                    program = self._exact
                    work, _, saved = self._run(program, data)
                grads, param_grads = program.backward(seed, saved, work, True)
        if accumulate:
            for p, g in zip(self.params, param_grads.tolist()):
                p.grad += g
        else:
            for p, g in zip(self.params, param_grads.tolist()):
                p.grad = g
        return grads[: self.n_inputs].T.copy()

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
        if nonfinite(seed):
            bad = np.argwhere(~np.isfinite(seed))[0]
            raise ValueError(f"Tape.backward: grad_outputs must be finite, got "
                             f"{float(seed[tuple(bad)])!r} at {tuple(int(i) for i in bad)}")
        return seed

    def __repr__(self) -> str:
        ops: dict[str, int] = {}
        for group in self._exact.groups:
            ops[group.rule.name] = ops.get(group.rule.name, 0) + len(group.nodes)
        listed = ", ".join(f"{name}: {n}" for name, n in sorted(ops.items(), key=lambda t: -t[1]))
        layers = f", layers={self._fast.n_layers}" if self._fast is not None else ""
        return (f"Tape(inputs={self.n_inputs}, outputs={self.n_outputs}, params="
                f"{len(self.params)}, nodes={self.n_nodes} in "
                f"{len(self._exact.groups)} groups {{{listed}}}, "
                f"constants={self._exact.n_constants}{layers})")
