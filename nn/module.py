"""Modules: ``Module``, ``Neuron``, ``Layer``, ``MLP``, ``Dropout``, ``Maxout``, ``Sequential``,
``Residual``.

A module owns its parameters as plain attributes: a ``Value``, a ``Module``, or a list
or tuple of them. :meth:`Module.parameters` finds them by walking ``vars(self)`` in the
order the attributes were assigned, depth first; no ``__setattr__`` magic and no
registration. So a ``Neuron`` yields its weights then its bias, a ``Layer`` neuron by
neuron, an ``MLP`` layer by layer, and ``named_parameters`` spells the path with dots:
``layers.0.neurons.3.w.1`` is the second weight of the fourth neuron of the first layer.
A parameter reachable twice (a shared weight) is listed once, under its first name.

Speed matters here (the scalar engine builds one node per multiply): a neuron's
pre-activation is *one* ``Value.sum`` node over its products and bias, and raw numbers
are turned into ``Value`` leaves once per call of the outermost module, never once per
neuron.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import mul
from typing import Any

import numpy as np
from chainrule.engine import RULES, Value
from chainrule.engine.checks import flag, integer, is_integer, is_real, number

from . import files

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "MLP",
    "Activation",
    "Dropout",
    "Layer",
    "Maxout",
    "Module",
    "Neuron",
    "Residual",
    "Sequential",
]

_vsum = Value.sum
_vmax = Value.max

FORMAT = "chainrule.model"
"""The format tag of a model file (``Module.save`` writes it, ``persistence.load`` checks it)."""
VERSION = 1
"""The version of the model file format."""


# -- activations --------------------------------------------------------------------------

def _identity(v: Value) -> Value:
    return v


def _op(name: str) -> tuple[Callable[..., Value], float | None]:
    """An activation that is one op of the engine: its Value method, and the default of
    its ``alpha`` as the rule table gives it (None when it takes none)."""
    rule = RULES[name]
    return getattr(Value, rule.method), rule.arguments.get("alpha")


# name -> (function of a Value, default alpha or None when the activation takes none).
# Six are ops of the engine (one row each in chainrule.engine.RULES); linear and swish
# (x * sigmoid(x)) are compositions.
_ACTIVATION_TABLE: dict[str, tuple[Callable[..., Value], float | None]] = {
    "linear": (_identity, None),
    **{name: _op(name)
       for name in ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus")},
    "swish": (Value.swish, None),
}

ACTIVATIONS: tuple[str, ...] = tuple(_ACTIVATION_TABLE)
"""The activation names a Neuron, Layer or MLP accepts."""

# He initialisation suits the rectifier family, Glorot the saturating and linear ones.
_AUTO_INIT = {"linear": "xavier", "sigmoid": "xavier", "tanh": "xavier"}


class Activation:
    """An activation function by name, with its ``alpha`` for ``leaky_relu`` and ``elu``.

    Modules accept a name (``"relu"``) or an ``Activation`` when the parameter matters:
    the *Back Propagation* notes' leaky ReLU ``max(0.1x, x)`` is
    ``Activation("leaky_relu", alpha=0.1)``.

    Example:
        >>> Activation("leaky_relu", alpha=0.1)(Value(-2.0)).data
        -0.2
    """

    __slots__ = ("alpha", "fn", "name")

    def __init__(self, name: str, alpha: float | None = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"activation name must be a str, got {type(name).__name__}")
        if name not in _ACTIVATION_TABLE:
            raise ValueError(
                f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}"
            )
        fn, default = _ACTIVATION_TABLE[name]
        if alpha is not None and default is None:
            raise ValueError(f"activation {name!r} takes no alpha, got alpha={alpha!r}")
        if default is not None:
            if alpha is None:
                alpha = default
            else:
                alpha = number(alpha, "alpha", type_message="{name} must be a real number, got "
                               "{type}", message=f"activation {name!r} needs a finite alpha, "
                               "got {value}")
            fn = functools.partial(fn, alpha=alpha)
        self.name = name
        self.alpha = alpha
        # None for linear, so layers can skip the call entirely.
        self.fn: Callable[[Value], Value] | None = None if name == "linear" else fn

    def __call__(self, v: Value) -> Value:
        return v if self.fn is None else self.fn(v)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Activation):
            return NotImplemented
        return (self.name, self.alpha) == (other.name, other.alpha)

    def __hash__(self) -> int:
        return hash((self.name, self.alpha))

    def __repr__(self) -> str:
        _, default = _ACTIVATION_TABLE[self.name]
        if self.alpha is None or self.alpha == default:
            return self.name
        return f"{self.name}(alpha={self.alpha!r})"

    def to_json(self) -> str | dict[str, Any]:
        """The name, or ``{"name": ..., "alpha": ...}`` for a non-default alpha."""
        _, default = _ACTIVATION_TABLE[self.name]
        if self.alpha is None or self.alpha == default:
            return self.name
        return {"name": self.name, "alpha": self.alpha}


def _activation(spec: Any) -> Activation:
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        return Activation(spec)
    raise TypeError(
        f"activation must be a name ({', '.join(ACTIVATIONS)}) or an Activation, "
        f"got {type(spec).__name__}"
    )


# -- initialisation -------------------------------------------------------------------------

def _init_uniform(fan_in: int, fan_out: int, rng: random.Random) -> float:
    # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for nn.Linear weights.
    limit = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-limit, limit)


def _init_xavier(fan_in: int, fan_out: int, rng: random.Random) -> float:
    # Glorot & Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) keeps the
    # variance of activations and of gradients roughly equal across layers.
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit)


def _init_he(fan_in: int, fan_out: int, rng: random.Random) -> float:
    # He et al. (2015): N(0, 2 / fan_in) makes up for ReLU zeroing half its inputs.
    return rng.gauss(0.0, math.sqrt(2.0 / fan_in))


INITS: dict[str, Callable[[int, int, random.Random], float]] = {
    "uniform": _init_uniform,
    "xavier": _init_xavier,
    "glorot": _init_xavier,
    "he": _init_he,
    "kaiming": _init_he,
}
"""Weight-initialisation schemes by name (``"auto"`` picks one from the activation)."""


def _init_scheme(init: Any, activation: Activation) -> str:
    if not isinstance(init, str):
        raise TypeError(f"init must be a str, got {type(init).__name__}")
    if init == "auto":
        return _AUTO_INIT.get(activation.name, "he")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose from auto, {', '.join(INITS)}")
    return init


def _rng(seed: Any) -> random.Random:
    """A private generator: never the global ``random`` state (BAD_INPUTS 52)."""
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        return random.Random()  # seeded from the OS, independent of random.seed()
    if not is_integer(seed):
        raise TypeError(
            f"seed must be an int, None or a random.Random, got {type(seed).__name__}"
        )
    return random.Random(int(seed))


# -- argument checks ------------------------------------------------------------------------

def _count(n: Any, name: str) -> int:
    """A positive int: TypeError for a float or a bool, ValueError below 1."""
    return integer(n, name, minimum=1, message="{name} must be a positive int, got {got}")


def _as_inputs(x: Any, nin: int | None, who: Any) -> list[Value]:
    """The inputs of a model call as a list of Values, checked against ``nin`` (unless None).

    Raw numbers become new leaves here, once per call of the outermost module.
    """
    if type(x) is not list and type(x) is not tuple:
        if isinstance(x, np.ndarray):
            if x.ndim != 1:
                raise ValueError(
                    f"{who!r} takes one sample (a 1-D input), got an array of shape "
                    f"{x.shape}; call the model once per row"
                )
            x = x.tolist()
        elif isinstance(x, (str, bytes, Value)) or not isinstance(x, Sequence):
            raise TypeError(
                f"{who!r} takes a sequence of numbers or Values, got {type(x).__name__}"
            )
    if nin is not None and len(x) != nin:
        raise ValueError(f"{who!r} expected {nin} inputs, got {len(x)}")
    try:
        return [v if type(v) is Value else Value(v) for v in x]
    except TypeError:
        for i, v in enumerate(x):
            if not isinstance(v, Value) and not is_real(v):
                raise TypeError(
                    f"{who!r}: input {i} is {type(v).__name__} ({v!r}), "
                    "not a number or Value"
                ) from None
        raise


# -- the base class ---------------------------------------------------------------------------

class Module:
    """Base of every model: parameter discovery, modes, state and saving.

    Subclasses assign their parameters (``Value``), sub-modules (``Module``) and
    lists/tuples of either as attributes in ``__init__``; everything else here follows.
    Store constants as floats, not Values: every reachable Value is a parameter.

    Example:
        >>> m = MLP(2, [3, 1], seed=0)
        >>> len(m.parameters()), m.named_parameters()[0][0]
        (13, 'layers.0.neurons.0.w.0')
    """

    training: bool = True
    trace_safe: bool = False
    """Set to True in a subclass whose forward pass builds the same ops for every input
    (no Python ``if`` on ``.data``, no randomness); see :attr:`Module.traceable`."""
    output_activation: Activation | str | None = None
    """The activation the model's outputs went through last (an :class:`Activation`), or
    None when unknown. ``fit`` picks its default loss and its accuracy threshold from it,
    and the decision-boundary plot its threshold: a model ending in a sigmoid outputs
    probabilities (class 1 above 0.5), any other model scores (class 1 above 0). The
    modules of this package say it; a custom module may set it (a name will do)."""

    # -- structure --------------------------------------------------------------------------
    def _walk(self) -> Iterator[tuple[str, Any]]:
        """(dotted name, item) for every Value and sub-Module below this one, depth first,
        in attribute-assignment and list order. Each Module or list is entered once."""
        stack: list[tuple[tuple[str, ...], Any]] = [((), self)]
        entered: set[int] = set()
        while stack:
            path, obj = stack.pop()
            if isinstance(obj, Value):
                yield ".".join(path), obj
                continue
            if id(obj) in entered:
                continue
            entered.add(id(obj))
            if isinstance(obj, Module):
                if obj is not self:
                    yield ".".join(path), obj
                items = vars(obj).items()
            else:  # a list or tuple
                items = ((str(i), item) for i, item in enumerate(obj))
            children = [((*path, name), item) for name, item in items
                        if isinstance(item, (Value, Module, list, tuple))]
            stack.extend(reversed(children))  # so that popping visits them in order

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(dotted name, parameter)`` pairs in :meth:`parameters` order.

        Example:
            >>> [name for name, _ in Neuron(2, seed=0).named_parameters()]
            ['w.0', 'w.1', 'b']
        """
        out = []
        seen: set[int] = set()
        for name, item in self._walk():
            if isinstance(item, Value) and id(item) not in seen:
                seen.add(id(item))
                out.append((name, item))
        return out

    def parameters(self) -> list[Value]:
        """Every parameter once, in a stable order: attributes in assignment order, depth
        first (a Neuron's weights then its bias; a Layer's neurons in order; an MLP's
        layers in order). A shared parameter appears once, at its first position."""
        return [p for _, p in self.named_parameters()]

    def modules(self) -> list[Module]:
        """This module and every sub-module, depth first, each once."""
        return _all_modules(self)

    def num_parameters(self) -> int:
        """How many scalar parameters the model has."""
        return len(self.named_parameters())

    # -- gradients and modes -----------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (call it before each backward)."""
        for p in self.parameters():
            p.grad = 0.0

    def train(self, mode: bool = True) -> Module:
        """Switch this module and all sub-modules to training mode (Dropout active)."""
        flag(mode, "mode", message="train(mode) needs a bool, got {type}")
        for m in _all_modules(self):
            m.training = mode
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (Dropout passes inputs through); returns self."""
        return self.train(False)

    @property
    def traceable(self) -> bool:
        """True when a forward pass builds the same graph shape for every input and has
        no randomness, so one recorded sample can be replayed on a batch.

        False when a sub-module draws random numbers (an active Dropout), or is a
        subclass defined outside this package that has not declared
        ``trace_safe = True`` (its forward might branch on values).
        """
        return all(m.untraceable_reason() is None for m in _all_modules(self))

    def untraceable_reason(self) -> str | None:
        """Why this module itself (not counting its sub-modules) cannot be recorded once
        and replayed, or None when it can.

        Example:
            >>> Dropout(0.5).untraceable_reason()
            'Dropout(p=0.5) is active in training mode (the tape would freeze its mask)'
            >>> Dropout(0.5).eval().untraceable_reason() is None
            True
        """
        if type(self).trace_safe:
            return None
        return f"{type(self).__name__} does not declare trace_safe = True"

    @contextlib.contextmanager
    def mode(self, training: bool) -> Iterator[Module]:
        """Training (True) or evaluation (False) mode for the length of a ``with`` block;
        afterwards every sub-module is back in the mode it was in, even after an error.

        Example:
            >>> net = Sequential(Layer(2, 2, seed=0), Dropout(0.5))
            >>> with net.mode(False):
            ...     net[1].training
            False
            >>> net[1].training
            True
        """
        modules = _all_modules(self)
        before = [m.training for m in modules]
        self.train(training)
        try:
            yield self
        finally:
            for m, was in zip(modules, before):
                m.training = was

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, float]:
        """The parameters as ``{dotted name: float}``, in :meth:`parameters` order.

        Example:
            >>> Neuron(1, seed=0).state_dict()["b"]
            0.0
        """
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], *, allow_nonfinite: bool = False) -> None:
        """Copy numbers from ``state`` into the parameters' ``.data``, in place.

        The Value objects stay the same, so an optimizer holding them (and its momentum
        state) keeps working. Everything is checked before anything is assigned: the
        names must match exactly (a message lists the missing and unexpected ones), and
        each value must be a real number (not a bool), finite unless ``allow_nonfinite``.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict needs a mapping, got {type(state).__name__}")
        named = self.named_parameters()
        problem = state_mismatch([n for n, _ in named], list(state))
        if problem:
            raise ValueError(f"load_state_dict: {problem}")
        values = []
        for name, _ in named:
            v = state[name]
            if not is_real(v):
                raise TypeError(
                    f"load_state_dict: {name!r} must be a real number, got {type(v).__name__}"
                )
            v = float(v)
            if not allow_nonfinite and not math.isfinite(v):
                raise ValueError(
                    f"load_state_dict: {name!r} is {v!r}; pass allow_nonfinite=True to load it"
                )
            values.append(v)
        for (_, p), v in zip(named, values):
            p.data = v

    # -- saving (chainrule.nn.persistence reads the file back) -------------------------------------
    def save(self, path: Any, *, allow_nonfinite: bool = False) -> None:
        """Write the architecture and parameters to ``path`` as JSON, atomically.

        Reload with ``chainrule.nn.load(path)``; :mod:`chainrule.nn.persistence` describes
        the format. Refuses (``ValueError``) to save nan or inf parameters unless
        ``allow_nonfinite``; such a file then needs ``allow_nonfinite=True`` to be loaded
        too. A symlink is followed (the file it points to is replaced, the link stays); a
        folder, pipe, device or socket is never replaced (``IsADirectoryError``,
        :class:`~chainrule.nn.files.SpecialFileError`), nor a read-only file
        (``PermissionError``, even for root).

        Example:
            >>> import pathlib, tempfile
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
            >>> Neuron(2, seed=0).save(path)
            >>> path.read_text().splitlines()[1:3]
            [' "format": "chainrule.model",', ' "version": 1,']
        """
        files.check_path(path)
        named = self.named_parameters()
        if not allow_nonfinite:
            for name, p in named:
                if not math.isfinite(p.data):
                    raise ValueError(
                        f"refusing to save {os.fspath(path)}: parameter {name!r} is {p.data!r} "
                        "(pass allow_nonfinite=True to save it anyway)"
                    )
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "architecture": self.architecture(),
            "parameters": {name: p.data for name, p in named},
        }
        # The whole text exists before the file system is touched.
        text = json.dumps(doc, indent=1, allow_nan=allow_nonfinite) + "\n"
        files.atomic_write(path, text.encode("utf-8"))

    def architecture(self) -> dict[str, Any]:
        """A JSON-ready description from which the model can be rebuilt.

        Modules of this package describe themselves; other subclasses are recorded by
        class name only (load the file into an instance you build: ``load(path, into=m)``).
        """
        return {"type": "custom", "class": type(self).__name__}


