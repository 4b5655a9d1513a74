"""Residual (skip) connections: y = x + block(x)."""

import json

import numpy as np
import pytest
from chainrule.engine import Value, no_grad
from chainrule.nn import (
    MLP,
    SGD,
    Dropout,
    Layer,
    Maxout,
    ModelFormatError,
    Module,
    Neuron,
    Residual,
    Sequential,
    fit,
    load,
    make_moons,
    predict,
)


def test_forward_is_input_plus_block():
    block = Layer(3, 3, "tanh", seed=0)
    res = Residual(block)
    x = [0.3, -0.8, 1.1]
    out = res(x)
    assert isinstance(out, list) and len(out) == 3
    assert [v.data for v in out] == [a + b.data for a, b in zip(x, block(x))]


@pytest.mark.parametrize("block", [
    Layer(3, 3, "tanh", seed=0),
    MLP(3, [5, 3], activation="sigmoid", seed=1),
    Sequential(Layer(3, 4, seed=2), Layer(4, 3, "elu", seed=3)),
    Maxout(3, 3, pieces=2, seed=4),
    Residual(Layer(3, 3, "swish", seed=5)),
], ids=["layer", "mlp", "sequential", "maxout", "nested"])
def test_gradients_match_central_differences(block):
    """Parameters and inputs, through the skip and the block."""
    res = Residual(block)
    x0 = [0.3, -0.8, 1.1]

    def loss(xs):
        a, b, c = res(xs)
        return a * a + b * 3.0 - c.tanh()

    xs = [Value(v) for v in x0]
    loss(xs).backward()
    h = 1e-6
    for name, p in res.named_parameters():
        old = p.data
        with no_grad():
            p.data = old + h
            up = loss(x0).data
            p.data = old - h
            down = loss(x0).data
        p.data = old
        assert p.grad == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8), name
    for i, v in enumerate(xs):
        with no_grad():
            up = loss([x + h * (j == i) for j, x in enumerate(x0)]).data
            down = loss([x - h * (j == i) for j, x in enumerate(x0)]).data
        assert v.grad == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8), i


def test_the_skip_passes_the_gradient_when_the_block_passes_none():
    """A saturated block (sigmoid at z = 50, slope ~ 2e-22): dy/dx is still 1."""
    block = Layer(2, 2, "sigmoid", seed=0)
    for n in block.neurons:
        for w in n.w:
            w.data = 0.0
        n.b.data = 50.0
    x = [Value(0.5), Value(-1.0)]
    y = Residual(block)(x)
    (y[0] + y[1]).backward()
    assert [v.grad for v in x] == pytest.approx([1.0, 1.0], abs=1e-15)
    x2 = [Value(0.5), Value(-1.0)]
    (sum(block(x2), Value(0.0))).backward()
    assert max(abs(v.grad) for v in x2) == 0.0  # without the skip: nothing


def test_parameters_names_state_and_repr():
    block = Layer(2, 2, "tanh", seed=0)
    res = Residual(block)
    assert res.parameters() == block.parameters()
    assert [n for n, _ in res.named_parameters()] == [f"block.{n}" for n, _ in
                                                       block.named_parameters()]
    assert repr(res) == "Residual(Layer(2 -> 2, tanh))"
    assert repr(Residual(Sequential(Layer(2, 4, seed=0), Layer(4, 2, "linear", seed=1)))) == (
        "Residual(Sequential(Layer(2 -> 4, relu), Layer(4 -> 2, linear)))")
    assert res.nin == res.nout == 2
    state = res.state_dict()
    twin = Residual(Layer(2, 2, "tanh", seed=7))
    twin.load_state_dict(state)
    assert twin.state_dict() == state
    with pytest.raises(ValueError, match=r"missing: 'block.neurons.0.w.0'"):
        twin.load_state_dict({"neurons.0.w.0": 1.0})
    res.zero_grad()
    assert all(p.grad == 0.0 for p in res.parameters())


def test_train_and_eval_reach_the_block():
    drop = Dropout(0.5, seed=0)
    res = Residual(Sequential(Layer(2, 2, seed=0), drop))
    assert res.eval() is res and drop.training is False and res.traceable
    assert res.train() is res and drop.training is True and not res.traceable
    assert Residual(Layer(2, 2, seed=0)).traceable


