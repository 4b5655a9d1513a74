"""Data: toy data sets, standardisation, splits, mini-batches and a careful CSV loader.

The classification sets are the TensorFlow Playground's shapes (moons as in
scikit-learn), in coordinates of about [-1, 1]. Each returns ``X`` (n x 2 float64) and
``y`` (n int64 class indices), shuffled; ``noise`` is the standard deviation of
Gaussian noise added to every coordinate. All randomness comes from a
``numpy.random.Generator`` made from ``seed`` (an int, None for fresh entropy, or a
Generator), never from numpy's or Python's global state.

Example:
    >>> X, y = make_moons(100, noise=0.1, seed=0)
    >>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist()))
    ((100, 2), dtype('float64'), dtype('int64'), [0, 1])
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "Batches",
    "Split",
    "Standardizer",
    "load_csv",
    "make_circles",
    "make_gaussians",
    "make_moons",
    "make_regression",
    "make_spiral",
    "make_xor",
    "train_val_test_split",
]


# -- argument checks ------------------------------------------------------------------------------

def _generator(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be an int, None or a numpy Generator, got "
                        f"{type(seed).__name__}")
    return np.random.default_rng(None if seed is None else int(seed))


def _n(n: Any, name: str = "n", minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(n).__name__} {n!r}")
    if n < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {n!r}")
    return int(n)


def _noise(noise: Any) -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(f"noise must be a real number, got {type(noise).__name__}")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0.0):
        raise ValueError(f"noise must be finite and >= 0, got {noise!r}")
    return noise


def _finish(rng: np.random.Generator, pts: np.ndarray, y: np.ndarray,
            noise: float) -> tuple[np.ndarray, np.ndarray]:
    if noise:
        pts = pts + rng.normal(0.0, noise, size=pts.shape)
    order = rng.permutation(len(pts))
    return np.ascontiguousarray(pts[order], dtype=np.float64), y[order].astype(np.int64)


# -- the data sets --------------------------------------------------------------------------------

def make_moons(n: int = 100, noise: float = 0.1, seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: class 0 on top, class 1 below and shifted.

    Class 0 is ``(cos t, sin t)``, class 1 ``(1 - cos t, 0.5 - sin t)`` for t evenly
    spaced in [0, pi]; ``n // 2`` points in class 0 (scikit-learn's layout).

    Example:
        >>> pts, y = make_moons(6, noise=0.0)
        >>> int(y.sum())
        3
    """
    n, noise, rng = _n(n), _noise(noise), _generator(seed)
    n0 = n // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n - n0)
    pts = np.concatenate([np.column_stack([np.cos(t0), np.sin(t0)]),
                        np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])])
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    return _finish(rng, pts, y, noise)