def _all_modules(module: Module) -> list[Module]:
    return [module, *(item for _, item in module._walk() if isinstance(item, Module))]


def state_mismatch(expected: Sequence[str], found: Sequence[str]) -> str:
    """A message listing missing and unexpected names, or '' when they agree."""
    exp_set, found_set = set(expected), set(found)
    missing = [n for n in expected if n not in found_set]
    unexpected = [n for n in found if n not in exp_set]
    if not missing and not unexpected:
        return ""

    def show(names: list[str]) -> str:
        head = ", ".join(repr(n) for n in names[:5])
        return head + (f", ... ({len(names)} in all)" if len(names) > 5 else "")

    parts = [f"expected {len(expected)} parameters, found {len(found)}"]
    if missing:
        parts.append(f"missing: {show(missing)}")
    if unexpected:
        parts.append(f"unexpected: {show(unexpected)}")
    return "; ".join(parts)


# -- neurons, layers and perceptrons --------------------------------------------------------------

class Neuron(Module):
    """One unit: ``activation(w . x + b)``.

    ``w`` is a list of ``nin`` weight Values, ``b`` the bias (initialised to 0).
    ``activation`` is a name from :data:`ACTIVATIONS` or an :class:`Activation`;
    ``init`` is ``"auto"`` (He for the rectifier family, Glorot for tanh, sigmoid and
    linear), ``"uniform"``, ``"xavier"``/``"glorot"`` or ``"he"``/``"kaiming"``;
    ``seed`` is an int, None (fresh randomness) or a shared ``random.Random``.
    ``fan_out`` only matters to Glorot initialisation (a Layer passes its width).

    Example:
        >>> n = Neuron(2, activation="tanh", seed=0)
        >>> n.w[0].data = 0.5; n.w[1].data = -1.0; n.b.data = 0.25
        >>> round(n([2.0, 1.0]).data, 6)
        0.244919
    """

    trace_safe = True

    def __init__(
        self,
        nin: int,
        activation: str | Activation = "relu",
        seed: int | random.Random | None = None,
        *,
        init: str = "auto",
        fan_out: int = 1,
    ) -> None:
        self.nin = _count(nin, "nin")
        self.activation = _activation(activation)
        scheme = _init_scheme(init, self.activation)
        draw = INITS[scheme]
        fan_out = _count(fan_out, "fan_out")
        rng = _rng(seed)
        self.w = [Value(draw(self.nin, fan_out, rng), label=f"w{i}") for i in range(self.nin)]
        self.b = Value(0.0, label="b")

    def __call__(self, x: Any) -> Value:
        xs = _as_inputs(x, self.nin, self)
        return self.activation(_vsum([*map(mul, self.w, xs), self.b]))

    @property
    def output_activation(self) -> Activation:
        """The neuron's activation."""
        return self.activation

    def architecture(self) -> dict[str, Any]:
        return {"type": "Neuron", "nin": self.nin, "activation": self.activation.to_json()}

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, {self.activation!r})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs. Calling it always returns a list.

    Example:
        >>> layer = Layer(3, 2, activation="relu", seed=0)
        >>> out = layer([1.0, 2.0, 3.0])
        >>> type(out).__name__, len(out)
        ('list', 2)
    """

    trace_safe = True

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | Activation = "relu",
        seed: int | random.Random | None = None,
        *,
        init: str = "auto",
    ) -> None:
        self.nin = _count(nin, "nin")
        self.nout = _count(nout, "nout")
        self.activation = _activation(activation)
        _init_scheme(init, self.activation)  # fail before drawing anything
        rng = _rng(seed)
        self.neurons = [
            Neuron(self.nin, self.activation, rng, init=init, fan_out=self.nout)
            for _ in range(self.nout)
        ]

    def _forward(self, xs: list[Value]) -> list[Value]:
        fn = self.activation.fn
        if fn is None:
            return [_vsum([*map(mul, n.w, xs), n.b]) for n in self.neurons]
        return [fn(_vsum([*map(mul, n.w, xs), n.b])) for n in self.neurons]

    def __call__(self, x: Any) -> list[Value]:
        return self._forward(_as_inputs(x, self.nin, self))

    @property
    def output_activation(self) -> Activation:
        """The layer's activation."""
        return self.activation

    def architecture(self) -> dict[str, Any]:
        return {"type": "Layer", "nin": self.nin, "nout": self.nout,
                "activation": self.activation.to_json()}

    def __repr__(self) -> str:
        return f"Layer({self.nin} -> {self.nout}, {self.activation!r})"


