"""A summarised drawing of a network's graph: one box per neuron, or one per layer.

A scalar MLP on one sample is hundreds of Values (``MLP(2, [16, 16, 1])`` makes about
700), too many to read gate by gate. A neuron's part of the graph has a recognisable
shape, which this module finds in the graph alone:

    activation( Value.sum([w1 * x1, w2 * x2, ..., b]) )

one n-ary ``sum`` node whose inputs are products ``weight * input`` and a bias, and
optionally one activation op applied to the sum and to nothing else. Weights and biases
are the *parameters*: given ``model=`` they are exactly ``model.parameters()`` (and
neurons get their names from ``named_parameters()``); without it, a leaf used by only
that one product (or sum) counts as a parameter, which holds for one sample's graph.

Each neuron becomes one box with its pre-activation ``z`` (value green, gradient red),
its activation output, and the largest weight gradient; neurons that read the same
inputs form a layer, which ``level="layer"`` draws as one box with a row per neuron.
Everything that is not a neuron (inputs, the loss) is drawn gate by gate as usual.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from chainrule.engine import RULES, Value
from chainrule.nn import ACTIVATIONS

from ._io import format_number
from .graph import (
    DEFAULT_TIMEOUT,
    GREEN,
    GREY,
    RED,
    ChainruleDigraph,
    GraphTooLargeError,
    Style,
    check_max_nodes,
    check_root,
    check_style_args,
    consumers,
    escape,
    font,
    new_digraph,
    op_text,
    topological_nodes,
    value_label,
)

ACTIVATION_OPS = frozenset(ACTIVATIONS) & frozenset(RULES)
"""nn's activations that are one op of the engine (relu, tanh, sigmoid...)."""
LEVELS = ("neuron", "layer")


@dataclass
class NeuronView:
    """One neuron found in the graph: its sum node, parameters, inputs and activation."""

    z: Value
    """The pre-activation node (the ``sum``)."""
    weights: list[Value]
    bias: Value | None
    inputs: list[Value]
    """The non-parameter input of each product, in order."""
    products: list[Value]
    out: Value
    """The activation node, or ``z`` itself for a linear neuron."""
    name: str = ""
    members: set[Value] = field(default_factory=set)

    @property
    def activation(self) -> str:
        """The activation op's name, or ``"linear"``."""
        return self.out.op if self.out is not self.z else "linear"


def _param_names(model: Any) -> dict[Value, str]:
    if model is None:
        return {}
    if hasattr(model, "named_parameters"):
        return {p: name for name, p in model.named_parameters()}
    if hasattr(model, "parameters"):
        return {p: f"p{i}" for i, p in enumerate(model.parameters())}
    try:
        params = list(model)
    except TypeError:
        raise TypeError("model must be a Module (with parameters()) or an iterable of "
                        f"Values, got {type(model).__name__}") from None
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"model[{i}] is {type(p).__name__}, not a Value")
    return {p: f"p{i}" for i, p in enumerate(params)}


_NEURON_NAME = re.compile(r"(?:^|\.)layers\.(\d+)\.neurons\.(\d+)\.")


def _neuron_name(param: Value | None, names: dict[Value, str]) -> str:
    name = names.get(param, "") if param is not None else ""
    match = _NEURON_NAME.search(name)
    if match:
        return f"layer {int(match.group(1)) + 1} · neuron {int(match.group(2)) + 1}"
    return ""


def find_neurons(order: list[Value], model: Any = None) -> list[NeuronView]:
    """The neurons in a graph (nodes in topological order), in the order they appear.

    ``model`` (a Module, or an iterable of parameter Values) says which leaves are
    parameters; without it, a leaf used exactly once inside the neuron counts as one.
    """
    names = _param_names(model)
    params = set(names)
    users = consumers(order)

    def is_param(v: Value) -> bool:
        if params:
            return v in params
        return v.is_leaf and len(users.get(v, ())) == 1

    neurons = []
    for node in order:
        if node.op != "sum":
            continue
        weights, inputs, products, bias = [], [], [], None
        for term in node.parents:
            if term.op == "mul" and len(users[term]) == 1:
                a, b = term.parents
                if is_param(a):
                    weights.append(a)
                    inputs.append(b)
                elif is_param(b):
                    weights.append(b)
                    inputs.append(a)
                else:
                    break
                products.append(term)
            elif bias is None and is_param(term):
                bias = term
            else:
                break
        else:
            if not products:
                continue
            out = node
            after = users[node]
            if len(after) == 1 and after[0].op in ACTIVATION_OPS:
                out = after[0]
            neuron = NeuronView(node, weights, bias, inputs, products, out)
            neuron.name = _neuron_name(bias if bias is not None else weights[0], names)
            neuron.members = {node, out, *products}
            neurons.append(neuron)
    # A parameter disappears into its neurons' boxes when every use of it is inside
    # some neuron (one sample, or a batch sharing the weights); one that also feeds
    # something else (a penalty term) stays drawn on its own.
    inside = set().union(*(n.members for n in neurons)) if neurons else set()
    for n in neurons:
        n.members.update(p for p in (*n.weights, n.bias)
                         if p is not None and all(u in inside for u in users[p]))
    return neurons


