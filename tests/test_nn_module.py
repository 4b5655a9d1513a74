"""chainrule.nn modules: Neuron, Layer, MLP, Dropout, Maxout, Sequential, Module."""

import math
import random

import numpy as np
import pytest
from chainrule.engine import Value, no_grad
from chainrule.nn import (
    ACTIVATIONS,
    MLP,
    SGD,
    Activation,
    Dropout,
    Layer,
    Maxout,
    Module,
    Neuron,
    Sequential,
    binary_cross_entropy,
    mse_loss,
)


def set_weights(neuron, w, b):
    for p, v in zip(neuron.w, w):
        p.data = float(v)
    neuron.b.data = float(b)


def test_contract_import_line():
    from chainrule.nn import MLP, SGD, Adam, Value, fit, make_moons, mse_loss  # noqa: F401

    assert Value is __import__("chainrule.engine", fromlist=["Value"]).Value


# -- activations ------------------------------------------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


REFERENCE = {
    "linear": lambda x: x,
    "relu": lambda x: max(x, 0.0),
    "leaky_relu": lambda x: x if x > 0 else 0.01 * x,
    "elu": lambda x: x if x > 0 else math.exp(x) - 1.0,
    "sigmoid": _sigmoid,
    "tanh": math.tanh,
    "softplus": lambda x: math.log1p(math.exp(x)),
    "swish": lambda x: x * _sigmoid(x),
}


