"""draw_graph: the DOT text for every option, escaping, size limits, rendering, missing dot."""

from __future__ import annotations

import math
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest
from chainrule.engine import Value, is_grad_enabled, no_grad
from chainrule.viz import (
    ChainruleDigraph,
    GraphTooLargeError,
    GraphvizNotFoundError,
    RenderTimeoutError,
    draw_graph,
    save_graph,
)
from chainrule.viz._io import atomic_write, format_number
from chainrule.viz.graph import GREEN, RED, op_text, topological_nodes

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")


def gate():
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward()
    return f, (x, y, z, q)


def node_labels(source: str) -> dict[str, str]:
    """DOT node name -> its label text (HTML tags removed)."""
    out = {}
    for name, label in re.findall(r"^\s*(\w+) \[label=<(.*?)>(?: |\])", source, re.M):
        out[name] = re.sub(r"<[^>]+>", "|", label)
    return out


def edges(source: str) -> list[tuple[str, str, str]]:
    return [(a, b, rest) for a, b, rest in
            re.findall(r"^\s*(\w+) -> (\w+)(.*)$", source, re.M)]


# -- the picture of the lecture slides ----------------------------------------------------

def test_gate_values_green_gradients_red():
    f, _ = gate()
    src = draw_graph(f).source
    labels = node_labels(src)
    # five value boxes (x y q z f) and two op ellipses (+ *)
    values = {k: v for k, v in labels.items() if k.startswith("v")}
    ops = {k: v for k, v in labels.items() if k.startswith("o")}
    assert len(values) == 5 and sorted(ops.values()) == ["*", "+"]
    for name, value, grad in [("x", "-2", "-4"), ("y", "5", "-4"), ("z", "-4", "3"),
                              ("q", "3", "-4"), ("f", "-12", "1")]:
        assert f'<b>{name}</b>' in src
        assert f'<font color="{GREEN}"><b>{value}</b></font>' in src
        assert f'<font color="{RED}" point-size="10">grad {grad}</font>' in src


def test_structure_value_op_value():
    f, _ = gate()
    src = draw_graph(f).source
    es = {(a, b) for a, b, _ in edges(src)}
    # x -> + , y -> + , + -> q, q -> *, z -> *, * -> f (names are positions)
    assert es == {("v0", "o2"), ("v1", "o2"), ("o2", "v2"), ("v2", "o4"), ("v3", "o4"),
                  ("o4", "v4")}


def test_rankdir_option():
    f, _ = gate()
    assert "rankdir=LR" in draw_graph(f).source
    assert "rankdir=TB" in draw_graph(f, rankdir="TB").source
    with pytest.raises(ValueError, match=r"rankdir must be one of LR, RL, TB, BT, got 'XY'"):
        draw_graph(f, rankdir="XY")


def test_show_grad_false_hides_gradients():
    f, _ = gate()
    src = draw_graph(f, show_grad=False).source
    assert "grad" not in src and RED not in src
    assert f'<font color="{GREEN}"><b>-12</b></font>' in src


def test_edge_labels_local_derivative_and_contribution():
    f, _ = gate()
    src = draw_graph(f, edge_labels=True).source
    labelled = {(a, b): rest for a, b, rest in edges(src) if "label" in rest}
    # q -> *: local dq(qz) = z = -4, contribution -4 * 1; z -> *: local q = 3
    assert "local -4" in labelled[("v2", "o4")] and "&#8592; -4" in labelled[("v2", "o4")]
    assert "local 3" in labelled[("v3", "o4")] and "&#8592; 3" in labelled[("v3", "o4")]
    assert "local 1" in labelled[("v0", "o2")] and "&#8592; -4" in labelled[("v0", "o2")]
    assert "label" not in draw_graph(f).source.split("->", 1)[1].split("\n")[0]


