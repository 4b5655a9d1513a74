"""``Value``: a number that remembers how it was made. Start reading here, then
``rules.py`` (the table: each op's forward function and local derivatives side by side)
and ``walk.py`` (backward: newest node first, add ``local derivative * gradient`` into
each input).

Node layout: a one- or two-input node keeps its parents in the slots ``_a``/``_b`` and
their local derivatives in ``_da``/``_db``; an n-input node (``Value.sum``) keeps tuples
in ``_a``/``_da`` and marks ``_b`` with ``MANY``; a leaf has ``_a = None``. (Tuples for
all would be one more object per node for the garbage collector: graphs build about 40%
faster without them.) ``_seq`` numbers nodes in creation order, a topological order.
"""

from __future__ import annotations

import decimal
import itertools
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from .checks import real
from .kernels import FLOAT
from .modes import nonfinite, recording
from .protocol import add_protocol
from .rules import Rule

_new = object.__new__
MANY = object()  # the _b of an n-input node (its parents are the tuple in _a)
_next_seq = itertools.count().__next__


class Value:
    """A scalar node of a computation graph: a number, its gradient, and how it was made.

    ``data`` is a Python float (ints, numpy scalars, Fraction, Decimal are converted),
    ``grad`` starts at 0.0. ``+ - * / **``, ``-x``, ``abs(x)``, ``exp log sqrt tanh
    sigmoid relu leaky_relu elu softplus sin cos clamp``, ``Value.sum`` and ``Value.max``
    come from the rule table; ``<`` compares ``data``; ``==`` is identity.

    Example:
        >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
        >>> f = (x + y) * z
        >>> f.backward()
        >>> f.data, x.grad, y.grad, z.grad
        (-12.0, -4.0, -4.0, 3.0)
    """

    # __dict__ stays unallocated unless user code sets an attribute of its own (micrograd
    # scripts keep optimizer state on parameters); _walk marks what a walk has reached.
    __slots__ = ("data", "grad", "_label", "_a", "_b", "_da", "_db", "_op", "_arg", "_seq",
                 "_walk", "__dict__")
    __array_ufunc__ = None  # numpy defers to our operators: np.float64(2) * v is a Value

    def __init__(self, data: Any, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}")
        self.data, self.grad, self._seq = real(data, "Value"), 0.0, _next_seq()
        self._a = self._b = self._op = None
        if label:
            self._label = label

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the op that made this node, in order (empty for a leaf)."""
        a, b = self._a, self._b
        return () if a is None else a if b is MANY else (a,) if b is None else (a, b)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """``d self / d parent`` for each parent, saved at forward time."""
        a, b = self._a, self._b
        if a is None:
            return ()
        if b is MANY:
            return (self._da,) * len(a) if type(self._da) is float else self._da
        return (self._da,) if b is None else (self._da, self._db)

    op = property(lambda self: "" if self._op is None else self._op.name,
                  doc="Name of the op that made this node (a key of ``RULES``), or ''.")
    rule = property(lambda self: self._op, doc="The op's row of the rule table, or None.")
    arg = property(lambda self: getattr(self, "_arg", None),
                   doc="The op's constant argument (exponent, alpha, bounds), or None.")
    is_leaf = property(lambda self: self._a is None,
                       doc="True for a node with no parents (input, parameter, constant).")

    def backward(self, grad: float | None = 1.0) -> None:
        """Backpropagate from this node: every node's ``.grad`` becomes d self / d node.

        Leaves (inputs, parameters) *accumulate* (``+=``, as in PyTorch), so a second
        call doubles their gradients; interior nodes are recomputed on every call.
        ``grad`` is the seed, d(final)/d(self): a finite real number (None means 1.0).
        Backward uses the local derivatives saved at forward time, so changing a node's
        ``.data`` afterwards does not change this graph's gradients.
        """
        seed = 1.0 if grad is None else real(grad, "backward(grad=...)")
        if not math.isfinite(seed):
            raise ValueError(f"backward(grad=...) needs a finite seed, got {seed!r}")
        if self._a is None and self._op is not None:
            raise RuntimeError(f"backward: {describe(self)} was computed under no_grad and "
                               "has no graph")
        walk.backward(self, seed)


def leaf(data: float, label: str = "") -> Value:
    """A new leaf holding the float ``data`` (no checks: for numbers already floats)."""
    node = _new(Value)
    node.data, node.grad = data, 0.0
    node._a = node._b = node._op = None
    node._seq = _next_seq()
    if label:
        node._label = label
    return node


def describe(node: Value) -> str:
    return f"{node.label or node.op or 'leaf'}={node.data!r}"


def operand(other: Any) -> Value | None:
    """The Value for the other side of an operator, or None when unsupported."""
    cls = type(other)
    if cls is float or cls is int:  # the common constants first
        return leaf(other if cls is float else real(other, "operand"))
    if isinstance(other, Value):
        return other
    if cls is bool or not isinstance(other, (numbers.Real, decimal.Decimal)):
        return None
    return leaf(real(other, "operand"))


# -- ops from the table: each a closure over its row ---------------------------------------

def _builder(rule: Rule) -> Callable[..., Any]:
    """Apply a one-input or n-ary ``rule``: ``build(x)``, ``build(x, arg)`` or
    ``build(items)``. Compute the forward value and make the node, which keeps, while grad
    mode is on, its parents and their local derivatives (``const``, or ``local``)."""
    forward, local, const, has_arg = rule.forward, rule.local, rule.const, rule.param is not None
    one = rule.arity == 1

    def build(a: Any, arg: Any = None) -> Value:
        if one:
            x = a.data
            out = forward(x, arg) if has_arg else forward(x)
        else:
            a, x = _values(a, rule.method)
            try:
                out = forward(x)
            except (ValueError, IndexError):  # no items: an empty max has no value
                raise ValueError(f"Value.{rule.method} needs at least one item, got an "
                                 "empty iterable") from None
            if not a:  # an empty sum is 0 (a leaf)
                return leaf(out)
        node = _new(Value)
        node.data, node.grad = out, 0.0
        node._op, node._seq = rule, _next_seq()
        if has_arg:
            node._arg = arg
        if out - out != 0.0:  # inf or nan (a cheap test: it runs for every node)
            nonfinite(rule.name, out, (a,) if one else a)
        if not recording():
            node._a = node._b = None
        elif one:
            node._a, node._b, node._walk = a, None, None
            (node._da,) = const or local(FLOAT, out, x, arg)
        else:
            node._a, node._b, node._walk = a, MANY, None
            node._da = const[0] if const else tuple(local(FLOAT, out, x, None))
        return node

    return build


def _operator(rule: Rule, reflected: bool = False) -> Callable[[Value, Any], Any]:
    """The operator method of a two-input ``rule`` (``a + b``; ``2 - x`` if ``reflected``),
    kept apart from the builder: two-input ops are 305 of the 372 nodes per point of
    micrograd's demo, and the builder's branches made its step (mlp_step) 8% slower."""
    forward, local, const = rule.forward, rule.local, rule.const

    def op(self: Value, other: Any) -> Any:
        if type(other) is not Value:
            other = operand(other)
            if other is None:
                return NotImplemented
        if reflected:  # (a swap, not a tuple: 2 - x)
            self, other = other, self
        x, y = self.data, other.data
        out = forward(x, y)
        node = _new(Value)
        node.data, node.grad = out, 0.0
        node._op, node._seq = rule, _next_seq()
        if out - out != 0.0:
            nonfinite(rule.name, out, (self, other))
        if recording():
            node._a, node._b, node._walk = self, other, None
            node._da, node._db = const or local(FLOAT, out, x, y, None)
        else:
            node._a = node._b = None
        return node

    return op


def _values(items: Any, method: str) -> tuple[tuple[Value, ...], list[float]]:
    """The items of ``Value.sum(items)`` as Values (numbers become leaves), and their data."""
    if type(items) is not list and type(items) is not tuple and (  # (lists: no ABC check)
            isinstance(items, (str, bytes, Value)) or not isinstance(items, Iterable)):
        raise TypeError(f"Value.{method} needs an iterable of Values or numbers, got "
                        f"{type(items).__name__}")
    given = tuple(items)
    datas = [x.data for x in given if x.__class__ is Value]  # all Values: the usual case
    if len(datas) == len(given):
        return given, datas
    xs = tuple(map(operand, given))
    if None in xs:
        i = xs.index(None)
        raise TypeError(f"Value.{method}: item {i} is {type(given[i]).__name__}, not a Value "
                        "or number")
    return xs, [x.data for x in xs]


add_protocol(Value)
from . import methods, walk  # noqa: E402 - they need Value (and the helpers above)

methods.install_all()
