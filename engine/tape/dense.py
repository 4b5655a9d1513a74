"""Neurons replayed as matrix products.

A layer of neurons is, in the scalar graph, ``Value.sum`` nodes whose terms are
``weight * input`` products over the same inputs (and a bias): the scalar engine builds
one node per product. On the tape, such a group of sums is one matrix product per batch,
``out = W @ X + b``, and its backward two more, ``dX = W.T @ G`` and ``dW = G @ X.T``
(the batch sum of the per-sample products). A one-input op that follows every sum of the
layer and nothing else (its activation: relu, tanh...) runs in the same pass, with its
rule's own numpy kernel and local derivative. :func:`find_layers` recognises the pattern
when a tape is recorded; everything else keeps the per-op replay. The inputs may also be
parameters (``sum(p * p)``: an L2 penalty), then X is one column for the whole batch.

The products' rows are never computed, and the matrix product adds in BLAS's order, so
results equal the per-op replay to rounding (the tests require 1e-12 relative). With an
inf or nan anywhere the tape replays the exact per-op plan instead (see replay.py), so
non-finite numbers, their warnings and the structural zeros behave as everywhere else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arrays import ARRAYS
from ..rules import Rule
from ..value import Value
from .plan import INPUT, PARAM, VAR, Work


class Layer:
    """Sums of ``weight * input`` over the same inputs (and a bias), replayed as ``W @ X + b``,
    then (``act``) a one-input op applied to each sum.

    ``nodes`` are the layer's outputs (the sums, or the activation nodes after them), one
    row each, ``start..stop``; ``weights`` are the parameter rows of W, ``biases`` those of
    b (or None), ``inputs`` the rows of X: per-sample rows, or parameter rows (``shared``).
    """

    __slots__ = ("nodes", "depth", "start", "stop", "weights", "biases", "inputs", "slice",
                 "shared", "act", "arg", "block", "views", "bufs", "repeats")

    def __init__(self, nodes: list[Value], depth: int, act: Rule | None, arg: Any,
                 shared: bool) -> None:
        self.nodes, self.depth, self.act, self.arg, self.shared = nodes, depth, act, arg, shared
        self.start = self.stop = 0
        self.weights = self.biases = self.inputs = None
        self.slice: slice | None = None  # the input rows, when they are consecutive
        # (start, stride): each neuron's weights then its bias, neuron after neuron, in the
        # parameter store (as a model lists them): W and b are then views of the store.
        self.block: tuple[int, int] | None = None
        self.views: tuple | None = None  # (store, W, b, grad store, dW, db) for a block
        self.bufs: tuple = (None, {})  # (work, its scratch arrays for this layer)
        self.repeats = False  # a weight or bias shared by neurons (set by finish)

    def _buffers(self, work: Work) -> dict[str, np.ndarray]:
        """This layer's scratch arrays for ``work`` (its batch size), made once."""
        if self.bufs[0] is not work:
            k, n = self.weights.shape
            batch = work.rows.shape[1]
            self.bufs = (work, {"w": np.empty((k, n)), "x": np.empty((n, batch)),
                                "pre": np.empty((k, batch)), "g": np.empty((k, batch)),
                                "dx": np.empty((n, batch)), "dw": np.empty((k, n))})
        return self.bufs[1]

    def bind(self, store: np.ndarray, grad_store: np.ndarray) -> tuple:
        """W, b and their gradients as views of the stores (kept while the stores are)."""
        if self.views is None or self.views[0] is not store or self.views[3] is not grad_store:
            start, stride = self.block
            k, n = self.weights.shape
            bias = self.biases is not None
            # (k, n + bias): exactly the weights and biases, never past the store's end
            blocks = [np.lib.stride_tricks.as_strided(a[start:], (k, n + bias), (
                a.strides[0] * stride, a.strides[0])) for a in (store, grad_store)]
            self.views = (store, blocks[0][:, :n], blocks[0][:, n] if bias else None,
                          grad_store, blocks[1][:, :n], blocks[1][:, n] if bias else None)
        return self.views

    def run(self, shared: np.ndarray, rows: np.ndarray, work: Work) -> tuple:
        """Compute the layer into its rows; return what backward needs."""
        if self.block is not None:
            w, b = self.views[1], self.views[2]
        else:
            w = np.take(shared, self.weights, out=self._buffers(work)["w"])
            b = None if self.biases is None else shared[self.biases]
        if self.shared:
            x = shared[self.inputs][:, None]  # one column, the same for every sample
        elif self.slice is not None:
            x = rows[self.slice]
        else:
            x = np.take(rows, self.inputs, axis=0, out=self._buffers(work)["x"])
        out = rows[self.start:self.stop]
        pre = out if self.act is None else self._buffers(work)["pre"]
        if x.shape[1] == pre.shape[1]:
            np.matmul(w, x, out=pre)
        else:  # parameters only: one column, broadcast over the batch
            np.copyto(pre, w @ x)
        if b is not None:
            pre += b[:, None]
        if self.act is not None:
            self.act.numpy(pre, self.arg, out)
        return (w, x, pre)

    def backward(self, g: np.ndarray, saved: tuple, grads: np.ndarray,
                 grads_shared: np.ndarray, work: Work) -> None:
        """Add ``W.T @ G`` into the inputs' gradients and the batch sums ``G @ X.T`` and
        ``sum(G)`` into the weights' and biases' (G: the gradient of the sums)."""
        w, x, pre = saved
        bufs = self._buffers(work)
        if self.act is not None:  # through the activation first: its rule's derivative
            (d,) = self.act.local(ARRAYS, work.rows[self.start:self.stop], pre, self.arg)
            g = np.multiply(d, g, out=bufs["g"])
        if self.shared:  # X is one column for the whole batch: only G's batch sum counts
            g_sum = g.sum(axis=1)
            grads_shared[self.inputs] += w.T @ g_sum
            dw = np.outer(g_sum, x[:, 0])
        else:
            dx = np.matmul(w.T, g, out=bufs["dx"])
            if self.slice is not None:
                grads[self.slice] += dx
            else:
                grads[self.inputs] += dx  # (the input rows are distinct)
            dw = np.matmul(g, x.T, out=bufs["dw"])
        if self.block is not None:
            w_grad, b_grad = self.views[4], self.views[5]
            w_grad += dw
            if b_grad is not None:
                b_grad += g.sum(axis=1)
        elif self.repeats:  # a parameter in several neurons: += would add it only once
            np.add.at(grads_shared, self.weights, dw)
            if self.biases is not None:
                np.add.at(grads_shared, self.biases, g.sum(axis=1))
        else:
            grads_shared[self.weights] += dw
            if self.biases is not None:
                grads_shared[self.biases] += g.sum(axis=1)


