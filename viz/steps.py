"""The backward pass, one step at a time: as data, as a table, as pictures.

:func:`backward_steps` replays what ``root.backward()`` does, in the engine's own order
(:func:`chainrule.engine.backward_order`), on a private dictionary of gradients: the
user's graph is never touched. Each :class:`BackwardStep` records the node being
processed, the gradient arriving at it (*upstream*), the op's local derivative for
each input, the contribution added (local x upstream), and each input's gradient
before and after. The float operations are the engine's, in the engine's order, so
the final numbers equal what ``backward()`` leaves in ``.grad`` (starting from zero).

:func:`draw_step` draws one frame (the active op and its input edges highlighted,
gradients not reached yet shown as ``?``), :func:`steps_table` prints the steps, and
:func:`export_steps_html` writes one self-contained HTML file (inline SVG frames and a
slider) that a student can open in any browser without Jupyter;
:func:`export_step_frames` writes numbered SVG files instead.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from chainrule.engine import Value, backward_trace
from chainrule.engine.checks import int_in, number

from ._io import atomic_write, format_number
from .graph import (
    DEFAULT_TIMEOUT,
    GREEN,
    HIGHLIGHT,
    RED,
    ChainruleDigraph,
    Style,
    build_dot,
    check_max_nodes,
    check_root,
    check_style_args,
    op_text,
    run_dot,
    topological_nodes,
)


@dataclass(frozen=True)
class BackwardStep:
    """One step of backward: ``node`` passes its gradient to each of its inputs.

    ``parents``, ``local``, ``contributions``, ``before`` and ``after`` are parallel
    tuples, one entry per input of the op (an input used twice, as in ``x * x``,
    appears twice, and its second ``before`` is its first ``after``).

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
        >>> f = x * y
        >>> f.label = "f"
        >>> step = backward_steps(f)[0]
        >>> step.node.label, step.upstream, step.local, step.contributions
        ('f', 1.0, (3.0, 2.0), (3.0, 2.0))
    """

    index: int
    node: Value
    upstream: float
    parents: tuple[Value, ...]
    local: tuple[float, ...]
    contributions: tuple[float, ...]
    before: tuple[float, ...]
    after: tuple[float, ...]

    def describe(self, precision: int = 4) -> str:
        """One line per input: ``x.grad: 0 + 1 * -4 = -4``."""
        fmt = _fmt(precision)
        lines = [f"step {self.index + 1}: {node_name(self.node)} "
                 f"[{op_text(self.node, precision)}] upstream grad {fmt(self.upstream)}"]
        for parent, d, c, b, a in zip(self.parents, self.local, self.contributions,
                                      self.before, self.after):
            lines.append(f"  {node_name(parent)}.grad: {fmt(b)} + {fmt(d)} * "
                         f"{fmt(self.upstream)} = {fmt(a)}  (contribution {fmt(c)})")
        return "\n".join(lines)


def _fmt(precision: int):
    return lambda x: format_number(x, precision)


def node_name(node: Value) -> str:
    """A node's label, or its op name in brackets, or ``const`` for an unlabelled leaf."""
    if node.label:
        return node.label
    return f"({node.op})" if node.op else "const"


def formula(node: Value, precision: int = 4) -> str:
    """How ``node`` was computed, in the names of its inputs: ``q * z``, ``tanh(n)``."""
    names = [node_name(p) for p in node.parents]
    rule = node.rule
    if rule is None or not names:
        return node_name(node)
    if node.op == "powc":
        return f"{names[0]} ** {format_number(node.arg, precision)}"
    if node.op == "rpow":
        return f"{format_number(node.arg, precision)} ** {names[0]}"
    if node.op == "neg":
        return f"-{names[0]}"
    if rule.arity == 2 and not rule.symbol.isalpha():
        return f"{names[0]} {rule.symbol} {names[1]}"
    if len(names) > 4:
        names = [*names[:3], "...", names[-1]]
    return f"{op_text(node, precision)}({', '.join(names)})"


def _check_seed(grad: object) -> float:
    return number(grad, "grad")