def test_activation_names_are_the_contract_list():
    assert set(ACTIVATIONS) == set(REFERENCE) == {
        "linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "swish"}


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("x", [-2.5, -0.3, 0.7, 3.0])
def test_each_activation_in_a_neuron_matches_its_formula(name, x):
    n = Neuron(1, activation=name, seed=0)
    set_weights(n, [1.0], 0.0)
    assert n([x]).data == pytest.approx(REFERENCE[name](x), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_each_activation_gradient_matches_central_differences(name):
    x0, h = 0.37, 1e-6
    n = Neuron(1, activation=name, seed=0)
    set_weights(n, [1.0], 0.0)
    x = Value(x0)
    n([x]).backward()
    numeric = (REFERENCE[name](x0 + h) - REFERENCE[name](x0 - h)) / (2 * h)
    assert x.grad == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_backprop_notes_leaky_relu_is_max_of_0_1x_and_x():
    act = Activation("leaky_relu", alpha=0.1)
    assert act(Value(-2.0)).data == -0.2
    assert act(Value(3.0)).data == 3.0
    assert repr(act) == "leaky_relu(alpha=0.1)"
    m = MLP(2, [4, 1], activation=act, seed=0)
    assert repr(m) == "MLP(2 -> [4, 1], leaky_relu(alpha=0.1) -> linear)"


def test_backprop_notes_elu_with_alpha():
    act = Activation("elu", alpha=0.5)
    assert act(Value(-1.0)).data == pytest.approx(0.5 * (math.exp(-1.0) - 1.0))
    assert act(Value(2.0)).data == 2.0


def test_activation_errors():
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'"):
        Neuron(2, activation="rleu")
    with pytest.raises(TypeError, match=r"activation must be a name"):
        Layer(2, 2, activation=3)
    with pytest.raises(ValueError, match=r"takes no alpha"):
        Activation("relu", alpha=0.1)
    with pytest.raises(ValueError, match=r"finite alpha"):
        Activation("leaky_relu", alpha=math.inf)
    with pytest.raises(TypeError, match=r"alpha must be a real number"):
        Activation("elu", alpha="1")
    assert Activation("relu") == Activation("relu") != Activation("tanh")


# -- construction -----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -1])
def test_nin_must_be_positive(bad):
    with pytest.raises(ValueError, match=f"nin must be a positive int, got {bad}"):
        Neuron(bad)
    with pytest.raises(ValueError, match=r"nin must be a positive int"):
        MLP(bad, [2])


@pytest.mark.parametrize("bad", [2.0, True, "2", None])
def test_nin_must_be_an_int(bad):
    with pytest.raises(TypeError, match=r"nin must be a positive int"):
        Layer(bad, 3)


@pytest.mark.parametrize(
    ("nouts", "exc", "message"),
    [
        ([], ValueError, "at least one layer width"),
        ([16, 0, 1], ValueError, r"nouts\[1\] must be a positive int, got 0"),
        ([16, -2], ValueError, r"nouts\[1\] must be a positive int, got -2"),
        ([2.5], TypeError, r"nouts\[0\] must be a positive int, got float"),
        ([True, 1], TypeError, r"nouts\[0\] must be a positive int, got bool"),
        (16, TypeError, "nouts must be a list of layer widths, got int"),
        ("16", TypeError, "nouts must be a list of layer widths, got str"),
    ],
)
def test_bad_widths_are_refused_at_construction(nouts, exc, message):
    with pytest.raises(exc, match=message):
        MLP(2, nouts)


def test_bad_init_and_seed():
    with pytest.raises(ValueError, match=r"unknown init 'lecun'"):
        MLP(2, [3], init="lecun")
    with pytest.raises(TypeError, match=r"seed must be an int, None or a random.Random"):
        Neuron(2, seed=1.5)
    with pytest.raises(TypeError, match=r"seed must be an int"):
        Neuron(2, seed=True)


def test_same_seed_same_weights_and_different_seed_different_weights():
    a, b, c = MLP(2, [8, 1], seed=7), MLP(2, [8, 1], seed=7), MLP(2, [8, 1], seed=8)
    assert a.state_dict() == b.state_dict()
    assert a.state_dict() != c.state_dict()


def test_initialisation_never_uses_the_global_rng():
    random.seed(123)
    state = random.getstate()
    np_state = np.random.get_state()[1].copy()
    MLP(2, [8, 1])
    MLP(2, [8, 1], seed=3)
    Dropout(0.5)([1.0] * 10)
    assert random.getstate() == state
    assert (np.random.get_state()[1] == np_state).all()
    # and seeding the global RNG does not make unseeded models repeat
    random.seed(0)
    a = MLP(2, [8, 1]).state_dict()
    random.seed(0)
    b = MLP(2, [8, 1]).state_dict()
    assert a != b


def test_biases_start_at_zero_and_weights_do_not():
    m = MLP(3, [5, 2], seed=0)
    for name, p in m.named_parameters():
        if name.endswith(".b"):
            assert p.data == 0.0
        else:
            assert p.data != 0.0


def test_init_schemes_respect_their_bounds_and_scale():
    xavier = Layer(30, 10, "tanh", seed=0, init="xavier")
    limit = math.sqrt(6.0 / (30 + 10))
    ws = [p.data for n in xavier.neurons for p in n.w]
    assert max(abs(w) for w in ws) <= limit
    assert max(abs(w) for w in ws) > 0.9 * limit

    uniform = Layer(25, 10, seed=0, init="uniform")
    ws = [p.data for n in uniform.neurons for p in n.w]
    assert max(abs(w) for w in ws) <= 1.0 / 5.0

    he = Layer(200, 50, seed=0, init="he")
    ws = np.array([p.data for n in he.neurons for p in n.w])
    assert ws.std() == pytest.approx(math.sqrt(2.0 / 200), rel=0.05)
    assert abs(ws.mean()) < 0.005


def test_auto_init_is_he_for_relu_and_glorot_for_tanh():
    assert Layer(4, 3, "relu", seed=1).state_dict() == Layer(4, 3, "relu", seed=1,
                                                             init="he").state_dict()
    assert Layer(4, 3, "tanh", seed=1).state_dict() == Layer(4, 3, "tanh", seed=1,
                                                             init="glorot").state_dict()


# -- calling ----------------------------------------------------------------------------------

def test_a_neuron_computes_activation_of_w_dot_x_plus_b():
    n = Neuron(2, activation="tanh", seed=0)
    set_weights(n, [0.5, -1.0], 0.25)
    assert n([2.0, 1.0]).data == pytest.approx(math.tanh(0.5 * 2.0 - 1.0 + 0.25))


def test_preactivation_is_one_sum_node():
    n = Neuron(3, activation="linear", seed=0)
    out = n([1.0, 2.0, 3.0])
    assert out.op == "sum"
    assert [p.op for p in out.parents] == ["mul", "mul", "mul", ""]
    assert out.parents[3] is n.b
    r = Neuron(3, activation="relu", seed=0)([1.0, 2.0, 3.0])
    assert r.op == "relu" and r.parents[0].op == "sum"


def test_raw_inputs_become_leaves_once_per_call_not_per_neuron():
    outs = Layer(2, 3, "linear", seed=0)([1.0, 2.0])
    first_inputs = [o.parents[0].parents[1] for o in outs]
    assert first_inputs[0] is first_inputs[1] is first_inputs[2]
    assert first_inputs[0].is_leaf and first_inputs[0].data == 1.0


@pytest.mark.parametrize(
    "x",
    [
        [1.0, 2.0, 3.0],
        (1, 2, 3),
        np.array([1.0, 2.0, 3.0]),
        np.array([1, 2, 3]),
        [np.float32(1.0), np.int64(2), 3.0],
        [Value(1.0), 2.0, Value(3.0)],
    ],
    ids=["list", "tuple", "array", "int-array", "numpy-scalars", "mixed-values"],
)
def test_inputs_may_be_numbers_values_or_a_1d_array(x):
    m = MLP(3, [4, 1], seed=0)
    assert m(x).data == pytest.approx(m([1.0, 2.0, 3.0]).data, rel=1e-15)


def test_gradients_reach_value_inputs():
    x = [Value(0.5), Value(-1.5)]
    m = MLP(2, [4, 1], activation="tanh", seed=0)
    m(x).backward()
    assert any(v.grad != 0.0 for v in x)


@pytest.mark.parametrize("module", [Neuron(3, seed=0), Layer(3, 2, seed=0), MLP(3, [2, 1], seed=0),
                                    Maxout(3, 2, seed=0)])
def test_wrong_input_length_raises_and_never_truncates(module):
    with pytest.raises(ValueError, match=r"expected 3 inputs, got 2"):
        module([1.0, 2.0])
    with pytest.raises(ValueError, match=r"expected 3 inputs, got 4"):
        module([1.0, 2.0, 3.0, 4.0])


def test_bad_input_types():
    m = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match=r"input 1 is str"):
        m([1.0, "2"])
    with pytest.raises(TypeError, match=r"input 0 is bool"):
        m([True, 1.0])
    with pytest.raises(TypeError, match=r"takes a sequence of numbers or Values, got float"):
        m(1.0)
    with pytest.raises(TypeError, match=r"got str"):
        m("ab")
    with pytest.raises(ValueError, match=r"one sample .* shape \(4, 2\); call the model once"):
        m(np.zeros((4, 2)))


def test_return_types_do_not_depend_on_width():
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), list)
    assert len(Layer(2, 1, seed=0)([1.0, 2.0])) == 1
    assert isinstance(Layer(2, 3, seed=0)([1.0, 2.0]), list)
    assert isinstance(MLP(2, [3, 1], seed=0)([1.0, 2.0]), Value)
    out = MLP(2, [3, 2], seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2
    assert isinstance(Neuron(2, seed=0)([1.0, 2.0]), Value)


def test_narrow_hidden_layers_work():
    m = MLP(2, [16, 1, 1], seed=0)
    out = m([0.3, -0.7])
    assert isinstance(out, Value)
    out.backward()
    assert len(m.parameters()) == 16 * 3 + 17 + 2


def test_mlp_gradients_match_central_differences():
    m = MLP(3, [4, 3, 2], activation="tanh", seed=0)
    x = [0.3, -0.8, 1.1]

    def loss():
        a, b = m(x)
        return (a * a + b * 3.0).data

    with no_grad():
        base = loss()
    a, b = m(x)
    (a * a + b * 3.0).backward()
    h = 1e-6
    for name, p in m.named_parameters():
        analytic = p.grad
        old = p.data
        with no_grad():
            p.data = old + h
            up = loss()
            p.data = old - h
            down = loss()
        p.data = old
        assert analytic == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8), name
    assert base == pytest.approx(loss())


