"""``Value``: a scalar that records the ops applied to it, and reverse-mode backward.

Each op computes its forward value with an IEEE float kernel (``kernels``) and, while
grad mode is on, stores its parents and its *local derivatives* (from the rule table
in ``rules``: the rule's ``const`` when it has one, else its ``local`` on floats) on
the new node. ``backward`` then needs no closures and no
recomputation: it walks the nodes in reverse creation order and adds
``local derivative * upstream gradient`` into each parent.

Why creation order: a node's parents always exist before the node, so sorting the
reachable nodes by a creation counter is a topological order. It is deterministic,
needs no recursion (a 1,000,000-node chain is fine), and makes a tampered graph
(a parent newer than its child, the only way to build a cycle) easy to detect.

Node layout: a one- or two-input node keeps its parents in the slots ``_a``/``_b`` and
their local derivatives in ``_da``/``_db``; an n-input node (``Value.sum``,
``Value.max``) keeps tuples in ``_a``/``_da`` and marks ``_b`` with ``_MANY`` (``_da``
is a single float when every input gets the same constant, as in ``Value.sum``); a leaf
has ``_a = None``. Tuples would be simpler, but each is one more object for Python's
cyclic garbage collector to track while a graph is alive, and building a graph got
about 40% faster without them. For the same reason the rarely used slots ``_label``
(behind the ``label`` property) and ``_arg`` (the op's parameter) stay unset unless
given: the collector visits every set slot of every node each time it scans the graph.

Every node also has ``data``, ``grad``, ``_op`` (its Rule, None for a leaf) and ``_seq``
(its creation number).
"""

from __future__ import annotations

import decimal
import itertools
import math
import numbers
import threading
import warnings
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from . import kernels
from .kernels import FLOAT
from .modes import ANOMALY, QUIET, get_mode, recording
from .rules import RULES, Rule

_new = object.__new__
_MANY = object()  # the _b of an n-input node: its parents are the tuple in _a
_isfinite = math.isfinite
_INFINITIES = (math.inf, -math.inf)
_next_seq = itertools.count().__next__
_by_creation = attrgetter("_seq")

_ADD, _SUB, _MUL, _DIV = RULES["add"], RULES["sub"], RULES["mul"], RULES["div"]
_POW, _POWC, _RPOW, _NEG = RULES["pow"], RULES["powc"], RULES["rpow"], RULES["neg"]
_EXP, _LOG, _SQRT, _TANH = RULES["exp"], RULES["log"], RULES["sqrt"], RULES["tanh"]
_SIGMOID, _RELU, _LEAKY, _ELU = RULES["sigmoid"], RULES["relu"], RULES["leaky_relu"], RULES["elu"]
_SOFTPLUS, _ABS, _SIN, _COS = RULES["softplus"], RULES["abs"], RULES["sin"], RULES["cos"]
_CLAMP, _SUM, _MAX = RULES["clamp"], RULES["sum"], RULES["max"]


def _to_float(data: Any, what: str = "Value") -> float:
    """Convert a real number to a Python float, refusing everything else by name."""
    if type(data) is float:
        return data
    if isinstance(data, bool) or type(data).__name__ == "bool_":
        raise TypeError(f"{what} needs a real number, got bool ({data!r})")
    if isinstance(data, Value):
        raise TypeError(
            f"{what} needs a real number, got Value; use v.data for its number "
            "or v.detach() for a constant copy"
        )
    if isinstance(data, (numbers.Real, decimal.Decimal)):
        try:
            number = float(data)
        except OverflowError:
            number = None
        except ValueError:  # a signaling Decimal NaN refuses float()
            raise ValueError(f"{what}: cannot convert {data!r} to a float") from None
        # float() raises for an int or Fraction beyond the float range, but silently
        # gives inf for a Decimal or a numpy long double: refuse both alike.
        if number is None or (number in _INFINITIES and data != number):
            raise OverflowError(
                f"{what}: the {type(data).__name__} (about 10**{_decimal_exponent(data)}) "
                "is too large for a float"
            )
        return number
    raise TypeError(f"{what} needs a real number, got {type(data).__name__}")


