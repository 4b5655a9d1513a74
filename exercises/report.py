"""What :func:`chainrule.exercises.check_engine` returns: failures, a text report, JSON,
and a picture of the smallest graph where the engine goes wrong."""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from chainrule.engine import RULES
from chainrule.engine.checks import integer

from .checks import Check
from .judge import Verdict, close, fmt, reference

_WRONG_FILL = "#ffebe9"


@dataclass
class Failure:
    """One thing a student's engine gets wrong.

    ``op`` is a ``RULES`` name; ``kind`` one of :data:`KINDS`; ``message`` says what is
    wrong and how to fix it; ``example`` is the smallest expression that shows it, and
    ``at`` the values of its inputs. ``node`` names the node whose number is wrong,
    ``expected`` and ``actual`` hold the numbers of every named node (``"x.grad"``,
    ``"f.data"``), and ``also`` lists further expressions with the same fault.

    Example:
        >>> from chainrule.exercises import check_engine
        >>> class Value:                     # mul's local derivatives use the wrong input
        ...     def __init__(self, data, children=()):
        ...         self.data, self.grad, self._prev = data, 0.0, children
        ...         self._backward = lambda: None
        ...     def __mul__(self, other):
        ...         out = Value(self.data * other.data, (self, other))
        ...         def _backward():
        ...             self.grad += self.data * out.grad     # should be other.data
        ...             other.grad += other.data * out.grad   # should be self.data
        ...         out._backward = _backward
        ...         return out
        ...     def backward(self):
        ...         self.grad = 1.0
        ...         self._backward()
        >>> (failure,) = check_engine(Value).failures
        >>> failure.op, failure.kind, failure.example, failure.at
        ('mul', 'local derivative', 'x * y', {'x': 1.5, 'y': -0.5})
        >>> failure.node, failure.expected["x.grad"], failure.actual["x.grad"]
        ('x', -0.5, 1.5)
    """

    op: str
    kind: str
    message: str
    example: str
    at: dict[str, float] = field(default_factory=dict)
    node: str | None = None
    expected: dict[str, float] = field(default_factory=dict)
    actual: dict[str, Any] = field(default_factory=dict)
    also: list[str] = field(default_factory=list)
    check: Check | None = field(default=None, repr=False, compare=False)
    what: str = field(default="grad", repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.op}, {self.kind}: {self.example}\n{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The failure as JSON-safe data (non-finite numbers as strings)."""
        return {"op": self.op, "kind": self.kind, "message": self.message,
                "example": self.example, "at": _json_numbers(self.at), "node": self.node,
                "expected": _json_numbers(self.expected), "actual": _json_numbers(self.actual),
                "also": list(self.also)}

    def draw(self, *, rankdir: str = "LR") -> Any:
        """The graph of ``example`` drawn by chainrule, the wrong node highlighted.

        Each box shows the right value (green) and gradient (red); the wrong node is
        filled red with the student's own number under the right one, and the op under
        test is circled. Returns a ``graphviz.Digraph``.
        """
        return draw_failure(self, rankdir=rankdir)


@dataclass
class EngineReport:
    """The result of :func:`chainrule.exercises.check_engine`.

    ``ok`` is True when no check failed and every check ran. ``failures`` lists
    :class:`Failure` objects, the most basic first; ``skipped`` the ``RULES`` names of ops
    the class does not have (not failures); ``unsupported`` the expressions it refuses
    although it has the op (``"2 - x"`` without ``__rsub__``); ``checked`` the ops it was
    checked on. ``str(report)`` is a report for people, :meth:`to_dict` for programs,
    :meth:`draw` a picture of a failure.

    Example:
        >>> from chainrule.exercises import check_engine
        >>> class Value:                     # forgets to add up: x.grad = ..., not +=
        ...     def __init__(self, data, children=()):
        ...         self.data, self.grad, self._prev = data, 0.0, children
        ...         self._backward = lambda: None
        ...     def __add__(self, other):
        ...         out = Value(self.data + other.data, (self, other))
        ...         def _backward():
        ...             self.grad = out.grad
        ...             other.grad = out.grad
        ...         out._backward = _backward
        ...         return out
        ...     def backward(self):
        ...         self.grad = 1.0
        ...         self._backward()
        >>> report = check_engine(Value)
        >>> report.ok, len(report.failures), report.checked, report.unsupported
        (False, 1, ['add'], ['x + 2', '2 + x'])
        >>> report.skipped[:3]
        ['sub', 'mul', 'div']
        >>> print(str(report).splitlines()[2])    # str(report): the whole report
        1. add, accumulation: x + x
    """

    engine: str
    failures: list[Failure]
    skipped: list[str]
    unsupported: list[str]
    checked: list[str]
    passed: int
    not_judged: list[str]
    not_run: list[str]
    seconds: float
    isolation: str

    @property
    def ok(self) -> bool:
        """True when every check that could run passed."""
        return not self.failures and not self.not_run

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.failures)} failures"
        return f"<EngineReport for {self.engine}: {state}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the text
        printer.text(str(self))

    def __str__(self) -> str:
        lines = []
        if self.ok:
            lines.append(f"{self.engine}: all {self.passed} checks passed")
        else:
            n = len(self.failures)
            problems = f"{n} problem{'s' if n != 1 else ''}"
            lines.append(f"{self.engine}: {problems} ({self.passed} checks passed)")
        for i, failure in enumerate(self.failures, 1):
            lines.append("")
            lines.append(f"{i}. {failure.op}, {failure.kind}: {failure.example}")
            rule = RULES[failure.op].derivative if failure.op in RULES else None
            lines += _paragraph(failure.message, [rule] if rule else [])
            if failure.also:
                shown = failure.also[:4]
                more = len(failure.also) - len(shown)
                text = "Also in: " + ", ".join(shown) + (f" and {more} more" if more else "")
                lines += _paragraph(text, shown)
        if self.failures or self.not_run:
            lines.append("")
        lines.append(_wrapped("Checked: ", " ".join(self.checked) or "nothing"))
        if self.skipped:
            lines.append(_wrapped("Skipped (no such op): ", " ".join(self.skipped)))
        if self.unsupported:
            lines.append(_wrapped("Not supported: ", ", ".join(self.unsupported)))
        if self.not_judged:
            lines.append(_wrapped("Not judged (they depend on something wrong or missing): ",
                                  _some(self.not_judged)))
        if self.not_run:
            lines.append(_wrapped("Not run (out of time): ", _some(self.not_run)))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data (``json.dumps(report.to_dict())``)."""
        return {"engine": self.engine, "ok": self.ok,
                "failures": [f.to_dict() for f in self.failures],
                "skipped": list(self.skipped), "unsupported": list(self.unsupported),
                "checked": list(self.checked), "passed": self.passed,
                "not_judged": list(self.not_judged), "not_run": list(self.not_run),
                "seconds": round(self.seconds, 4), "isolation": self.isolation}

    def draw(self, index: int = 0, *, rankdir: str = "LR") -> Any:
        """A picture of failure number ``index`` (the first by default).

        Its smallest failing graph, drawn by chainrule with the right values and
        gradients, the wrong node highlighted and the student's number shown beside the
        right one. For a report without failures, a one-box picture that says so.
        Returns a ``graphviz.Digraph`` (Jupyter shows it; ``.source`` is the DOT text).
        """
        if not self.failures:
            note = (f"{self.engine}: all {self.passed} checks passed" if self.ok
                    else f"{self.engine}: {len(self.not_run)} checks did not run")
            return _note_graph(note, "#dafbe1" if self.ok else "#fff8c5")
        index = integer(index, "index", message="{name} must be an int, got {type}")
        if not -len(self.failures) <= index < len(self.failures):
            raise IndexError(f"index {index} out of range: the report has "
                             f"{len(self.failures)} failures")
        return self.failures[index].draw(rankdir=rankdir)


_FORMULA = re.compile(r"[\w.)]+ (?:[-+*/=]|\*\*) [\w.(]+")


def _paragraph(text: str, keep: list[str]) -> list[str]:
    """``text`` wrapped and indented, never breaking inside the phrases in ``keep``."""
    glue = "\u00a0"  # textwrap breaks at ASCII whitespace only
    for phrase in keep:
        text = text.replace(phrase, phrase.replace(" ", glue))
    # "1 - t", "other - self", "x = 1.5": a formula reads badly across two lines.
    text = _FORMULA.sub(lambda m: m.group().replace(" ", glue), text)
    lines = textwrap.wrap(text, 86, initial_indent="   ", subsequent_indent="   ",
                          break_long_words=False, break_on_hyphens=False)
    return [line.replace(glue, " ") for line in lines]


def _some(items: list[str], shown: int = 8) -> str:
    text = ", ".join(items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")


def _wrapped(head: str, text: str) -> str:
    return "\n".join(textwrap.wrap(head + text, 90, subsequent_indent="  "))


def _json_numbers(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, float):
            out[key] = value if math.isfinite(value) else str(value)
        elif isinstance(value, dict):
            out[key] = fmt(value)
        else:
            out[key] = value
    return out


# -- building a report from verdicts ------------------------------------------------------------


def _numbers_of(verdict: Verdict) -> tuple[dict[str, float], dict[str, Any]]:
    check, measured = verdict.check, verdict.measured
    try:
        _, ref_data, ref_grad = reference(check)
    except Exception:  # pragma: no cover - chainrule computes every check
        return {}, {}

    def key(name: str, what: str) -> str:
        return f"{'f' if name == 'out' else name}.{what}"

    expected: dict[str, float] = {}
    actual: dict[str, Any] = {}
    for name, value in ref_data.items():
        expected[key(name, "data")] = value
        got = measured.get("data", {}).get(name, measured.get("leaf_data", {}).get(name))
        if got is not None:
            actual[key(name, "data")] = got
    for name, value in ref_grad.items():
        expected[key(name, "grad")] = value
        got = measured.get("grad1", {}).get(name)
        if got is not None:
            actual[key(name, "grad")] = got
    return expected, actual


def not_judged_exprs(verdicts: list[Verdict]) -> list[str | None]:
    """For each verdict, its expression if it was not judged, else None."""
    return [v.check.expr if v.status == "not judged" else None for v in verdicts]


def build_report(engine: str, verdicts: list[Verdict], seconds: float,
                 isolation: str) -> EngineReport:
    """Group verdicts into failures (one per op and kind; one per kind for backward())."""
    failures: dict[tuple[str, str], Failure] = {}
    tried: dict[str, bool] = {}  # op -> the class has it and it ran (False: it lacks it)
    unsupported: list[str] = []
    not_run: list[str] = []
    passed = 0
    for v in verdicts:
        check = v.check
        if check.form == "core":
            if v.status == "unsupported":
                tried.setdefault(check.op, False)
            elif not (v.scope == "engine" and v.kind == "forward"):  # a broken constructor
                tried[check.op] = True
        if v.status == "pass":
            passed += 1
        elif v.status == "unsupported":
            unsupported.append(check.expr)
        elif v.status == "not run":
            not_run.append(check.expr)
        elif v.status == "fail":
            kind = v.kind or "forward"
            key = ("backward()", kind) if v.scope == "engine" else (check.op, kind)
            if key in failures:
                failure = failures[key]
                if check.expr != failure.example and check.expr not in failure.also:
                    failure.also.append(check.expr)
                continue
            expected, actual = _numbers_of(v)
            failures[key] = Failure(op=check.op, kind=kind, message=v.message,
                                    example=check.expr, at=check.point, node=v.node,
                                    expected=expected, actual=actual, check=check,
                                    what=v.what)
    # Expressions not judged because their own op already failed add nothing.
    failed_ops = {f.op for key, f in failures.items() if key[0] != "backward()"}
    not_judged = [e for e, v in zip(not_judged_exprs(verdicts), verdicts)
                  if e is not None and v.check.op not in failed_ops]
    table = list(RULES)  # listed in the rule table's order
    skipped = sorted((op for op, has in tried.items() if not has), key=table.index)
    checked = sorted((op for op, has in tried.items() if has), key=table.index)
    # A form the class refuses is listed once; ops it lacks entirely are in skipped.
    lacking = {v.check.expr for v in verdicts if v.check.op in skipped}
    unsupported = [e for e in dict.fromkeys(unsupported) if e not in lacking]
    # A seed that is not 1 spoils every gradient: it goes first; the rest as found.
    ordered = sorted(failures.values(), key=lambda f: f.kind != "seed")
    return EngineReport(engine=engine, failures=ordered, skipped=skipped,
                        unsupported=unsupported, checked=checked, passed=passed,
                        not_judged=list(dict.fromkeys(not_judged)),
                        not_run=list(dict.fromkeys(not_run)), seconds=seconds,
                        isolation=isolation)


# -- pictures -------------------------------------------------------------------------------------


def _note_graph(text: str, fill: str) -> Any:
    from chainrule.viz.graph import Style, escape, new_digraph

    dot = new_digraph(Style())
    lines = textwrap.wrap(text, 60) or [""]
    label = "<" + "<br/>".join(escape(line, 200) for line in lines) + ">"
    dot.node("note", label=label, shape="box", style="rounded,filled", fillcolor=fill,
             color="#57606a")
    return dot


def draw_failure(failure: Failure, *, rankdir: str = "LR") -> Any:
    """See :meth:`Failure.draw`."""
    from chainrule.viz.graph import (
        RED,
        Style,
        build_dot,
        check_style_args,
        escape,
        topological_nodes,
    )

    check_style_args(rankdir, 4, 60.0)
    check = failure.check
    if check is None:
        return _note_graph(failure.message, _WRONG_FILL)
    named, _, ref_grad = reference(check)
    title = f"{failure.op}, {failure.kind}: {failure.example}  at {check.point_text()}"

    def font(text: str) -> str:
        return f'<font color="{RED}" point-size="10"><b>{escape(text, 60)}</b></font>'

    fill: dict[Any, str] = {}
    pen: dict[Any, str] = {}
    grad_text: dict[Any, str] = {}
    extra: dict[Any, list[str]] = {}
    measured = any(key.endswith(".grad") for key in failure.actual)
    show_grad = failure.what != "data" and measured
    if failure.what != "data" and not measured and failure.node in named:
        # backward() is missing, raised, or never finished: no gradient to compare
        extra[named[failure.node]] = [font("yours: no gradients")]
    for name, node in named.items():
        shown = "f" if name == "out" else name
        if failure.what == "data":
            got = failure.actual.get(f"{shown}.data")
            if name == failure.node and got is not None:
                extra[node] = [font(f"yours: {fmt(got, 4)}")]
            continue
        got = failure.actual.get(f"{shown}.grad")
        want = ref_grad[name]
        if got is None:
            continue
        if name == failure.node or not close(got, want):
            grad_text[node] = f"grad should be {fmt(want, 4)}"
            extra[node] = [font(f"yours: grad {fmt(got, 4)}")]
            fill[node], pen[node] = _WRONG_FILL, RED
    wrong = named.get(failure.node) if failure.node else None
    if wrong is not None:
        fill[wrong] = _WRONG_FILL
        pen[wrong] = RED
    focus = named.get(check.focus)
    # The op under test is circled, unless the fault is backward()'s own (its seed).
    active = {focus} if focus is not None and focus.parents and failure.kind != "seed" else set()
    style = Style(rankdir=rankdir, show_grad=show_grad, title=title, fill=fill, pen=pen,
                  grad_text=grad_text, extra_rows=extra, active_ops=active)
    return build_dot(topological_nodes(named["out"]), style)
