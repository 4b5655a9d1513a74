"""The ``chainrule`` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
CLI = [sys.executable, "-m", "chainrule.viz.cli"]


def run(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120):
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def assert_one_line_error(proc, code=2):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("chainrule")
    return lines[0]


# -- chainrule graph ----------------------------------------------------------------------

@needs_dot
def test_gate_svg(tmp_path):
    proc = run("graph", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "-o", "gate.svg",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["(x + y) * z = -12", "  d/dx = -4", "  d/dy = -4",
                                        "  d/dz = 3", "wrote gate.svg"]
    svg = (tmp_path / "gate.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "grad &#45;4" in svg and "#1a7f37" in svg
    assert [p.name for p in tmp_path.iterdir()] == ["gate.svg"]


@needs_dot
@pytest.mark.parametrize("name, magic", [("g.png", b"\x89PNG"), ("g.pdf", b"%PDF"),
                                         ("g.dot", b"digraph"), ("g.gv", b"digraph")])
def test_formats_by_extension(tmp_path, name, magic):
    proc = run("graph", "tanh(w * x + b)", "--at", "w=0.5,x=2,b=-0.25", "-o", name,
               "--rankdir", "TB", "--edge-labels", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / name).read_bytes().startswith(magic)


def test_dot_output_options(tmp_path):
    proc = run("graph", "x * x", "--at", "x=3", "-o", "g.dot", "--no-grad", "--rankdir", "TB",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    src = (tmp_path / "g.dot").read_text()
    assert "rankdir=TB" in src and "grad" not in src and "<b>9</b>" in src


def test_text_tree_needs_no_output_file(tmp_path):
    proc = run("graph", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--text", cwd=tmp_path)
    assert proc.returncode == 0
    assert "├── x + y [+] = 3  (grad -4)" in proc.stdout
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_steps_html(tmp_path):
    proc = run("graph", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--steps", "steps.html",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "steps.html").read_text()
    assert page.count("<svg") == 3 and 'type="range"' in page


def test_non_finite_results_warn_on_one_line_and_still_draw(tmp_path):
    proc = run("graph", "log(x) / x", "--at", "x=0", "-o", "g.dot", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0] == "log(x) / x = -inf"
    assert proc.stderr.strip() == ("chainrule graph: warning: chainrule: log produced -inf "
                                   "from finite inputs")


HOSTILE = [
    "__import__('os').system('touch pwned')",
    "x.__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x[0]",
    "lambda: x",
    "[x for x in range(9)]",
    "{x for x in (1, 2)}",
    "open('pwned', 'w')",
    "eval('1')",
    "exec('import os')",
    "compile('1', 'f', 'eval')",
    "getattr(x, 'data')",
    "globals()",
    "__builtins__",
    "y + 1",
    "x ** 100000",
    "9 ** 9 ** 9",
    "2 ** 10 ** 6",
    "(" * 300 + "x" + ")" * 300,
    "-" * 80 + "x",
    "x + " * 400 + "x",
    "x" * 5000,
    "x if x else 1",
    "x ^ 2",
    "x % 2",
    "(x := 1)",
    "f'{x}'",
    "'pwned'",
    "b'x'",
    "1j * x",
    "x; import os",
    "exp(x, y=1)",
    "*x",
    "await x",
    "",
    "1e999 * x",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_exit_2_with_one_line_and_no_file(tmp_path, expression):
    proc = run("graph", expression, "--at", "x=1", "-o", "out.svg", cwd=tmp_path)
    line = assert_one_line_error(proc, 2)
    assert line.startswith("chainrule graph: error: ")
    assert list(tmp_path.iterdir()) == []  # neither out.svg nor 'pwned'


@pytest.mark.parametrize("at", ["x", "x=", "x=abc", "x=1,x=2", "1x=3", "x=nan", "exp=1",
                                "x=1e999", "x=--1"])
def test_bad_at_syntax(tmp_path, at):
    proc = run("graph", "x + 1", "--at", at, "-o", "out.svg", cwd=tmp_path)
    assert "--at" in assert_one_line_error(proc, 2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("output, message", [
    ("missing/dir/g.svg", "folder 'missing/dir' does not exist"),
    ("g.jpeg", "cannot tell the output format"),
    (".", "is a folder"),
])
def test_bad_output_paths(tmp_path, output, message):
    proc = run("graph", "x + 1", "--at", "x=1", "-o", output, cwd=tmp_path)
    assert message in assert_one_line_error(proc, 2)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        proc = run("graph", "x + 1", "--at", "x=1", "-o", "locked/g.dot", cwd=tmp_path)
        if os.geteuid() == 0:  # root may write anywhere: then the write must simply work
            assert proc.returncode == 0
        else:
            assert "not writable" in assert_one_line_error(proc, 2)
            assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_write_failure_is_one_line_and_leaves_nothing(tmp_path):
    # /proc refuses new files even for root
    proc = run("graph", "x + 1", "--at", "x=1", "-o", "/proc/chainrule-test.dot", cwd=tmp_path)
    line = assert_one_line_error(proc, proc.returncode)
    assert proc.returncode in (1, 2) and "cannot write" in line
    assert not Path("/proc/chainrule-test.dot").exists()


def test_nothing_to_do_and_usage_errors(tmp_path):
    assert "nothing to do" in assert_one_line_error(run("graph", "x", "--at", "x=1",
                                                        cwd=tmp_path))
    assert_one_line_error(run("graph", cwd=tmp_path), 2)
    assert_one_line_error(run("frobnicate", cwd=tmp_path), 2)
    assert_one_line_error(run("graph", "x", "--max-nodes", "0", "--text", cwd=tmp_path), 2)
    assert_one_line_error(run(cwd=tmp_path), 2)


def test_too_many_nodes_is_a_clear_error(tmp_path):
    proc = run("graph", "x * x * x * x", "--at", "x=1", "-o", "g.dot", "--max-nodes", "3",
               cwd=tmp_path)
    line = assert_one_line_error(proc, 2)
    # the options of the command, not the Python API (draw_summary, max_nodes=...)
    assert "more than --max-nodes 3 values" in line and "--text" in line
    assert "draw_summary" not in line and not (tmp_path / "g.dot").exists()


@needs_dot
def test_a_render_timeout_names_the_option(tmp_path):
    proc = run("graph", "tanh(x * y + exp(x))", "--at", "x=1,y=2", "-o", "g.svg",
               "--timeout", "0.0001", cwd=tmp_path)
    line = assert_one_line_error(proc, 1)
    assert "did not finish within --timeout 0.0001 s: pass a larger --timeout" in line
    assert "graph_text" not in line and not (tmp_path / "g.svg").exists()


def test_an_expression_starting_with_minus_gets_a_hint(tmp_path):
    line = assert_one_line_error(run("graph", "-x", "--at", "x=3", "--text", cwd=tmp_path), 2)
    assert "required: EXPR" in line and "'(-x)', or after --" in line
    for args in (["(-x)", "--at", "x=3", "--text"], ["--at", "x=3", "--text", "--", "-x"]):
        proc = run("graph", *args, cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout.startswith("-x = -3\n  d/dx = -1\n")


def test_without_dot_the_error_says_how_to_install(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path / "empty")}  # no dot on PATH
    proc = run("graph", "x * y", "--at", "x=1,y=2", "-o", "g.svg", cwd=tmp_path, env=env)
    line = assert_one_line_error(proc, 1)
    assert "apt-get install graphviz" in line and "brew install graphviz" in line
    assert "conda" in line and not (tmp_path / "g.svg").exists()
    # the DOT text and the text tree need no Graphviz
    assert run("graph", "x * y", "--at", "x=1,y=2", "-o", "g.dot", "--text", cwd=tmp_path,
               env=env).returncode == 0
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


@pytest.mark.parametrize("command", [[], ["demo"], ["graph"], ["train"]])
def test_help_on_every_command(tmp_path, command):
    proc = run(*command, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: chainrule")
    assert not proc.stderr


def test_console_script_is_installed(tmp_path):
    script = Path(sys.executable).parent / "chainrule"
    if not script.exists():
        pytest.skip("console script not installed next to this Python")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          timeout=60)
    version = importlib.metadata.version("chainrule")
    assert (proc.returncode, proc.stdout) == (0, f"chainrule {version}\n")


# -- chainrule demo and train -----------------------------------------------------------------

@needs_dot
def test_demo_writes_everything_and_prints_the_paths(tmp_path):
    proc = run("demo", "--epochs", "4", "--samples", "60", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "chainrule-demo"
    names = {"gate.svg", "gate.png", "gate_steps.html", "loss.png", "decision_boundary.png",
             "model.json", "network.svg"}
    assert {p.name for p in out.iterdir()} == names
    for name in names:
        assert f"  chainrule-demo/{name}\n" in proc.stdout
    assert "f = -12, df/dx = -4, df/dy = -4, df/dz = 3" in proc.stdout
    assert "training accuracy" in proc.stdout
    assert "fit" in proc.stderr and "4/4" in proc.stderr  # the tqdm progress bar
    # the saved model is the one it says it trained, and loads back
    from chainrule.nn import load

    assert f"training {load(out / 'model.json')!r} on " in proc.stdout
    assert (out / "decision_boundary.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_without_dot_still_trains_and_plots(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    proc = run("demo", "--epochs", "2", "--samples", "40", "--no-progress", "-o", "out",
               cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "loss.png", "decision_boundary.png", "model.json"}
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 2 and all("apt-get install graphviz" in w for w in warnings)


def test_demo_output_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = run("demo", "-o", "file", "--epochs", "1", cwd=tmp_path)
    assert "is not a folder" in assert_one_line_error(proc, 2)


@needs_dot
def test_train_spiral(tmp_path):
    proc = run("train", "--dataset", "spiral", "--hidden", "8,8", "--activation", "tanh",
               "--optimizer", "sgd", "--lr", "0.1", "--epochs", "2", "--samples", "60",
               "--seed", "3", "--no-progress", "-o", "run", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in (tmp_path / "run").iterdir()} == {
        "loss.png", "decision_boundary.png", "model.json", "standardizer.json", "network.svg"}
    stats = json.loads((tmp_path / "run" / "standardizer.json").read_text())
    assert len(stats["mean"]) == 2 and len(stats["std"]) == 2
    assert "MLP(2 -> [8, 8, 1], tanh -> linear)" in proc.stdout
    from chainrule.nn import load

    model = load(tmp_path / "run" / "model.json")
    assert len(model.parameters()) == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1


@pytest.mark.parametrize("args, message", [
    (["--hidden", "16,x"], "expected layer widths like 16,16"),
    (["--hidden", "0"], "layer widths must be 1..1024"),
    (["--lr", "-1"], "expected a positive number"),
    (["--epochs", "0"], "expected a positive integer"),
    (["--dataset", "mnist"], "invalid choice: 'mnist'"),
    (["--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
])
def test_train_bad_arguments(tmp_path, args, message):
    proc = run("train", *args, cwd=tmp_path)
    assert message in assert_one_line_error(proc, 2)
    assert list(tmp_path.iterdir()) == []
