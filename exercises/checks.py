"""The expressions a student's engine is checked on, smallest first.

Each :class:`Check` is one small expression at one point, written once as a builder
that works on *any* micrograd-style class: the same builder runs on the student's class
(whose numbers are measured) and on chainrule's own ``Value`` (whose numbers are the
reference). The order of :data:`CHECKS` is the order of the report: a failure's
``example`` is the first (smallest) expression where it shows.

Forms, and what a wrong number in each means:

* ``core``: the op on Values alone (``x * y``, ``x.tanh()``): its forward value, or its
  local derivative.
* ``number``: a Value and a plain number (``x * 2``): the same, with the number wrapped.
* ``reflected``: the number on the left (``2 - x``), which Python sends to ``__rsub__``.
* ``upstream``: the op inside a product (``x.tanh() * k``), so its ``_backward`` must
  multiply by the gradient that arrives from above (the chain rule).
* ``accumulation``: a leaf used twice by one op (``x + x``): contributions must add up.
* ``order``: a node used twice, on paths of different lengths (diamonds), or a chain:
  backward must visit nodes in reverse topological order, each once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FORMS = ("core", "number", "reflected", "upstream", "accumulation", "order")

K = -2.5
"""The factor of every ``upstream`` check (``... * k``): an upstream gradient that is not 1."""


@dataclass(frozen=True)
class Check:
    """One expression to evaluate on a student's class and on chainrule's ``Value``.

    ``build(leaves)`` gets a dict of leaf Values by name and returns the named nodes of
    the expression, ``"out"`` (the root) included. ``attr`` is the method that implements
    the form (``"__rsub__"`` for ``2 - x``); ``needs`` are the ops (RULES names) whose
    own checks must pass before this one can be judged; ``focus`` names the node whose
    op is under test (drawn highlighted).
    """

    op: str
    form: str
    expr: str
    at: tuple[tuple[str, float], ...]
    build: Callable[[dict[str, Any]], dict[str, Any]]
    attr: str
    needs: tuple[str, ...] = ()
    focus: str = "out"

    @property
    def reflected(self) -> bool:
        """True for a number on the left of an operator (``2 - x``, ``2 ** x``)."""
        return self.form == "reflected" or self.op == "rpow"

    @property
    def point(self) -> dict[str, float]:
        """The leaves' values, by name."""
        return dict(self.at)

    def point_text(self) -> str:
        """``x = 1.5, y = -0.5``."""
        return ", ".join(f"{name} = {value:g}" for name, value in self.at)


def _c(op: str, form: str, expr: str, at: dict[str, float], build: Callable, attr: str,
       needs: tuple[str, ...] = (), focus: str = "out") -> Check:
    return Check(op, form, expr, tuple(at.items()), build, attr, needs, focus)


XY = {"x": 1.5, "y": -0.5}


def _binary() -> list[Check]:
    found = []
    for op, sym, attr, rattr, run, rrun in (
        ("add", "+", "__add__", "__radd__",
         lambda a, b: a + b, lambda n, a: n + a),
        ("sub", "-", "__sub__", "__rsub__",
         lambda a, b: a - b, lambda n, a: n - a),
        ("mul", "*", "__mul__", "__rmul__",
         lambda a, b: a * b, lambda n, a: n * a),
        ("div", "/", "__truediv__", "__rtruediv__",
         lambda a, b: a / b, lambda n, a: n / a),
    ):
        found.append(_c(op, "core", f"x {sym} y", XY,
                        lambda v, run=run: {"out": run(v["x"], v["y"])}, attr))
        found.append(_c(op, "number", f"x {sym} 2", {"x": 1.5},
                        lambda v, run=run: {"out": run(v["x"], 2)}, attr, (op,)))
        found.append(_c(op, "reflected", f"2 {sym} x", {"x": 1.5},
                        lambda v, rrun=rrun: {"out": rrun(2, v["x"])}, rattr, (op,)))
    return found


# x ** n for n in this order: the classic slips show on the negative exponents.
EXPONENTS = (2, 3, -1, -2, 0.5)

# name, the text of the call, the call, two points (the second one negative where the
# op has a branch or an odd/even symmetry to get wrong)
UNARY = (
    ("neg", "-x", "__neg__", lambda x: -x, (1.5,)),
    ("exp", "x.exp()", "exp", lambda x: x.exp(), (0.5, -1.0)),
    ("log", "x.log()", "log", lambda x: x.log(), (1.5, 0.4)),
    ("sqrt", "x.sqrt()", "sqrt", lambda x: x.sqrt(), (2.25, 0.49)),
    ("tanh", "x.tanh()", "tanh", lambda x: x.tanh(), (0.5, -1.2)),
    ("sigmoid", "x.sigmoid()", "sigmoid", lambda x: x.sigmoid(), (0.5, -1.5)),
    ("relu", "x.relu()", "relu", lambda x: x.relu(), (1.5, -0.5)),
    ("softplus", "x.softplus()", "softplus", lambda x: x.softplus(), (0.5, -1.2)),
    ("abs", "abs(x)", "__abs__", lambda x: abs(x), (1.5, -0.7)),
    ("sin", "x.sin()", "sin", lambda x: x.sin(), (0.5, 2.0)),
    ("cos", "x.cos()", "cos", lambda x: x.cos(), (0.5, 2.0)),
)


