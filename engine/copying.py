"""Copying and pickling graphs of any depth (``copy.deepcopy``, ``pickle``).

Python's default would recurse from a node into its parents, one level per op, and a
400-op chain exceeds the recursion limit. So the first node of a graph to reach the
pickler (or deepcopy) lists all its ancestors, oldest first, ahead of itself; each
ancestor then refers only to parents already written (in the pickler's memo), and the
depth of recursion stays constant. Identity is kept by the pickler's own memo: a graph
pickled together with its parameters still shares them. A restored node gets a fresh
creation number, after its parents', so new ops on it mix with new nodes.
"""

from __future__ import annotations

import threading
from typing import Any

from .value import MANY, Value, leaf


class _Local(threading.local):
    def __init__(self) -> None:
        self.pending: dict[int, Value] = {}  # nodes whose ancestors are already written


_LOCAL = _Local()


class _EndOfAncestors:
    """Written after a node's ancestors: by then each has been written, so the marks go."""

    def __reduce__(self) -> str:
        _LOCAL.pending.clear()
        return "END_OF_ANCESTORS"

    def __deepcopy__(self, memo: dict) -> _EndOfAncestors:
        _LOCAL.pending.clear()
        return self


END_OF_ANCESTORS = _EndOfAncestors()


def reduce(node: Value) -> tuple:
    """``node.__reduce_ex__``: a leaf, or a node whose ancestors are ahead of it, is
    written with its parents; any other node with all its ancestors first."""
    pending = _LOCAL.pending
    if pending.pop(id(node), None) is node or node.is_leaf:
        return (restore, (_state(node),))
    ancestors = _ancestors_oldest_first(node)
    pending.clear()  # (marks left by a pickling that failed half-way)
    for a in ancestors:
        pending[id(a)] = a
    return (restore_after, ((*ancestors, END_OF_ANCESTORS), _state(node)))


def shallow(node: Value) -> Value:
    """``copy.copy(node)``: a new node with the same parents."""
    return restore(_state(node))


def _ancestors_oldest_first(root: Value) -> list[Value]:
    seen = {root}
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    seen.discard(root)
    return sorted(seen, key=lambda n: n._seq)


def _state(node: Value) -> tuple:
    user = getattr(node, "__dict__", None) or None
    return (node.data, node.grad, node.label, node.rule, node.parents, node.local_grads,
            node.arg, user)


def restore(state: tuple) -> Value:
    """A node rebuilt from its state; its parents exist already (they are older)."""
    data, grad, label, rule, parents, local, arg, user = state
    node = leaf(data, label)
    node.grad = grad
    if rule is not None:
        node._op = rule
        if arg is not None:
            node._arg = arg
        if parents:
            link(node, parents, local)
    if user:
        node.__dict__.update(user)
    return node


def link(node: Value, parents: tuple[Value, ...], local: tuple) -> None:
    """Give ``node`` its parents and their local derivatives, in the node layout."""
    node._walk = None
    if node._op.arity == 0:
        node._a, node._b = parents, MANY
        node._da = local[0] if node._op.const else local
    elif len(parents) == 1:
        node._a, node._b, node._da = parents[0], None, local[0]
    else:
        node._a, node._b = parents
        node._da, node._db = local


def restore_after(ancestors: tuple, state: Any) -> Value:
    return restore(state)