class MLP(Module):
    """A multilayer perceptron: ``Layer``s of widths ``nouts`` after ``nin`` inputs.

    Hidden layers use ``activation``, the last layer ``output_activation`` (linear by
    default: logits or scores for the losses). Calling it returns one Value when the
    last width is 1, else a list. Any width may be 1 (``MLP(2, [16, 1, 1])`` works).

    Example:
        >>> model = MLP(2, [16, 16, 1], seed=0)
        >>> model
        MLP(2 -> [16, 16, 1], relu -> linear)
        >>> type(model([0.5, -1.0])).__name__, len(model.parameters())
        ('Value', 337)
    """

    trace_safe = True

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str | Activation = "relu",
        output_activation: str | Activation = "linear",
        seed: int | random.Random | None = None,
        *,
        init: str = "auto",
    ) -> None:
        self.nin = _count(nin, "nin")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence):
            raise TypeError(f"nouts must be a list of layer widths, got {type(nouts).__name__}")
        if len(nouts) == 0:
            raise ValueError("nouts must list at least one layer width, got []")
        widths = [_count(n, f"nouts[{i}]") for i, n in enumerate(nouts)]
        self.nouts = widths
        self.activation = _activation(activation)
        self.output_activation = _activation(output_activation)
        _init_scheme(init, self.activation)
        rng = _rng(seed)
        sizes = [self.nin, *widths]
        last = len(widths) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1],
                  self.output_activation if i == last else self.activation, rng, init=init)
            for i in range(len(widths))
        ]
        self._scalar_out = widths[-1] == 1

    def __call__(self, x: Any) -> Value | list[Value]:
        xs = _as_inputs(x, self.nin, self)
        for layer in self.layers:
            xs = layer._forward(xs)
        return xs[0] if self._scalar_out else xs

    @property
    def nout(self) -> int:
        """Width of the last layer."""
        return self.nouts[-1]

    def architecture(self) -> dict[str, Any]:
        return {"type": "MLP", "nin": self.nin, "nouts": list(self.nouts),
                "activation": self.activation.to_json(),
                "output_activation": self.output_activation.to_json()}

    def __repr__(self) -> str:
        return (f"MLP({self.nin} -> {list(self.nouts)}, "
                f"{self.activation!r} -> {self.output_activation!r})")