def find_layers(interior: list[Value], kind: dict[Value, int],
                outputs: tuple[Value, ...]) -> dict[Value, tuple]:
    """The sum nodes of ``interior`` that can be replayed as part of a matrix product, each
    with ``(inputs, weights, bias, activation)``: every term a product of a parameter and
    a per-sample node (or of two parameters) used nowhere else, or one parameter term (the
    bias); ``activation`` is the one-input node after the sum, if it is the sum's only use
    and the sum is not an output (else None)."""
    uses: dict[Value, list] = {v: [None] for v in outputs}
    for node in interior:
        for p in node.parents:
            uses.setdefault(p, []).append(node)
    found = {}
    for node in interior:
        if node.op != "sum" or kind.get(node) != VAR:
            continue
        inputs, weights, bias = [], [], []
        for term in node.parents:
            if kind[term] == PARAM:
                bias.append(term)
            elif term.op == "mul" and kind[term] == VAR and len(uses[term]) == 1:
                a, b = term.parents
                w, x = (a, b) if kind[a] == PARAM else (b, a)
                if kind[w] != PARAM or kind[x] not in (INPUT, VAR, PARAM):
                    break
                weights.append(w)
                inputs.append(x)
            else:
                break
        else:
            same_kind = len({kind[x] == PARAM for x in inputs}) == 1
            distinct = len(set(weights + bias)) == len(weights) + len(bias) and len(
                set(inputs)) == len(inputs)
            if inputs and len(bias) <= 1 and distinct and same_kind:
                after = uses[node]
                act = after[0] if len(after) == 1 and after[0] is not None and len(
                    after[0].parents) == 1 and after[0].rule.arity == 1 else None
                found[node] = (tuple(inputs), tuple(weights), bias[0] if bias else None, act)
    return found


def layer_key(depth: int, spec: tuple) -> tuple:
    """Sums with the same inputs, in the same order, at one depth, with the same
    activation op and argument, form one layer."""
    inputs, _, bias, act = spec
    return ("layer", depth, inputs, bias is not None,
            None if act is None else (act.op, repr(act.arg)))


def finish(layer: Layer, specs: list[tuple], row: dict[Value, int]) -> None:
    """Fix the layer's index arrays once the rows are known."""
    inputs = [row[x] for x in specs[0][0]]
    layer.weights = np.array([[row[w] for w in spec[1]] for spec in specs], dtype=np.intp)
    if specs[0][2] is not None:
        layer.biases = np.array([row[spec[2]] for spec in specs], dtype=np.intp)
    layer.inputs = np.array(inputs, dtype=np.intp)
    layer.repeats = len(np.unique(layer.weights)) < layer.weights.size or (
        layer.biases is not None and len(np.unique(layer.biases)) < layer.biases.size)
    if inputs == list(range(inputs[0], inputs[0] + len(inputs))):
        layer.slice = slice(inputs[0], inputs[-1] + 1)
    k, n = layer.weights.shape
    start = int(layer.weights[0, 0])
    stride = int(layer.weights[1, 0]) - start if k > 1 else n + (layer.biases is not None)
    pattern = start + stride * np.arange(k)[:, None] + np.arange(n + 1)[None, :]
    bias = layer.biases is not None
    if stride >= n + bias and np.array_equal(layer.weights, pattern[:, :n]) and (
            not bias or np.array_equal(layer.biases, pattern[:, n])):
        layer.block = (start, stride)
