"""fit(): defaults, task inference, accuracy on the Playground sets, early stopping,
nan safety, schedules and penalties; evaluate() and predict()."""

import math
import warnings

import numpy as np
import pytest
from chainrule.engine import Value
from chainrule.nn import (
    MLP,
    SGD,
    Adam,
    Dropout,
    Layer,
    Sequential,
    Standardizer,
    StepLR,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    evaluate,
    fit,
    hinge_loss,
    make_circles,
    make_gaussians,
    make_moons,
    make_regression,
    make_spiral,
    make_xor,
    mse_loss,
    predict,
    train_val_test_split,
)
from chainrule.nn.training import TapeLossAndGrad, loss_and_grad_for, scalar_loss_and_grad


def test_fit_with_only_epochs_works_for_a_classifier():
    xs, y = make_moons(40, seed=0)
    model = MLP(2, [8, 1], seed=0)
    history = fit(model, xs, y, epochs=3)
    assert history.epochs == 3
    assert len(history.loss) == len(history.accuracy) == len(history.lr) == 3
    assert history.val_loss == [] and history.best_epoch is None
    assert history.task == "binary"
    assert history.loss_name == "binary_cross_entropy_with_logits"
    assert all(p.grad == 0.0 for p in model.parameters())  # fit leaves gradients zeroed
    assert set(history.to_dict()) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert repr(history).startswith("History(binary, binary_cross_entropy_with_logits: 3 epochs")


