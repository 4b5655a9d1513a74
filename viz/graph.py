"""Gate-level pictures of a computation graph, drawn with Graphviz.

Every value node is a box with its label, its forward value in green and its gradient
in red (the convention of the lecture slides); every op is a small ellipse between its
inputs and its result. Optionally each input edge carries the op's *local derivative*
and the *contribution* it passed back (local derivative times the result's gradient),
so a node used twice visibly sums two contributions into its gradient.

The nodes are found by an iterative walk (no recursion limit) that stops as soon as
``max_nodes`` is passed: Graphviz needs seconds for a thousand nodes and minutes for
ten thousand, so a big graph gets a clear error that names the alternatives instead of
a hung notebook. Rendering itself runs ``dot`` with a time limit.

Labels are HTML-like (never record shapes) and every user string is escaped, so
``{ } | < > " \\ &`` in a label render as themselves. The same graph always gives the
same DOT text: node names are positions in a deterministic topological order, never ids.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
from chainrule.engine import Value
from chainrule.engine.checks import int_in, number, positive_int

from ._io import atomic_write, format_number

GREEN = "#1a7f37"
"""Colour of forward values (the lecture-slide convention)."""
RED = "#cf222e"
"""Colour of gradients."""
GREY = "#6e7781"
HIGHLIGHT = "#bf8700"
"""Colour of the active node and edges of a backward step."""

DEFAULT_TIMEOUT = 60.0
"""Seconds ``dot`` may run before rendering is abandoned."""

RANKDIRS = ("LR", "RL", "TB", "BT")
FORMATS = ("svg", "png", "pdf", "dot")
_MAX_LABEL = 40

INSTALL_HINT = (
    "install Graphviz: Debian/Ubuntu 'sudo apt-get install graphviz', "
    "macOS 'brew install graphviz', conda 'conda install -c conda-forge graphviz' "
    "(the DOT text is still available as .source)"
)


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """The Graphviz ``dot`` program is not installed (or not on ``PATH``).

    A subclass of ``graphviz.ExecutableNotFound`` (itself a ``RuntimeError``), so code
    that catches either keeps working; the message says how to install Graphviz.
    """

    def __init__(self, program: str = "dot") -> None:
        RuntimeError.__init__(
            self, f"the Graphviz program {program!r} was not found on PATH; {INSTALL_HINT}"
        )


class GraphTooLargeError(ValueError):
    """A graph has more nodes than the drawing's ``max_nodes`` allows."""


class RenderTimeoutError(RuntimeError):
    """``dot`` did not finish within the time limit (the graph is too large to lay out)."""


class RenderError(RuntimeError):
    """``dot`` exited with an error."""


# -- the graph's nodes -----------------------------------------------------------------


def check_root(root: Any, what: str = "draw_graph") -> Value:
    """``root`` if it is a Value, else a TypeError naming what was given."""
    if not isinstance(root, Value):
        raise TypeError(f"{what} needs a Value, got {type(root).__name__}")
    return root


def check_max_nodes(max_nodes: Any) -> int | None:
    """Validate a ``max_nodes`` argument (a positive int, or None for no limit)."""
    if max_nodes is None:
        return None
    return positive_int(max_nodes, "max_nodes",
                        message="{name} must be a positive int or None, got {value}")


def too_large(max_nodes: int, what: str = "graph") -> GraphTooLargeError:
    """The error for a graph over ``max_nodes``, naming the alternatives."""
    return GraphTooLargeError(
        f"the {what} has more than max_nodes={max_nodes} values; Graphviz would need "
        "minutes to lay it out. Use draw_summary(root) for one box per neuron or layer, "
        "graph_text(root) for a text view, or pass a larger max_nodes (or None) to draw "
        "it anyway"
    )