def _decimal_exponent(number: Any) -> int:
    if isinstance(number, int):
        return int(abs(number).bit_length() * 0.30103)
    if isinstance(number, numbers.Rational):  # Fraction: Decimal() cannot take it
        bits = abs(number.numerator).bit_length() - number.denominator.bit_length()
        return int(bits * 0.30103)
    try:
        return int(decimal.Decimal(str(number)).adjusted())
    except (TypeError, ValueError, ArithmeticError):
        return 308


def _operand(other: Any) -> Value | None:
    """The Value for the other side of an operator, or None when unsupported."""
    cls = type(other)
    if cls is float or cls is int:  # the common constants: skip the slower ABC checks
        return _leaf(_constant(other, "operand") if cls is int else other)
    if isinstance(other, Value):
        return other
    if isinstance(other, bool) or not isinstance(other, (numbers.Real, decimal.Decimal)):
        return None
    return _leaf(_constant(other, "operand"))


def _constant(number: Any, what: str) -> float:
    """``float(number)`` for a real number; one too large for a float raises by name."""
    try:
        result = float(number)
    except OverflowError:
        result = None
    if result is None or (result in _INFINITIES and number != result):
        _to_float(number, what)  # raises OverflowError naming the type and its size
    return result


def _leaf(data: float, label: str = "") -> Value:
    node = _new(Value)
    node.data = data
    node.grad = 0.0
    if label:
        node._label = label
    node._a = node._b = node._op = None
    node._seq = _next_seq()
    return node


def _describe(node: Value) -> str:
    name = node.label or (node._op.name if node._op is not None else "leaf")
    return f"{name}={node.data!r}"


