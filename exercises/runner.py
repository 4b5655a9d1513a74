"""Running the checks on a student's class, within a time limit.

A student's engine may loop forever, raise anywhere, print, or allocate without end,
so it never runs in the checker's own flow of control:

* ``"fork"`` (the default where ``os.fork`` exists: Linux, macOS): the checks run in a
  forked child process, which inherits the class as it is (a class defined in a
  notebook cell works: nothing is pickled). The child reports one line per check over
  a pipe; the parent waits with ``select`` and kills the child when a check overruns,
  then forks a fresh child for the checks after it. The child cannot change anything in
  the parent (the class, ``sys.modules``), its output goes nowhere, and its memory is
  capped. Works inside a Jupyter kernel: the child only runs Python code and leaves with
  ``os._exit``, never touching the kernel's sockets.
* ``"inline"`` (elsewhere: Windows, Pyodide): the checks run in this process under a
  trace function that raises :class:`Deadline` once a check overruns. That stops any
  loop written in Python, unless a bare ``except:`` inside the loop swallows it; a
  single call that never returns to Python code (a huge ``sum(range(10**12))``) is not
  interrupted. The forked child has neither limit.

Only numbers (and descriptions of what was not a number) come back: judging them
against chainrule is the parent's job (:mod:`chainrule.exercises.judge`).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import numbers
import os
import select
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import Check

PER_CHECK = 1.0
"""Seconds one check may take (every check builds a handful of nodes: microseconds)."""

BACKWARD_TIMEOUTS = 2
"""After this many checks whose backward() overran, backward() is not called again."""

_MEMORY = 2 << 30  # bytes a forked child may allocate beyond what it starts with


class _ForkStalledError(OSError):
    """A forked child did not start its first check: fall back to running inline."""


class Deadline(BaseException):
    """Raised inside student code by the inline runner's trace function.

    A BaseException, so that a student's ``except Exception:`` does not swallow it.
    """


# -- measuring one check ----------------------------------------------------------------


def read_number(obj: Any, attr: str) -> Any:
    """``obj.attr`` as a float, or a dict saying why it is not one (JSON-safe)."""
    try:
        value = getattr(obj, attr)
    except AttributeError:
        return {"missing": True}
    except Exception as exc:  # a property that raises
        return {"raised": _exception_text(exc)}
    return number_or_reason(value)


def number_or_reason(value: Any) -> Any:
    """A float for a real number, else ``{"bad": "a str ('abc')"}``."""
    if isinstance(value, bool):
        return {"bad": f"a bool ({value})"}
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except Exception as exc:
            return {"bad": f"a {type(value).__name__} that float() rejects ({exc})"}
    if value is None:
        return {"bad": "None"}
    if isinstance(value, (str, bytes)):
        return {"bad": f"a {type(value).__name__} ({_short(repr(value))})"}
    if hasattr(value, "data") or hasattr(value, "grad"):
        return {"bad": f"a {type(value).__name__} object (a node, not a number)"}
    if hasattr(value, "__float__") and not isinstance(value, complex):
        try:
            return float(value)
        except Exception as exc:
            return {"bad": f"a {type(value).__name__} that float() rejects ({exc})"}
    return {"bad": f"a {type(value).__name__} ({_short(repr(value))})"}


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _exception_text(exc: BaseException) -> str:
    message = _short(str(exc), 200)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _where(exc: BaseException) -> str:
    """Where in the student's code ``exc`` was raised: ``"_backward, line 30 of v.py"``."""
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(here)]
    if not frames:
        return ""
    last = frames[-1]
    name = os.path.basename(last.filename)
    folder = os.path.basename(os.path.dirname(last.filename))
    if name.startswith("<") or folder.startswith("ipykernel_"):  # a notebook cell
        return f"in {last.name}, line {last.lineno} of its cell"
    return f"in {last.name}, line {last.lineno} of {name}"


def _error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "text": _exception_text(exc), "where": _where(exc)}


def _supports(probe: Any, attr: str) -> bool:
    try:
        if getattr(type(probe), attr, None) is not None:
            return True
        return not attr.startswith("__") and hasattr(probe, attr)
    except Exception:
        return False


