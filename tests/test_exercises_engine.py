"""check_engine on correct engines (micrograd, the lecture's Value) and on the classic bugs.

Each buggy engine is a small class written here, as a student would write it: a
complete, correct engine (``Good``) with one method changed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time

import graphviz
import pytest
from chainrule.engine import RULES
from chainrule.exercises import KINDS, check_engine

# -- a complete, correct micrograd-style engine ----------------------------------------------


class Good:
    """Every op check_engine knows, written the micrograd way (closures, a topo sort)."""

    def __init__(self, data, _children=()):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)

    def _wrap(self, other):
        return other if isinstance(other, Good) else type(self)(other)

    def _unary(self, value, local):
        out = type(self)(value, (self,))

        def _backward():
            self.grad += local * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, n):
        if not isinstance(n, (int, float)):
            return NotImplemented
        return self._unary(self.data ** n, n * self.data ** (n - 1))

    def __rpow__(self, c):
        return self._unary(c ** self.data, c ** self.data * math.log(c))

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1

    def __rtruediv__(self, other):
        return other * self ** -1

    def __abs__(self):
        return self._unary(abs(self.data), 1.0 if self.data > 0 else -1.0)

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e)

    def log(self):
        return self._unary(math.log(self.data), 1 / self.data)

    def sqrt(self):
        r = math.sqrt(self.data)
        return self._unary(r, 0.5 / r)

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t)

    def sigmoid(self):
        s = 1 / (1 + math.exp(-self.data))
        return self._unary(s, s * (1 - s))

    def relu(self):
        return self._unary(max(self.data, 0.0), 1.0 if self.data > 0 else 0.0)

    def softplus(self):
        return self._unary(math.log1p(math.exp(self.data)), 1 / (1 + math.exp(-self.data)))

    def sin(self):
        return self._unary(math.sin(self.data), math.cos(self.data))

    def cos(self):
        return self._unary(math.cos(self.data), -math.sin(self.data))

    def backward(self):
        topo, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                topo.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


# -- the Zero-to-Hero lecture's Value, typed anew ---------------------------------------------


class LectureValue:
    """The Value built in the micrograd lecture: + * ** tanh exp - / and backward."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data})"

    def __add__(self, other):
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, other):
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = LectureValue(self.data ** other, (self,), f"**{other}")

        def _backward():
            self.grad += other * (self.data ** (other - 1)) * out.grad
        out._backward = _backward
        return out

    def __rmul__(self, other):  # other * self
        return self * other

    def __truediv__(self, other):  # self / other
        return self * other ** -1

    def __neg__(self):  # -self
        return self * -1

    def __sub__(self, other):  # self - other
        return self + (-other)

    def __radd__(self, other):  # other + self
        return self + other

    def tanh(self):
        x = self.data
        t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
        out = LectureValue(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        x = self.data
        out = LectureValue(math.exp(x), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


def kinds(report):
    return [(f.op, f.kind) for f in report.failures]


def only(report):
    assert len(report.failures) == 1, str(report)
    return report.failures[0]


# -- correct engines ----------------------------------------------------------------------------


def test_micrograd_itself_is_ok_and_its_missing_ops_are_skipped():
    micrograd = pytest.importorskip("micrograd.engine")
    start = time.monotonic()
    report = check_engine(micrograd.Value)
    assert time.monotonic() - start < 3
    assert report.ok, str(report)
    assert report.failures == []
    assert {"tanh", "exp", "log", "pow", "rpow"} <= set(report.skipped)
    assert {"add", "sub", "mul", "div", "neg", "powc", "relu"} <= set(report.checked)
    assert not set(report.skipped) & set(report.checked)
    assert set(report.skipped) <= set(RULES) and set(report.checked) <= set(RULES)
    assert "all" in str(report) and "passed" in str(report)


def test_the_lecture_value_is_ok():
    report = check_engine(LectureValue)
    assert report.ok, str(report)
    assert {"add", "sub", "mul", "div", "neg", "powc", "tanh", "exp"} <= set(report.checked)
    assert "relu" in report.skipped and "tanh" not in report.skipped
    # The lecture never wrote __rsub__ / __rtruediv__: those forms are not failures.
    assert {"2 - x", "2 / x"} <= set(report.unsupported)


@pytest.mark.parametrize("isolation", ["fork", "inline"])
def test_a_complete_engine_passes_every_check(isolation):
    if isolation == "fork" and not hasattr(os, "fork"):
        pytest.skip("no os.fork")
    report = check_engine(Good, isolation=isolation)
    assert report.ok, str(report)
    assert report.skipped == ["pow"]  # no Value exponent: `x ** y` returns NotImplemented
    assert report.unsupported == [] and report.not_judged == []
    assert report.passed >= 50
    assert report.isolation == isolation


# -- the classic bugs ------------------------------------------------------------------------------


class TanhOneMinusT(Good):
    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t)  # should be 1 - t**2


def test_wrong_local_derivative_of_tanh():
    failure = only(check_engine(TanhOneMinusT))
    assert (failure.op, failure.kind, failure.example) == ("tanh", "local derivative",
                                                           "x.tanh()")
    assert "1 - t**2" in failure.message and "0.786448" in failure.message
    assert failure.node == "x"
    assert failure.expected["x.grad"] == pytest.approx(1 - math.tanh(0.5) ** 2)
    assert failure.actual["x.grad"] == pytest.approx(1 - math.tanh(0.5))


class Overwrites(Good):
    """`=` instead of `+=` in add's and mul's backward."""

    def __add__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data + other.data, (self, other))

        def _backward():
            self.grad = out.grad
            other.grad = out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data * other.data, (self, other))

        def _backward():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad
        out._backward = _backward
        return out


