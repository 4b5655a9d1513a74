"""``Value``: a number that remembers how it was made. Start reading here.

The engine is three files, read in this order: this one (a Value, and how an op makes a
node), ``rules.py`` (the table: each op's forward function and local derivatives side by
side) and ``walk.py`` (backward: newest node first, add ``local derivative * gradient``
into each input).

Node layout: a one- or two-input node keeps its parents in the slots ``_a``/``_b`` and
their local derivatives in ``_da``/``_db``; an n-input node (``Value.sum``) keeps tuples
in ``_a``/``_da`` and marks ``_b`` with ``_MANY`` (``_da`` is one float when every input
gets the same constant); a leaf has ``_a = None``. Tuples for all would be simpler, but
each is one more object for the garbage collector to track, and graphs build about 40%
faster without them. ``_seq`` numbers nodes in creation order: a topological order.
"""

from __future__ import annotations

import decimal
import inspect
import itertools
import math
import numbers
import operator
from collections.abc import Callable, Iterable
from typing import Any

from .checks import real
from .kernels import FLOAT
from .modes import nonfinite, recording
from .rules import RULES, Rule

_new = object.__new__
_MANY = object()  # the _b of an n-input node: its parents are the tuple in _a
_next_seq = itertools.count().__next__


class Value:
    """A scalar node of a computation graph: a number, its gradient, and how it was made.

    ``data`` is always a Python float (ints, numpy scalars, Fraction and Decimal are
    converted); ``grad`` starts at 0.0 and is filled in by :meth:`backward`. Operators
    ``+ - * / **``, unary ``-`` and ``abs()`` take a Value or a real number on either
    side; ``exp log sqrt tanh sigmoid relu leaky_relu elu softplus sin cos clamp`` and
    ``Value.sum``/``Value.max`` come from the rule table. ``<`` and friends compare
    ``data``; ``==`` is identity, so Values can be dict keys.

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
        return () if a is None else a if b is _MANY else (a,) if b is None else (a, b)

    @property
    def local_grads(self) -> tuple[float, ...]:
        """``d self / d parent`` for each parent, saved at forward time."""
        a, b = self._a, self._b
        if a is None:
            return ()
        if b is _MANY:
            return (self._da,) * len(a) if type(self._da) is float else self._da
        return (self._da,) if b is None else (self._da, self._db)

    op = property(lambda self: "" if self._op is None else self._op.name,
                  doc="Name of the op that made this node (a key of ``RULES``), or ''.")
    rule = property(lambda self: self._op, doc="The op's row of the rule table, or None.")
    arg = property(lambda self: getattr(self, "_arg", None),
                   doc="The op's constant argument (exponent, alpha, bounds), or None.")
    is_leaf = property(lambda self: self._a is None,
                       doc="True for a node with no parents (input, parameter, constant).")

    @property
    def label(self) -> str:
        """A name for pictures and messages; '' unless given."""
        return getattr(self, "_label", "")

    @label.setter
    def label(self, text: str) -> None:
        self._label = text

    def item(self) -> float:
        """The number, as ``tensor.item()``."""
        return self.data

    def __float__(self) -> float:
        return self.data

    def __bool__(self) -> bool:  # as a number (and a PyTorch scalar): False at 0.0
        return self.data != 0.0

    def __repr__(self) -> str:
        op = f", op={self._op.name!r}" if self._op is not None else ""
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{op}{label})"

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    def __pos__(self) -> Value:
        return self

    def swish(self) -> Value:
        """``x * sigmoid(x)`` (SiLU): a composition of two ops of the table."""
        return self * self.sigmoid()

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

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0.0 on this node and on every node it was computed from."""
        self.grad = 0.0
        for node in walk.interior_nodes([self], zero=True):
            for parent in node.parents:
                parent.grad = 0.0

    def detach(self) -> Value:
        """A new leaf with the same number: a constant that blocks gradient flow."""
        return leaf(self.data, self.label)

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return copying.reduce(self)  # graphs of any depth (see copying.py)

    def __copy__(self) -> Value:
        return copying.shallow(self)


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Value, Any], bool]:
    def compare(self: Value, other: Any) -> bool:
        if isinstance(other, Value):
            return op(self.data, other.data)
        if isinstance(other, bool) or not isinstance(other, (numbers.Real, decimal.Decimal)):
            raise TypeError(f"cannot compare Value with {type(other).__name__}")
        # Python compares a float with an int, Fraction or Decimal exactly (10**400 too).
        exact = isinstance(other, (int, numbers.Rational, decimal.Decimal))
        return op(self.data, other if exact else float(other))

    return compare


for _op in (operator.lt, operator.le, operator.gt, operator.ge):
    setattr(Value, f"__{_op.__name__}__", _compare(_op))


def leaf(data: float, label: str = "") -> Value:
    """A new leaf holding the float ``data`` (no checks: for numbers already floats)."""
    node = _new(Value)
    node.data, node.grad, node._seq = data, 0.0, _next_seq()
    node._a = node._b = node._op = None
    if label:
        node._label = label
    return node


def describe(node: Value) -> str:
    return f"{node.label or node.op or 'leaf'}={node.data!r}"


def operand(other: Any) -> Value | None:
    """The Value for the other side of an operator, or None when unsupported."""
    if type(other) is float:
        return leaf(other)
    if isinstance(other, Value):
        return other
    if isinstance(other, bool) or not isinstance(other, (numbers.Real, decimal.Decimal)):
        return None
    return leaf(real(other, "operand"))


