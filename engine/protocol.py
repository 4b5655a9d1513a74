"""What makes a Value a well-behaved Python object, apart from autodiff.

:func:`add_protocol` gives ``Value`` comparisons that look at ``data`` (``==`` stays
identity, so Values can be dict keys), ``float()``, ``bool()``, ``format()``,
``item()``, a ``label``, a ``repr``, ``detach``, ``zero_grad``, ``swish`` and copying and
pickling of graphs of any depth (see ``copying.py``). They are copied onto the class
rather than inherited: a base class made the engine's hot loops slower (8% of a step).
"""

from __future__ import annotations

import decimal
import numbers
import operator
from collections.abc import Callable
from typing import Any


class Protocol:
    """The methods :func:`add_protocol` gives :class:`~chainrule.engine.Value`."""

    data: float

    @property
    def label(self) -> str:
        """A name for pictures and messages; '' unless given."""
        return getattr(self, "_label", "")

    @label.setter
    def label(self, text: str) -> None:
        self._label = text

    def __repr__(self) -> str:
        op = f", op={self._op.name!r}" if self._op is not None else ""
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{op}{label})"

    def swish(self) -> Any:
        """``x * sigmoid(x)`` (SiLU): a composition of two ops of the table."""
        return self * self.sigmoid()

    def detach(self) -> Any:
        """A new leaf with the same number: a constant that blocks gradient flow."""
        from .value import leaf

        return leaf(self.data, self.label)

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0.0 on this node and on every node it was computed from."""
        from .walk import interior_nodes

        self.grad = 0.0
        for node in interior_nodes([self], zero=True):
            for parent in node.parents:
                parent.grad = 0.0

    def __reduce_ex__(self, protocol: Any) -> tuple:
        from . import copying

        return copying.reduce(self)  # graphs of any depth

    def __copy__(self) -> Any:
        from . import copying

        return copying.shallow(self)

    def item(self) -> float:
        """The number, as ``tensor.item()``."""
        return self.data

    def __float__(self) -> float:
        return self.data

    def __bool__(self) -> bool:  # as a number (and a PyTorch scalar): False at 0.0
        return self.data != 0.0

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    def __pos__(self) -> Any:
        return self


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Protocol, Any], bool]:
    def compare(self: Protocol, other: Any) -> bool:
        if hasattr(other, "_op"):  # a Value
            return op(self.data, other.data)
        if isinstance(other, bool) or not isinstance(other, (numbers.Real, decimal.Decimal)):
            raise TypeError(f"cannot compare Value with {type(other).__name__}")
        # Python compares a float with an int, Fraction or Decimal exactly (10**400 too).
        exact = isinstance(other, (int, numbers.Rational, decimal.Decimal))
        return op(self.data, other if exact else float(other))

    compare.__name__ = f"__{op.__name__}__"
    return compare


for _op in (operator.lt, operator.le, operator.gt, operator.ge):
    setattr(Protocol, f"__{_op.__name__}__", _compare(_op))


def add_protocol(cls: type) -> None:
    """Give ``cls`` (Value) the methods of :class:`Protocol`."""
    for name, member in vars(Protocol).items():
        if not name.startswith("__") or name in _DUNDERS:
            setattr(cls, name, member)


_DUNDERS = {"__float__", "__bool__", "__format__", "__pos__", "__lt__", "__le__", "__gt__",
            "__ge__", "__repr__", "__reduce_ex__", "__copy__"}
