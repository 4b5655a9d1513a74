"""Plots: history, decision boundary, gradient magnitudes, activation and derivative."""

# ruff: noqa: N806 - X is the usual name of a data matrix
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from chainrule.engine import Value  # noqa: E402
from chainrule.nn import MLP, fit, make_moons, make_spiral  # noqa: E402
from chainrule.viz import (  # noqa: E402
    plot_activation,
    plot_decision_boundary,
    plot_grad_magnitudes,
    plot_history,
)
from chainrule.viz.plots import activation_curve, layer_grad_magnitudes  # noqa: E402


def saved(fig, path) -> bytes:
    fig.savefig(path)
    data = path.read_bytes()
    assert data[:4] == b"\x89PNG"
    return data


@pytest.fixture(scope="module")
def trained():
    X, y = make_moons(60, seed=0)
    model = MLP(2, [8, 1], activation="tanh", seed=0)
    history = fit(model, X, y, epochs=6, progress=False, validation=0.2)
    return model, X, y, history


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_history_plot_has_loss_and_accuracy_panels(trained, tmp_path):
    *_, history = trained
    fig = plot_history(history, title="moons")
    left, right = fig.axes
    best = f"best epoch {history.best_epoch}: lowest validation loss"
    # readable names, not the code's: the loss by what it is, "training" said out loud
    assert legend_texts(left) == ["training loss", "validation loss", best]
    assert legend_texts(right) == ["training accuracy", "validation accuracy", best]
    assert list(left.lines[0].get_xdata()) == [1, 2, 3, 4, 5, 6]
    assert left.get_ylabel() == "loss (binary cross-entropy)"
    assert history.loss_name == "binary_cross_entropy_with_logits"
    saved(fig, tmp_path / "history.png")


def test_history_marks_the_best_epoch_of_early_stopping(tmp_path):
    from chainrule.nn import Adam, train_val_test_split

    X, y = make_moons(110, noise=0.35, seed=7)
    (X_tr, y_tr), (X_va, y_va), _ = train_val_test_split(X, y, val=0.3, test=0.3, seed=0)
    model = MLP(2, [8, 8, 1], seed=0)
    history = fit(model, X_tr, y_tr, optimizer=Adam(model.parameters(), lr=0.05),
                  epochs=100, batch_size=len(X_tr), validation=(X_va, y_va), patience=15,
                  progress=False)
    assert history.stopped_early and history.best_epoch < history.epochs
    left, right = plot_history(history).axes
    for ax in (left, right):
        marks = [line for line in ax.lines if list(line.get_xdata()) == [history.best_epoch] * 2]
        assert len(marks) == 1 and marks[0].get_linestyle() == ":"
        assert legend_texts(ax)[-1] == (f"best epoch {history.best_epoch}: lowest validation "
                                        "loss (stopped early)")
    # a star on the validation loss at its minimum
    stars = [line for line in left.lines if line.get_marker() == "*"]
    assert [tuple(stars[0].get_xydata()[0])] == [(history.best_epoch, min(history.val_loss))]
    saved(plot_history(history), tmp_path / "stopped.png")


def test_history_without_validation_marks_nothing():
    fig = plot_history({"loss": [0.9, 0.5], "accuracy": [0.5, 0.7], "best_epoch": None})
    left, _ = fig.axes
    assert legend_texts(left) == ["training loss"]
    assert left.get_ylabel() == "loss"
    # a best epoch outside the history is ignored, not drawn off the axis
    fig = plot_history({"loss": [0.9, 0.5], "val_loss": [1.0, 0.8], "best_epoch": 9})
    assert legend_texts(fig.axes[0]) == ["training loss", "validation loss"]


