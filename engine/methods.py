"""How the rows of the rule table become Value's methods and operators.

Each row names its ``method``: ``"__add__"`` (an operator, which also gets its reflected
twin ``__radd__``), ``"exp"`` (a method), ``"sum"`` (a static method of many inputs). A
row with an argument (``param``) gets a method that checks it (``x.leaky_relu(alpha)``);
``x ** c`` and ``c ** x`` take the number as the argument and leave ``a ** b`` with a
Value exponent to the two-input rule of the same operator.
"""

from __future__ import annotations

import decimal
import inspect
import numbers
from collections.abc import Callable
from typing import Any

from .rules import RULES, Rule
from .value import Value, _builder, _operator


def _with_argument(rule: Rule) -> Callable[..., Value]:
    build, param = _builder(rule), rule.param
    if rule.method.startswith("__"):  # x ** c, c ** x: the number c is the argument
        pair = next((r for r in RULES.values() if r.method == rule.method and r.arity == 2),
                    None)
        with_value = _operator(pair) if pair else lambda self, other: NotImplemented

        def op(self: Value, other: Any) -> Any:
            if isinstance(other, Value):  # a ** b: the two-input rule of the operator
                return with_value(self, other)
            if isinstance(other, bool) or not isinstance(other, (numbers.Real, decimal.Decimal)):
                return NotImplemented
            return build(self, param(other))

        return op

    def method(self: Value, *args: Any, **kwargs: Any) -> Value:
        return build(self, param(*args, **kwargs))

    method.__signature__ = inspect.Signature([  # for help() and the docs
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *inspect.signature(param).parameters.values()])
    return method


def install(rule: Rule) -> None:
    """Make ``rule`` an op of Value: its ``method`` (and an operator's reflected twin)."""
    made = (_operator(rule) if rule.arity == 2 else _builder(rule) if rule.param is None
            else _with_argument(rule))
    made.__doc__ = f"{rule.doc}; {rule.derivative}." if rule.doc else rule.derivative
    twin = "__r" + rule.method[2:]
    if rule.arity == 2 and not any(r.method == twin for r in RULES.values()):
        setattr(Value, twin, _operator(rule, reflected=True))
    setattr(Value, rule.method, staticmethod(made) if rule.arity == 0 else made)


def register(rule: Rule) -> Rule:
    """Add ``rule`` to the table and to Value: a new op (the README's "Adding an op").

    Example:
        >>> import numpy as np
        >>> cube = register(Rule("cube", "cube", 1, lambda x: x * x * x,
        ...                      lambda x, arg, out: np.power(x, 3, out=out),
        ...                      lambda xp, out, x, arg: (3.0 * x * x,), "d x^3/dx = 3 x^2"))
        >>> x = Value(2.0)
        >>> y = x.cube()
        >>> y.backward()
        >>> y.data, x.grad
        (8.0, 12.0)
        >>> del RULES["cube"], Value.cube   # (a throwaway op)
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"register needs a Rule, got {type(rule).__name__}")
    RULES[rule.name] = rule
    install(rule)
    return rule


def install_all() -> None:
    """Install every row of the table (at import)."""
    for rule in list(RULES.values()):
        install(rule)
