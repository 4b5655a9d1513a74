"""chainrule.engine: scalar reverse-mode automatic differentiation.

Where to start reading: ``value.py`` (a Value, and how an op makes a node), then
``rules.py`` (the table: each op's forward function and local derivatives side by
side), then ``walk.py`` (backward). The rest serves them: ``kernels.py`` and
``arrays.py`` (IEEE arithmetic on floats and numpy arrays), ``modes.py`` (no_grad,
anomaly mode), ``functional.py`` (grad, hessian, gradcheck), ``checks.py`` (argument
checks), ``copying.py`` (pickling deep graphs) and ``tape/`` (batched replay).

Example:
    >>> from chainrule.engine import Value
    >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    >>> q = x + y
    >>> f = q * z
    >>> f.backward()
    >>> (f.data, x.grad, y.grad, z.grad, q.grad)
    (-12.0, -4.0, -4.0, 3.0, -4.0)
"""

from .functional import (
    GradcheckError,
    Step,
    backward_order,
    backward_trace,
    grad,
    gradcheck,
    hessian,
)
from .methods import register
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
from .value import Value

__all__ = [
    "RULES",
    "GradcheckError",
    "Rule",
    "Step",
    "Tape",
    "TraceError",
    "Value",
    "backward_order",
    "backward_trace",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "hessian",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "register",
    "set_grad_enabled",
]