@pytest.mark.parametrize(("name", "readable"), [
    ("binary_cross_entropy_with_logits", "binary cross-entropy"),
    ("binary_cross_entropy", "binary cross-entropy"),
    ("cross_entropy", "cross-entropy"),
    ("mse_loss", "mean squared error"),
    ("hinge_loss", "hinge"),
    ("my_loss", "my loss"),
])
def test_loss_names_are_readable(name, readable):
    from chainrule.viz.plots import readable_loss_name

    assert readable_loss_name(name) == readable
    fig = plot_history({"loss": [1.0, 0.5], "loss_name": name})
    assert fig.axes[0].get_ylabel() == f"loss ({readable})"


def test_history_from_a_mapping_and_errors():
    fig = plot_history({"loss": [1.0, 0.5, 0.25]}, log_loss=True)
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="found no loss or accuracy series"):
        plot_history({"lr": [0.1, 0.1]})
    with pytest.raises(TypeError, match="plot_history needs a History or a mapping"):
        plot_history(3)


def test_decision_boundary_binary(trained, tmp_path):
    model, X, y, _ = trained
    fig = plot_decision_boundary(model, X, y, resolution=30, title="boundary")
    ax, bar = fig.axes
    assert len(ax.collections) >= 3  # filled scores, the boundary line, two scatters
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    # the colour bar says what the shade is, and where each class and the boundary are
    assert bar.get_ylabel() == "score (logit): class 1 above 0"
    ticks = [t.get_text() for t in bar.get_yticklabels()]
    assert ticks[0].endswith("class 0") and ticks[1] == "0\nboundary"
    assert ticks[2].endswith("class 1")
    saved(fig, tmp_path / "boundary.png")
    # an explicit threshold is named as such
    fig = plot_decision_boundary(model, X, y, resolution=10, threshold=1.5)
    assert fig.axes[1].get_ylabel() == "model output: class 1 above 1.5"


def test_a_sigmoid_neuron_gets_its_boundary_at_one_half():
    """Logistic regression as one sigmoid Neuron: the boundary is where p = 0.5 (it used
    to be looked for at 0, where a probability never is, so no line was drawn)."""
    from chainrule.nn import SGD, Neuron, make_gaussians

    X, y = make_gaussians(100, noise=0.5, seed=3)
    neuron = Neuron(2, activation="sigmoid", seed=0)
    fit(neuron, X, y, optimizer=SGD(neuron.parameters(), lr=0.5), epochs=50, batch_size=100,
        progress=False)
    ax, bar = plot_decision_boundary(neuron, X, y, resolution=30).axes
    lines = [c for c in ax.collections if list(getattr(c, "levels", [])) == [0.5]]
    assert len(lines) == 1
    # a probability is shaded from 0 to 1, whatever the data
    assert bar.get_ylabel() == "P(class 1) from the sigmoid: class 1 above 0.5"
    assert [t.get_text() for t in bar.get_yticklabels()] == ["0\nclass 0", "0.5\nboundary",
                                                            "1\nclass 1"]


def test_decision_boundary_multiclass_with_a_batched_predict(tmp_path):
    X, y = make_spiral(60, seed=0, classes=3)
    calls = []

    def predict(points):
        calls.append(len(points))
        return np.column_stack([points[:, 0], points[:, 1], -points.sum(axis=1)])

    fig = plot_decision_boundary(None, X, y, resolution=20, predict=predict)
    assert calls == [400]
    assert len(fig.axes[0].get_legend().get_texts()) == 3
    bar = fig.axes[1]
    assert bar.get_ylabel() == "predicted class (the shaded region)"
    assert [t.get_text() for t in bar.get_yticklabels()] == ["class 0", "class 1", "class 2"]
    saved(fig, tmp_path / "spiral.png")


def test_decision_boundary_bad_input(trained):
    model, X, y, _ = trained
    with pytest.raises(ValueError, match=r"needs X of shape \(n, 2\), got \(60, 1\)"):
        plot_decision_boundary(model, X[:, :1], y)
    with pytest.raises(ValueError, match=r"y must have shape \(60,\), got \(59,\)"):
        plot_decision_boundary(model, X, y[:-1])
    with pytest.raises(ValueError, match="resolution must be an int from 5 to 1000, got 2"):
        plot_decision_boundary(model, X, y, resolution=2)