# -- parameters and names ---------------------------------------------------------------------

def test_parameter_order_and_dotted_names():
    m = MLP(2, [2, 1], seed=0)
    assert [n for n, _ in m.named_parameters()] == [
        "layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0", "layers.0.neurons.1.w.1", "layers.0.neurons.1.b",
        "layers.1.neurons.0.w.0", "layers.1.neurons.0.w.1", "layers.1.neurons.0.b",
    ]
    assert m.parameters() == [p for _, p in m.named_parameters()]
    assert m.parameters()[0] is m.layers[0].neurons[0].w[0]
    assert m.parameters() == m.parameters()  # stable across calls
    assert MLP(2, [16, 16, 1], seed=0).num_parameters() == 337


def test_each_parameter_once_when_shared():
    layer = Layer(2, 2, seed=0)
    twice = Sequential(layer, layer)
    assert len(twice.parameters()) == 6
    assert twice.named_parameters()[0][0] == "layers.0.neurons.0.w.0"

    class Tied(Module):
        def __init__(self):
            self.w = Value(1.0)
            self.pair = [self.w, Value(2.0)]
            self.inner = Neuron(1, seed=0)
            self.again = (self.inner,)

    t = Tied()
    assert [n for n, _ in t.named_parameters()] == ["w", "pair.1", "inner.w.0", "inner.b"]


