"""The playground's model of the world: settings, data, network, training and its state.

No widgets here: :class:`Trainer` is what the app drives and what the tests check.

Training uses the engine's tape (:class:`chainrule.engine.tape.Tape`): the loss of *one*
sample, ``loss(model(features), target)``, is recorded once per architecture, and every
step replays it over the mini-batch with numpy, seeded with ``1/batch`` so the parameter
gradients are those of the batch mean. The L1/L2 penalty (on weights, not biases, as in
the TensorFlow Playground) goes through the scalar engine: it is one small graph per step.
A second tape records every neuron's output and draws the heatmaps from a grid of points.

Coordinates are the Playground's: points lie in the square [-6, 6]^2, input features are
computed from them (``sin x1`` then shows about two periods) and standardised with the
statistics of the training points before they reach the network.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from chainrule.engine import Value, enable_grad
from chainrule.engine.checks import int_in, integer, is_integer, number
from chainrule.engine.tape import Tape
from chainrule.nn import (
    MLP,
    SGD,
    Adagrad,
    Adam,
    RMSprop,
    Standardizer,
    binary_cross_entropy_with_logits,
    l1_penalty,
    l2_penalty,
    make_circles,
    make_gaussians,
    make_moons,
    make_regression,
    make_spiral,
    make_xor,
    mse_loss,
)
from chainrule.nn.optim import Optimizer
from chainrule.nn.persistence import StrictJSONError, strict_json_loads
from chainrule.nn.training import NonFiniteLossError, TapeLossAndGrad, train_step

__all__ = [
    "ACTIVATIONS",
    "DATASETS",
    "DOMAIN",
    "FEATURES",
    "GRID",
    "LEARNING_RATES",
    "MAX_HISTORY",
    "MAX_LAYERS",
    "MAX_NEURONS",
    "MAX_STATE_CHARS",
    "OPTIMIZERS",
    "POINTS",
    "PRESETS",
    "REGULARIZATION_RATES",
    "STATE_FORMAT",
    "Preset",
    "Settings",
    "Trainer",
    "parse_state",
]

DOMAIN = 6.0
"""Points and heatmaps cover the square [-DOMAIN, DOMAIN]^2, as in the Playground."""
GRID = 50
"""Heatmaps are computed on a GRID x GRID lattice of points (then scaled up smoothly)."""
POINTS = 500
"""Points per data set, split into training and test points by ``train_ratio``."""
MAX_LAYERS = 6
MAX_NEURONS = 8
MAX_STATE_CHARS = 1_000_000
"""A state string longer than this is refused before it is parsed. Every part of a state
is bounded (the settings, at most MAX_LAYERS x MAX_NEURONS weights, the history), so
what the program writes stays far below it: under 100,000 characters."""
MAX_HISTORY = 1000
"""The loss history keeps at most this many evenly spaced epochs, plus the latest."""
STATE_FORMAT = "chainrule.playground"
STATE_VERSION = 1


def _moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_moons(n, noise=0.5 * noise, seed=seed)  # noqa: N806
    return (X - np.array([0.5, 0.25])) * 3.3, y


def _scaled(make: Callable[..., tuple[np.ndarray, np.ndarray]], base: float = 0.0,
            **kwargs: Any) -> Callable[[int, float, int], tuple[np.ndarray, np.ndarray]]:
    def generate(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make(n, noise=base + 0.5 * noise, seed=seed, **kwargs)  # noqa: N806
        return X * 5.0, y
    return generate


def _regression(kind: str) -> Callable[[int, float, int], tuple[np.ndarray, np.ndarray]]:
    def generate(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_regression(n, noise=0.5 * noise, seed=seed, kind=kind)  # noqa: N806
        return X * 5.0, y
    return generate


# name -> (generator(n, noise in [0, 0.5], seed) in Playground coordinates, is_regression)
DATASETS: dict[str, tuple[Callable[[int, float, int], tuple[np.ndarray, np.ndarray]], bool]] = {
    "circle": (_scaled(make_circles), False),
    "xor": (_scaled(make_xor), False),
    "gaussians": (_scaled(make_gaussians, base=0.15), False),
    "spiral": (_scaled(make_spiral), False),
    "moons": (_moons, False),
    "plane (regression)": (_regression("plane"), True),
    "two bumps (regression)": (_regression("gauss"), True),
}
"""The data sets by name. Classes are 0/1; regression targets lie in about [-1, 1]."""

FEATURES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1^2": lambda a, b: a * a,
    "x2^2": lambda a, b: b * b,
    "x1*x2": lambda a, b: a * b,
    "sin x1": lambda a, b: np.sin(a),
    "sin x2": lambda a, b: np.sin(b),
}
"""The input features (the Playground's seven), computed from a point's coordinates."""

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear", "leaky_relu", "elu", "softplus", "swish")
OPTIMIZERS: dict[str, Callable[[list[Value], float], Optimizer]] = {
    "sgd": lambda ps, lr: SGD(ps, lr=lr),
    "momentum": lambda ps, lr: SGD(ps, lr=lr, momentum=0.9),
    "adam": lambda ps, lr: Adam(ps, lr=lr),
    "rmsprop": lambda ps, lr: RMSprop(ps, lr=lr),
    "adagrad": lambda ps, lr: Adagrad(ps, lr=lr),
}
"""Optimizers by name: plain SGD, SGD with momentum 0.9, Adam, RMSprop, Adagrad."""
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATION_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REGULARIZATIONS = ("none", "l1", "l2")


# -- settings -------------------------------------------------------------------------------------

def _int(value: Any, name: str, lo: int, hi: int) -> int:
    return integer(value, name, minimum=lo, maximum=hi, type_error=ValueError,
                   type_message=f"playground setting {{name}} must be an int from {lo} to {hi}, "
                                "got {got}",
                   message=f"playground setting {{name}} must be from {lo} to {hi}, got {{value}}")


def _real(value: Any, name: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
    bound = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
    return number(value, name, low=lo, high=hi, low_open=lo_open, type_error=ValueError,
                  type_message="playground setting {name} must be a number, got {got}",
                  message=f"playground setting {{name}} must be a finite number in {bound}, "
                          "got {value}")


def _choice(value: Any, name: str, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"playground setting {name} must be one of "
                         f"{', '.join(repr(o) for o in options)}; got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every control of the playground, as plain values (what a state string stores).

    ``noise`` and ``train_ratio`` are percentages as in the Playground (0-50, 10-90);
    ``hidden`` lists the hidden layers' widths (0 to 6 layers of 1 to 8 neurons);
    ``features`` are names from :data:`FEATURES`. :meth:`validated` checks everything.

    Example:
        >>> Settings(dataset="moons", hidden=(8, 8)).validated().hidden
        (8, 8)
    """

    dataset: str = "circle"
    noise: int = 0
    train_ratio: int = 50
    batch_size: int = 10
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    learning_rate: float = 0.03
    regularization: str = "none"
    regularization_rate: float = 0.0
    optimizer: str = "sgd"
    seed: int = 0

    def validated(self) -> Settings:
        """A checked copy (features in canonical order); ``ValueError`` names the setting."""
        features = self.features
        if isinstance(features, str) or not isinstance(features, Sequence):
            raise ValueError(f"playground setting features must be a list of names, got "
                             f"{type(features).__name__}")
        for f in features:
            _choice(f, "features", tuple(FEATURES))
        if len(set(features)) != len(features):
            raise ValueError(f"playground setting features lists a feature twice: "
                             f"{list(features)}")
        if not features:
            raise ValueError("playground setting features: select at least one input feature")
        hidden = self.hidden
        if isinstance(hidden, str) or not isinstance(hidden, Sequence):
            raise ValueError(f"playground setting hidden must be a list of layer widths, got "
                             f"{type(hidden).__name__}")
        if len(hidden) > MAX_LAYERS:
            raise ValueError(f"playground setting hidden: at most {MAX_LAYERS} hidden layers, "
                             f"got {len(hidden)}")
        return Settings(
            dataset=_choice(self.dataset, "dataset", tuple(DATASETS)),
            noise=_int(self.noise, "noise", 0, 50),
            train_ratio=_int(self.train_ratio, "train_ratio", 10, 90),
            batch_size=_int(self.batch_size, "batch_size", 1, 100),
            features=tuple(f for f in FEATURES if f in features),
            hidden=tuple(_int(w, f"hidden[{i}]", 1, MAX_NEURONS) for i, w in enumerate(hidden)),
            activation=_choice(self.activation, "activation", ACTIVATIONS),
            learning_rate=_real(self.learning_rate, "learning_rate", 0.0, 10.0, lo_open=True),
            regularization=_choice(self.regularization, "regularization", REGULARIZATIONS),
            regularization_rate=_real(self.regularization_rate, "regularization_rate", 0.0,
                                      10.0),
            optimizer=_choice(self.optimizer, "optimizer", tuple(OPTIMIZERS)),
            seed=_int(self.seed, "seed", 0, 2**31 - 1),
        )

    @property
    def regression(self) -> bool:
        """True for the regression data sets (mean squared error on a linear output)."""
        return DATASETS[self.dataset][1]

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON-ready plain values."""
        d = asdict(self)
        d["features"], d["hidden"] = list(self.features), list(self.hidden)
        return d

    @classmethod
    def preset(cls, name: str, **changes: Any) -> Settings:
        """The settings of a preset from :data:`PRESETS`, with ``changes`` applied, checked.

        Example:
            >>> Settings.preset("spiral-notes").hidden
            (1, 2)
            >>> Settings.preset("spiral-notes", seed=3).seed
            3
        """
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"unknown playground preset {name!r}; choose from "
                             f"{', '.join(repr(n) for n in PRESETS)}")
        unknown = set(changes) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown playground setting(s): {', '.join(sorted(unknown))}")
        return replace(PRESETS[name].settings, **changes).validated()


@dataclass(frozen=True)
class Preset:
    """Named settings with a sentence on where they come from and what they show.

    The playground's presets are in :data:`PRESETS`; ``Settings.preset(name)`` starts
    from one, with changes.

    Example:
        >>> from chainrule.viz.playground import PRESETS, Preset, Settings
        >>> notes = PRESETS["spiral-notes"]
        >>> notes.settings.hidden, notes.settings.activation, notes.settings.learning_rate
        ((1, 2), 'sigmoid', 0.003)
        >>> notes.about.split(":")[0]
        'the spiral link of the Back Propagation notes'
        >>> faster = Preset(Settings.preset("spiral-notes", learning_rate=0.03),
        ...                 "the notes' spiral with a learning rate ten times larger")
        >>> faster.settings.learning_rate, faster.settings.dataset
        (0.03, 'spiral')
    """

    settings: Settings
    about: str


_ALL_FEATURES = tuple(FEATURES)

PRESETS: dict[str, Preset] = {
    # The link on the "Neural Networks intuition" slide of the Back Propagation notes
    # (data-science course, Edith Chorev Metger): activation=sigmoid, batchSize=8,
    # dataset=spiral, learningRate=0.003, regularizationRate=0, noise=20,
    # networkShape=1,2, percTrainData=70, features x, y, xTimesY. Its seed=0.99530 seeds
    # the Playground's own random generator, which this one cannot replay: seed 0 here.
    "spiral-notes": Preset(
        Settings(dataset="spiral", noise=20, train_ratio=70, batch_size=8,
                 features=("x1", "x2", "x1*x2"), hidden=(1, 2), activation="sigmoid",
                 learning_rate=0.003, regularization="none", regularization_rate=0.0,
                 optimizer="sgd", seed=0),
        "the spiral link of the Back Propagation notes: sigmoid, 1 then 2 neurons, "
        "learning rate 0.003, features x1, x2, x1*x2. After 3,000 steps it still says "
        "'class 0' everywhere (about 51%, the share of class 0)."),
    # The same data and batches with each cause of the failure removed; every one of the
    # four changes is needed (the playground notebook leaves each out in turn).
    "spiral-fixed": Preset(
        Settings(dataset="spiral", noise=20, train_ratio=70, batch_size=8,
                 features=_ALL_FEATURES, hidden=(8, 8), activation="tanh",
                 learning_rate=0.1, regularization="none", regularization_rate=0.0,
                 optimizer="sgd", seed=0),
        "the notes' spiral with four changes: all seven features (x1^2, x2^2, sin x1, "
        "sin x2 added), 8 and 8 neurons, tanh, learning rate 0.1. About 88% of the "
        "training and 79% of the test points after 3,000 steps."),
}
"""Named starting points: ``Settings.preset(name)``, ``Playground(preset=name)`` or the
app's *preset* menu. ``spiral-notes`` reproduces the spiral settings of the Back
Propagation notes (data-science course); ``spiral-fixed`` is what makes it learn."""


# What a change of each setting rebuilds (anything not listed only changes a number).
_DATA_FIELDS = frozenset({"dataset", "noise", "train_ratio", "seed"})
_MODEL_FIELDS = frozenset({"features", "hidden", "activation"}) | _DATA_FIELDS


def _stride(epoch: int) -> int:
    """The smallest power of two ``s`` with fewer than MAX_HISTORY multiples of ``s`` in
    ``1..epoch``: the spacing of the history at that epoch."""
    s = 1
    while epoch // s >= MAX_HISTORY:
        s *= 2
    return s


@dataclass
class History:
    """Train and test loss after each epoch (epoch 0 is the untrained network).

    A long run keeps the epochs that are multiples of a power of two (1, 2, 4...) chosen
    so that at most :data:`MAX_HISTORY` of them are kept, plus the latest: the curve
    stays evenly sampled and a state string stays small however long the training.
    Which epochs are kept depends only on the epochs themselves, so a run restored from
    a state string keeps the same ones as the run that wrote it.
    """

    epoch: list[int] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)

    def record(self, epoch: int, train: float, test: float) -> None:
        """Add an epoch's losses, dropping what the spacing no longer keeps."""
        stride = _stride(epoch)
        if len(self.epoch) > 1 and self.epoch[-1] % stride:
            # kept only for being the latest
            del self.epoch[-1], self.train[-1], self.test[-1]
        self.epoch.append(epoch)
        self.train.append(train)
        self.test.append(test)
        if len(self.epoch) > MAX_HISTORY + 1:
            self.thin()

    def thin(self) -> None:
        """Keep the epochs the spacing of the latest epoch keeps (and the latest)."""
        if not self.epoch:
            return
        stride, last = _stride(self.epoch[-1]), len(self.epoch) - 1
        keep = [i for i, e in enumerate(self.epoch) if e % stride == 0 or i == last]
        if len(keep) > MAX_HISTORY + 1:  # epochs out of order (not written by a Trainer)
            keep = keep[len(keep) - MAX_HISTORY - 1:]
        self.epoch[:] = [self.epoch[i] for i in keep]
        self.train[:] = [self.train[i] for i in keep]
        self.test[:] = [self.test[i] for i in keep]


class Trainer:
    """Data, network, optimizer and training loop of the playground, without widgets.

    ``step(n)`` makes ``n`` mini-batch updates; an *epoch* is one pass over the training
    points in a shuffled order drawn from ``(seed, epoch)``, so a run is reproducible and
    a restored state continues exactly where it was (optimizer moments excepted).

    Example:
        >>> t = Trainer(Settings(dataset="moons", hidden=(8, 8), batch_size=10))
        >>> before = t.losses()[0]
        >>> t.step(200)
        >>> t.steps, t.epoch, t.losses()[0] < before
        (200, 8, True)
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = (settings or Settings()).validated()
        self._make_data()
        self._make_model()

    # -- building ---------------------------------------------------------------------------
    def _make_data(self) -> None:
        s = self.settings
        make, _ = DATASETS[s.dataset]
        points, labels = make(POINTS, s.noise / 100.0, s.seed)
        n_train = round(POINTS * s.train_ratio / 100)
        self.X_train, self.X_test = points[:n_train], points[n_train:]
        self.y_train = labels[:n_train].astype(np.float64)
        self.y_test = labels[n_train:].astype(np.float64)
        ticks = np.linspace(-DOMAIN, DOMAIN, GRID)
        gx, gy = np.meshgrid(ticks, -ticks)  # row 0 is the top of the picture (x2 = +6)
        self.grid = np.column_stack([gx.ravel(), gy.ravel()])

    def features_of(self, points: np.ndarray) -> np.ndarray:
        """The selected features of ``points`` (n x 2), before standardisation."""
        a, b = points[:, 0], points[:, 1]
        return np.column_stack([FEATURES[f](a, b) for f in self.settings.features])

    def _make_model(self) -> None:
        s = self.settings
        self.scaler = Standardizer().fit(self.features_of(self.X_train))
        self.F_train = self.scaler.transform(self.features_of(self.X_train))
        self.F_test = self.scaler.transform(self.features_of(self.X_test))
        self.F_grid = self.scaler.transform(self.features_of(self.grid))
        self.model = MLP(len(s.features), [*s.hidden, 1], activation=s.activation,
                         output_activation="linear", seed=s.seed)
        self.params = self.model.parameters()
        self.weights = [w for layer in self.model.layers for n in layer.neurons for w in n.w]
        self.loss_fn = mse_loss if s.regression else binary_cross_entropy_with_logits
        nin = len(s.features)
        model = self.model

        def every_neuron(xs: list[Value]) -> list[Value]:
            outs: list[Value] = []
            for layer in model.layers:
                xs = layer(xs)
                outs.extend(xs)
            return outs

        # fit's batch computation, twice: a tape keeps arrays for two batch sizes, and
        # training (batch, last batch) and evaluation (train set, test set) need four.
        self._train_tape, self._eval_tape = (
            TapeLossAndGrad(model, self.loss_fn, self.loss_fn.target_encoding, nin, 1)
            for _ in range(2))
        self._neuron_tape = Tape.record(every_neuron, [0.0] * nin, self.params)
        self.optimizer = OPTIMIZERS[s.optimizer](self.params, s.learning_rate)
        self.epoch = self.steps = 0
        self._order = self._permutation()
        self._pos = 0
        self.history = History()
        self._record_epoch()

    def _permutation(self) -> np.ndarray:
        rng = np.random.default_rng([self.settings.seed, self.epoch])
        return rng.permutation(len(self.X_train))

    def update(self, **changes: Any) -> None:
        """Change settings by name; rebuild only what they affect.

        A new data set, noise, ratio or seed makes new data and a fresh network; new
        features, layers or activation a fresh network; a new optimizer a fresh optimizer
        on the same weights; the learning rate, batch size and regularization change
        from the next step on. Invalid values raise ``ValueError`` and change nothing.
        """
        unknown = set(changes) - {f.name for f in fields(Settings)}
        if unknown:
            raise ValueError(f"unknown playground setting(s): {', '.join(sorted(unknown))}")
        old = self.settings
        new = replace(old, **changes).validated()
        changed = {f.name for f in fields(Settings) if getattr(old, f.name) != getattr(new, f.name)}
        self.settings = new
        if changed & _DATA_FIELDS:
            self._make_data()
        if changed & _MODEL_FIELDS:
            self._make_model()
            return
        if "optimizer" in changed:
            self.optimizer = OPTIMIZERS[new.optimizer](self.params, new.learning_rate)
        elif "learning_rate" in changed:
            self.optimizer.lr = new.learning_rate

    def reset(self) -> None:
        """A fresh network from the seed (same data, settings and architecture)."""
        self._make_model()

    # -- training ---------------------------------------------------------------------------
    @enable_grad()  # training builds graphs (the penalty's) even inside a caller's no_grad
    def step(self, n: int = 1) -> None:
        """Make ``n`` mini-batch updates.

        Raises ``FloatingPointError`` (changing no parameter) when the loss or a gradient
        becomes nan or inf: the learning rate is too large.
        """
        n = integer(n, "n", minimum=0, type_error=ValueError,
                    message="step(n) needs an int n >= 0, got {value}")
        s = self.settings
        penalty = None
        if s.regularization != "none" and s.regularization_rate > 0.0:
            regularizer = {"l1": l1_penalty, "l2": l2_penalty}[s.regularization]
            penalty = functools.partial(regularizer, self.weights, s.regularization_rate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # reported as an error below
            for _ in range(n):
                idx = self._order[self._pos:self._pos + s.batch_size]
                batch = functools.partial(self.loss_and_grad, self.F_train[idx],
                                          self.y_train[idx])
                try:
                    train_step(self.optimizer, batch, penalty=penalty)
                except NonFiniteLossError as err:
                    raise FloatingPointError(
                        f"the loss became {err.loss!r} at step {self.steps + 1}; no weight "
                        f"was changed (learning rate {s.learning_rate:g} too large?)"
                    ) from None
                self.steps += 1
                self._pos += len(idx)
                if self._pos >= len(self._order):
                    self.epoch += 1
                    self._order = self._permutation()
                    self._pos = 0
                    self._record_epoch()
        self.optimizer.zero_grad()

    def loss_and_grad(self, features: np.ndarray, targets: np.ndarray
                      ) -> tuple[float, np.ndarray]:
        """The mean data loss of standardised feature rows and their targets, and the
        network's outputs; the gradient of that mean is *added* into every parameter's
        ``.grad`` (what a training step computes before its update; zero them first with
        :meth:`clear_grads`).

        Example:
            >>> t = Trainer(Settings(dataset="xor", hidden=(2,)))
            >>> loss, outputs = t.loss_and_grad(t.F_train[:4], t.y_train[:4])
            >>> outputs.shape, any(p.grad != 0.0 for p in t.params)
            ((4, 1), True)
        """
        return self._train_tape(self.model, self.loss_fn, features, targets, 1)

    @property
    def epochs_done(self) -> float:
        """Epochs of training so far, with the current one's share (3.25 is a quarter
        of the way through the fourth), where the loss curve's last point goes."""
        return self.epoch + self._pos / len(self._order)

    def _record_epoch(self) -> None:
        train, test = self.losses()
        self.history.record(self.epoch, train, test)

    def losses(self) -> tuple[float, float]:
        """Mean data loss (no penalty) on the training and the test points."""
        return self._loss(self.F_train, self.y_train), self._loss(self.F_test, self.y_test)

    def _loss(self, features: np.ndarray, targets: np.ndarray) -> float:
        if len(features) == 0:
            return math.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return self._eval_tape.forward(features, targets)[0]

    def accuracy(self) -> tuple[float, float] | None:
        """Fraction of training and test points classified right (None for regression)."""
        if self.settings.regression:
            return None
        out = []
        for features, targets in ((self.F_train, self.y_train), (self.F_test, self.y_test)):
            z = self.outputs(features)
            out.append(float(np.mean((z > 0) == (targets > 0.5))) if len(z) else math.nan)
        return out[0], out[1]

    def outputs(self, features: np.ndarray) -> np.ndarray:
        """The network's output (a logit, or the regression value) for standardised rows."""
        return self.neuron_outputs(features)[-1][-1]

    def neuron_outputs(self, features: np.ndarray) -> list[list[np.ndarray]]:
        """Every neuron's output for standardised feature rows: ``[layer][neuron] -> (n,)``,
        the last layer being the output neuron."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = self._neuron_tape.forward(features)
        widths = [*self.settings.hidden, 1]
        starts = np.cumsum([0, *widths])
        return [[out[:, j] for j in range(starts[i], starts[i + 1])] for i in range(len(widths))]

    def heatmaps(self) -> dict[str, Any]:
        """Every picture's numbers on the GRID x GRID lattice (row 0 at the top):
        ``features`` (each scaled to [-1, 1]), ``neurons[layer][j]`` (each scaled by its
        largest absolute value, so its shape shows) and ``output`` in [-1, 1]
        (``2 p - 1`` for a classifier with probability ``p``, the clipped value for
        regression)."""
        shape = (GRID, GRID)
        raw = self.features_of(self.grid)
        feats = [(raw[:, i] / max(float(np.abs(raw[:, i]).max()), 1e-12)).reshape(shape)
                 for i in range(raw.shape[1])]
        layers = self.neuron_outputs(self.F_grid)
        neurons = [[(a / m if (m := float(np.nanmax(np.abs(a)))) > 0 else a).reshape(shape)
                    for a in layer] for layer in layers[:-1]]
        z = layers[-1][0]
        out = np.clip(z, -1.0, 1.0) if self.settings.regression else np.tanh(z / 2.0)
        return {"features": feats, "neurons": neurons, "output": out.reshape(shape)}

    def neuron_heatmap(self, layer: int, index: int) -> np.ndarray:
        """One neuron's output on the lattice, unscaled (layer ``len(hidden)`` is the output)."""
        layers = self.neuron_outputs(self.F_grid)
        return layers[layer][index].reshape(GRID, GRID)

    # -- one sample through the scalar engine ---------------------------------------------------
    @enable_grad()  # the graph is what this draws, whatever the caller's grad mode
    def sample_graph(self, index: int, *, test: bool = False) -> tuple[Value, Value]:
        """``(output, loss)`` of one training (or test) point built with the scalar engine
        and backpropagated, so every node has its value and gradient for drawing."""
        points = self.F_test if test else self.F_train
        targets = self.y_test if test else self.y_train
        index = int_in(index, "point index", 0, len(points) - 1)
        names = self.settings.features
        xs = [Value(float(v), label=name) for v, name in zip(points[index], names)]
        out = self.model(xs)
        out.label = "output"
        loss = self.loss_fn(out, float(targets[index]))
        loss.label = "loss"
        self.model.zero_grad()
        loss.backward()
        return out, loss

    def clear_grads(self) -> None:
        """Zero every parameter gradient (after drawing a sample's graph)."""
        self.model.zero_grad()

    # -- state --------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Settings, progress, history and weights as a JSON-ready dict."""
        h = self.history
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "settings": self.settings.to_json(),
            "epoch": self.epoch,
            "step": self.steps,
            "position": self._pos,
            "history": {"epoch": list(h.epoch), "train": list(h.train), "test": list(h.test)},
            "parameters": [p.data for p in self.params],
        }

    def load_state(self, doc: Mapping[str, Any]) -> None:
        """Restore a dict from :func:`parse_state` (already checked), rebuilding as needed."""
        settings = doc["settings"]
        self.settings = settings
        self._make_data()
        self._make_model()
        params = doc.get("parameters")
        if params is not None:
            for p, v in zip(self.params, params):
                p.data = v
        self.epoch, self.steps = doc["epoch"], doc["step"]
        self._order = self._permutation()
        self._pos = min(doc["position"], len(self._order) - 1)
        history = doc.get("history")
        if history is not None:
            self.history = History(list(history["epoch"]), list(history["train"]),
                                   list(history["test"]))
            self.history.thin()  # a state from before the history was bounded
        else:
            self.history = History()
            self._record_epoch()