def topological_nodes(root: Value, max_nodes: int | None = None) -> list[Value]:
    """Every Value ``root`` was computed from (``root`` included), inputs before results.

    Iterative depth-first walk, parents in their order, so the result is deterministic
    and a 1,000,000-node chain is no problem. Raises :class:`GraphTooLargeError` as soon
    as more than ``max_nodes`` values have been seen (it never walks the whole graph).
    """
    order: list[Value] = []
    seen: set[Value] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        if max_nodes is not None and len(seen) > max_nodes:
            raise too_large(max_nodes)
        stack.append((node, True))
        for parent in reversed(node.parents):
            if parent not in seen:
                stack.append((parent, False))
    return order


def consumers(order: Iterable[Value]) -> dict[Value, list[Value]]:
    """For each node, the nodes that use it (once per use, in order)."""
    users: dict[Value, list[Value]] = {}
    for node in order:
        users.setdefault(node, [])
        for parent in node.parents:
            users.setdefault(parent, []).append(node)
    return users


# -- text of labels --------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape(text: str, limit: int = _MAX_LABEL) -> str:
    """``text`` made safe for an HTML-like Graphviz label.

    ``& < > "`` become entities; a backslash is doubled (``dot`` reads ``\\N`` in HTML
    labels as the node name, so ``\\\\`` is how a single backslash shows); control
    characters show as ``\\xNN``; text longer than ``limit`` is cut with an ellipsis.
    """
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=True).replace("\\", "&#92;&#92;")


def op_text(node: Value, precision: int = 4) -> str:
    """The op of ``node`` as drawn in its ellipse: the rule's symbol and its parameter."""
    rule = node.rule
    if rule is None:
        return ""
    arg = node.arg
    name = rule.name
    if name == "powc":
        return f"{rule.symbol} {format_number(arg, precision)}"
    if name == "rpow":
        return f"{format_number(arg, precision)} {rule.symbol}"
    if name == "clamp":
        lo, hi = arg
        return f"clamp[{format_number(lo, precision)}, {format_number(hi, precision)}]"
    if arg is not None and isinstance(arg, (int, float)):
        return f"{rule.symbol}({format_number(arg, precision)})"
    return rule.symbol


def font(text: str, color: str, size: int | None = None, bold: bool = False) -> str:
    """``text`` (already escaped) in a Graphviz HTML-like label's ``<font>`` tag."""
    body = f"<b>{text}</b>" if bold else text
    size_attr = f' point-size="{size}"' if size else ""
    return f'<font color="{color}"{size_attr}>{body}</font>'


# -- options of a drawing --------------------------------------------------------------


@dataclass
class Style:
    """How one drawing looks; built by the public functions, read by :func:`build_dot`."""

    rankdir: str = "LR"
    show_grad: bool = True
    edge_labels: bool = False
    precision: int = 4
    title: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    # gradient shown for a node: None means "not known yet" (a step-through frame)
    grad_of: Callable[[Value], float | None] = lambda node: node.grad
    fill: Mapping[Value, str] = field(default_factory=dict)
    pen: Mapping[Value, str] = field(default_factory=dict)
    extra_rows: Mapping[Value, list[str]] = field(default_factory=dict)
    grad_text: Mapping[Value, str] = field(default_factory=dict)
    active_edges: set[tuple[Value, int]] = field(default_factory=set)
    active_ops: set[Value] = field(default_factory=set)
    # ops whose contributions have been passed back (None: all of them)
    done_ops: set[Value] | None = None
    # edge labels: font size in points, and a white box behind them so that no line
    # runs through the numbers (the step-through frames use both)
    edge_fontsize: float = 9.0
    boxed_edge_labels: bool = False