def _layers(neurons: list[NeuronView]) -> list[list[NeuronView]]:
    """Consecutive neurons reading the same inputs form one layer."""
    layers: list[list[NeuronView]] = []
    key_of_last = None
    for n in neurons:
        key = tuple(id(v) for v in n.inputs)
        if layers and key == key_of_last:
            layers[-1].append(n)
        else:
            layers.append([n])
            key_of_last = key
    return layers


def _max_abs_grad(values: list[Value]) -> float:
    return max((abs(v.grad) for v in values), default=0.0)


def draw_summary(
    root: Value,
    *,
    model: Any = None,
    level: str = "neuron",
    rankdir: str = "LR",
    show_grad: bool = True,
    max_nodes: int | None = 500,
    precision: int = 3,
    title: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> ChainruleDigraph:
    """Draw the graph of ``root`` with each neuron (or each layer) as one box.

    A neuron box shows its pre-activation ``z = w·x + b`` (value green, gradient red),
    its activation's output and gradient, and the largest weight gradient ``max|∂w|``
    (tiny numbers there are vanishing gradients). With ``level="layer"`` all neurons
    reading the same inputs share one box with a row per neuron. Nodes that are not
    part of a neuron are drawn gate by gate. Nothing in the graph is changed.

    Args:
        root: the output Value (a prediction or a loss).
        model: the Module (or its parameters) the graph came from: then parameters are
            known exactly and neurons are named ``layer L · neuron N``.
        level: ``"neuron"`` or ``"layer"``.
        max_nodes: raise :class:`GraphTooLargeError` when more boxes than this would
            be drawn.

    Example:
        >>> from chainrule.nn import MLP
        >>> model = MLP(2, [16, 16, 1], activation="tanh", seed=0)
        >>> out = model([0.5, -1.0]); out.backward()
        >>> draw_summary(out, model=model)
        <ChainruleDigraph: 35 nodes, 334 edges>
    """
    check_root(root, "draw_summary")
    limit = check_max_nodes(max_nodes)
    check_style_args(rankdir, precision, timeout)
    if level not in LEVELS:
        raise ValueError(f"level must be 'neuron' or 'layer', got {level!r}")
    order = topological_nodes(root)
    neurons = find_neurons(order, model)
    groups = _layers(neurons) if level == "layer" else [[n] for n in neurons]

    style = Style(rankdir=rankdir, show_grad=bool(show_grad), precision=precision,
                  title=title, timeout=timeout)
    box_of: dict[Value, str] = {}      # a neuron's z and output -> its box name
    hidden: set[Value] = set()         # absorbed nodes with no box of their own
    for g, group in enumerate(groups):
        for n in group:
            box_of[n.z] = box_of[n.out] = f"n{g}"
            hidden.update(n.members - {n.z, n.out})
    plain = [v for v in order if v not in box_of and v not in hidden]
    if limit is not None and len(plain) + len(groups) > limit:
        # Not graph.too_large(): its advice is to call draw_summary, which is what failed.
        ways = ["graph_text(root) for a text view",
                "pass a larger max_nodes (or None) to draw it anyway"]
        if level == "neuron":
            ways.insert(0, "level='layer' for one box per layer")
        message = (f"the summarised graph has more than max_nodes={limit} boxes "
                   f"({len(plain) + len(groups)}); Graphviz would need minutes to lay it "
                   f"out. Use {', '.join(ways[:-1])}, or {ways[-1]}")
        if model is None:
            message += ("; pass model= so that weights shared by several samples are "
                        "recognised as parameters")
        raise GraphTooLargeError(message)

    dot = new_digraph(style)
    if level == "neuron":
        dot.attr("graph", ranksep="1.2")  # room for the fully connected edge bundles
    index = {v: i for i, v in enumerate(order)}
    fmt = lambda x: escape(format_number(x, precision))  # noqa: E731

    def ref(v: Value) -> str:
        return box_of.get(v) or f"v{index[v]}"

    for g, group in enumerate(groups):
        dot.node(f"n{g}", label=_group_label(group, g, level, show_grad, fmt),
                 shape="box", style="rounded,filled", fillcolor="#f1f8ff",
                 color="#0969da", margin="0.08,0.04")
        sources: list[str] = []
        for n in group:
            for v in n.inputs:
                name = ref(v)
                if name not in sources and name != f"n{g}":
                    sources.append(name)
        for name in sources:
            dot.edge(name, f"n{g}")
    if level == "neuron":
        # Keep each layer's neurons in their order, one column per layer: a same-rank
        # subgraph chained by invisible edges (otherwise dot shuffles them to save
        # crossings, and neuron 11 ends up above neuron 1).
        for layer in _layers(neurons):
            names = [box_of[n.z] for n in layer]
            if len(names) > 1:
                with dot.subgraph() as column:
                    column.attr(rank="same")
                    for a, b in itertools.pairwise(names):
                        column.edge(a, b, style="invis")
    for v in plain:
        attrs = {"shape": "box", "style": "rounded,filled", "margin": "0.06,0.03",
                 "fillcolor": "#f6f8fa" if v.is_leaf else "white", "color": "#57606a"}
        if v is root:
            attrs["penwidth"] = "2"
        dot.node(f"v{index[v]}", label=value_label(v, style), **attrs)
        if v.is_leaf:
            continue
        dot.node(f"o{index[v]}", label=f"<{escape(op_text(v, precision))}>", shape="ellipse",
                 style="filled", fillcolor="#eaeef2", width="0.4", height="0.3",
                 margin="0.04,0.02", color="#57606a")
        dot.edge(f"o{index[v]}", f"v{index[v]}")
        for p in v.parents:
            dot.edge(ref(p), f"o{index[v]}")
    return dot


def _group_label(group: list[NeuronView], g: int, level: str, show_grad: bool, fmt) -> str:
    head = group[0]
    act = head.activation
    if level == "neuron":
        rows = [f"<b>{escape(head.name or f'neuron {g + 1}')}</b>",
                font(f"z = Σ w·x + b ({len(head.weights)} in)", GREY, 9),
                font(f"z {fmt(head.z.data)}", GREEN, bold=True)]
        if show_grad:
            rows.append(font(f"grad {fmt(head.z.grad)}", RED, 10))
        if act != "linear":
            line = font(f"{escape(act)} → {fmt(head.out.data)}", GREEN, 10)
            if show_grad:
                line += " " + font(f"grad {fmt(head.out.grad)}", RED, 10)
            rows.append(line)
        if show_grad:
            rows.append(font(f"max|∂w| {fmt(_max_abs_grad(head.weights))}", GREY, 9))
        cells = "".join(f"<tr><td>{r}</td></tr>" for r in rows)
        return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>>'
    layer_name = head.name.split(" · ")[0] if head.name else f"layer {g + 1}"
    title = f"<b>{escape(layer_name)}</b>: {len(group)} {escape(act)} neuron" + (
        "s" if len(group) > 1 else "") + f", {len(head.weights)} inputs each"
    show_act = act != "linear"  # a linear neuron's output is its z: no second column
    header = ['<td><font point-size="9">#</font></td>',
              f'<td><font point-size="9" color="{GREEN}">z</font></td>']
    if show_grad:
        header.append(f'<td><font point-size="9" color="{RED}">grad z</font></td>')
    if show_act:
        header.append(f'<td><font point-size="9" color="{GREEN}">{escape(act)}</font></td>')
    if show_grad:
        header.append(f'<td><font point-size="9" color="{GREY}">max|∂w|</font></td>')
    rows = [f'<tr><td colspan="{len(header)}">{title}</td></tr>',
            "<tr>" + "".join(header) + "</tr>"]
    for k, n in enumerate(group):
        cells = [f"<td>{k + 1}</td>", f'<td><font color="{GREEN}">{fmt(n.z.data)}</font></td>']
        if show_grad:
            cells.append(f'<td><font color="{RED}">{fmt(n.z.grad)}</font></td>')
        if show_act:
            cells.append(f'<td><font color="{GREEN}">{fmt(n.out.data)}</font></td>')
        if show_grad:
            cells.append(f'<td><font color="{GREY}">{fmt(_max_abs_grad(n.weights))}</font></td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="2">'
            + "".join(rows) + "</table>>")