def test_assignment_instead_of_accumulation():
    report = check_engine(Overwrites)
    assert kinds(report) == [("add", "accumulation"), ("mul", "accumulation")]
    add, mul = report.failures
    assert add.example == "x + x" and mul.example == "x * x"
    assert "+=" in add.message and "x.grad is 1 but should be 2" in add.message
    assert add.node == "x"


class NoTopologicalOrder(Good):
    """backward recurses into the children at once: a node can pass its gradient on
    before all its uses have added theirs, and more than once."""

    def backward(self):
        self.grad = 1.0

        def visit(node):
            node._backward()
            for child in node._prev:
                visit(child)
        visit(self)


class ForwardTopologicalOrder(Good):
    """builds the order but walks it inputs first."""

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for node in topo:  # not reversed
            node._backward()


class BreadthFirst(Good):
    """each node once, but in breadth-first order: wrong for unequal path lengths."""

    def backward(self):
        self.grad = 1.0
        queue, seen = [self], {self}
        while queue:
            node = queue.pop(0)
            node._backward()
            for child in node._prev:
                if child not in seen:
                    seen.add(child)
                    queue.append(child)


def test_backward_without_topological_order_on_a_diamond():
    failure = only(check_engine(NoTopologicalOrder))
    assert failure.kind == "order"
    assert failure.op in RULES
    assert failure.example.startswith("b = x * y; f = ")
    assert "topological" in failure.message
    assert failure.node in ("x", "y")


def test_breadth_first_backward_fails_only_where_paths_differ_in_length():
    failure = only(check_engine(BreadthFirst))
    assert failure.kind == "order"
    assert failure.example in ("b = x * y; f = (b * z) * w + b", "b = x * y; f = b + (b * z) * w")


def test_backward_inputs_first_is_an_order_failure_on_the_first_chain():
    failure = only(check_engine(ForwardTopologicalOrder))
    assert failure.kind == "order"
    assert failure.example == "q = x + y; f = q * z"  # the lecture's gate
    assert "x.grad is 0 but should be -4" in failure.message


def _with_seed(seed):
    class Seeded(Good):
        def backward(self):
            topo, visited = [], set()

            def build(v):
                if v not in visited:
                    visited.add(v)
                    for child in v._prev:
                        build(child)
                    topo.append(v)
            build(self)
            self.grad = seed
            for node in reversed(topo):
                node._backward()
    return Seeded


@pytest.mark.parametrize("seed", [2.0, 0.0, -1.0])
def test_a_seed_other_than_one_is_one_failure(seed):
    failure = only(check_engine(_with_seed(seed)))
    assert failure.kind == "seed"
    assert failure.example == "x + y"
    assert "should be 1" in failure.message
    assert "df/df = 1" in failure.message


def test_a_scaled_seed_does_not_hide_a_wrong_op():
    class SeedTwoAndTanh(_with_seed(2.0)):
        def tanh(self):
            t = math.tanh(self.data)
            return self._unary(t, 1 - t)

    assert kinds(check_engine(SeedTwoAndTanh)) == [("add", "seed"),
                                                   ("tanh", "local derivative")]


