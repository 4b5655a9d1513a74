"""The backward step-through: hand derivation, agreement with backward(), frames, exports."""

from __future__ import annotations

import re
import shutil

import pytest
from chainrule.engine import Value, backward_order
from chainrule.viz import (
    BackwardStep,
    backward_steps,
    draw_step,
    export_step_frames,
    export_steps_html,
    steps_table,
)
from chainrule.viz.graph import HIGHLIGHT
from chainrule.viz.steps import caption, formula, simulate_backward
from hypothesis import given, settings
from hypothesis import strategies as st

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="no Graphviz 'dot'")


def gate(backward: bool = False):
    x, y, z = Value(-2.0, label="x"), Value(5.0, label="y"), Value(-4.0, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    if backward:
        f.backward()
    return f, x, y, z, q


def test_gate_steps_equal_the_hand_derivation():
    # NTNU's slide "Back-propagation": df/df = 1; f = q z so df/dq = z = -4 and df/dz = q = 3;
    # q = x + y so df/dx = df/dq * 1 = -4 and df/dy = -4.
    f, x, y, z, q = gate()
    steps = backward_steps(f)
    assert steps == [
        BackwardStep(0, f, 1.0, (q, z), (-4.0, 3.0), (-4.0, 3.0), (0.0, 0.0), (-4.0, 3.0)),
        BackwardStep(1, q, -4.0, (x, y), (1.0, 1.0), (-4.0, -4.0), (0.0, 0.0), (-4.0, -4.0)),
    ]
    assert [s.node for s in steps] == backward_order(f)


def test_steps_do_not_touch_the_graph():
    f, x, y, z, q = gate()
    backward_steps(f)
    assert [v.grad for v in (f, x, y, z, q)] == [0.0] * 5
    f.backward()
    backward_steps(f, grad=2.0)
    assert [v.grad for v in (f, x, y, z, q)] == [1.0, -4.0, -4.0, 3.0, -4.0]


def test_input_used_twice_shows_both_additions():
    x = Value(3.0, label="x")
    y = x * x
    (step,) = backward_steps(y)
    assert step.parents == (x, x) and step.local == (3.0, 3.0)
    assert step.before == (0.0, 3.0) and step.after == (3.0, 6.0)


def test_seed_gradient_scales_everything():
    f, *_ = gate()
    steps = backward_steps(f, grad=0.5)
    assert steps[0].upstream == 0.5 and steps[1].after == (-2.0, -2.0)
    with pytest.raises(ValueError, match="grad must be finite, got inf"):
        backward_steps(f, grad=float("inf"))
    with pytest.raises(TypeError, match="grad must be a real number, got str"):
        backward_steps(f, grad="1")
    with pytest.raises(TypeError, match="backward_steps needs a Value, got int"):
        backward_steps(3)


def test_leaf_root_has_no_steps():
    assert backward_steps(Value(1.0)) == []


def random_graph(draw_ops, values):
    """A small graph from a list of op choices, with fan-out and n-ary nodes."""
    leaves = [Value(v, label=f"x{i}") for i, v in enumerate(values)]
    nodes = list(leaves)
    for k, (op, i, j) in enumerate(draw_ops):
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op == 0:
            out = a * b
        elif op == 1:
            out = a + b
        elif op == 2:
            out = a.tanh()
        elif op == 3:
            out = Value.sum([a, b, a])
        elif op == 4:
            out = Value.max([a, b])
        else:
            out = a.sigmoid() - b * 0.5
        out.label = f"n{k}"
        nodes.append(out)
    return Value.sum(nodes[len(leaves):] or leaves), leaves


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20), st.integers(0, 20)),
                    min_size=1, max_size=12),
       values=st.lists(st.floats(-3, 3), min_size=1, max_size=4))
def test_final_gradients_equal_backward_exactly(ops, values):
    root, leaves = random_graph(ops, values)
    _, grads = simulate_backward(root)
    root.backward()
    for node in [*leaves, *backward_order(root)]:
        assert grads.get(node, 0.0) == node.grad  # bit for bit: same float operations


def test_table_lists_every_input():
    f, *_ = gate()
    table = steps_table(backward_steps(f))
    lines = table.splitlines()
    assert lines[0].split() == ["step", "node", "op", "upstream", "input", "local",
                                "contribution", "grad", "before", "grad", "after"]
    assert lines[2].split() == ["1", "f", "*", "1", "q", "-4", "-4", "0", "-4"]
    assert lines[3].split() == ["z", "3", "3", "0", "3"]
    assert lines[4].split() == ["2", "q", "+", "-4", "x", "1", "-4", "0", "-4"]
    assert lines[5].split() == ["y", "1", "-4", "0", "-4"]


def test_describe_and_captions():
    f, *_ = gate()
    steps = backward_steps(f)
    assert steps[1].describe().splitlines() == [
        "step 2: q [+] upstream grad -4",
        "  x.grad: 0 + 1 * -4 = -4  (contribution -4)",
        "  y.grad: 0 + 1 * -4 = -4  (contribution -4)",
    ]
    assert caption(steps, 0, f, 1.0) == ("Start: the gradient of f with respect to itself "
                                         "is 1.")
    assert caption(steps, 1, f, 1.0) == (
        "Step 1 of 2: f = q * z passes back its gradient 1: q gets -4 × 1 = -4 "
        "(grad 0 → -4); z gets 3 × 1 = 3 (grad 0 → 3).")