def make_circles(n: int = 100, noise: float = 0.05,
                 seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """A disk inside a ring (the Playground's "circle"): class 1 within radius 0.5,
    class 0 at radius 0.7 to 1.0, angles uniform.

    Example:
        >>> import numpy as np
        >>> X, y = make_circles(50, noise=0.0)
        >>> radius = np.hypot(X[:, 0], X[:, 1])
        >>> bool((radius[y == 1] <= 0.5).all()), bool((radius[y == 0] >= 0.7).all())
        (True, True)
    """
    n, noise, rng = _n(n), _noise(noise), _generator(seed)
    n1 = n // 2
    radius = np.concatenate([rng.uniform(0.0, 0.5, n1), rng.uniform(0.7, 1.0, n - n1)])
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    pts = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    y = np.concatenate([np.ones(n1), np.zeros(n - n1)])
    return _finish(rng, pts, y, noise)


def make_xor(n: int = 100, noise: float = 0.05, seed: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """The four quadrants (the Playground's "exclusive or"): class 1 where x1 x2 > 0.

    Coordinates are uniform in magnitude, pushed 0.05 away from the axes (as the
    Playground pads them) so the classes have a margin before noise is added; each
    class gets half of the points, spread over its two quadrants at random.

    Example:
        >>> X, y = make_xor(50, noise=0.0)
        >>> bool(((X[:, 0] * X[:, 1] > 0) == (y == 1)).all())
        True
    """
    n, noise, rng = _n(n), _noise(noise), _generator(seed)
    y = (np.arange(n) < n // 2).astype(np.int64)
    first = rng.choice([-1.0, 1.0], size=n)
    second = np.where(y == 1, first, -first)  # same signs in class 1, opposite in class 0
    pts = 0.05 + rng.uniform(0.0, 1.0, size=(n, 2))
    pts = pts * np.column_stack([first, second])
    return _finish(rng, pts, y, noise)


def make_spiral(n: int = 100, noise: float = 0.05, seed: Any = 0,
                classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms (the Playground's "spiral"), one arm per class.

    Arm k has points at radius r in [0, 1] and angle ``3.5 pi r + 2 pi k / classes``
    (1.75 turns, as in the Playground). ``classes`` > 2 gives a multi-class problem.

    Example:
        >>> import numpy as np
        >>> X, y = make_spiral(9, classes=3)
        >>> X.shape, np.bincount(y).tolist()
        ((9, 2), [3, 3, 3])
    """
    n, noise, rng = _n(n), _noise(noise), _generator(seed)
    classes = _n(classes, "classes", 2)
    sizes = [n // classes + (k < n % classes) for k in range(classes)]
    parts, labels = [], []
    for k, size in enumerate(sizes):
        r = np.arange(size) / max(size, 1)
        t = 3.5 * np.pi * r + 2.0 * np.pi * k / classes
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        labels.append(np.full(size, k))
    return _finish(rng, np.concatenate(parts), np.concatenate(labels), noise)


def make_gaussians(n: int = 100, noise: float = 0.25, seed: Any = 0,
                   classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs (the Playground's "gaussian"), one per class, of std ``noise``.

    Class k is centred at radius 0.707 and angle ``pi/4 + 2 pi k / classes``: with two
    classes, (0.5, 0.5) and (-0.5, -0.5).

    Example:
        >>> X, y = make_gaussians(4, noise=0.0)
        >>> X[y == 0][0].round(2).tolist(), X[y == 1][0].round(2).tolist()
        ([0.5, 0.5], [-0.5, -0.5])
    """
    n, noise, rng = _n(n), _noise(noise), _generator(seed)
    classes = _n(classes, "classes", 2)
    y = np.arange(n) % classes
    angle = np.pi / 4.0 + 2.0 * np.pi * y / classes
    pts = math.sqrt(0.5) * np.column_stack([np.cos(angle), np.sin(angle)])
    return _finish(rng, pts, y, noise)


def make_regression(n: int = 100, noise: float = 0.1, seed: Any = 0,
                    kind: str = "plane") -> tuple[np.ndarray, np.ndarray]:
    """A 2-D regression set: ``pts`` uniform in [-1, 1]^2, ``y`` float64 plus noise.

    ``kind="plane"``: ``y = (x1 + x2) / 2`` (the Playground's "plane");
    ``kind="gauss"``: a bump at (0.5, 0.5) minus one at (-0.5, -0.5), each
    ``exp(-|x - c|^2 / 0.18)``. ``noise`` is the std of Gaussian noise added to y.

    Example:
        >>> import numpy as np
        >>> X, y = make_regression(20, noise=0.0)
        >>> bool(np.allclose(y, (X[:, 0] + X[:, 1]) / 2)), y.dtype
        (True, dtype('float64'))
    """
    n, noise, rng = _n(n), _noise(noise), _generator(seed)
    if kind not in ("plane", "gauss"):
        raise ValueError(f"kind must be 'plane' or 'gauss', got {kind!r}")
    pts = rng.uniform(-1.0, 1.0, size=(n, 2))
    if kind == "plane":
        y = (pts[:, 0] + pts[:, 1]) / 2.0
    else:
        bump = lambda c: np.exp(-((pts - c) ** 2).sum(axis=1) / 0.18)  # noqa: E731
        y = bump(np.array([0.5, 0.5])) - bump(np.array([-0.5, -0.5]))
    if noise:
        y = y + rng.normal(0.0, noise, size=n)
    return pts, y.astype(np.float64)


# -- preparation ----------------------------------------------------------------------------------

def _matrix(data: Any, name: str = "X", *, column: bool = True,
            what: str = "data") -> np.ndarray:
    """``data`` as a finite (samples x features) float64 array, or an error naming ``name``.

    A 1-D array is one feature per sample when ``column`` is True, else refused.
    """
    try:
        a = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric array, got {type(data).__name__} "
                        f"({e})") from None
    if a.ndim == 1 and column:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features), got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is empty (no samples)")
    if not np.isfinite(a).all():
        row, col = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name}[{row}, {col}] is {float(a[row, col])!r}; "
                         f"{what} must be finite")
    return a


class Standardizer:
    """Remembers each column's mean and standard deviation and rescales to mean 0, std 1.

    Fit it on the training data only, then transform validation and test data with the
    *same* statistics. A constant column (std 0) is centred and left unscaled (divided
    by 1) rather than turned into nan.

    Example:
        >>> s = Standardizer().fit([[1.0, 5.0], [3.0, 5.0]])
        >>> s.mean.tolist(), s.std.tolist(), s.transform([[3.0, 6.0]]).tolist()
        ([2.0, 5.0], [1.0, 0.0], [[1.0, 1.0]])
    """

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, X: Any) -> Standardizer:  # noqa: N803 - X as in every ML text
        """Compute the column means and (population) standard deviations of ``X``."""
        a = _matrix(X)
        with np.errstate(over="ignore", invalid="ignore"):
            mean, std = a.mean(axis=0), a.std(axis=0)
        big = ~(np.isfinite(mean) & np.isfinite(std))
        if big.any():
            # Finite data whose sum or squares overflow (values near 1e154 and above):
            # the same statistics of the columns divided by their largest magnitude,
            # scaled back (std would otherwise be inf and every transform 0 or nan).
            scale = np.abs(a[:, big]).max(axis=0)
            unit = a[:, big] / scale
            mean[big], std[big] = unit.mean(axis=0) * scale, unit.std(axis=0) * scale
        self.mean, self.std = mean, std
        return self

    @property
    def scale(self) -> np.ndarray:
        """The divisor used, ``std`` with zeros replaced by 1."""
        self._check_fitted()
        return np.where(self.std > 0.0, self.std, 1.0)

    def _check_fitted(self) -> None:
        if self.mean is None:
            raise RuntimeError("Standardizer is not fitted yet; call fit(X_train) first")

    def _prepare(self, data: Any) -> tuple[np.ndarray, bool]:
        self._check_fitted()
        one_d = np.ndim(data) == 1
        a = _matrix(data)
        if a.shape[1] != len(self.mean):
            raise ValueError(f"Standardizer was fitted on {len(self.mean)} columns, "
                             f"got {a.shape[1]}")
        return a, one_d

    def transform(self, X: Any) -> np.ndarray:  # noqa: N803
        """``(X - mean) / scale`` with the remembered statistics."""
        a, one_d = self._prepare(X)
        out = (a - self.mean) / self.scale
        return out[:, 0] if one_d else out

    def fit_transform(self, X: Any) -> np.ndarray:  # noqa: N803
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:  # noqa: N803
        """Undo :meth:`transform`: ``X * scale + mean``."""
        a, one_d = self._prepare(X)
        out = a * self.scale + self.mean
        return out[:, 0] if one_d else out

    def __repr__(self) -> str:
        if self.mean is None:
            return "Standardizer(not fitted)"
        return f"Standardizer(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _xy(data: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(data)
    b = np.asarray(labels)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("X and y must be arrays with one row per sample")
    if len(a) == 0:
        raise ValueError("the data set is empty (no samples)")
    if len(a) != len(b):
        raise ValueError(f"X and y differ in length ({len(a)} vs {len(b)} samples)")
    return a, b


