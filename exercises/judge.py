"""Judging what a student's engine computed against chainrule's reference.

The runner measured numbers; here each check gets a verdict, and the verdicts become
the failures of the report: one per op and kind (the first, smallest expression is the
``example``; later ones are listed in ``also``), and a single one for problems of
``backward()`` as a whole (its seed, its order, a missing method).

Judging follows the dependencies between checks: ``x.tanh() * k`` is judged only once
``tanh`` and ``mul`` passed on their own, so a wrong ``mul`` is reported once, as a
wrong ``mul``, and not again as a wrong everything-inside-a-product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from chainrule.engine import RULES, Value

from .checks import Check, K

KINDS = ("forward", "local derivative", "accumulation", "order", "seed", "reflected")
"""The kinds of failure, in the order a teacher would fix them."""

RTOL, ATOL = 1e-6, 1e-9
"""A student's number passes when ``|actual - expected| <= ATOL + RTOL * |expected|``:
loose enough for any correct formula (``tanh`` written with ``exp``), tight enough for
every slip."""

_REFUSALS = ("NotImplementedError", "AssertionError")
_OPERAND_REFUSALS = ("TypeError", "AttributeError")


@dataclass
class Verdict:
    """The outcome of one check."""

    check: Check
    status: str  # pass, fail, unsupported, not judged, not run
    kind: str | None = None
    message: str = ""
    node: str | None = None  # the node whose number is wrong
    what: str = "grad"  # which number of it: data or grad
    scope: str = "op"  # "op": belongs to check.op; "engine": to the class as a whole
    stalled: str = ""  # "forward" or "backward" when it did not finish in time
    measured: dict[str, Any] = field(default_factory=dict)


def close(actual: Any, expected: float) -> bool:
    """True when the student's ``actual`` matches ``expected`` (nan matches nan)."""
    if not isinstance(actual, float):
        return False
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return abs(actual - expected) <= ATOL + RTOL * abs(expected)


def fmt(value: Any, digits: int = 6) -> str:
    """A number as a student reads it (6 significant digits), or why it is not one."""
    if isinstance(value, float):
        if value == 0.0:
            return "0"
        return f"{value:.{digits}g}"
    if isinstance(value, dict):
        if value.get("missing"):
            return "missing"
        if "raised" in value:
            return f"an error ({value['raised']})"
        return value.get("bad", "?")
    return str(value)


# -- the reference ---------------------------------------------------------------------------


def reference(check: Check) -> tuple[dict[str, Value], dict[str, float], dict[str, float]]:
    """chainrule's own graph of ``check``, with its values and gradients by node name."""
    leaves = {name: Value(value, label=name) for name, value in check.at}
    nodes = check.build(leaves)
    for name, node in nodes.items():
        node.label = "f" if name == "out" else name
    out = nodes["out"]
    out.backward()
    named = {**leaves, **{n: v for n, v in nodes.items() if n not in leaves}}
    data = {n: v.data for n, v in named.items()}
    grads = {n: v.grad for n, v in named.items()}
    return named, data, grads


# -- messages ----------------------------------------------------------------------------------

_DUNDER = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__",
           "neg": "__neg__", "powc": "__pow__", "pow": "__pow__", "rpow": "__rpow__",
           "abs": "__abs__"}
_REFLECTED = {"add": ("__radd__", "other + self"), "sub": ("__rsub__", "other - self"),
              "mul": ("__rmul__", "other * self"), "div": ("__rtruediv__", "other / self"),
              "rpow": ("__rpow__", "other ** self")}


# What a reflected op computes when it forgets that the number is on the left.
_SWAPPED = {"sub": lambda x: x - 2, "div": lambda x: x / 2, "rpow": lambda x: x ** 2}


def _method(op: str) -> str:
    return f"`{_DUNDER.get(op, op)}`"


def _rule(op: str) -> str:
    return RULES[op].derivative if op in RULES else ""


def _raised(error: dict[str, str]) -> str:
    where = f" ({error['where']})" if error.get("where") else ""
    return f"{error['text']}{where}"