def measure(cls: Callable[[float], Any], check: Check, *, backward: bool = True,
            on_stage: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Run one check on ``cls`` and return what was seen, as JSON-safe data.

    Keys: ``stage`` reached (construct, forward, backward, done), ``error`` (type, text,
    where) if student code raised, ``supported`` (the class has the form's method),
    ``leaf_data``/``leaf_data_after`` (inputs before and after the expression),
    ``out_type``, ``data`` (each named node's value), ``grad0``/``grad1`` (each node's
    gradient before and after ``backward()``), ``no_backward``. ``on_stage(name)`` is
    called as the forward and the backward stage begin (the runner's time limit needs
    to know where a student's code stopped).
    """
    result: dict[str, Any] = {"status": "ran", "stage": "construct"}

    def stage(name: str) -> None:
        result["stage"] = name
        if on_stage is not None:
            on_stage(name)

    try:
        leaves = {name: cls(value) for name, value in check.at}
        result["leaf_data"] = {n: read_number(v, "data") for n, v in leaves.items()}
        result["leaf_grad"] = {n: read_number(v, "grad") for n, v in leaves.items()}
        stage("forward")
        result["supported"] = _supports(next(iter(leaves.values())), check.attr)
        nodes = check.build(leaves)
        out = nodes["out"]
        result["out_type"] = type(out).__name__
        result["out_is_node"] = hasattr(out, "data")
        result["data"] = {n: read_number(v, "data") for n, v in nodes.items()}
        result["leaf_data_after"] = {n: read_number(v, "data") for n, v in leaves.items()}
        if not result["out_is_node"] or not backward:
            result["stage"] = "done"
            result["backward_skipped"] = not backward
            return result
        run_backward = getattr(out, "backward", None)
        if not callable(run_backward):
            result["no_backward"] = True
            result["stage"] = "done"
            return result
        named = {**leaves, **{n: v for n, v in nodes.items() if n not in leaves}}
        result["grad0"] = {n: read_number(v, "grad") for n, v in named.items()}
        stage("backward")
        run_backward()
        result["grad1"] = {n: read_number(v, "grad") for n, v in named.items()}
        result["leaf_data_after"] = {n: read_number(v, "data") for n, v in leaves.items()}
        result["stage"] = "done"
    except (Exception, SystemExit) as exc:
        result["error"] = _error(exc)
    return result


# -- running many checks -----------------------------------------------------------------


@dataclass
class RunState:
    """What the runs so far have taught: ops that loop, and whether backward() does."""

    looping_ops: set[str] = field(default_factory=set)
    backward_timeouts: int = 0
    constructor_loops: bool = False

    @property
    def skip_backward(self) -> bool:
        return self.backward_timeouts >= BACKWARD_TIMEOUTS

    def reason_to_skip(self, check: Check) -> str | None:
        if self.constructor_loops:
            return "the constructor did not finish"
        for op in (check.op, *check.needs):
            if op in self.looping_ops:
                return f"{op} did not finish"
        return None

    def learn(self, check: Check, stage: str) -> None:
        if stage == "construct":
            self.constructor_loops = True
        elif stage == "backward":
            self.backward_timeouts += 1
        else:
            self.looping_ops.add(check.op)


def run_checks(cls: Callable[[float], Any], checks: Sequence[Check], *, timeout: float,
               isolation: str = "auto", per_check: float = PER_CHECK) -> list[dict[str, Any]]:
    """Measure every check on ``cls`` within ``timeout`` seconds in all.

    Returns one dict per check: :func:`measure`'s, or ``{"status": "timeout", "stage":
    ...}``, ``{"status": "crashed", ...}`` (the child process died), ``{"status": "not
    run", "reason": ...}``.
    """
    mode = resolve_isolation(isolation)
    end = time.monotonic() + timeout
    results: list[dict[str, Any] | None] = [None] * len(checks)
    state = RunState()
    start = 0
    while start < len(checks):
        todo = []
        for i in range(start, len(checks)):
            reason = state.reason_to_skip(checks[i])
            if reason is None:
                todo.append(i)
            else:
                results[i] = {"status": "not run", "reason": reason}
        if not todo:
            break
        if time.monotonic() >= end:
            for i in todo:
                results[i] = {"status": "not run", "reason": "time limit"}
            break
        if mode == "fork":
            try:
                start = _run_forked(cls, checks, todo, results, state, end, per_check)
                continue
            except OSError:  # fork refused (no memory, process limit): run here instead
                mode = "inline"
        start = _run_inline(cls, checks, todo, results, state, end, per_check)
    return [r if r is not None else {"status": "not run", "reason": "time limit"}
            for r in results]


def resolve_isolation(isolation: str) -> str:
    """``"fork"`` or ``"inline"`` for an ``isolation`` argument (``"auto"`` picks)."""
    if isolation not in ("auto", "fork", "inline"):
        raise ValueError(f"isolation must be 'auto', 'fork' or 'inline', got {isolation!r}")
    if isolation == "auto":
        return "fork" if hasattr(os, "fork") and sys.platform not in ("emscripten",
                                                                       "wasi") else "inline"
    if isolation == "fork" and not hasattr(os, "fork"):
        raise ValueError("isolation='fork' needs os.fork, which this platform lacks; "
                         "use 'inline'")
    return isolation


# -- in a forked child ---------------------------------------------------------------------


def _write_all(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size + _MEMORY
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except Exception:  # not Linux, or no permission: the time limit still holds
        pass


def _child(cls: Any, checks: Sequence[Check], todo: list[int], backward: bool,
           fd: int) -> None:
    gc.disable()  # no finalizers of the parent's objects (sockets of a Jupyter kernel)
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives until os._exit
    sys.stdout = sys.stderr = sink
    sys.stdin = io.StringIO("")
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _limit_memory()
    for i in todo:
        _write_all(fd, b"S %d\n" % i)
        result = measure(cls, checks[i], backward=backward,
                         on_stage=lambda name, i=i: _write_all(fd, b"%s %d\n" % (
                             name[0].upper().encode(), i)))
        _write_all(fd, b"R %d " % i + json.dumps(result).encode() + b"\n")


def _run_forked(cls: Any, checks: Sequence[Check], todo: list[int],
                results: list[dict[str, Any] | None], state: RunState, end: float,
                per_check: float) -> int:
    """Run ``todo`` in one child; return the index to go on from."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads (a Jupyter kernel):
        # the child below only runs Python code and leaves with os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; coverage cannot follow it
        try:
            os.close(read_fd)
            _child(cls, checks, todo, not state.skip_backward, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    buffer = b""
    current, stage = None, "construct"
    started = time.monotonic()  # the fork itself counts against the first check
    alive = True

    def unresolved() -> int | None:
        return next((i for i in todo if results[i] is None), None)

    try:
        while True:
            wait = min(started + per_check, end) - time.monotonic()
            if wait <= 0:
                if current is None:
                    # The child never started: not the student's doing (a lock held by
                    # another thread at fork time?). Run the checks in this process.
                    raise _ForkStalledError
                culprit = current if results[current] is None else unresolved()
                if culprit is None:
                    return todo[-1] + 1
                results[culprit] = {"status": "timeout", "stage": stage}
                state.learn(checks[culprit], stage)
                return culprit + 1
            ready, _, _ = select.select([read_fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                _, status = os.waitpid(pid, 0)
                alive = False
                if current is None:
                    raise _ForkStalledError
                if results[current] is None:
                    results[current] = {"status": "crashed", "stage": stage,
                                        "exit": _describe_exit(status)}
                    return current + 1
                missing = unresolved()
                return todo[-1] + 1 if missing is None else missing
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                tag, _, rest = line.partition(b" ")
                if tag == b"S":
                    current, stage = int(rest), "construct"
                    started = time.monotonic()
                elif tag == b"F":
                    stage = "forward"
                elif tag == b"B":
                    stage = "backward"
                elif tag == b"R":
                    index, _, payload = rest.partition(b" ")
                    results[int(index)] = json.loads(payload)
    finally:
        os.close(read_fd)
        if alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by signal {name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


# -- in this process, with a trace function -------------------------------------------------


class _Clock:
    """The trace function of one inline check: raises :class:`Deadline` once it is late."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.stage = "construct"

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        # Called for every new frame and, returned as the local trace function, for every
        # line: a loop written in Python reaches it on each pass (jumping back is a line).
        if time.monotonic() > self.deadline:
            raise Deadline
        return self.trace

    def on_stage(self, name: str) -> None:
        self.stage = name


def _run_inline(cls: Any, checks: Sequence[Check], todo: list[int],
                results: list[dict[str, Any] | None], state: RunState, end: float,
                per_check: float) -> int:
    for i in todo:
        reason = state.reason_to_skip(checks[i])
        if reason is not None:
            results[i] = {"status": "not run", "reason": reason}
            continue
        if time.monotonic() >= end:
            results[i] = {"status": "not run", "reason": "time limit"}
            continue
        clock = _Clock(min(time.monotonic() + per_check, end))
        previous = sys.gettrace()
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                sys.settrace(clock.trace)
                try:
                    results[i] = measure(cls, checks[i], backward=not state.skip_backward,
                                         on_stage=clock.on_stage)
                finally:
                    sys.settrace(previous)
        except Deadline:
            results[i] = {"status": "timeout", "stage": clock.stage}
            state.learn(checks[i], clock.stage)
    return len(checks)
