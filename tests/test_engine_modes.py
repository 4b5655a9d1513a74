"""Grad mode and anomaly mode (BAD_INPUTS 23, 63-65).

The mode lives in a ``contextvars`` variable: local to a thread and to an asyncio task,
restored on exceptions, nested with enable_grad / set_grad_enabled, and, on a decorated
generator, held while the generator body runs (not while its caller runs between yields).
"""

from __future__ import annotations

import asyncio
import math
import threading
import warnings

import pytest
from chainrule.engine import (
    Value,
    detect_anomaly,
    enable_grad,
    grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)


def records(v: Value) -> bool:
    """True when ``v`` was recorded in a graph (it has parents)."""
    return not v.is_leaf


# -- no_grad in its three spellings ------------------------------------------------------------


def test_no_grad_context_manager():
    x = Value(2.0)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3.0
    assert is_grad_enabled()
    assert y.data == 6.0 and y.is_leaf and y.parents == () and y.op == "mul"
    assert records(x * 3.0)


def test_no_grad_decorator_with_and_without_parentheses():
    x = Value(2.0)

    @no_grad()
    def called(v: Value) -> tuple[Value, bool]:
        return v * v, is_grad_enabled()

    @no_grad
    def bare(v: Value) -> tuple[Value, bool]:
        return v * v, is_grad_enabled()

    for f in (called, bare):
        y, inside = f(x)
        assert not inside and not records(y)
        assert is_grad_enabled()
    assert bare.__name__ == "bare"  # functools.wraps


def test_no_grad_on_methods():
    class Model:
        def __init__(self) -> None:
            self.w = Value(0.5)

        @no_grad()
        def predict(self, x: float) -> Value:
            return self.w * x

        @no_grad
        def predict_bare(self, x: float) -> Value:
            return self.w * x

        def train_step(self, x: float) -> Value:
            return self.w * x

    m = Model()
    assert not records(m.predict(2.0)) and not records(m.predict_bare(2.0))
    assert records(m.train_step(2.0))


def test_no_grad_decorator_is_reentrant_and_recursive():
    @no_grad
    def depth(n: int) -> int:
        assert not is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(20) == 20 and is_grad_enabled()


def test_no_grad_refuses_a_non_callable():
    with pytest.raises(TypeError, match="int"):
        no_grad(3)
    with pytest.raises(TypeError, match="str"):
        no_grad()("not a function")


# -- generators: the mode belongs to the generator body ------------------------------------------


def test_no_grad_generator_holds_mode_inside_not_in_the_caller():
    seen_inside = []

    @no_grad()
    def batches(x: Value):
        for i in range(3):
            seen_inside.append(is_grad_enabled())
            received = yield x * float(i)
            seen_inside.append((is_grad_enabled(), received))

    x = Value(1.0)
    gen = batches(x)
    first = next(gen)
    assert is_grad_enabled()  # the caller records between yields
    assert records(x * 2.0)
    second = gen.send("hello")
    assert not records(first) and not records(second)
    assert seen_inside == [False, (False, "hello"), False]
    assert is_grad_enabled()
    gen.close()
    assert is_grad_enabled()


def test_bare_no_grad_on_a_generator_returns_its_value():
    @no_grad
    def gen():
        yield is_grad_enabled()
        return "done"

    g = gen()
    assert next(g) is False
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    assert is_grad_enabled()


def test_exception_thrown_into_a_no_grad_generator_arrives_inside_with_mode_on():
    caught = []

    @no_grad()
    def gen():
        try:
            yield 1
        except KeyError as exc:
            caught.append((str(exc), is_grad_enabled()))
            yield 2

    g = gen()
    next(g)
    assert g.throw(KeyError("boom")) == 2
    assert caught == [("'boom'", False)]
    assert is_grad_enabled()


def test_closing_a_no_grad_generator_runs_finally_in_no_grad():
    finals = []

    @no_grad()
    def gen():
        try:
            yield 1
        finally:
            finals.append(is_grad_enabled())

    g = gen()
    next(g)
    g.close()
    assert finals == [False] and is_grad_enabled()


def test_enable_grad_generator_inside_no_grad_caller():
    @enable_grad()
    def gen():
        yield is_grad_enabled()

    with no_grad():
        g = gen()
        assert next(g) is True
        assert not is_grad_enabled()


# -- restoring and nesting -----------------------------------------------------------------------


def test_mode_restored_when_the_body_raises():
    with pytest.raises(ZeroDivisionError), no_grad():
        raise ZeroDivisionError("user code")
    assert is_grad_enabled()

    @no_grad()
    def fails() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        fails()
    assert is_grad_enabled()


