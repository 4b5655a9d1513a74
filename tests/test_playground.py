"""The playground: settings, tape-replayed training, pictures, widgets driven from Python,
the state string (round trip and hostile input), saving the model."""

from __future__ import annotations

import asyncio
import json
import math
import shutil

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("PIL")

from chainrule.engine import Value
from chainrule.nn import binary_cross_entropy_with_logits, l1_penalty, l2_penalty, load
from chainrule.viz.playground import FEATURES, Playground, Settings, Trainer, parse_state
from chainrule.viz.playground.core import GRID, MAX_STATE_CHARS

MOONS = {"dataset": "moons", "hidden": (8, 8), "batch_size": 10}


def weights(model) -> list[float]:
    return [p.data for p in model.parameters()]


# -- settings ----------------------------------------------------------------

def test_settings_defaults_are_the_playground_defaults():
    s = Settings().validated()
    assert (s.dataset, s.features, s.hidden, s.activation) == ("circle", ("x1", "x2"), (4, 2),
                                                                 "tanh")
    assert (s.learning_rate, s.batch_size, s.train_ratio, s.noise) == (0.03, 10, 50, 0)
    # features come back in the canonical order, whatever order they were given in
    assert Settings(features=["sin x2", "x1"]).validated().features == ("x1", "sin x2")


@pytest.mark.parametrize(("changes", "message"), [
    ({"dataset": "iris"}, "dataset must be one of"),
    ({"noise": 51}, "noise must be from 0 to 50"),
    ({"noise": True}, "noise must be an int"),
    ({"train_ratio": 5}, "train_ratio must be from 10 to 90"),
    ({"batch_size": 0}, "batch_size must be from 1 to 100"),
    ({"batch_size": 2.0}, "batch_size must be an int"),
    ({"features": []}, "at least one input feature"),
    ({"features": ["x1", "x1"]}, "lists a feature twice"),
    ({"features": ["x3"]}, "features must be one of"),
    ({"features": "x1"}, "features must be a list"),
    ({"hidden": [4] * 7}, "at most 6 hidden layers"),
    ({"hidden": [9]}, r"hidden\[0\] must be from 1 to 8"),
    ({"hidden": [0]}, r"hidden\[0\] must be from 1 to 8"),
    ({"activation": "gelu"}, "activation must be one of"),
    ({"learning_rate": 0}, r"learning_rate must be a finite number in \(0.0, 10.0\]"),
    ({"learning_rate": math.nan}, "learning_rate must be a finite number"),
    ({"regularization": "L3"}, "regularization must be one of"),
    ({"regularization_rate": -0.1}, "regularization_rate must be a finite number"),
    ({"optimizer": "lbfgs"}, "optimizer must be one of"),
    ({"seed": -1}, "seed must be from 0"),
])
def test_bad_settings_name_the_setting_and_the_value(changes, message):
    with pytest.raises(ValueError, match=message):
        Settings(**changes).validated()


# -- training ----------------------------------------------------------------

@pytest.fixture(scope="module")
def moons():
    return Trainer(Settings(**MOONS))


