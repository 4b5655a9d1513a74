"""The playground as an ipywidgets application (needs ``pip install chainrule[playground]``).

Layout, as in the TensorFlow Playground: a top bar (play/pause, step, reset, epoch
counter, learning rate, activation, regularization, optimizer, seed); data and features
on the left; the network in the middle (each neuron a small heatmap, links coloured by
the sign and thickened by the size of their weight; click a neuron to see it large);
the output heatmap, the loss curves and the inspector on the right; below, the graph of
one point through the scalar engine, the state string, and saving the model.

Playing runs as an asyncio task on the kernel's event loop: it trains a few steps, draws
a frame and yields, so the kernel keeps handling clicks (pause) and slider changes
between frames, and nothing runs in another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import numpy as np
from chainrule.engine.checks import int_in, is_integer

from .core import (
    ACTIVATIONS,
    DATASETS,
    FEATURES,
    LEARNING_RATES,
    MAX_LAYERS,
    MAX_NEURONS,
    OPTIMIZERS,
    PRESETS,
    REGULARIZATION_RATES,
    Settings,
    Trainer,
    dump_state,
    parse_state,
)
from .render import (
    NetworkPicture,
    inspector_png,
    loss_png,
    network_png,
    output_geometry,
    output_png,
)

__all__ = ["SPEEDS", "Playground"]

SPEEDS = (1, 2, 5, 10, 25, 50, 100)
"""Training steps per drawn frame that the speed control offers."""
_VIEW_KEYS = frozenset({"view"})
_OUTPUT_SIZE = 300
_INSPECTOR_SIZE = 212


def _widgets() -> Any:
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the playground needs ipywidgets: pip install 'chainrule[playground]'"
                          ) from None
    return ipywidgets


class Playground:
    """A TensorFlow-Playground-style trainer for chainrule networks, inside Jupyter.

    Display it in a notebook (``Playground()`` as the last line of a cell). Everything
    the controls do is also a method, so it can be driven from code: ``step(n)``,
    ``play()``, ``pause()``, ``reset()``, ``set(**settings)``, ``select(...)``,
    ``to_json()`` / ``load_json(text)``, ``save_model(path)``.

    Args:
        state: a string from :meth:`to_json` to start from.
        preset: a name from :data:`~chainrule.viz.playground.PRESETS` to start from,
            e.g. ``"spiral-notes"`` (the lecture notes' spiral); ``settings`` change it.
        **settings: initial settings by name (see :class:`Settings`), e.g.
            ``dataset="moons", hidden=[8, 8], batch_size=10``.

    Example:
        >>> app = Playground(dataset="moons", hidden=[8, 8])
        >>> app.step(50)
        >>> app.trainer.steps, app.trainer.settings.hidden
        (50, (8, 8))
    """

    def __init__(self, state: str | None = None, *, preset: str | None = None,
                 **settings: Any) -> None:
        self.w = _widgets()
        if state is not None and (settings or preset is not None):
            given = sorted(settings) + (["preset"] if preset is not None else [])
            raise ValueError(f"Playground takes a state string or settings, not both (got "
                             f"settings {', '.join(given)})")
        doc = parse_state(state, extra_keys=_VIEW_KEYS) if state is not None else None
        if preset is not None:
            self.trainer = Trainer(Settings.preset(preset, **settings))
        else:
            self.trainer = Trainer(Settings(**settings) if settings else None)
        if doc is not None:
            self.trainer.load_state(doc)
        self.show_test = True
        self.discretize = False
        self.selected: tuple = ("neuron", len(self.trainer.settings.hidden), 0)
        self.point = 0
        self.speed = 5
        self.frame_interval = 1.0 / 15
        self.frames = 0
        self.steps_per_second = math.nan
        self.picture: NetworkPicture | None = None
        self.last_graph: Any = None
        self._task: asyncio.Task | None = None
        self._playing = False
        self._quiet = False
        self._build()
        if doc is not None and "view" in doc:
            self._load_view(doc["view"])
        self._sync_controls()
        self.redraw()

    # -- widgets ------------------------------------------------------------------------------
    def _build(self) -> None:
        w = self.w
        s = self.trainer.settings
        narrow = w.Layout(width="150px")
        slider_style = {"description_width": "52px"}

        def dropdown(options: Any, value: Any, description: str, width: str = "150px") -> Any:
            return w.Dropdown(options=options, value=value, description=description,
                              layout=w.Layout(width=width),
                              style={"description_width": "initial"})

        self.play_button = w.Button(description="play", icon="play", button_style="success",
                                    layout=w.Layout(width="90px"), tooltip="play / pause")
        self.step_button = w.Button(description="step", layout=w.Layout(width="60px"),
                                    tooltip="one training step")
        self.reset_button = w.Button(description="reset", layout=w.Layout(width="60px"),
                                     tooltip="a fresh network from the seed")
        self.counter = w.HTML(layout=w.Layout(margin="0 16px 0 8px"))
        # "" is "choose…": None would show an empty box instead of the prompt
        self.preset_control = dropdown([("choose…", ""), *((n, n) for n in PRESETS)], "",
                                       "preset", "220px")
        self.preset_control.tooltip = "\n".join(f"{n}: {p.about}" for n, p in PRESETS.items())
        self.speed_control = dropdown(SPEEDS, self.speed, "steps/frame", "140px")
        self.controls: dict[str, Any] = {
            "learning_rate": dropdown(LEARNING_RATES, s.learning_rate, "learning rate", "170px"),
            "activation": dropdown(ACTIVATIONS, s.activation, "activation", "170px"),
            "regularization": dropdown(("none", "l1", "l2"), s.regularization,
                                       "regularization", "170px"),
            "regularization_rate": dropdown(REGULARIZATION_RATES, s.regularization_rate,
                                            "rate", "120px"),
            "optimizer": dropdown(tuple(OPTIMIZERS), s.optimizer, "optimizer", "150px"),
            "seed": w.BoundedIntText(value=s.seed, min=0, max=2**31 - 1, description="seed",
                                     layout=w.Layout(width="130px"),
                                     style={"description_width": "initial"}),
            "dataset": w.RadioButtons(options=tuple(DATASETS), value=s.dataset,
                                      layout=w.Layout(width="190px")),
            "train_ratio": w.IntSlider(value=s.train_ratio, min=10, max=90, step=10,
                                       description="train %", continuous_update=False,
                                       layout=w.Layout(width="225px"), style=slider_style),
            "noise": w.IntSlider(value=s.noise, min=0, max=50, step=5, description="noise",
                                 continuous_update=False, layout=w.Layout(width="225px"),
                                 style=slider_style),
            "batch_size": w.IntSlider(value=s.batch_size, min=1, max=30, description="batch",
                                      continuous_update=False, layout=w.Layout(width="225px"),
                                 style=slider_style),
        }
        self.feature_buttons = {
            name: w.ToggleButton(value=name in s.features, description=name,
                                 layout=w.Layout(width="64px"))
            for name in FEATURES
        }
        self.add_layer = w.Button(description="+ layer", layout=w.Layout(width="70px"))
        self.remove_layer = w.Button(description="− layer", layout=w.Layout(width="70px"))
        self.layer_box = w.HBox()
        self.show_test_box = w.Checkbox(value=self.show_test, description="show test data",
                                        indent=False, layout=narrow)
        self.discretize_box = w.Checkbox(value=self.discretize, description="discretize output",
                                         indent=False, layout=narrow)
        self.neuron_choice = dropdown([("output", self.selected)], self.selected, "inspect",
                                      "220px")
        # natural size: a flex column would otherwise stretch a picture to its width
        def picture() -> Any:
            return w.Image(format="png", layout=w.Layout(align_self="flex-start"))

        self.network_image, self.output_image = picture(), picture()
        self.loss_image, self.inspector_image = picture(), picture()
        self.status = w.HTML()
        self.point_box = w.BoundedIntText(value=0, min=0, max=len(self.trainer.X_train) - 1,
                                          description="point", layout=w.Layout(width="130px"),
                                          style={"description_width": "initial"})
        self.gates_box = w.Checkbox(value=False, description="every gate", indent=False,
                                    layout=w.Layout(width="100px"))
        self.graph_button = w.Button(description="draw graph of point",
                                     layout=w.Layout(width="160px"),
                                     tooltip="forward and backward of this point with the "
                                             "scalar engine, drawn node by node")
        self.graph_view = w.HTML(layout=w.Layout(max_height="420px", overflow="auto"))
        self.state_text = w.Textarea(placeholder="state string (JSON)",
                                     layout=w.Layout(width="100%", height="60px"))
        self.save_state_button = w.Button(description="save state",
                                          layout=w.Layout(width="100px"))
        self.load_state_button = w.Button(description="load state",
                                          layout=w.Layout(width="100px"))
        self.model_path = w.Text(value="playground-model.json", description="model file",
                                 layout=w.Layout(width="320px"),
                                 style={"description_width": "initial"})
        self.save_model_button = w.Button(description="save model",
                                          layout=w.Layout(width="100px"))

        # events
        self.play_button.on_click(lambda _: self.pause() if self._playing else self.play())
        self.step_button.on_click(lambda _: self._guard(self.step, 1))
        self.reset_button.on_click(lambda _: self._guard(self.reset))
        self.add_layer.on_click(lambda _: self._change_layers(+1))
        self.remove_layer.on_click(lambda _: self._change_layers(-1))
        for name, control in self.controls.items():
            control.observe(self._on_control(name), names="value")
        for button in self.feature_buttons.values():
            button.observe(self._on_features, names="value")
        self.speed_control.observe(self._on_speed, names="value")
        self.preset_control.observe(self._on_preset, names="value")
        self.show_test_box.observe(self._on_view, names="value")
        self.discretize_box.observe(self._on_view, names="value")
        self.neuron_choice.observe(self._on_neuron_choice, names="value")
        self.point_box.observe(self._on_point, names="value")
        self.graph_button.on_click(lambda _: self._guard(self.draw_point_graph))
        self.save_state_button.on_click(lambda _: self._guard(self._save_state_clicked))
        self.load_state_button.on_click(lambda _: self._guard(self.load_json,
                                                              self.state_text.value))
        self.save_model_button.on_click(lambda _: self._guard(self.save_model,
                                                              self.model_path.value))
        self.clicks = self._click_events()

        c = self.controls
        header = lambda text: w.HTML(f"<b>{text}</b>")  # noqa: E731
        top = w.HBox([self.play_button, self.step_button, self.reset_button, self.counter,
                      self.speed_control, c["learning_rate"], c["activation"],
                      c["regularization"], c["regularization_rate"], c["optimizer"], c["seed"]],
                     layout=w.Layout(flex_flow="row wrap", align_items="center"))
        features = list(self.feature_buttons.values())
        left = w.VBox([self.preset_control, header("data"), c["dataset"], c["train_ratio"],
                       c["noise"], c["batch_size"], header("features"),
                       w.HBox(features[:2]), w.HBox(features[2:5]), w.HBox(features[5:]),
                       self.neuron_choice, self.inspector_image],
                      layout=w.Layout(width="230px"))
        middle = w.VBox([w.HBox([header("hidden layers"), self.add_layer, self.remove_layer]),
                         self.layer_box, self.network_image,
                         w.HTML("<small>click a neuron to see it large; blue = positive, "
                                "orange = negative</small>")])
        right = w.VBox([header("output"), self.loss_image, self.output_image,
                        w.HBox([self.show_test_box, self.discretize_box])])
        graph = w.VBox([w.HBox([header("one point through the scalar engine"), self.point_box,
                                self.gates_box, self.graph_button]), self.graph_view])
        state = w.VBox([w.HBox([header("state"), self.save_state_button,
                                self.load_state_button, self.model_path,
                                self.save_model_button]), self.state_text])
        self.widget = w.VBox([top, w.HBox([left, middle, right]), self.status, graph, state])
        self.widget.add_class("chainrule-playground")
        # class names for styling and for the browser test to find the pictures
        for name in ("network", "output", "loss", "inspector"):
            getattr(self, f"{name}_image").add_class(f"chainrule-{name}")

    def _click_events(self) -> list[Any]:
        """Clicks on the network (select a neuron) and on the output (select a point),
        through ipyevents when it is installed; the dropdown and the point box work
        without it."""
        try:
            from ipyevents import Event
        except ImportError:
            return []
        net = Event(source=self.network_image, watched_events=["click"])
        net.on_dom_event(self._on_network_click)
        out = Event(source=self.output_image, watched_events=["click"])
        out.on_dom_event(self._on_output_click)
        return [net, out]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- driving it from code ---------------------------------------------------------------------
    def set(self, **settings: Any) -> None:
        """Change settings by name (as the controls do) and redraw."""
        self.trainer.update(**settings)
        self._after_settings_change()

    def step(self, n: int = 1) -> None:
        """Train ``n`` mini-batch steps and redraw."""
        self.trainer.step(n)
        self.redraw()

    def reset(self) -> None:
        """A fresh network from the seed; history cleared."""
        self.trainer.reset()
        self.redraw()

    def load_preset(self, name: str) -> None:
        """Switch to a preset's settings (see ``PRESETS``) with a fresh network.

        Example:
            >>> app = Playground()
            >>> app.load_preset("spiral-notes")
            >>> app.trainer.settings.hidden, app.trainer.steps
            ((1, 2), 0)
        """
        settings = Settings.preset(name)
        self.pause()
        changes = {f.name: getattr(settings, f.name) for f in fields(Settings)}
        self.trainer.update(**changes)
        self.trainer.reset()  # a fresh network even where the architecture did not change
        self._after_settings_change()
        self._message(f"preset {name}: {PRESETS[name].about}")

    def play(self) -> asyncio.Task:
        """Start training in the background (an asyncio task on the running loop).

        In Jupyter the kernel's loop is running; elsewhere call it from a coroutine.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("play() needs a running asyncio event loop (as in Jupyter); "
                               "from a script use step(n), or call play() inside a "
                               "coroutine") from None
        self._playing = True
        self._show_playing()
        if self._task is not None and not self._task.done():
            return self._task  # paused less than a frame ago: the loop goes on
        self._task = loop.create_task(self._loop())
        return self._task

    def pause(self) -> None:
        """Stop after the current frame."""
        self._playing = False
        self._show_playing()

    @property
    def playing(self) -> bool:
        """True while the background task trains."""
        return self._playing

    async def _loop(self) -> None:
        started, steps0 = time.perf_counter(), self.trainer.steps
        try:
            while self._playing:
                t0 = time.perf_counter()
                self.trainer.step(self.speed)
                self.redraw()
                self.frames += 1
                elapsed = time.perf_counter() - started
                if elapsed > 0.5:
                    self.steps_per_second = (self.trainer.steps - steps0) / elapsed
                # Yield to the kernel between frames: it handles widget messages then.
                await asyncio.sleep(max(0.002, self.frame_interval - (time.perf_counter() - t0)))
        except FloatingPointError as e:
            self._message(f"training stopped: {e}", error=True)
        except Exception as e:  # shown, not lost in a task nobody awaits
            self._message(f"training stopped: {type(e).__name__}: {e}", error=True)
        finally:
            self._playing = False
            self._show_playing()

    def select(self, key: tuple) -> None:
        """Inspect a neuron: ``("neuron", layer, j)`` (layer ``len(hidden)`` is the output)
        or ``("feature", i)``."""
        if key not in self._selectable():
            raise ValueError(f"no such neuron in the network: {key!r}")
        self.selected = tuple(key)
        with self._quietly():
            self.neuron_choice.value = self.selected
        self.redraw()

    def select_point(self, index: int) -> None:
        """Choose the training point whose graph :meth:`draw_point_graph` draws."""
        n = len(self.trainer.X_train)
        self.point = int_in(index, "point", 0, n - 1)
        with self._quietly():
            self.point_box.value = self.point
        self.redraw()

    def draw_point_graph(self) -> Any:
        """Forward and backward of the selected training point through the scalar engine,
        drawn (neuron boxes, or every gate with the 'every gate' box) in the graph view.
        Returns the ``graphviz.Digraph``."""
        from chainrule.viz import GraphvizNotFoundError, draw_graph, draw_summary

        t = self.trainer
        out, loss = t.sample_graph(self.point)
        try:
            target = float(t.y_train[self.point])
            title = (f"training point {self.point} at ({t.X_train[self.point][0]:.2f}, "
                     f"{t.X_train[self.point][1]:.2f}), target {target:g}: output "
                     f"{out.data:.4f}, loss {loss.data:.4f}")
            if self.gates_box.value:
                dot = draw_graph(loss, max_nodes=None, title=title)
            else:
                dot = draw_summary(loss, model=t.model, title=title, max_nodes=None)
            self.last_graph = dot
            try:
                svg = dot.pipe(format="svg", encoding="utf-8")
                self.graph_view.value = svg[svg.find("<svg"):]
            except GraphvizNotFoundError as e:
                self.graph_view.value = f"<pre>{_escape(str(e))}</pre>"
        finally:
            t.clear_grads()
        return dot

    def to_json(self) -> str:
        """The whole state (settings, weights, progress, loss history, view) as JSON."""
        doc = self.trainer.state()
        doc["view"] = {"show_test": self.show_test, "discretize": self.discretize,
                       "selected": list(self.selected), "point": self.point,
                       "speed": self.speed}
        return dump_state(doc)

    def load_json(self, text: str) -> None:
        """Restore a state string from :meth:`to_json`; a bad one raises ``ValueError``
        and changes nothing."""
        doc = parse_state(text, extra_keys=_VIEW_KEYS)
        view = self._check_view(doc.get("view"), doc["settings"])
        self.pause()
        self.trainer.load_state(doc)
        if view is not None:
            self._load_view(view)
        self._sync_controls()
        self.redraw()
        self._message(f"state loaded: epoch {self.trainer.epoch}, step {self.trainer.steps}")

    def save_model(self, path: str | os.PathLike) -> None:
        """Save the network with ``Module.save`` (JSON; reload with ``chainrule.nn.load``).

        Its inputs are the selected features, standardised with the training points'
        statistics (``trainer.scaler``)."""
        self.trainer.model.save(path)
        names = ", ".join(self.trainer.settings.features)
        self._message(f"model saved to {os.fspath(path)} (inputs: standardised {names})")

    # -- control events --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _quietly(self) -> Iterator[None]:
        """Set widget values without their observers acting on them."""
        quiet, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = quiet

    def _guard(self, fn: Any, *args: Any) -> None:
        """Run a button's action; errors become a message (a callback has nowhere to raise)."""
        try:
            fn(*args)
        except (ValueError, TypeError, OSError, FloatingPointError, RuntimeError) as e:
            self._message(str(e), error=True)

    def _on_control(self, name: str) -> Any:
        def handler(change: dict) -> None:
            if self._quiet:
                return
            try:
                self.trainer.update(**{name: change["new"]})
            except ValueError as e:
                self._message(str(e), error=True)
                with self._quietly():
                    self.controls[name].value = change["old"]
                return
            self._after_settings_change()
        return handler

    def _on_features(self, change: dict) -> None:
        if self._quiet:
            return
        chosen = [name for name, b in self.feature_buttons.items() if b.value]
        if not chosen:
            self._message("select at least one input feature", error=True)
            with self._quietly():
                change["owner"].value = True
            return
        self.trainer.update(features=chosen)
        self._after_settings_change()

    def _change_layers(self, delta: int, layer: int | None = None) -> None:
        hidden = list(self.trainer.settings.hidden)
        if layer is None:  # add or remove a whole layer
            if delta > 0 and len(hidden) < MAX_LAYERS:
                hidden.append(hidden[-1] if hidden else 4)
            elif delta < 0 and hidden:
                hidden.pop()
        else:
            hidden[layer] = min(MAX_NEURONS, max(1, hidden[layer] + delta))
        if tuple(hidden) != self.trainer.settings.hidden:
            self.set(hidden=hidden)

    def _on_preset(self, change: dict) -> None:
        if self._quiet or not change["new"]:
            return
        self._guard(self.load_preset, change["new"])
        with self._quietly():  # the menu is an action, not a setting: back to "choose…"
            self.preset_control.value = ""

    def _on_speed(self, change: dict) -> None:
        self.speed = int(change["new"])

    def _on_view(self, change: dict) -> None:
        if self._quiet:
            return
        self.show_test = bool(self.show_test_box.value)
        self.discretize = bool(self.discretize_box.value)
        self.redraw()

    def _on_neuron_choice(self, change: dict) -> None:
        if not self._quiet and change["new"] is not None:
            self.select(change["new"])

    def _on_point(self, change: dict) -> None:
        if not self._quiet:
            self._guard(self.select_point, int(change["new"]))

    def _on_network_click(self, event: dict) -> None:
        if self.picture is None:
            return
        key = self.picture.hit(float(event.get("dataX", -1)), float(event.get("dataY", -1)))
        if key is not None:
            self.select(key)

    def _on_output_click(self, event: dict) -> None:
        left, top, size = output_geometry(_OUTPUT_SIZE)
        x, y = float(event.get("dataX", -1)), float(event.get("dataY", -1))
        if not (left <= x <= left + size and top <= y <= top + size):
            return
        from .core import DOMAIN

        p = np.array([(x - left) / size * 2 * DOMAIN - DOMAIN,
                      DOMAIN - (y - top) / size * 2 * DOMAIN])
        self.select_point(int(np.argmin(((self.trainer.X_train - p) ** 2).sum(axis=1))))

    def _save_state_clicked(self) -> None:
        self.state_text.value = self.to_json()
        self._message("state saved in the box below (copy it; 'load state' restores it)")

    def _after_settings_change(self) -> None:
        if self.selected not in self._selectable():
            self.selected = ("neuron", len(self.trainer.settings.hidden), 0)
        self.point = min(self.point, len(self.trainer.X_train) - 1)
        self._sync_controls()
        self.redraw()

    # -- view state --------------------------------------------------------------------------------
    def _check_view(self, view: Any, settings: Settings) -> dict | None:
        if view is None:
            return None
        if not isinstance(view, dict) or set(view) - {"show_test", "discretize", "selected",
                                                      "point", "speed"}:
            raise ValueError("playground state: view must be an object with show_test, "
                             "discretize, selected, point and speed")
        for key in ("show_test", "discretize"):
            if key in view and not isinstance(view[key], bool):
                raise ValueError(f"playground state: view.{key} must be true or false")
        speed = view.get("speed", SPEEDS[0])
        if not is_integer(speed) or speed not in SPEEDS:
            raise ValueError(f"playground state: view.speed must be one of {list(SPEEDS)}")
        if "point" in view and (not is_integer(view["point"]) or view["point"] < 0):
            raise ValueError("playground state: view.point must be an int >= 0")
        if "selected" in view:
            sel = view["selected"]
            ok = (isinstance(sel, list) and len(sel) in (2, 3) and sel[0] in ("feature", "neuron")
                  and all(is_integer(v) for v in sel[1:]))
            if not ok:
                raise ValueError("playground state: view.selected must be ['feature', i] or "
                                 "['neuron', layer, j]")
        return view

    def _load_view(self, view: dict) -> None:
        self.show_test = view.get("show_test", self.show_test)
        self.discretize = view.get("discretize", self.discretize)
        self.speed = view.get("speed", self.speed)
        self.point = min(view.get("point", 0), len(self.trainer.X_train) - 1)
        sel = tuple(view.get("selected", self.selected))
        self.selected = sel if sel in self._selectable() else (
            "neuron", len(self.trainer.settings.hidden), 0)

    def _selectable(self) -> list[tuple]:
        s = self.trainer.settings
        keys: list[tuple] = [("feature", i) for i in range(len(s.features))]
        for layer, width in enumerate([*s.hidden, 1]):
            keys.extend(("neuron", layer, j) for j in range(width))
        return keys

    def _name(self, key: tuple) -> str:
        s = self.trainer.settings
        if key[0] == "feature":
            return f"input {s.features[key[1]]}"
        if key[1] == len(s.hidden):
            return "output"
        return f"layer {key[1] + 1} · neuron {key[2] + 1}"

    def _sync_controls(self) -> None:
        """Make every widget show the trainer's settings (without acting on it)."""
        s = self.trainer.settings
        with self._quietly():
            for name, control in self.controls.items():
                control.value = getattr(s, name)
            for name, button in self.feature_buttons.items():
                button.value = name in s.features
            self.speed_control.value = self.speed
            self.show_test_box.value = self.show_test
            self.discretize_box.value = self.discretize
            self.neuron_choice.options = [(self._name(k), k) for k in self._selectable()]
            self.neuron_choice.value = self.selected
            self.point_box.max = len(self.trainer.X_train) - 1
            self.point_box.value = self.point
        self._layer_controls()

    def _layer_controls(self) -> None:
        w = self.w
        boxes = []
        for k, width in enumerate(self.trainer.settings.hidden):
            minus = w.Button(description="−", layout=w.Layout(width="34px"),
                             tooltip=f"one neuron less in layer {k + 1}")
            plus = w.Button(description="+", layout=w.Layout(width="34px"),
                            tooltip=f"one neuron more in layer {k + 1}")
            minus.on_click(lambda _, k=k: self._change_layers(-1, k))
            plus.on_click(lambda _, k=k: self._change_layers(+1, k))
            boxes.append(w.HBox([minus, w.HTML(f"&nbsp;{width} in layer {k + 1}&nbsp;"), plus],
                                layout=w.Layout(margin="0 12px 0 0")))
        for old in self.layer_box.children:
            for button in old.children:
                if isinstance(button, w.Button):
                    button.close()
        self.layer_box.children = boxes

    # -- drawing ---------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Draw every picture and the counters from the current network."""
        t = self.trainer
        s = t.settings
        maps = t.heatmaps()
        weights = [np.array([[w.data for w in n.w] for n in layer.neurons])
                   for layer in t.model.layers]
        self.picture = network_png(s.features, maps["features"], maps["neurons"], maps["output"],
                                   weights, activation=s.activation, selected=self.selected)
        self.network_image.value = self.picture.png
        test = (t.X_test, t.y_test) if self.show_test else None
        self.output_image.value = output_png(
            maps["output"], size=_OUTPUT_SIZE, train=(t.X_train, t.y_train), test=test,
            regression=s.regression, discretize=self.discretize, highlight=self.point,
            title="regression value" if s.regression else "class: blue 1, orange 0")
        h = t.history
        train_now, test_now = t.losses()
        self.loss_image.value = loss_png([*h.epoch, t.epochs_done],
                                         [*h.train, train_now], [*h.test, test_now])
        self.inspector_image.value = self._inspector(maps)
        acc = t.accuracy()
        accuracy = "" if acc is None else f" · test accuracy {acc[1]:.1%}"
        rate = "" if math.isnan(self.steps_per_second) else \
            f" · {self.steps_per_second:.0f} steps/s"
        self.counter.value = (f"<span class='chainrule-counter'>epoch <b>{t.epoch}</b> · step "
                              f"<b>{t.steps}</b>{accuracy}{rate}</span>")

    def _inspector(self, maps: dict) -> bytes:
        t = self.trainer
        key = self.selected
        if key[0] == "feature":
            heat = maps["features"][key[1]]
            subtitle = "the feature, scaled to [-1, 1]"
        else:
            raw = t.neuron_heatmap(key[1], key[2])
            if key[1] == len(t.settings.hidden):
                heat = maps["output"]
                subtitle = ("2p − 1, p = P(class 1)" if not t.settings.regression
                            else "the prediction, clipped to [-1, 1]")
            else:
                top = float(np.nanmax(np.abs(raw))) if raw.size else 0.0
                heat = raw / top if top > 0 else raw
                subtitle = (f"{t.settings.activation} output from {np.nanmin(raw):.3g} to "
                            f"{np.nanmax(raw):.3g}")
        return inspector_png(heat, title=self._name(key), subtitle=subtitle, size=_INSPECTOR_SIZE,
                             points=(t.X_train, t.y_train), regression=t.settings.regression)

    def _message(self, text: str, *, error: bool = False) -> None:
        colour = "#a40e26" if error else "#57606a"
        self.status.value = f"<span style='color:{colour}'>{_escape(text)}</span>"

    def _show_playing(self) -> None:
        # FontAwesome icons (shipped with Jupyter): the Unicode pause sign is missing from
        # common fonts and showed as an empty box
        b = self.play_button
        if self._playing:
            b.description, b.icon, b.button_style = "pause", "pause", "warning"
        else:
            b.description, b.icon, b.button_style = "play", "play", "success"

    def snapshot(self) -> Any:
        """The network, output and loss pictures side by side, as an ``IPython`` image
        (shows where widgets do not, e.g. a notebook viewed on GitHub)."""
        import io

        from IPython.display import Image as IPImage
        from PIL import Image

        parts = [Image.open(io.BytesIO(img.value)) for img in
                 (self.network_image, self.output_image, self.loss_image)]
        net, out, loss = parts
        width = net.width + max(out.width, loss.width) + 10
        height = max(net.height, out.height + loss.height + 6)
        canvas = Image.new("RGB", (width, height), (255, 255, 255))
        canvas.paste(net, (0, 0))
        canvas.paste(loss, (net.width + 10, 0))
        canvas.paste(out, (net.width + 10, loss.height + 6))
        buf = io.BytesIO()
        canvas.save(buf, format="PNG")
        return IPImage(data=buf.getvalue(), format="png")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
