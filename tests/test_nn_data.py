"""Data sets, standardisation, splits, mini-batches and the CSV loader."""

import math
import random
import warnings

import numpy as np
import pytest
from chainrule.nn import (
    Batches,
    Standardizer,
    load_csv,
    make_circles,
    make_gaussians,
    make_moons,
    make_regression,
    make_spiral,
    make_xor,
    train_val_test_split,
)

CLASSIFIERS = [make_moons, make_circles, make_xor, make_spiral, make_gaussians]


# -- generators -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make", CLASSIFIERS)
def test_classification_sets_have_the_contract_shapes(make):
    xs, y = make(101, seed=0)
    assert xs.shape == (101, 2) and xs.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert set(y.tolist()) == {0, 1}
    assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1
    assert np.isfinite(xs).all()


@pytest.mark.parametrize("make", [*CLASSIFIERS, make_regression])
def test_seeded_and_never_the_global_rng(make):
    random.seed(1)
    np.random.seed(1)
    py_state, np_state = random.getstate(), np.random.get_state()[1].copy()
    a, b, c = make(50, seed=3), make(50, seed=3), make(50, seed=4)
    assert random.getstate() == py_state
    assert (np.random.get_state()[1] == np_state).all()
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    assert not (a[0] == c[0]).all()
    gen = np.random.default_rng(9)
    d = make(50, seed=gen)
    assert d[0].shape[0] == 50


def test_make_moons_without_noise_lies_on_two_half_circles():
    xs, y = make_moons(100, noise=0.0, seed=0)
    top, bottom = xs[y == 0], xs[y == 1]
    assert np.allclose(np.hypot(top[:, 0], top[:, 1]), 1.0)
    assert np.allclose(np.hypot(bottom[:, 0] - 1.0, bottom[:, 1] - 0.5), 1.0)
    assert (top[:, 1] >= -1e-12).all() and (bottom[:, 1] <= 0.5 + 1e-12).all()


def test_make_circles_puts_a_disk_inside_a_ring():
    xs, y = make_circles(200, noise=0.0, seed=0)
    r = np.hypot(xs[:, 0], xs[:, 1])
    assert r[y == 1].max() <= 0.5 and r[y == 0].min() >= 0.7 and r.max() <= 1.0


def test_make_xor_labels_the_quadrants():
    xs, y = make_xor(200, noise=0.0, seed=0)
    assert ((xs[:, 0] * xs[:, 1] > 0) == (y == 1)).all()
    assert np.abs(xs).min() >= 0.05 and np.abs(xs).max() <= 1.05


def test_make_spiral_arms_and_classes():
    xs, y = make_spiral(90, noise=0.0, seed=0, classes=3)
    assert set(y.tolist()) == {0, 1, 2} and np.bincount(y).tolist() == [30, 30, 30]
    assert np.hypot(xs[:, 0], xs[:, 1]).max() < 1.0


def test_make_gaussians_centres():
    xs, y = make_gaussians(2000, noise=0.1, seed=0)
    assert xs[y == 0].mean(axis=0) == pytest.approx([0.5, 0.5], abs=0.02)
    assert xs[y == 1].mean(axis=0) == pytest.approx([-0.5, -0.5], abs=0.02)
    assert xs[y == 0].std(axis=0) == pytest.approx([0.1, 0.1], rel=0.1)


def test_make_regression_kinds():
    xs, y = make_regression(50, noise=0.0, seed=0)
    assert y.dtype == np.float64 and y == pytest.approx((xs[:, 0] + xs[:, 1]) / 2)
    xs, y = make_regression(50, noise=0.0, seed=0, kind="gauss")
    assert np.abs(y).max() <= 1.0
    _, noisy = make_regression(2000, noise=0.1, seed=0)
    x2, _ = make_regression(2000, noise=0.0, seed=0)
    assert (noisy - (x2[:, 0] + x2[:, 1]) / 2).std() == pytest.approx(0.1, rel=0.1)


def test_generator_bad_arguments():
    with pytest.raises(ValueError, match=r"n must be at least 1, got 0"):
        make_moons(0)
    with pytest.raises(TypeError, match=r"n must be an int, got float 2.5"):
        make_circles(2.5)
    with pytest.raises(ValueError, match=r"noise must be finite and >= 0, got -0.1"):
        make_xor(10, noise=-0.1)
    with pytest.raises(ValueError, match=r"noise must be finite and >= 0, got nan"):
        make_moons(10, noise=math.nan)
    with pytest.raises(TypeError, match=r"seed must be an int, None or a numpy Generator"):
        make_moons(10, seed=1.5)
    with pytest.raises(ValueError, match=r"classes must be at least 2"):
        make_spiral(10, classes=1)
    with pytest.raises(ValueError, match=r"kind must be 'plane' or 'gauss'"):
        make_regression(10, kind="sine")


# -- standardisation ------------------------------------------------------------------------------

