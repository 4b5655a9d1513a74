"""Optimizers, schedules and clipping: PyTorch trajectories, misuse, non-finite safety."""

import math
import warnings

import pytest
from chainrule.engine import Value
from chainrule.nn import (
    MLP,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    RMSprop,
    StepLR,
    clip_grad_norm,
)

START = (-1.5, 2.0)


def rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


# optimizer name, our class, torch class name, keyword arguments (same for both)
CASES = [
    ("sgd", SGD, "SGD", dict(lr=1e-4)),
    ("sgd-momentum", SGD, "SGD", dict(lr=1e-4, momentum=0.9)),
    ("sgd-dampening", SGD, "SGD", dict(lr=1e-4, momentum=0.9, dampening=0.3)),
    ("sgd-nesterov", SGD, "SGD", dict(lr=1e-4, momentum=0.9, nesterov=True)),
    ("sgd-weight-decay", SGD, "SGD", dict(lr=1e-4, momentum=0.5, weight_decay=0.1)),
    ("sgd-all", SGD, "SGD", dict(lr=1e-4, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("adam", Adam, "Adam", dict(lr=0.01)),
    ("adam-betas", Adam, "Adam", dict(lr=0.02, betas=(0.3, 0.9), eps=1e-6)),
    ("adam-weight-decay", Adam, "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam-amsgrad", Adam, "Adam", dict(lr=0.05, amsgrad=True)),
    ("adamw", AdamW, "AdamW", dict(lr=0.01)),
    ("adamw-decay", AdamW, "AdamW", dict(lr=0.01, weight_decay=0.5, amsgrad=True)),
    ("rmsprop", RMSprop, "RMSprop", dict(lr=1e-3)),
    ("rmsprop-alpha", RMSprop, "RMSprop", dict(lr=1e-3, alpha=0.4, eps=1e-6)),
    ("rmsprop-momentum", RMSprop, "RMSprop", dict(lr=1e-4, momentum=0.9)),
    ("rmsprop-centered", RMSprop, "RMSprop", dict(lr=1e-3, centered=True)),
    ("rmsprop-all", RMSprop, "RMSprop",
     dict(lr=1e-4, momentum=0.5, centered=True, weight_decay=0.1)),
    ("adagrad", Adagrad, "Adagrad", dict(lr=0.1)),
    ("adagrad-decay", Adagrad, "Adagrad", dict(lr=0.1, lr_decay=0.05, eps=1e-6)),
    ("adagrad-accumulator", Adagrad, "Adagrad",
     dict(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.1)),
]


@pytest.mark.parametrize(("name", "ours", "theirs", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_rosenbrock_trajectory_equals_torch_optim(name, ours, theirs, kwargs):
    torch = pytest.importorskip("torch")
    x, y = Value(START[0]), Value(START[1])
    opt = ours([x, y], **kwargs)
    tp = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, theirs)([tp], **kwargs)
    moved = 0.0
    for step in range(50):
        opt.zero_grad()
        rosenbrock(x, y).backward()
        opt.step()
        topt.zero_grad()
        rosenbrock(tp[0], tp[1]).backward()
        topt.step()
        expected = tp.detach().tolist()
        assert [x.data, y.data] == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, step)
        moved = max(moved, abs(x.data - START[0]), abs(y.data - START[1]))
    assert moved > 1e-3  # the comparison is not between two parameters that stood still


def test_sgd_steps_by_hand():
    x = Value(1.0)
    opt = SGD([x], lr=0.5, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (x * x).backward()
        opt.step()
    # buf = 2, x = 0; then buf = 0.9 * 2 + 0 = 1.8, x = 0 - 0.9
    assert x.data == pytest.approx(-0.9)


def test_adam_first_step_moves_by_lr():
    x = Value(3.0)
    opt = Adam([x], lr=0.1)
    (x * x).backward()
    opt.step()
    assert x.data == pytest.approx(2.9, rel=1e-7)


# -- hyperparameters -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda p: SGD(p, lr=0.0), "Invalid learning rate: 0.0"),
        (lambda p: Adam(p, lr=math.nan), "Invalid learning rate: nan"),
        (lambda p: Adam(p, lr=math.inf), "Invalid learning rate: inf"),
        (lambda p: SGD(p, lr="0.1"), "Invalid learning rate: '0.1'"),
        (lambda p: SGD(p, lr=True), "Invalid learning rate: True"),
        (lambda p: SGD(p, lr=0.1, momentum=1.0), "Invalid momentum value: 1.0"),
        (lambda p: SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
        (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
         "Nesterov momentum requires a momentum and zero dampening"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
        (lambda p: Adam(p, betas=0.9), "Invalid betas: 0.9"),
        (lambda p: Adam(p, eps=0.0), "Invalid epsilon value: 0.0"),
        (lambda p: AdamW(p, weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
        (lambda p: RMSprop(p, alpha=1.0), "Invalid alpha value: 1.0"),
        (lambda p: RMSprop(p, momentum=2), "Invalid momentum value: 2"),
        (lambda p: Adagrad(p, lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
        (lambda p: Adagrad(p, initial_accumulator_value=-0.1),
         "Invalid initial_accumulator_value value: -0.1"),
        (lambda p: Adagrad(p, eps=-1e-10), "Invalid epsilon value: -1e-10"),
    ],
)
def test_invalid_hyperparameters_show_the_value(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make([Value(1.0)])


def test_flags_must_be_bools():
    with pytest.raises(TypeError, match=r"nesterov must be True or False, got int 1$"):
        SGD([Value(1.0)], lr=0.1, momentum=0.9, nesterov=1)
    with pytest.raises(TypeError, match=r"amsgrad must be True or False, got str 'yes'$"):
        Adam([Value(1.0)], amsgrad="yes")


# -- the parameter collection --------------------------------------------------------------------

def test_empty_parameter_lists_are_refused():
    for empty in ([], (), iter([])):
        with pytest.raises(ValueError, match=r"optimizer got an empty parameter list"):
            SGD(empty, lr=0.1)


def test_a_set_is_refused_because_its_order_is_arbitrary():
    with pytest.raises(TypeError, match=r"ordered collection .* got a set"):
        Adam({Value(1.0), Value(2.0)})
    with pytest.raises(TypeError, match=r"got a set"):
        Adam(frozenset({Value(1.0)}))


def test_a_generator_is_read_once():
    m = MLP(2, [3, 1], seed=0)
    gen = (p for p in m.parameters())
    opt = SGD(gen, lr=0.1)
    assert opt.params == m.parameters()
    assert list(gen) == []


def test_duplicates_are_dropped_with_a_warning():
    a, b = Value(1.0), Value(2.0)
    with pytest.warns(UserWarning, match=r"1 duplicate"):
        opt = SGD([a, b, a], lr=0.1)
    assert opt.params == [a, b]
    a.grad = 1.0
    opt.step()
    assert a.data == pytest.approx(0.9)  # stepped once, not twice


def test_non_values_and_non_leaves_are_refused():
    with pytest.raises(TypeError, match=r"optimizer params\[1\] is float, not a Value"):
        SGD([Value(1.0), 2.0], lr=0.1)
    with pytest.raises(TypeError, match=r"got a single Value; wrap it in a list"):
        SGD(Value(1.0), lr=0.1)
    with pytest.raises(TypeError, match=r"must be a list of Values, got dict"):
        SGD({"w": Value(1.0)}, lr=0.1)
    with pytest.raises(ValueError, match=r"params\[0\] was computed by 'add'"):
        SGD([Value(1.0) + 1.0], lr=0.1)


def test_a_module_may_be_passed_directly():
    m = MLP(2, [3, 1], seed=0)
    assert Adam(m).params == m.parameters()
    assert repr(SGD(m, lr=0.1)).startswith("SGD(13 parameters, lr=0.1")


# -- stepping safely -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop, Adagrad])
def test_step_before_backward_is_a_no_op(cls):
    m = MLP(2, [3, 1], seed=0)
    before = m.state_dict()
    opt = cls(m.parameters(), lr=0.1)
    opt.step()
    assert m.state_dict() == before and opt.steps == 0


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop, Adagrad])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_gradient_raises_and_changes_nothing(cls, bad):
    m = MLP(2, [3, 1], seed=0)
    opt = cls(m, lr=0.1)
    m([1.0, 2.0]).backward()
    opt.step()  # build some optimizer state first
    opt.zero_grad()
    m([1.0, 2.0]).backward()
    m.layers[1].neurons[0].w[2].grad = bad
    before, state = m.state_dict(), {k: v.copy() for k, v in opt.state.items()}
    with pytest.raises(FloatingPointError,
                       match=rf"gradient of layers.1.neurons.0.w.2 \(w2\) is {bad!r}"):
        opt.step()
    assert m.state_dict() == before
    assert opt.steps == 1
    assert all((opt.state[k] == state[k]).all() for k in state)


def test_an_update_that_would_overflow_raises_and_changes_nothing():
    a, b = Value(1.0), Value(1e300)
    opt = SGD([a, b], lr=1e300)
    a.grad, b.grad = 1.0, -1e300
    with pytest.raises(FloatingPointError, match=r"would set params\[1\] to inf"):
        opt.step()
    assert (a.data, b.data) == (1.0, 1e300)


def test_zero_grad():
    m = MLP(2, [3, 1], seed=0)
    opt = Adam(m)
    m([1.0, 2.0]).backward()
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())


def test_optimizer_state_survives_load_state_dict():
    m = MLP(2, [3, 1], seed=0)
    opt = SGD(m, lr=0.1, momentum=0.9)
    m([1.0, 2.0]).backward()
    opt.step()
    buf = opt.state["momentum_buffer"].copy()
    m.load_state_dict(MLP(2, [3, 1], seed=5).state_dict())
    opt.zero_grad()
    m([1.0, 2.0]).backward()
    grads = [p.grad for p in m.parameters()]
    before = [p.data for p in m.parameters()]
    opt.step()
    # the momentum buffer carried over: x -= lr * (0.9 buf + g)
    after = [p.data for p in m.parameters()]
    for x0, x1, bf, g in zip(before, after, buf, grads):
        assert x1 == pytest.approx(x0 - 0.1 * (0.9 * bf + g), rel=1e-12, abs=1e-15)


# -- schedules ------------------------------------------------------------------------------------

SCHEDULES = [
    ("step", lambda o: StepLR(o, step_size=3, gamma=0.5), "StepLR", dict(step_size=3, gamma=0.5)),
    ("linear", lambda o: LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=6),
     "LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=6)),
    ("linear-down", lambda o: LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=4),
     "LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=4)),
    ("cosine", lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.01), "CosineAnnealingLR",
     dict(T_max=10, eta_min=0.01)),
]


@pytest.mark.parametrize(("name", "make", "theirs", "kwargs"), SCHEDULES,
                         ids=[s[0] for s in SCHEDULES])
def test_schedules_equal_torch(name, make, theirs, kwargs):
    torch = pytest.importorskip("torch")
    opt = SGD([Value(1.0)], lr=0.1)
    sched = make(opt)
    tp = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1)
    tsched = getattr(torch.optim.lr_scheduler, theirs)(topt, **kwargs)
    ours, expected = [opt.lr], [topt.param_groups[0]["lr"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about step order without optimizer steps
        for _ in range(12):
            ours.append(sched.step())
            tsched.step()
            expected.append(topt.param_groups[0]["lr"])
    assert ours == pytest.approx(expected, rel=1e-12)
    assert sched.get_last_lr() == [opt.lr]


def test_step_lr_by_hand_and_schedule_errors():
    sched = StepLR(SGD([Value(0.0)], lr=1.0), step_size=2, gamma=0.5)
    assert [sched.step() for _ in range(4)] == [1.0, 0.5, 0.5, 0.25]
    opt = SGD([Value(0.0)], lr=1.0)
    with pytest.raises(ValueError, match=r"Invalid step_size: 0"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"Invalid gamma value: -0.5"):
        StepLR(opt, step_size=1, gamma=-0.5)
    with pytest.raises(ValueError, match=r"Invalid start_factor: 0.0"):
        LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match=r"Invalid T_max: 2.5"):
        CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(TypeError, match=r"a scheduler needs an Optimizer, got list"):
        StepLR([], step_size=1)


# -- clipping -------------------------------------------------------------------------------------

def _with_grads(gs):
    vs = [Value(0.0) for _ in gs]
    for v, g in zip(vs, gs):
        v.grad = g
    return vs


def test_clip_grad_norm_scales_together_and_returns_the_old_norm():
    vs = _with_grads([3.0, 4.0])
    assert clip_grad_norm(vs, 1.0) == 5.0
    assert [v.grad for v in vs] == pytest.approx([0.6, 0.8], rel=1e-6)
    vs = _with_grads([3.0, 4.0])
    assert clip_grad_norm(vs, 10.0) == 5.0
    assert [v.grad for v in vs] == [3.0, 4.0]


def test_clip_grad_norm_zero_and_huge_norms():
    vs = _with_grads([0.0, 0.0])
    assert clip_grad_norm(vs, 1.0) == 0.0
    assert [v.grad for v in vs] == [0.0, 0.0]
    vs = _with_grads([1e200, 1e200])  # the sum of squares would overflow
    assert clip_grad_norm(vs, 1.0) == pytest.approx(math.sqrt(2) * 1e200)
    assert [v.grad for v in vs] == pytest.approx([1 / math.sqrt(2)] * 2)


def test_clip_grad_norm_refuses_non_finite_gradients():
    vs = _with_grads([1.0, math.inf, 2.0])
    with pytest.raises(FloatingPointError, match=r"parameter 1 has gradient inf"):
        clip_grad_norm(vs, 1.0)
    assert [v.grad for v in vs] == [1.0, math.inf, 2.0]
    assert clip_grad_norm(vs, 1.0, error_if_nonfinite=False) == math.inf
    assert math.isnan(clip_grad_norm(_with_grads([math.nan]), 1.0, error_if_nonfinite=False))


def test_clip_grad_norm_other_norms_and_bad_arguments():
    vs = _with_grads([3.0, -4.0])
    assert clip_grad_norm(vs, 100.0, norm_type=math.inf) == 4.0
    assert clip_grad_norm(vs, 100.0, norm_type=1) == 7.0
    with pytest.raises(ValueError, match=r"Invalid max_norm: -1"):
        clip_grad_norm(vs, -1)
    with pytest.raises(ValueError, match=r"Invalid norm_type: 0.5"):
        clip_grad_norm(vs, 1.0, norm_type=0.5)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_equals_torch(norm_type):
    torch = pytest.importorskip("torch")
    gs = [0.5, -2.0, 3.0, 0.25]
    vs = _with_grads(gs)
    ps = [torch.zeros(1, dtype=torch.float64, requires_grad=True) for _ in gs]
    for p, g in zip(ps, gs):
        p.grad = torch.tensor([g], dtype=torch.float64)
    ref = torch.nn.utils.clip_grad_norm_(ps, 1.5, norm_type=norm_type)
    assert clip_grad_norm(vs, 1.5, norm_type=norm_type) == pytest.approx(ref.item(), rel=1e-12)
    assert [v.grad for v in vs] == pytest.approx([p.grad.item() for p in ps], rel=1e-12)