def simulate_backward(root: Value, grad: float = 1.0) -> tuple[list[BackwardStep],
                                                                 dict[Value, float]]:
    """The steps of ``root.backward(grad)`` and the final gradient of every node.

    Gradients start at zero (leaves included), so the result is what one backward call
    adds; nothing in the graph changes. The numbers come from the engine's own loop
    (:func:`chainrule.engine.backward_trace`).
    """
    check_root(root, "backward_steps")
    trace, grads = backward_trace(root, _check_seed(grad))
    return [BackwardStep(i, *step) for i, step in enumerate(trace)], grads


def backward_steps(root: Value, grad: float = 1.0) -> list[BackwardStep]:
    """The backward pass of ``root`` as a list of :class:`BackwardStep`, in backward's order.

    Example:
        >>> from chainrule.engine import Value
        >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
        >>> q = x + y
        >>> q.label = "q"
        >>> steps = backward_steps(q * z)
        >>> [(s.upstream, s.local, s.after) for s in steps]
        [(1.0, (-4.0, 3.0), (-4.0, 3.0)), (-4.0, (1.0, 1.0), (-4.0, -4.0))]
    """
    return simulate_backward(root, grad)[0]


def steps_table(steps: list[BackwardStep], precision: int = 4) -> str:
    """The steps as a plain-text table: one row per (node, input) pair.

    Columns: step, node, op, upstream gradient, input, local derivative, contribution,
    the input's gradient before and after.

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
        >>> f = x * y
        >>> f.label = "f"
        >>> print(steps_table(backward_steps(f)))
        step  node  op  upstream  input  local  contribution  grad before  grad after
        ----  ----  --  --------  -----  -----  ------------  -----------  ----------
        1     f     *   1         x      3      3             0            3
                                  y      2      2             0            2
    """
    fmt = _fmt(precision)
    header = ("step", "node", "op", "upstream", "input", "local", "contribution",
              "grad before", "grad after")
    rows = [header]
    for s in steps:
        for k, parent in enumerate(s.parents):
            first = k == 0
            rows.append((
                str(s.index + 1) if first else "",
                node_name(s.node) if first else "",
                op_text(s.node, precision) if first else "",
                fmt(s.upstream) if first else "",
                node_name(parent), fmt(s.local[k]), fmt(s.contributions[k]),
                fmt(s.before[k]), fmt(s.after[k]),
            ))
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _frame_style(steps: list[BackwardStep], upto: int, seed: float, root: Value,
                 rankdir: str, edge_labels: bool, precision: int, title: str | None,
                 timeout: float | None) -> Style:
    """The look of the frame after ``upto`` steps (0 = only the seed is known)."""
    known: dict[Value, float] = {root: seed}
    for s in steps[:upto]:
        for parent, a in zip(s.parents, s.after):
            known[parent] = a
    style = Style(rankdir=rankdir, show_grad=True, edge_labels=edge_labels,
                  precision=precision, title=title, timeout=timeout,
                  grad_of=known.get, edge_fontsize=11.0, boxed_edge_labels=True)
    style.done_ops = {s.node for s in steps[:upto]}
    if upto == 0:
        style.pen = {root: HIGHLIGHT}
        style.fill = {root: "#fff8c5"}
        return style
    step = steps[upto - 1]
    style.active_ops = {step.node}
    style.active_edges = {(step.node, k) for k in range(len(step.parents))}
    style.pen = {step.node: HIGHLIGHT, **{p: HIGHLIGHT for p in step.parents}}
    style.fill = {p: "#fff8c5" for p in step.parents}
    fmt = _fmt(precision)
    # An updated input shows "before -> after" so the addition is visible.
    firsts: dict[Value, float] = {}
    for parent, b in zip(step.parents, step.before):
        firsts.setdefault(parent, b)
    style.grad_text = {p: f"grad {fmt(firsts[p])} → {fmt(known[p])}" for p in firsts}
    return style


