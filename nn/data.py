"""Data: toy data sets, preparation (standardisation, imputation of missing values, one-hot
categories), splits, k-fold cross-validation, mini-batches, jitter augmentation and a
careful CSV loader.

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
import itertools
import math
import os
import re
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from chainrule.engine.checks import (
    flag,
    fraction,
    integer,
    is_integer,
    is_real,
    number,
    positive_int,
)

from . import files

__all__ = [
    "MAX_CSV_BYTES",
    "Batches",
    "Fold",
    "Imputer",
    "OneHotEncoder",
    "Split",
    "Standardizer",
    "as_matrix",
    "jitter",
    "k_fold",
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
    if seed is not None and not is_integer(seed):
        raise TypeError(f"seed must be an int, None or a numpy Generator, got "
                        f"{type(seed).__name__}")
    return np.random.default_rng(None if seed is None else int(seed))


def _n(n: Any, name: str = "n", minimum: int = 1) -> int:
    return integer(n, name, minimum=minimum, type_message="{name} must be an int, got {got}",
                   message=f"{{name}} must be at least {minimum}, got {{value}}")


def _noise(noise: Any) -> float:
    return number(noise, "noise", low=0.0)


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

def as_matrix(data: Any, name: str = "X", *, column: bool = True,
              what: str = "data") -> np.ndarray:
    """``data`` as a finite (samples x features) float64 array, or an error naming ``name``
    (and ``what`` the numbers are). A 1-D array is one feature per sample when ``column``
    is True, else refused. Every loader and transformer of chainrule.nn checks its input
    with it.

    Example:
        >>> as_matrix([1, 2]).tolist()
        [[1.0], [2.0]]
        >>> as_matrix([[0.5, float("nan")]], what="inputs")
        Traceback (most recent call last):
        ValueError: X[0, 1] is nan; inputs must be finite
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
        a = as_matrix(X)
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
        a = as_matrix(data)
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
        fractions[name] = fraction(f, name)
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
        self.batch_size = positive_int(batch_size, "batch_size",
                                       message="{name} must be a positive int, got {got}")
        self.X, self.y = _xy(X, y)
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


# -- imputation, categories, cross-validation folds, augmentation ---------------------------------
#
# The "data preparation" and "experiment design" steps of a course's practice chapter: fill in
# missing values, turn a categorical column into numbers, cut the data into k folds, and make
# more training points by jitter. Same style as Standardizer: fit on the training data only,
# transform everything else with what was learned; seeded, never the global RNG.

def _matrix_with_missing(data: Any, name: str = "X") -> np.ndarray:
    """``data`` as a (samples x features) float64 array in which nan (or None) marks a
    missing value; inf is refused (it is not missing, it is wrong)."""
    try:
        a = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric array (None or nan for a missing value), "
                        f"got {type(data).__name__} ({e})") from None
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features), got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is empty (no samples)")
    if np.isinf(a).any():
        row, col = np.argwhere(np.isinf(a))[0]
        raise ValueError(f"{name}[{row}, {col}] is {float(a[row, col])!r}; a missing value "
                         "is nan or None, and other values must be finite")
    return a


class Imputer:
    """Fills missing values (``nan`` or ``None``) with a per-column value learned in ``fit``.

    ``strategy`` is ``"mean"``, ``"median"`` (robust to outliers) or ``"constant"`` (then
    ``fill_value``, a finite number, is used for every column). As with
    :class:`Standardizer`, fit on the training data only: the statistics of the
    validation and test data must not leak into training. ``statistics`` holds the value
    of each column, ``missing`` how many values were missing per column in ``fit``.

    Example:
        >>> imp = Imputer("median").fit([[1.0, None], [2.0, 10.0], [9.0, 20.0]])
        >>> imp.statistics.tolist(), imp.missing.tolist()
        ([2.0, 15.0], [0, 1])
        >>> imp.transform([[None, None]]).tolist()
        [[2.0, 15.0]]
    """

    STRATEGIES = ("mean", "median", "constant")

    def __init__(self, strategy: str = "mean", fill_value: float | None = None) -> None:
        if not isinstance(strategy, str) or strategy not in self.STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(self.STRATEGIES)}, got "
                             f"{strategy!r}")
        if strategy == "constant":
            fill_value = number(fill_value, "fill_value", type_error=ValueError,
                                message="strategy='constant' needs a finite number as "
                                        "fill_value, got {value}")
        elif fill_value is not None:
            raise ValueError(f"fill_value is only used with strategy='constant', got "
                             f"fill_value={fill_value!r} with strategy={strategy!r}")
        self.strategy = strategy
        self.fill_value = fill_value
        self.statistics: np.ndarray | None = None
        self.missing: np.ndarray | None = None

    def fit(self, X: Any) -> Imputer:  # noqa: N803 - X as in every ML text
        """Learn each column's fill value from the observed (non-missing) entries of ``X``."""
        a = _matrix_with_missing(X)
        holes = np.isnan(a)
        if self.strategy == "constant":
            stats = np.full(a.shape[1], self.fill_value)
        else:
            empty = np.flatnonzero(holes.all(axis=0))
            if empty.size:
                raise ValueError(f"column {int(empty[0])} of X has no observed values to take "
                                 f"the {self.strategy} of; drop it or use strategy='constant'")
            stats = np.nanmean(a, axis=0) if self.strategy == "mean" else np.nanmedian(a, axis=0)
        self.statistics = stats
        self.missing = holes.sum(axis=0)
        return self

    def transform(self, X: Any) -> np.ndarray:  # noqa: N803
        """A copy of ``X`` with every missing value replaced by its column's fill value."""
        if self.statistics is None:
            raise RuntimeError("Imputer is not fitted yet; call fit(X_train) first")
        one_d = np.ndim(X) == 1
        a = _matrix_with_missing(X)
        if a.shape[1] != len(self.statistics):
            raise ValueError(f"Imputer was fitted on {len(self.statistics)} columns, got "
                             f"{a.shape[1]}")
        out = np.where(np.isnan(a), self.statistics, a)
        return out[:, 0] if one_d else out

    def fit_transform(self, X: Any) -> np.ndarray:  # noqa: N803
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def __repr__(self) -> str:
        fill = f", fill_value={self.fill_value!r}" if self.strategy == "constant" else ""
        if self.statistics is None:
            return f"Imputer({self.strategy!r}{fill}, not fitted)"
        return f"Imputer({self.strategy!r}{fill}, statistics={self.statistics.tolist()})"


def _is_missing(v: Any) -> bool:
    return v is None or (is_real(v) and math.isnan(v))


def _category_column(values: Any, name: str) -> list[Any]:
    """One column of category values as a list of plain Python objects."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of categories (one column), got "
                        f"{type(values).__name__}")
    if isinstance(values, np.ndarray):
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise ValueError(f"{name} must be one column (1-D), got shape {values.shape}; "
                             "use one encoder per categorical column")
        items = values.tolist()
    else:
        items = list(values)
    if not items:
        raise ValueError(f"{name} is empty (no samples)")
    for i, v in enumerate(items):
        if _is_missing(v):
            raise ValueError(f"{name}[{i}] is missing ({v!r}); give missing values a category "
                             "of their own first (for example 'unknown')")
        if isinstance(v, (list, tuple, dict, set, np.ndarray)):
            raise TypeError(f"{name}[{i}] is a {type(v).__name__}, not a category; "
                            "use one encoder per categorical column")
        try:
            hash(v)
        except TypeError:
            raise TypeError(f"{name}[{i}] is a {type(v).__name__}, which cannot be a "
                            "category (not hashable)") from None
    return items


def _sorted_categories(items: Any) -> list[Any]:
    unique = list(dict.fromkeys(items))
    try:
        return sorted(unique)
    except TypeError:  # mixed types (1 and "a"): group by type name, then by value
        return sorted(unique, key=lambda v: (type(v).__name__, str(v)))


class OneHotEncoder:
    """One categorical column to 0/1 columns, one per category learned in ``fit``.

    A network needs numbers; coding "Girona", "Lleida", "Tarragona" as 0, 1, 2 would
    invent an order and distances that do not exist, so each category gets a column of
    its own. ``categories`` fixes the list (and order) in advance; otherwise ``fit``
    collects the distinct values, sorted. A value not seen in ``fit`` raises a
    ``ValueError`` naming it, or with ``handle_unknown="ignore"`` becomes a row of zeros.
    Missing values (None, nan) are refused: give them a category first.

    Example:
        >>> enc = OneHotEncoder().fit(["b", "a", "c", "a"])
        >>> enc.categories, enc.feature_names("city")
        (['a', 'b', 'c'], ['city=a', 'city=b', 'city=c'])
        >>> enc.transform(["c", "a"]).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        >>> enc.inverse_transform([[0.1, 0.7, 0.2]])
        ['b']
    """

    def __init__(self, categories: Sequence[Any] | None = None,
                 handle_unknown: str = "error") -> None:
        if handle_unknown not in ("error", "ignore"):
            raise ValueError(f"handle_unknown must be 'error' or 'ignore', got "
                             f"{handle_unknown!r}")
        self.handle_unknown = handle_unknown
        self.fixed = None
        if categories is not None:
            cats = _category_column(categories, "categories")
            dup = [c for c in dict.fromkeys(cats) if cats.count(c) > 1]
            if dup:
                raise ValueError(f"categories lists {dup[0]!r} more than once")
            self.fixed = cats
        self.categories: list[Any] | None = None
        self._index: dict[Any, int] = {}

    def fit(self, values: Any) -> OneHotEncoder:
        """Learn the categories (the distinct values, sorted, unless fixed in advance)."""
        items = _category_column(values, "values")
        categories = _sorted_categories(items) if self.fixed is None else list(self.fixed)
        index = {c: j for j, c in enumerate(categories)}
        if self.fixed is not None and self.handle_unknown == "error":
            self._check_known(items, index, categories)
        self.categories, self._index = categories, index
        return self

    @staticmethod
    def _check_known(items: list[Any], index: dict[Any, int], categories: list[Any]) -> None:
        for i, v in enumerate(items):
            if v not in index:
                raise ValueError(
                    f"values[{i}] is {v!r}, not one of the categories {categories}; "
                    "pass handle_unknown='ignore' to encode unknown values as all zeros"
                )

    def _check_fitted(self) -> None:
        if self.categories is None:
            raise RuntimeError("OneHotEncoder is not fitted yet; call fit(values_train) first")

    def transform(self, values: Any) -> np.ndarray:
        """An (n, number of categories) float64 array with one 1.0 per known row."""
        self._check_fitted()
        items = _category_column(values, "values")
        if self.handle_unknown == "error":
            self._check_known(items, self._index, self.categories)
        out = np.zeros((len(items), len(self.categories)))
        for i, v in enumerate(items):
            j = self._index.get(v)
            if j is not None:
                out[i, j] = 1.0
        return out

    def fit_transform(self, values: Any) -> np.ndarray:
        """``fit(values)`` then ``transform(values)``."""
        return self.fit(values).transform(values)

    def inverse_transform(self, X: Any) -> list[Any]:  # noqa: N803
        """The category of each row: its largest column (so class probabilities work);
        None for a row of zeros (an unknown value encoded with ``handle_unknown="ignore"``)."""
        self._check_fitted()
        a = as_matrix(X, column=False)
        if a.shape[1] != len(self.categories):
            raise ValueError(f"OneHotEncoder has {len(self.categories)} categories, got "
                             f"{a.shape[1]} columns")
        best = a.argmax(axis=1)
        return [None if not row.any() else self.categories[j] for row, j in zip(a, best)]

    def feature_names(self, prefix: str = "") -> list[str]:
        """Column names such as ``"city=Girona"`` (or just the categories without prefix)."""
        self._check_fitted()
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        return [f"{prefix}={c}" if prefix else str(c) for c in self.categories]

    def __repr__(self) -> str:
        unknown = ", handle_unknown='ignore'" if self.handle_unknown == "ignore" else ""
        if self.categories is None:
            return f"OneHotEncoder(not fitted{unknown})"
        return f"OneHotEncoder(categories={self.categories!r}{unknown})"


class Fold(NamedTuple):
    """The sample indices of one cross-validation fold: ``train`` and ``val`` (sorted).

    :func:`k_fold` returns one per fold; index the data with them (or unpack the pair).

    Example:
        >>> X = np.arange(12.0).reshape(6, 2)
        >>> y = np.array([0, 1, 0, 1, 0, 1])
        >>> fold = k_fold(6, 3, shuffle=False)[1]
        >>> fold.train.tolist(), fold.val.tolist()
        ([0, 1, 4, 5], [2, 3])
        >>> train, val = fold
        >>> X[train].shape, y[val].tolist()
        ((4, 2), [0, 1])
    """

    train: np.ndarray
    val: np.ndarray


def k_fold(n: int, k: int = 5, *, seed: Any = 0, shuffle: bool = True,
           stratify: Any = None) -> list[Fold]:
    """Cut ``n`` samples into ``k`` folds for cross-validation: ``k`` :class:`Fold` pairs.

    Each sample is in exactly one ``val`` part; fold ``i`` trains on the other ``k - 1``.
    Fold sizes differ by at most one. With ``shuffle`` (default) the samples are dealt
    in a seeded random order, else in order (contiguous blocks). ``stratify``, an array
    of ``n`` class labels, deals each class evenly over the folds, so every fold has the
    class proportions of the whole set (classes with fewer than ``k`` samples warn).

    Example:
        >>> folds = k_fold(10, 3, seed=0)
        >>> [len(f.val) for f in folds], sorted(np.concatenate([f.val for f in folds]).tolist())
        ([4, 3, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        >>> [f.val.tolist() for f in k_fold(6, 3, shuffle=False)]
        [[0, 1], [2, 3], [4, 5]]
    """
    n = _n(n, "n", 2)
    k = _n(k, "k", 2)
    if k > n:
        raise ValueError(f"k={k} folds need at least {k} samples, got n={n}")
    flag(shuffle, "shuffle", message="{name} must be a bool, got {type}")
    rng = _generator(seed)
    if stratify is None:
        order = rng.permutation(n) if shuffle else np.arange(n)
        parts = np.array_split(order, k)
    else:
        labels = np.asarray(stratify)
        if labels.ndim != 1 or len(labels) != n:
            raise ValueError(f"stratify must hold one label per sample ({n}), got shape "
                             f"{labels.shape}")
        if labels.dtype.kind == "f" and np.isnan(labels).any():
            raise ValueError(f"stratify[{int(np.flatnonzero(np.isnan(labels))[0])}] is nan; "
                             "labels must be known")
        classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        small = [(c, int(m)) for c, m in zip(classes.tolist(), counts) if m < k]
        if small:
            warnings.warn(f"k_fold: class {small[0][0]!r} has only {small[0][1]} samples, "
                          f"fewer than k={k}, so some folds have none of it", UserWarning,
                          stacklevel=2)
        # Class by class, each in its own (shuffled) order, then dealt round-robin: every
        # class is spread evenly, and the fold sizes still differ by at most one.
        dealt = np.concatenate([
            rng.permutation(np.flatnonzero(inverse == c)) if shuffle
            else np.flatnonzero(inverse == c) for c in range(len(classes))])
        parts = [dealt[i::k] for i in range(k)]
    everything = np.arange(n)
    folds = []
    for part in parts:
        val = np.sort(part).astype(np.int64)
        folds.append(Fold(np.setdiff1d(everything, val).astype(np.int64), val))
    return folds


def jitter(X: Any, y: Any, copies: int = 5, sigma: Any = 0.05, *,  # noqa: N803
           seed: Any = 0, keep_original: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Data augmentation by noise: ``copies`` noisy copies of every point, same labels.

    Each copy adds Gaussian noise of standard deviation ``sigma`` (one number, or one
    per column) to the coordinates. The result holds the original points first (unless
    ``keep_original=False``), then the first copy of every point, then the second, ...
    Use it on the training data only, and pick ``sigma`` smaller than the gaps between
    the classes: it says "a point this close to a training point has its label".

    Example:
        >>> X2, y2 = jitter([[0.0, 0.0], [1.0, 1.0]], [0, 1], copies=2, sigma=0.1, seed=0)
        >>> X2.shape, y2.tolist()
        ((6, 2), [0, 1, 0, 1, 0, 1])
    """
    a = as_matrix(X, "X", column=False)
    labels = np.asarray(y)
    if labels.ndim == 0 or len(labels) != len(a):
        raise ValueError(f"X and y differ in length ({len(a)} vs "
                         f"{labels.size if labels.ndim == 0 else len(labels)} samples)")
    copies = _n(copies, "copies", 0)
    flag(keep_original, "keep_original", message="{name} must be a bool, got {type}")
    if copies == 0 and not keep_original:
        raise ValueError("copies=0 with keep_original=False leaves no data")
    if is_real(sigma):
        scale = np.full(a.shape[1], float(sigma))
    else:
        try:
            scale = np.asarray(sigma, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"sigma must be a number or one number per column, got "
                            f"{type(sigma).__name__}") from None
        if scale.shape != (a.shape[1],):  # (a bool is refused here too: shape ())
            raise ValueError(f"sigma must be a number or one number per column "
                             f"({a.shape[1]}), got {sigma!r}")
    if not (np.isfinite(scale).all() and (scale >= 0).all()):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
    rng = _generator(seed)
    noisy = [a + rng.normal(0.0, 1.0, size=a.shape) * scale for _ in range(copies)]
    parts = ([a] if keep_original else []) + noisy
    count = len(parts)
    return np.concatenate(parts), np.concatenate([labels] * count)


# -- CSV ------------------------------------------------------------------------------------------

MAX_CSV_BYTES = 256 * 2**20
"""Files larger than this (256 MiB) are refused by :func:`~chainrule.nn.load_csv` before being read
(pass ``max_bytes`` to change it)."""
_MAX_LINE = 8 * 2**20  # a longer line is refused (csv's own limit is 128 KiB a field)
_CHUNK = 2**20  # bytes read at a time
_BLOCK = 8192  # rows converted at a time on the careful path

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
# Characters numpy's reader would skip as white space (or stop at) where the careful
# path reports an error: a chunk holding one takes the careful path. (One `in` per
# character scans a chunk ten times faster than a regular expression.)
_NOT_FAST = ("\x00", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
_FAST = True  # tests switch the numpy path off to compare both paths


def load_csv(path: Any, *, target: int | str | None = -1, header: bool = True,
             columns: list[str] | None = None, delimiter: str = ",",
             allow_nonfinite: bool = False,
             max_bytes: int = MAX_CSV_BYTES) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a numeric CSV file into ``(X, y)`` float64 arrays, refusing bad data loudly.

    ``target`` names the label column (a header name or an index; -1, the default, is
    the last column; None gives ``y = None``). With ``header=True`` the first row holds
    unique column names, which must equal ``columns`` when that is given. Rows are
    counted as lines of the file (the header is row 1), and every problem is reported as
    ``"<path>: row 17, column 'x2': ..."``: a short or long row, an empty field, a token
    that is not a number, a wrong header. ``nan``, ``inf`` and numbers that overflow
    (``1e999``) are refused unless ``allow_nonfinite=True``. Blank lines are skipped.

    Numbers are written with ASCII digits: ``'١٢'`` (Arabic-Indic) or ``'１'``
    (fullwidth), which Python's ``float`` would read as 12 and 1, are refused naming the
    character (a data file holding them is more likely corrupt than meant). Fields may
    have spaces and tabs around them; the file is UTF-8 (a BOM is allowed).

    The file must be a regular file (symlinks are followed): a named pipe, device or
    socket raises :class:`~chainrule.nn.SpecialFileError` and a directory
    ``IsADirectoryError``, without blocking. Files larger than ``max_bytes`` (default
    :data:`~chainrule.nn.data.MAX_CSV_BYTES`, 256 MiB) are refused before being read.
    The file is read in chunks of 1 MiB into the arrays returned, so memory stays close
    to the size of the result (plus one chunk): numpy parses each chunk
    that holds plain numbers, and a chunk with anything else (quotes, blank lines, a bad
    token) is read field by field, which finds the row and column of any problem.

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
        >>> _ = p.write_text("x1,x2,y\\n0.5,1,0\\n2,-1e-3,1\\n")
        >>> X, y = load_csv(p)
        >>> X.tolist(), y.tolist()
        ([[0.5, 1.0], [2.0, -0.001]], [0.0, 1.0])
    """
    p = files.check_path(path)
    where = files.where(p)
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
        raise ValueError(f"delimiter must be one character other than a quote or a line "
                         f"break, got {delimiter!r}")
    max_bytes = positive_int(max_bytes, "max_bytes")
    if target is not None and not isinstance(target, str) and not is_integer(target):
        raise TypeError(f"target must be a column name, an index or None, got "
                        f"{type(target).__name__}")
    with files.open_regular(p) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise ValueError(f"{where}: the file is {size} bytes, more than the limit of "
                             f"{int(max_bytes)} (pass max_bytes=... to read it)")
        reader = _CsvReader(where, header=header, columns=columns, delimiter=delimiter,
                            allow_nonfinite=allow_nonfinite, target=target, size=size)
        reader.read(_text_chunks(f, where, int(max_bytes)))
    return reader.result()


def _text_chunks(f: Any, where: str, max_bytes: int) -> Iterator[str]:
    """The file as UTF-8 text in pieces of whole lines (each ends with a newline, except
    the file's last), reading at most ``max_bytes``."""
    total = 0
    while True:
        raw = f.read(_CHUNK)
        if not raw:
            return
        if not raw.endswith(b"\n"):
            tail = f.readline(_MAX_LINE)
            if len(tail) >= _MAX_LINE and not tail.endswith(b"\n"):
                raise ValueError(f"{where}: a line at byte offset {total + len(raw)} is "
                                 f"longer than {_MAX_LINE} bytes (lines must end with \\n "
                                 "or \\r\\n)")
            raw += tail
        start, total = total, total + len(raw)
        if total > max_bytes:
            raise ValueError(f"{where}: the file is more than the limit of {max_bytes} "
                             "bytes (pass max_bytes=... to read it)")
        skip = 3 if start == 0 and raw.startswith(b"\xef\xbb\xbf") else 0
        try:
            yield raw[skip:].decode("utf-8")
        except UnicodeDecodeError as e:
            hint = ("; it looks like UTF-16: save it as UTF-8"
                    if start == 0 and raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "")
            raise ValueError(f"{where}: not UTF-8 text (byte {raw[skip + e.start]:#04x} at "
                             f"offset {start + skip + e.start}){hint}") from None


def _lines(text: str) -> int:
    """Lines in ``text`` as the csv module counts them (ends: \\n, \\r\\n or \\r)."""
    if not text:
        return 0
    ends = text.count("\n")
    if "\r" in text:
        ends += text.count("\r") - text.count("\r\n")
    return ends + (not text.endswith(("\n", "\r")))


class _CsvReader:
    """The state of one :func:`load_csv`: header, target, lines read, the rows so far.

    Rows go straight into the arrays returned (``X``, and ``y`` for a target), grown as
    needed: their size is guessed from the file's size and the bytes a row takes, so
    memory stays close to the result's own size.
    """

    def __init__(self, where: str, *, header: bool, columns: list[str] | None,
                 delimiter: str, allow_nonfinite: bool, target: int | str | None,
                 size: int) -> None:
        self.where = where
        self.header = header
        self.columns = columns
        self.delimiter = delimiter
        self.allow_nonfinite = allow_nonfinite
        self.target = target
        self.size = size  # bytes, for the first guess of the row count (0 if unknown)
        self.names: list[str] | None = None
        self.width: int | None = None
        self.t: int | None = None  # the target's column
        self.keep: list[int] = []  # the other columns
        self.line = 0  # physical lines consumed so far
        self.chars = 0  # characters handed to the arrays so far (to guess the row count)
        self.n = 0  # rows in the arrays
        self.X = np.empty((0, 0))
        self.y: np.ndarray | None = None
        self.fast = _FAST and delimiter not in "0123456789.+-eE \x0b\x0c\x1c\x1d\x1e\x1f\x00"

    # -- reading ---------------------------------------------------------------------------
    def read(self, chunks: Iterator[str]) -> None:
        for text in chunks:
            if not self.fast or '"' in text:
                # A quoted field may hold line breaks and span two chunks: one csv
                # reader reads the rest of the file.
                rest = (line for more in chunks for line in io.StringIO(more, newline=""))
                self._careful(itertools.chain(io.StringIO(text, newline=""), rest))
                return
            if self.width is None:
                text = self._start(text)
                if self.width is None:
                    continue
            block = self._numpy(text) if self.fast else None
            if block is None:
                self._careful(io.StringIO(text, newline=""))
            else:
                self.chars += len(text)
                self._append(block)
                self.line += _lines(text)

    def _reader(self, lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
        """(line number, fields) of each non-blank record; advances ``self.line``."""
        base = self.line

        def counted(lines: Iterator[str]) -> Iterator[str]:
            for line in lines:
                self.chars += len(line)
                yield line

        reader = csv.reader(counted(lines), delimiter=self.delimiter, strict=True)
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                self.line = base + reader.line_num
                yield base + reader.line_num, row
            self.line = base + reader.line_num
        except csv.Error as e:
            raise ValueError(f"{self.where}: malformed CSV (row {base + reader.line_num}: "
                             f"{e})") from None

    def _first(self, line: int, row: list[str]) -> bool:
        """Take the first record as the header (True) or learn the width from it."""
        if self.header:
            names = [name.strip() for name in row]
            for j, name in enumerate(names):
                if not name:
                    raise ValueError(f"{self.where}: row {line}, column {j + 1}: empty "
                                     "column name")
            dup = sorted({name for name in names if names.count(name) > 1})
            if dup:
                raise ValueError(f"{self.where}: row {line}: duplicate column names {dup}")
            if self.columns is not None and names != list(self.columns):
                raise ValueError(f"{self.where}: row {line}: expected columns "
                                 f"{list(self.columns)}, found {names}")
            self.names = names
        elif self.columns is not None:
            self.names = [str(c) for c in self.columns]
        else:
            self.names = [str(j + 1) for j in range(len(row))]
        self.width = len(self.names)
        self._find_target()
        return self.header

    def _start(self, text: str) -> str:
        """Find the first record in ``text``; return the text still to be read as data."""
        lines = iter(io.StringIO(text, newline=""))
        start, chars = self.line, self.chars
        for line, row in self._reader(lines):
            if self._first(line, row):
                self.chars = chars
                return "".join(lines)  # the rest, after the header
            self.line, self.chars = start, chars  # a data row: read it again
            return text
        return ""

    def _careful(self, lines: Iterator[str]) -> None:
        """Field by field with exact errors: for chunks numpy's path does not take."""
        pending: list[tuple[int, list[str]]] = []
        for line, row in self._reader(lines):
            if self.width is None and self._first(line, row):
                continue
            pending.append((line, row))
            if len(pending) == _BLOCK:
                self._convert(pending)
                pending = []
        if pending:
            self._convert(pending)

    def _label(self, j: int) -> str:
        return repr(self.names[j]) if self.header or self.columns is not None else str(j + 1)

    def _convert(self, rows: list[tuple[int, list[str]]]) -> None:
        where, width = self.where, self.width
        block = np.empty((len(rows), width), dtype=np.float64)
        for i, (line, fields) in enumerate(rows):
            if len(fields) < width:
                raise ValueError(f"{where}: row {line}, column {self._label(len(fields))}: "
                                 f"missing (the row has {len(fields)} fields, expected "
                                 f"{width})")
            if len(fields) > width:
                extra = fields[width].strip(" \t")
                raise ValueError(f"{where}: row {line}, column {width + 1}: unexpected extra "
                                 f"field {extra!r} (expected {width} fields)")
            for j, token in enumerate(fields):
                block[i, j] = _parse(token, self.allow_nonfinite, lambda j=j, line=line:
                                     f"{where}: row {line}, column {self._label(j)}")
        self._append(block)

    def _numpy(self, text: str) -> np.ndarray | None:
        """The rows of a chunk of plain numbers, parsed by numpy; None sends the chunk to
        the careful path (which then finds any error, or the blank lines, exactly)."""
        if not text:
            return np.empty((0, self.width))
        if not text.isascii() or any(c in text for c in _NOT_FAST):
            return None
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if "\r" in text:
                return None  # a line ending in a lone \r
        rows = _lines(text)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # numpy parses each field with Python's own string-to-double, so the
                # numbers are those float() gives, bit for bit.
                block = np.loadtxt(io.StringIO(text),
                                   delimiter=self.delimiter, comments=None,
                                   dtype=np.float64, ndmin=2)
        except ValueError:
            return None
        if block.shape != (rows, self.width):
            return None  # blank lines, or rows of another width
        if not self.allow_nonfinite and not np.isfinite(block).all():
            return None
        return block

    # -- the arrays ----------------------------------------------------------------------------
    def _find_target(self) -> None:
        where, names, width, target = self.where, self.names, self.width, self.target
        if target is None:
            t = None
        elif isinstance(target, str):
            if target not in names:
                raise ValueError(f"{where}: target column {target!r} not found; columns are "
                                 f"{names}")
            t = names.index(target)
        else:
            if not -width <= target < width:
                raise ValueError(f"{where}: target index {target} is out of range for "
                                 f"{width} columns")
            t = int(target) % width
        self.t, self.keep = t, [j for j in range(width) if j != t]

    def _append(self, block: np.ndarray) -> None:
        k = len(block)
        if not k:
            return
        if self.n + k > len(self.X):
            # First the rows so far per character read times the file's size (a row takes
            # two bytes at least); then steps of 1.5x.
            if self.n == 0 and self.size and self.chars:
                guess = min(int(k * self.size / self.chars * 1.02), self.size // 2) + 64
            else:
                guess = int(1.5 * len(self.X))
            cap = max(self.n + k, guess)
            X = np.empty((cap, len(self.keep)), dtype=np.float64)  # noqa: N806
            y = None if self.t is None else np.empty(cap, dtype=np.float64)
            if self.n:
                X[:self.n] = self.X[:self.n]
                if y is not None:
                    y[:self.n] = self.y[:self.n]
            self.X, self.y = X, y
        n = self.n
        self.X[n:n + k] = block if self.t is None else block[:, self.keep]
        if self.t is not None:
            self.y[n:n + k] = block[:, self.t]
        self.n = n + k

    def result(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(X, y)``, or an error if there were no rows."""
        if self.width is None:
            raise ValueError(f"{self.where}: the file is empty")
        if self.n == 0:
            raise ValueError(f"{self.where}: no data rows after the header" if self.header
                             else f"{self.where}: the file is empty")
        X, y = self.X, self.y  # noqa: N806
        self.X, self.y = np.empty((0, 0)), None
        if len(X) > self.n:  # give back what the guess took too much, in place
            X.resize((self.n, X.shape[1]), refcheck=False)
            if y is not None:
                y.resize(self.n, refcheck=False)
        return X, y


def _parse(token: str, allow_nonfinite: bool, where: Any) -> float:
    s = token.strip(" \t")
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
    odd = next((c for c in s if not c.isascii()), None)
    if odd is not None:
        digit = unicodedata.digit(odd, None) is not None
        raise ValueError(f"{where()}: {s!r} is not a number: it contains {odd!r} (U+{ord(odd):04X} "
                         f"{unicodedata.name(odd, 'unnamed character')})"
                         + ("; only the ASCII digits 0-9 are read as digits" if digit else ""))
    raise ValueError(f"{where()}: {s!r} is not a number")