class ReflectedSwapped(Good):
    def __rsub__(self, other):  # 2 - x computed as x - 2
        return self - other

    def __rtruediv__(self, other):  # 2 / x computed as x / 2
        return self / other


def test_broken_reflected_ops():
    report = check_engine(ReflectedSwapped)
    assert kinds(report) == [("sub", "reflected"), ("div", "reflected")]
    sub, div = report.failures
    assert sub.example == "2 - x" and div.example == "2 / x"
    assert "__rsub__" in sub.message and "other - self" in sub.message
    assert "not self - other" in sub.message
    assert "gives -0.5 but should give 0.5" in sub.message
    assert "__rtruediv__" in div.message and "other / self" in div.message


class ReflectedGradient(Good):
    def __rtruediv__(self, other):  # right value, derivative of other / self forgotten
        out = type(self)(other / self.data, (self,))

        def _backward():
            self.grad += (1 / other) * out.grad
        out._backward = _backward
        return out


def test_a_reflected_op_with_a_wrong_gradient():
    failure = only(check_engine(ReflectedGradient))
    assert (failure.op, failure.kind, failure.example) == ("div", "reflected", "2 / x")
    assert "x.grad is 0.5 but should be -0.888889" in failure.message


class WrongForward(Good):
    def exp(self):
        e = math.exp(self.data)
        return self._unary(e - 1, e)  # the value is off by one


def test_a_wrong_forward_value():
    failure = only(check_engine(WrongForward))
    assert (failure.op, failure.kind, failure.example) == ("exp", "forward", "x.exp()")
    assert "gives 0.648721 but should give 1.64872" in failure.message
    assert failure.node == "out"


class PowerByRepeatedProduct(Good):
    def __pow__(self, n):
        out = type(self)(1.0)
        for _ in range(int(n)):  # x ** -1 gives 1, x ** 0.5 gives 1
            out = out * self
        return out


class PowerLosesTheSign(Good):
    def __pow__(self, n):
        return self._unary(self.data ** n, abs(n) * self.data ** (n - 1))


def test_pow_with_a_negative_exponent():
    report = check_engine(PowerByRepeatedProduct)
    power = report.failures[0]
    assert (power.op, power.kind, power.example) == ("powc", "forward", "x ** -1")
    assert "x ** 0.5" in power.also
    # x / y is x * y ** -1 in this engine: it fails too, as its own failure.
    assert ("div", "forward") in kinds(report)

    failure = check_engine(PowerLosesTheSign).failures[0]
    assert (failure.op, failure.kind, failure.example) == ("powc", "local derivative",
                                                           "x ** -1")
    assert "sign of the negative exponent" in failure.message


class ForgetsUpstream(Good):
    def tanh(self):
        t = math.tanh(self.data)
        out = type(self)(t, (self,))

        def _backward():
            self.grad += 1 - t * t  # forgot * out.grad
        out._backward = _backward
        return out


def test_forgetting_the_upstream_gradient():
    failure = only(check_engine(ForgetsUpstream))
    assert (failure.op, failure.kind, failure.example) == ("tanh", "local derivative",
                                                           "x.tanh() * k")
    assert "out.grad" in failure.message and "chain rule" in failure.message


# -- engines that raise, loop, lack backward or return garbage ---------------------------------


class RaisesInForward(Good):
    def tanh(self):
        return self._unary(1 / 0, 0.0)


class RaisesInBackward(Good):
    def exp(self):
        out = type(self)(math.exp(self.data), (self,))

        def _backward():
            self.grad += out.dta * out.grad  # a typo
        out._backward = _backward
        return out


def test_an_engine_that_raises():
    failure = only(check_engine(RaisesInForward))
    assert (failure.op, failure.kind) == ("tanh", "forward")
    assert "ZeroDivisionError" in failure.message
    assert "line" in failure.message  # where in the student's code

    failure = only(check_engine(RaisesInBackward))
    assert (failure.op, failure.kind) == ("exp", "local derivative")
    assert "AttributeError" in failure.message and "dta" in failure.message
    assert "in _backward" in failure.message


class ConstructorRaises(Good):
    def __init__(self, data, _children=()):
        raise RuntimeError("not yet")