def test_walk_collects_values_modules_and_nested_lists_and_ignores_the_rest():
    class Custom(Module):
        def __init__(self):
            self.scale = 2.0
            self.name = "custom"
            self.table = {"x": Value(9.0)}  # dicts are not walked
            self.grid = [[Value(1.0), Value(2.0)], [Neuron(1, seed=0)]]
            self.bias = Value(0.5)

    c = Custom()
    assert [n for n, _ in c.named_parameters()] == [
        "grid.0.0", "grid.0.1", "grid.1.0.w.0", "grid.1.0.b", "bias"]
    assert repr(c.architecture()) == "{'type': 'custom', 'class': 'Custom'}"


def test_zero_grad_train_and_eval():
    m = MLP(2, [3, 1], seed=0)
    m([1.0, 2.0]).backward()
    assert any(p.grad != 0.0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())
    assert m.eval() is m and not m.training
    assert all(not sub.training for sub in m.modules())
    assert m.train() is m and m.training and m.layers[1].neurons[0].training
    with pytest.raises(TypeError, match=r"needs a bool"):
        m.train("yes")


def test_forgetting_zero_grad_doubles_gradients():
    m = MLP(2, [3, 1], seed=0)
    m([1.0, 2.0]).backward()
    once = [p.grad for p in m.parameters()]
    m([1.0, 2.0]).backward()
    assert [p.grad for p in m.parameters()] == [2 * g for g in once]


# -- state dicts --------------------------------------------------------------------------------

def test_state_dict_is_plain_floats_in_parameter_order():
    m = MLP(2, [3, 1], seed=0)
    state = m.state_dict()
    assert list(state) == [n for n, _ in m.named_parameters()]
    assert all(type(v) is float for v in state.values())


def test_load_state_dict_updates_data_in_place():
    a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    before = b.parameters()
    opt = SGD(b.parameters(), lr=0.1, momentum=0.9)
    b.load_state_dict(a.state_dict())
    assert b.parameters() == before  # the same Value objects
    assert all(x is y for x, y in zip(b.parameters(), opt.params))
    assert b.state_dict() == a.state_dict()


def test_load_state_dict_lists_missing_and_unexpected_names():
    m = MLP(2, [3, 1], seed=0)
    state = m.state_dict()
    del state["layers.1.neurons.0.b"]
    state["layers.9.neurons.0.b"] = 1.0
    with pytest.raises(ValueError, match=(
            r"expected 13 parameters, found 13; missing: 'layers.1.neurons.0.b'; "
            r"unexpected: 'layers.9.neurons.0.b'")):
        m.load_state_dict(state)
    with pytest.raises(ValueError, match=r"expected 13 parameters, found 17"):
        m.load_state_dict(MLP(2, [4, 1], seed=0).state_dict())


def test_load_state_dict_checks_everything_before_assigning_anything():
    m = MLP(2, [3, 1], seed=0)
    before = m.state_dict()
    for bad, exc, message in [(True, TypeError, "must be a real number, got bool"),
                              ("1.0", TypeError, "got str"),
                              (math.nan, ValueError, "is nan; pass allow_nonfinite=True")]:
        state = {n: 0.5 for n in before}
        state["layers.1.neurons.0.b"] = bad  # the last one: all others would be assigned first
        with pytest.raises(exc, match=message):
            m.load_state_dict(state)
        assert m.state_dict() == before
    with pytest.raises(TypeError, match=r"needs a mapping"):
        m.load_state_dict([0.0] * 13)


def test_deepcopy_gives_an_independent_model():
    import copy

    m = MLP(2, [3, 1], "leaky_relu", seed=0)
    c = copy.deepcopy(m)
    assert c.state_dict() == m.state_dict() and repr(c) == repr(m)
    before = m.state_dict()
    c.parameters()[0].data += 1.0
    assert m.state_dict() == before != c.state_dict()
    assert not set(map(id, c.parameters())) & set(map(id, m.parameters()))


