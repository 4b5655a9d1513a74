"""A tape's compiled program: the groups of nodes, their rows, and one pass each way.

At record time nodes are sorted by depth (longest path from an input or a parameter)
and grouped by (depth, op, arity, op argument, which operands are per-sample); each
group's operand rows and output rows are fixed index arrays. ``forward`` is then one
gather and one numpy kernel per group; ``backward`` visits the groups in reverse, calls
the rule's ``local`` once per group, and adds the contributions into the parents'
gradient rows with a scatter plan chosen at record time. With ``fuse=True``, layers of
neurons are one matrix product each (:mod:`.dense`).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import numpy as np

from ..modes import ANOMALY, get_mode
from ..value import Value
from . import dense
from .nonfinite import check_backward, check_forward, nonfinite, warn_nonfinite
from .plan import CONST, INPUT, PARAM, VAR, Block, Group, Work, elementwise, scatter_plan

_data = attrgetter("data")


class Program:
    """The groups of a recorded graph, in the order they run (see the module docstring)."""

    def __init__(self, inputs: list[Value], params: tuple[Value, ...],
                 outputs: tuple[Value, ...], interior: list[Value], fuse: bool) -> None:
        kind = {**dict.fromkeys(inputs, INPUT), **dict.fromkeys(params, PARAM)}
        depth = dict.fromkeys(kind, 0)
        constants: list[Value] = []
        for node in [*outputs, *(p for n in interior for p in n.parents)]:
            if node.is_leaf and node not in kind:  # any other leaf is a constant
                kind[node], depth[node] = CONST, 0
                constants.append(node)
        for node in interior:  # a node of constants only is folded into one
            if all(kind[p] == CONST for p in node.parents):
                kind[node] = CONST
                constants.append(node)
            else:
                kind[node] = VAR
        layers = dense.find_layers(interior, kind, outputs) if fuse else {}
        # A layer's products need no rows; nor its sums, when an activation follows them:
        # then the activation nodes are the layer's outputs.
        head = {s if spec[3] is None else spec[3]: s for s, spec in layers.items()}
        inside = {t for s in layers for t in s.parents if kind[t] == VAR}
        inside.update(s for s, spec in layers.items() if spec[3] is not None)
        groups: dict[tuple, Any] = {}
        for node in interior:
            if kind[node] == CONST or node in inside:
                continue
            ps = node.parents
            if node in head:
                spec = layers[head[node]]
                xs, act = spec[0], spec[3]
                depth[node] = d = 1 + max(depth[x] for x in xs)
                group = groups.get(dense.layer_key(d, spec)) or groups.setdefault(
                    dense.layer_key(d, spec), dense.Layer(
                        [], d, None if act is None else act.rule, None if act is None else
                        act.arg, kind[xs[0]] == PARAM))
            else:
                kinds = [kind[p] for p in ps]
                depth[node] = d = 1 + max(depth[p] for p, k in zip(ps, kinds) if k != CONST)
                key = (d, node.op, len(ps), repr(node.arg), tuple(k in (INPUT, VAR) for k in kinds))
                group = groups.get(key) or groups.setdefault(
                    key, Group(node.rule, node.arg, len(ps), d, []))
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
        for i, group in enumerate(ordered):
            if isinstance(group, dense.Layer):
                dense.finish(group, [layers[head[n]] for n in group.nodes], row)
            else:
                _blocks(group, kind, row)
                if fuse:  # the fast program runs a group of row slices without its plans
                    ordered[i] = elementwise(group) or group

        self.params = params
        self.n_inputs = len(inputs)
        self.n_nodes = sum(len(g.nodes) for g in ordered)
        self.n_constants = len(constants)
        self.n_layers = sum(isinstance(g, dense.Layer) for g in ordered)
        self.n_rows = top
        # The shared store (parameters, then constants) and its gradients, kept: forward
        # writes the parameters' current values into it.
        self.store = np.zeros(len(params) + len(constants))
        self.store[len(params):] = [c.data for c in constants]
        self.grad_store = np.zeros(len(self.store))
        self.groups = ordered
        self.layers = [g for g in ordered if isinstance(g, dense.Layer) and g.block is not None]
        self.outputs = [(kind[v] in (INPUT, VAR), row[v]) for v in outputs]
        first = self.outputs[0][1]
        self.output_rows = slice(first, first + len(outputs)) if self.outputs == [
            (True, first + k) for k in range(len(outputs))] else None

    def shared(self) -> np.ndarray:
        """The shared store with the parameters' current ``.data``."""
        if self.params:
            self.store[: len(self.params)] = np.fromiter(map(_data, self.params), float,
                                                         len(self.params))
        return self.store

    def forward(self, shared: np.ndarray, rows: np.ndarray, work: Work) -> list:
        """Run every group; return what each saved for backward. In the per-op plan, a
        non-finite result warns (once per op) or, in anomaly mode, raises."""
        exact = not self.n_layers
        anomaly = exact and bool(get_mode() & ANOMALY)
        saved = []
        for group in self.layers:
            group.bind(self.store, self.grad_store)
        for group in self.groups:
            saved.append(group.run(shared, rows, work))
            if anomaly:
                check_forward(group, saved[-1], rows[group.start:group.stop])
        if exact and not anomaly and nonfinite(rows[self.n_inputs:]):
            warn_nonfinite(self.groups, rows, saved, rows.shape[1])
        return saved

    def backward(self, seed: np.ndarray, saved: list, work: Work,
                 masked: bool) -> tuple[np.ndarray, np.ndarray]:
        """One reverse pass: the per-sample gradient rows and the parameters' batch sums.
        ``masked`` applies the structural zeros (and anomaly mode's checks, if on)."""
        rows, grads = work.rows, work.grads
        grads_shared = self.grad_store
        grads_shared.fill(0.0)
        grads.fill(0.0)
        for k, (per_sample, r) in enumerate(self.outputs):
            if per_sample:
                grads[r] += seed[:, k]
            else:
                grads_shared[r] += seed[:, k].sum()
        anomaly = masked and bool(get_mode() & ANOMALY)
        # An empty batch has nothing to propagate (and numpy cannot reshape 0 by -1).
        for i in range(len(self.groups) - 1, -1, -1) if rows.shape[1] else ():
            group = self.groups[i]
            g = grads[group.start:group.stop]
            if not isinstance(group, Group):  # a Layer or an Elementwise
                group.backward(g, saved[i], grads, grads_shared, work)
                continue
            # (ones: contributions are g itself, without the rule's local derivatives)
            local = None if group.ones else group.local(rows[group.start:group.stop], saved[i])
            for block in group.blocks:
                plan = block.scatter
                if plan is None:
                    continue
                ds = local if group.single or local is None else [local[p] for p in
                                                                  block.positions]
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


def _blocks(group: Group, kind: dict[Value, int], row: dict[Value, int]) -> None:
    """A group's operand blocks and the scatter plan of each (constants need no gradient)."""
    first = group.nodes[0].parents
    for shared in (False, True):
        positions = [p for p in range(group.arity) if (kind[first[p]] in (PARAM, CONST)) == shared]
        if not positions:
            continue
        index = np.array([[row[n.parents[p]] for n in group.nodes] for p in positions],
                         dtype=np.intp)
        keep = np.array([[kind[n.parents[p]] != CONST for n in group.nodes] for p in positions],
                        dtype=bool)
        const = group.rule.const  # (an n-ary op's is the one number every input gets)
        ones = const is not None and all(const[0 if group.nary else p] == 1.0 for p in positions)
        group.blocks.append(Block(shared, positions, index, scatter_plan(index, keep), ones))
    group.single = len(group.blocks) == 1
    group.ones = all(block.ones for block in group.blocks)