def test_progress_bar_can_be_turned_off(capsys):
    xs, y = make_moons(20, seed=0)
    fit(MLP(2, [4, 1], seed=0), xs, y, epochs=2, progress=True)
    assert "fit" in capsys.readouterr().err
    fit(MLP(2, [4, 1], seed=0), xs, y, epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_fit_is_reproducible():
    xs, y = make_moons(40, seed=0)
    a = fit(MLP(2, [8, 1], seed=1), xs, y, epochs=3, batch_size=8, progress=False)
    b = fit(MLP(2, [8, 1], seed=1), xs, y, epochs=3, batch_size=8, progress=False)
    assert a.loss == b.loss and a.accuracy == b.accuracy


# -- task inference --------------------------------------------------------------------------------

def test_default_losses_follow_the_task():
    xs, y = make_moons(20, seed=0)
    sig = MLP(2, [4, 1], output_activation="sigmoid", seed=0)
    assert fit(sig, xs, y, epochs=1, progress=False).loss_name == "binary_cross_entropy"
    pm = fit(MLP(2, [4, 1], seed=0), xs, 2 * y - 1, epochs=1, progress=False)
    assert pm.task == "binary"
    xs3, y3 = make_gaussians(30, seed=0, classes=3)
    multi = fit(MLP(2, [4, 3], seed=0), xs3, y3, epochs=1, progress=False)
    assert (multi.task, multi.loss_name) == ("multiclass", "cross_entropy")
    xr, yr = make_regression(20, seed=0)
    reg = fit(MLP(2, [4, 1], seed=0), xr, yr, epochs=1, progress=False)
    assert (reg.task, reg.loss_name, reg.accuracy) == ("regression", "mse_loss", [])
    two = fit(MLP(2, [4, 2], seed=0), xr, np.column_stack([yr, -yr]), epochs=1, progress=False)
    assert two.task == "regression"


def test_a_model_ending_in_a_sigmoid_is_trained_on_probabilities_whatever_its_type():
    """Logistic regression is one sigmoid Neuron; fit used to read only an MLP's
    output_activation, so a Neuron got a second sigmoid and an accuracy of exactly 0.5."""
    from chainrule.nn import Maxout, Neuron
    from chainrule.nn.training import output_activation

    xs, y = make_gaussians(100, noise=0.5, seed=3)
    models = [Neuron(2, activation="sigmoid", seed=0), Layer(2, 1, "sigmoid", seed=0),
              Sequential(Layer(2, 4, seed=0), Layer(4, 1, "sigmoid", seed=1), Dropout(0.0)),
              MLP(2, [1], output_activation="sigmoid", seed=0)]
    for model in models:
        assert output_activation(model) == "sigmoid"
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the default loss gives no warning
            h = fit(model, xs, y, optimizer=SGD(model.parameters(), lr=0.5), epochs=60,
                    batch_size=100, progress=False)
        assert h.loss_name == "binary_cross_entropy" and h.accuracy[-1] >= 0.9, model
    assert [output_activation(m) for m in (MLP(2, [3, 1]), Neuron(2, "tanh"),
                                           Maxout(2, 1), Sequential(Dropout(0.1)))] == [
        "linear", "tanh", "linear", None]


@pytest.mark.parametrize(("loss", "message"), [
    ("bce_with_logits", r"binary_cross_entropy_with_logits expects raw scores, but "
                        r"Neuron\(2, sigmoid\) ends in a sigmoid: .* second sigmoid .* use "
                        r"loss='bce'"),
    ("hinge", r"hinge_loss expects raw scores, .* counts every output \(all above 0\) as "
              r"class 1; use loss='bce'"),
])
def test_a_score_loss_on_a_sigmoid_output_warns(loss, message):
    from chainrule.nn import Neuron

    xs, y = make_moons(20, seed=0)
    with pytest.warns(UserWarning, match=message) as caught:
        fit(Neuron(2, activation="sigmoid", seed=0), xs, y, loss=loss, epochs=1,
            validation=0.2, progress=False)
    assert len(caught) == 1  # not once more for the validation labels


def test_loss_by_name_or_function_and_label_encodings():
    xs, y = make_moons(20, seed=0)
    assert fit(MLP(2, [4, 1], seed=0), xs, y, loss="hinge", epochs=1,
               progress=False).loss_name == "hinge_loss"
    seen = []

    def recording_loss(outputs, targets):
        seen.append(list(targets))
        return mse_loss(outputs, targets)

    fit(MLP(2, [4, 1], seed=0), xs, y, loss=recording_loss, epochs=1, batch_size=100,
        progress=False)
    assert sorted(set(seen[0])) == [0.0, 1.0]  # a custom loss sees the labels as given


def test_task_errors():
    xs, y = make_moons(20, seed=0)
    with pytest.raises(ValueError, match=r"cannot infer the task: the model has 1 outputs and "
                                         r"y holds 3 integer labels \[0, 1, 2\]; for 3 classes"):
        fit(MLP(2, [4, 1], seed=0), xs, np.arange(20) % 3, epochs=1, progress=False)
    counts = fit(MLP(2, [4, 1], seed=0), xs, np.arange(20) % 3, epochs=1, progress=False,
                 task="regression")
    assert counts.task == "regression"
    with pytest.raises(ValueError, match=r"cannot infer the task: the model has 2 outputs"):
        fit(MLP(2, [4, 2], seed=0), xs, np.arange(20) % 3, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"multi-class labels must be integers in \[0, 3\)"):
        fit(MLP(2, [4, 3], seed=0), xs, np.arange(20) % 5, epochs=1, progress=False,
            task="multiclass")
    with pytest.raises(ValueError, match="hinge_loss is a binary loss; the task is multiclass"):
        fit(MLP(2, [4, 3], seed=0), xs, np.arange(20) % 3, loss="hinge", epochs=1,
            progress=False)
    with pytest.raises(ValueError, match="unknown loss 'rmse'"):
        fit(MLP(2, [4, 1], seed=0), xs, y, loss="rmse", epochs=1, progress=False)
    with pytest.raises(ValueError, match="task must be one of"):
        fit(MLP(2, [4, 1], seed=0), xs, y, task="ranking", epochs=1, progress=False)
    with pytest.raises(ValueError, match="binary classification needs 1 output"):
        fit(MLP(2, [4, 2], seed=0), xs, y, task="binary", epochs=1, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        (dict(epochs=0), ValueError, "epochs must be a positive int, got 0"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int, got 0"),
        (dict(batch_size=2.5), ValueError, "batch_size must be a positive int, got 2.5"),
        (dict(patience=2), ValueError, "patience .* needs validation data"),
        (dict(l2=-1.0), ValueError, r"l2: strength must be finite and >= 0, got -1.0"),
        (dict(optimizer="adam"), TypeError, "optimizer must be an Optimizer, got str"),
        (dict(clip_norm=0), ValueError, "clip_norm must be a positive number"),
        (dict(validation=(np.zeros((3, 2)), np.zeros(2))), ValueError,
         r"X_val and y_val differ in length \(3 vs 2 samples\)"),
        (dict(validation="half"), TypeError, r"validation must be \(X_val, y_val\)"),
    ],
)
def test_bad_fit_arguments(kwargs, exc, message):
    xs, y = make_moons(20, seed=0)
    with pytest.raises(exc, match=message):
        fit(MLP(2, [4, 1], seed=0), xs, y, progress=False, **kwargs)


def test_bad_data():
    xs, y = make_moons(20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match="X has 3 features, the model expects 2 inputs"):
        fit(model, np.zeros((20, 3)), y, progress=False)
    with pytest.raises(ValueError, match=r"X and y differ in length \(20 vs 19 samples\)"):
        fit(model, xs, y[:19], progress=False)
    with pytest.raises(ValueError, match="X is empty"):
        fit(model, np.zeros((0, 2)), np.zeros(0), progress=False)
    bad = xs.copy()
    bad[3, 1] = math.nan
    with pytest.raises(ValueError, match=r"X\[3, 1\] is nan; inputs must be finite"):
        fit(model, bad, y, progress=False)
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        fit(model, xs[0], y, progress=False)
    with pytest.raises(TypeError, match="fit needs a Module, got function"):
        fit(lambda x: x, xs, y)
    with pytest.raises(ValueError, match="y contains nan or inf"):
        fit(model, xs, np.full(20, math.inf), progress=False)
    with pytest.raises(TypeError, match=r"got dtype bool \(class labels are integers: pass "
                                        r"y\.astype\(int\) for 0/1\)"):
        fit(model, xs, y == 1, progress=False)


def test_a_column_of_labels_is_the_same_as_a_vector():
    """(n, 1) targets, as PyTorch's BCE wants them, used to make fit see a regression."""
    xs, y = make_moons(30, seed=0)
    runs = []
    for labels in (y, y.reshape(-1, 1)):
        model = MLP(2, [4, 1], seed=0)
        h = fit(model, xs, labels, epochs=2, validation=(xs[:10], labels[:10]), progress=False)
        runs.append((h.task, h.loss_name, h.loss, h.accuracy, h.val_loss, model.state_dict(),
                     evaluate(model, xs, labels)))
    assert runs[0][:2] == ("binary", "binary_cross_entropy_with_logits")
    assert runs[1] == runs[0]
    xr, yr = make_regression(30, seed=0)
    column = fit(MLP(2, [4, 1], seed=0), xr, yr.reshape(-1, 1), epochs=2, progress=False)
    assert column.loss == fit(MLP(2, [4, 1], seed=0), xr, yr, epochs=2, progress=False).loss


# -- reaching the accuracy a course expects -------------------------------------------------------

@pytest.mark.parametrize(
    ("make", "target"),
    [(make_moons, 0.95), (make_circles, 0.95), (make_xor, 0.95)],
    ids=["moons", "circles", "xor"],
)
def test_training_accuracy_on_the_playground_sets(make, target):
    xs, y = make(100, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(model, xs, y, epochs=30, batch_size=20, progress=False)
    _, acc = evaluate(model, xs, y)
    assert acc >= target
    assert history.loss[-1] < history.loss[0]


def test_training_accuracy_on_the_spiral():
    xs, y = make_spiral(100, seed=0)
    xs = Standardizer().fit_transform(xs)
    model = MLP(2, [16, 16, 1], seed=0)
    fit(model, xs, y, epochs=80, batch_size=20, optimizer=Adam(model.parameters(), lr=0.03),
        progress=False)
    _, acc = evaluate(model, xs, y)
    assert acc >= 0.90


def test_multiclass_and_hinge_training():
    xs, y = make_gaussians(60, noise=0.15, seed=0, classes=3)
    model = MLP(2, [8, 3], seed=0)
    fit(model, xs, y, epochs=15, batch_size=10, progress=False)
    assert evaluate(model, xs, y)[1] >= 0.95
    xs, y = make_moons(60, seed=1)
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(model, xs, y, loss=hinge_loss, optimizer=Adam(model.parameters(), lr=0.03),
                  epochs=20, batch_size=10, progress=False)
    assert history.loss_name == "hinge_loss"
    assert evaluate(model, xs, y, loss="hinge")[1] >= 0.95


def test_regression_training_reduces_the_loss():
    xs, y = make_regression(60, noise=0.0, seed=0)
    model = MLP(2, [8, 1], seed=0)
    history = fit(model, xs, y, optimizer=Adam(model.parameters(), lr=0.03), epochs=20,
                  batch_size=10, progress=False)
    assert history.loss[-1] < 0.01 < history.loss[0]
    loss, acc = evaluate(model, xs, y)
    assert acc is None and loss < 0.01


# -- validation and early stopping ----------------------------------------------------------------

def test_validation_metrics_and_fractions():
    xs, y = make_moons(50, seed=0)
    history = fit(MLP(2, [8, 1], seed=0), xs, y, epochs=3, validation=0.2, progress=False)
    assert len(history.val_loss) == len(history.val_accuracy) == 3
    (xt, yt), (xv, yv), _ = train_val_test_split(xs, y, val=0.2, test=0.0)
    history = fit(MLP(2, [8, 1], seed=0), xt, yt, epochs=2, validation=(xv, yv),
                  progress=False)
    assert history.best_epoch in (1, 2)


def test_early_stopping_stops_and_restores_the_best_weights():
    xs, y = make_moons(60, seed=0)
    model = MLP(2, [8, 1], seed=0)
    opt = Adam(model.parameters(), lr=0.02)
    params = model.parameters()
    snapshots = {}
    # The validation labels are the training labels flipped: the better the model
    # learns, the worse its validation loss, so the first epoch is the best one.
    history = fit(model, xs, y, optimizer=opt, epochs=50, batch_size=10,
                  validation=(xs, 1 - y), patience=3, progress=False,
                  callback=lambda epoch, h: snapshots.__setitem__(epoch, model.state_dict()))
    assert history.stopped_early
    assert history.epochs == 4 and history.best_epoch == 1
    assert history.val_loss[0] == min(history.val_loss)
    assert model.state_dict() == snapshots[1] != snapshots[4]
    assert model.parameters() == params and opt.params == params  # restored in place
    assert "stopped early, best epoch 1" in repr(history)


def test_patience_counts_epochs_without_improvement():
    xs, y = make_moons(40, seed=0)
    history = fit(MLP(2, [8, 1], seed=0), xs, y, epochs=6, validation=(xs, y), patience=10,
                  progress=False)
    assert not history.stopped_early and history.epochs == 6


# -- safety -------------------------------------------------------------------------------------

def test_a_diverging_loss_stops_with_the_step_and_keeps_parameters_finite():
    xs, y = make_regression(40, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the engine's "produced inf" notes
        with pytest.raises(FloatingPointError, match=r"epoch \d+, step \d+"):
            fit(model, xs, y * 1e6, optimizer=SGD(model.parameters(), lr=10.0), epochs=50,
                batch_size=10, progress=False)
    assert all(math.isfinite(p.data) for p in model.parameters())
    assert all(p.grad == 0.0 for p in model.parameters())


def test_a_nan_loss_names_epoch_and_step_before_any_update():
    xs, y = make_moons(20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    calls = []

    def loss_that_breaks(outputs, targets):
        calls.append(1)
        loss = binary_cross_entropy_with_logits_or_nan(outputs, targets, len(calls) == 3)
        return loss

    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 2, step 3"):
        fit(model, xs, y, loss=loss_that_breaks, batch_size=10, epochs=5, progress=False)
    after = model.state_dict()
    assert after != before  # steps 1 and 2 were applied ...
    assert all(math.isfinite(v) for v in after.values())  # ... step 3 was not
    assert all(p.grad == 0.0 for p in model.parameters())


def binary_cross_entropy_with_logits_or_nan(outputs, targets, broken):
    from chainrule.nn import binary_cross_entropy_with_logits

    loss = binary_cross_entropy_with_logits(outputs, [float(t) for t in targets])
    return loss * math.nan if broken else loss


@pytest.mark.parametrize("kwargs", [{}, {"engine": "scalar"}, {"l2": 1e-3}])
def test_fit_inside_no_grad_trains_as_outside_and_leaves_no_grad_on(kwargs):
    """The tape records under no_grad, so fit trained there; the scalar engine and the
    penalties failed with 'computed under no_grad'. fit now turns recording on itself."""
    from chainrule.engine import is_grad_enabled, no_grad

    xs, y = make_moons(30, seed=0)
    outside = fit(MLP(2, [4, 1], seed=0), xs, y, epochs=2, progress=False, **kwargs)
    with no_grad():
        inside = fit(MLP(2, [4, 1], seed=0), xs, y, epochs=2, progress=False, **kwargs)
        assert not is_grad_enabled()
    assert inside.loss == outside.loss and inside.accuracy == outside.accuracy


def test_fit_restores_the_mode_and_trains_through_dropout():
    xs, y = make_moons(40, seed=0)
    net = Sequential(Layer(2, 16, seed=0), Dropout(0.2, seed=0), Layer(16, 1, "linear", seed=1))
    assert not net.traceable
    net.eval()
    history = fit(net, xs, y, epochs=3, batch_size=10, progress=False)
    assert not net.training  # back in the mode it had
    assert history.epochs == 3 and history.task == "binary"


def test_scheduler_penalties_and_clipping():
    xs, y = make_moons(40, seed=0)
    model = MLP(2, [8, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    history = fit(model, xs, y, optimizer=opt, scheduler=StepLR(opt, step_size=2, gamma=0.5),
                  epochs=5, progress=False, clip_norm=1.0)
    # the rate each epoch used
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    free, decayed = MLP(2, [8, 1], seed=0), MLP(2, [8, 1], seed=0)
    fit(free, xs, y, epochs=5, progress=False)
    fit(decayed, xs, y, epochs=5, progress=False, l2=0.05, l1=0.01)
    norm = lambda m: sum(p.data ** 2 for p in m.parameters())  # noqa: E731
    assert norm(decayed) < norm(free)
    with pytest.raises(ValueError, match="scheduler must be an LRScheduler built on the"):
        fit(model, xs, y, scheduler=StepLR(SGD(model.parameters(), lr=0.1), 1), progress=False)


# -- the per-batch function and helpers -----------------------------------------------------------

def test_scalar_loss_and_grad_adds_the_batch_gradient():
    model = MLP(2, [3, 1], seed=0)
    assert loss_and_grad_for(model) == (scalar_loss_and_grad, "scalar")
    xs = np.array([[0.5, -1.0], [1.0, 2.0]])
    value, outputs = scalar_loss_and_grad(model, mse_loss, xs, [1.0, 0.0], 1)
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    manual = mse_loss([model(x) for x in xs.tolist()], [1.0, 0.0])
    manual.backward()
    assert value == manual.data
    assert grads == [p.grad for p in model.parameters()]
    assert outputs.shape == (2, 1)


def test_cross_entropy_per_sample_with_one_hot_values_matches_the_batch_loss():
    # the form a batched replay records: one sample, the target as input leaves
    model = MLP(2, [4, 3], seed=0)
    xs = [[0.1, 0.2], [0.5, -0.3]]
    labels = [2, 0]
    batch = cross_entropy([model(x) for x in xs], labels).data
    per_sample = [cross_entropy(model(x), [Value(float(k == t)) for k in range(3)]).data
                  for x, t in zip(xs, labels)]
    assert batch == pytest.approx(sum(per_sample) / 2, rel=1e-15)


def test_predict_and_evaluate():
    xs, y = make_moons(20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    out = predict(model, xs)
    assert out.shape == (20,)
    assert out[0] == model(xs[0]).data
    assert predict(MLP(2, [4, 3], seed=0), xs).shape == (20, 3)
    loss, acc = evaluate(model, xs, y)
    assert acc == np.mean((out > 0) == (y == 1))
    assert evaluate(model, xs, y, loss=binary_cross_entropy_logits_name())[0] == loss


def binary_cross_entropy_logits_name():
    return "bce_with_logits"


# -- UPC (ANN & Deep Learning, "In practice"): the practice chapter, end to end -------------------

def test_upc_practice_chapter():
    """Data preparation (standardise, train/val/test split), model design (hidden ReLU
    layers, sigmoid output for binary classification), experiment design (binary
    cross-entropy, Adam, epochs, batch size, early stopping)."""
    xs, y = make_moons(120, noise=0.15, seed=0)
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = train_val_test_split(xs, y, val=0.2, test=0.2,
                                                                     seed=0)
    scaler = Standardizer().fit(x_tr)
    x_tr, x_va, x_te = scaler.transform(x_tr), scaler.transform(x_va), scaler.transform(x_te)
    model = MLP(2, [16, 16, 1], activation="relu", output_activation="sigmoid", seed=0)
    history = fit(model, x_tr, y_tr, loss=binary_cross_entropy,
                  optimizer=Adam(model.parameters(), lr=0.02), epochs=40, batch_size=16,
                  validation=(x_va, y_va), patience=5, progress=False)
    assert history.loss_name == "binary_cross_entropy"
    _, test_acc = evaluate(model, x_te, y_te, loss=binary_cross_entropy)
    assert test_acc >= 0.9
    # early stopping left the weights of the best epoch in the model
    assert 1 <= history.best_epoch <= history.epochs
    val_loss, _ = evaluate(model, x_va, y_va, loss=binary_cross_entropy)
    assert val_loss == pytest.approx(min(history.val_loss), rel=1e-12)
    assert val_loss == pytest.approx(history.val_loss[history.best_epoch - 1], rel=1e-12)


# -- the tape engine: same training, batched -------------------------------------------------------

def _data_for(task: str):
    if task == "multiclass":
        return make_spiral(60, classes=3, noise=0.1, seed=1)
    X, y = make_moons(60, noise=0.15, seed=1)  # noqa: N806
    if task == "regression2":
        return X, np.column_stack([X[:, 0] * X[:, 1], np.sin(X[:, 0])])
    if task == "regression":
        return X, X[:, 0] - 2.0 * X[:, 1] ** 2
    return X, y


@pytest.mark.parametrize(("loss", "widths", "out_act", "task"), [
    (None, [6, 1], "linear", "binary"),               # bce with logits
    ("hinge", [6, 1], "linear", "binary"),
    (None, [6, 1], "sigmoid", "binary"),              # bce on probabilities
    (None, [6, 3], "linear", "multiclass"),           # cross_entropy, one-hot targets
    (None, [6, 1], "linear", "regression"),           # mse
    ("mae", [6, 2], "linear", "regression2"),         # two outputs, vector targets
])
def test_fit_on_the_tape_equals_fit_on_the_scalar_engine(loss, widths, out_act, task):
    X, y = _data_for(task)  # noqa: N806
    histories, weights = [], []
    for engine in ("scalar", "tape"):
        model = MLP(2, widths, activation="tanh", output_activation=out_act, seed=3)
        h = fit(model, X, y, loss=loss, epochs=3, batch_size=16, validation=(X[:20], y[:20]),
                l2=1e-3, progress=False, engine=engine,
                task="regression" if task.startswith("regression") else None)
        histories.append(h)
        weights.append([p.data for p in model.parameters()])
    scalar, tape = histories
    assert (scalar.engine, tape.engine) == ("scalar", "tape")
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert getattr(tape, name) == pytest.approx(getattr(scalar, name), rel=1e-12, abs=1e-14)
    assert weights[1] == pytest.approx(weights[0], rel=1e-10, abs=1e-12)


def test_auto_engine_says_why_it_falls_back_to_the_scalar_engine(capsys):
    X, y = make_moons(40, seed=0)  # noqa: N806
    assert fit(MLP(2, [4, 1], seed=0), X, y, epochs=1, progress=False).engine == "tape"
    dropout = Sequential(Layer(2, 4, activation="relu", seed=0), Dropout(0.5, seed=0),
                         Layer(4, 1, activation="linear", seed=1))
    h = fit(dropout, X, y, epochs=1, progress=False)
    assert h.engine == ("scalar (Dropout(p=0.5) is active in training mode (the tape would "
                        "freeze its mask))")
    custom = fit(MLP(2, [4, 1], seed=0), X, y, epochs=1, progress=False,
                 loss=lambda out, t: mse_loss(out, t), task="binary")
    assert custom.engine.startswith("scalar (the loss '<lambda>' is not a built-in one")
    forced = fit(MLP(2, [4, 1], seed=0), X, y, epochs=1, progress=False, engine="tape",
                 loss=lambda out, t: mse_loss(out, t), task="binary")
    assert forced.engine == "tape"
    fit(dropout, X, y, epochs=1, progress=True)
    assert "fit: using the scalar (Dropout(p=0.5) is active" in capsys.readouterr().err
    with pytest.raises(ValueError, match="engine='tape' cannot trace this model: Dropout"):
        fit(dropout, X, y, epochs=1, progress=False, engine="tape")
    with pytest.raises(ValueError, match="engine must be one of auto, tape, scalar, got 'gpu'"):
        fit(dropout, X, y, epochs=1, progress=False, engine="gpu")


def test_bce_on_raw_scores_is_refused_by_both_engines():
    """binary_cross_entropy needs probabilities. A linear output gives raw scores; the
    scalar engine refuses them in the loss, and the tape (which replays the loss without
    calling it) used to clamp them silently and report a loss of about 28."""
    X, y = make_moons(80, seed=0)  # noqa: N806
    messages = []
    for engine in ("scalar", "tape"):
        model = MLP(2, [8, 1], seed=0)
        # the tape records at the origin, where this model's output is a valid
        # probability, so only the per-batch check can catch the scores elsewhere
        assert 0.0 <= model([0.0, 0.0]).data <= 1.0
        before = model.state_dict()
        with pytest.raises(ValueError, match=r"binary_cross_entropy: prediction \d+ is \S+, "
                                             r"not a probability in \[0, 1\] \(use "
                                             r"binary_cross_entropy_with_logits") as info:
            fit(model, X, y, loss="bce", epochs=2, progress=False, engine=engine)
        messages.append(str(info.value))
        assert model.state_dict() == before
        assert all(p.grad == 0.0 for p in model.parameters())
    assert messages[1] == messages[0]  # the same sample and number on both engines
    with pytest.raises(ValueError, match=r"not a probability in \[0, 1\]"):
        evaluate(model, X, y, loss="bce")  # 80 rows: evaluated on the tape


def test_tape_loss_and_grad_matches_the_scalar_function_for_one_batch():
    model = MLP(2, [5, 3], activation="elu", seed=2)
    xs = np.array([[0.5, -1.0], [1.0, 2.0], [-0.3, 0.2]])
    labels = [2, 0, 1]
    step = TapeLossAndGrad(model, cross_entropy, "index", 2, 3)
    value, outputs = step(model, cross_entropy, xs, labels, 3)
    tape_grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    expect, expect_out = scalar_loss_and_grad(model, cross_entropy, xs, labels, 3)
    assert value == pytest.approx(expect, rel=1e-14)
    assert outputs == pytest.approx(expect_out, rel=1e-14)
    assert tape_grads == pytest.approx([p.grad for p in model.parameters()], rel=1e-12,
                                       abs=1e-15)


def test_predict_and_evaluate_on_many_rows_use_the_tape_with_the_same_numbers():
    X, y = make_moons(200, noise=0.2, seed=4)  # noqa: N806
    model = MLP(2, [8, 8, 1], activation="tanh", seed=5)
    fast = predict(model, X)
    slow = np.array([predict(model, X[i:i + 1])[0] for i in range(len(X))])  # 1 row: scalar
    assert fast == pytest.approx(slow, rel=1e-13, abs=1e-15)
    loss_fast, acc_fast = evaluate(model, X, y)
    loss_slow = binary_cross_entropy_with_logits([model(x) for x in X.tolist()],
                                                 y.astype(float).tolist()).data
    assert loss_fast == pytest.approx(loss_slow, rel=1e-13)
    assert acc_fast == np.mean((slow > 0) == (y == 1))


# -- what models and losses tell fit --------------------------------------------------------------

def test_a_model_of_ones_own_tells_fit_it_ends_in_a_sigmoid():
    """fit reads Module.output_activation, not the model's class: a custom model that
    says "sigmoid" gets binary_cross_entropy and a 0.5 accuracy threshold."""
    from chainrule.nn import Module, Neuron

    class Logistic(Module):
        trace_safe = True
        output_activation = "sigmoid"

        def __init__(self):
            self.inner = Neuron(2, activation="sigmoid", seed=0)
            self.nin = 2

        def __call__(self, x):
            return self.inner(x)

    xs, y = make_gaussians(100, noise=0.5, seed=3)
    model = Logistic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = fit(model, xs, y, optimizer=SGD(model.parameters(), lr=0.5), epochs=60,
                batch_size=100, progress=False)
    assert (h.loss_name, h.engine) == ("binary_cross_entropy", "tape")
    assert h.accuracy[-1] >= 0.9  # counted at 0.5: at 0 every probability would be class 1


def test_a_loss_of_ones_own_tells_fit_its_targets_and_that_it_can_be_traced():
    """A loss function carries target_encoding, predictions and trace_safe, as the
    built-in ones do (hinge_loss: "-1/+1", "scores", True)."""
    assert (hinge_loss.target_encoding, hinge_loss.predictions, hinge_loss.trace_safe) == (
        "-1/+1", "scores", True)

    def double_hinge(scores, targets):
        return hinge_loss(scores, targets) * 2.0

    X, y = make_moons(40, seed=0)  # noqa: N806
    with pytest.raises(ValueError, match="targets must be -1 or \\+1"):  # given as they are
        fit(MLP(2, [4, 1], seed=0), X, y, loss=double_hinge, epochs=1, progress=False)

    double_hinge.target_encoding, double_hinge.predictions = "-1/+1", "scores"
    double_hinge.trace_safe = True
    # one full batch: the first epoch's loss is the loss before any update
    h = fit(MLP(2, [4, 1], seed=0), X, y, loss=double_hinge, epochs=1, batch_size=40,
            progress=False)
    ref = fit(MLP(2, [4, 1], seed=0), X, y, loss="hinge", epochs=1, batch_size=40,
              progress=False)
    assert (h.task, h.loss_name, h.engine) == ("binary", "double_hinge", "tape")
    # the same labels (-1/+1) and threshold (0) as hinge itself; twice the loss
    assert h.loss[0] == pytest.approx(2.0 * ref.loss[0], rel=1e-12)
    assert h.accuracy[0] == ref.accuracy[0]


def test_fit_gives_each_module_its_own_mode_back():
    net = Sequential(Layer(2, 4, seed=0), Dropout(0.5, seed=0), Layer(4, 1, "linear", seed=1))
    net[1].eval()  # switched off by hand
    X, y = make_moons(40, seed=0)  # noqa: N806
    h = fit(net, X, y, epochs=2, progress=False)
    assert h.engine.startswith("scalar (Dropout(p=0.5) is active")  # fit trains in train mode
    assert [m.training for m in net.layers] == [True, False, True]  # and gives each its own


# -- one update ------------------------------------------------------------------------------------

def test_train_step_zeroes_computes_penalises_clips_and_steps():
    from chainrule.nn import l2_penalty
    from chainrule.nn.training import train_step

    w = Value(3.0)
    w.grad = 100.0  # left over from elsewhere: train_step starts from zero

    def loss_and_grad():
        loss = (w - 1.0) ** 2
        loss.backward()
        return loss.data, "extra"

    loss, extra = train_step(SGD([w], lr=0.1), loss_and_grad,
                             penalty=lambda: l2_penalty([w], 0.5), clip_norm=1.0)
    # loss 4 + 0.5 * 9; gradient 2 * 2 + 0.5 * 2 * 3 = 7, clipped to norm 1
    assert (loss, extra) == (8.5, "extra")
    assert w.data == pytest.approx(3.0 - 0.1 * 7.0 / (7.0 + 1e-6))


def test_train_step_refuses_a_non_finite_loss_and_changes_nothing():
    from chainrule.nn.training import NonFiniteLossError, train_step

    w, v = Value(3.0), Value(-1.0)

    def nan_loss():
        loss = w * v + float("nan")
        loss.backward()
        return loss.data, None

    with pytest.raises(NonFiniteLossError, match="the loss became nan; no parameter") as info:
        train_step(SGD([w, v], lr=0.1), nan_loss)
    assert math.isnan(info.value.loss) and isinstance(info.value, FloatingPointError)
    assert (w.data, v.data, w.grad, v.grad) == (3.0, -1.0, 0.0, 0.0)

    def inf_grad():
        w.grad = math.inf
        return 1.0, None

    with pytest.raises(FloatingPointError, match=r"SGD.step: the gradient of params\[0\] is inf"):
        train_step(SGD([w, v], lr=0.1), inf_grad)
    assert (w.data, w.grad) == (3.0, 0.0)
