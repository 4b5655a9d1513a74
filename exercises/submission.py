"""Loading a student's class from a file (what ``chainrule check FILE.py:NAME`` does).

Importing a file runs the code in it, as ``python FILE.py`` would (except its
``if __name__ == "__main__":`` block). That is the point: a teacher grades the code a
student wrote, on the teacher's own machine, knowingly. Nothing else in chainrule
imports or runs user code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import itertools
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

_LOADED = itertools.count()


class SubmissionError(Exception):
    """A student's file could not be loaded; the message says why, on one line."""


class _ImportTimeout(BaseException):
    pass


def parse_target(target: str) -> tuple[Path, str]:
    """``"path/to/file.py:Value"`` -> (path, "Value"); the name defaults to ``Value``.

    Raises ValueError for text that is not ``FILE.py`` or ``FILE.py:NAME``.
    """
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"expected FILE.py:NAME, got {target!r}")
    path_text, sep, name = target.rpartition(":")
    if not sep or "/" in name or "\\" in name or name.endswith(".py"):
        path_text, name = target, "Value"  # no NAME (or the colon of a Windows drive)
    if not name.isidentifier():
        raise ValueError(f"{name!r} in {target!r} is not a Python name; expected FILE.py:NAME")
    path = Path(path_text)
    if path.suffix != ".py":
        raise ValueError(f"{path_text!r} is not a .py file; expected FILE.py:NAME")
    return path, name


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _ImportTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_class(path: str | Path, name: str = "Value", *, timeout: float | None = 10.0) -> Any:
    """Import ``path`` (running its code) and return its attribute ``name``.

    The file's own folder is importable while it loads (for its helper modules); what
    it prints goes to stderr. Raises :class:`SubmissionError` with a one-line reason when
    the file does not exist, does not import (a SyntaxError, an exception, ``sys.exit``,
    more than ``timeout`` seconds of top-level code), has no ``name``, or when ``name``
    is not a class.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "alice.py"
        >>> _ = path.write_text("class Value:\\n    def __init__(self, data):\\n"
        ...                     "        self.data, self.grad = data, 0.0\\n")
        >>> load_class(path, "Value")(1.5).data
        1.5
        >>> load_class(path, "Tensor")
        Traceback (most recent call last):
        chainrule.exercises.submission.SubmissionError: alice.py has no Tensor (it defines Value)
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{str(path)!r} does not exist or is not a file")
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_chainrule_submission_{next(_LOADED)}_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SubmissionError(f"cannot import {path.name}")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.modules[module_name] = module
    sys.path.insert(0, folder)
    try:
        with contextlib.redirect_stdout(sys.stderr), _time_limit(timeout):
            spec.loader.exec_module(module)
    except _ImportTimeout:
        sys.modules.pop(module_name, None)
        raise SubmissionError(
            f"importing {path.name} took more than {timeout:g} s: code at the top level of "
            "the file runs on import (put demos under `if __name__ == '__main__':`)"
        ) from None
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        raise SubmissionError(f"{path.name} has a syntax error at line {exc.lineno}: "
                              f"{exc.msg}") from None
    except SystemExit as exc:
        sys.modules.pop(module_name, None)
        raise SubmissionError(f"{path.name} called sys.exit({exc.code!r}) on import") from None
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = _line_of(exc, path)
        raise SubmissionError(f"importing {path.name} raised {type(exc).__name__}: "
                              f"{_one_line(exc)}{line}") from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    if not hasattr(module, name):
        classes = sorted(n for n, v in vars(module).items()
                         if inspect.isclass(v) and v.__module__ == module_name)
        found = f" (it defines {', '.join(classes)})" if classes else " (it defines no class)"
        raise SubmissionError(f"{path.name} has no {name}{found}")
    cls = getattr(module, name)
    if not inspect.isclass(cls):
        raise SubmissionError(f"{name} in {path.name} is a {type(cls).__name__}, not a class")
    return cls


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _line_of(exc: BaseException, path: Path) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve() == path.resolve()]
    return f" (line {frames[-1].lineno})" if frames else ""