def test_nesting_with_enable_grad_and_set_grad_enabled():
    x = Value(1.0)
    with no_grad():
        assert not records(x + 1)
        with enable_grad():
            assert records(x + 1)
            with set_grad_enabled(False):
                assert not records(x + 1)
            assert records(x + 1)
        with set_grad_enabled(True):
            assert records(x + 1)
        assert not records(x + 1)
    assert records(x + 1)


def test_set_grad_enabled_as_decorator_and_its_argument_check():
    @set_grad_enabled(False)
    def f() -> bool:
        return is_grad_enabled()

    assert f() is False and is_grad_enabled()
    with pytest.raises(TypeError, match="bool"):
        set_grad_enabled(1)
    with pytest.raises(TypeError, match="NoneType"):
        set_grad_enabled(None)


def test_set_grad_enabled_as_a_statement_switches_at_once_like_torch():
    x = Value(1.0)
    try:
        set_grad_enabled(False)
        assert not is_grad_enabled() and not records(x + 1)
        set_grad_enabled(True)
        assert is_grad_enabled() and records(x + 1)
    finally:
        set_grad_enabled(True)
    switch = set_grad_enabled(False)  # decorating must not leave the mode switched
    assert not is_grad_enabled()
    wrapped = switch(is_grad_enabled)
    assert is_grad_enabled() and wrapped() is False and is_grad_enabled()


def test_the_recording_flag_always_equals_the_grad_bit():
    """Ops read grad mode from a bool twin of the mode's GRAD bit; every switch, exit,
    exception and decorator keeps the two equal."""
    from chainrule.engine import modes

    def check(expected: bool) -> bool:
        assert modes.recording() is expected
        assert bool(modes.get_mode() & modes.GRAD) is expected
        return expected

    check(True)
    with no_grad():
        check(False)
        with enable_grad():
            check(True)
            with detect_anomaly(), modes.quiet():
                check(True)
            with set_grad_enabled(False):
                check(False)
            check(True)
        check(False)
        with pytest.raises(KeyError), enable_grad():
            check(True)
            raise KeyError
        check(False)
    check(True)
    assert no_grad(check)(False) is False and check(True)
    try:
        set_grad_enabled(False)
        check(False)
    finally:
        set_grad_enabled(True)
    check(True)
    done = []
    with no_grad():
        thread = threading.Thread(target=lambda: done.append(check(True)))
        thread.start()
        thread.join()
    assert done == [True]


def test_anomaly_mode_ignores_discarded_branches_of_create_graph_rules():
    """0 ** 0 computes 0 ** -1 = inf in a branch that ``where`` throws away; only the
    gradients that are added up are checked, so this is no anomaly."""
    with detect_anomaly():
        a, b = Value(0.0), Value(0.0)
        da, db = grad(a**b, [a, b], create_graph=True)
        assert (da.data, db.data) == (0.0, 0.0)
        x = Value(0.0, label="x")
        for create_graph in (False, True):
            with pytest.raises(FloatingPointError, match=r"backward of sqrt.*\(x=0\.0\)"):
                grad(x.sqrt() * 1.0, [x], create_graph=create_graph)


def test_the_same_no_grad_object_can_be_entered_twice():
    ng = no_grad()
    with ng:
        with ng:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_grad_with_create_graph_works_inside_no_grad():
    """grad() builds its derivative graph even when the caller is in no_grad."""
    x = Value(3.0)
    y = x ** 3
    with no_grad():
        (d,) = grad(y, [x], create_graph=True)
        assert not is_grad_enabled()
    (d2,) = grad(d, [x])
    assert (d.data, d2.data) == (27.0, 18.0)


# -- threads and tasks (BAD_INPUTS 63, 65) ---------------------------------------------------------


def test_thread_started_inside_no_grad_records_a_graph():
    """A new thread starts with the defaults, as in PyTorch."""
    result = {}

    def work() -> None:
        x = Value(2.0)
        result["enabled"] = is_grad_enabled()
        result["records"] = records(x * x)
        result["anomaly"] = is_anomaly_enabled()

    with no_grad(), detect_anomaly():
        t = threading.Thread(target=work)
        t.start()
        t.join()
        assert not is_grad_enabled()
    assert result == {"enabled": True, "records": True, "anomaly": False}


def test_no_grad_in_another_thread_does_not_leak_here():
    inside = threading.Event()
    release = threading.Event()

    def work() -> None:
        with no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=work)
    t.start()
    assert inside.wait(5)
    try:
        assert is_grad_enabled()
        assert records(Value(1.0) * 2.0)
    finally:
        release.set()
        t.join()


