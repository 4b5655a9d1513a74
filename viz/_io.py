"""Small helpers shared by the viz modules: atomic file writes and number formatting."""

from __future__ import annotations

import math
import os
from pathlib import Path

from chainrule.nn import files


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` all at once: a temporary file beside it, then ``os.replace``.

    A failure part-way (disk full, an exception while writing) leaves any old file at
    ``path`` untouched and no temporary file behind. The new file gets the usual
    permissions (``0o666`` less the umask). The same writer as model files
    (:func:`chainrule.nn.files.atomic_write`): a symlink is followed, and a directory,
    pipe, device or read-only file is never replaced.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {str(target)!r}: folder {str(directory)!r} "
                                "does not exist")
    files.atomic_write(target, payload, fsync=False)  # pictures: atomic, not durable
    return target


def format_number(x: float, precision: int = 4) -> str:
    """A float as people read it on a slide: ``-12``, ``0.5``, ``1.235e+06``, ``nan``, ``-inf``.

    Whole numbers print without a decimal point, other numbers with ``precision``
    significant digits; ``-0.0`` prints as ``0``.

    Example:
        >>> format_number(-12.0), format_number(2 / 3), format_number(float("-inf"))
        ('-12', '0.6667', '-inf')
    """
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0.0:
        return "0"
    if x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return f"{x:.{precision}g}"