def check_style_args(rankdir: Any, precision: Any, timeout: Any) -> None:
    """Validate the options shared by every drawing function."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    int_in(precision, "precision", 1, 17)
    if timeout is not None:
        number(timeout, "timeout", low=0.0, low_open=True, finite=False, type_error=ValueError,
               message="{name} must be a positive number of seconds or None, got {value}")


def new_digraph(style: Style) -> ChainruleDigraph:
    """An empty digraph with the common look (white background, Helvetica)."""
    dot = ChainruleDigraph(timeout=style.timeout)
    dot.attr("graph", rankdir=style.rankdir, bgcolor="white", nodesep="0.25",
             ranksep="0.4", fontname="Helvetica")
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize=f"{style.edge_fontsize:g}", color="#57606a",
             arrowsize="0.6")
    if style.title:
        dot.attr("graph", label=f"<{font(escape(style.title, 120), '#24292f', 13, True)}>",
                 labelloc="t")
    return dot


def value_label(node: Value, style: Style) -> str:
    """The HTML-like label of a value box: name, value (green), gradient (red), extras."""
    p = style.precision
    rows = []
    if node.label:
        rows.append(f"<b>{escape(node.label)}</b>")
    rows.append(font(escape(format_number(node.data, p)), GREEN, bold=True))
    if style.show_grad:
        text = style.grad_text.get(node)
        if text is None:
            g = style.grad_of(node)
            text = "grad ?" if g is None else f"grad {format_number(g, p)}"
            color = GREY if g is None else RED
        else:
            color = RED
        rows.append(font(escape(text), color, 10))
    rows.extend(style.extra_rows.get(node, ()))
    cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>>'


def edge_label(local: float, upstream: float | None, style: Style) -> str:
    """Local derivative (grey) and the contribution it passes back (red) for one edge."""
    p = style.precision
    boxed = style.boxed_edge_labels
    rows = [font(f"local {escape(format_number(local, p))}", "#424a53" if boxed else GREY)]
    if style.show_grad and upstream is not None:
        rows.append(font(f"&#8592; {escape(format_number(local * upstream, p))}", RED))
    if boxed:
        cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
        return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1" '
                f'bgcolor="white">{cells}</table>>')
    return "<" + "<br/>".join(rows) + ">"


def build_dot(order: list[Value], style: Style) -> ChainruleDigraph:
    """The Graphviz drawing of the nodes in ``order`` (parents before results)."""
    dot = new_digraph(style)
    index = {node: i for i, node in enumerate(order)}
    root = order[-1] if order else None
    for i, node in enumerate(order):
        attrs = {"shape": "box", "style": "rounded,filled", "margin": "0.06,0.03",
                 "fillcolor": style.fill.get(node, "#f6f8fa" if node.is_leaf else "white"),
                 "color": style.pen.get(node, "#57606a")}
        if node is root or node in style.pen:
            attrs["penwidth"] = "2"
        dot.node(f"v{i}", label=value_label(node, style), **attrs)
        parents = node.parents
        if not parents:
            continue
        op_attrs = {"shape": "ellipse", "style": "filled", "fillcolor": "#eaeef2",
                    "margin": "0.04,0.02", "width": "0.4", "height": "0.3",
                    "color": "#57606a"}
        if node in style.active_ops:
            op_attrs.update(color=HIGHLIGHT, penwidth="2.5", fillcolor="#fff8c5")
        dot.node(f"o{i}", label=f"<{escape(op_text(node, style.precision))}>", **op_attrs)
        dot.edge(f"o{i}", f"v{i}")
        upstream = style.grad_of(node)
        if style.done_ops is not None and node not in style.done_ops:
            upstream = None  # this op has not passed anything back yet
        locals_ = node.local_grads
        for k, parent in enumerate(parents):
            edge_attrs: dict[str, str] = {}
            if style.edge_labels:
                edge_attrs["label"] = edge_label(locals_[k], upstream, style)
            if (node, k) in style.active_edges:
                edge_attrs.update(color=HIGHLIGHT, penwidth="2.5")
            dot.edge(f"v{index[parent]}", f"o{i}", **edge_attrs)
    return dot


def draw_graph(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    max_nodes: int | None = 500,
    edge_labels: bool = False,
    precision: int = 4,
    title: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ChainruleDigraph:
    """Draw the computation graph that produced ``root``.

    Each value is a box with its label, its value (green) and its gradient (red, as of
    the last ``backward()``); each op is an ellipse with the rule's symbol. Nothing is
    changed: values, gradients and the grad mode are only read.

    Args:
        root: the output Value (the graph is everything it was computed from).
        rankdir: layout direction, ``"LR"`` (inputs left), ``"TB"``, ``"RL"`` or ``"BT"``.
        show_grad: False hides the gradients (a forward-pass picture).
        max_nodes: a graph with more values raises :class:`GraphTooLargeError` (found
            without walking the whole graph); None draws anything.
        edge_labels: label each input edge with the op's local derivative and the
            contribution passed back to that input (local derivative x gradient).
        precision: significant digits of non-integer numbers.
        title: text drawn above the graph.
        timeout: seconds ``dot`` may run when the drawing is rendered.

    Returns:
        A ``graphviz.Digraph`` (subclass :class:`ChainruleDigraph`): Jupyter shows it
        inline, ``.source`` is the DOT text, ``.render()``/``.pipe()`` run ``dot``.

    Example:
        >>> from chainrule.engine import Value
        >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
        >>> f = (x + y) * z
        >>> f.backward()
        >>> dot = draw_graph(f, edge_labels=True)
        >>> "grad -4" in dot.source
        True
    """
    check_root(root)
    limit = check_max_nodes(max_nodes)
    check_style_args(rankdir, precision, timeout)
    style = Style(rankdir=rankdir, show_grad=bool(show_grad), edge_labels=bool(edge_labels),
                  precision=precision, title=title, timeout=timeout)
    return build_dot(topological_nodes(root, limit), style)


# -- rendering with a time limit --------------------------------------------------------


def _dot_program(engine: str) -> str:
    path = shutil.which(engine)
    if path is None:
        raise GraphvizNotFoundError(engine)
    return path


def run_dot(source: str, fmt: str, *, engine: str = "dot", timeout: float | None = None,
            extra_args: Iterable[str] = ()) -> bytes:
    """Run Graphviz on DOT ``source`` and return its output in format ``fmt``.

    Raises :class:`GraphvizNotFoundError` (with install hints) when the program is
    missing, :class:`RenderTimeoutError` after ``timeout`` seconds (``dot`` is killed),
    and :class:`RenderError` with dot's message when it fails.
    """
    program = _dot_program(engine)
    cmd = [program, f"-T{fmt}", *extra_args]
    try:
        proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise GraphvizNotFoundError(engine) from None
    except subprocess.TimeoutExpired:
        raise RenderTimeoutError(
            f"Graphviz did not finish within {timeout:g} s; the graph is too large to lay "
            "out. Use draw_summary(root) or graph_text(root), or a larger timeout"
        ) from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().replace("\n", " ")
        raise RenderError(f"Graphviz failed (exit {proc.returncode}): {message[:500]}")
    return proc.stdout


class ChainruleDigraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering has a time limit and a clear missing-dot error.

    Everything of ``graphviz.Digraph`` works (``.source``, ``.node()``, Jupyter display);
    ``pipe`` and ``render`` run ``dot`` themselves so that a graph too large to lay out
    raises :class:`RenderTimeoutError` after ``timeout`` seconds instead of hanging, and
    a missing ``dot`` raises :class:`GraphvizNotFoundError` with install hints.

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
        >>> dot = draw_graph(x * y)
        >>> isinstance(dot, ChainruleDigraph), dot.source.startswith("digraph")
        (True, True)
        >>> b"<svg" in dot.pipe(format="svg")  # doctest: +SKIP
        True
    """

    def __init__(self, *args: Any, timeout: float | None = DEFAULT_TIMEOUT, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.timeout = timeout

    def __repr__(self) -> str:
        # No memory address, so a notebook's text output is the same on every run.
        edges = sum(1 for line in self.body if " -> " in line)
        nodes = sum(1 for line in self.body if " -> " not in line and " [" in line
                    and line.split()[0] not in ("graph", "node", "edge"))
        return f"<ChainruleDigraph: {nodes} nodes, {edges} edges>"

    def _copy_kwargs(self, **kwargs: Any) -> dict:
        # graphviz's Dot._copy_kwargs does not pass extra keywords on: add ours after.
        copied = super()._copy_kwargs(**kwargs)
        copied["timeout"] = self.timeout
        return copied

    def _command_args(self, renderer: str | None, formatter: str | None,
                      neato_no_op: bool | int | None) -> tuple[str, list[str]]:
        suffix = ""
        if renderer:
            suffix += f":{renderer}"
            if formatter:
                suffix += f":{formatter}"
        elif formatter:
            raise ValueError("formatter needs a renderer")
        extra = [f"-n{int(neato_no_op)}"] if neato_no_op else []
        return suffix, extra

    def pipe(self, format: str | None = None, renderer: str | None = None,  # noqa: A002
             formatter: str | None = None, neato_no_op: bool | int | None = None,
             quiet: bool = False, *, engine: str | None = None,
             encoding: str | None = None) -> bytes | str:
        """The rendered graph as bytes (or text with ``encoding``), within ``self.timeout``."""
        fmt = format or self.format
        suffix, extra = self._command_args(renderer or self.renderer,
                                           formatter or self.formatter, neato_no_op)
        data = run_dot(self.source, fmt + suffix, engine=engine or self.engine,
                       timeout=self.timeout, extra_args=extra)
        return data.decode(encoding) if encoding is not None else data

    def render(self, filename: str | os.PathLike | None = None,
               directory: str | os.PathLike | None = None, view: bool = False,
               cleanup: bool = False, format: str | None = None,  # noqa: A002
               renderer: str | None = None, formatter: str | None = None,
               neato_no_op: bool | int | None = None, quiet: bool = False,
               quiet_view: bool = False, *, outfile: str | os.PathLike | None = None,
               engine: str | None = None, raise_if_result_exists: bool = False,
               overwrite_source: bool = False) -> str:
        """Save the DOT source and render it beside it, as ``graphviz.Digraph.render``.

        With ``outfile``, the format comes from its extension and the output goes there.
        Files are written atomically; ``dot`` runs within ``self.timeout``.
        """
        if outfile is not None:
            out = Path(outfile)
            fmt = format or out.suffix.lstrip(".") or self.format
            source_path = out.with_suffix(".gv") if filename is None else Path(
                directory or "", filename)
        else:
            fmt = format or self.format
            source_path = Path(directory or self.directory or "", filename or self.filename)
            out = source_path.with_name(f"{source_path.name}.{fmt}")
        if raise_if_result_exists and out.exists():
            raise FileExistsError(f"output file exists: {str(out)!r}")
        data = self.pipe(fmt, renderer, formatter, neato_no_op, engine=engine)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, data)
        if not cleanup:
            atomic_write(source_path, self.source)
        if view:
            graphviz.view(out, quiet=quiet_view)
        return str(out)


