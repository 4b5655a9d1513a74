"""A TensorFlow-Playground-style trainer for chainrule networks, inside Jupyter.

:class:`Playground` is the ipywidgets application (``pip install chainrule[playground]``):
pick a data set and features, add layers and neurons, press play, and watch every
neuron's heatmap, the links' weights, the output and the loss curves change live.
:class:`Trainer` is the same thing without widgets (data, network, training with the
engine's tape, heatmaps and the state string); ``chainrule.viz.playground.render`` draws
the pictures.

Example:
    >>> from chainrule.viz.playground import Playground
    >>> app = Playground(dataset="moons", hidden=[8, 8], batch_size=10)
    >>> app.step(100)
    >>> text = app.to_json()
    >>> Playground(state=text).trainer.steps
    100
"""

from .app import SPEEDS, Playground
from .core import DATASETS, FEATURES, PRESETS, Preset, Settings, Trainer, parse_state

__all__ = ["DATASETS", "FEATURES", "PRESETS", "SPEEDS", "Playground", "Preset", "Settings",
           "Trainer", "parse_state"]