def test_a_constructor_that_raises_is_one_failure():
    report = check_engine(ConstructorRaises)
    failure = only(report)
    assert (failure.kind, failure.example) == ("forward", "x + y")
    assert "Value(1.5) raised RuntimeError: not yet (in __init__, line" in failure.message
    assert report.checked == [] and report.skipped == []  # it has the ops; none could run


class BackwardLoops(Good):
    def backward(self):
        self.grad = 1.0
        node = self
        while node is not None:  # never changes
            node._backward()


class TanhLoops(Good):
    def tanh(self):
        while True:
            pass


@pytest.mark.parametrize("isolation", ["fork", "inline"])
def test_an_engine_that_loops_forever_is_stopped(isolation):
    if isolation == "fork" and not hasattr(os, "fork"):
        pytest.skip("no os.fork")
    start = time.monotonic()
    report = check_engine(BackwardLoops, isolation=isolation)
    took = time.monotonic() - start
    assert took < 4.0
    failure = only(report)
    assert (failure.kind, failure.example, failure.also) == ("order", "x + y", ["x * y"])
    assert "did not finish" in failure.message and "in backward() itself" in failure.message

    start = time.monotonic()
    report = check_engine(TanhLoops, isolation=isolation)
    assert time.monotonic() - start < 3.0
    failure = only(report)
    assert (failure.op, failure.kind, failure.example) == ("tanh", "forward", "x.tanh()")
    assert "did not finish" in failure.message
    assert report.passed > 40  # everything else was still checked


def test_the_total_time_limit_holds_when_everything_loops():
    class EverythingLoops(Good):
        def _unary(self, value, local):
            while True:
                pass

        def __add__(self, other):
            while True:
                pass

        def __mul__(self, other):
            while True:
                pass

    start = time.monotonic()
    report = check_engine(EverythingLoops, timeout=2.0)
    assert time.monotonic() - start < 3.0
    assert not report.ok
    assert report.failures and all("did not finish" in f.message for f in report.failures)


class NoBackward(Good):
    backward = None


class NoBackwardAtAll:
    def __init__(self, data, _children=()):
        self.data, self.grad = data, 0.0

    def __add__(self, other):
        return NoBackwardAtAll(self.data + other.data)


def test_an_engine_without_backward():
    failure = only(check_engine(NoBackwardAtAll))
    assert (failure.kind, failure.example) == ("seed", "x + y")
    assert "no backward() method" in failure.message
    report = check_engine(NoBackward)
    assert report.failures and report.failures[0].kind == "seed"


class ReturnsAFloat(Good):
    def __add__(self, other):
        return self.data + getattr(other, "data", other)


class GradIsAValue(Good):
    def __mul__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data * other.data, (self, other))

        def _backward():
            self.grad += other * out.grad  # a Value, not other.data
            other.grad += self * out.grad
        out._backward = _backward
        return out


class DataIsAString(Good):
    def tanh(self):
        return type(self)(str(math.tanh(self.data)), (self,))


class ChangesItsInput(Good):
    def __add__(self, other):
        other = self._wrap(other)
        self.data += other.data  # in place
        return type(self)(self.data, (self, other))


def test_an_engine_that_returns_garbage():
    failure = check_engine(ReturnsAFloat).failures[0]
    assert (failure.op, failure.kind) == ("add", "forward")
    assert "returned a float, not a Value" in failure.message

    failure = check_engine(GradIsAValue).failures[0]
    assert failure.op == "mul"
    assert "not a number" in failure.message and "other.data" in failure.message

    failure = only(check_engine(DataIsAString))
    assert (failure.op, failure.kind) == ("tanh", "forward")
    assert "a str" in failure.message

    failure = check_engine(ChangesItsInput).failures[0]
    assert (failure.op, failure.kind) == ("add", "forward")
    assert "changed its input" in failure.message


class Crashes(Good):
    def sqrt(self):
        os._exit(3)


def test_a_process_that_dies_is_a_failure():
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork")
    failure = only(check_engine(Crashes, isolation="fork"))
    assert (failure.op, failure.kind) == ("sqrt", "forward")
    assert "died (exit status 3)" in failure.message


class Prints(Good):
    def __add__(self, other):
        print("adding", self.data, other)
        return super().__add__(other)


@pytest.mark.parametrize("isolation", ["fork", "inline"])
def test_what_student_code_prints_goes_nowhere(isolation, capfd):
    if isolation == "fork" and not hasattr(os, "fork"):
        pytest.skip("no os.fork")
    assert check_engine(Prints, isolation=isolation).ok
    out, err = capfd.readouterr()
    assert "adding" not in out + err


