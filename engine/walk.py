"""Backward: which nodes a gradient passes through, in which order, and the loop.

``interior_nodes`` finds the nodes a root depends on, newest first. Creation order is
topological (a node's inputs always exist before it), so the newest node has received
every contribution before it passes its own gradient on. No recursion (a 1,000,000-node
chain is fine), and a tampered graph is easy to catch: a cycle needs an input newer than
the node that uses it.

``propagate`` is the loop: for each node, add ``local derivative * gradient`` into each
input's gradient. Its parameters make it serve ``grad`` (floats in a dict), ``create_graph``
(local derivatives rebuilt as Values, so gradients are graphs again), anomaly mode and the
step-through. ``backward`` has the loop once more, specialised to floats in ``.grad``: on
micrograd's demo step (``make bench``, mlp_step) the general loop was about 10% slower.

A local derivative of exactly 0 is a *structural zero*: it passes nothing back, whatever
comes from above (``x.relu().log()`` at x < 0 gives 0, not ``0 * inf = nan``). A node
that received nothing has gradient 0 and passes back ``0 * d``: only the nan of 0 * inf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter
from typing import Any, NamedTuple

from .modes import ANOMALY, backward_anomaly, get_mode
from .value import _MANY, Value, describe, leaf

_isfinite = math.isfinite
_by_creation = attrgetter("_seq")


def interior_nodes(roots: Sequence[Value], zero: bool = False) -> list[Value]:
    """The nodes with parents that ``roots`` depend on (roots included), newest first.
    ``zero=True`` also sets each one's ``.grad`` to 0.0 (backward's start)."""
    epoch = object()  # marks the nodes this walk has reached
    order = []
    for root in roots:
        if root._a is not None and root._walk is not epoch:
            root._walk = epoch
            order.append(root)
    last, shuffled = math.inf, False  # whether nodes were found out of newest-first order
    for node in order:  # the list grows while it is walked: a breadth-first search
        if zero:
            node.grad = 0.0
        seq, a, b = node._seq, node._a, node._b
        for parent in a if b is _MANY else (a,) if b is None else (a, b):
            if parent._a is None:
                continue  # a leaf: nothing to pass on
            s = parent._seq
            if s >= seq:  # every edge is checked: a cycle may close on a visited node
                raise ValueError(f"cycle in the graph: {describe(parent)} is an input of "
                                 f"{describe(node)} but was created after it (was the "
                                 "graph edited?)")
            if parent._walk is not epoch:
                parent._walk = epoch
                order.append(parent)
                shuffled = shuffled or s > last
                last = s
    # A chain (an unrolled loop) is found newest first already: then there is nothing to
    # sort, and the sort's key calls would be a tenth of backward.
    if shuffled or len(roots) > 1:
        order.sort(key=_by_creation, reverse=True)
    return order


def backward(root: Value, seed: float) -> None:
    """``root.backward(seed)``: see :meth:`Value.backward`."""
    if root._a is None:
        root.grad += seed
        return
    order = interior_nodes([root], zero=True)
    root.grad = seed
    if get_mode() & ANOMALY:
        for node, g in propagate(order, {root: seed}, check=True).items():
            if node._a is None:
                node.grad += g
            else:
                node.grad = g
        return
    for node in order:  # propagate, specialised (see the module docstring)
        g, a, b = node.grad, node._a, node._b
        if b is _MANY:
            ds = node._da
            if type(ds) is float:  # every input has the same local derivative
                c = ds * g
                for parent in a:
                    parent.grad += c
            else:
                for parent, d in zip(a, ds):
                    if d:  # (true for nan)
                        parent.grad += d * g
            continue
        d = node._da
        if d:
            a.grad += d * g
        if b is not None:
            d = node._db
            if d:
                b.grad += d * g


class Step(NamedTuple):
    """One node of a backward pass: ``node`` passes ``upstream`` to each of ``parents``."""

    node: Value
    upstream: float
    parents: tuple[Value, ...]
    local: tuple[float, ...]
    contributions: tuple[float, ...]
    before: tuple[float, ...]
    after: tuple[float, ...]


def propagate(order: list[Value], grads: dict[Value, Any], *, local: Any = None,
              check: bool = False, steps: list[Step] | None = None) -> dict[Value, Any]:
    """Carry the gradients in ``grads`` (the roots' seeds) back along ``order``, adding
    ``d * g`` into ``grads[parent]``; return ``grads``.

    ``local(node)`` gives a node's local derivatives: by default the floats saved at
    forward time; ``create_graph`` passes Values built from the rules (then a zero that is
    a Value keeps its graph while ``g`` is finite). ``check``: a non-finite contribution
    raises ``FloatingPointError``. ``steps`` receives each node's :class:`Step`.
    """
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
            steps.append(Step(node, 0.0 if g is None else g, parents, ds, contributions,
                              before, after))
    return grads


def backward_order(root: Value) -> list[Value]:
    """The nodes ``root.backward()`` visits, in its order (``root`` first); leaves, which
    receive gradients but pass nothing on, are not listed."""
    if not isinstance(root, Value):
        raise TypeError(f"backward_order needs a Value, got {type(root).__name__}")
    return interior_nodes([root])


def backward_trace(root: Value, grad: float = 1.0) -> tuple[list[Step], dict[Value, float]]:
    """``root.backward(grad)`` step by step, on a private dict (the graph is not touched):
    each node's :class:`Step`, and the final gradient of every node (from zero)."""
    steps: list[Step] = []
    return steps, propagate(backward_order(root), {root: grad}, steps=steps)
