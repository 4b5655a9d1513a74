"""Adding an op is one row of the rule table: a throwaway ``cube`` op, registered in a
fixture, is found on every path without another edit (the README's "Adding an op")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from chainrule.engine import RULES, Rule, Tape, Value, grad, gradcheck, register
from chainrule.viz import backward_steps, check_leaves, draw_graph, graph_text
from chainrule.viz.expr import build_expression, functions
from chainrule.viz.gradcheck import replay
from chainrule.viz.graph import topological_nodes


@pytest.fixture
def cube():
    rule = register(Rule(
        "cube", "cube", 1,
        forward=lambda x: x * x * x,
        numpy=lambda x, arg, out: np.multiply(x * x, x, out=out),
        local=lambda xp, out, x, arg: (3.0 * x * x,),
        derivative="d x^3/dx = 3 x^2",
        doc="``x ** 3``",
    ))
    yield rule
    del RULES["cube"]
    delattr(Value, "cube")


def test_the_new_op_is_a_value_method_with_its_derivative(cube):
    x = Value(1.5, label="x")
    y = x.cube()
    assert (y.data, y.op, y.rule) == (3.375, "cube", cube)
    y.backward()
    assert x.grad == 6.75
    assert Value.cube.__doc__ == "``x ** 3``; d x^3/dx = 3 x^2."
    (d,) = grad(y, [x], create_graph=True)  # the same row, on Values: a second derivative
    assert (d.data, grad(d, [x])[0].data) == (6.75, 9.0)
    assert gradcheck(lambda a: (a.cube() * a).tanh(), [0.7])


def test_the_new_op_replays_on_the_tape(cube):
    w = Value(2.0, label="w")
    tape = Tape.record(lambda v: (v[0] * w).cube(), [1.0], [w])
    assert tape.forward([[1.0], [-0.5]]).ravel().tolist() == [8.0, -1.0]
    dx = tape.backward()
    assert dx.ravel().tolist() == [24.0, 6.0]  # 3 (xw)^2 w
    assert w.grad == 3 * 4.0 * 1.0 + 3 * 1.0 * -0.5  # 3 (xw)^2 x, summed over the batch


def test_the_new_op_is_in_the_pictures_and_the_step_through(cube):
    x = Value(-0.5, label="x")
    y = x.cube() + x
    order = topological_nodes(y)
    assert replay(order)[y] == y.data  # the pictures' replay runs the row's forward
    assert [c.status for c in check_leaves(y)] == ["ok"]
    assert "cube" in draw_graph(y).source and "cube" in graph_text(y)
    step = next(s for s in backward_steps(y) if s.node.op == "cube")
    assert step.local == (0.75,)


def test_the_new_op_is_a_function_of_the_command_line(cube):
    assert functions()["cube"][1] == 0
    f, _ = build_expression("cube(x) * 2", {"x": 3.0})
    assert f.data == 54.0


def test_the_table_is_back_to_its_rows_after_the_fixture():
    assert "cube" not in RULES and not hasattr(Value, "cube")


# -- the engine stays readable in one sitting (issue "one op table, one backward walker") -----

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_engine_file_is_over_400_lines():
    long = {p.relative_to(ENGINE).as_posix(): _lines(p) for p in ENGINE.rglob("*.py")
            if _lines(p) > 400}
    assert long == {}


def test_the_core_is_under_600_lines_and_the_readme_says_how_many():
    core = sum(_lines(ENGINE / name) for name in ("value.py", "rules.py", "walk.py"))
    assert core < 600
    readme = (ENGINE.parent / "README.md").read_text(encoding="utf-8")
    assert f"Those three files are {core} lines, where micrograd's" in readme