# -- regularisation and other layers -------------------------------------------------------------

class Dropout(Module):
    """Inverted dropout: in training mode each input is zeroed with probability ``p`` and
    the survivors are scaled by ``1/(1-p)``, so nothing changes at evaluation time.

    In evaluation mode (``model.eval()``) it returns its inputs unchanged. Its random
    numbers come from its own ``random.Random(seed)``.

    Example:
        >>> d = Dropout(0.5, seed=0)
        >>> [v.data for v in d([1.0, 1.0, 1.0, 1.0])]
        [2.0, 2.0, 0.0, 0.0]
        >>> [v.data for v in d.eval()([1.0, 1.0])]
        [1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, seed: int | random.Random | None = None) -> None:
        self.p = number(p, "p", low=0.0, high=1.0, high_open=True,
                        type_message="{name} must be a real number, got {type}",
                        message="Dropout probability p must be in [0, 1), got {value}")
        self.seed = int(seed) if is_integer(seed) else None
        self._rng = _rng(seed)

    def __call__(self, x: Any) -> list[Value]:
        xs = _as_inputs([x] if isinstance(x, Value) else x, None, self)
        if not self.training or self.p == 0.0:
            return xs
        keep = 1.0 / (1.0 - self.p)
        rand = self._rng.random
        # Multiplying by 0.0 (rather than dropping the node) keeps every input in the
        # graph, with gradient 0, so pictures show what was dropped.
        return [v * (0.0 if rand() < self.p else keep) for v in xs]

    def untraceable_reason(self) -> str | None:
        if self.training and self.p > 0.0:  # random numbers, drawn anew on every call
            return f"{self!r} is active in training mode (the tape would freeze its mask)"
        return None

    def architecture(self) -> dict[str, Any]:
        return {"type": "Dropout", "p": self.p, "seed": self.seed}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p!r})"


class Maxout(Module):
    """``nout`` maxout units: unit j outputs ``max_k (w_jk . x + b_jk)`` over ``pieces``
    linear pieces (the *Back Propagation* notes' ``max(w1 . x + b1, w2 . x + b2)``).
    Returns a list.

    ``units[j].pieces[k]`` is a linear :class:`Neuron`, so parameter names read
    ``units.0.pieces.1.w.0``.

    Example:
        >>> m = Maxout(2, 3, pieces=2, seed=0)
        >>> m, len(m.parameters())
        (Maxout(2 -> 3, pieces=2), 18)
    """

    trace_safe = True
    output_activation = Activation("linear")  # the max of linear pieces is not squashed

    def __init__(
        self,
        nin: int,
        nout: int,
        pieces: int = 2,
        seed: int | random.Random | None = None,
        *,
        init: str = "xavier",
    ) -> None:
        self.nin = _count(nin, "nin")
        self.nout = _count(nout, "nout")
        self.pieces = _count(pieces, "pieces")
        linear = Activation("linear")
        _init_scheme(init, linear)
        rng = _rng(seed)
        self.units = [_MaxoutUnit(self.nin, self.pieces, rng, init, self.nout)
                      for _ in range(self.nout)]

    def _forward(self, xs: list[Value]) -> list[Value]:
        return [
            _vmax([_vsum([*map(mul, n.w, xs), n.b]) for n in unit.pieces])
            for unit in self.units
        ]

    def __call__(self, x: Any) -> list[Value]:
        return self._forward(_as_inputs(x, self.nin, self))

    def architecture(self) -> dict[str, Any]:
        return {"type": "Maxout", "nin": self.nin, "nout": self.nout, "pieces": self.pieces}

    def __repr__(self) -> str:
        return f"Maxout({self.nin} -> {self.nout}, pieces={self.pieces})"


class _MaxoutUnit(Module):
    trace_safe = True

    def __init__(self, nin: int, pieces: int, rng: random.Random, init: str,
                 fan_out: int) -> None:
        self.pieces = [Neuron(nin, "linear", rng, init=init, fan_out=fan_out)
                       for _ in range(pieces)]

    def __repr__(self) -> str:
        return f"MaxoutUnit({len(self.pieces[0].w)}, pieces={len(self.pieces)})"


class Sequential(Module):
    """Modules applied in order, each to the previous one's output.

    Use it to put :class:`Dropout` or :class:`Maxout` between layers. The result is
    whatever the last module returns (a ``Layer`` returns a list). The children live in
    ``layers``, so parameter names read ``layers.0.neurons.2.b``.

    Example:
        >>> net = Sequential(Layer(2, 8, seed=0), Dropout(0.2, seed=0), Layer(8, 1, "linear"))
        >>> net
        Sequential(Layer(2 -> 8, relu), Dropout(p=0.2), Layer(8 -> 1, linear))
        >>> len(net.eval()([0.5, -0.5]))
        1
    """

    trace_safe = True

    def __init__(self, *layers: Module) -> None:
        if not layers:
            raise ValueError("Sequential needs at least one module")
        for i, m in enumerate(layers):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is {type(m).__name__}, not a Module")
        self.layers = list(layers)

    def __call__(self, x: Any) -> Any:
        for m in self.layers:
            x = m(x)
        return x

    @property
    def output_activation(self) -> Activation | str | None:
        """The last module's (a trailing Dropout changes no kind of output)."""
        for m in reversed(self.layers):
            if not isinstance(m, Dropout):
                return m.output_activation
        return None

    @property
    def nin(self) -> int | None:
        """Input width of the first module that declares one (None if none does)."""
        for m in self.layers:
            n = getattr(m, "nin", None)
            if n is not None:
                return n
        return None

    def architecture(self) -> dict[str, Any]:
        return {"type": "Sequential", "layers": [m.architecture() for m in self.layers]}

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __repr__(self) -> str:
        return f"Sequential({', '.join(repr(m) for m in self.layers)})"


def _widths(m: Module) -> tuple[int | None, int | None]:
    """(inputs, outputs) of a module of this package, None where it does not say."""
    if isinstance(m, Neuron):
        return m.nin, 1
    if isinstance(m, (Layer, Maxout)):
        return m.nin, m.nout
    if isinstance(m, MLP):
        return m.nin, m.nout
    if isinstance(m, Residual):
        return m.nin, m.nin
    if isinstance(m, Sequential):
        outs = None
        for layer in reversed(m.layers):
            if not isinstance(layer, Dropout):  # Dropout keeps the width
                outs = _widths(layer)[1]
                break
        return m.nin, outs
    return None, None


class Residual(Module):
    """A skip connection around ``block``: ``y = x + block(x)``. Returns a list.

    ``block`` must give as many outputs as it takes inputs (a ``Layer(8, 8)``, an
    ``MLP(8, [16, 8])``, a ``Sequential`` of them). The chain rule through the sum is
    ``dy/dx = I + d block/dx``: the identity term hands the gradient from above to the
    layers below unchanged, however small the block's own derivative is, so in a deep
    stack of residual blocks the first layers still learn (the "skip connections"
    remedy for vanishing gradients in the Back Propagation notes; He et al. 2016).

    Parameters are the block's, named ``block.<name>``. Widths are checked when the
    module is built (for blocks that declare them) and on every call.

    Example:
        >>> block = Layer(2, 2, "tanh", seed=0)
        >>> res = Residual(block)
        >>> res, [n for n, _ in res.named_parameters()][:2]
        (Residual(Layer(2 -> 2, tanh)), ['block.neurons.0.w.0', 'block.neurons.0.w.1'])
        >>> for p in res.parameters():
        ...     p.data = 0.0            # a block that outputs 0: y = x, dy/dx = 1
        >>> x = [Value(0.5), Value(-1.0)]
        >>> y = res(x)
        >>> [v.data for v in y]
        [0.5, -1.0]
        >>> y[0].backward()
        >>> x[0].grad, x[1].grad
        (1.0, 0.0)
    """

    trace_safe = True
    output_activation = Activation("linear")  # x + block(x), whatever the block ends in

    def __init__(self, block: Module) -> None:
        if not isinstance(block, Module):
            raise TypeError(f"Residual needs a Module as its block, got {type(block).__name__}")
        ins, outs = _widths(block)
        if ins is not None and outs is not None and ins != outs:
            raise ValueError(
                f"Residual needs a block with as many outputs as inputs (y = x + block(x)); "
                f"{block!r} takes {ins} and gives {outs}"
            )
        self.block = block

    @property
    def nin(self) -> int | None:
        """The width of inputs and outputs (None when the block does not declare it)."""
        return _widths(self.block)[0]

    @property
    def nout(self) -> int | None:
        """Same as :attr:`nin`: a skip connection keeps the width."""
        return self.nin

    def __call__(self, x: Any) -> list[Value]:
        xs = _as_inputs([x] if isinstance(x, Value) else x, self.nin, self)
        out = self.block(xs)
        if isinstance(out, Value):
            out = [out]
        if not isinstance(out, (list, tuple)) or not all(isinstance(v, Value) for v in out):
            raise TypeError(f"{self!r}: the block must return a Value or a list of Values, "
                            f"got {type(out).__name__}")
        if len(out) != len(xs):
            raise ValueError(f"{self!r}: the block returned {len(out)} outputs for "
                             f"{len(xs)} inputs; y = x + block(x) needs the same width")
        return [a + b for a, b in zip(xs, out)]

    def architecture(self) -> dict[str, Any]:
        return {"type": "Residual", "block": self.block.architecture()}

    def __repr__(self) -> str:
        return f"Residual({self.block!r})"