def _nonfinite(rule: Rule, inputs: tuple, out: float, stacklevel: int) -> None:
    """A forward result is inf or nan: warn (from finite inputs) or raise (anomaly mode)."""
    mode = get_mode()
    finite_in = all(_isfinite(x.data) for x in inputs)
    if mode & ANOMALY:
        where = "finite" if finite_in else "non-finite"
        involved = ", ".join(_describe(x) for x in inputs)
        raise FloatingPointError(f"{rule.name} produced {out!r} from {where} input ({involved})")
    if finite_in and not mode & QUIET:
        warnings.warn(
            f"chainrule: {rule.name} produced {out!r} from finite inputs",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


def _node1(rule: Rule, x: Value, out: float, arg: Any) -> Value:
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node._op = rule
    if arg is not None:
        node._arg = arg
    node._b = None
    node._seq = _next_seq()
    if not _isfinite(out):
        _nonfinite(rule, (x,), out, 4)
    if recording():
        node._a = x
        local = rule.local  # fetched, then called: faster (see Value.relu)
        (node._da,) = rule.const or local(FLOAT, out, x.data, arg)
    else:
        node._a = None
    return node


def _node2(rule: Rule, a: Value, b: Value, out: float) -> Value:
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node._op = rule
    node._seq = _next_seq()
    if not _isfinite(out):
        _nonfinite(rule, (a, b), out, 4)
    if recording():
        node._a = a
        node._b = b
        local = rule.local  # fetched, then called: faster (see Value.relu)
        node._da, node._db = rule.const or local(FLOAT, out, a.data, b.data, None)
    else:
        node._a = node._b = None
    return node


def _node_n(rule: Rule, xs: tuple[Value, ...], datas: Sequence[float], out: float) -> Value:
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node._op = rule
    node._seq = _next_seq()
    if not _isfinite(out):
        _nonfinite(rule, xs, out, 4)
    if recording():
        node._a = xs
        node._b = _MANY
        const = rule.const
        # One float for all inputs when they all get the same constant (Value.sum).
        node._da = const[0] if const else rule.local(FLOAT, out, datas, None)
    else:
        node._a = node._b = None
    return node


def _values(items: Iterable[Any], what: str) -> tuple[Value, ...]:
    if isinstance(items, (str, bytes, Value)) or not isinstance(items, Iterable):
        raise TypeError(f"{what} needs an iterable of Values or numbers, got "
                        f"{type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        v = _operand(item)
        if v is None:
            raise TypeError(f"{what}: item {i} is {type(item).__name__}, not a Value or number")
        out.append(v)
    return tuple(out)


class Value:
    """A scalar node of a computation graph: a number, its gradient, and how it was made.

    ``data`` is always a Python float (ints, numpy scalars, Fraction and Decimal are
    converted); ``grad`` starts at 0.0 and is filled in by :meth:`backward`.
    Operators ``+ - * / **``, unary ``-`` and ``abs()`` accept a Value or a real number
    on either side. Comparisons (``<`` ...) compare ``data``; ``==`` is identity, so
    Values can be dict keys and list members.

    Example:
        >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
        >>> f = (x + y) * z
        >>> f.backward()
        >>> f.data, x.grad, y.grad, z.grad
        (-12.0, -4.0, -4.0, 3.0)
    """

    # __dict__ stays empty (and unallocated) unless user code sets an attribute of its
    # own, as micrograd scripts do for optimizer state (p.m, p.v).
    __slots__ = ("data", "grad", "_label", "_a", "_b", "_da", "_db", "_op", "_arg", "_seq",
                 "__dict__")
    __array_ufunc__ = None  # numpy defers to our operators: np.float64(2) * v is a Value

    def __init__(self, data: Any, label: str = "") -> None:
        self.data = _to_float(data)
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}")
        self.grad = 0.0
        if label:
            self._label = label
        self._a = self._b = self._op = None
        self._seq = _next_seq()

    # -- introspection (viz reads these) -------------------------------------------
    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the op that made this node, in order (empty for a leaf)."""
        return _parents(self)

    @property
    def op(self) -> str:
        """Name of the op that made this node (a key of ``RULES``), or '' for a leaf."""
        return "" if self._op is None else self._op.name

    @property
    def rule(self) -> Rule | None:
        """The derivative rule of the op that made this node, or None for a leaf."""
        return self._op

    @property
    def arg(self) -> Any:
        """The op's constant parameter (exponent, alpha, bounds), or None."""
        return getattr(self, "_arg", None)

    @property
    def label(self) -> str:
        """A name for pictures and messages; '' unless given."""
        return getattr(self, "_label", "")

    @label.setter
    def label(self, text: str) -> None:
        self._label = text

    @property
    def local_grads(self) -> tuple[float, ...]:
        """``d self / d parent`` for each parent, saved at forward time."""
        b = self._b
        if self._a is None:
            return ()
        if b is None:
            return (self._da,)
        if b is _MANY:
            d = self._da
            return (d,) * len(self._a) if type(d) is float else d
        return (self._da, self._db)

    @property
    def is_leaf(self) -> bool:
        """True for a node with no parents (an input, a parameter or a constant)."""
        return self._a is None

    def item(self) -> float:
        """The number, as ``tensor.item()``."""
        return self.data

    def __float__(self) -> float:
        return self.data

    def __bool__(self) -> bool:
        # As a number (and a PyTorch scalar): `if loss:` is False for 0.0. The graph is
        # not consulted, and control flow on it is not recorded (see the tape's docs).
        return self.data != 0.0

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self._op is not None:
            parts.append(f"op={self._op.name!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    # -- comparisons look at data; equality stays identity ----------------------------
    def __lt__(self, other: Any) -> bool:
        return self.data < _cmp(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _cmp(other)

    def __gt__(self, other: Any) -> bool:
        return self.data > _cmp(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _cmp(other)

    # -- arithmetic ---------------------------------------------------------------------
    def __add__(self, other: Any) -> Value:
        """``self + other``; d/da = 1, d/db = 1."""
        if type(other) is not Value:
            other = _operand(other)
            if other is None:
                return NotImplemented
        # _node2(_ADD, self, other, out) written out: + is among the hottest ops, and
        # a Python call costs about a tenth of building a node.
        out = self.data + other.data
        node = _new(Value)
        node.data = out
        node.grad = 0.0
        node._op = _ADD
        node._seq = _next_seq()
        if not _isfinite(out):
            _nonfinite(_ADD, (self, other), out, 3)
        if recording():
            node._a = self
            node._b = other
            node._da, node._db = _ADD.const or _ADD.local(FLOAT, out, self.data, other.data, None)
        else:
            node._a = node._b = None
        return node

    def __radd__(self, other: Any) -> Value:
        other = _operand(other)
        if other is None:
            return NotImplemented
        return _node2(_ADD, other, self, other.data + self.data)

    def __sub__(self, other: Any) -> Value:
        """``self - other``; d/da = 1, d/db = -1."""
        if type(other) is not Value:
            other = _operand(other)
            if other is None:
                return NotImplemented
        return _node2(_SUB, self, other, self.data - other.data)

    def __rsub__(self, other: Any) -> Value:
        other = _operand(other)
        if other is None:
            return NotImplemented
        return _node2(_SUB, other, self, other.data - self.data)

    def __mul__(self, other: Any) -> Value:
        """``self * other``; d/da = b, d/db = a."""
        if type(other) is not Value:
            other = _operand(other)
            if other is None:
                return NotImplemented
        # _node2(_MUL, self, other, out) written out: * is among the hottest ops, and
        # a Python call costs about a tenth of building a node.
        a, b = self.data, other.data
        out = a * b
        node = _new(Value)
        node.data = out
        node.grad = 0.0
        node._op = _MUL
        node._seq = _next_seq()
        if not _isfinite(out):
            _nonfinite(_MUL, (self, other), out, 3)
        if recording():
            node._a = self
            node._b = other
            local = _MUL.local  # (mul has no const) fetched, then called: see relu
            node._da, node._db = local(FLOAT, out, a, b, None)
        else:
            node._a = node._b = None
        return node

    def __rmul__(self, other: Any) -> Value:
        other = _operand(other)
        if other is None:
            return NotImplemented
        return _node2(_MUL, other, self, other.data * self.data)

    def __truediv__(self, other: Any) -> Value:
        """``self / other`` (IEEE: x/0 is +-inf, 0/0 is nan); d/da = 1/b, d/db = -a/b^2."""
        if type(other) is not Value:
            other = _operand(other)
            if other is None:
                return NotImplemented
        return _node2(_DIV, self, other, kernels.div(self.data, other.data))

    def __rtruediv__(self, other: Any) -> Value:
        other = _operand(other)
        if other is None:
            return NotImplemented
        return _node2(_DIV, other, self, kernels.div(other.data, self.data))

    def __pow__(self, other: Any) -> Value:
        """``self ** other``; a constant exponent c gives d/dx = c x^(c-1).

        With a Value exponent b: d/da = b a^(b-1), d/db = a^b log a. A negative base
        with a non-integer exponent gives nan, never a complex number; 0 ** 0 = 1 with
        derivative 0 for base and exponent.
        """
        if isinstance(other, Value):
            return _node2(_POW, self, other, kernels.pow(self.data, other.data))
        cls = type(other)
        if cls is float:
            c = other
        elif cls is not int and (isinstance(other, bool)
                                 or not isinstance(other, (numbers.Real, decimal.Decimal))):
            return NotImplemented
        else:
            c = _constant(other, "exponent")
        return _node1(_POWC, self, kernels.pow(self.data, c), c)

    def __rpow__(self, other: Any) -> Value:
        """``c ** self`` for a constant c; d/dx = c^x log c."""
        cls = type(other)
        if cls is float:
            c = other
        elif cls is not int and (isinstance(other, bool)
                                 or not isinstance(other, (numbers.Real, decimal.Decimal))):
            return NotImplemented
        else:
            c = _constant(other, "base")
        return _node1(_RPOW, self, kernels.pow(c, self.data), c)

    def __neg__(self) -> Value:
        """``-self``; d/dx = -1."""
        return _node1(_NEG, self, -self.data, None)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        """``|self|``; d/dx = sign(x), 0 at 0 (PyTorch's choice; JAX uses 1)."""
        return _node1(_ABS, self, kernels._fabs(self.data), None)

    # -- functions ------------------------------------------------------------------------
    def exp(self) -> Value:
        """``e ** x`` (inf above ~709.78); d/dx = e^x."""
        return _node1(_EXP, self, kernels.exp(self.data), None)

    def log(self) -> Value:
        """Natural log: log(0) = -inf, log(x<0) = nan; d/dx = 1/x."""
        return _node1(_LOG, self, kernels.log(self.data), None)

    def sqrt(self) -> Value:
        """Square root: sqrt(x<0) = nan; d/dx = 1/(2 sqrt x), inf at 0."""
        return _node1(_SQRT, self, kernels.sqrt(self.data), None)

    def tanh(self) -> Value:
        """Hyperbolic tangent (saturates to +-1); d/dx = 1 - tanh(x)^2."""
        return _node1(_TANH, self, kernels.tanh(self.data), None)

    def sigmoid(self) -> Value:
        """Logistic ``1/(1+e^-x)``, stable at +-1000; d/dx = s(x)(1 - s(x))."""
        return _node1(_SIGMOID, self, kernels.sigmoid(self.data), None)

    def relu(self) -> Value:
        """``max(x, 0)``; d/dx = 1 for x > 0, else 0 (0 at the kink)."""
        # _node1(_RELU, self, kernels.relu(x), None) written out: relu follows every
        # hidden unit, and each Python call costs about a tenth of the op.
        x = self.data
        out = 0.0 if x <= 0.0 else x  # kernels.relu: nan passes (nan <= 0 is False)
        node = _new(Value)
        node.data = out
        node.grad = 0.0
        node._op = _RELU
        node._b = None
        node._seq = _next_seq()
        if not _isfinite(out):
            _nonfinite(_RELU, (self,), out, 3)
        if recording():
            node._a = self
            # relu has no const. Fetching ``local`` first and calling it then is ~10 ns
            # faster than ``_RELU.local(...)``: CPython 3.11 specialises loading a slot
            # as an attribute, not as a method.
            local = _RELU.local
            (node._da,) = local(FLOAT, out, x, None)
        else:
            node._a = None
        return node

    def leaky_relu(self, alpha: float = 0.01) -> Value:
        """``x`` if x > 0 else ``alpha * x``; d/dx = 1 or alpha (alpha at 0)."""
        a = _param(alpha, "alpha")
        return _node1(_LEAKY, self, kernels.leaky_relu(self.data, a), a)

    def elu(self, alpha: float = 1.0) -> Value:
        """``x`` if x > 0 else ``alpha (e^x - 1)``; d/dx = 1 or alpha e^x."""
        a = _param(alpha, "alpha")
        return _node1(_ELU, self, kernels.elu(self.data, a), a)

    def softplus(self) -> Value:
        """``log(1 + e^x)`` without overflow; d/dx = sigmoid(x)."""
        return _node1(_SOFTPLUS, self, kernels.softplus(self.data), None)

    def sin(self) -> Value:
        """Sine; d/dx = cos x."""
        return _node1(_SIN, self, kernels.sin(self.data), None)

    def cos(self) -> Value:
        """Cosine; d/dx = -sin x."""
        return _node1(_COS, self, kernels.cos(self.data), None)

    def clamp(self, lo: float = -math.inf, hi: float = math.inf) -> Value:
        """``x`` limited to [lo, hi]; d/dx = 1 on [lo, hi] (bounds included), else 0."""
        bounds = (_param(lo, "lo", finite=False), _param(hi, "hi", finite=False))
        if not bounds[0] <= bounds[1]:
            raise ValueError(f"clamp needs lo <= hi, got lo={lo!r}, hi={hi!r}")
        return _node1(_CLAMP, self, kernels.clamp(self.data, bounds), bounds)

    def swish(self) -> Value:
        """``x * sigmoid(x)`` (SiLU), a composition of two primitives."""
        return self * self.sigmoid()

    @staticmethod
    def sum(terms: Iterable[Any]) -> Value:
        """One node for ``t1 + t2 + ... + tn``; d/dti = 1. An empty sum is 0.

        Fewer nodes than the builtin ``sum()`` (which chains n additions), so
        pictures stay small and backward is faster.
        """
        xs = tuple(terms) if isinstance(terms, (list, tuple)) else None
        if xs is not None:
            # The common case, all items exactly Values, checked while reading their data
            # (``__class__`` is what isinstance consults too); anything else goes through
            # _values, which converts numbers and names a bad item.
            datas = [x.data for x in xs if x.__class__ is Value]
        if xs is None or len(datas) != len(xs):
            xs = _values(terms if xs is None else xs, "Value.sum")
            datas = [x.data for x in xs]
        if not xs:
            return _leaf(0.0)
        return _node_n(_SUM, xs, datas, kernels.fsum(datas))

    @staticmethod
    def max(items: Iterable[Any]) -> Value:
        """Largest of the items (nan if any is nan); the gradient goes to the maximum,
        shared equally among ties."""
        xs = _values(items, "Value.max")
        if not xs:
            raise ValueError("Value.max needs at least one item, got an empty iterable")
        datas = [x.data for x in xs]
        return _node_n(_MAX, xs, datas, kernels.maximum_many(datas))

    # -- gradients ---------------------------------------------------------------------------
    def backward(self, grad: float | None = 1.0) -> None:
        """Backpropagate from this node: every node's ``.grad`` becomes d self / d node.

        Leaves (inputs, parameters) *accumulate* (``+=``, as in PyTorch), so a second
        call doubles their gradients; interior nodes are recomputed on every call.
        ``grad`` is the seed, d(final)/d(self); it must be a finite real number (None
        means 1.0, as in PyTorch).
        Backward uses the local derivatives saved at forward time, so changing a
        node's ``.data`` afterwards does not change this graph's gradients.
        """
        seed = 1.0 if grad is None else _to_float(grad, "backward(grad=...)")
        if not _isfinite(seed):
            raise ValueError(f"backward(grad=...) needs a finite seed, got {seed!r}")
        if self._a is None:
            if self._op is not None:
                raise RuntimeError(
                    f"backward: {_describe(self)} was computed under no_grad and has no graph"
                )
            self.grad += seed
            return
        order = _zeroed_interior_nodes(self)
        self.grad = seed
        if get_mode() & ANOMALY:
            _backward_checked(order)
            return
        # A local derivative of exactly 0 is a structural zero: its input gets nothing,
        # whatever g is (0 * inf would be nan). `if d:` is true for nan.
        for node in order:
            g = node.grad
            b = node._b
            if b is None:
                d = node._da
                if d:
                    node._a.grad += d * g
            elif b is _MANY:
                ds = node._da
                if type(ds) is float:  # every input has the same local derivative
                    contribution = ds * g
                    for parent in node._a:
                        parent.grad += contribution
                else:
                    for parent, d in zip(node._a, ds):
                        if d:
                            parent.grad += d * g
            else:
                d = node._da
                if d:
                    node._a.grad += d * g
                d = node._db
                if d:
                    b.grad += d * g

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0.0 on this node and on every node it was computed from."""
        self.grad = 0.0
        stack = [self]
        seen = {self}
        while stack:
            for parent in _parents(stack.pop()):
                if parent not in seen:
                    seen.add(parent)
                    parent.grad = 0.0
                    stack.append(parent)

    def detach(self) -> Value:
        """A new leaf with the same number: a constant that blocks gradient flow."""
        return _leaf(self.data, self.label)

    # -- copying and pickling -----------------------------------------------------------------
    # Python's default would recurse from a node into its parents, one level per op, and
    # a 400-op chain exceeds the recursion limit. So the first node of a graph to reach the
    # pickler (or deepcopy) lists all its ancestors, oldest first, ahead of itself; each
    # ancestor then refers only to parents already written (in the memo), and the depth of
    # recursion stays constant. Identity is kept by the pickler's own memo: a graph pickled
    # together with its parameters still shares them.
    def __reduce_ex__(self, protocol: Any) -> tuple:
        pending = _pending_nodes()
        if pending.pop(id(self), None) is self or self._a is None:
            return (_restore, (_state(self),))
        ancestors = _ancestors_oldest_first(self)
        pending.clear()  # (marks left by a pickling that failed half-way)
        for node in ancestors:
            pending[id(node)] = node
        return (_restore_after, ((*ancestors, _END_OF_ANCESTORS), _state(self)))

    def __copy__(self) -> Value:
        return _restore(_state(self))


class _Local(threading.local):
    def __init__(self) -> None:
        self.pending: dict[int, Value] = {}


_LOCAL = _Local()


def _pending_nodes() -> dict[int, Value]:
    """Nodes (by id) whose ancestors are already ahead of them in this thread's pickle."""
    return _LOCAL.pending


class _EndOfAncestors:
    """Written after a node's ancestors: by then each has been written, so the marks go."""

    def __reduce__(self) -> str:
        _LOCAL.pending.clear()
        return "_END_OF_ANCESTORS"

    def __deepcopy__(self, memo: dict) -> _EndOfAncestors:
        _LOCAL.pending.clear()
        return self


_END_OF_ANCESTORS = _EndOfAncestors()


def _ancestors_oldest_first(root: Value) -> list[Value]:
    seen = {root}
    stack = [root]
    while stack:
        for parent in _parents(stack.pop()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    seen.discard(root)
    return sorted(seen, key=_by_creation)


def _state(node: Value) -> tuple:
    user = getattr(node, "__dict__", None) or None
    return (node.data, node.grad, node.label, node._op, _parents(node), node.local_grads,
            node.arg, user)


def _restore(state: tuple) -> Value:
    """A node rebuilt from :func:`_state`; its parents already exist (they are older)."""
    data, grad, label, op, parents, local, arg, user = state
    node = _leaf(data, label)  # a fresh creation number, after its parents'
    node.grad = grad
    node._op = op
    if arg is not None:
        node._arg = arg
    if len(parents) == 1:
        node._a, (node._da,) = parents[0], local
    elif len(parents) == 2 and op.arity == 2:
        node._a, node._b = parents
        node._da, node._db = local
    elif parents:
        node._a, node._b = parents, _MANY
        node._da = local[0] if op.const else local
    if user:
        node.__dict__.update(user)
    return node


def _restore_after(ancestors: tuple, state: tuple) -> Value:
    return _restore(state)


def _cmp(other: Any) -> Any:
    if isinstance(other, Value):
        return other.data
    if isinstance(other, bool) or not isinstance(other, (numbers.Real, decimal.Decimal)):
        raise TypeError(f"cannot compare Value with {type(other).__name__}")
    # Python compares a float with an int, Fraction or Decimal exactly (no overflow for
    # 10**400); everything else real is converted.
    return other if isinstance(other, (int, numbers.Rational, decimal.Decimal)) else float(other)


def _param(x: Any, name: str, finite: bool = True) -> float:
    value = _to_float(x, name)
    if finite and not _isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if not finite and value != value:
        raise ValueError(f"{name} must not be nan")
    return value


def _parents(node: Value) -> tuple[Value, ...]:
    a, b = node._a, node._b
    if a is None:
        return ()
    if b is None:
        return (a,)
    if b is _MANY:
        return a
    return (a, b)


def _interior_nodes(root: Value) -> list[Value]:
    """Nodes with parents reachable from ``root``, newest first (a reverse topological order).

    For ``grad`` and ``backward_order``, which must not touch ``.grad``; ``backward``
    uses the faster :func:`_zeroed_interior_nodes`.
    """
    seen = {root}
    order = [root]
    for node in order:  # the list grows while it is walked: a breadth-first search
        seq = node._seq
        for parent in _parents(node):
            if parent._a is not None:
                # Every edge into an interior node is checked, also into one already
                # seen: a cycle can close on a visited node (even the root), and its
                # back-edge is the only edge whose parent is not older than its child.
                if parent._seq >= seq:
                    _cycle(parent, node)
                if parent not in seen:
                    seen.add(parent)
                    order.append(parent)
    order.sort(key=_by_creation, reverse=True)
    return order


def _zeroed_interior_nodes(root: Value) -> list[Value]:
    """``_interior_nodes(root)``, and every node in it gets ``.grad = 0.0`` (backward's start).

    The walk is written out per node layout, and it marks a node as seen by that very
    zeroing: ``zero`` is a new float object (CPython has no float cache, and a test
    checks so), so ``node.grad is zero`` holds exactly for the nodes this walk has
    reached. That is cheaper than a set of seen nodes plus a second loop to zero them.
    Contributions then add onto ``zero`` as onto any 0.0.
    """
    zero = float(0)
    root.grad = zero
    order = [root]
    add = order.append
    last = root._seq  # the creation number of the node added last
    shuffled = False  # whether the nodes were added out of newest-first order
    for node in order:  # the list grows while it is walked: a breadth-first search
        seq = node._seq
        b = node._b
        # Every edge into an interior node is checked for a cycle (see _interior_nodes).
        if b is _MANY:
            for parent in node._a:
                if parent._a is not None:
                    s = parent._seq
                    if s >= seq:
                        _cycle(parent, node)
                    if parent.grad is not zero:
                        parent.grad = zero
                        add(parent)
                        if s > last:
                            shuffled = True
                        last = s
            continue
        a = node._a
        if a._a is not None:
            s = a._seq
            if s >= seq:
                _cycle(a, node)
            if a.grad is not zero:
                a.grad = zero
                add(a)
                if s > last:
                    shuffled = True
                last = s
        if b is not None and b._a is not None:
            s = b._seq
            if s >= seq:
                _cycle(b, node)
            if b.grad is not zero:
                b.grad = zero
                add(b)
                if s > last:
                    shuffled = True
                last = s
    # A chain (an unrolled loop) is found newest first already: then there is nothing
    # to sort, and the sort's key calls would be a tenth of backward.
    if shuffled:
        order.sort(key=_by_creation, reverse=True)
    return order


def backward_order(root: Value) -> list[Value]:
    """The nodes ``root.backward()`` visits, in its order (``root`` first).

    Only nodes with parents are listed; leaves receive gradients but have nothing to
    pass on. Viz's step-through and the tape replay follow this order.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_order needs a Value, got {type(root).__name__}")
    return [] if root._a is None else _interior_nodes(root)


def _cycle(parent: Value, node: Value) -> None:
    raise ValueError(
        f"cycle in the graph: {_describe(parent)} is an input of {_describe(node)} "
        "but was created after it (was the graph edited?)"
    )


def _backward_checked(order: list[Value]) -> None:
    """The backward loop of anomaly mode: every contribution must be finite."""
    for node in order:
        g = node.grad
        for i, (parent, d) in enumerate(zip(_parents(node), node.local_grads)):
            if not d:
                continue  # a structural zero (see Value.backward)
            contribution = d * g
            if not _isfinite(contribution):
                raise_anomaly(node, i, parent, d, g, contribution)
            parent.grad += contribution


def raise_anomaly(node: Value, i: int, parent: Value, d: Any, g: Any, contribution: Any) -> None:
    """Raise anomaly mode's FloatingPointError for a non-finite gradient contribution."""
    raise FloatingPointError(
        f"backward of {node._op.name} ({_describe(node)}) gave {_number(contribution)!r} "
        f"for its input {i} ({_describe(parent)}): local derivative {_number(d)!r} "
        f"times upstream gradient {_number(g)!r}"
    )


def _number(x: Any) -> float:
    return x.data if isinstance(x, Value) else x


class _ValueBackend:
    """The rule backend of ``create_graph``: local derivatives built as Values.

    Rules may mix constants (floats) with Values, so each function accepts both.
    """

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        if isinstance(a, Value) or isinstance(b, Value):
            return a / b
        return kernels.div(a, b)

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        if isinstance(a, Value) or isinstance(b, Value):
            return a ** b
        return kernels.pow(a, b)

    @staticmethod
    def exp(x: Any) -> Any:
        return x.exp() if isinstance(x, Value) else kernels.exp(x)

    @staticmethod
    def log(x: Any) -> Any:
        return x.log() if isinstance(x, Value) else kernels.log(x)

    @staticmethod
    def sigmoid(x: Any) -> Any:
        return x.sigmoid() if isinstance(x, Value) else kernels.sigmoid(x)

    @staticmethod
    def sin(x: Any) -> Any:
        return x.sin() if isinstance(x, Value) else kernels.sin(x)

    @staticmethod
    def cos(x: Any) -> Any:
        return x.cos() if isinstance(x, Value) else kernels.cos(x)

    @staticmethod
    def sign(x: Any) -> float:
        return kernels.sign(x.data if isinstance(x, Value) else x)

    where = staticmethod(kernels.where)

    @staticmethod
    def raw(x: Any) -> Any:
        return x.data if isinstance(x, Value) else x


VALUES = _ValueBackend()


def value_local_grads(node: Value) -> tuple:
    """``node``'s local derivatives as Values built from its parents (for ``create_graph``)."""
    rule = node._op
    b = node._b
    if b is None or b is _MANY:  # one input, or the tuple of an n-input op
        return rule.local(VALUES, node, node._a, node.arg)
    return rule.local(VALUES, node, node._a, b, None)


def as_values(items: Sequence[Any], what: str) -> tuple[Value, ...]:
    """Validate a sequence of Values (a set is refused: its order is arbitrary)."""
    if isinstance(items, (set, frozenset)):
        raise TypeError(f"{what} must be an ordered sequence, got a set")
    if isinstance(items, Value):
        items = (items,)
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"{what} must be a sequence of Values, got {type(items).__name__}")
    out = tuple(items)
    for i, item in enumerate(out):
        if not isinstance(item, Value):
            raise TypeError(f"{what}[{i}] is {type(item).__name__}, not a Value")
    return out
