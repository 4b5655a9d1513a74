"""Saving and loading models as JSON: atomic writes, and reads that trust nothing.

A model file is one JSON object::

    {"format": "chainrule.model", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "nouts": [16, 16, 1],
                      "activation": "relu", "output_activation": "linear"},
     "parameters": {"layers.0.neurons.0.w.0": 0.4217..., ...}}

Floats are written with ``repr``, so a save/load round trip is bit-exact. Saving writes
a temporary file in the same directory (``.<name>.<16 hex>.chainrule-tmp``), flushes
and fsyncs it, then ``os.replace``-s it over the target: a crash at any point leaves
either the old file or the new one. An exception removes the temporary file; one left
by a killed process is removed by the next save of the same target.

Loading never unpickles, evals or imports anything. It reads only regular files (no
pipes or devices) and at most ``max_bytes``, then checks, *before* changing any model:
UTF-8, JSON syntax, no duplicate keys, no ``NaN``/``Infinity``/overflowing numbers
(unless ``allow_nonfinite=True``), the format tag and version, every key and type of
the architecture (``bool`` is not a number), the parameter count implied by the
architecture, and the exact parameter names. Every problem raises
:class:`ModelFormatError` (a ``ValueError``) as ``"<path>: <problem>"``.

Example:
    >>> import pathlib, tempfile
    >>> from chainrule.nn import MLP, load
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
    >>> model = MLP(2, [4, 1], seed=0)
    >>> model.save(path)
    >>> again = load(path)
    >>> again, again.state_dict() == model.state_dict()
    (MLP(2 -> [4, 1], relu -> linear), True)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import Any

from chainrule.engine.checks import positive_int

from . import files, module
from .files import SpecialFileError
from .module import FORMAT, VERSION, Activation, Module, state_mismatch

__all__ = ["FORMAT", "MAX_BYTES", "VERSION", "ModelFormatError", "SpecialFileError", "load",
           "save"]

MAX_BYTES = 64 * 1024 * 1024
"""Files larger than this are refused before being read (pass ``max_bytes`` to change)."""
_MAX_SEQUENTIAL_DEPTH = 16
_MAX_WIDTH = 1_000_000


class ModelFormatError(ValueError):
    """A model file is corrupt, malicious, or does not match the model: names the file.

    ``path`` and ``problem`` are available as attributes.
    """

    def __init__(self, path: Any, problem: str) -> None:
        self.path = os.fspath(path) if path is not None else "<model>"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class _Error(Exception):
    """A problem found while parsing, turned into ModelFormatError with the path."""


# -- saving ---------------------------------------------------------------------------------------

def save(model: Module, path: Any, *, allow_nonfinite: bool = False) -> None:
    """Write ``model`` to ``path`` as JSON, atomically: ``model.save(path)`` (see
    :meth:`Module.save <chainrule.nn.Module.save>` and the module docstring).

    Example:
        >>> import pathlib, tempfile
        >>> from chainrule.nn import MLP
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
        >>> save(MLP(2, [3, 1], seed=0), path)
        >>> load(path)
        MLP(2 -> [3, 1], relu -> linear)
    """
    if not isinstance(model, Module):
        raise TypeError(f"save needs a Module, got {type(model).__name__}")
    model.save(path, allow_nonfinite=allow_nonfinite)


# -- reading and parsing --------------------------------------------------------------------------

def _read(path: Any, max_bytes: int) -> bytes:
    with files.open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise _Error(f"the file is {size} bytes, more than the limit of {max_bytes} "
                         "(pass max_bytes=... to allow it)")
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _Error(f"the file is more than the limit of {max_bytes} bytes")
    return raw


def _parse(raw: bytes, allow_nonfinite: bool) -> Any:
    if not raw.strip():
        raise _Error("the file is empty")
    if raw[:1] == b"\x80":
        raise _Error("this is a Python pickle, not a chainrule JSON model; pickles can run "
                   "code when loaded, so they are never read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Error(f"not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]

    try:
        return strict_json_loads(text, allow_nonfinite=allow_nonfinite)
    except StrictJSONError as e:
        raise _Error(str(e)) from None


class StrictJSONError(ValueError):
    """Raised by :func:`strict_json_loads`; the message says what is wrong and where."""


def strict_json_loads(text: str, *, allow_nonfinite: bool = False) -> Any:
    """``json.loads`` that trusts nothing: for model files and playground state strings.

    Refuses duplicate keys (plain ``json`` keeps the last silently), ``NaN`` and
    ``Infinity`` and numbers that overflow a float (unless ``allow_nonfinite``),
    integers of more than 100 digits, and nesting deep enough to exhaust the stack;
    a text cut short is reported as such. Raises :class:`StrictJSONError`.
    """

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise StrictJSONError(f"duplicate key {key!r}")
            out[key] = value
        return out

    def constant(name: str) -> float:
        if allow_nonfinite:
            return float(name.replace("Infinity", "inf"))
        raise StrictJSONError(f"{name} is not allowed (non-finite numbers are refused; pass "
                              "allow_nonfinite=True to load them)")

    def real(token: str) -> float:
        value = float(token)
        if math.isinf(value) and not allow_nonfinite:
            raise StrictJSONError(f"the number {token} overflows a float")
        return value

    def integer(token: str) -> int:
        if len(token) > 100:
            raise StrictJSONError(f"an integer of {len(token)} digits is too large")
        return int(token)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant,
                          parse_float=real, parse_int=integer)
    except RecursionError:
        raise StrictJSONError("the JSON is nested too deeply") from None
    except json.JSONDecodeError as e:
        # An unterminated string runs to the end of the text (a raw newline inside a
        # string is a different error), so both cases mean the text was cut short.
        # (json's "Unterminated string starting at" already ends with "at")
        msg = e.msg.removesuffix(" at")
        if e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string"):
            raise StrictJSONError(f"the JSON ends too early (truncated file?): {msg} at line "
                                  f"{e.lineno} column {e.colno}") from None
        raise StrictJSONError(f"not valid JSON: {msg} at line {e.lineno} column "
                              f"{e.colno}") from None


# -- checking the document ------------------------------------------------------------------------

def _type_name(x: Any) -> str:
    if x is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list",
            dict: "object"}.get(type(x), type(x).__name__)


def _shown(x: Any) -> str:
    """A JSON value for a message: its type and its text (``null`` alone, not ``null None``)."""
    return "null" if x is None else f"{_type_name(x)} {x!r}"


def _keys(obj: Any, where: str, required: set[str], optional: frozenset = frozenset()) -> None:
    if not isinstance(obj, dict):
        raise _Error(f"{where} must be an object, got {_type_name(obj)}")
    missing = sorted(required - obj.keys())
    if missing:
        raise _Error(f"{where} is missing {', '.join(repr(k) for k in missing)}")
    extra = sorted(obj.keys() - required - optional)
    if extra:
        raise _Error(f"{where} has unexpected key(s) {', '.join(repr(k) for k in extra)}")


def _int(obj: dict, key: str, where: str) -> int:
    return _positive(obj[key], f"{where}.{key}")


def _positive(v: Any, label: str) -> int:
    if type(v) is not int:
        raise _Error(f"{label} must be an integer, got {_shown(v)}")
    if not 1 <= v <= _MAX_WIDTH:
        raise _Error(f"{label} must be between 1 and {_MAX_WIDTH}, got {v}")
    return v


def _act(obj: dict, key: str, where: str) -> Activation:
    v = obj[key]
    try:
        if isinstance(v, str):
            return Activation(v)
        if isinstance(v, dict):
            _keys(v, f"{where}.{key}", {"name", "alpha"})
            alpha = v["alpha"]
            if type(alpha) not in (int, float):
                raise _Error(f"{where}.{key}.alpha must be a number, got {_type_name(alpha)}")
            if not isinstance(v["name"], str):
                raise _Error(f"{where}.{key}.name must be a string, got {_type_name(v['name'])}")
            return Activation(v["name"], alpha=alpha)
    except (TypeError, ValueError) as e:
        raise _Error(f"{where}.{key}: {e}") from None
    raise _Error(f"{where}.{key} must be an activation name, got {_type_name(v)}")


def _architecture(arch: Any, where: str, depth: int = 0) -> tuple[int, Callable[[], Module]]:
    """(parameter count, builder) for a checked architecture; builds nothing yet."""
    if not isinstance(arch, dict):
        raise _Error(f"{where} must be an object, got {_type_name(arch)}")
    kind = arch.get("type")
    if kind == "Neuron":
        _keys(arch, where, {"type", "nin", "activation"})
        nin, act = _int(arch, "nin", where), _act(arch, "activation", where)
        return nin + 1, lambda: module.Neuron(nin, act, seed=0)
    if kind == "Layer":
        _keys(arch, where, {"type", "nin", "nout", "activation"})
        nin, nout = _int(arch, "nin", where), _int(arch, "nout", where)
        act = _act(arch, "activation", where)
        return nout * (nin + 1), lambda: module.Layer(nin, nout, act, seed=0)
    if kind == "MLP":
        _keys(arch, where, {"type", "nin", "nouts", "activation", "output_activation"})
        nin = _int(arch, "nin", where)
        nouts = arch["nouts"]
        if not isinstance(nouts, list) or not nouts:
            raise _Error(f"{where}.nouts must be a non-empty list of widths, got "
                       f"{_type_name(nouts)}")
        if len(nouts) > 10_000:
            raise _Error(f"{where}.nouts lists {len(nouts)} layers, too many")
        widths = [_positive(w, f"{where}.nouts[{i}]") for i, w in enumerate(nouts)]
        act, out_act = _act(arch, "activation", where), _act(arch, "output_activation", where)
        sizes = [nin, *widths]
        count = sum(sizes[i + 1] * (sizes[i] + 1) for i in range(len(widths)))
        return count, lambda: module.MLP(nin, widths, act, out_act, seed=0)
    if kind == "Maxout":
        _keys(arch, where, {"type", "nin", "nout", "pieces"})
        nin, nout = _int(arch, "nin", where), _int(arch, "nout", where)
        pieces = _int(arch, "pieces", where)
        return nout * pieces * (nin + 1), lambda: module.Maxout(nin, nout, pieces, seed=0)
    if kind == "Dropout":
        _keys(arch, where, {"type", "p", "seed"})
        p, seed = arch["p"], arch["seed"]
        if type(p) not in (int, float) or not 0.0 <= p < 1.0:
            raise _Error(f"{where}.p must be a number in [0, 1), got {_shown(p)}")
        if seed is not None and type(seed) is not int:
            raise _Error(f"{where}.seed must be an integer or null, got {_type_name(seed)}")
        return 0, lambda: module.Dropout(float(p), seed=seed)
    if kind == "Sequential":
        _keys(arch, where, {"type", "layers"})
        if depth >= _MAX_SEQUENTIAL_DEPTH:
            raise _Error(f"{where}: Sequential models nested more than "
                       f"{_MAX_SEQUENTIAL_DEPTH} deep")
        layers = arch["layers"]
        if not isinstance(layers, list) or not layers:
            raise _Error(f"{where}.layers must be a non-empty list, got {_type_name(layers)}")
        parts = [_architecture(m, f"{where}.layers[{i}]", depth + 1)
                 for i, m in enumerate(layers)]
        return sum(c for c, _ in parts), lambda: module.Sequential(*(build() for _, build in parts))
    if kind == "Residual":
        _keys(arch, where, {"type", "block"})
        if depth >= _MAX_SEQUENTIAL_DEPTH:
            raise _Error(f"{where}: models nested more than {_MAX_SEQUENTIAL_DEPTH} deep")
        count, build_block = _architecture(arch["block"], f"{where}.block", depth + 1)

        def build_residual() -> Module:
            try:
                return module.Residual(build_block())
            except ValueError as e:  # a block whose widths differ
                raise _Error(f"{where}: {e}") from None
        return count, build_residual
    if kind == "custom":
        _keys(arch, where, {"type", "class"})
        if not isinstance(arch["class"], str):
            raise _Error(f"{where}.class must be a string, got {_type_name(arch['class'])}")
        return -1, _cannot_rebuild(arch["class"])
    raise _Error(f"{where}.type must be one of Neuron, Layer, MLP, Maxout, Dropout, "
               f"Sequential, Residual, custom; got {kind!r}")


def _cannot_rebuild(name: str) -> Callable[[], Module]:
    def build() -> Module:
        raise _Error(f"the file holds a custom model ({name}) that chainrule cannot rebuild; "
                   f"create a {name} yourself and load into it: load(path, into=model)")
    return build


def _describe(arch: Any) -> str:
    text = json.dumps(arch, separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."


# -- loading --------------------------------------------------------------------------------------

def load(path: Any, *, into: Module | None = None, allow_nonfinite: bool = False,
         max_bytes: int = MAX_BYTES) -> Module:
    """Read a model file written by ``Module.save`` and return the model.

    Without ``into``, a new model is built from the saved architecture. With ``into``,
    the saved architecture must equal ``into.architecture()``, and the numbers are
    copied into ``into``'s parameters in place (an optimizer holding them keeps its
    state); ``into`` is returned. Nothing is changed unless the whole file is valid.

    Raises:
        ModelFormatError: anything wrong with the file, or a mismatch with ``into``;
            the message starts with the path.
        SpecialFileError: ``path`` is a named pipe, device or socket (refused before
            opening, so a pipe with no writer cannot block); ``IsADirectoryError`` for
            a folder. Symlinks are followed.
        OSError: the file cannot be read (``FileNotFoundError``, ``PermissionError``).
        TypeError: ``path`` is not a ``str`` or ``os.PathLike`` (an int would be taken
            as a file descriptor).

    Example:
        >>> import pathlib, tempfile
        >>> from chainrule.nn import MLP
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.json"
        >>> model = MLP(2, [3, 1], seed=0)
        >>> model.save(path)
        >>> again = load(path)
        >>> again([0.5, -0.25]).data == model([0.5, -0.25]).data
        True
        >>> other = MLP(2, [3, 1], seed=1)   # the same architecture, other weights
        >>> load(path, into=other) is other, other.state_dict() == model.state_dict()
        (True, True)
    """
    if into is not None and not isinstance(into, Module):
        raise TypeError(f"load(into=...) needs a Module, got {type(into).__name__}")
    max_bytes = positive_int(max_bytes, "max_bytes")
    try:
        doc = _parse(_read(path, max_bytes), allow_nonfinite)
        model, values = _check(doc, into, allow_nonfinite)
    except _Error as e:
        raise ModelFormatError(path, str(e)) from None
    for (_, p), v in zip(model.named_parameters(), values):
        p.data = v
    return model


def _check(doc: Any, into: Module | None, allow_nonfinite: bool) -> tuple[Module, list[float]]:
    """The target model and its new values, after checking everything."""
    if not isinstance(doc, dict):
        raise _Error(f"the top level must be a JSON object, got {_type_name(doc)}")
    tag = doc.get("format")
    if tag != FORMAT:
        raise _Error(f"not a chainrule model file (format tag {tag!r}, expected {FORMAT!r})")
    _keys(doc, "the file", {"format", "version", "architecture", "parameters"})
    version = doc["version"]
    if type(version) is not int:
        raise _Error(f"version must be an integer, got {_shown(version)}")
    if version != VERSION:
        raise _Error(f"unsupported version {version} (this chainrule reads version {VERSION})")
    arch = doc["architecture"]
    count, build = _architecture(arch, "architecture")

    params = doc["parameters"]
    if not isinstance(params, dict):
        raise _Error(f"parameters must be an object of name: number, got {_type_name(params)}")
    for name, v in params.items():
        if type(v) not in (int, float):
            raise _Error(f"parameter {name!r} must be a number, got {_shown(v)}"[:300])
        if not allow_nonfinite and not math.isfinite(v):
            raise _Error(f"parameter {name!r} is {v!r}")
    if count >= 0 and count != len(params):
        raise _Error(f"the architecture {_describe(arch)} has {count} parameters, the file "
                   f"lists {len(params)}")

    if into is not None:
        expected = json.loads(json.dumps(into.architecture()))
        if expected != arch:
            raise _Error(f"architecture mismatch: the model is {_describe(expected)}, the "
                       f"file has {_describe(arch)}")
        model = into
    else:
        model = build()
    names = [n for n, _ in model.named_parameters()]
    problem = state_mismatch(names, list(params))
    if problem:
        raise _Error(f"parameter names do not match the architecture: {problem}")
    return model, [float(params[n]) for n in names]