# -- ops from the table -------------------------------------------------------------------
# An op is a closure over its row: compute the forward value, make the node and, while
# grad mode is on, store the parents and the local derivatives (the row's const, or its
# local on floats). `out - out != 0.0` is a cheap test for inf and nan.

def _unary(rule: Rule) -> Callable[..., Value]:
    forward, local, const, has_arg = rule.forward, rule.local, rule.const, rule.param is not None

    def apply(x: Value, arg: Any = None) -> Value:
        data = x.data
        out = forward(data, arg) if has_arg else forward(data)
        node = _new(Value)
        node.data, node.grad, node._op, node._b, node._seq = out, 0.0, rule, None, _next_seq()
        if has_arg:
            node._arg = arg
        if out - out != 0.0:
            nonfinite(rule.name, out, (x,))
        if recording():
            node._a, node._walk = x, None
            (node._da,) = const or local(FLOAT, out, data, arg)
        else:
            node._a = None
        return node

    return apply


def _binary(rule: Rule, reflected: bool = False) -> Callable[..., Any]:
    forward, local, const = rule.forward, rule.local, rule.const

    def op(self: Value, other: Any) -> Any:
        if type(other) is not Value:
            other = operand(other)
            if other is None:
                return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        x, y = a.data, b.data
        out = forward(x, y)
        node = _new(Value)
        node.data, node.grad, node._op, node._seq = out, 0.0, rule, _next_seq()
        if out - out != 0.0:
            nonfinite(rule.name, out, (a, b))
        if recording():
            node._a, node._b, node._walk = a, b, None
            node._da, node._db = const or local(FLOAT, out, x, y, None)
        else:
            node._a = node._b = None
        return node

    return op


def _nary(rule: Rule) -> Callable[[Iterable[Any]], Value]:
    forward, local, const, what = rule.forward, rule.local, rule.const, f"Value.{rule.method}"

    def apply(items: Iterable[Any]) -> Value:
        if isinstance(items, (str, bytes, Value)) or not isinstance(items, Iterable):
            raise TypeError(f"{what} needs an iterable of Values or numbers, got "
                            f"{type(items).__name__}")
        xs = list(items)
        datas = [x.data for x in xs if x.__class__ is Value]  # all Values: the usual case
        if len(datas) != len(xs):
            for i, x in enumerate(xs):
                xs[i] = operand(x)
                if xs[i] is None:
                    raise TypeError(f"{what}: item {i} is {type(x).__name__}, not a Value "
                                    "or number")
            datas = [x.data for x in xs]
        if not xs:
            try:
                return leaf(forward(datas))  # (an empty sum is 0)
            except (ValueError, IndexError):
                raise ValueError(f"{what} needs at least one item, got an empty "
                                 "iterable") from None
        out = forward(datas)
        node = _new(Value)
        node.data, node.grad, node._op, node._seq = out, 0.0, rule, _next_seq()
        if out - out != 0.0:
            nonfinite(rule.name, out, xs)
        if recording():
            node._a, node._b, node._walk = tuple(xs), _MANY, None
            node._da = const[0] if const else tuple(local(FLOAT, out, datas, None))
        else:
            node._a = node._b = None
        return node

    return apply


def _with_argument(rule: Rule) -> Callable[..., Value]:
    apply, param = _unary(rule), rule.param
    if rule.method.startswith("__"):  # x ** c, c ** x: the number c is the argument
        pair = next((r for r in RULES.values() if r.method == rule.method and r.arity == 2),
                    None)
        with_value = _binary(pair) if pair else lambda self, other: NotImplemented

        def op(self: Value, other: Any) -> Any:
            if isinstance(other, Value):  # a ** b: the two-input rule of this operator
                return with_value(self, other)
            if isinstance(other, bool) or not isinstance(other, (numbers.Real, decimal.Decimal)):
                return NotImplemented
            return apply(self, param(other))

        return op

    def method(self: Value, *args: Any, **kwargs: Any) -> Value:
        return apply(self, param(*args, **kwargs))

    params = inspect.signature(param).parameters.values()
    method.__signature__ = inspect.Signature([inspect.Parameter(  # for help() and the docs
        "self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params])
    return method


def install(rule: Rule) -> None:
    """Make ``rule`` an op of Value: its ``method`` (and an operator's reflected twin)."""
    made = (_nary(rule) if rule.arity == 0 else _binary(rule) if rule.arity == 2
            else _unary(rule) if rule.param is None else _with_argument(rule))
    made.__doc__ = f"{rule.doc}; {rule.derivative}." if rule.doc else rule.derivative
    twin = "__r" + rule.method[2:]
    if rule.arity == 2 and not any(r.method == twin for r in RULES.values()):
        setattr(Value, twin, _binary(rule, reflected=True))
    setattr(Value, rule.method, staticmethod(made) if rule.arity == 0 else made)


def register(rule: Rule) -> Rule:
    """Add ``rule`` to the table and to Value: a new op (the README's "Adding an op")."""
    if not isinstance(rule, Rule):
        raise TypeError(f"register needs a Rule, got {type(rule).__name__}")
    RULES[rule.name] = rule
    install(rule)
    return rule


for _rule in list(RULES.values()):
    install(_rule)

from . import copying, walk  # noqa: E402 - both need Value (and the helpers above)