def _powers() -> list[Check]:
    found = []
    for n in EXPONENTS:
        found.append(_c("powc", "core", f"x ** {n:g}", {"x": 1.5},
                        lambda v, n=n: {"out": v["x"] ** n}, "__pow__"))
    found.append(_c("pow", "core", "x ** y", {"x": 1.5, "y": -0.5},
                    lambda v: {"out": v["x"] ** v["y"]}, "__pow__"))
    # 2 ** x is rpow's own form (the op exists only with the number on the left).
    found.append(_c("rpow", "core", "2 ** x", {"x": 1.5},
                    lambda v: {"out": 2 ** v["x"]}, "__rpow__"))
    return found


def _unary() -> list[Check]:
    found = []
    for op, text, attr, run, points in UNARY:
        for p in points:
            found.append(_c(op, "core", text, {"x": p},
                            lambda v, run=run: {"out": run(v["x"])}, attr))
    return found


def _wrap(text: str) -> str:
    # "x * y" -> "(x * y) * k"; "x.tanh()" -> "x.tanh() * k"
    return f"({text}) * k" if " " in text or text.startswith("-") else f"{text} * k"


def _upstream(core: list[Check]) -> list[Check]:
    """Each op inside ``... * k``: its backward must use the gradient from above."""
    found = []
    seen = set()
    for check in core:
        if check.form != "core" or check.op in seen or check.op == "rpow":
            continue
        if check.op == "powc" and check.expr != "x ** 2":
            continue
        seen.add(check.op)
        at = {**check.point, "k": K}

        def build(v, inner=check.build):
            u = inner(v)["out"]
            return {"u": u, "out": u * v["k"]}

        needs = tuple(dict.fromkeys((check.op, "mul")))
        found.append(_c(check.op, "upstream", _wrap(check.expr), at, build, check.attr,
                        needs, focus="u"))
    return found


def _structure() -> list[Check]:
    def chain(v):
        q = v["x"] + v["y"]
        return {"q": q, "out": q * v["z"]}

    def twice(v):
        b = v["x"] * v["y"]
        return {"b": b, "out": b + b}

    def long_first(v):
        b = v["x"] * v["y"]
        return {"b": b, "out": (b * v["z"]) * v["w"] + b}

    def short_first(v):
        b = v["x"] * v["y"]
        return {"b": b, "out": b + (b * v["z"]) * v["w"]}

    gate = {"x": -2.0, "y": 5.0, "z": -4.0}
    four = {"x": 1.5, "y": -0.5, "z": 2.0, "w": -3.0}
    return [
        _c("add", "accumulation", "x + x", {"x": 1.5},
           lambda v: {"out": v["x"] + v["x"]}, "__add__", ("add",)),
        _c("mul", "accumulation", "x * x", {"x": 1.5},
           lambda v: {"out": v["x"] * v["x"]}, "__mul__", ("mul",)),
        # The lecture's gate: the gradient must get past the first node.
        _c("add", "order", "q = x + y; f = q * z", gate, chain, "__add__",
           ("add", "mul"), focus="q"),
        _c("mul", "order", "b = x * y; f = b + b", XY, twice, "__mul__",
           ("add", "mul"), focus="b"),
        _c("mul", "order", "b = x * y; f = (b * z) * w + b", four, long_first, "__mul__",
           ("add", "mul"), focus="b"),
        _c("mul", "order", "b = x * y; f = b + (b * z) * w", four, short_first, "__mul__",
           ("add", "mul"), focus="b"),
    ]


def _catalogue() -> list[Check]:
    # add and mul first, then the structure of backward() on graphs of add and mul only,
    # then ops that micrograd-style engines derive from those (-x is x * -1, x - y is
    # x + -y, x / y is x * y**-1), so a fault shows first where it is made.
    binary, powers, unary = _binary(), _powers(), _unary()
    by_op = {op: [c for c in binary + powers + unary if c.op == op and c.form == "core"]
             for op in ("add", "mul", "neg", "sub", "powc", "div", "pow", "rpow")}
    core = by_op["add"] + by_op["mul"]
    later = [c for op in ("neg", "sub", "powc", "div", "pow", "rpow") for c in by_op[op]]
    later += [c for c in unary if c.op != "neg"]
    rest = [c for c in binary if c.form != "core"]
    return core + _structure() + later + rest + _upstream(core + later)


CHECKS: tuple[Check, ...] = tuple(_catalogue())
"""Every check, smallest expressions first."""

CHECKED_OPS: tuple[str, ...] = tuple(dict.fromkeys(c.op for c in CHECKS))
"""The RULES names that :func:`chainrule.exercises.check_engine` looks for."""
