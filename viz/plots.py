"""Training plots with matplotlib (an optional extra: ``pip install 'chainrule[plot]'``).

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot``, so no
global figure state is touched and nothing pops up: Jupyter shows the returned figure,
and ``fig.savefig("loss.png")`` writes it (the Agg backend, no display needed).
matplotlib is imported only when a plot is made; without it the error says how to
install it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chainrule.engine import Value, no_grad
from chainrule.engine.checks import int_in, is_integer, is_real
from chainrule.nn import ACTIVATIONS, Activation

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

# Okabe and Ito's colour-blind-safe palette: no red/green pair anywhere in the plots.
BLUE = "#0072b2"
ORANGE = "#e69f00"
VERMILLION = "#d55e00"
BLUISH_GREEN = "#009e73"
PURPLE = "#cc79a7"
SKY = "#56b4e9"
GREY = "#57606a"
PALETTE = (BLUE, ORANGE, BLUISH_GREEN, VERMILLION, PURPLE, SKY)

# What the names in a History mean, for axis labels and legends.
_LOSS_NAMES = {
    "binary_cross_entropy_with_logits": "binary cross-entropy",
    "binary_cross_entropy": "binary cross-entropy",
    "cross_entropy": "cross-entropy",
    "mse_loss": "mean squared error",
    "mae_loss": "mean absolute error",
    "hinge_loss": "hinge",
}
_SERIES_NAMES = {
    "loss": "training loss",
    "val_loss": "validation loss",
    "accuracy": "training accuracy",
    "val_accuracy": "validation accuracy",
}


def readable_loss_name(name: str) -> str:
    """A loss function's name as a reader would say it.

    Example:
        >>> readable_loss_name("binary_cross_entropy_with_logits")
        'binary cross-entropy'
        >>> readable_loss_name("my_custom_loss")
        'my custom loss'
    """
    return _LOSS_NAMES.get(name, name.replace("_", " "))


def _figure(**kwargs: Any) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "chainrule.viz plots need matplotlib: pip install 'chainrule[plot]' "
            "(or pip install matplotlib)"
        ) from None
    return Figure(layout="constrained", **kwargs)


# -- loss and accuracy --------------------------------------------------------------------


def _series(history: Any) -> dict[str, list[float]]:
    """The numeric sequences of a History (or mapping) by name."""
    if isinstance(history, Mapping):
        items = dict(history)
    elif hasattr(history, "as_dict") and callable(history.as_dict):
        items = dict(history.as_dict())
    elif hasattr(history, "__dict__"):
        items = {k: v for k, v in vars(history).items() if not k.startswith("_")}
    else:
        raise TypeError("plot_history needs a History or a mapping of name -> list of "
                        f"numbers, got {type(history).__name__}")
    series = {}
    for name, values in items.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            continue
        if values and all(is_real(v) for v in values):
            series[str(name)] = [float(v) for v in values]
    return series


def plot_history(history: Any, *, title: str | None = None,
                 log_loss: bool = False) -> Figure:
    """Loss (left) and accuracy (right) per epoch, training and validation.

    ``history`` is what ``chainrule.nn.fit`` returns, or any mapping of names to lists
    of numbers: names containing ``loss`` go to the left panel, names containing
    ``acc`` to the right one (which is left out when there are none). ``log_loss``
    draws the loss on a log scale. The loss axis names the loss (``loss (binary
    cross-entropy)``), the legend says "training loss" and "validation loss", and when
    the history has a ``best_epoch`` (the lowest validation loss; the epoch whose
    weights ``fit(patience=...)`` restores) a dotted line marks it in both panels.

    Example:
        >>> fig = plot_history({"loss": [0.7, 0.4, 0.3], "accuracy": [0.5, 0.8, 0.9]})
        >>> fig.savefig("history.png")
    """
    series = _series(history)
    losses = {k: v for k, v in series.items() if "loss" in k.lower()}
    accs = {k: v for k, v in series.items() if "acc" in k.lower()}
    if not losses and not accs:
        raise ValueError("plot_history found no loss or accuracy series in "
                         f"{sorted(series) or 'the history'}")
    panels = [p for p in (losses, accs) if p]
    fig = _figure(figsize=(5.2 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    get = history.get if isinstance(history, Mapping) else lambda k: getattr(history, k, None)
    loss_name = get("loss_name")
    best = get("best_epoch")
    longest = max(len(v) for v in series.values() if v) if series else 0
    if not is_integer(best) or not 1 <= best <= longest:
        best = None
    for ax, panel, what in zip(axes, panels, ("loss" if losses else "accuracy", "accuracy")):
        for k, (name, values) in enumerate(sorted(panel.items())):
            epochs = range(1, len(values) + 1)
            style = "--" if "val" in name.lower() else "-"
            ax.plot(epochs, values, style, color=PALETTE[k % len(PALETTE)],
                    label=_SERIES_NAMES.get(name, name), linewidth=1.8,
                    marker="o" if len(values) <= 30 else None, markersize=3)
            if best is not None and name.lower().startswith("val") and best <= len(values):
                ax.plot([best], [values[best - 1]], "*", color=PALETTE[k % len(PALETTE)],
                        markersize=12, markeredgecolor="k", markeredgewidth=0.6)
        if best is not None:
            stopped = " (stopped early)" if get("stopped_early") is True else ""
            ax.axvline(best, color=GREY, linestyle=":", linewidth=1.4,
                       label=f"best epoch {best}: lowest validation loss{stopped}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"loss ({readable_loss_name(loss_name)})"
                      if what == "loss" and isinstance(loss_name, str) else what)
        if what == "loss" and log_loss:
            ax.set_yscale("log")
        if what == "accuracy":
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


# -- decision boundary --------------------------------------------------------------------


def _threshold_for(model: Any) -> float:
    # The output activation as fit sees it (Module.output_activation: an Activation, or a
    # name on a model of one's own): a sigmoid Neuron or Layer (logistic regression)
    # outputs probabilities as much as an MLP with a sigmoid output does.
    act = getattr(model, "output_activation", None)
    return 0.5 if getattr(act, "name", act) == "sigmoid" else 0.0


def _tape_outputs(model: Any, points: np.ndarray) -> np.ndarray | None:
    """The outputs through the engine's tape (one recorded sample replayed with numpy),
    or None when the model cannot be traced (an active Dropout, not a Module)."""
    if not hasattr(model, "parameters") or getattr(model, "traceable", False) is not True:
        return None
    try:
        from chainrule.engine.tape import Tape, TraceError
    except ImportError:  # pragma: no cover - an engine without the tape
        return None
    try:
        tape = Tape.record(lambda xs: model(xs), points[0].tolist(), model.parameters())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow far from the data
            return tape.forward(points)
    except (TraceError, TypeError, ValueError):
        return None


def predict_grid(model: Any, points: np.ndarray) -> np.ndarray:
    """Model outputs for each row of ``points`` (n x 2), without changing any gradient.

    Uses the engine's tape (hundreds of times faster) when the model can be traced, else
    one scalar forward pass per point under ``no_grad``. Returns an (n,) array for a
    one-output model, else (n, K).
    """
    import numpy as np

    out = _tape_outputs(model, points)
    if out is not None:
        return out[:, 0] if out.shape[1] == 1 else out
    rows = []
    with no_grad():
        for p in points:
            out = model(p.tolist())
            if isinstance(out, (list, tuple)):
                rows.append([float(v.data if isinstance(v, Value) else v) for v in out])
            else:
                rows.append(float(out.data if isinstance(out, Value) else out))
    return np.asarray(rows, dtype=float)


def plot_decision_boundary(
    model: Any,
    X: Any,  # noqa: N803 - the usual name of a data matrix
    y: Any,
    *,
    resolution: int = 150,
    threshold: float | None = None,
    predict: Callable[[np.ndarray], Any] | None = None,
    title: str | None = None,
    margin: float = 0.5,
) -> Figure:
    """The regions a 2-D classifier assigns to each class, with the data points on top.

    The model is evaluated on a ``resolution x resolution`` grid (with the engine's tape
    when the model can be traced, else point by point under ``no_grad``).
    A one-output model is a binary classifier: class 1 where the output is above
    ``threshold`` (default 0.5 for a sigmoid output layer, else 0); its output is
    shaded (a colour bar says what it is: the probability of class 1 for a sigmoid
    output, else the score) and the boundary drawn as a line. A K-output model predicts
    the argmax; the colour bar then names the class of each shade.
    ``predict`` may replace the per-point loop: it takes an (n, 2) array and returns
    the (n,) or (n, K) outputs.

    Example:
        >>> from chainrule.nn import MLP, fit, make_moons
        >>> X, y = make_moons(60, seed=0)
        >>> model = MLP(2, [8, 1], seed=0)
        >>> history = fit(model, X, y, epochs=5, progress=False)
        >>> fig = plot_decision_boundary(model, X, y, resolution=50)
        >>> fig.savefig("boundary.png")
    """
    import numpy as np

    X = np.asarray(X, dtype=float)  # noqa: N806
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs X of shape (n, 2), got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    resolution = int_in(resolution, "resolution", 5, 1000)
    if len(X) == 0:
        raise ValueError("plot_decision_boundary needs at least one data point")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    out = np.asarray(predict(grid) if predict is not None else predict_grid(model, grid),
                     dtype=float)
    fig = _figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    classes = np.unique(y)
    colors = list(PALETTE)
    if out.ndim == 1:
        default = _threshold_for(model)
        t = default if threshold is None else float(threshold)
        probability = default == t == 0.5  # a sigmoid output judged at 1/2: p in [0, 1]
        scores = out.reshape(gx.shape)
        finite = scores[np.isfinite(scores)]
        if probability:
            span = 0.5
        else:
            # the 90th percentile, not the maximum: a ReLU net's scores grow without bound
            # away from the data, and the far corners would wash out the colours near it
            span = float(np.percentile(np.abs(finite - t), 90)) if finite.size else 1.0
            span = span if span > 0 else 1.0
        from matplotlib.colors import LinearSegmentedColormap

        # light tints, so the points stay the darkest thing in the picture
        cmap = LinearSegmentedColormap.from_list(
            "chainrule_two_classes", ["#9ec5f4", "#f6f8fa", "#f4a7a7"])
        filled = ax.contourf(gx, gy, np.clip(scores, t - span, t + span),
                             levels=np.linspace(t - span, t + span, 25), cmap=cmap,
                             vmin=t - span, vmax=t + span)
        if np.nanmin(scores) < t < np.nanmax(scores):
            ax.contour(gx, gy, scores, levels=[t], colors="k", linewidths=1.5)
        # the colour bar: what the shade is, where the classes and the boundary are
        what = ("P(class 1) from the sigmoid" if probability else
                "score (logit)" if default == t == 0.0 else "model output")
        below = bool(finite.size) and finite.min() < t - span   # shaded as the end colour
        above = bool(finite.size) and finite.max() > t + span
        bar = fig.colorbar(filled, ax=ax, shrink=0.9, ticks=[t - span, t, t + span])
        bar.ax.set_yticklabels([f"{'≤ ' if below else ''}{t - span:.2g}\nclass 0",
                                f"{t:.2g}\nboundary",
                                f"{'≥ ' if above else ''}{t + span:.2g}\nclass 1"],
                               fontsize=8)
        bar.set_label(f"{what}: class 1 above {t:g}", fontsize=9)
        colors = ["#0550ae", "#a40e26"]
    else:
        labels = out.argmax(axis=1).reshape(gx.shape)
        k = out.shape[1]
        from matplotlib.colors import ListedColormap
        cmap = ListedColormap([colors[i % len(colors)] for i in range(k)])
        filled = ax.contourf(gx, gy, labels, levels=np.arange(k + 1) - 0.5, cmap=cmap,
                             alpha=0.3)
        bar = fig.colorbar(filled, ax=ax, shrink=0.9, ticks=np.arange(k))
        bar.ax.set_yticklabels([f"class {i}" for i in range(k)], fontsize=8)
        bar.set_label("predicted class (the shaded region)", fontsize=9)
    for i, c in enumerate(classes):
        pts = X[y == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=16, color=colors[i % len(colors)],
                   edgecolors="white", linewidths=0.5, label=f"class {c}")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="upper right", frameon=True, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# -- gradient magnitudes ---------------------------------------------------------------------


def layer_grad_magnitudes(model: Any) -> list[float]:
    """Mean ``|grad|`` of each layer's parameters (read after ``backward()``).

    ``model`` needs a ``layers`` list of modules with ``parameters()`` (an MLP does).
    """
    layers = getattr(model, "layers", None)
    if not layers:
        raise TypeError(f"need a model with .layers (an MLP), got {type(model).__name__}")
    out = []
    for layer in layers:
        params = layer.parameters()
        out.append(sum(abs(p.grad) for p in params) / len(params) if params else 0.0)
    return out


def plot_grad_magnitudes(source: Any, *, title: str | None = None,
                         labels: Sequence[str] | None = None) -> Figure:
    """Mean gradient magnitude per layer, on a log scale: vanishing gradients at a glance.

    ``source`` is a model with ``.layers`` (its current gradients, one bar per layer), a
    list of per-layer numbers (bars), or a list of such lists, one per training step
    or epoch (one line per layer over time).

    Example:
        >>> fig = plot_grad_magnitudes([1e-1, 3e-3, 2e-5])
        >>> fig.savefig("grads.png")
    """
    import numpy as np

    if hasattr(source, "layers"):
        data: Any = layer_grad_magnitudes(source)
    else:
        data = source
    arr = np.asarray(data, dtype=float)
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise ValueError("plot_grad_magnitudes needs a model, a list of per-layer numbers "
                         f"or a list of such lists, got an array of shape {arr.shape}")
    n_layers = arr.shape[-1]
    names = list(labels) if labels is not None else [f"layer {i + 1}" for i in range(n_layers)]
    if len(names) != n_layers:
        raise ValueError(f"labels has {len(names)} names for {n_layers} layers")
    fig = _figure(figsize=(5.6, 3.6))
    ax = fig.subplots()
    tiny = 1e-300  # log scale: a zero gradient shows at the bottom, not as an error
    if arr.ndim == 1:
        ax.bar(names, np.maximum(np.abs(arr), tiny), color=BLUE)
        ax.set_ylabel("mean |grad| of parameters")
        for i, v in enumerate(arr):
            ax.annotate(f"{v:.2g}", (i, max(abs(v), tiny)), ha="center", va="bottom",
                        fontsize=8)
    else:
        for i in range(n_layers):
            ax.plot(range(1, arr.shape[0] + 1), np.maximum(np.abs(arr[:, i]), tiny),
                    label=names[i], linewidth=1.6)
        ax.set_xlabel("step")
        ax.set_ylabel("mean |grad| of parameters")
        ax.legend(frameon=False, fontsize=8)
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both", axis="y")
    ax.set_title(title or "gradient magnitude per layer")
    return fig


# -- an activation and its derivative ------------------------------------------------------

# nn's activations by name (linear as a node, so it has a derivative to draw), then a few
# other functions of one Value worth looking at.
_ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    **{name: Activation(name) for name in ACTIVATIONS},
    "linear": lambda v: v * 1.0,
    "sin": Value.sin,
    "exp": Value.exp,
    "abs": Value.__abs__,
}


def activation_curve(fn: str | Callable[[Value], Value], xs: Sequence[float]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Values and derivatives of an activation at ``xs``, computed with the engine."""
    import numpy as np

    f = _ACTIVATIONS.get(fn) if isinstance(fn, str) else fn
    if f is None:
        raise ValueError(f"unknown activation {fn!r}; choose from {', '.join(_ACTIVATIONS)} "
                         "or pass a function of a Value")
    if not callable(f):
        raise TypeError(f"activation must be a name or a function, got {type(fn).__name__}")
    values, slopes = [], []
    for x0 in xs:
        x = Value(float(x0))
        out = f(x)
        if not isinstance(out, Value):
            raise TypeError(f"the activation returned {type(out).__name__}, not a Value")
        out.backward()
        values.append(out.data)
        slopes.append(x.grad)
    return np.asarray(values), np.asarray(slopes)