# -- reprs ------------------------------------------------------------------------------------

def test_reprs_tell_the_architecture():
    assert repr(MLP(2, [16, 16, 1], seed=0)) == "MLP(2 -> [16, 16, 1], relu -> linear)"
    assert repr(MLP(3, [4, 2], "tanh", "sigmoid", seed=0)) == "MLP(3 -> [4, 2], tanh -> sigmoid)"
    assert repr(Layer(2, 16, "relu", seed=0)) == "Layer(2 -> 16, relu)"
    assert repr(Neuron(3, "sigmoid", seed=0)) == "Neuron(3, sigmoid)"
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(Maxout(2, 3, pieces=4, seed=0)) == "Maxout(2 -> 3, pieces=4)"
    assert repr(Sequential(Layer(2, 4, seed=0), Dropout(0.5), Layer(4, 1, "linear", seed=0))) == (
        "Sequential(Layer(2 -> 4, relu), Dropout(p=0.5), Layer(4 -> 1, linear))")


# -- dropout ----------------------------------------------------------------------------------

def test_dropout_acts_only_in_training_mode_and_keeps_the_mean():
    d = Dropout(0.3, seed=0)
    out = [v.data for v in d([1.0] * 20000)]
    kept = [v for v in out if v != 0.0]
    assert set(kept) == {1.0 / 0.7}
    assert len(kept) / 20000 == pytest.approx(0.7, abs=0.01)
    assert sum(out) / 20000 == pytest.approx(1.0, abs=0.02)
    d.eval()
    xs = [Value(1.0), Value(2.0)]
    assert d(xs) == xs


def test_dropout_gradients_are_zero_or_the_scale():
    d = Dropout(0.5, seed=1)
    xs = [Value(1.0) for _ in range(20)]
    out = d(xs)
    Value.sum(out).backward()
    assert {x.grad for x in xs} == {0.0, 2.0}
    assert [x.grad == 0.0 for x in xs] == [o.data == 0.0 for o in out]


def test_dropout_is_seeded_and_checks_p():
    assert [v.data for v in Dropout(0.5, seed=3)([1.0] * 30)] == [
        v.data for v in Dropout(0.5, seed=3)([1.0] * 30)]
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
            Dropout(bad)
    with pytest.raises(TypeError, match=r"p must be a real number"):
        Dropout("0.5")


def test_custom_modules_are_traceable_only_when_they_say_so():
    class Branchy(Module):
        def __init__(self):
            self.w = Value(1.0)

        def __call__(self, x):
            return self.w * x if x.data > 0 else self.w  # the graph depends on the data

    class Affine(Branchy):
        trace_safe = True

    assert not Branchy().traceable
    assert Affine().traceable
    assert not Sequential(Layer(1, 1, seed=0), Branchy()).traceable


def test_traceable_is_false_only_while_dropout_is_active():
    net = Sequential(Layer(2, 4, seed=0), Dropout(0.5, seed=0), Layer(4, 1, "linear", seed=0))
    assert MLP(2, [3, 1], seed=0).traceable
    assert not net.traceable
    assert net.eval().traceable
    assert net.train().traceable is False
    assert Sequential(Layer(2, 4, seed=0), Dropout(0.0)).traceable


def test_untraceable_reason_says_which_module_and_why():
    class Branchy(Module):
        def __call__(self, x):
            return x

    drop = Dropout(0.5, seed=0)
    assert drop.untraceable_reason() == ("Dropout(p=0.5) is active in training mode (the "
                                         "tape would freeze its mask)")
    assert drop.eval().untraceable_reason() is None
    assert Branchy().untraceable_reason() == "Branchy does not declare trace_safe = True"
    assert all(m.untraceable_reason() is None for m in MLP(2, [3, 1], seed=0).modules())


