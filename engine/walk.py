"""Backward: which nodes a gradient passes through, in which order, and the loop.

``interior_nodes`` finds the nodes a root depends on, newest first: creation order is
topological (inputs exist before the nodes made from them), so each node has received
every contribution before it passes its gradient on. No recursion, and a tampered graph
is caught: a cycle needs an input newer than the node using it.

``propagate`` is the loop (add ``local derivative * gradient`` into each input's
gradient); its parameters make it serve ``grad``, ``create_graph``, anomaly mode and the
step-through. ``backward`` has it once more, specialised to floats in ``.grad`` (the
general loop made micrograd's demo step, ``make bench`` mlp_step, about 10% slower).

A local derivative of exactly 0 is a *structural zero*: it passes nothing back, whatever
comes from above (``x.relu().log()`` at x < 0 gives 0, not ``0 * inf = nan``). A node
that received nothing has gradient 0, and passes back only the nan of ``0 * inf``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from .modes import ANOMALY, backward_anomaly, get_mode
from .value import MANY, Value, describe, leaf

_isfinite = math.isfinite
_by_creation = attrgetter("_seq")


def interior_nodes(roots: Sequence[Value], zero: bool = False) -> list[Value]:
    """The nodes with parents that ``roots`` depend on (roots included), newest first.
    ``zero=True`` also sets each one's ``.grad`` to 0.0 (backward's start)."""
    epoch = object()  # marks the nodes this walk has reached
    order = []
    append = order.append
    for node in roots:
        if node._a is not None and node._walk is not epoch:
            node._walk = epoch
            append(node)
    # Every edge is checked: a tampered graph's cycle may close on a node already reached.
    # (The test of a parent is written out three times: as a function call per node it
    # made backward on micrograd's demo graph about 12% slower, its whole step 3%.)
    for node in order:  # the list grows while it is walked: a breadth-first search
        seq, a, b = node._seq, node._a, node._b
        if b is MANY:
            for p in a:
                if p._a is not None and (p._seq >= seq or p._walk is not epoch):
                    p._walk = epoch if p._seq < seq else _cycle(p, node)
                    append(p)
            continue
        if a._a is not None and (a._seq >= seq or a._walk is not epoch):
            a._walk = epoch if a._seq < seq else _cycle(a, node)
            append(a)
        if b is not None and b._a is not None and (b._seq >= seq or b._walk is not epoch):
            b._walk = epoch if b._seq < seq else _cycle(b, node)
            append(b)
    order.sort(key=_by_creation, reverse=True)
    if zero:
        for node in order:
            node.grad = 0.0
    return order


def _cycle(parent: Value, node: Value) -> Any:
    """``parent``, an input of ``node``, is not older than it: the graph has a cycle."""
    raise ValueError(f"cycle in the graph: {describe(parent)} is an input of "
                     f"{describe(node)} but was created after it (was the graph edited?)")


def backward(root: Value, seed: float) -> None:
    """``root.backward(seed)``: see :meth:`Value.backward`."""
    if root._a is None:
        root.grad += seed
        return
    order = interior_nodes([root], zero=True)
    root.grad = seed
    if get_mode() & ANOMALY:
        for node, g in propagate(order, {root: seed}, check=True).items():
            node.grad = node.grad + g if node._a is None else g  # leaves accumulate
        return
    for node in order:  # propagate, specialised (see the module docstring)
        g, b = node.grad, node._b
        if b is MANY:
            ds = node._da
            if type(ds) is float:  # every input has the same local derivative
                c = ds * g
                for parent in node._a:
                    parent.grad += c
            else:
                for parent, d in zip(node._a, ds):
                    if d:  # (true for nan)
                        parent.grad += d * g
            continue
        d = node._da
        if d:
            node._a.grad += d * g
        if b is not None:
            d = node._db
            if d:
                b.grad += d * g


def propagate(order: list[Value], grads: dict[Value, Any], *, local: Any = None,
              check: bool = False, steps: list | None = None) -> dict[Value, Any]:
    """Carry ``grads`` (the roots' seeds) back along ``order``, adding ``d * g`` into
    ``grads[parent]``. ``local(node)``: the node's local derivatives (default: the floats
    saved at forward time; ``create_graph`` passes Values, and then a zero Value keeps its
    graph while ``g`` is finite). ``check``: a non-finite contribution raises. ``steps``
    receives ``(node, upstream, parents, local, contributions, before, after)`` per node."""
    for node in order:
        g = grads.get(node)
        parents = node.parents
        ds = node.local_grads if local is None else local(node)
        row = []
        for i, (parent, d) in enumerate(zip(parents, ds)):
            number = d if type(d) is float else d.data
            if g is None:  # nothing reached this node: 0 * d is nothing but nan * ...
                c = None if _isfinite(number) else leaf(math.nan) if local else math.nan
            elif number == 0.0 and (type(d) is float or not _isfinite(g.data)):
                c = None  # a structural zero
            else:
                c = g if type(d) is float and d == 1.0 else d * g
            old = grads.get(parent)
            if c is not None:
                if check and not _isfinite(getattr(c, "data", c)):
                    backward_anomaly(node, i, parent, d, 0.0 if g is None else g, c)
                grads[parent] = c if old is None else old + c
            row.append((0.0 if c is None else c, 0.0 if old is None else old,
                        grads.get(parent, 0.0)))
        if steps is not None:
            contributions, before, after = zip(*row) if row else ((), (), ())
            steps.append((node, 0.0 if g is None else g, parents, ds, contributions, before,
                          after))
    return grads

