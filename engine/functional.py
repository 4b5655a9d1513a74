"""Gradients as return values: ``grad``, ``hessian`` and ``gradcheck``.

``grad`` never touches any ``.grad`` attribute: it keeps gradients in a dict, so it is
safe to call in the middle of a training step. With ``create_graph=True`` the local
derivatives are rebuilt from the rule table as Values (instead of the floats saved at
forward time), so the gradients it returns are graphs themselves and can be
differentiated again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from . import kernels
from .checks import real
from .modes import is_anomaly_enabled, no_grad, quiet
from .value import Value, leaf
from .walk import interior_nodes, propagate


def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list[Value]:
    """Gradients of ``output`` with respect to each of ``inputs``, as a list of Values.

    No ``.grad`` is read or written. An input that ``output`` does not depend on gets
    0.0. With ``create_graph=True`` the results are differentiable, so
    ``grad(grad(f, [x], create_graph=True)[0], [x])`` is the second derivative.

    Example:
        >>> x = Value(3.0)
        >>> (dx,) = grad(x ** 3, [x], create_graph=True)
        >>> dx.data, grad(dx, [x])[0].data
        (27.0, 18.0)
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__}")
    inputs = as_values(inputs, "grad: inputs")
    if not isinstance(create_graph, bool):
        raise TypeError(f"grad: create_graph must be a bool, got {type(create_graph).__name__}")
    if output.is_leaf and output.rule is not None:
        raise RuntimeError(f"grad: the output ({output!r}) was computed under no_grad "
                           "and has no graph")
    order = interior_nodes([output])
    check = is_anomaly_enabled()
    if not create_graph:
        grads = propagate(order, {output: 1.0}, check=check)
        return [Value(grads.get(x, 0.0)) for x in inputs]
    # The derivative graph is built with grad mode on (even inside no_grad) and quiet:
    # the derivative graph of log at 0, say, holds an inf on purpose, and backward stays
    # silent. In anomaly mode the contributions are checked instead of every op.
    with quiet():
        grads = propagate(order, {output: leaf(1.0)}, local=graph_local_grads, check=check)
    return [g if (g := grads.get(x)) is not None else leaf(0.0) for x in inputs]


class _ValueBackend:
    """The rules' backend for ``create_graph``: local derivatives built as Values. Rules
    mix constants (floats) with Values, so each function accepts both."""

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        return a / b if type(a) is Value or type(b) is Value else kernels.div(a, b)

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return a ** b if type(a) is Value or type(b) is Value else kernels.pow(a, b)

    @staticmethod
    def raw(x: Any) -> Any:
        return x.data if type(x) is Value else x

    @staticmethod
    def sign(x: Any) -> float:
        return kernels.sign(x.data if type(x) is Value else x)

    where = staticmethod(kernels.where)


for _name in ("exp", "log", "sigmoid", "sin", "cos"):  # a Value's method, or the kernel
    setattr(_ValueBackend, _name, staticmethod(
        lambda x, _name=_name: getattr(x, _name)() if type(x) is Value
        else getattr(kernels, _name)(x)))

VALUES = _ValueBackend()
"""The Value backend of the rules (``create_graph``)."""


def graph_local_grads(node: Value) -> tuple:
    """``node``'s local derivatives as Values built from its parents (``create_graph``)."""
    rule = node.rule
    if rule.arity == 0:
        return tuple(rule.local(VALUES, node, node.parents, node.arg))
    return rule.local(VALUES, node, *node.parents, node.arg)


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


def hessian(fn: Callable[..., Value], inputs: Sequence[float]) -> list[list[float]]:
    """The matrix of second derivatives of ``fn`` at ``inputs`` (a few real numbers).

    ``fn`` takes one Value per input and returns a Value. Row i is the gradient of
    d fn / d x_i, computed by differentiating the gradient graph a second time.

    Example:
        >>> hessian(lambda x, y: x * x * y, [3.0, 2.0])
        [[4.0, 6.0], [6.0, 0.0]]
    """
    xs = _input_values(inputs, "hessian")
    out = _call(fn, xs, "hessian")
    first = grad(out, xs, create_graph=True)
    return [[g.data for g in grad(d, xs)] for d in first]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when an analytic gradient disagrees with the numeric one."""


def gradcheck(
    fn: Callable[..., Value],
    inputs: Sequence[float],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare backward's gradient of ``fn`` with central differences at ``inputs``.

    ``fn`` takes one Value per input and returns a Value; ``inputs`` are real numbers.
    Input i passes when ``|analytic - numeric| <= atol + rtol * |numeric|``, with
    ``numeric = (fn(x + eps e_i) - fn(x - eps e_i)) / (2 eps)``. On failure raises
    :class:`GradcheckError` (an AssertionError) with a table of every input, or
    returns False when ``raise_exception=False``.

    Example:
        >>> gradcheck(lambda x, y: (x * y).tanh(), [0.5, -1.5])
        True
    """
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        number = real(value, f"gradcheck {name}")
        if not math.isfinite(number) or number < 0 or (name == "eps" and number == 0):
            raise ValueError(f"gradcheck: {name} must be a finite number > 0, got {value!r}")
    xs = _input_values(inputs, "gradcheck")
    point = [x.data for x in xs]
    analytic = [g.data for g in grad(_call(fn, xs, "gradcheck"), xs)]
    rows = []
    ok_all = True
    for i, x in enumerate(point):
        numeric = (_evaluate(fn, point, i, x + eps) - _evaluate(fn, point, i, x - eps)) / (2 * eps)
        error = abs(analytic[i] - numeric)
        allowed = atol + rtol * abs(numeric)
        ok = error <= allowed  # False for nan, so a nan gradient fails
        ok_all = ok_all and ok
        rows.append((i, x, analytic[i], numeric, error, allowed, ok))
    if not ok_all and raise_exception:
        raise GradcheckError(_table(rows, eps))
    return ok_all


def _input_values(inputs: Sequence[float], what: str) -> list[Value]:
    if isinstance(inputs, (str, bytes, set, frozenset)) or not isinstance(inputs, Sequence):
        raise TypeError(f"{what}: inputs must be a sequence of real numbers, got "
                        f"{type(inputs).__name__}")
    if len(inputs) == 0:
        raise ValueError(f"{what}: inputs is empty")
    xs = []
    for i, x in enumerate(inputs):
        number = real(x, f"{what}: inputs[{i}]")
        if not math.isfinite(number):
            raise ValueError(f"{what}: inputs[{i}] must be finite, got {number!r}")
        xs.append(Value(number, label=f"x{i}"))
    return xs


def _call(fn: Callable[..., Value], xs: list[Value], what: str) -> Value:
    if not callable(fn):
        raise TypeError(f"{what}: fn must be callable, got {type(fn).__name__}")
    out = fn(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"{what}: fn must return a Value, got {type(out).__name__}")
    return out


def _evaluate(fn: Callable[..., Value], point: list[float], i: int, x: float) -> float:
    shifted = list(point)
    shifted[i] = x
    with no_grad():
        return _call(fn, [Value(v) for v in shifted], "gradcheck").data


def _table(rows: list[tuple[Any, ...]], eps: float) -> str:
    lines = [
        f"gradcheck failed (central differences, eps={eps:g}):",
        f"{'input':>5} {'value':>12} {'analytic':>14} {'numeric':>14} {'|error|':>10} "
        f"{'allowed':>10}  ok",
    ]
    for i, x, a, n, err, allowed, ok in rows:
        lines.append(f"{i:>5} {x:>12.6g} {a:>14.8g} {n:>14.8g} {err:>10.3g} {allowed:>10.3g}  "
                     f"{'yes' if ok else 'NO'}")
    return "\n".join(lines)


class Step(NamedTuple):
    """One node of a backward pass: ``node`` passes ``upstream`` to each of ``parents``,
    ``local[i] * upstream`` (``contributions[i]``); ``before`` and ``after`` are each
    parent's gradient around that addition.

    Example:
        >>> x = Value(3.0, label="x")
        >>> (step,) = backward_trace(x * x)[0]
        >>> step.upstream, step.local, step.contributions, step.after
        (1.0, (3.0, 3.0), (3.0, 3.0), (3.0, 6.0))
    """

    node: Value
    upstream: float
    parents: tuple[Value, ...]
    local: tuple[float, ...]
    contributions: tuple[float, ...]
    before: tuple[float, ...]
    after: tuple[float, ...]


def backward_order(root: Value) -> list[Value]:
    """The nodes ``root.backward()`` visits, in its order (``root`` first); leaves, which
    receive gradients but pass nothing on, are not listed.

    Example:
        >>> a, b = Value(2.0, label="a"), Value(-1.0, label="b")
        >>> q = a + b
        >>> q.label = "q"
        >>> f = q * a
        >>> f.label = "f"
        >>> [node.label for node in backward_order(f)]
        ['f', 'q']
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_order needs a Value, got {type(root).__name__}")
    return interior_nodes([root])


def backward_trace(root: Value, grad: float = 1.0) -> tuple[list[Step], dict[Value, float]]:
    """``root.backward(grad)`` step by step, on a private dict (the graph is not touched):
    each node's :class:`Step`, and the final gradient of every node (from zero).

    Example:
        >>> a, b = Value(2.0, label="a"), Value(-1.0, label="b")
        >>> steps, grads = backward_trace((a + b) * a)
        >>> [s.node.op for s in steps], grads[a], grads[b], a.grad
        (['mul', 'add'], 3.0, 2.0, 0.0)
    """
    steps: list[tuple] = []
    grads = propagate(backward_order(root), {root: grad}, steps=steps)
    return [Step(*step) for step in steps], grads
