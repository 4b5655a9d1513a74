"""chainrule.exercises: check a student's own autodiff engine, and exercises to assign.

:func:`check_engine` points chainrule's rule table and reference backward at a
micrograd-style ``Value`` class and says which op is wrong, how, and on which smallest
expression, with a picture of that graph. ``chainrule check FILE.py:NAME`` does the same
from the command line. Exercise notebooks in nbgrader's format live in the repository's
``assignments/`` folder.

Example:
    >>> from micrograd.engine import Value          # doctest: +SKIP
    >>> report = check_engine(Value)                # doctest: +SKIP
    >>> report.ok, report.skipped[:3]               # doctest: +SKIP
    (True, ['pow', 'rpow', 'exp'])
"""

from __future__ import annotations

import time
from typing import Any

from chainrule.engine.checks import number

from .checks import CHECKED_OPS, CHECKS
from .judge import KINDS, Judge
from .report import EngineReport, Failure, build_report
from .runner import PER_CHECK, resolve_isolation, run_checks
from .submission import SubmissionError, load_class

__all__ = [
    "CHECKED_OPS",
    "KINDS",
    "EngineReport",
    "Failure",
    "SubmissionError",
    "check_engine",
    "load_class",
]


def check_engine(cls: Any, *, timeout: float = 5.0, isolation: str = "auto",
                 name: str | None = None) -> EngineReport:
    """Check a micrograd-style ``Value`` class op by op against chainrule.

    ``cls(1.5)`` must make a leaf with ``.data`` and ``.grad``; results of ops need a
    ``backward()``. Each op the class has (``+ - * / **``, unary ``-``, ``abs``, and the
    methods ``exp log sqrt tanh sigmoid relu softplus sin cos``) is evaluated on small
    expressions, smallest first, and its value and gradients compared with chainrule's:
    forward values, local derivatives, numbers on the left (``2 - x``), gradients that
    must add up (``x + x``), backward's seed and its order (diamond graphs). Ops the
    class lacks are listed in ``report.skipped``, not counted as failures.

    The student's code never runs in this flow of control: by default it runs in a
    forked child process (``isolation="fork"``, where the platform has ``os.fork``),
    otherwise here under a trace-based deadline (``"inline"``). Either way the whole
    check takes at most ``timeout`` seconds (one expression at most 1 s), survives
    code that raises, loops or returns garbage, and never changes ``cls``.

    Args:
        cls: the class (or any callable that makes a leaf from a float).
        timeout: seconds for all checks together.
        isolation: ``"auto"``, ``"fork"`` or ``"inline"``.
        name: what the report calls the engine (default: the class's name).

    Returns:
        An :class:`EngineReport`: ``ok``, ``failures`` (each with ``op``, ``kind``,
        ``message``, ``example``), ``skipped``, ``str(report)``, ``report.draw()``.

    Example:
        >>> class Value:                     # forgets to add up: x.grad = ..., not +=
        ...     def __init__(self, data, children=()):
        ...         self.data, self.grad, self._prev = data, 0.0, children
        ...         self._backward = lambda: None
        ...     def __add__(self, other):
        ...         out = Value(self.data + other.data, (self, other))
        ...         def _backward():
        ...             self.grad = out.grad
        ...             other.grad = out.grad
        ...         out._backward = _backward
        ...         return out
        ...     def backward(self):
        ...         self.grad = 1.0
        ...         self._backward()
        >>> report = check_engine(Value)
        >>> [(f.op, f.kind, f.example) for f in report.failures]
        [('add', 'accumulation', 'x + x')]
    """
    if not callable(cls):
        raise TypeError(f"check_engine needs a class such as Value, got {type(cls).__name__}")
    timeout = number(timeout, "timeout", low=0.0, low_open=True, type_error=ValueError,
                     message="{name} must be a positive number of seconds, got {value}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    mode = resolve_isolation(isolation)
    label = name or getattr(cls, "__qualname__", None) or getattr(cls, "__name__", repr(cls))
    start = time.monotonic()
    checks = list(CHECKS)
    results = run_checks(cls, checks, timeout=float(timeout), isolation=mode,
                         per_check=min(PER_CHECK, float(timeout)))
    verdicts = Judge(checks, results).run()
    return build_report(str(label), verdicts, time.monotonic() - start, mode)
