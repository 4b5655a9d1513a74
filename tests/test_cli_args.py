"""Arguments of the ``chainrule`` command and of the libraries behind it: each bad one
exits 2 naming the option and the value, and a failed run leaves no folder behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from chainrule.engine import Value
from chainrule.viz import cli
from chainrule.viz.expr import MAX_DEPTH, MAX_NODES, ExpressionError, build_expression

CLI = [sys.executable, "-m", "chainrule.viz.cli"]


def run(*args: str, cwd: Path):
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def one_line(proc, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# -- --seed (issue case 7) -----------------------------------------------------------------


def test_a_negative_seed_exits_2_naming_the_option_and_the_value(tmp_path):
    proc = run("train", "--seed", "-1", "-o", "out", cwd=tmp_path)
    line = one_line(proc, 2)
    assert line == ("chainrule train: error: argument --seed: expected an integer from 0 to "
                    "4294967295, got '-1'")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["train", "demo"])
@pytest.mark.parametrize("seed", ["-1", "4294967296", "1.5", "abc", "1e3", ""])
def test_bad_seeds_are_usage_errors(tmp_path, capsys, command, seed):
    with pytest.raises(SystemExit) as info:
        cli.main([command, f"--seed={seed}", "-o", str(tmp_path / "out")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"chainrule {command}: error: argument --seed: expected an integer from 0 to " \
           f"4294967295, got {seed!r}" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", ["0", "4294967295", " 7 "])
def test_seeds_in_range_are_taken(seed):
    args = cli.build_parser().parse_args(["train", "--seed", seed])
    assert args.seed == int(seed)


# -- no empty output folder after a failed run (issue case 7) -------------------------------


class BoomError(Exception):
    pass


def _fail_in_fit(*args, **kwargs):
    raise BoomError("the loss became nan at step 3")


@pytest.mark.parametrize("command", ["train", "demo"])
def test_a_failed_run_leaves_no_output_folder(tmp_path, capsys, monkeypatch, command):
    import chainrule.nn as nn

    monkeypatch.setattr(nn, "fit", _fail_in_fit)
    target = tmp_path / "a" / "b" / "out"
    args = [command, "-o", str(target), "--no-progress", "--epochs", "1"]
    assert cli.main(args) == 1
    assert "the loss became nan at step 3" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither out, nor the a/b it had to create


def test_a_run_failing_after_writing_removes_what_it_wrote(tmp_path, capsys, monkeypatch):
    import chainrule.nn as nn

    def fail_saving(self, path, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nn.Module, "save", fail_saving)
    out = tmp_path / "out"
    assert cli.main(["train", "--epochs", "1", "--samples", "20", "--hidden", "2",
                     "--no-progress", "-o", str(out)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # loss.png and decision_boundary.png removed too


def test_a_failed_run_keeps_a_folder_that_was_there(tmp_path, monkeypatch):
    import chainrule.nn as nn

    monkeypatch.setattr(nn, "fit", _fail_in_fit)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert cli.main(["train", "-o", str(out), "--no-progress"]) == 1
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_an_interrupted_run_leaves_no_output_folder(tmp_path, monkeypatch):
    import chainrule.nn as nn

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nn, "fit", interrupt)
    assert cli.main(["train", "-o", str(tmp_path / "out"), "--no-progress"]) == 130
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_output_location_is_found_before_training(tmp_path, monkeypatch, capsys):
    import chainrule.nn as nn

    monkeypatch.setattr(nn, "fit", _fail_in_fit)  # must not be reached
    (tmp_path / "file").write_text("x")
    assert cli.main(["train", "-o", str(tmp_path / "file" / "out"), "--no-progress"]) == 2
    assert "is not a folder" in capsys.readouterr().err


# -- expression size and depth (issue case 8) -------------------------------------------------


@pytest.mark.parametrize("terms", [50, 100, 200])
def test_a_flat_sum_is_not_nesting(terms):
    out, leaves = build_expression(" + ".join(["x"] * terms), {"x": 0.5})
    out.backward()
    assert out.data == 0.5 * terms and leaves["x"].grad == terms


def test_flat_chains_of_products_and_mixed_signs_too():
    out, leaves = build_expression("*".join(["x"] * 60) + " - x / x" * 20, {"x": 1.0})
    out.backward()
    assert out.data == -19.0 and leaves["x"].grad == 60.0
    # each partial result is labelled with its sub-expression, as before
    assert out.parents[0].label.startswith("x * x * x")


def test_size_and_depth_have_their_own_limits_and_messages():
    flat = "+".join(["x"] * 300)
    with pytest.raises(ExpressionError, match=rf"the expression is too large \(599 operations "
                                              rf"and operands, limit {MAX_NODES}\)") as info:
        build_expression(flat, {"x": 1.0})
    assert "nested" not in str(info.value)
    deep = "x+(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH  # x+(x+(x+...)): nested, and small
    with pytest.raises(ExpressionError, match=rf"the expression is nested too deeply \(51 "
                                              rf"levels, limit {MAX_DEPTH}\)") as info:
        build_expression(deep, {"x": 1.0})
    assert "large" not in str(info.value)
    ok = "x+(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)
    assert build_expression(ok, {"x": 1.0})[0].data == MAX_DEPTH


@pytest.mark.parametrize(("text", "levels"), [
    ("exp(" * 51 + "x" + ")" * 51, 52), ("-" * 60 + "x", 61), ("x" + "**x" * 55, 56),
    ("x*(x+" * 30 + "x" + ")" * 30, 61),
])
def test_calls_signs_powers_and_alternating_operators_nest(text, levels):
    with pytest.raises(ExpressionError, match=rf"nested too deeply \({levels} levels"):
        build_expression(text, {"x": 1.0})


def test_the_command_line_draws_a_flat_sum(tmp_path):
    proc = run("graph", "+".join(["x"] * 50), "--at", "x=1", "--text", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first.endswith(" = 50") and second == "  d/dx = 50"


# -- messages that point somewhere (issue case 9) ---------------------------------------------


def test_draw_summary_too_large_suggests_something_else_than_itself():
    from chainrule.nn import MLP
    from chainrule.viz import GraphTooLargeError, draw_summary

    model = MLP(2, [16, 16, 1], seed=0)
    out = model([0.5, -1.0])
    with pytest.raises(GraphTooLargeError) as info:
        draw_summary(out, model=model, max_nodes=10)
    message = str(info.value)
    assert "draw_summary" not in message
    assert "level='layer'" in message and "graph_text(root)" in message
    assert "max_nodes=10" in message
    with pytest.raises(GraphTooLargeError, match="graph_text") as info:
        draw_summary(out, model=model, max_nodes=2, level="layer")
    assert "level='layer'" not in str(info.value) and "draw_summary" not in str(info.value)
    x = Value(1.0)
    for _ in range(30):
        x = x * 1.0 + 0.0
    with pytest.raises(GraphTooLargeError, match="pass model="):
        draw_summary(x, max_nodes=5)
