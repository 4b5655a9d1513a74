"""Playground presets: the spiral of the Back Propagation notes (data-science course,
slide "Neural Networks intuition") reproduced setting by setting, its failure after
3,000 steps, and the preset that fixes it; the presets in the app."""

from __future__ import annotations

from urllib.parse import parse_qsl

import numpy as np
import pytest
from chainrule.viz.playground.core import FEATURES, PRESETS, Preset, Settings, Trainer

# The TensorFlow Playground link on the slide (its hash, as printed in the notes).
NOTES_LINK = (
    "activation=sigmoid&batchSize=8&dataset=spiral&regDataSet=reg-plane&learningRate=0.003"
    "&regularizationRate=0&noise=20&networkShape=1,2&seed=0.99530&showTestData=false"
    "&discretize=false&percTrainData=70&x=true&y=true&xTimesY=true&xSquared=false"
    "&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false"
    "&problem=classification&initZero=f"
)
# The Playground's feature names and ours
LINK_FEATURES = {"x": "x1", "y": "x2", "xSquared": "x1^2", "ySquared": "x2^2",
                 "xTimesY": "x1*x2", "sinX": "sin x1", "sinY": "sin x2"}


def test_the_notes_preset_is_the_link_on_the_slide():
    link = dict(parse_qsl(NOTES_LINK))
    s = Settings.preset("spiral-notes")
    assert s.dataset == link["dataset"] == "spiral"
    assert s.activation == link["activation"]
    assert s.batch_size == int(link["batchSize"])
    assert s.learning_rate == float(link["learningRate"])
    assert s.regularization_rate == float(link["regularizationRate"])
    assert s.noise == int(link["noise"])
    assert s.train_ratio == int(link["percTrainData"])
    assert s.hidden == tuple(int(w) for w in link["networkShape"].split(","))
    chosen = {ours for theirs, ours in LINK_FEATURES.items() if link[theirs] == "true"}
    assert set(s.features) == chosen == {"x1", "x2", "x1*x2"}
    # cos x1 and cos x2 exist in the link but are off (and hidden in the Playground too)
    assert link["cosX"] == link["cosY"] == "false"
    assert link["problem"] == "classification" and not s.regression


def test_presets_are_valid_and_described():
    assert set(PRESETS) >= {"spiral-notes", "spiral-fixed"}
    for name, preset in PRESETS.items():
        assert isinstance(preset, Preset)
        assert preset.settings == preset.settings.validated(), name
        assert len(preset.about) > 40, name
    fixed = Settings.preset("spiral-fixed")
    notes = Settings.preset("spiral-notes")
    assert fixed.features == tuple(FEATURES)
    # the fix changes the network and its training, never the data or the batches
    for name in ("dataset", "noise", "train_ratio", "batch_size", "seed", "optimizer"):
        assert getattr(fixed, name) == getattr(notes, name), name


def test_preset_with_changes():
    s = Settings.preset("spiral-notes", seed=7, learning_rate=0.1)
    assert (s.seed, s.learning_rate, s.hidden) == (7, 0.1, (1, 2))
    # the preset itself is untouched
    assert Settings.preset("spiral-notes").seed == 0


@pytest.mark.parametrize(("args", "changes", "message"), [
    (("spiral",), {}, "unknown playground preset 'spiral'; choose from 'spiral-notes'"),
    ((None,), {}, "unknown playground preset None"),
    ((["spiral-notes"],), {}, "unknown playground preset"),
    (("spiral-notes",), {"depth": 3}, r"unknown playground setting\(s\): depth"),
    (("spiral-notes",), {"hidden": (9,)}, r"hidden\[0\] must be from 1 to 8, got 9"),
    (("spiral-notes",), {"learning_rate": float("nan")}, "learning_rate must be a finite"),
])
def test_bad_presets_and_changes_name_the_problem(args, changes, message):
    with pytest.raises(ValueError, match=message):
        Settings.preset(*args, **changes)


@pytest.fixture(scope="module")
def spiral_runs():
    runs = {name: Trainer(Settings.preset(name)) for name in ("spiral-notes", "spiral-fixed")}
    for trainer in runs.values():
        trainer.step(3000)
    return runs


def test_the_notes_settings_reach_about_51_percent_after_3000_steps(spiral_runs):
    """The network calls every point class 0: its accuracy is the share of class 0
    (51.4% of the training points) and its loss is still about ln 2."""
    t = spiral_runs["spiral-notes"]
    assert (t.steps, t.epoch) == (3000, 68)
    train, test = t.accuracy()
    assert 0.50 <= train <= 0.53
    assert np.all(t.outputs(t.F_train) < 0) and np.all(t.outputs(t.F_test) < 0)
    assert train == pytest.approx(1 - t.y_train.mean()) and test == pytest.approx(
        1 - t.y_test.mean())
    assert t.losses()[0] == pytest.approx(np.log(2), abs=0.01)


def test_the_fixed_preset_learns_the_spiral_in_3000_steps(spiral_runs):
    train, test = spiral_runs["spiral-fixed"].accuracy()
    assert train > 0.85 and test > 0.75


def test_the_app_opens_and_switches_presets():
    pytest.importorskip("ipywidgets")
    pytest.importorskip("PIL")
    from chainrule.viz.playground import Playground

    app = Playground(preset="spiral-notes")
    assert app.trainer.settings == Settings.preset("spiral-notes")
    app.step(5)
    # the menu loads a preset with a fresh network and goes back to "choose..."
    app.preset_control.value = "spiral-fixed"
    assert app.trainer.settings == Settings.preset("spiral-fixed")
    assert app.trainer.steps == 0 and app.preset_control.value == ""
    assert app.preset_control.label == "choose…"  # the prompt shows, not an empty box
    assert "spiral-fixed" in app.status.value
    assert app.controls["learning_rate"].value == 0.1
    assert all(app.feature_buttons[f].value for f in FEATURES)
    # a preset gives the same run as a fresh Trainer with its settings
    app.load_preset("spiral-notes")
    app.step(200)
    fresh = Trainer(Settings.preset("spiral-notes"))
    fresh.step(200)
    assert [p.data for p in app.trainer.params] == [p.data for p in fresh.params]
    # presets with changes, and what cannot be combined
    assert Playground(preset="spiral-notes", seed=3).trainer.settings.seed == 3
    with pytest.raises(ValueError, match="unknown playground preset"):
        Playground(preset="nope")
    with pytest.raises(ValueError, match="not both"):
        Playground(state=app.to_json(), preset="spiral-notes")
    with pytest.raises(ValueError, match="unknown playground preset"):
        app.load_preset("nope")
    assert app.trainer.settings == Settings.preset("spiral-notes")  # unchanged