class Split(NamedTuple):
    """Three ``(X, y)`` pairs: ``train``, ``val`` and ``test``.

    Example:
        >>> X, y = make_moons(10, seed=0)
        >>> split = train_val_test_split(X, y, val=0.2, test=0.2, seed=0)
        >>> [len(part_y) for _, part_y in split], split.train[0].shape
        ([6, 2, 2], (6, 2))
    """

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def train_val_test_split(X: Any, y: Any, val: float = 0.15, test: float = 0.15, *,  # noqa: N803
                         seed: Any = 0, shuffle: bool = True) -> Split:
    """Shuffle (seeded) and cut the data into training, validation and test parts.

    ``val`` and ``test`` are fractions (rounded to whole samples); the rest trains.
    Tune on the validation part; look at the test part once, at the end.

    Example:
        >>> X, y = make_moons(100)
        >>> (Xtr, ytr), (Xva, yva), (Xte, yte) = train_val_test_split(X, y, 0.2, 0.1)
        >>> len(Xtr), len(Xva), len(Xte)
        (70, 20, 10)
    """
    a, b = _xy(X, y)
    fractions = {}
    for name, f in (("val", val), ("test", test)):
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0.0 <= f < 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1), got {f!r}")
        fractions[name] = float(f)
    n = len(a)
    n_val = round(fractions["val"] * n)
    n_test = round(fractions["test"] * n)
    if n - n_val - n_test < 1:
        raise ValueError(f"val={val!r} and test={test!r} leave no training data "
                         f"out of {n} samples")
    order = _generator(seed).permutation(n) if shuffle else np.arange(n)
    tr, va, te = order[: n - n_val - n_test], order[n - n_val - n_test: n - n_test], \
        order[n - n_test:]
    return Split((a[tr], b[tr]), (a[va], b[va]), (a[te], b[te]))


