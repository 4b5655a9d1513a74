"""The playground's state string is a reader too: every state the program writes loads
again, however long it trained; empty, cut, oversized or wrongly encoded text is refused
with a message saying which."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("PIL")

from chainrule.viz.playground import Playground, Settings, Trainer, parse_state
from chainrule.viz.playground.core import (
    FEATURES,
    MAX_HISTORY,
    MAX_LAYERS,
    MAX_NEURONS,
    MAX_STATE_CHARS,
    dump_state,
)

# The longest reprs a float and a counter can have in the text.
LONG_FLOAT = -1.2345678901234567e-300
LONG_COUNT = 10**12


def train_for(trainer: Trainer, epochs: int, steps_per_epoch: int = 5) -> None:
    """Simulate a long run: the history of ``epochs`` epochs without the hours of training
    (the losses are computed for real only for the first epochs)."""
    losses = trainer.losses
    trainer.losses = lambda: (LONG_FLOAT, 0.1234567890123456)
    try:
        for _ in range(epochs):
            trainer.epoch += 1
            trainer.steps += steps_per_epoch
            trainer._record_epoch()
    finally:
        trainer.losses = losses


def test_a_state_after_a_very_long_run_still_loads():
    """114,500 steps of 5 per epoch (train ratio 10%, batch 10) made a 1,002,370-character
    state that parse_state refused; here, ten times as long."""
    t = Trainer(Settings(dataset="moons", train_ratio=10, batch_size=10, hidden=(8, 8)))
    train_for(t, 229_000)
    text = dump_state(t.state())
    assert len(text) < MAX_STATE_CHARS // 10, len(text)
    doc = parse_state(text)
    again = Trainer()
    again.load_state(doc)
    assert (again.epoch, again.steps) == (229_000, 1_145_000)
    assert again.history == t.history
    h = again.history
    assert h.epoch[0] == 0 and h.epoch[-1] == 229_000
    assert len(h.epoch) <= MAX_HISTORY + 1
    assert h.train[-1] == LONG_FLOAT


def test_the_history_is_evenly_thinned_and_grows_the_same_after_a_reload():
    t = Trainer(Settings(dataset="xor", hidden=(2,)))
    train_for(t, 5 * MAX_HISTORY + 3)
    epochs = t.history.epoch
    stride = epochs[1] - epochs[0]
    assert stride == 8 and epochs[:-1] == list(range(0, epochs[-1], stride))
    assert epochs[-1] == 5 * MAX_HISTORY + 3  # the latest epoch is always there
    again = Trainer()
    again.load_state(parse_state(dump_state(t.state())))
    train_for(t, 4321)
    train_for(again, 4321)
    assert again.history == t.history and len(t.history.epoch) <= MAX_HISTORY + 1


def test_an_older_state_with_a_long_history_is_thinned_on_loading():
    t = Trainer(Settings(dataset="moons", hidden=(3,)))
    doc = json.loads(dump_state(t.state()))
    n = 20_000
    doc["epoch"] = n - 1
    doc["history"] = {"epoch": list(range(n)), "train": [0.5] * n, "test": [0.25] * n}
    text = json.dumps(doc)
    assert len(text) < MAX_STATE_CHARS
    t.load_state(parse_state(text))
    assert len(t.history.epoch) <= MAX_HISTORY + 1 and t.history.epoch[-1] == n - 1


def test_the_largest_state_the_program_can_write_fits_the_limit():
    """Every part of a state is bounded: the settings, MAX_LAYERS x MAX_NEURONS weights,
    counters below 10**12, at most MAX_HISTORY + 1 epochs of history, the view."""
    settings = Settings(dataset="two bumps (regression)", features=tuple(FEATURES),
                        hidden=(MAX_NEURONS,) * MAX_LAYERS, activation="leaky_relu",
                        regularization="l2", regularization_rate=0.003,
                        learning_rate=0.00001, optimizer="momentum", seed=2**31 - 1)
    app = Playground(**{k: v for k, v in settings.to_json().items()})
    t = app.trainer
    for p in t.params:
        p.data = LONG_FLOAT
    t.epoch = t.steps = LONG_COUNT - 1
    n = MAX_HISTORY + 1
    t.history.epoch[:] = [LONG_COUNT - 1 - k for k in range(n)][::-1]
    t.history.train[:] = [LONG_FLOAT] * n
    t.history.test[:] = [LONG_FLOAT] * n
    app.point = LONG_COUNT
    text = app.to_json()
    assert len(text) < 100_000, len(text)  # as MAX_STATE_CHARS promises; 74,429 here
    Playground(state=text)


# -- the reader matrix for state strings (they are strings: no pipes, devices, folders) ------

@pytest.mark.parametrize(("text", "message"), [
    ("", "playground state: the string is empty"),
    ("   \n", "playground state: the string is empty"),
    (b"", "playground state: the string is empty"),
    ("x" * (MAX_STATE_CHARS + 1), "more than the 1000000 allowed"),
    ("\ufeff", "not valid JSON"),
    ('{"format": "chainrule.playground", "version": 1, "settings": {"dataset": "xo',
     r"the JSON ends too early \(truncated file\?\)"),
    ("é".encode("latin-1"), "playground state: not UTF-8 text"),
    ('{"format": "chainrule.playground"}'.encode("utf-16"), "playground state: not UTF-8 text"),
])
def test_empty_truncated_huge_and_wrongly_encoded_states(text, message):
    with pytest.raises(ValueError, match=message):
        parse_state(text)


@pytest.mark.parametrize("text", [Path("state.json"), 3, None])
def test_a_state_is_text_not_a_file_name(text):
    with pytest.raises(ValueError, match=r"must be a JSON string, got (PosixPath|WindowsPath|"
                                         r"int|NoneType)"):
        parse_state(text)
    if isinstance(text, Path):
        with pytest.raises(ValueError, match=r"read the file first: Path\(\.\.\.\)\.read_text\(\)"):
            parse_state(text)


def test_every_truncation_of_a_real_state_is_refused_cleanly():
    app = Playground(dataset="moons", hidden=[4])
    app.step(30)
    text = app.to_json()
    for cut in range(1, len(text), max(1, len(text) // 40)):
        with pytest.raises(ValueError, match=r"^playground state"):
            app.load_json(text[:cut])
    app.load_json(text)
    assert app.to_json() == text and not math.isnan(app.trainer.model.parameters()[0].data)