def caption(steps: list[BackwardStep], upto: int, root: Value, seed: float,
            precision: int = 4) -> str:
    """A sentence saying what frame ``upto`` shows."""
    fmt = _fmt(precision)
    if upto == 0:
        return (f"Start: the gradient of {node_name(root)} with respect to itself is "
                f"{fmt(seed)}.")
    s = steps[upto - 1]
    parts = [f"{node_name(p)} gets {fmt(d)} × {fmt(s.upstream)} = {fmt(c)}"
             f" (grad {fmt(b)} → {fmt(a)})"
             for p, d, c, b, a in zip(s.parents, s.local, s.contributions, s.before, s.after)]
    return (f"Step {upto} of {len(steps)}: {node_name(s.node)} = "
            f"{formula(s.node, precision)} passes back its gradient {fmt(s.upstream)}: "
            + "; ".join(parts) + ".")


def draw_step(
    root: Value,
    step: int,
    *,
    grad: float = 1.0,
    rankdir: str = "LR",
    edge_labels: bool = True,
    precision: int = 4,
    max_nodes: int | None = 200,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ChainruleDigraph:
    """Frame ``step`` of the backward pass of ``root`` as a drawing.

    Frame 0 shows only the seed gradient at ``root``; frame ``k`` shows the graph after
    ``k`` steps, with the active op and its input edges highlighted, each updated input
    showing ``grad before → after``, and gradients not reached yet as ``grad ?``.
    There are ``len(backward_steps(root)) + 1`` frames.

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
        >>> f = x * y + x
        >>> frames = [draw_step(f, k) for k in range(len(backward_steps(f)) + 1)]
        >>> len(frames), "grad ?" in frames[0].source, "grad ?" in frames[-1].source
        (3, True, False)
    """
    check_root(root, "draw_step")
    limit = check_max_nodes(max_nodes)
    check_style_args(rankdir, precision, timeout)
    order = topological_nodes(root, limit)
    steps, _ = simulate_backward(root, grad)
    step = int_in(step, "step", 0, len(steps))
    title = caption(steps, step, root, float(grad), precision)
    style = _frame_style(steps, step, float(grad), root, rankdir, edge_labels, precision,
                         title, timeout)
    return build_dot(order, style)


_SVG_SIZE = re.compile(r'(<svg\b[^>]*?\bwidth=")([0-9.]+)pt("[^>]*?\bheight=")([0-9.]+)pt"')


def _enlarged(svg: str, factor: float) -> str:
    """The SVG drawn ``factor`` times larger (its viewBox keeps the drawing the same)."""
    def scale(m: re.Match) -> str:
        return (f"{m.group(1)}{float(m.group(2)) * factor:.0f}pt{m.group(3)}"
                f"{float(m.group(4)) * factor:.0f}pt\"")
    return _SVG_SIZE.sub(scale, svg, count=1)


def _frames_svg(root: Value, grad: float, rankdir: str, edge_labels: bool, precision: int,
                max_nodes: int | None, timeout: float | None) -> tuple[list[str], list[str]]:
    check_root(root, "export_steps_html")
    limit = check_max_nodes(max_nodes)
    check_style_args(rankdir, precision, timeout)
    order = topological_nodes(root, limit)
    steps, _ = simulate_backward(root, grad)
    svgs, captions = [], []
    for k in range(len(steps) + 1):
        cap = caption(steps, k, root, float(grad), precision)
        style = _frame_style(steps, k, float(grad), root, rankdir, edge_labels, precision,
                             None, timeout)
        svg = run_dot(build_dot(order, style).source, "svg", timeout=timeout).decode("utf-8")
        # Drop the XML prologue so the SVG can sit inside HTML.
        svgs.append(svg[svg.index("<svg"):])
        captions.append(cap)
    return svgs, captions


def export_step_frames(
    root: Value,
    directory: str | os.PathLike,
    *,
    grad: float = 1.0,
    rankdir: str = "LR",
    edge_labels: bool = True,
    precision: int = 4,
    max_nodes: int | None = 200,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> list[Path]:
    """Write the frames as ``step_000.svg``, ``step_001.svg``, ... into ``directory``.

    Frame 0 is the seed, frame k the graph after k steps. Returns the paths. The folder
    is created if needed.

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
        >>> paths = export_step_frames(x * y + x, "frames")  # doctest: +SKIP
        >>> [p.name for p in paths]  # doctest: +SKIP
        ['step_000.svg', 'step_001.svg', 'step_002.svg']
    """
    svgs, captions = _frames_svg(root, grad, rankdir, edge_labels, precision, max_nodes,
                                 timeout)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(svgs))))
    paths = []
    for k, (svg, cap) in enumerate(zip(svgs, captions)):
        # The caption goes into a comment so each file stands alone ("--" may not
        # appear inside an XML comment).
        note = html.escape(cap).replace("--", "- -")
        text = f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- {note} -->\n{svg}'
        paths.append(atomic_write(folder / f"step_{k:0{width}d}.svg", text))
    return paths


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #24292f; }}
h1 {{ font-size: 1.3em; margin-bottom: 0.4em; }}
h2 {{ font-size: 1em; margin: 1.2em 0 0.4em; }}
.controls {{ display: flex; gap: 0.6em; align-items: center; margin: 0.6em 0; }}
input[type=range] {{ width: 22em; }}
.caption {{ min-height: 2.6em; font-size: 1.05em; margin: 0.4em 0; }}
.stage {{ display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }}
.frame {{ display: none; }}
.frame.on {{ display: block; }}
.frame svg {{ max-width: 100%; height: auto; }}
.legend {{ flex: 0 1 21em; min-width: 15em; font-size: 0.88em; line-height: 1.35;
          border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6em 0.9em;
          background: #f6f8fa; }}
.legend h2 {{ margin-top: 0.2em; }}
.legend ul {{ margin: 0; padding-left: 1.1em; }}
.legend li {{ margin-bottom: 0.45em; }}
.value {{ color: {green}; font-weight: bold; }}
.grad {{ color: {red}; }}
.active {{ color: {amber}; font-weight: bold; }}
.mark {{ font-family: Menlo, Consolas, monospace; white-space: nowrap; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border: 1px solid #d0d7de; padding: 0.2em 0.6em; text-align: right; }}
th {{ background: #f6f8fa; }}
tr.later {{ display: none; }}
tr.now td {{ background: #fff8c5; }}
#pending td {{ text-align: left; color: #57606a; font-style: italic; }}
</style>
</head>
<body>
<h1>{title}</h1>
<div class="controls">
<button id="prev" type="button">&#9664; back</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<button id="next" type="button">next &#9654;</button>
<span id="counter"></span>
</div>
<p class="caption" id="caption"></p>
{frames}
<div class="stage">
<div>
<h2>The steps so far</h2>
<table>
<tr><th>step</th><th>node</th><th>op</th><th>upstream</th><th>input</th><th>local</th>
<th>contribution</th><th>grad before</th><th>grad after</th></tr>
{rows}
<tr id="pending"><td colspan="9"></td></tr>
</table>
</div>
<div class="legend">
<h2>How to read the picture</h2>
<ul>
<li>A box is a value: its name, its <span class="value">value</span> from the forward pass
and its <span class="grad">grad</span>, the derivative of {root} with respect to it.
<span class="mark">grad ?</span>: backward has not reached it yet.</li>
<li>An ellipse is an operation. The <span class="mark">&#8594;</span> arrows point the way
the forward pass computed: the inputs flow into the operation and its result flows out.</li>
<li><span class="mark">local d</span> on an input's arrow: the operation's local
derivative, d(result) / d(input).</li>
<li><span class="mark grad">&#8592; c</span> on an input's arrow: the contribution sent
backward along it, against the arrow: c = local &#215; the result's grad. An input's grad
is the sum of the contributions it receives.</li>
<li><span class="active">Amber</span>: the operation of the current step and the arrows
it sends gradients back along; its inputs are shaded and show
<span class="mark">grad before &#8594; after</span>.</li>
</ul>
</div>
</div>
<script>
const captions = {captions};
const last = {last};
const slider = document.getElementById("slider");
function show(k) {{
  k = Math.max(0, Math.min(last, k));
  slider.value = k;
  document.querySelectorAll(".frame").forEach((f, i) => f.classList.toggle("on", i === k));
  // a row appears when its step is taken: the table never shows an answer early
  document.querySelectorAll("tr[data-step]").forEach(r => {{
    const step = Number(r.dataset.step);
    r.classList.toggle("later", step > k);
    r.classList.toggle("now", step === k);
  }});
  const left = last - k;
  const pending = document.getElementById("pending");
  pending.hidden = left === 0;
  pending.firstElementChild.textContent = left === 1 ? "1 step to go: press next"
    : left + " steps to go: press next or move the slider";
  document.getElementById("caption").textContent = captions[k];
  document.getElementById("counter").textContent = "frame " + k + " of " + last;
  try {{ history.replaceState(null, "", "#frame=" + k); }} catch (e) {{ }}
}}
function fromHash() {{
  const m = /frame=(\\d+)/.exec(location.hash);
  return m ? Number(m[1]) : 0;
}}
slider.addEventListener("input", () => show(Number(slider.value)));
document.getElementById("prev").addEventListener("click", () => show(Number(slider.value) - 1));
document.getElementById("next").addEventListener("click", () => show(Number(slider.value) + 1));
document.addEventListener("keydown", e => {{
  if (e.target === slider) return;  // the slider moves itself with the arrow keys
  if (e.key === "ArrowRight") show(Number(slider.value) + 1);
  if (e.key === "ArrowLeft") show(Number(slider.value) - 1);
}});
window.addEventListener("hashchange", () => show(fromHash()));
show(fromHash());
</script>
</body>
</html>
"""


def export_steps_html(
    root: Value,
    path: str | os.PathLike,
    *,
    grad: float = 1.0,
    title: str = "Backward pass, step by step",
    rankdir: str = "LR",
    edge_labels: bool = True,
    precision: int = 4,
    max_nodes: int | None = 200,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Path:
    """Write the step-through of ``root``'s backward pass as one self-contained HTML file.

    The file holds every frame as inline SVG, a slider (and arrow keys) to move between
    them, a caption per frame, a legend saying what the boxes, arrows and edge labels
    mean, and the table of steps, which grows a row at a time as the slider moves (it
    never shows a step's numbers before that step). ``page.html#frame=3`` opens at
    frame 3. It loads nothing from the network, so it opens in any browser without
    Jupyter. Needs Graphviz ``dot``.

    Example:
        >>> from chainrule.engine import Value
        >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
        >>> f = x * y + x
        >>> export_steps_html(f, "steps.html").name  # doctest: +SKIP
        'steps.html'
    """
    svgs, captions = _frames_svg(root, grad, rankdir, edge_labels, precision, max_nodes,
                                 timeout)
    steps, _ = simulate_backward(root, grad)
    fmt = _fmt(precision)
    rows = []
    for s in steps:
        for k, parent in enumerate(s.parents):
            first = k == 0
            cells = [str(s.index + 1) if first else "",
                     node_name(s.node) if first else "",
                     op_text(s.node, precision) if first else "",
                     fmt(s.upstream) if first else "",
                     node_name(parent), fmt(s.local[k]), fmt(s.contributions[k]),
                     fmt(s.before[k]), fmt(s.after[k])]
            tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            rows.append(f'<tr data-step="{s.index + 1}">{tds}</tr>')
    # Drawn 1.4 times Graphviz's size: the numbers on the edges are read, not glanced at.
    frames = "\n".join(f'<div class="frame" id="frame{k}">{_enlarged(svg, 1.4)}</div>'
                       for k, svg in enumerate(svgs))
    # json.dumps escapes quotes; every "<" becomes \u003c so no caption can close the
    # script element or open an HTML comment inside it.
    captions_js = json.dumps(captions).replace("<", "\\u003c")
    page = _HTML.format(title=html.escape(title), green=GREEN, red=RED, amber=HIGHLIGHT,
                        last=len(svgs) - 1, frames=frames, rows="\n".join(rows),
                        captions=captions_js, root=html.escape(node_name(root)))
    return atomic_write(path, page)


__all__ = [
    "BackwardStep",
    "backward_steps",
    "draw_step",
    "export_step_frames",
    "export_steps_html",
    "simulate_backward",
    "steps_table",
]