class Batches:
    """Mini-batches ``(X_batch, y_batch)`` of ``batch_size`` samples (the last may be
    smaller). Each iteration is one epoch; with ``shuffle`` every epoch has a new order,
    drawn from the object's own generator, so runs with the same seed repeat exactly.

    ``batch_size`` must be a positive int; larger than the data set gives one batch.

    Example:
        >>> X, y = make_moons(10)
        >>> [len(xb) for xb, yb in Batches(X, y, batch_size=4)]
        [4, 4, 2]
    """

    def __init__(self, X: Any, y: Any, batch_size: int = 32, *,  # noqa: N803
                 shuffle: bool = True, seed: Any = 0) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise ValueError(f"batch_size must be a positive int, got "
                             f"{type(batch_size).__name__} {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.X, self.y = _xy(X, y)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self._rng = _generator(seed)

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.X)
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start: start + self.batch_size]
            yield self.X[idx], self.y[idx]


# -- CSV ------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def load_csv(path: Any, *, target: int | str | None = -1, header: bool = True,
             columns: list[str] | None = None, delimiter: str = ",",
             allow_nonfinite: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a numeric CSV file into ``(X, y)`` float64 arrays, refusing bad data loudly.

    ``target`` names the label column (a header name or an index; -1, the default, is
    the last column; None gives ``y = None``). With ``header=True`` the first row holds
    unique column names, which must equal ``columns`` when that is given. Rows are
    counted as lines of the file (the header is row 1), and every problem is reported as
    ``"<path>: row 17, column 'x2': ..."``: a short or long row, an empty field, a token
    that is not a number, a wrong header. ``nan``, ``inf`` and numbers that overflow
    (``1e999``) are refused unless ``allow_nonfinite=True``. Blank lines are skipped.

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
        >>> _ = p.write_text("x1,x2,y\\n0.5,1,0\\n2,-1e-3,1\\n")
        >>> X, y = load_csv(p)
        >>> X.tolist(), y.tolist()
        ([[0.5, 1.0], [2.0, -0.001]], [0.0, 1.0])
    """
    where = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise OSError(f"{where}: cannot read ({e.strerror or e})") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 text (byte {raw[e.start]:#04x} at offset "
                         f"{e.start})") from None
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character, got {delimiter!r}")
    try:
        rows = [(line, row) for row, line in _csv_rows(text, delimiter)]
    except csv.Error as e:
        raise ValueError(f"{where}: malformed CSV ({e})") from None
    if not rows:
        raise ValueError(f"{where}: the file is empty")

    if header:
        line, names = rows[0]
        names = [name.strip() for name in names]
        rows = rows[1:]
        for j, name in enumerate(names):
            if not name:
                raise ValueError(f"{where}: row {line}, column {j + 1}: empty column name")
        dup = sorted({name for name in names if names.count(name) > 1})
        if dup:
            raise ValueError(f"{where}: row {line}: duplicate column names {dup}")
        if columns is not None and names != list(columns):
            raise ValueError(f"{where}: row {line}: expected columns {list(columns)}, "
                             f"found {names}")
    elif columns is not None:
        names = [str(c) for c in columns]
    else:
        if not rows:
            raise ValueError(f"{where}: the file is empty")
        names = [str(j + 1) for j in range(len(rows[0][1]))]
    label = (lambda j: repr(names[j])) if header or columns is not None else (lambda j: str(j + 1))
    if not rows:
        raise ValueError(f"{where}: no data rows after the header")

    width = len(names)
    data = np.empty((len(rows), width), dtype=np.float64)
    for i, (line, fields) in enumerate(rows):
        if len(fields) < width:
            raise ValueError(f"{where}: row {line}, column {label(len(fields))}: missing "
                             f"(the row has {len(fields)} fields, expected {width})")
        if len(fields) > width:
            raise ValueError(f"{where}: row {line}, column {width + 1}: unexpected extra "
                             f"field {fields[width].strip()!r} (expected {width} fields)")
        for j, token in enumerate(fields):
            data[i, j] = _parse(token, allow_nonfinite, lambda j=j, line=line:
                                f"{where}: row {line}, column {label(j)}")

    if target is None:
        return data, None
    if isinstance(target, str):
        if target not in names:
            raise ValueError(f"{where}: target column {target!r} not found; columns are "
                             f"{names}")
        t = names.index(target)
    elif isinstance(target, numbers.Integral) and not isinstance(target, bool):
        if not -width <= target < width:
            raise ValueError(f"{where}: target index {target} is out of range for "
                             f"{width} columns")
        t = int(target) % width
    else:
        raise TypeError(f"target must be a column name, an index or None, got "
                        f"{type(target).__name__}")
    keep = [j for j in range(width) if j != t]
    return np.ascontiguousarray(data[:, keep]), data[:, t].copy()


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[list[str], int]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    for row in reader:
        if not row or (all(not field.strip() for field in row) and len(row) == 1):
            continue  # blank line
        yield row, reader.line_num


def _parse(token: str, allow_nonfinite: bool, where: Any) -> float:
    s = token.strip()
    if not s:
        raise ValueError(f"{where()}: missing value (empty field)")
    if _NUMBER.fullmatch(s):
        value = float(s)
        if math.isinf(value) and not allow_nonfinite:
            raise ValueError(f"{where()}: {s!r} overflows to {value!r}; pass "
                             "allow_nonfinite=True to accept it")
        return value
    if _NONFINITE.fullmatch(s):
        if not allow_nonfinite:
            raise ValueError(f"{where()}: {s!r} is not a finite number; pass "
                             "allow_nonfinite=True to accept it")
        return float(s)
    raise ValueError(f"{where()}: {s!r} is not a number")