def test_data_split_and_shapes(moons):
    assert len(moons.X_train) == 250 and len(moons.X_test) == 250
    assert moons.F_train.shape == (250, 2)
    # features are standardised with the training points' statistics
    np.testing.assert_allclose(moons.F_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(moons.F_train.std(axis=0), 1.0, atol=1e-12)
    assert np.abs(moons.X_train).max() <= 6.0  # inside the Playground's square


def test_one_tape_step_equals_the_scalar_path_with_penalty():
    """The replayed batch gradient plus the scalar penalty is the scalar engine's
    gradient of mean loss + penalty: one SGD step moves every weight the same."""
    for reg, penalty in (("l1", l1_penalty), ("l2", l2_penalty)):
        t = Trainer(Settings(**MOONS, regularization=reg, regularization_rate=0.03,
                             learning_rate=0.1))
        idx = t._order[:10]
        before = weights(t.model)
        # the scalar path, by hand
        t.model.zero_grad()
        outs = [t.model(list(row)) for row in t.F_train[idx]]
        loss = binary_cross_entropy_with_logits(outs, t.y_train[idx].tolist())
        loss = loss + penalty(t.weights, 0.03)
        loss.backward()
        expected = [w - 0.1 * p.grad for w, p in zip(before, t.model.parameters())]
        t.model.zero_grad()
        t.step(1)
        np.testing.assert_allclose(weights(t.model), expected, rtol=1e-12, atol=1e-15)
        biases = [n.b for layer in t.model.layers for n in layer.neurons]
        assert not any(b in t.weights for b in biases)  # biases are not penalised


def test_training_learns_moons_and_counts_epochs():
    t = Trainer(Settings(**MOONS, learning_rate=0.1))
    train0, test0 = t.losses()
    t.step(250)  # 25 steps per epoch of 250 training points
    assert (t.steps, t.epoch) == (250, 10)
    assert t.history.epoch == list(range(11))
    assert t.history.train[0] == pytest.approx(train0)
    train, test = t.losses()
    assert train < 0.5 * train0 and test < 0.5 * test0
    assert t.accuracy()[1] > 0.85
    assert all(p.grad == 0.0 for p in t.params)  # left clean for drawing


@pytest.mark.parametrize("dataset", ["circle", "xor", "gaussians", "spiral", "moons",
                                     "plane (regression)", "two bumps (regression)"])
def test_every_data_set_trains_with_every_feature(dataset):
    t = Trainer(Settings(dataset=dataset, noise=30, features=list(FEATURES), hidden=(3,),
                         activation="relu", optimizer="adam", learning_rate=0.01))
    assert t.F_train.shape == (250, 7)
    if not t.settings.regression:
        assert set(np.unique(t.y_train).tolist()) == {0.0, 1.0}
    before = t.losses()[0]
    t.step(50)
    assert t.losses()[0] < before
    assert [m.shape for m in t.heatmaps()["neurons"][0]] == [(GRID, GRID)] * 3


def test_a_short_last_batch_ends_the_epoch():
    t = Trainer(Settings(**{**MOONS, "batch_size": 30}))
    t.step(8)  # 8 x 30 = 240 of 250 points
    assert t.epoch == 0
    t.step(1)  # the last 10 points
    assert (t.epoch, t._pos) == (1, 0)


def test_same_seed_same_run_and_different_seed_different_run():
    a, b = Trainer(Settings(**MOONS)), Trainer(Settings(**MOONS))
    a.step(30)
    b.step(30)
    assert weights(a.model) == weights(b.model)
    c = Trainer(Settings(**MOONS, seed=1))
    assert weights(c.model) != weights(Trainer(Settings(**MOONS)).model)


def test_update_rebuilds_only_what_changed():
    t = Trainer(Settings(**MOONS))
    t.step(5)
    w = weights(t.model)
    data = t.X_train.copy()
    t.update(learning_rate=0.3, batch_size=5, regularization="l2", regularization_rate=0.01)
    assert weights(t.model) == w and t.optimizer.lr == 0.3 and t.steps == 5
    t.update(optimizer="adam")
    assert type(t.optimizer).__name__ == "Adam" and weights(t.model) == w
    t.update(activation="relu")
    assert t.model.activation.name == "relu" and t.steps == 0
    np.testing.assert_array_equal(t.X_train, data)
    t.update(hidden=[3], features=["x1", "x2", "x1*x2"])
    assert t.model.nin == 3 and t.model.nouts == [3, 1]
    t.update(dataset="spiral", noise=20)
    assert not np.array_equal(t.X_train, data)
    with pytest.raises(ValueError, match="hidden\\[0\\] must be from 1 to 8"):
        t.update(hidden=[12])
    assert t.settings.hidden == (3,)  # unchanged
    with pytest.raises(ValueError, match="unknown playground setting"):
        t.update(colour="red")


def test_a_diverging_step_raises_and_changes_nothing():
    t = Trainer(Settings(**MOONS))
    t.model.layers[-1].neurons[0].b.data = 1e308  # the logit overflows to inf
    t.model.layers[-1].neurons[0].w[0].data = 1e308
    before = weights(t.model)
    with pytest.raises(FloatingPointError, match="the loss became inf at step 1"):
        t.step(1)
    assert weights(t.model) == before and t.steps == 0
    assert all(p.grad == 0.0 for p in t.params)  # fit's train_step: nothing half done


def test_epochs_done_counts_the_current_epochs_share():
    t = Trainer(Settings(**MOONS))
    n = len(t.X_train)
    assert t.epochs_done == 0.0
    t.step(3)
    assert t.epochs_done == pytest.approx(3 * t.settings.batch_size / n)
    t.step(-(-n // t.settings.batch_size) - 3)  # to the end of the first epoch
    assert t.epoch == 1 and t.epochs_done == 1.0


def test_training_and_sample_graphs_work_inside_no_grad():
    """The penalty and the sample's graph are scalar-engine graphs: inside a caller's
    no_grad() they used to fail with 'computed under no_grad'."""
    from chainrule.engine import is_grad_enabled, no_grad

    settings = Settings(**{**MOONS, "regularization": "l2", "regularization_rate": 0.01})
    outside, inside = Trainer(settings), Trainer(settings)
    outside.step(5)
    with no_grad():
        inside.step(5)
        _, loss = inside.sample_graph(0)
        assert not is_grad_enabled()
    assert weights(inside.model) == weights(outside.model)
    assert loss.parents and any(p.grad != 0.0 for p in inside.params)


def test_regression_uses_mse_and_a_clipped_value():
    t = Trainer(Settings(dataset="plane (regression)", hidden=(4,), learning_rate=0.03))
    assert t.settings.regression and t.accuracy() is None
    before = t.losses()[0]
    t.step(200)
    assert t.losses()[0] < before
    out = t.heatmaps()["output"]
    assert out.shape == (GRID, GRID) and out.min() >= -1.0 and out.max() <= 1.0


def test_heatmaps_follow_the_network(moons):
    maps = moons.heatmaps()
    assert len(maps["features"]) == 2 and [len(layer) for layer in maps["neurons"]] == [8, 8]
    for heat in [*maps["features"], *maps["neurons"][0], *maps["neurons"][1]]:
        assert heat.shape == (GRID, GRID) and np.abs(heat).max() == pytest.approx(1.0)
    # x1 grows to the right, x2 to the top (row 0 is the top of the picture)
    x1, x2 = maps["features"]
    assert x1[0, 0] == -1.0 and x1[0, -1] == 1.0 and x2[0, 0] == 1.0 and x2[-1, 0] == -1.0
    z = moons.outputs(moons.F_grid).reshape(GRID, GRID)
    np.testing.assert_allclose(maps["output"], np.tanh(z / 2))  # 2 sigmoid(z) - 1


def test_sample_graph_is_the_scalar_engine(moons):
    out, loss = moons.sample_graph(3)
    assert isinstance(loss, Value) and loss.label == "loss"
    z = moons.outputs(moons.F_train[3:4])[0]
    assert out.data == pytest.approx(z, rel=1e-12)
    assert any(p.grad != 0.0 for p in moons.params)
    moons.clear_grads()
    with pytest.raises(ValueError, match="point index must be an int from 0 to 249"):
        moons.sample_graph(250)


# -- the widget, driven from Python ------------------------------------------------------------

@pytest.fixture
def app():
    return Playground(**MOONS)


def test_controls_change_the_trainer_and_the_pictures(app):
    picture = app.network_image.value
    app.controls["activation"].value = "relu"
    assert app.trainer.model.activation.name == "relu"
    assert app.network_image.value != picture
    app.controls["learning_rate"].value = 0.1
    assert app.trainer.optimizer.lr == 0.1
    app.feature_buttons["x1*x2"].value = True
    assert app.trainer.settings.features == ("x1", "x2", "x1*x2") and app.trainer.model.nin == 3
    app.add_layer.click()
    assert app.trainer.settings.hidden == (8, 8, 8)
    app.remove_layer.click()
    app.remove_layer.click()
    assert app.trainer.settings.hidden == (8,)
    plus = app.layer_box.children[0].children[2]
    plus.click()  # already 8: stays 8
    minus = app.layer_box.children[0].children[0]
    minus.click()
    assert app.trainer.settings.hidden == (7,)
    app.controls["dataset"].value = "xor"
    assert app.trainer.settings.dataset == "xor"


def test_turning_off_the_last_feature_is_refused(app):
    app.feature_buttons["x2"].value = False
    app.feature_buttons["x1"].value = False
    assert app.trainer.settings.features == ("x1",)
    assert app.feature_buttons["x1"].value is True
    assert "at least one input feature" in app.status.value


def test_step_reset_and_counters(app):
    loss_picture, output = app.loss_image.value, app.output_image.value
    app.step_button.click()
    assert app.trainer.steps == 1 and "step <b>1</b>" in app.counter.value
    app.step(49)
    assert app.trainer.epoch == 2 and len(app.trainer.history.train) == 3
    assert app.loss_image.value != loss_picture and app.output_image.value != output
    assert "test accuracy" in app.counter.value
    app.reset_button.click()
    assert (app.trainer.steps, app.trainer.epoch, len(app.trainer.history.train)) == (0, 0, 1)


def test_play_trains_in_the_background_until_paused(app):
    app.speed = 5

    async def session() -> tuple[int, bool]:
        task = app.play()
        assert app.playing and "pause" in app.play_button.description
        await asyncio.sleep(0.3)
        app.pause()
        await task
        return app.trainer.steps, app.playing

    steps, playing = asyncio.run(session())
    assert app.trainer.steps == steps
    assert steps >= 5 and steps % 5 == 0 and not playing and app.frames >= 1
    assert "play" in app.play_button.description
    with pytest.raises(RuntimeError, match="needs a running asyncio event loop"):
        app.play()

    async def pause_and_play_within_a_frame() -> int:
        task = app.play()
        await asyncio.sleep(0.05)
        app.pause()
        assert app.play() is task  # the same loop carries on
        await asyncio.sleep(0.3)
        app.pause()
        await task
        return app.trainer.steps

    assert asyncio.run(pause_and_play_within_a_frame()) > steps + 5


def test_play_stops_with_a_message_when_training_diverges(app):
    app.trainer.model.layers[-1].neurons[0].b.data = 1e308
    app.trainer.model.layers[-1].neurons[0].w[0].data = 1e308

    async def session() -> None:
        await app.play()

    asyncio.run(session())
    assert not app.playing and "the loss became inf" in app.status.value


def test_clicking_a_neuron_inspects_it_and_clicking_the_output_picks_a_point(app):
    inspector = app.inspector_image.value
    x0, y0, x1, y1 = app.picture.boxes[("neuron", 0, 2)]
    app._on_network_click({"dataX": (x0 + x1) / 2, "dataY": (y0 + y1) / 2})
    assert app.selected == ("neuron", 0, 2) and app.neuron_choice.value == ("neuron", 0, 2)
    assert app.inspector_image.value != inspector
    app._on_network_click({"dataX": 1, "dataY": 1})  # not on a tile: nothing changes
    assert app.selected == ("neuron", 0, 2)
    app.neuron_choice.value = ("feature", 1)
    assert app.selected == ("feature", 1)
    with pytest.raises(ValueError, match="no such neuron"):
        app.select(("neuron", 5, 0))
    # the output picture's top-left corner is (-6, 6); pick the nearest training point
    target = app.trainer.X_train[7]
    left, top, size = 28, 20, 300
    x = left + (target[0] + 6) / 12 * size
    y = top + (6 - target[1]) / 12 * size
    app._on_output_click({"dataX": x, "dataY": y})
    assert app.point == 7 and app.point_box.value == 7


def test_removing_the_inspected_layer_falls_back_to_the_output(app):
    app.select(("neuron", 1, 3))
    app.remove_layer.click()
    assert app.selected == ("neuron", 1, 0)  # the output neuron of 2-[8]-1


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz dot")
def test_graph_of_a_point_is_drawn_by_the_scalar_engine(app):
    app.select_point(4)
    app.graph_button.click()
    assert app.graph_view.value.startswith("<svg")
    assert "layer 1" in app.last_graph.source  # neuron boxes of draw_summary
    assert all(p.grad == 0.0 for p in app.trainer.params)
    app.gates_box.value = True
    dot = app.draw_point_graph()
    assert "softplus" in dot.source  # every gate, down to the loss's softplus


# -- the state string ----------------------------------------------------------------

def test_state_round_trip_restores_everything_and_continues_the_same_run(app):
    app.set(optimizer="sgd", regularization="l2", regularization_rate=0.001)
    app.step(37)
    app.select(("neuron", 1, 4))
    app.select_point(12)
    app.discretize_box.value = True
    text = app.to_json()
    again = Playground(state=text)
    t, u = app.trainer, again.trainer
    assert u.settings == t.settings and (u.epoch, u.steps) == (t.epoch, t.steps)
    assert weights(u.model) == weights(t.model)
    assert u.history == t.history
    assert (again.selected, again.point, again.discretize) == (("neuron", 1, 4), 12, True)
    assert again.controls["regularization"].value == "l2" and again.discretize_box.value
    assert again.output_image.value == app.output_image.value
    app.step(30)
    again.step(30)  # same batches in the same order: plain SGD lands on the same weights
    assert weights(again.trainer.model) == weights(app.trainer.model)
    assert again.to_json() == app.to_json()


def test_state_buttons_fill_and_read_the_text_box(app):
    app.step(3)
    app.save_state_button.click()
    saved = app.state_text.value
    assert json.loads(saved)["step"] == 3
    app.step(3)
    app.load_state_button.click()
    assert app.trainer.steps == 3 and "state loaded" in app.status.value
    app.state_text.value = "{not json"
    app.load_state_button.click()
    assert "not valid JSON" in app.status.value and app.trainer.steps == 3


def good_state() -> dict:
    return json.loads(Playground(**MOONS).to_json())


def mutated(edit) -> str:
    doc = good_state()
    edit(doc)
    return json.dumps(doc)


@pytest.mark.parametrize(("text", "message"), [
    ("", "the string is empty"),
    ("[1, 2]", "must be a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply|not valid JSON"),
    ("x" * (MAX_STATE_CHARS + 1), "more than the 1000000 allowed"),
    ('{"format": "chainrule.playground", "format": "x"}', "duplicate key 'format'"),
    (mutated(lambda d: d.update(format="pickle")), "format must be 'chainrule.playground'"),
    (mutated(lambda d: d.update(version=2)), "unsupported version 2"),
    (mutated(lambda d: d.update(version=True)), "unsupported version True"),
    (mutated(lambda d: d.update(code="__import__('os')")), "unexpected keys \\['code'\\]"),
    (mutated(lambda d: d.pop("settings")), "missing keys \\['settings'\\]"),
    (mutated(lambda d: d["settings"].update(hidden=[8] * 50)), "at most 6 hidden layers"),
    (mutated(lambda d: d["settings"].update(batch_size="10")), "batch_size must be an int"),
    (mutated(lambda d: d["settings"].update(evil=1)), "unknown settings \\['evil'\\]"),
    (mutated(lambda d: d.update(parameters=[0.0] * 3)), "has 3 numbers, the network needs 105"),
    (mutated(lambda d: d["parameters"].__setitem__(0, "1")), "parameters\\[0\\] must be a finite"),
    (mutated(lambda d: d.update(step=-1)), "step must be an int >= 0"),
    (mutated(lambda d: d.update(epoch=1e300)), "epoch must be an int >= 0"),
    (mutated(lambda d: d["history"].update(train=[])), "history.train must be a list as long"),
    (mutated(lambda d: d.update(view={"selected": "all"})), "view.selected must be"),
    (mutated(lambda d: d.update(view={"speed": 10**9})), "view.speed must be one of"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_corrupt_or_hostile_state_strings_raise_value_error(text, message):
    app = Playground(**MOONS)
    app.step(2)
    before = (app.to_json(), weights(app.trainer.model))
    with pytest.raises(ValueError, match=message):
        app.load_json(text)
    assert (app.to_json(), weights(app.trainer.model)) == before  # nothing changed


def test_nan_in_a_state_string_is_refused():
    text = Playground(**MOONS).to_json().replace('"parameters":[', '"parameters":[NaN,', 1)
    with pytest.raises(ValueError, match="NaN is not allowed"):
        parse_state(text)
    with pytest.raises(ValueError, match="must be a JSON string, got int"):
        Playground(state=3)
    with pytest.raises(ValueError, match="a state string or settings, not both"):
        Playground(state=text, seed=3)


# -- saving the model ----------------------------------------------------------------

def test_save_model_writes_a_model_that_loads_and_predicts_the_same(app, tmp_path):
    app.step(20)
    path = tmp_path / "net.json"
    app.model_path.value = str(path)
    app.save_model_button.click()
    assert "model saved to" in app.status.value
    model = load(path)
    row = app.trainer.F_test[0].tolist()
    assert model(row).data == app.trainer.model(row).data
    app.model_path.value = str(tmp_path / "missing" / "dir" / "net.json")
    app.save_model_button.click()
    assert "color:#a40e26" in app.status.value  # an error message, not a traceback


# -- docstring examples --------------------------------------------------------

@pytest.mark.parametrize("name", ["chainrule.viz.playground", "chainrule.viz.playground.core",
                                  "chainrule.viz.playground.app"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_playground_is_reachable_from_chainrule_viz_on_first_use():
    import chainrule.viz as viz
    from chainrule.viz.playground import Playground

    assert viz.Playground is Playground
    with pytest.raises(AttributeError, match="has no attribute 'Playgrund'"):
        viz.Playgrund  # noqa: B018