def test_fan_out_node_shows_contributions_that_sum_to_its_gradient():
    a = Value(3.0, label="a")
    b = a * 2.0
    c = a.tanh()
    out = b + c
    out.backward()
    src = draw_graph(out, edge_labels=True).source
    contributions = [float(m) for m in
                     re.findall(r"^\s*v0 -> o\d+ \[label=<.*?&#8592; ([-0-9.e]+)<", src, re.M)]
    assert len(contributions) == 2
    assert sum(contributions) == pytest.approx(a.grad, rel=1e-3)
    assert a.grad == pytest.approx(2.0 + (1 - math.tanh(3.0) ** 2))


def test_edge_labels_without_gradients_show_only_local():
    f, _ = gate()
    src = draw_graph(f, edge_labels=True, show_grad=False).source
    assert "local -4" in src and "&#8592;" not in src


def test_precision_and_title():
    x = Value(2.0, label="x")
    y = x / 3.0
    y.backward()
    assert "0.6667" in draw_graph(y).source
    assert "0.667" in draw_graph(y, precision=3).source
    assert "0.66666667" in draw_graph(y, precision=8).source
    src = draw_graph(y, title="one third of <x>").source
    assert "one third of &lt;x&gt;" in src and "labelloc=t" in src
    with pytest.raises(ValueError, match="precision must be an int from 1 to 17, got 0"):
        draw_graph(y, precision=0)


@pytest.mark.parametrize("build, text", [
    (lambda x: x ** 3, "** 3"),
    (lambda x: 2 ** x, "2 **"),
    (lambda x: x.leaky_relu(0.1), "leaky_relu(0.1)"),
    (lambda x: x.elu(), "elu(1)"),
    (lambda x: x.clamp(-1.0, 0.5), "clamp[-1, 0.5]"),
    (lambda x: x.tanh(), "tanh"),
    (lambda x: Value.sum([x, x, 1.0]), "sum"),
])
def test_op_nodes_show_symbol_and_parameter(build, text):
    x = Value(0.3, label="x")
    out = build(x)
    assert op_text(out) == text
    assert f"label=<{text}>" in draw_graph(out).source


def test_nan_and_inf_print_readably():
    x = Value(0.0, label="x")
    with pytest.warns(RuntimeWarning):
        y = x.log()
    with pytest.warns(RuntimeWarning):
        z = (x - 1.0).sqrt()
    out = y + z
    out.backward()
    src = draw_graph(out).source
    assert "<b>-inf</b>" in src and "<b>nan</b>" in src and "grad nan" in src
    w = Value(0.0, label="w")
    root = w.sqrt()
    root.backward()
    assert "grad inf" in draw_graph(root).source  # d sqrt(w)/dw at 0
    assert [format_number(v) for v in (math.inf, -math.inf, math.nan, -0.0)] == \
        ["inf", "-inf", "nan", "0"]


# -- escaping (BAD_INPUTS 61) ----------------------------------------------------------------

NASTY = ['{ } | < > " \\ &', "a\\Nb", "\\", "x\x00y\n", "<b>bold</b>", "]]>", "w\\l|r"]
ESCAPED = ["{ } | &lt; &gt; &quot; &#92;&#92; &amp;", "a&#92;&#92;Nb", "&#92;&#92;",
           "x&#92;&#92;x00y&#92;&#92;x0a", "&lt;b&gt;bold&lt;/b&gt;", "]]&gt;", "w&#92;&#92;l|r"]


@pytest.mark.parametrize("label, escaped", list(zip(NASTY, ESCAPED)))
def test_labels_are_escaped_in_the_dot_text(label, escaped):
    x = Value(1.0, label=label)
    src = draw_graph(x * 2.0).source
    assert f"<b>{escaped}</b>" in src
    assert "\x00" not in src and "shape=record" not in src


@needs_dot
def test_nasty_labels_render_as_themselves():
    label = '{a} | <b> "c" \\N & d'
    x = Value(1.0, label=label)
    svg = draw_graph(x + 1.0).pipe(format="svg", encoding="utf-8")
    assert "{a} | &lt;b&gt; &quot;c&quot; \\N &amp; d" in svg


def svg_texts(svg: str) -> list[str]:
    """The text a viewer of the SVG reads, in drawing order (parsing also proves the file
    is well-formed XML, whatever the labels held)."""
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


