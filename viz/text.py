"""A plain-text tree of a computation graph: works without Graphviz, and on any size.

The tree starts at the output and lists each node's inputs below it. A node used more
than once (a shared subtree) is written out in full the first time, tagged ``#k``, and
later appears as a one-line reference ``(see #k)``, so the text grows with the number
of nodes, never with the number of paths. The walk is iterative (no recursion limit).
"""

from __future__ import annotations

from chainrule.engine import Value
from chainrule.engine.checks import positive_int

from ._io import format_number
from .graph import check_root, consumers, op_text, topological_nodes

MAX_INDENT = 40
"""Levels of indentation before deeper lines restart at the margin."""


def _line(node: Value, show_grad: bool, precision: int) -> str:
    name = node.label or ("" if node.parents else "const")
    op = op_text(node, precision) if node.parents else ""
    head = " ".join(part for part in (name, f"[{op}]" if op else "") if part)
    text = f"{head} = {format_number(node.data, precision)}"
    if show_grad:
        text += f"  (grad {format_number(node.grad, precision)})"
    return text


def graph_text(root: Value, *, show_grad: bool = True, precision: int = 4,
               max_lines: int | None = None) -> str:
    """The graph of ``root`` as an indented text tree (value, gradient, op per node).

    Args:
        root: the output Value.
        show_grad: include each node's ``.grad``.
        precision: significant digits of non-integer numbers.
        max_lines: stop after this many lines (and say so in a last line).

    Example:
        >>> from chainrule.engine import Value
        >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
        >>> q = x + y
        >>> q.label = "q"
        >>> f = q * z
        >>> f.label = "f"
        >>> f.backward()
        >>> print(graph_text(f))
        f [*] = -12  (grad 1)
        ├── q [+] = 3  (grad -4)
        │   ├── x = -2  (grad -4)
        │   └── y = 5  (grad -4)
        └── z = -4  (grad 3)
    """
    check_root(root, "graph_text")
    if max_lines is not None:
        max_lines = positive_int(max_lines, "max_lines",
                                 message="{name} must be a positive int or None, got {value}")
    users = consumers(topological_nodes(root))
    shared = {node for node, used_by in users.items() if len(used_by) > 1}
    tags: dict[Value, int] = {}
    lines: list[str] = []
    # (node, prefix of its line, prefix of its children's lines, depth)
    stack: list[tuple[Value, str, str, int]] = [(root, "", "", 0)]
    while stack:
        if max_lines is not None and len(lines) >= max_lines:
            lines.append(f"... (cut at max_lines={max_lines})")
            break
        node, prefix, child_prefix, depth = stack.pop()
        if node in tags:
            name = node.label or op_text(node, precision) or "const"
            lines.append(f"{prefix}{name} (see #{tags[node]})")
            continue
        text = _line(node, show_grad, precision)
        if node in shared:
            tags[node] = len(tags) + 1
            text += f"  #{tags[node]}"
        lines.append(prefix + text)
        parents = node.parents
        base, marker = child_prefix, ""
        if len(base) >= 4 * MAX_INDENT:
            # Deep levels restart at the margin, marked with their depth: indenting a
            # 20,000-node chain all the way would make the text quadratic in size.
            base, marker = "", f"[depth {depth + 1}] "
        for k in range(len(parents) - 1, -1, -1):
            last = k == len(parents) - 1
            stack.append((parents[k], marker + base + ("└── " if last else "├── "),
                          base + ("    " if last else "│   "), depth + 1))
    return "\n".join(lines)