def test_asyncio_tasks_have_their_own_mode():
    async def quiet_task(started: asyncio.Event, done: asyncio.Event) -> bool:
        with no_grad():
            started.set()
            await done.wait()
            return is_grad_enabled()

    async def loud_task(started: asyncio.Event, done: asyncio.Event) -> bool:
        await started.wait()
        enabled = is_grad_enabled() and records(Value(1.0) * 2.0)
        done.set()
        return enabled

    async def main() -> tuple[bool, bool]:
        started, done = asyncio.Event(), asyncio.Event()
        return tuple(await asyncio.gather(quiet_task(started, done), loud_task(started, done)))

    assert asyncio.run(main()) == (False, True)
    assert is_grad_enabled()


# -- detect_anomaly (BAD_INPUTS 23, 65) -----------------------------------------------------------


def test_anomaly_in_forward_names_the_op_and_labels():
    x = Value(0.0, label="x")
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"log .*x=0\.0"):
        x.log()
    assert not is_anomaly_enabled()


def test_anomaly_in_forward_of_a_binary_op_names_both_inputs():
    a, b = Value(1.0, label="numerator"), Value(0.0, label="denominator")
    with detect_anomaly(), pytest.raises(FloatingPointError) as info:
        a / b
    message = str(info.value)
    assert "div" in message and "numerator=1.0" in message and "denominator=0.0" in message


def test_anomaly_in_forward_from_overflow():
    """1e308 * 10 silently becomes inf outside anomaly mode (BAD_INPUTS 21)."""
    big = Value(1e308, label="big")
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"mul.*inf"):
        big * 10.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert (big * 10.0).data == math.inf


def test_anomaly_in_backward_names_the_op_and_labels():
    """sqrt at 0 is finite forward, but its local derivative is inf."""
    x = Value(0.0, label="x")
    with detect_anomaly():
        y = x.sqrt()
        y.label = "root"
        with pytest.raises(FloatingPointError) as info:
            y.backward()
    message = str(info.value)
    assert "backward of sqrt" in message and "root=0.0" in message and "x=0.0" in message
    assert "inf" in message


def test_backward_without_anomaly_is_silent_about_the_same_inf():
    x = Value(0.0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        x.sqrt().backward()
    assert x.grad == math.inf and record == []


def test_anomaly_mode_passes_finite_graphs_unchanged():
    x, y = Value(0.5, label="x"), Value(-1.5, label="y")
    with detect_anomaly():
        f = (x * y).tanh() + x.exp()
        f.backward()
    ref_x, ref_y = Value(0.5), Value(-1.5)
    g = (ref_x * ref_y).tanh() + ref_x.exp()
    g.backward()
    assert (x.grad, y.grad) == (ref_x.grad, ref_y.grad)


def test_anomaly_state_restored_after_errors_and_nests():
    with pytest.raises(FloatingPointError), detect_anomaly():
        assert is_anomaly_enabled()
        Value(-1.0).sqrt()
    assert not is_anomaly_enabled()
    with detect_anomaly():
        with no_grad():
            assert is_anomaly_enabled() and not is_grad_enabled()
        assert is_anomaly_enabled() and is_grad_enabled()
    assert not is_anomaly_enabled() and is_grad_enabled()


def test_detect_anomaly_as_decorator():
    @detect_anomaly()
    def risky(v: Value) -> Value:
        return v.log()

    with pytest.raises(FloatingPointError, match="log"):
        risky(Value(-1.0))
    assert not is_anomaly_enabled()


def test_anomaly_in_a_task_does_not_leak_to_another():
    async def strict() -> bool:
        with detect_anomaly():
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            return is_anomaly_enabled()

    async def lax() -> bool:
        await asyncio.sleep(0)
        return is_anomaly_enabled()

    async def main() -> list[bool]:
        return await asyncio.gather(strict(), lax())

    assert asyncio.run(main()) == [True, False]


def test_separate_graphs_in_separate_threads_match_a_serial_run():
    """Backward on *shared* parameters from several threads at once is not supported
    (``grad += g`` is not atomic, BAD_INPUTS 64); separate graphs are independent."""

    def work(seed: float) -> list[float]:
        xs = [Value(seed + i / 10) for i in range(50)]
        out = Value.sum([(x * x).tanh() * x.exp() for x in xs])
        for _ in range(20):
            out.backward()
        return [x.grad for x in xs]

    serial = [work(float(s)) for s in range(4)]
    results: dict[int, list[float]] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, work(float(s))))
               for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[s] for s in range(4)] == serial