@needs_dot
@pytest.mark.parametrize("label", NASTY)
def test_every_nasty_label_renders(label):
    x = Value(1.0, label=label)
    out = x * 2.0
    out.backward()
    texts = svg_texts(draw_graph(out, title=label).pipe(format="svg", encoding="utf-8"))
    # the label as typed (control characters spelled out), in the title and on its node,
    # then the node's value and gradient, the op, and the product's value and gradient
    shown = label.replace("\x00", "\\x00").replace("\n", "\\x0a")
    assert texts[:5] == [shown, shown, "1", "grad 2", "*"]
    assert texts[5:7] == ["2", "grad 1"]


def test_long_labels_are_cut():
    x = Value(1.0, label="a" * 500)
    src = draw_graph(x).source
    assert "a" * 39 + "…" in src and "a" * 41 not in src


# -- determinism and read-only drawing (BAD_INPUTS 62) -----------------------------------------

def test_same_graph_same_dot_and_rebuilt_graph_same_dot():
    f1, _ = gate()
    f2, _ = gate()
    assert draw_graph(f1).source == draw_graph(f1).source
    assert draw_graph(f1, edge_labels=True).source == draw_graph(f2, edge_labels=True).source


def test_drawing_changes_nothing():
    f, (x, y, z, q) = gate()
    before = [(v.data, v.grad, v.label) for v in (x, y, z, q, f)]
    with no_grad():
        draw_graph(f, edge_labels=True)
        assert not is_grad_enabled()
    draw_graph(f)
    assert is_grad_enabled()
    assert [(v.data, v.grad, v.label) for v in (x, y, z, q, f)] == before


def test_graph_without_backward_shows_zero_gradients():
    x = Value(2.0, label="x")
    y = x * x
    src = draw_graph(y, edge_labels=True).source
    assert "grad 0" in src and "local 2" in src


def test_a_leaf_alone_and_constants():
    assert "<b>7</b>" in draw_graph(Value(7.0)).source
    x = Value(1.0, label="x")
    src = draw_graph(x * 3.0).source
    assert "<b>3</b>" in src  # the unlabelled constant shows its value


def test_bad_arguments():
    f, _ = gate()
    with pytest.raises(TypeError, match="draw_graph needs a Value, got float"):
        draw_graph(1.0)
    with pytest.raises(ValueError, match="max_nodes must be a positive int or None, got 0"):
        draw_graph(f, max_nodes=0)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        draw_graph(f, timeout=-1)


# -- big graphs (BAD_INPUTS 60) -----------------------------------------------------------------

def chain(n: int) -> Value:
    v = Value(0.5, label="x")
    for _ in range(n - 1):
        v = v * 1.0001
    return v


def test_max_nodes_error_names_the_alternatives_without_walking_everything(monkeypatch):
    big = chain(10_000)  # 19,999 Values (a constant per multiplication)
    visited = []
    real = Value.parents

    def counting(node):
        visited.append(node)
        return real.fget(node)

    monkeypatch.setattr(Value, "parents", property(counting))
    with pytest.raises(GraphTooLargeError, match=r"more than max_nodes=500 values") as info:
        draw_graph(big)
    monkeypatch.undo()
    assert len(visited) <= 501  # it stopped at the limit, it did not walk 19,999 nodes
    message = str(info.value)
    assert "draw_summary" in message and "graph_text" in message and "larger max_nodes" in message
    assert isinstance(info.value, ValueError)


def test_max_nodes_is_a_limit_on_values():
    v = chain(5)  # 9 Values
    draw_graph(v, max_nodes=9)
    with pytest.raises(GraphTooLargeError):
        draw_graph(v, max_nodes=8)