def plot_activation(fn: str | Callable[[Value], Value], *, xmin: float = -5.0,
                    xmax: float = 5.0, points: int = 401,
                    title: str | None = None) -> Figure:
    """An activation function (left) beside its derivative (right), both from the engine.

    ``fn`` is a name (``relu``, ``tanh``, ``sigmoid``, ``leaky_relu``, ``elu``,
    ``softplus``, ``swish`` ...) or any function of one Value. The derivative is what
    ``backward()`` computes at each point, so a kink shows the engine's convention
    (relu'(0) = 0).

    Example:
        >>> fig = plot_activation("sigmoid")
        >>> fig.savefig("sigmoid.png")
    """
    import numpy as np

    if not (is_real(xmin) and is_real(xmax)
            and math.isfinite(xmin) and math.isfinite(xmax) and xmin < xmax):
        raise ValueError(f"need finite xmin < xmax, got xmin={xmin!r}, xmax={xmax!r}")
    points = int_in(points, "points", 2, 100_000)
    xs = np.linspace(xmin, xmax, points)
    values, slopes = activation_curve(fn, xs)
    name = fn if isinstance(fn, str) else getattr(fn, "__name__", "f")
    fig = _figure(figsize=(9.0, 3.4))
    left, right = fig.subplots(1, 2)
    left.plot(xs, values, color=BLUE, linewidth=2)
    left.set_title(f"{name}(x)")
    left.set_ylabel(f"{name}(x)")
    right.plot(xs, slopes, color=VERMILLION, linewidth=2)
    right.set_title(f"d {name}(x) / dx (from backward)")
    right.set_ylabel(f"d {name} / dx")
    for ax in (left, right):
        ax.axhline(0, color="#8c959f", linewidth=0.8)
        ax.axvline(0, color="#8c959f", linewidth=0.8)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig
