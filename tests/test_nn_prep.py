"""Data preparation and experiment design helpers: Imputer, OneHotEncoder, k_fold, jitter."""

import math
import random

import numpy as np
import pytest
from chainrule.nn import Fold, Imputer, OneHotEncoder, Standardizer, jitter, k_fold

NAN = math.nan


# -- Imputer --------------------------------------------------------------------------------------

def test_imputer_mean_median_constant():
    train = [[1.0, NAN, 5.0], [2.0, 10.0, NAN], [9.0, 20.0, 7.0], [NAN, 90.0, 6.0]]
    mean = Imputer("mean").fit(train)
    assert mean.statistics.tolist() == [4.0, 40.0, 6.0]
    assert mean.missing.tolist() == [1, 1, 1]
    median = Imputer("median").fit(train)
    assert median.statistics.tolist() == [2.0, 20.0, 6.0]   # the 90 outlier does not pull it
    const = Imputer("constant", fill_value=-1).fit(train)
    assert const.statistics.tolist() == [-1.0, -1.0, -1.0]
    out = median.transform(train)
    assert out.tolist() == [[1.0, 20.0, 5.0], [2.0, 10.0, 6.0], [9.0, 20.0, 7.0],
                            [2.0, 90.0, 6.0]]


def test_imputer_fits_on_train_only_and_leaves_inputs_alone():
    train = np.array([[1.0], [3.0], [NAN]])
    test = np.array([[NAN], [100.0]])
    imp = Imputer().fit(train)
    assert imp.transform(test).tolist() == [[2.0], [100.0]]  # the train mean, not test's
    assert np.isnan(test[0, 0]) and np.isnan(train[2, 0])    # copies, not in place
    assert imp.transform([NAN, 5.0]).tolist() == [2.0, 5.0]  # 1-D in, 1-D out
    assert Imputer().fit_transform([[None, 1.0], [4.0, None]]).tolist() == [[4.0, 1.0],
                                                                              [4.0, 1.0]]


def test_imputer_reprs():
    assert repr(Imputer()) == "Imputer('mean', not fitted)"
    assert repr(Imputer("constant", fill_value=0).fit([[1.0]])) == (
        "Imputer('constant', fill_value=0.0, statistics=[0.0])")
    assert repr(Imputer("median").fit([[1.0], [3.0]])) == "Imputer('median', statistics=[2.0])"


@pytest.mark.parametrize("args, kwargs, message", [
    (("average",), {}, r"strategy must be one of mean, median, constant, got 'average'"),
    ((3,), {}, r"strategy must be one of .* got 3"),
    (("constant",), {}, r"needs a finite number as fill_value, got None"),
    (("constant",), {"fill_value": NAN}, r"fill_value, got nan"),
    (("constant",), {"fill_value": True}, r"fill_value, got True"),
    (("constant",), {"fill_value": "0"}, r"fill_value, got '0'"),
    (("mean",), {"fill_value": 0.0}, r"fill_value is only used with strategy='constant'"),
])
def test_imputer_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Imputer(*args, **kwargs)