# -- parsing a state string, trusting nothing ----------------------------------------------------

def _finite_list(value: Any, name: str, *, length: int | None = None) -> list[float]:
    if not isinstance(value, list):
        raise ValueError(f"playground state: {name} must be a list, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise ValueError(f"playground state: {name} has {len(value)} numbers, the network "
                         f"needs {length}")
    out = []
    for i, v in enumerate(value):
        out.append(number(v, f"{name}[{i}]", type_error=ValueError,
                          message="playground state: {name} must be a finite number, got "
                                  "{value}"))
    return out


def _count(value: Any, name: str) -> int:
    return integer(value, name, minimum=0, maximum=10**12, type_error=ValueError,
                   message="playground state: {name} must be an int >= 0, got {value}")


def parse_state(text: Any, *, extra_keys: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Parse and check a state string from :meth:`Trainer.state` (as JSON).

    Everything is checked before anything is used: size, JSON syntax, duplicate keys,
    NaN/Infinity, the format tag and version, every setting (as :meth:`Settings.validated`),
    the counters, the history and the number of weights. Any problem raises ``ValueError``
    starting ``"playground state: "``. Returns the document with ``settings`` as a
    :class:`Settings`. Keys in ``extra_keys`` (the app's view options) are passed through
    unchecked for the caller to check.

    Example:
        >>> import json
        >>> t = Trainer(Settings(dataset="xor", hidden=(4,)))
        >>> state = parse_state(json.dumps(t.state()))
        >>> state["settings"].dataset, state["settings"].hidden
        ('xor', (4,))
        >>> parse_state('{"format": "something else"}')
        Traceback (most recent call last):
            ...
        ValueError: playground state: format must be 'chainrule.playground', got 'something else'
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"playground state: not UTF-8 text ({e})") from None
    if not isinstance(text, str):
        hint = (": read the file first: Path(...).read_text()"
                if isinstance(text, os.PathLike) else "")
        raise ValueError(f"playground state must be a JSON string, got "
                         f"{type(text).__name__}{hint}")
    if len(text) > MAX_STATE_CHARS:
        raise ValueError(f"playground state: {len(text)} characters is more than the "
                         f"{MAX_STATE_CHARS} allowed")
    if not text.strip():
        raise ValueError("playground state: the string is empty")
    try:
        doc = strict_json_loads(text)
    except StrictJSONError as e:
        raise ValueError(f"playground state: {e}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"playground state must be a JSON object, got {type(doc).__name__}")
    if doc.get("format") != STATE_FORMAT:
        raise ValueError(f"playground state: format must be {STATE_FORMAT!r}, got "
                         f"{doc.get('format')!r}")
    if not is_integer(doc.get("version")) or doc["version"] != STATE_VERSION:
        raise ValueError(f"playground state: unsupported version {doc.get('version')!r} "
                         f"(this is version {STATE_VERSION})")
    required = {"format", "version", "settings"}
    optional = {"epoch", "step", "position", "history", "parameters"} | set(extra_keys)
    missing = required - set(doc)
    unexpected = set(doc) - required - optional
    if missing or unexpected:
        raise ValueError(f"playground state: missing keys {sorted(missing)}, unexpected keys "
                         f"{sorted(unexpected)}")
    raw = doc["settings"]
    if not isinstance(raw, dict):
        raise ValueError(f"playground state: settings must be an object, got "
                         f"{type(raw).__name__}")
    names = {f.name for f in fields(Settings)}
    if set(raw) - names:
        raise ValueError(f"playground state: unknown settings {sorted(set(raw) - names)}")
    try:
        settings = Settings(**raw).validated()
    except ValueError as e:
        raise ValueError(f"playground state: {str(e).replace('playground setting ', 'setting ', 1)}"
                         ) from None
    out = dict(doc)
    out["settings"] = settings
    for key in ("epoch", "step", "position"):
        out[key] = _count(doc.get(key, 0), key)
    if "history" in doc:
        h = doc["history"]
        if not isinstance(h, dict) or set(h) != {"epoch", "train", "test"}:
            raise ValueError("playground state: history must be an object with the lists "
                             "epoch, train and test")
        n = len(h["epoch"]) if isinstance(h["epoch"], list) else -1
        epochs = [_count(e, f"history.epoch[{i}]") for i, e in enumerate(
            h["epoch"] if isinstance(h["epoch"], list) else [None])]
        train = _finite_or_nan(h["train"], "history.train", n)
        test = _finite_or_nan(h["test"], "history.test", n)
        out["history"] = {"epoch": epochs, "train": train, "test": test}
    if "parameters" in doc:
        n_params = _parameter_count(settings)
        out["parameters"] = _finite_list(doc["parameters"], "parameters", length=n_params)
    return out


def _finite_or_nan(value: Any, name: str, n: int) -> list[float]:
    # A history may hold null for a loss that was nan (an empty test set); JSON has no nan.
    if not isinstance(value, list) or len(value) != n:
        raise ValueError(f"playground state: {name} must be a list as long as history.epoch")
    return [math.nan if v is None else _finite_list([v], name)[0] for v in value]


def _parameter_count(s: Settings) -> int:
    sizes = [len(s.features), *s.hidden, 1]
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def dump_state(doc: Mapping[str, Any]) -> str:
    """The state as compact JSON text (nan losses as null)."""
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x
    return json.dumps(clean(dict(doc)), separators=(",", ":"), allow_nan=False)
