"""Gradient-check overlay: is each leaf's autodiff gradient what a central difference says?

The function is recovered from the graph itself: :func:`replay` re-evaluates every op
with the engine's float kernels in topological order, so nudging one leaf by ``±eps``
and replaying gives ``(f(x+eps) - f(x-eps)) / 2eps`` without the user passing a
function. The autodiff gradient comes from the saved local derivatives (the steps of
one backward pass, simulated, so the graph's ``.grad`` need not be set and is never
changed). :func:`draw_gradcheck` colours each leaf green (agrees), red (disagrees) or
grey (non-finite), so a wrong derivative rule shows at a glance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chainrule.engine import Value
from chainrule.engine.checks import number

from ._io import format_number
from .graph import (
    DEFAULT_TIMEOUT,
    GREEN,
    GREY,
    RED,
    ChainruleDigraph,
    Style,
    build_dot,
    check_max_nodes,
    check_root,
    check_style_args,
    escape,
    topological_nodes,
)
from .steps import simulate_backward


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def replay(order: list[Value], nudged: dict[Value, float] | None = None) -> dict[Value, float]:
    """Recompute every node of ``order`` (inputs first) from its inputs' numbers.

    ``nudged`` overrides the numbers of some nodes (leaves, normally). Each op is
    replayed with its rule's forward function, the one the op itself called.
    """
    nudged = nudged or {}
    values: dict[Value, float] = {}
    for node in order:
        if node in nudged:
            values[node] = nudged[node]
            continue
        parents = node.parents
        if not parents:
            values[node] = node.data
            continue
        values[node] = node.rule.evaluate([values[p] for p in parents], node.arg)
    return values


@dataclass(frozen=True)
class LeafCheck:
    """The verdict for one leaf: autodiff gradient versus central difference.

    Example:
        >>> from chainrule.engine import Value
        >>> x = Value(0.5, label="x")
        >>> check = check_leaves(x * x)[0]
        >>> check.leaf.label, check.analytic, round(check.numeric, 6), check.ok
        ('x', 1.0, 1.0, True)
    """

    leaf: Value
    analytic: float
    numeric: float
    ok: bool | None
    """True (agrees), False (disagrees), None (a non-finite number, so it cannot tell)."""

    @property
    def status(self) -> str:
        """``"ok"``, ``"mismatch"`` or ``"non-finite"``."""
        return {True: "ok", False: "mismatch", None: "non-finite"}[self.ok]


def _positive(name: str, x: Any) -> float:
    return number(x, name, low=0.0, type_error=ValueError,
                  message="{name} must be a finite number >= 0, got {value}")


def check_leaves(root: Value, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                 max_nodes: int | None = 500) -> list[LeafCheck]:
    """Compare each leaf's autodiff gradient of ``root`` with a central difference.

    A leaf passes when ``|analytic - numeric| <= atol + rtol * |numeric|`` (the rule of
    :func:`chainrule.engine.gradcheck`). Leaves are listed in the graph's order.
    Raises ValueError when the graph is out of date (a leaf's ``.data`` was changed
    after the forward pass, so replaying it no longer gives the stored values).

    Example:
        >>> from chainrule.engine import Value
        >>> x = Value(0.5, label="x")
        >>> [c.status for c in check_leaves((x * x).sin())]
        ['ok']
    """
    check_root(root, "check_leaves")
    limit = check_max_nodes(max_nodes)
    eps = _positive("eps", eps)
    if eps == 0.0:
        raise ValueError("eps must be > 0, got 0")
    atol, rtol = _positive("atol", atol), _positive("rtol", rtol)
    order = topological_nodes(root, limit)
    base = replay(order)
    for node in order:
        if not _same(base[node], node.data):
            raise ValueError(
                f"the graph is out of date: a node holds {node.data!r} but its inputs now "
                f"give {base[node]!r} (was a leaf's .data changed after the forward pass, "
                "e.g. by an optimizer step?); build the graph again"
            )
    _, grads = simulate_backward(root)
    results = []
    for leaf in order:
        if leaf.parents:
            continue
        x = leaf.data
        up = replay(order, {leaf: x + eps})[root]
        down = replay(order, {leaf: x - eps})[root]
        numeric = (up - down) / (2.0 * eps)
        analytic = grads.get(leaf, 0.0)
        if not (math.isfinite(numeric) and math.isfinite(analytic)):
            ok = None
        else:
            ok = abs(analytic - numeric) <= atol + rtol * abs(numeric)
        results.append(LeafCheck(leaf, analytic, numeric, ok))
    return results


_FILL = {True: "#dafbe1", False: "#ffebe9", None: "#eaeef2"}
_PEN = {True: GREEN, False: RED, None: GREY}
_MARK = {True: "✓ matches", False: "✗ MISMATCH", None: "? non-finite"}


def draw_gradcheck(
    root: Value,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    rankdir: str = "LR",
    precision: int = 4,
    max_nodes: int | None = 500,
    edge_labels: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ChainruleDigraph:
    """The graph of ``root`` with every leaf coloured by its gradient check.

    Green: the autodiff gradient agrees with the central difference; red: it does not
    (a wrong derivative rule upstream); grey: a non-finite number, cannot tell. Each
    leaf also shows the numeric estimate. The gradients drawn are those of one backward
    pass from ``root`` (simulated; the graph's ``.grad`` is not changed).

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(0.5, label="x"), Value(-1.5, label="y")
        >>> dot = draw_gradcheck((x * y).tanh())
        >>> "2 of 2 leaves agree" in dot.source
        True
    """
    check_style_args(rankdir, precision, timeout)
    checks = check_leaves(root, eps=eps, atol=atol, rtol=rtol, max_nodes=max_nodes)
    order = topological_nodes(root, check_max_nodes(max_nodes))
    _, grads = simulate_backward(root)
    bad = sum(1 for c in checks if c.ok is False)
    title = (f"gradient check: {len(checks) - bad} of {len(checks)} leaves agree with "
             "central differences" + (f", {bad} DO NOT" if bad else ""))
    style = Style(rankdir=rankdir, show_grad=True, edge_labels=edge_labels,
                  precision=precision, title=title, timeout=timeout,
                  grad_of=lambda node: grads.get(node, 0.0))
    fill, pen, rows = {}, {}, {}
    for c in checks:
        fill[c.leaf] = _FILL[c.ok]
        pen[c.leaf] = _PEN[c.ok]
        rows[c.leaf] = [
            f'<font color="{GREY}" point-size="10">numeric '
            f"{escape(format_number(c.numeric, precision))}</font>",
            f'<font color="{_PEN[c.ok]}" point-size="10"><b>{_MARK[c.ok]}</b></font>',
        ]
    style.fill, style.pen, style.extra_rows = fill, pen, rows
    return build_dot(order, style)