def test_standardizer_remembers_training_statistics():
    train = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    s = Standardizer().fit(train)
    assert s.mean.tolist() == [3.0, 20.0]
    z = s.transform(train)
    assert z.mean(axis=0) == pytest.approx([0.0, 0.0], abs=1e-15)
    assert z.std(axis=0) == pytest.approx([1.0, 1.0])
    # new data is scaled with the *training* statistics
    assert s.transform([[3.0, 20.0 + s.std[1]]]) == pytest.approx(np.array([[0.0, 1.0]]), rel=1e-15)
    assert s.inverse_transform(z) == pytest.approx(train)
    assert s.fit_transform(train) == pytest.approx(z)


def test_standardizer_constant_columns_and_one_d_input():
    s = Standardizer().fit([[1.0, 5.0], [3.0, 5.0]])
    assert s.std.tolist() == [1.0, 0.0] and s.scale.tolist() == [1.0, 1.0]
    assert s.transform([[3.0, 6.0]]).tolist() == [[1.0, 1.0]]
    y = np.array([2.0, 4.0, 6.0])
    t = Standardizer().fit(y)
    assert t.transform(y).shape == (3,)
    assert t.inverse_transform(t.transform(y)) == pytest.approx(y)


def test_standardizer_of_huge_finite_data_is_not_inf():
    """Squares of 1e300 overflow: std used to be inf (with a numpy overflow warning) and
    every standardised value 0. Only the columns that overflow take the careful path."""
    base = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    huge = base * np.array([1e300, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = Standardizer().fit(huge)
        z = s.transform(huge)
    assert s.mean.tolist() == pytest.approx([3e300, 20.0], rel=1e-15)
    assert s.std[1] == Standardizer().fit(base).std[1]  # untouched column, bit for bit
    assert np.isfinite(s.std).all() and s.std[0] == pytest.approx(base[:, 0].std() * 1e300)
    assert z == pytest.approx(Standardizer().fit_transform(base), rel=1e-12, abs=1e-15)


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        Standardizer().transform([[1.0]])
    s = Standardizer().fit([[1.0, 2.0]])
    with pytest.raises(ValueError, match="fitted on 2 columns, got 3"):
        s.transform([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"X\[1, 0\] is nan; data must be finite"):
        Standardizer().fit([[1.0], [math.nan]])
    with pytest.raises(ValueError, match="empty"):
        Standardizer().fit(np.zeros((0, 2)))
    with pytest.raises(TypeError, match="numeric array"):
        Standardizer().fit([["a", "b"]])
    assert repr(s) == "Standardizer(mean=[1.0, 2.0], std=[0.0, 0.0])"


# -- splits and batches ---------------------------------------------------------------------------

def test_train_val_test_split_sizes_and_disjoint_cover():
    xs = np.arange(200, dtype=float).reshape(100, 2)
    y = np.arange(100)
    (x_tr, ytr), (_x_va, yva), (_x_te, yte) = train_val_test_split(xs, y, val=0.2, test=0.1, seed=0)
    assert (len(ytr), len(yva), len(yte)) == (70, 20, 10)
    assert sorted([*ytr, *yva, *yte]) == list(range(100))
    assert (x_tr[:, 0] == 2 * ytr).all()  # rows stay paired with their labels
    again = train_val_test_split(xs, y, val=0.2, test=0.1, seed=0)
    assert (again.val[1] == yva).all()
    ordered = train_val_test_split(xs, y, val=0.2, test=0.1, shuffle=False)
    assert ordered.train[1].tolist() == list(range(70))
    assert len(train_val_test_split(xs, y, val=0.0, test=0.0).train[1]) == 100


def test_split_errors():
    xs, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(ValueError, match=r"val must be a fraction in \[0, 1\), got 1.0"):
        train_val_test_split(xs, y, val=1.0)
    with pytest.raises(ValueError, match=r"test must be a fraction in \[0, 1\), got -0.1"):
        train_val_test_split(xs, y, test=-0.1)
    with pytest.raises(ValueError, match="leave no training data out of 10 samples"):
        train_val_test_split(xs, y, val=0.5, test=0.5)
    with pytest.raises(ValueError, match=r"differ in length \(10 vs 9 samples\)"):
        train_val_test_split(xs, y[:9])
    with pytest.raises(ValueError, match="empty"):
        train_val_test_split(np.zeros((0, 2)), np.zeros(0))


def test_batches_cover_every_sample_once_per_epoch_with_a_new_order():
    xs = np.arange(10, dtype=float)[:, None]
    y = np.arange(10)
    b = Batches(xs, y, batch_size=4, seed=0)
    assert len(b) == 3
    epochs = [[yb.tolist() for _, yb in b] for _ in range(2)]
    for epoch in epochs:
        assert [len(part) for part in epoch] == [4, 4, 2]
        assert sorted(i for part in epoch for i in part) == list(range(10))
    assert epochs[0] != epochs[1]
    assert [yb.tolist() for _, yb in Batches(xs, y, 4, seed=0)] == epochs[0]
    for xb, yb in Batches(xs, y, 3, seed=1):
        assert (xb[:, 0] == yb).all()
    assert next(iter(Batches(xs, y, 4, shuffle=False)))[1].tolist() == [0, 1, 2, 3]


def test_batch_size_larger_than_the_data_gives_one_batch():
    xs, y = make_moons(10)
    assert [len(xb) for xb, _ in Batches(xs, y, batch_size=1000)] == [10]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4", None])
def test_bad_batch_sizes(bad):
    xs, y = make_moons(10)
    with pytest.raises(ValueError, match=r"batch_size must be a positive int"):
        Batches(xs, y, batch_size=bad)


def test_batches_of_an_empty_data_set():
    with pytest.raises(ValueError, match="the data set is empty"):
        Batches(np.zeros((0, 2)), np.zeros(0), 4)


# -- CSV ------------------------------------------------------------------------------------------

def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


GOOD = "x1,x2,y\n0.5,1,0\n2,-1e-3,1\n\n.25, 3E2 ,1\n"


def test_load_csv_reads_numbers_and_splits_the_target(tmp_path):
    xs, y = load_csv(write(tmp_path, GOOD))
    assert xs.tolist() == [[0.5, 1.0], [2.0, -0.001], [0.25, 300.0]]
    assert y.tolist() == [0.0, 1.0, 1.0]
    assert xs.dtype == y.dtype == np.float64
    xs, y = load_csv(write(tmp_path, GOOD), target="x1")
    assert y.tolist() == [0.5, 2.0, 0.25] and xs.shape == (3, 2)
    xs, y = load_csv(write(tmp_path, GOOD), target=None)
    assert y is None and xs.shape == (3, 3)
    xs, y = load_csv(write(tmp_path, GOOD), target=0, columns=["x1", "x2", "y"])
    assert y.tolist() == [0.5, 2.0, 0.25]


def test_load_csv_without_header_quotes_bom_and_delimiter(tmp_path):
    xs, y = load_csv(write(tmp_path, '1;"2"\n3;4\n'), header=False, delimiter=";")
    assert xs.tolist() == [[1.0], [3.0]] and y.tolist() == [2.0, 4.0]
    xs, y = load_csv(write(tmp_path, "\ufeffa,b\n1,2\n"))
    assert xs.tolist() == [[1.0]] and y.tolist() == [2.0]


def test_row_17_column_x2_not_a_number(tmp_path):
    rows = ["x1,x2,y"] + ["1.0,2.0,0"] * 15 + ["1.0,abc,1"]
    path = write(tmp_path, "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"data.csv: row 17, column 'x2': 'abc' is not a number"):
        load_csv(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x1,x2,y\n1,2,3\n1,2\n",
         r"row 3, column 'y': missing \(the row has 2 fields, expected 3\)"),
        ("x1,x2,y\n1,2,3,4\n",
         r"row 2, column 4: unexpected extra field '4' \(expected 3 fields\)"),
        ("x1,x2,y\n1,,3\n", r"row 2, column 'x2': missing value \(empty field\)"),
        ("x1,x2,y\n1, ,3\n", r"row 2, column 'x2': missing value"),
        ("x1,x2,y\n1,2,1_0\n", r"row 2, column 'y': '1_0' is not a number"),
        ("x1,x2,y\n1,2,0x10\n", r"row 2, column 'y': '0x10' is not a number"),
        ("x1,x1,y\n1,2,3\n", r"row 1: duplicate column names \['x1'\]"),
        ("x1,,y\n1,2,3\n", r"row 1, column 2: empty column name"),
        ("", r"the file is empty"),
        ("\n\n", r"the file is empty"),
        ("x1,x2,y\n", r"no data rows after the header"),
        ('x1,x2,y\n1,"2,3\n', r"malformed CSV"),
    ],
)
def test_bad_csv_rows_name_the_row_and_column(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_csv(write(tmp_path, text))


def test_wrong_header(tmp_path):
    path = write(tmp_path, "x1,x3,y\n1,2,3\n")
    with pytest.raises(ValueError, match=(r"row 1: expected columns \['x1', 'x2', 'y'\], "
                                          r"found \['x1', 'x3', 'y'\]")):
        load_csv(path, columns=["x1", "x2", "y"])
    with pytest.raises(ValueError, match=r"target column 'label' not found"):
        load_csv(path, target="label")
    with pytest.raises(ValueError, match=r"target index 3 is out of range for 3 columns"):
        load_csv(path, target=3)
    with pytest.raises(TypeError, match=r"target must be a column name, an index or None"):
        load_csv(path, target=1.0)


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-inf", "Infinity", "+INF", "1e999",
                                   "-1e400"])
def test_non_finite_values_are_refused_unless_allowed(tmp_path, token):
    path = write(tmp_path, f"a,b\n1,{token}\n")
    with pytest.raises(ValueError, match=r"row 2, column 'b': .*allow_nonfinite=True"):
        load_csv(path)
    _, y = load_csv(path, allow_nonfinite=True)
    assert not math.isfinite(y[0])


def test_bad_utf8_and_missing_file(tmp_path):
    path = write(tmp_path, b"a,b\n1,\xff\n")
    with pytest.raises(ValueError, match=r"data.csv: not UTF-8 text \(byte 0xff at offset 6\)"):
        load_csv(path)
    with pytest.raises(OSError, match=r"nope.csv: cannot read"):
        load_csv(tmp_path / "nope.csv")