ALL = [Good, LectureValue, TanhOneMinusT, Overwrites, NoTopologicalOrder, BreadthFirst,
       ReflectedSwapped, WrongForward, PowerByRepeatedProduct, RaisesInBackward, NoBackward,
       ReturnsAFloat, GradIsAValue, ChangesItsInput]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_the_class_is_never_modified(cls):
    before = dict(vars(cls))
    check_engine(cls, isolation="fork" if hasattr(os, "fork") else "inline")
    check_engine(cls, isolation="inline")
    assert dict(vars(cls)) == before


# -- the report ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_failure_is_well_formed(cls):
    report = check_engine(cls)
    assert report.ok == (not report.failures)
    for failure in report.failures:
        assert failure.op in RULES
        assert failure.kind in KINDS
        assert failure.message[0].isupper() or failure.message[0] == "`"
        assert failure.example
        assert failure.example in str(report)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["ok"] == report.ok
    assert [f["op"] for f in data["failures"]] == [f.op for f in report.failures]


def test_the_report_reads_like_a_teacher_wrote_it():
    report = check_engine(TanhOneMinusT)
    lines = str(report).splitlines()
    assert lines[0] == f"TanhOneMinusT: 1 problem ({report.passed} checks passed)"
    assert lines[2] == "1. tanh, local derivative: x.tanh()"
    assert lines[3].startswith("   In `x.tanh()` at x = 0.5, x.grad is 0.537883 but should be")
    assert ("Checked: add sub mul div powc rpow neg exp log sqrt tanh sigmoid relu softplus "
            "abs sin cos") in lines
    assert lines[-1] == "Skipped (no such op): pow"
    assert max(len(line) for line in lines) <= 90


def test_draw_highlights_the_wrong_node_with_expected_and_actual():
    report = check_engine(TanhOneMinusT)
    dot = report.draw()
    assert isinstance(dot, graphviz.Digraph)
    source = dot.source
    assert "#ffebe9" in source  # the wrong node is filled
    assert "grad should be 0.7864" in source
    assert "yours: grad 0.5379" in source
    assert "tanh, local derivative: x.tanh()" in source
    assert report.failures[0].draw().source == source


def test_draw_shows_a_forward_failure_and_an_ok_report():
    dot = check_engine(WrongForward).draw()
    assert "yours: 0.6487" in dot.source
    ok = check_engine(Good).draw()
    assert "all" in ok.source and "checks passed" in ok.source
    with pytest.raises(IndexError, match="out of range"):
        check_engine(TanhOneMinusT).draw(3)


@pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz dot program is missing")
def test_draw_renders(tmp_path):
    from chainrule.viz import save_graph

    for cls in (TanhOneMinusT, Overwrites, NoTopologicalOrder, WrongForward, NoBackwardAtAll):
        path = save_graph(check_engine(cls).draw(), tmp_path / f"{cls.__name__}.png")
        assert path.stat().st_size > 1000


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"cls": 3}, TypeError),
    ({"cls": Good, "timeout": 0}, ValueError),
    ({"cls": Good, "timeout": math.inf}, ValueError),
    ({"cls": Good, "timeout": True}, ValueError),
    ({"cls": Good, "isolation": "thread"}, ValueError),
    ({"cls": Good, "name": 3}, TypeError),
])
def test_bad_arguments(kwargs, error):
    cls = kwargs.pop("cls")
    with pytest.raises(error):
        check_engine(cls, **kwargs)


def test_docstring_examples():
    import doctest

    import chainrule.exercises

    result = doctest.testmod(chainrule.exercises, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 3


def _imports(path):
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_layers():
    """exercises uses engine and viz; engine, nn and viz (but the check command) never it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in (root / "exercises").rglob("*.py"):
        for name in _imports(path):
            if name.startswith("chainrule."):
                assert name.split(".")[1] in ("engine", "viz"), f"{path.name} imports {name}"
    for folder in ("engine", "nn", "viz"):
        for path in (root / folder).rglob("*.py"):
            users = [n for n in _imports(path) if n.startswith("chainrule.exercises")]
            if path.name == "cli.py":
                assert "def _check(" in path.read_text() and users  # lazily, in `check`
                continue
            assert not users, f"{folder}/{path.name} imports chainrule.exercises"