def test_bad_blocks_and_inputs():
    with pytest.raises(TypeError, match=r"needs a Module as its block, got function"):
        Residual(lambda x: x)
    with pytest.raises(TypeError, match=r"got Layer|got type"):
        Residual(Layer)
    with pytest.raises(ValueError, match=r"as many outputs as inputs.*Layer\(2 -> 3, relu\) "
                                         r"takes 2 and gives 3"):
        Residual(Layer(2, 3, seed=0))
    with pytest.raises(ValueError, match=r"takes 3 and gives 1"):
        Residual(MLP(3, [4, 1], seed=0))
    with pytest.raises(ValueError, match=r"takes 2 and gives 3"):
        Residual(Sequential(Layer(2, 3, seed=0), Dropout(0.1)))
    assert Residual(Neuron(1, seed=0))([2.0])[0].data == pytest.approx(2.0 + 2.0 * Neuron(
        1, seed=0).w[0].data)  # a width-1 block returns a Value, not a list
    res = Residual(Layer(2, 2, seed=0))
    with pytest.raises(ValueError, match=r"expected 2 inputs, got 3"):
        res([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"input 1 is str"):
        res([1.0, "2"])
    with pytest.raises(TypeError, match=r"takes a sequence of numbers or Values, got float"):
        res(1.0)


def test_blocks_without_declared_widths_are_checked_on_call():
    class Widen(Module):
        trace_safe = True

        def __init__(self):
            self.w = Value(1.0)

        def __call__(self, xs):
            return [v * self.w for v in xs] + [self.w]

    res = Residual(Widen())
    assert res.nin is None
    with pytest.raises(ValueError, match=r"block returned 3 outputs for 2 inputs"):
        res([1.0, 2.0])

    class Bad(Widen):
        def __call__(self, xs):
            return 3.0

    with pytest.raises(TypeError, match=r"must return a Value or a list of Values, got float"):
        Residual(Bad())([1.0])


@pytest.mark.parametrize("model", [
    Residual(Layer(2, 2, "tanh", seed=0)),
    Sequential(Layer(2, 4, seed=0), Residual(Layer(4, 4, "sigmoid", seed=1)),
               Residual(Sequential(Layer(4, 8, seed=2), Dropout(0.2, seed=3),
                                   Layer(8, 4, "linear", seed=4))),
               Layer(4, 1, "linear", seed=5)),
    Residual(Residual(Maxout(3, 3, pieces=2, seed=0))),
], ids=["layer", "stack", "nested"])
def test_save_and_load_rebuild_residual_models(tmp_path, model):
    path = tmp_path / "res.json"
    model.save(path)
    again = load(path)
    assert repr(again) == repr(model) and again.architecture() == model.architecture()
    assert [(n, p.data.hex()) for n, p in again.named_parameters()] == [
        (n, p.data.hex()) for n, p in model.named_parameters()]
    x = [0.25] * model.nin
    assert [v.data for v in again.eval()(x)] == [v.data for v in model.eval()(x)]
    model.train()


def test_load_into_a_residual_model_in_place(tmp_path):
    source = Residual(Layer(2, 2, "tanh", seed=0))
    source.save(tmp_path / "r.json")
    target = Residual(Layer(2, 2, "tanh", seed=9))
    params = target.parameters()
    assert load(tmp_path / "r.json", into=target) is target
    assert target.parameters() == params and target.state_dict() == source.state_dict()
    with pytest.raises(ModelFormatError, match=r"architecture mismatch"):
        load(tmp_path / "r.json", into=Residual(Layer(2, 2, "relu", seed=0)))


def test_corrupt_residual_files_are_refused(tmp_path):
    def doc(arch, params):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"format": "chainrule.model", "version": 1,
                                    "architecture": arch, "parameters": params}))
        return path

    layer23 = {"type": "Layer", "nin": 2, "nout": 3, "activation": "relu"}
    params = {f"block.neurons.{i}.{k}": 0.0 for i in range(3)
              for k in ("w.0", "w.1", "b")}
    with pytest.raises(ModelFormatError, match=r"architecture: Residual needs a block with "
                                               r"as many outputs as inputs"):
        load(doc({"type": "Residual", "block": layer23}, params))
    with pytest.raises(ModelFormatError, match=r"architecture is missing 'block'"):
        load(doc({"type": "Residual"}, {}))
    with pytest.raises(ModelFormatError, match=r"unexpected key\(s\) 'scale'"):
        load(doc({"type": "Residual", "block": layer23, "scale": 1.0}, params))
    with pytest.raises(ModelFormatError, match=r"architecture.block must be an object"):
        load(doc({"type": "Residual", "block": "Layer"}, {}))
    arch = {"type": "Layer", "nin": 1, "nout": 1, "activation": "relu"}
    for _ in range(20):
        arch = {"type": "Residual", "block": arch}
    with pytest.raises(ModelFormatError, match=r"nested more than 16 deep"):
        load(doc(arch, {}))


def test_fit_trains_a_deep_residual_stack_on_the_tape():
    xs, y = make_moons(100, noise=0.1, seed=0)
    model = Sequential(Layer(2, 6, seed=0),
                       *[Residual(Layer(6, 6, "sigmoid", seed=i)) for i in range(1, 9)],
                       Layer(6, 1, "linear", seed=20))
    history = fit(model, xs, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=15,
                  batch_size=20, progress=False)
    assert history.engine == "tape" and history.task == "binary"
    assert history.loss[-1] < history.loss[0]
    out = predict(model, xs)
    assert out.shape == (100,) and np.isfinite(out).all()


def test_a_residual_output_is_linear_for_fit_and_plots():
    from chainrule.nn.training import output_activation

    assert output_activation(Residual(Layer(2, 2, "sigmoid", seed=0))) == "linear"
    assert output_activation(Sequential(Layer(2, 2, seed=0),
                                        Residual(Layer(2, 2, "sigmoid", seed=1)))) == "linear"
