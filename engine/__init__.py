"""chainrule.engine: scalar reverse-mode automatic differentiation.

Example:
    >>> from chainrule.engine import Value
    >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    >>> q = x + y
    >>> f = q * z
    >>> f.backward()
    >>> (f.data, x.grad, y.grad, z.grad, q.grad)
    (-12.0, -4.0, -4.0, 3.0, -4.0)
"""

from .functional import GradcheckError, grad, gradcheck, hessian
from .modes import (
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .rules import RULES, Rule
from .tape import Tape, TraceError
from .value import Value, backward_order

__all__ = [
    "RULES",
    "GradcheckError",
    "Rule",
    "Tape",
    "TraceError",
    "Value",
    "backward_order",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "hessian",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
