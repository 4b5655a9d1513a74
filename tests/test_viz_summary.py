"""draw_summary: one box per neuron or per layer for a whole MLP."""

from __future__ import annotations

import re
import shutil

import pytest
from chainrule.engine import Value
from chainrule.nn import MLP, Neuron, mse_loss
from chainrule.viz import GraphTooLargeError, draw_graph, draw_summary
from chainrule.viz.graph import topological_nodes
from chainrule.viz.summary import find_neurons

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="no Graphviz 'dot'")


@pytest.fixture(scope="module")
def mlp_loss():
    model = MLP(2, [16, 16, 1], activation="tanh", seed=0)
    loss = mse_loss(model([0.5, -1.0]), 1.0)
    loss.backward()
    return model, loss


def test_the_full_graph_is_too_big_to_draw_gate_by_gate(mlp_loss):
    _, loss = mlp_loss
    assert len(topological_nodes(loss)) > 600
    with pytest.raises(GraphTooLargeError, match="draw_summary"):
        draw_graph(loss)


@pytest.mark.parametrize("with_model", [True, False])
def test_neurons_are_found_with_or_without_the_model(mlp_loss, with_model):
    model, loss = mlp_loss
    neurons = find_neurons(topological_nodes(loss), model if with_model else None)
    assert len(neurons) == 33
    first = neurons[0]
    assert len(first.weights) == 2 and first.activation == "tanh"
    assert neurons[-1].activation == "linear" and len(neurons[-1].weights) == 16
    params = set(model.parameters())
    found = {w for n in neurons for w in n.weights} | {n.bias for n in neurons}
    assert found == params
    if with_model:
        assert first.name == "layer 1 · neuron 1" and neurons[-1].name == "layer 3 · neuron 1"


def test_neuron_boxes_show_pre_activation_value_and_gradient(mlp_loss):
    model, loss = mlp_loss
    src = draw_summary(loss, model=model).source
    boxes = re.findall(r"^\s*n\d+ \[label=", src, re.M)
    assert len(boxes) == 33
    neuron = find_neurons(topological_nodes(loss), model)[0]
    assert "layer 1 · neuron 1" in src and "z = Σ w·x + b (2 in)" in src
    assert f"z {neuron.z.data:.3g}" in src and f"grad {neuron.z.grad:.3g}" in src
    # 2 inputs x 16 + 16 x 16 + 16 x 1 edges between boxes, plus the loss gates
    box_edges = re.findall(r"^\s*(?:v\d+|n\d+) -> n\d+\s*$", src, re.M)
    assert len(box_edges) == 2 * 16 + 16 * 16 + 16


def test_layer_boxes(mlp_loss):
    model, loss = mlp_loss
    src = draw_summary(loss, model=model, level="layer").source
    assert len(re.findall(r"^\s*n\d+ \[label=", src, re.M)) == 3
    assert "16 tanh neurons, 2 inputs each" in src
    assert "16 tanh neurons, 16 inputs each" in src and "1 linear neuron, 16 inputs each" in src
    assert re.search(r"^\s*n0 -> n1\s*$", src, re.M) and re.search(r"^\s*n1 -> n2\s*$", src,
                                                                   re.M)
    assert "grad" not in draw_summary(loss, level="layer", show_grad=False).source


def test_summary_changes_nothing(mlp_loss):
    model, loss = mlp_loss
    before = [(p.data, p.grad) for p in model.parameters()]
    draw_summary(loss, model=model)
    draw_summary(loss, level="layer")
    assert [(p.data, p.grad) for p in model.parameters()] == before


@needs_dot
def test_whole_mlp_renders_within_the_cap(mlp_loss, tmp_path):
    model, loss = mlp_loss
    for level in ("neuron", "layer"):
        svg = draw_summary(loss, model=model, level=level, timeout=60).pipe(
            format="svg", encoding="utf-8")
        assert svg.count("<g id=\"node") >= 3


def test_plain_expressions_are_drawn_gate_by_gate():
    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    out = Value.sum([x * y, x])  # x is used twice: not a parameter, so not a neuron
    out.backward()
    src = draw_summary(out).source
    assert not re.search(r"^\s*n\d+ \[", src, re.M) and "<b>x</b>" in src


def test_single_neuron_and_penalty_term():
    n = Neuron(3, activation="relu", seed=1)
    out = n([1.0, 2.0, 3.0])
    loss = out + 0.1 * n.w[0] * n.w[0]  # w0 also feeds a penalty: it stays visible
    loss.backward()
    src = draw_summary(loss, model=n).source
    assert len(re.findall(r"^\s*n\d+ \[label=", src, re.M)) == 1
    assert "<b>w0</b>" in src and "<b>w1</b>" not in src


def test_bad_arguments(mlp_loss):
    model, loss = mlp_loss
    with pytest.raises(ValueError, match="level must be 'neuron' or 'layer', got 'net'"):
        draw_summary(loss, level="net")
    with pytest.raises(GraphTooLargeError, match="summarised graph has more than max_nodes=10"):
        draw_summary(loss, model=model, max_nodes=10)
    with pytest.raises(TypeError, match="model must be a Module"):
        draw_summary(loss, model=3)
    with pytest.raises(TypeError, match=r"model\[0\] is int, not a Value"):
        draw_summary(loss, model=[1, 2])


def test_a_batch_shares_weights_and_they_stay_inside_the_boxes():
    from chainrule.nn import make_moons

    xs, ys = make_moons(4, seed=0)
    model = MLP(2, [8, 8, 1], activation="tanh", seed=0)
    loss = mse_loss([model(row) for row in xs], [float(t) for t in ys])
    loss.backward()
    src = draw_summary(loss, model=model, level="layer").source
    assert len(re.findall(r"^\s*n\d+ \[label=", src, re.M)) == 12  # 3 layers x 4 samples
    assert "<b>w0</b>" not in src and "<b>b</b>" not in src
    # without the model the shared weights are not recognised, and the error says so
    with pytest.raises(GraphTooLargeError, match="pass model="):
        draw_summary(loss, level="layer", max_nodes=100)