def test_grad_magnitudes_show_vanishing_gradients(tmp_path):
    # a deep sigmoid network: the first layer's gradients are far smaller than the last's
    model = MLP(2, [8, 8, 8, 8, 8, 1], activation="sigmoid", seed=0)
    model([0.3, -0.7]).backward()
    mags = layer_grad_magnitudes(model)
    assert len(mags) == 6 and mags[0] < mags[-1] / 100
    fig = plot_grad_magnitudes(model)
    assert fig.axes[0].get_yscale() == "log" and len(fig.axes[0].patches) == 6
    saved(fig, tmp_path / "grads.png")
    over_time = plot_grad_magnitudes([mags, [m / 2 for m in mags]], labels=list("abcdef"))
    assert len(over_time.axes[0].lines) == 6
    with pytest.raises(ValueError, match="labels has 2 names for 6 layers"):
        plot_grad_magnitudes(mags, labels=["a", "b"])
    with pytest.raises(TypeError, match=r"need a model with .layers"):
        layer_grad_magnitudes(object())


@pytest.mark.parametrize("name, x, value, slope", [
    ("sigmoid", 0.0, 0.5, 0.25),
    ("tanh", 0.0, 0.0, 1.0),
    ("relu", 0.0, 0.0, 0.0),  # the engine's convention at the kink
    ("relu", 2.0, 2.0, 1.0),
    ("leaky_relu", -1.0, -0.01, 0.01),
    ("softplus", 0.0, math.log(2.0), 0.5),
])
def test_activation_curve_uses_the_engine(name, x, value, slope):
    values, slopes = activation_curve(name, [x])
    assert values[0] == pytest.approx(value) and slopes[0] == pytest.approx(slope)


def test_activation_plot(tmp_path):
    fig = plot_activation("tanh", points=101)
    left, right = fig.axes
    assert left.get_title() == "tanh(x)" and right.get_title() == "d tanh(x) / dx (from backward)"
    assert (left.get_xlabel(), right.get_ylabel()) == ("x", "d tanh / dx")
    # blue and vermillion: told apart by colour-blind readers, unlike green and red
    from matplotlib.colors import to_hex

    assert {to_hex(left.lines[0].get_color()), to_hex(right.lines[0].get_color())} == {
        "#0072b2", "#d55e00"}
    assert max(right.lines[0].get_ydata()) == pytest.approx(1.0, abs=1e-3)
    saved(fig, tmp_path / "tanh.png")
    custom = plot_activation(lambda v: v * v.sigmoid(), points=11)
    assert len(custom.axes) == 2
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        plot_activation("gelu")
    with pytest.raises(ValueError, match="need finite xmin < xmax"):
        plot_activation("tanh", xmin=1, xmax=0)
    with pytest.raises(TypeError, match="returned float, not a Value"):
        plot_activation(lambda v: 1.0)


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[plot\]'"):
        plot_history({"loss": [1.0]})
    assert isinstance(Value(1.0), Value)


def test_grid_predictions_through_the_tape_equal_the_scalar_loop():
    from chainrule.engine import no_grad
    from chainrule.nn import Dropout, Sequential
    from chainrule.viz.plots import _tape_outputs, predict_grid

    model = MLP(2, [8, 8, 3], activation="relu", seed=1)
    points = np.random.default_rng(0).normal(size=(50, 2))
    fast = predict_grid(model, points)
    with no_grad():
        slow = np.array([[v.data for v in model(p.tolist())] for p in points])
    assert fast.shape == (50, 3)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    assert all(p.grad == 0.0 for p in model.parameters())
    # an active Dropout draws random numbers: no tape, the scalar loop is used
    noisy = Sequential(MLP(2, [4], seed=0), Dropout(0.5, seed=0), MLP(4, [1], seed=0))
    assert _tape_outputs(noisy, points) is None
    assert predict_grid(noisy, points).shape == (50,)