@pytest.mark.parametrize("build, text", [
    (lambda x: x ** 2, "x ** 2"), (lambda x: 3 ** x, "3 ** x"), (lambda x: -x, "-x"),
    (lambda x: x.tanh(), "tanh(x)"), (lambda x: x / 2.0, "x / const"),
    (lambda x: Value.sum([x] * 6), "sum(x, x, x, ..., x)"),
])
def test_formula(build, text):
    assert formula(build(Value(1.5, label="x"))) == text


def test_frames_highlight_the_active_op_and_show_unknown_gradients():
    f, *_ = gate()
    first = draw_step(f, 0).source
    assert first.count("grad ?") == 4 and "grad 1" in first
    assert "local -4" in first and "&#8592;" not in first  # nothing passed back yet
    one = draw_step(f, 1).source
    # after step 1: q and z updated (before -> after), x and y still unknown
    assert "grad 0 → -4" in one and "grad 0 → 3" in one and one.count("grad ?") == 2
    highlighted = [line for line in one.splitlines() if HIGHLIGHT in line and "->" in line]
    assert sorted(line.split("[")[0].strip() for line in highlighted) == ["v2 -> o4",
                                                                         "v3 -> o4"]
    assert one.count("&#8592;") == 2  # only the * node has passed contributions back
    last = draw_step(f, 2).source
    assert "grad ?" not in last and last.count('point-size="10">grad 0 → -4') == 2
    with pytest.raises(ValueError, match="step must be an int from 0 to 2, got 3"):
        draw_step(f, 3)


@needs_dot
def test_html_export_is_self_contained(tmp_path):
    f, *_ = gate()
    path = export_steps_html(f, tmp_path / "steps.html")
    page = path.read_text()
    assert page.count("<svg") == 3  # seed + 2 steps
    assert 'type="range"' in page and 'max="2"' in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert "<script src" not in page and "<link" not in page
    assert "Step 1 of 2: f = q * z passes back its gradient 1" in page
    assert re.search(r"<tr data-step=\"2\"><td>2</td><td>q</td><td>\+</td>", page)


@needs_dot
def test_html_export_explains_the_picture_and_is_legible(tmp_path):
    f, *_ = gate()
    page = export_steps_html(f, tmp_path / "steps.html").read_text()
    legend = page[page.index('<div class="legend">'):]
    legend = legend[:legend.index("</div>")]
    # what the arrows and the two numbers on each edge mean
    for text in ("arrows point the way\nthe forward pass computed", "local d",
                 "&#8592; c</span> on an input's arrow", "c = local &#215; the result's grad",
                 "sum of the contributions", "grad ?", "grad before &#8594; after"):
        assert text in legend, text
    # frames are drawn larger than Graphviz's size, and shrink to fit a narrow window
    dot_width = float(re.search(r'width="([0-9.]+)pt"', draw_step(f, 0).pipe(
        format="svg", encoding="utf-8")).group(1))
    frame_width = float(re.search(r'<svg width="([0-9.]+)pt"', page).group(1))
    assert frame_width == pytest.approx(1.4 * dot_width, abs=1)
    assert ".frame svg {{ max-width: 100%; height: auto; }}".replace("{{", "{").replace(
        "}}", "}") in page
    # edge labels: 11 pt on a white box, so no line runs through the numbers
    src = draw_step(f, 1).source
    assert "fontsize=11" in src and src.count('bgcolor="white"') == 4
    # draw_graph itself keeps its look
    from chainrule.viz import draw_graph

    assert 'bgcolor="white">' not in draw_graph(f, edge_labels=True).source


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    return None


@needs_dot
@pytest.mark.skipif(_browser() is None, reason="no Chromium to run the page's script")
def test_html_table_reveals_a_step_only_when_the_slider_reaches_it(tmp_path):
    """In a real (headless) browser: at frame k the table shows steps 1..k, step k
    highlighted, and nothing of the steps after k (their rows are hidden)."""
    import subprocess

    f, *_ = gate()
    path = export_steps_html(f, tmp_path / "steps.html")
    for k in (0, 1, 2):
        dom = subprocess.run(
            [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
             f"{path.as_uri()}#frame={k}"],
            capture_output=True, text=True, timeout=120, check=True).stdout
        rows = re.findall(r'<tr data-step="(\d)"(?: class="([a-z ]*)")?>', dom)
        assert len(rows) == 4  # two inputs per step
        for step, cls in rows:
            expected = "later" if int(step) > k else "now" if int(step) == k else ""
            assert cls.strip() == expected, (k, step, cls)
        assert f"frame {k} of 2" in dom
        pending = re.search(r'<tr id="pending"( hidden="")?><td colspan="9">([^<]*)<', dom)
        assert bool(pending.group(1)) == (k == 2)
        if k < 2:
            assert pending.group(2).startswith(f"{2 - k} step")


@needs_dot
def test_html_export_escapes_labels(tmp_path):
    x = Value(1.0, label="</script><b>")
    y = x * 2.0
    page = export_steps_html(y, tmp_path / "s.html", title="<t>").read_text()
    assert "</script><b>" not in page and "<title>&lt;t&gt;</title>" in page


@needs_dot
def test_numbered_svg_frames(tmp_path):
    f, *_ = gate()
    paths = export_step_frames(f, tmp_path / "frames")
    assert [p.name for p in paths] == ["step_000.svg", "step_001.svg", "step_002.svg"]
    assert all(p.read_text().startswith("<?xml") for p in paths)
    assert "Step 2 of 2" in paths[2].read_text()