def test_imputer_bad_data():
    with pytest.raises(RuntimeError, match=r"not fitted yet; call fit\(X_train\)"):
        Imputer().transform([[1.0]])
    with pytest.raises(ValueError, match=r"column 1 of X has no observed values to take the "
                                         r"mean of; drop it or use strategy='constant'"):
        Imputer().fit([[1.0, NAN], [2.0, None]])
    assert Imputer("constant", fill_value=0).fit([[NAN]]).statistics.tolist() == [0.0]
    with pytest.raises(ValueError, match=r"X\[1, 0\] is inf; a missing value is nan or None"):
        Imputer().fit([[1.0], [math.inf]])
    with pytest.raises(TypeError, match=r"X must be a numeric array .* got list"):
        Imputer().fit([["a"], [1.0]])
    with pytest.raises(ValueError, match=r"X is empty"):
        Imputer().fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"must be 2-D .* shape \(1, 1, 1\)"):
        Imputer().fit([[[1.0]]])
    imp = Imputer().fit([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"fitted on 2 columns, got 3"):
        imp.transform([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"X\[0, 1\] is -inf"):
        imp.transform([[1.0, -math.inf]])


def test_imputer_then_standardizer_round_trip():
    rng = np.random.default_rng(0)
    data = rng.normal(50.0, 10.0, size=(40, 3))
    data[rng.random(data.shape) < 0.2] = NAN
    filled = Imputer("median").fit_transform(data)
    s = Standardizer().fit(filled)
    assert np.allclose(s.inverse_transform(s.transform(filled)), filled, rtol=0, atol=1e-12)
    observed = ~np.isnan(data)
    assert (filled[observed] == data[observed]).all()


# -- OneHotEncoder --------------------------------------------------------------------------------

def test_one_hot_learns_sorted_categories_and_encodes():
    cities = ["Lleida", "Girona", "Tarragona", "Girona", "Barcelona"]
    enc = OneHotEncoder().fit(cities)
    assert enc.categories == ["Barcelona", "Girona", "Lleida", "Tarragona"]
    out = enc.fit_transform(cities)
    assert out.shape == (5, 4) and out.dtype == np.float64
    assert out.sum(axis=1).tolist() == [1.0] * 5
    assert out[0].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert enc.inverse_transform(out) == cities                  # round trip
    assert enc.feature_names("city")[0] == "city=Barcelona"
    assert enc.feature_names() == ["Barcelona", "Girona", "Lleida", "Tarragona"]
    assert repr(enc) == "OneHotEncoder(categories=['Barcelona', 'Girona', 'Lleida', 'Tarragona'])"


def test_one_hot_accepts_arrays_ints_and_mixed_types():
    assert OneHotEncoder().fit(np.array(["b", "a"])).categories == ["a", "b"]
    assert OneHotEncoder().fit(np.array([["b"], ["a"]])).categories == ["a", "b"]
    enc = OneHotEncoder().fit(np.array([3, 1, 3]))
    assert enc.categories == [1, 3] and enc.transform([3]).tolist() == [[0.0, 1.0]]
    assert OneHotEncoder().fit([2, "a", 1]).categories == [1, 2, "a"]  # ints, then strs


def test_one_hot_fixed_categories_keep_their_order():
    enc = OneHotEncoder(categories=["small", "medium", "large"]).fit(["large", "small"])
    assert enc.categories == ["small", "medium", "large"]
    assert enc.transform(["medium"]).tolist() == [[0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match=r"values\[1\] is 'huge', not one of the categories"):
        OneHotEncoder(categories=["small", "large"]).fit(["small", "huge"])
    with pytest.raises(ValueError, match=r"categories lists 'a' more than once"):
        OneHotEncoder(categories=["a", "b", "a"])


def test_a_failed_fit_changes_nothing():
    enc = OneHotEncoder(categories=["x", "y"]).fit(["x"])
    with pytest.raises(ValueError, match=r"'z', not one of the categories"):
        enc.fit(["x", "z"])
    assert enc.categories == ["x", "y"] and enc.transform(["y"]).tolist() == [[0.0, 1.0]]
    fresh = OneHotEncoder(categories=["x"])
    with pytest.raises(ValueError):
        fresh.fit(["z"])
    with pytest.raises(RuntimeError, match=r"not fitted yet"):
        fresh.transform(["x"])
    imp = Imputer().fit([[1.0], [3.0]])
    with pytest.raises(ValueError):
        imp.fit([[NAN], [NAN]])
    assert imp.statistics.tolist() == [2.0]


def test_one_hot_unknown_values_error_or_zeros():
    enc = OneHotEncoder().fit(["a", "b"])
    with pytest.raises(ValueError, match=r"values\[1\] is 'z', not one of the categories "
                                         r"\['a', 'b'\]; pass handle_unknown='ignore'"):
        enc.transform(["a", "z"])
    lenient = OneHotEncoder(handle_unknown="ignore").fit(["a", "b"])
    out = lenient.transform(["a", "z"])
    assert out.tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert lenient.inverse_transform(out) == ["a", None]
    assert repr(lenient).endswith("handle_unknown='ignore')")


@pytest.mark.parametrize("values, error, message", [
    ("abc", TypeError, r"values must be a sequence of categories .* got str"),
    (5, TypeError, r"got int"),
    ([], ValueError, r"values is empty"),
    (["a", None], ValueError, r"values\[1\] is missing \(None\); give missing values a "
                              r"category of their own"),
    ([1.0, NAN], ValueError, r"values\[1\] is missing \(nan\)"),
    ([["a", "b"]], TypeError, r"values\[0\] is a list, not a category"),
    ([{"a"}], TypeError, r"values\[0\] is a set"),
    (np.array([["a", "b"], ["c", "d"]]), ValueError, r"one column \(1-D\), got shape \(2, 2\)"),
])
def test_one_hot_bad_values(values, error, message):
    with pytest.raises(error, match=message):
        OneHotEncoder().fit(values)


def test_one_hot_bad_arguments_and_use_before_fit():
    with pytest.raises(ValueError, match=r"handle_unknown must be 'error' or 'ignore', "
                                         r"got 'skip'"):
        OneHotEncoder(handle_unknown="skip")
    enc = OneHotEncoder()
    for call in (lambda: enc.transform(["a"]), lambda: enc.inverse_transform([[1.0]]),
                 lambda: enc.feature_names()):
        with pytest.raises(RuntimeError, match=r"not fitted yet"):
            call()
    enc.fit(["a", "b"])
    with pytest.raises(ValueError, match=r"has 2 categories, got 3 columns"):
        enc.inverse_transform([[1.0, 0.0, 0.0]])
    with pytest.raises(TypeError, match=r"prefix must be a str, got int"):
        enc.feature_names(3)


# -- k_fold ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, k", [(10, 3), (7, 7), (100, 5), (11, 2)])
def test_k_fold_partitions_the_samples(n, k):
    folds = k_fold(n, k, seed=1)
    assert len(folds) == k and all(isinstance(f, Fold) for f in folds)
    vals = np.concatenate([f.val for f in folds])
    assert sorted(vals.tolist()) == list(range(n))              # each sample validated once
    sizes = [len(f.val) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for f in folds:
        assert f.train.dtype == np.int64 and f.val.dtype == np.int64
        assert sorted(np.concatenate([f.train, f.val]).tolist()) == list(range(n))
        assert not set(f.train.tolist()) & set(f.val.tolist())
        assert (np.diff(f.val) > 0).all() and (np.diff(f.train) > 0).all()


def test_k_fold_is_seeded_and_never_uses_the_global_rng():
    random.seed(1)
    np.random.seed(1)
    state = np.random.get_state()[1].copy()
    a, b, c = k_fold(30, 3, seed=4), k_fold(30, 3, seed=4), k_fold(30, 3, seed=5)
    assert all((x.val == y.val).all() for x, y in zip(a, b))
    assert not all((x.val == y.val).all() for x, y in zip(a, c))
    assert (np.random.get_state()[1] == state).all()
    assert [f.val.tolist() for f in k_fold(5, 2, shuffle=False)] == [[0, 1, 2], [3, 4]]


def test_stratified_folds_keep_the_class_proportions():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    folds = k_fold(100, 5, seed=0, stratify=y)
    for f in folds:
        assert np.bincount(y[f.val], minlength=3).tolist() == [12, 6, 2]
    plain = k_fold(100, 5, seed=0)
    assert any(np.bincount(y[f.val], minlength=3).tolist() != [12, 6, 2] for f in plain)
    uneven = np.array(["a"] * 7 + ["b"] * 4)
    folds = k_fold(11, 3, seed=0, stratify=uneven)
    assert sorted(np.concatenate([f.val for f in folds]).tolist()) == list(range(11))
    assert max(len(f.val) for f in folds) - min(len(f.val) for f in folds) <= 1
    for f in folds:
        assert (uneven[f.val] == "b").sum() in (1, 2)


def test_k_fold_bad_arguments():
    with pytest.raises(ValueError, match=r"k=5 folds need at least 5 samples, got n=4"):
        k_fold(4, 5)
    with pytest.raises(ValueError, match=r"k must be at least 2, got 1"):
        k_fold(10, 1)
    with pytest.raises(ValueError, match=r"n must be at least 2, got 1"):
        k_fold(1, 2)
    with pytest.raises(TypeError, match=r"n must be an int, got float 10.0"):
        k_fold(10.0, 2)
    with pytest.raises(TypeError, match=r"k must be an int, got bool"):
        k_fold(10, True)
    with pytest.raises(TypeError, match=r"seed must be an int, None or a numpy Generator"):
        k_fold(10, 2, seed="0")
    with pytest.raises(TypeError, match=r"shuffle must be a bool, got int"):
        k_fold(10, 2, shuffle=1)
    with pytest.raises(ValueError, match=r"stratify must hold one label per sample \(10\), "
                                         r"got shape \(9,\)"):
        k_fold(10, 2, stratify=[0] * 9)
    with pytest.raises(ValueError, match=r"stratify\[2\] is nan"):
        k_fold(4, 2, stratify=[0.0, 1.0, NAN, 1.0])
    with pytest.warns(UserWarning, match=r"class 1 has only 2 samples, fewer than k=3"):
        k_fold(10, 3, stratify=[0] * 8 + [1] * 2)


# -- jitter ---------------------------------------------------------------------------------------

def test_jitter_adds_noisy_copies_with_the_same_labels():
    xs = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]])
    y = np.array([0, 1, 1])
    xa, ya = jitter(xs, y, copies=200, sigma=0.1, seed=0)
    assert xa.shape == (603, 2) and ya.shape == (603,) and ya.dtype == y.dtype
    assert (xa[:3] == xs).all() and ya.tolist() == y.tolist() * 201
    noise = xa[3:] - np.tile(xs, (200, 1))
    assert noise.std() == pytest.approx(0.1, rel=0.05)
    assert abs(noise.mean()) < 0.01
    again, _ = jitter(xs, y, copies=200, sigma=0.1, seed=0)
    assert (again == xa).all()
    only, _ = jitter(xs, y, copies=1, sigma=0.1, seed=0, keep_original=False)
    assert only.shape == (3, 2) and not (only == xs).any()


def test_jitter_per_column_sigma_and_zero():
    xs = np.zeros((50, 2))
    xa, _ = jitter(xs, np.zeros(50), copies=4, sigma=[0.0, 1.0], seed=0)
    assert (xa[:, 0] == 0.0).all() and xa[50:, 1].std() > 0.5
    xa, ya = jitter(xs, np.zeros(50), copies=0)
    assert (xa == xs).all() and len(ya) == 50


def test_jitter_bad_arguments():
    xs, y = [[0.0, 0.0], [1.0, 1.0]], [0, 1]
    with pytest.raises(ValueError, match=r"X and y differ in length \(2 vs 3 samples\)"):
        jitter(xs, [0, 1, 1])
    with pytest.raises(ValueError, match=r"copies must be at least 0, got -1"):
        jitter(xs, y, copies=-1)
    with pytest.raises(TypeError, match=r"copies must be an int, got float"):
        jitter(xs, y, copies=2.5)
    for bad in (-0.1, NAN, math.inf):
        with pytest.raises(ValueError, match=r"sigma must be finite and >= 0"):
            jitter(xs, y, sigma=bad)
    with pytest.raises(ValueError, match=r"one number per column \(2\), got \[0.1\]"):
        jitter(xs, y, sigma=[0.1])
    with pytest.raises(TypeError, match=r"sigma must be a number or one number per column, "
                                        r"got str"):
        jitter(xs, y, sigma="big")
    with pytest.raises(ValueError, match=r"one number per column"):
        jitter(xs, y, sigma=True)
    with pytest.raises(ValueError, match=r"leaves no data"):
        jitter(xs, y, copies=0, keep_original=False)
    with pytest.raises(ValueError, match=r"X\[1, 0\] is nan"):
        jitter([[0.0, 0.0], [NAN, 1.0]], y)
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        jitter([0.0, 1.0], y)
    with pytest.raises(TypeError, match=r"keep_original must be a bool"):
        jitter(xs, y, keep_original=None)
