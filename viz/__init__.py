"""chainrule.viz: pictures of backprop.

* :func:`draw_graph`: the gate-level graph of a Value, values in green and gradients in
  red (a ``graphviz.Digraph``: Jupyter shows it, ``.source`` is the DOT text);
  :func:`draw_summary`: one box per neuron or per layer for networks;
  :func:`save_graph`: render to svg/png/pdf/dot with a time limit.
* :func:`backward_steps`, :func:`steps_table`, :func:`draw_step`,
  :func:`export_steps_html`, :func:`export_step_frames`: the backward pass step by step.
* :func:`check_leaves`, :func:`draw_gradcheck`: each leaf's gradient against a central
  difference, coloured.
* :func:`graph_text`: a text tree that needs no Graphviz.
* :mod:`chainrule.viz.plots` (matplotlib): :func:`plot_history`,
  :func:`plot_decision_boundary`, :func:`plot_grad_magnitudes`, :func:`plot_activation`.
* :class:`~chainrule.viz.playground.Playground` (:mod:`chainrule.viz.playground`, extra
  ``playground``): a TensorFlow-Playground-style trainer in Jupyter; imported on first
  use, so the rest of ``chainrule.viz`` never needs ipywidgets.
* ``chainrule`` command line: :mod:`chainrule.viz.cli`.

Example:
    >>> from chainrule.engine import Value
    >>> from chainrule.viz import draw_graph
    >>> x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    >>> f = (x + y) * z
    >>> f.backward()
    >>> dot = draw_graph(f)
    >>> dot.source.startswith("digraph")
    True
"""

from .gradcheck import LeafCheck, check_leaves, draw_gradcheck
from .graph import (
    ChainruleDigraph,
    GraphTooLargeError,
    GraphvizNotFoundError,
    RenderError,
    RenderTimeoutError,
    draw_graph,
    save_graph,
)
from .plots import plot_activation, plot_decision_boundary, plot_grad_magnitudes, plot_history
from .steps import (
    BackwardStep,
    backward_steps,
    draw_step,
    export_step_frames,
    export_steps_html,
    steps_table,
)
from .summary import draw_summary
from .text import graph_text

__all__ = [
    "BackwardStep",
    "ChainruleDigraph",
    "GraphTooLargeError",
    "GraphvizNotFoundError",
    "LeafCheck",
    "RenderError",
    "RenderTimeoutError",
    "backward_steps",
    "check_leaves",
    "draw_gradcheck",
    "draw_graph",
    "draw_step",
    "draw_summary",
    "export_step_frames",
    "export_steps_html",
    "graph_text",
    "plot_activation",
    "plot_decision_boundary",
    "plot_grad_magnitudes",
    "plot_history",
    "save_graph",
    "steps_table",
]


def __getattr__(name: str):  # PEP 562: import the playground (ipywidgets) only when asked
    if name == "Playground":
        from .playground import Playground

        return Playground
    raise AttributeError(f"module 'chainrule.viz' has no attribute {name!r}")