def format_for(path: str | os.PathLike, format: str | None = None) -> str:  # noqa: A002
    """The output format for ``path``: ``format`` if given, else the file's extension."""
    fmt = format if format is not None else Path(path).suffix.lstrip(".").lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        raise ValueError(
            f"cannot tell the output format of {str(path)!r}: use one of the extensions "
            + ", ".join("." + f for f in FORMATS)
        )
    return fmt


def save_graph(dot: graphviz.Digraph, path: str | os.PathLike, *, format: str | None = None,  # noqa: A002
               timeout: float | None = None) -> Path:
    """Render ``dot`` to ``path`` (svg, png, pdf, or dot for the source), atomically.

    The format comes from the extension unless ``format`` is given. Nothing is written
    when rendering fails. ``timeout`` defaults to the drawing's own (or 60 s).

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
        >>> f = x * y
        >>> f.backward()
        >>> save_graph(draw_graph(f), "gate.svg").name  # doctest: +SKIP
        'gate.svg'
        >>> save_graph(draw_graph(f), "gate.dot").read_text().startswith("digraph")
        True
    """
    fmt = format_for(path, format)
    if fmt == "dot":
        data: bytes = dot.source.encode("utf-8")
    else:
        limit = timeout if timeout is not None else getattr(dot, "timeout", DEFAULT_TIMEOUT)
        # PNGs at 1.5x the default 96 dpi read well on high-density screens.
        extra = ["-Gdpi=144"] if fmt == "png" else []
        data = run_dot(dot.source, fmt, engine=dot.engine, timeout=limit, extra_args=extra)
    return atomic_write(path, data)