def _hint(check: Check, node: str, actual: float, expected: float) -> str:
    """What a teacher would say on seeing ``actual`` where ``expected`` belongs."""
    op, p = check.op, check.point
    x = p.get("x", 0.0)
    if close(actual, 0.0) and not close(expected, 0.0):
        if check.form == "upstream":
            return ""
        which = "its second operand (`other`)" if node == "y" else node
        return f"{node}.grad stayed 0: {op}'s `_backward` never adds anything to {which}"
    if check.form == "upstream" and close(actual, expected / K):
        return (f"that is the local derivative alone: {op}'s `_backward` must multiply it "
                f"by out.grad, the gradient that arrives from above (here k = {K:g}); "
                "that is the chain rule")
    candidates: list[tuple[float, str]] = []
    if op == "tanh":
        t = math.tanh(x)
        candidates += [(1 - t, "that is 1 - t; the derivative of tanh is 1 - t**2, with "
                               "t = tanh(x), the output"),
                       (1 - x * x, "that is 1 - x**2: square the output t = tanh(x), "
                                   "not the input x")]
    elif op == "sigmoid":
        s = 1 / (1 + math.exp(-x))
        candidates += [(s, "that is s itself; the derivative of sigmoid is s * (1 - s)"),
                       (x * (1 - x), "that is x * (1 - x): use the output s = sigmoid(x), "
                                     "not the input x")]
    elif op == "exp":
        candidates += [(1.0, "the derivative of exp(x) is exp(x) itself (out.data)"),
                       (x, "the derivative of exp(x) is exp(x) itself (out.data), not x")]
    elif op == "log":
        candidates += [(x, "the derivative of log(x) is 1/x"),
                       (math.log(x) if x > 0 else math.nan,
                        "the derivative of log(x) is 1/x, not log(x)")]
    elif op == "sqrt":
        candidates += [(1 / math.sqrt(x) if x > 0 else math.nan,
                        "that is 1/sqrt(x): the derivative of sqrt(x) is 1/(2 sqrt(x))")]
    elif op == "relu":
        candidates += [(x, "that is x, the value: the slope of relu is 1 for x > 0 and "
                           "0 below")]
    elif op == "softplus":
        candidates += [(math.exp(x), "that is exp(x): the derivative of log(1 + exp(x)) is "
                                     "exp(x) / (1 + exp(x)) = sigmoid(x)")]
    elif op == "mul" and node in p:
        candidates += [(p[node], f"that is {node}'s own value: the derivative of x * y with "
                                 "respect to x is y (other.data), and with respect to y is "
                                 "x (self.data)")]
    elif op == "div" and node == "y":
        y = p["y"]
        candidates += [(-1 / (y * y), "that is -1/y**2: the derivative of x / y with respect "
                                      "to y is -x/y**2"),
                       (1 / y, "that is 1/y, the derivative with respect to x; with respect "
                               "to y it is -x/y**2")]
    elif op == "powc":
        n = float(check.expr.split("**")[1])
        candidates += [(abs(n) * x ** (n - 1), "the sign of the negative exponent got lost: "
                                               "d/dx x**n = n * x**(n-1) holds for n < 0 too"),
                       (n * x ** n, "that is n * x**n: the exponent must drop by one, "
                                    "n * x**(n-1)"),
                       (x ** (n - 1), "that is x**(n-1): the factor n is missing"),
                       (n * x ** (n + 1), "that is n * x**(n+1): the exponent goes down by "
                                          "one, not up")]
    elif op == "sub" and node == "y":
        candidates += [(1.0, "the derivative of x - y with respect to y is -1")]
    for value, text in candidates:
        if close(actual, value) and not close(expected, value):
            return text
    if close(actual, -expected):
        return "the sign is wrong"
    return ""


def _sentence(text: str) -> str:
    return f" ({text})" if text else ""


# -- judging one check ----------------------------------------------------------------------