def test_mode_switches_for_a_block_and_restores_every_module_after():
    net = Sequential(Layer(2, 4, seed=0), Dropout(0.5, seed=0), Layer(4, 1, seed=0))
    net[1].eval()  # one sub-module in its own mode: train(was) would overwrite it
    with net.mode(False) as same:
        assert same is net and not any(m.training for m in net.modules())
    assert [m.training for m in net.layers] == [True, False, True] and net.training
    with pytest.raises(ZeroDivisionError), net.mode(True):
        assert all(m.training for m in net.modules())
        1 / 0  # noqa: B018 - an error inside the block
    assert [m.training for m in net.layers] == [True, False, True]
    with pytest.raises(TypeError, match="needs a bool"), net.mode(1):
        pass
    assert [m.training for m in net.layers] == [True, False, True]


def test_every_model_says_what_its_outputs_went_through():
    cases = {
        MLP(2, [3, 1], seed=0): "linear",
        MLP(2, [3, 1], output_activation="sigmoid", seed=0): "sigmoid",
        Neuron(2, "tanh", seed=0): "tanh",
        Layer(2, 3, Activation("leaky_relu", alpha=0.2), seed=0): "leaky_relu",
        Maxout(2, 1, seed=0): "linear",  # the max of linear pieces
        Sequential(Layer(2, 2, "sigmoid", seed=0), Dropout(0.1)): "sigmoid",
        Sequential(Dropout(0.1)): None,
        Dropout(0.1): None,
    }
    for model, name in cases.items():
        act = model.output_activation
        assert (None if act is None else act.name) == name, model
    assert Layer(2, 3, Activation("leaky_relu", alpha=0.2), seed=0).output_activation.alpha \
        == 0.2

    class Scores(Module):  # a model of one's own may say it too
        output_activation = "sigmoid"

    assert Scores().output_activation == "sigmoid" and Module().output_activation is None


def test_activations_that_are_ops_are_the_rule_tables():
    """relu ... softplus are rows of chainrule.engine.RULES: nn calls the row's Value
    method and takes alpha's default from the row, so a default is written once."""
    from chainrule.engine import RULES

    ops = [name for name in ACTIVATIONS if name in RULES]
    assert ops == ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus"]
    for name in ops:
        rule = RULES[name]
        act = Activation(name)
        assert act.alpha == rule.arguments.get("alpha"), name
        x = Value(-0.75)
        assert act(x).op == rule.name and act(x).data == getattr(x, rule.method)().data
    assert set(ACTIVATIONS) - set(ops) == {"linear", "swish"}  # compositions


def test_nn_modules_import_each_other_in_one_direction():
    """module.py is the base (modules know how to save themselves); persistence, losses,
    optim and training build on it, and nothing imports back in a cycle."""
    import ast
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "nn"
    imports = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= {node.module} if node.module else {a.name for a in node.names}
        imports[path.stem] = names - {"__init__"}
    assert imports["module"] == {"files"}
    assert imports["files"] == set()

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n)))
                   for n in imports.get(start, ()))

    cycles = [m for m in imports if m != "__init__" and reaches(m, m)]
    assert cycles == []


# -- maxout and sequential -----------------------------------------------------------------------

def test_backprop_notes_maxout_is_max_of_two_affine_pieces_and_routes_the_gradient():
    m = Maxout(2, 1, pieces=2, seed=0)
    p1, p2 = m.units[0].pieces
    set_weights(p1, [1.0, 2.0], 0.5)   # w1.x + b1 = 1*1 + 2*(-1) + 0.5 = -0.5
    set_weights(p2, [-1.0, 0.5], 1.0)  # w2.x + b2 = -1 - 0.5 + 1 = -0.5 ... tie broken below
    p2.b.data = 2.0                    # now 0.5: piece 2 wins
    (out,) = m([1.0, -1.0])
    assert out.data == 0.5
    out.backward()
    assert [w.grad for w in p1.w] == [0.0, 0.0] and p1.b.grad == 0.0
    assert [w.grad for w in p2.w] == [1.0, -1.0] and p2.b.grad == 1.0
    assert m.num_parameters() == 6
    assert [n for n, _ in m.named_parameters()][:3] == [
        "units.0.pieces.0.w.0", "units.0.pieces.0.w.1", "units.0.pieces.0.b"]


def test_sequential_composes_and_names_by_position():
    first, last = Layer(2, 3, "tanh", seed=0), Layer(3, 1, "linear", seed=1)
    net = Sequential(first, Dropout(0.5, seed=0), last).eval()
    x = [0.2, -0.4]
    assert net(x)[0].data == last(first(x))[0].data
    assert net.nin == 2 and len(net) == 3 and net[2] is last
    assert [n for n, _ in net.named_parameters()][-1] == "layers.2.neurons.0.b"
    with pytest.raises(ValueError, match=r"at least one module"):
        Sequential()
    with pytest.raises(TypeError, match=r"item 1 is function, not a Module"):
        Sequential(first, lambda x: x)