def test_traversal_is_iterative():
    n = 200_000
    order = topological_nodes(chain(n // 2))
    assert len(order) == n - 1 and order[0].label == "x"


@needs_dot
def test_render_time_cap_on_a_20000_node_graph():
    big = chain(10_000)
    dot = draw_graph(big, max_nodes=None, timeout=1.0)
    assert len(dot.body) > 20_000
    # dot needs over a minute for this; the cap kills it after one second
    with pytest.raises(RenderTimeoutError, match=r"did not finish within 1 s"):
        dot.pipe(format="svg")


# -- rendering -------------------------------------------------------------------------------

@needs_dot
def test_svg_rendering_has_colours_and_numbers():
    f, _ = gate()
    svg = draw_graph(f, edge_labels=True).pipe(format="svg", encoding="utf-8")
    assert svg.count(f'fill="{GREEN}"') == 5 and f'fill="{RED}"' in svg
    for text in ("&#45;12", "grad &#45;4", "grad 3", "local &#45;4"):
        assert text in svg


@needs_dot
@pytest.mark.parametrize("ext, magic", [("svg", b"<?xml"), ("png", b"\x89PNG"),
                                        ("pdf", b"%PDF"), ("dot", b"digraph")])
def test_save_graph_formats(tmp_path, ext, magic):
    f, _ = gate()
    path = save_graph(draw_graph(f), tmp_path / f"gate.{ext}")
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [f"gate.{ext}"]


def test_save_graph_unknown_extension(tmp_path):
    f, _ = gate()
    with pytest.raises(ValueError, match=r"cannot tell the output format of .*gate\.jpeg"):
        save_graph(draw_graph(f), tmp_path / "gate.jpeg")
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_render_and_copy_keep_the_timeout(tmp_path):
    f, _ = gate()
    dot = draw_graph(f, timeout=7.0)
    copy = dot.copy()
    assert isinstance(copy, ChainruleDigraph) and copy.timeout == 7.0
    assert copy.source == dot.source
    out = dot.render(filename="gate", directory=tmp_path, format="svg")
    assert out.endswith("gate.svg") and (tmp_path / "gate").read_text() == dot.source
    out2 = dot.render(outfile=tmp_path / "g.png")
    assert Path(out2).read_bytes()[:4] == b"\x89PNG"


@needs_dot
def test_jupyter_display_uses_the_capped_pipe():
    f, _ = gate()
    bundle = draw_graph(f)._repr_mimebundle_()
    # what a notebook shows: every node's label, value and gradient of the gate example
    assert svg_texts(bundle["image/svg+xml"]) == [
        "x", "-2", "grad -4", "+", "y", "5", "grad -4", "q", "3", "grad -4", "*",
        "z", "-4", "grad 3", "f", "-12", "grad 1"]


@needs_dot
def test_dot_failure_is_a_render_error():
    from chainrule.viz import RenderError

    dot = ChainruleDigraph()
    dot.body.append("this is not dot syntax {{{")
    with pytest.raises(RenderError, match=r"Graphviz failed \(exit 1\)"):
        dot.pipe(format="svg")


# -- without dot (BAD_INPUTS 59) ----------------------------------------------------------------

def test_missing_dot_gives_install_hints_and_source_still_works(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot anywhere
    f, _ = gate()
    dot = draw_graph(f)
    assert dot.source.startswith("digraph")
    with pytest.raises(GraphvizNotFoundError) as info:
        dot.pipe(format="svg")
    message = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install"):
        assert hint in message
    assert isinstance(info.value, graphviz.ExecutableNotFound)
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(GraphvizNotFoundError):
        save_graph(dot, tmp_path / "gate.svg")
    assert not (tmp_path / "gate.svg").exists()
    save_graph(dot, tmp_path / "gate.dot")  # the DOT text needs no Graphviz
    assert (tmp_path / "gate.dot").read_text() == dot.source


def test_atomic_write_leaves_old_file_and_no_temp_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.svg"
    target.write_text("old")
    import os

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.svg"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write(tmp_path / "missing" / "x.svg", "data")


def test_repr_counts_nodes_and_edges_and_shows_no_address():
    """A notebook prints a graph's repr next to the picture: it must not change per run."""
    x = Value(1.0, label="x")
    y = (x * x + 1).tanh()
    y.backward()
    # 5 value boxes (x, x*x, the constant 1, x*x + 1, tanh) and 3 op ellipses
    dot = draw_graph(y)
    assert repr(dot) == "<ChainruleDigraph: 8 nodes, 8 edges>"
    assert "0x" not in repr(dot)