class Judge:
    """Verdicts for every check of one run, in order."""

    def __init__(self, checks: list[Check], results: list[dict[str, Any]]) -> None:
        self.checks = checks
        self.results = results
        self.verdicts: list[Verdict] = []
        self.core_ok: dict[str, bool] = {}  # op -> every core check passed
        self.supported_ops: set[str] = set()
        self.accumulation_ok = True
        self.order_broken = False
        self.grads_judgeable = True
        self.engine_notes: list[str] = []
        self._ref: dict[int, tuple] = {}

    def ref(self, i: int) -> tuple:
        if i not in self._ref:
            self._ref[i] = reference(self.checks[i])
        return self._ref[i]

    def run(self) -> list[Verdict]:
        for i, (check, result) in enumerate(zip(self.checks, self.results)):
            verdict = self.judge(i, check, result)
            verdict.measured = result
            self.verdicts.append(verdict)
            if check.form == "core":
                if verdict.status != "unsupported":
                    self.supported_ops.add(check.op)
                # A fault of backward() as a whole is reported once, as such: the op
                # itself counts as right, so checks that build on it still run.
                ok = verdict.status == "pass" or (verdict.status == "fail"
                                                  and verdict.scope == "engine")
                self.core_ok[check.op] = self.core_ok.get(check.op, True) and ok
            if check.form == "accumulation" and verdict.status == "fail":
                self.accumulation_ok = False
            if verdict.kind == "order":
                self.order_broken = True
        self._backward_loops()
        return self.verdicts

    def _backward_loops(self) -> None:
        """backward() stalled for two ops or more: its own walk loops, not a `_backward`."""
        stalled = [v for v in self.verdicts if v.stalled == "backward"]
        if len({v.check.op for v in stalled}) < 2:
            return
        first, second = stalled[0].check.expr, stalled[1].check.expr
        for v in stalled:
            v.kind, v.scope = "order", "engine"
            v.message = (f"backward() did not finish within the time limit on `{first}`, "
                         f"nor on `{second}`, so the loop is most likely in backward() "
                         "itself: a `while` whose condition never changes, or a walk over "
                         "the graph that never marks the nodes it has visited. (Gradients "
                         "were not checked after that.)")

    def _needs_missing(self, check: Check) -> str | None:
        for op in check.needs:
            if not self.core_ok.get(op, False):
                why = "is not supported" if op not in self.supported_ops else "is wrong"
                return f"needs {op}, which {why}"
        if check.form == "order" and not self.accumulation_ok:
            return "needs accumulation (+=) to be right first"
        return None

    def kind_for(self, check: Check, stage: str) -> str:
        if check.reflected:
            return "reflected"
        if stage in ("construct", "forward"):
            return "forward"
        return {"accumulation": "accumulation", "order": "order"}.get(check.form,
                                                                      "local derivative")

    def judge(self, i: int, check: Check, r: dict[str, Any]) -> Verdict:
        status = r.get("status")
        if status == "not run":
            reason = r.get("reason", "")
            # Skipped after a loop elsewhere: that loop is the failure. Out of time: the
            # report is incomplete, so not ok.
            return Verdict(check, "not run" if reason == "time limit" else "not judged",
                           message=reason)
        missing = self._needs_missing(check)
        if missing is not None:
            if check.op in self.core_ok and check.op not in self.supported_ops:
                return Verdict(check, "unsupported", message=f"no {check.op}")
            return Verdict(check, "not judged", message=missing)
        stage = r.get("stage", "forward")
        if status == "timeout":
            return self._timeout(check, stage)
        if status == "crashed":
            return Verdict(check, "fail", self.kind_for(check, stage),
                           f"`{check.expr}` at {check.point_text()}: the process running it "
                           f"died ({r.get('exit')}) in {self._stage_text(stage)}. Look for "
                           "os._exit or endless recursion there.",
                           node="out", what="data" if stage != "backward" else "grad")
        error = r.get("error")
        if error is not None:
            return self._error(check, stage, error, r)
        return self._numbers(i, check, r)

    @staticmethod
    def _stage_text(stage: str) -> str:
        return {"construct": "the constructor", "backward": "backward()"}.get(
            stage, "the forward pass")

    def _timeout(self, check: Check, stage: str) -> Verdict:
        if stage == "backward":
            return Verdict(check, "fail", self.kind_for(check, stage),
                           f"In `{check.expr}`, backward() did not finish within the time "
                           f"limit, though it does for other ops: look for a loop that never "
                           f"ends in {check.op}'s `_backward`.", node=check.focus,
                           stalled="backward")
        where = "the constructor Value(...)" if stage == "construct" else f"`{check.expr}`"
        return Verdict(check, "fail", self.kind_for(check, "forward"),
                       f"{where} at {check.point_text()} did not finish within the time "
                       f"limit: look for a loop that never ends in {_method(check.op)}.",
                       node="out", what="data", stalled="forward",
                       scope="engine" if stage == "construct" else "op")

    def _error(self, check: Check, stage: str, error: dict[str, str],
               r: dict[str, Any]) -> Verdict:
        kind = error["type"]
        if stage == "construct":
            return Verdict(check, "fail", "forward",
                           f"Value({check.at[0][1]:g}) raised {_raised(error)}: a Value must "
                           "be made from any number, and nothing else can be checked before "
                           "it is.",
                           node=check.at[0][0], what="data", scope="engine")
        if stage == "forward":
            refused = (not r.get("supported", True) or kind in _REFUSALS
                       or (kind == "TypeError" and "unsupported operand" in error["text"])
                       or (kind in _OPERAND_REFUSALS
                           and (check.form in ("number", "reflected") or check.op == "pow")))
            if refused and check.form in ("core", "number", "reflected"):
                return Verdict(check, "unsupported", message=error["text"])
            return Verdict(check, "fail", self.kind_for(check, stage),
                           f"`{check.expr}` at {check.point_text()} raised {_raised(error)}.",
                           node="out", what="data")
        # backward
        in_backward = error.get("where", "").startswith("in backward,")
        if kind == "NotImplementedError" and in_backward:
            return Verdict(check, "fail", "seed",
                           f"Calling backward() raised {_raised(error)}: write backward() (set the "
                           "output's grad to 1, then call `_backward` on every node in "
                           "reverse topological order).", node="out", scope="engine")
        if in_backward:
            return Verdict(check, "fail", "order",
                           f"In `{check.expr}` at {check.point_text()}, backward() raised "
                           f"{_raised(error)}.", node="out", scope="engine")
        return Verdict(check, "fail", self.kind_for(check, "backward"),
                       f"In `{check.expr}` at {check.point_text()}, backward() raised "
                       f"{_raised(error)}: the error is in {check.op}'s `_backward`.",
                       node=check.focus)

    def _numbers(self, i: int, check: Check, r: dict[str, Any]) -> Verdict:
        refl = check.reflected
        kind_f = self.kind_for(check, "forward")
        # Leaves: the constructor keeps the number, and grad starts at 0.
        for name, value in check.at:
            got = r.get("leaf_data", {}).get(name)
            if not close(got, value):
                return Verdict(check, "fail", "forward",
                               f"Value({value:g}).data is {fmt(got)}: a Value must keep the "
                               "number it is made from as its `data`.", node=name, what="data",
                               scope="engine")
        for name, _ in check.at:
            got = r.get("leaf_grad", {}).get(name)
            if not close(got, 0.0):
                return Verdict(check, "fail", "seed",
                               f"Value({check.point[name]:g}).grad is {fmt(got)} before any "
                               "backward(): every Value must start with grad = 0.",
                               node=name, scope="engine")
        if not r.get("out_is_node", False):
            what = r.get("out_type", "?")
            return Verdict(check, "fail", kind_f,
                           f"`{check.expr}` returned a {what}, not a Value: every op must "
                           "return a new Value (with the inputs as its children), or "
                           "backward() cannot reach the inputs.", node="out", what="data")
        _, ref_data, ref_grad = self.ref(i)
        got = r["data"].get("out")
        want = ref_data["out"]
        if not close(got, want):
            if isinstance(got, dict):
                text = (f"`{check.expr}` at {check.point_text()} gives a Value whose data is "
                        f"{fmt(got)}: data must be a number ({fmt(want)} here).")
            else:
                text = (f"`{check.expr}` at {check.point_text()} gives {fmt(got)} but should "
                        f"give {fmt(want)}.")
            if refl:
                method, formula = _REFLECTED[check.op]
                text += (f" Python computes `{check.expr}` as x.{method}(2), so {method}"
                         f"(self, other) must compute {formula}")
                swapped = _SWAPPED.get(check.op)
                if swapped is not None and close(got, swapped(check.point["x"])):
                    text += f", not {formula.split()[2]} {formula.split()[1]} other"
                text += "."
            elif check.form in ("core", "number"):
                text += f" The forward value of {check.op} is wrong: check {_method(check.op)}."
            return Verdict(check, "fail", kind_f, text, node="out", what="data")
        for name, value in check.at:
            after = r.get("leaf_data_after", {}).get(name)
            if not close(after, value):
                return Verdict(check, "fail", kind_f,
                               f"`{check.expr}` changed its input: {name}.data was {value:g} "
                               f"and is {fmt(after)} afterwards. An op must leave its inputs "
                               "as they are and put its result in a new Value.",
                               node=name, what="data")
        if r.get("backward_skipped"):
            return Verdict(check, "not judged", message="backward() was not run (it did "
                                                        "not finish on earlier checks)")
        if r.get("no_backward"):
            return Verdict(check, "fail", "seed",
                           f"The result of `{check.expr}` has no backward() method, so no "
                           "gradient can be checked: write backward(), which sets the "
                           "output's grad to 1 and then calls `_backward` on every node in "
                           "reverse topological order.", node="out", scope="engine")
        return self._grads(i, check, r, ref_grad)

    def _grads(self, i: int, check: Check, r: dict[str, Any],
               ref_grad: dict[str, float]) -> Verdict:
        grad0, grad1 = r.get("grad0", {}), r.get("grad1", {})
        seed = grad1.get("out")
        if not isinstance(seed, float):
            self.grads_judgeable = False
            return Verdict(check, "fail", "seed",
                           f"After `f.backward()` with f = {check.expr}, f.grad is "
                           f"{fmt(seed)}: backward() must set the output's own grad to 1 "
                           "(df/df = 1) before passing gradients back.",
                           node="out", scope="engine")
        if not close(seed, 1.0):
            if close(seed, 0.0) or not math.isfinite(seed):
                self.grads_judgeable = False
                return Verdict(check, "fail", "seed",
                               f"After `f.backward()` with f = {check.expr}, f.grad is "
                               f"{fmt(seed)} but should be 1: backward() must start by "
                               "setting the output's own grad to 1 (df/df = 1); with "
                               f"{fmt(seed)} there every gradient comes out "
                               f"{'0' if close(seed, 0.0) else 'wrong'}.",
                               node="out", scope="engine")
            verdict = Verdict(check, "fail", "seed",
                              f"After `f.backward()` with f = {check.expr}, f.grad is "
                              f"{fmt(seed)} but should be 1 (df/df = 1): every gradient "
                              f"comes out {fmt(seed)} times too large. (The other checks "
                              "allow for that factor.)", node="out", scope="engine")
            # Go on judging the op itself, with the gradients divided by the seed.
            op_verdict = self._compare(check, grad0, grad1, seed, ref_grad)
            return op_verdict if op_verdict.status == "fail" else verdict
        return self._compare(check, grad0, grad1, seed, ref_grad)

    def _compare(self, check: Check, grad0: dict, grad1: dict, seed: float,
                 ref_grad: dict[str, float]) -> Verdict:
        leaves = [name for name, _ in check.at]
        inner = [n for n in ref_grad if n not in leaves and n != "out"]
        for name in leaves + inner:
            before, after = grad0.get(name), grad1.get(name)
            want = ref_grad[name]
            if not isinstance(after, float):
                text = (f"After backward() of `{check.expr}`, {name}.grad is {fmt(after)}, "
                        "not a number.")
                if isinstance(after, dict) and "node" in after.get("bad", ""):
                    text += (" Gradients are plain numbers: in `_backward`, multiply "
                             "numbers (other.data * out.grad), not Values.")
                return Verdict(check, "fail", self.kind_for(check, "backward"), text,
                               node=name)
            got = (after - (before if isinstance(before, float) else 0.0)) / seed
            if close(got, want):
                continue
            return self._wrong_grad(check, name, got, want)
        return Verdict(check, "pass")

    def _wrong_grad(self, check: Check, name: str, got: float, want: float) -> Verdict:
        at = check.point_text()
        head = f"In `{check.expr}` at {at}, {name}.grad is {fmt(got)} but should be {fmt(want)}"
        if check.form == "accumulation":
            return Verdict(check, "fail", "accumulation",
                           f"{head}. x is used twice, so both contributions must be added "
                           "up: in `_backward` write `self.grad += ...` and `other.grad += "
                           "...`, never `self.grad = ...`.", node=name)
        lost = close(got, 0.0) and not close(want, 0.0)
        if check.form == "order" or (lost and (check.form == "upstream"
                                               or self.order_broken)):
            if check.form == "order" and check.focus == "b":
                detail = ("Each op on its own is right, but b is used twice, so b's "
                          "`_backward` may run only once, after both uses have passed their "
                          "gradient to b. Build a topological order (each node after the "
                          "nodes it is computed from, each node once) and call `_backward` "
                          "in reverse of that order, as the lecture's build_topo does.")
            elif check.form == "upstream":
                detail = (f"{check.expr.split(' * k')[0]} is computed before the product, "
                          "but its `_backward` ran before the product's had passed it any "
                          "gradient (or never ran). backward() must call `_backward` on the "
                          "nodes in reverse topological order: the output first, and each "
                          "node after every node that uses it.")
            else:
                detail = (f"{name}.grad never received its gradient. backward() must call "
                          "`_backward` on every node of the graph, not only on the output, "
                          "and in reverse topological order: from the output back to the "
                          "inputs, each node after every node that uses it.")
            return Verdict(check, "fail", "order", f"{head}. {detail}", node=name,
                           scope="engine")
        hint = _hint(check, name, got, want)
        if check.reflected:
            method, formula = _REFLECTED[check.op]
            return Verdict(check, "fail", "reflected",
                           f"{head}{_sentence(hint)}. The value is right, so the gradient "
                           f"of {method} is wrong: it must be the gradient of {formula}.",
                           node=name)
        rule = _rule(check.op)
        return Verdict(check, "fail", "local derivative",
                       f"{head}{_sentence(hint)}. The value of `{check.expr}` is right, so "
                       f"the local derivative in {check.op}'s `_backward` is wrong: "
                       f"{rule}.", node=name)