# -- worked examples from the lecture notes ------------------------------------------------------

def test_ntnu_two_two_one_network_forward_and_bp_equations():
    """2 inputs, 2 sigmoid hidden units (no hidden bias), 1 sigmoid output,
    w1 = [[1, .5], [.1, 0]], w2 = [.2, .8], b2 = .75, x = [0, 1], y = 1,
    C = (y_hat - y)^2, learning rate 0.4.

    The slide's forward numbers reproduce (a1 = [0.62, 0.5], y_hat = 0.78). Its backward
    numbers do not: it writes 2(0.78 - 1) = 0.44 (the sign is lost) and rounds
    0.78 (1 - 0.78) = 0.17 up to 0.20, so it steps the wrong way (b2' = 0.71). The true
    delta2 is 2(y_hat - y) y_hat (1 - y_hat) = -0.0746 and b2' = 0.78; the gradients
    below are checked against the BP1-BP4 equations instead.
    """
    m = MLP(2, [2, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    h0, h1 = m.layers[0].neurons
    out = m.layers[1].neurons[0]
    set_weights(h0, [1.0, 0.5], 0.0)
    set_weights(h1, [0.1, 0.0], 0.0)
    set_weights(out, [0.2, 0.8], 0.75)
    x = [0.0, 1.0]
    a1 = [a.data for a in m.layers[0](x)]
    assert [round(a, 2) for a in a1] == [0.62, 0.5]
    y_hat = m(x)
    assert round(y_hat.data, 2) == 0.78
    params = [p for p in m.parameters() if p not in (h0.b, h1.b)]  # the slide has no b1
    opt = SGD(params, lr=0.4)
    mse_loss(y_hat, 1.0).backward()
    yh = y_hat.data
    delta2 = 2.0 * (yh - 1.0) * yh * (1.0 - yh)                           # BP1
    assert round(delta2, 4) == -0.0746
    assert out.b.grad == pytest.approx(delta2, rel=1e-12)                   # BP3
    assert [w.grad for w in out.w] == pytest.approx([a * delta2 for a in a1], rel=1e-12)  # BP4
    delta1 = [w * delta2 * a * (1.0 - a) for w, a in zip([0.2, 0.8], a1)]   # BP2
    assert [w.grad for w in h0.w] == pytest.approx([0.0, delta1[0]], rel=1e-12)
    assert [w.grad for w in h1.w] == pytest.approx([0.0, delta1[1]], rel=1e-12)
    opt.step()
    assert round(out.b.data, 2) == 0.78
    assert out.b.data == pytest.approx(0.75 - 0.4 * delta2, rel=1e-15)


def test_douglas_single_sigmoid_neuron():
    """X = (0.1, 0.3), W = (0.5, 0.2), b = 1.83, target 0.03: s = 1.94,
    out = 0.874352143, E = 0.356465271; the delta-rule update with rate 0.01
    (the gradient of the cross-entropy of a sigmoid unit) gives
    b = 1.821556479, W = (0.499155648, 0.197466943)."""
    n = Neuron(2, activation="sigmoid", seed=0)
    set_weights(n, [0.5, 0.2], 1.83)
    out = n([0.1, 0.3])
    assert round(out.parents[0].data, 9) == 1.94
    assert round(out.data, 9) == 0.874352143
    assert round(0.5 * mse_loss(out, 0.03).data, 9) == 0.356465271
    opt = SGD(n.parameters(), lr=0.01)
    binary_cross_entropy(out, 0.03).backward()
    opt.step()
    # the slide truncates to 9 decimals (0.1974669435... is printed 0.197466943)
    assert n.b.data == pytest.approx(1.821556479, abs=1e-9)
    assert [w.data for w in n.w] == pytest.approx([0.499155648, 0.197466943], abs=1e-9)


# -- the examples in the docstrings hold ---------------------------------------------------------

@pytest.mark.parametrize("name", ["module", "losses", "optim", "data", "training", "persistence"])
def test_docstring_examples(name):
    import doctest
    import importlib

    mod = importlib.import_module(f"chainrule.nn.{name}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
