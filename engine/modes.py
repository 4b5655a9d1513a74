"""Grad mode and anomaly mode, kept per thread and per asyncio task.

Both live in one ``contextvars.ContextVar`` holding a small bit set. Whether ops record
(the GRAD bit) is also kept as a bool in a second ContextVar that every switch sets
together with the first: that is the one question every op asks, and reading a bool
(``recording()``) is about 8 ns cheaper than ``get_mode() & GRAD``.

A thread starts with the defaults (grad recording on, anomaly detection off), as in
PyTorch: a thread started inside ``no_grad`` still records a graph. Every context
manager restores the previous state on exit, also when the body raises.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import warnings
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

GRAD = 1  # ops record the graph
ANOMALY = 2  # non-finite values raise FloatingPointError
QUIET = 4  # no RuntimeWarning for non-finite results (set while backward builds graphs)

_MODE: ContextVar[int] = ContextVar("chainrule_mode", default=GRAD)
_RECORDING: ContextVar[bool] = ContextVar("chainrule_recording", default=True)
get_mode = _MODE.get
recording = _RECORDING.get  # always bool(get_mode() & GRAD)


def _switch(mode: int) -> tuple[Any, Any]:
    """Set the mode bits (and the GRAD bit's twin); the tokens undo it in :func:`_restore`."""
    return _MODE.set(mode), _RECORDING.set(bool(mode & GRAD))


def _restore(tokens: tuple[Any, Any]) -> None:
    mode_token, recording_token = tokens
    _RECORDING.reset(recording_token)
    _MODE.reset(mode_token)


_ENGINE = os.path.dirname(os.path.abspath(__file__))


def nonfinite(op: str, out: float, inputs: Sequence[Any]) -> None:
    """An op gave inf or nan: raise ``FloatingPointError`` in anomaly mode; otherwise, if
    the inputs were finite, warn once (``RuntimeWarning``, at the user's line)."""
    mode = _MODE.get()
    finite_in = all(math.isfinite(x.data) for x in inputs)
    if mode & ANOMALY:
        involved = ", ".join(f"{x.label or x.op or 'leaf'}={x.data!r}" for x in inputs)
        raise FloatingPointError(f"{op} produced {out!r} from "
                                 f"{'finite' if finite_in else 'non-finite'} input ({involved})")
    if finite_in and not mode & QUIET:
        warnings.warn(f"chainrule: {op} produced {out!r} from finite inputs", RuntimeWarning,
                      stacklevel=user_stacklevel())


def user_stacklevel() -> int:
    """The ``stacklevel`` of a warning issued in the engine that points at the user's line
    (the first caller outside the engine's folder)."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_ENGINE):
        level, frame = level + 1, frame.f_back
    return level


def backward_anomaly(node: Any, i: int, parent: Any, d: Any, g: Any, c: Any) -> None:
    """Anomaly mode's FloatingPointError for a non-finite gradient contribution ``c =
    d * g`` from ``node`` to its input ``i`` (numbers or Values)."""
    def num(x: Any) -> Any:
        return getattr(x, "data", x)

    def name(v: Any) -> str:
        return f"{v.label or v.op or 'leaf'}={v.data!r}"

    raise FloatingPointError(
        f"backward of {node.op} ({name(node)}) gave {num(c)!r} for its input {i} "
        f"({name(parent)}): local derivative {num(d)!r} times upstream gradient {num(g)!r}")


def is_grad_enabled() -> bool:
    """True when new ops record the graph (the default).

    Example:
        >>> from chainrule.engine import is_grad_enabled, no_grad
        >>> is_grad_enabled()
        True
        >>> with no_grad():
        ...     is_grad_enabled()
        False
    """
    return _RECORDING.get()


def is_anomaly_enabled() -> bool:
    """True inside :class:`detect_anomaly`.

    Example:
        >>> from chainrule.engine import detect_anomaly, is_anomaly_enabled
        >>> is_anomaly_enabled()
        False
        >>> with detect_anomaly():
        ...     is_anomaly_enabled()
        True
    """
    return bool(_MODE.get() & ANOMALY)


class _ModeSwitch:
    """Base of the mode context managers: set some bits on entry, restore on exit.

    Instances also work as decorators (``@no_grad()`` or bare ``@no_grad``); on a
    generator function the mode holds while the generator body runs, and not while
    the caller runs between ``yield``s.
    """

    _set = 0
    _clear = 0

    def __new__(cls, func: Any = None) -> Any:
        if func is None:
            return super().__new__(cls)
        if not callable(func):
            raise TypeError(
                f"{cls.__name__}() takes no argument, or a function to decorate; "
                f"got {type(func).__name__}"
            )
        return cls()._wrap(func)  # bare decorator: @no_grad

    def __init__(self) -> None:
        self._tokens: list = []

    def __call__(self, func: Any) -> Any:
        if not callable(func):
            raise TypeError(f"{type(self).__name__}() can decorate a function, got "
                            f"{type(func).__name__}")
        return self._wrap(func)

    def _wrap(self, func: Any) -> Any:
        switch = self._fresh
        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def generator_wrapper(*args: Any, **kwargs: Any) -> Any:
                gen = func(*args, **kwargs)
                resume, payload = gen.send, None
                while True:
                    try:
                        with switch():
                            request = resume(payload)
                    except StopIteration as stop:
                        return stop.value
                    try:
                        resume, payload = gen.send, (yield request)
                    except GeneratorExit:
                        with switch():
                            gen.close()
                        raise
                    except BaseException as exc:  # thrown in by the caller: pass it on
                        resume, payload = gen.throw, exc

            return generator_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with switch():
                return func(*args, **kwargs)

        return wrapper

    def _fresh(self) -> _ModeSwitch:
        # A new switch with the same bits, so re-entrant and concurrent calls of a
        # decorated function each keep their own reset token.
        twin = object.__new__(type(self))
        twin._tokens = []
        twin._set, twin._clear = self._set, self._clear
        return twin

    def __enter__(self) -> _ModeSwitch:
        mode = (_MODE.get() | self._set) & ~self._clear
        self._tokens.append(_switch(mode))
        return self

    def __exit__(self, *exc: object) -> None:
        _restore(self._tokens.pop())


class no_grad(_ModeSwitch):  # noqa: N801 - named like torch.no_grad
    """Ops inside record no graph: their results are constants (leaves).

    Use it for inference and for parameter updates. Works as a context manager and
    as a decorator, and is local to the current thread / asyncio task.

    Example:
        >>> from chainrule.engine import Value, no_grad
        >>> x = Value(2.0)
        >>> with no_grad():
        ...     y = x * 3
        >>> y.parents
        ()
    """

    _clear = GRAD


class enable_grad(_ModeSwitch):  # noqa: N801 - named like torch.enable_grad
    """Turn graph recording back on inside a ``no_grad`` region.

    Example:
        >>> from chainrule.engine import Value, enable_grad, no_grad
        >>> x = Value(2.0, label="x")
        >>> with no_grad():
        ...     y = x * 3              # not recorded: y is a leaf
        ...     with enable_grad():
        ...         z = x * 3          # recorded: z knows x and 3
        >>> y.parents, len(z.parents)
        ((), 2)
    """

    _set = GRAD


class detect_anomaly(_ModeSwitch):  # noqa: N801 - named like torch.autograd.detect_anomaly
    """Strict mode: the first non-finite value raises ``FloatingPointError``.

    Forward ops check their result and backward checks each gradient contribution;
    the error names the op and the labels of the nodes involved.

    Example:
        >>> from chainrule.engine import Value, detect_anomaly
        >>> with detect_anomaly():
        ...     Value(0.0, label="x").log()
        Traceback (most recent call last):
        FloatingPointError: log produced -inf from finite input (x=0.0)
    """

    _set = ANOMALY


class quiet(_ModeSwitch):  # noqa: N801
    """Internal: the mode in which backward builds derivative graphs (``create_graph``).

    Recording on, warnings off, and no anomaly checks on each op: a rule may compute
    an inf in a branch that ``where`` then discards (``0 ** -1`` for the base
    derivative of ``0 ** 0``). Backward checks the gradients it adds up instead.
    """

    _set = QUIET | GRAD
    _clear = ANOMALY


class set_grad_enabled(_ModeSwitch):  # noqa: N801 - named like torch.set_grad_enabled
    """Turn graph recording on or off (``mode`` is a bool), as ``torch.set_grad_enabled``.

    Called as a statement it switches the mode of the current thread / task at once;
    as a context manager it restores the previous mode on exit; as a decorator it
    switches only while the function runs.

    Example:
        >>> from chainrule.engine import Value, is_grad_enabled, set_grad_enabled
        >>> x = Value(2.0, label="x")
        >>> with set_grad_enabled(False):
        ...     (x * x).parents
        ()
        >>> _ = set_grad_enabled(False)    # a statement: off from here on
        >>> is_grad_enabled()
        False
        >>> _ = set_grad_enabled(True)
        >>> is_grad_enabled()
        True
    """

    _pending = False  # True between the switch made by __init__ and __enter__ adopting it

    def __new__(cls, mode: bool) -> set_grad_enabled:
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled needs a bool, got {type(mode).__name__}")
        super().__init__()
        self._set = GRAD if mode else 0
        self._clear = 0 if mode else GRAD
        self._tokens.append(_switch((_MODE.get() | self._set) & ~self._clear))
        self._pending = True

    def __enter__(self) -> set_grad_enabled:
        if self._pending:
            self._pending = False  # `with set_grad_enabled(m):` switched in __init__
            return self
        return super().__enter__()

    def __call__(self, func: Any) -> Any:
        if self._pending:  # used as a decorator: undo the switch made at decoration time
            _restore(self._tokens.pop())
            self._pending = False
        return super().__call__(func)
