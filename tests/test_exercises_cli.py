"""`chainrule check FILE.py:NAME`: the sample submissions, JSON, exit codes, bad files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chainrule.viz.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "assignments" / "submissions"
README = ROOT / "README.md"


def run(capsys, *args):
    code = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_three_sample_submissions(capsys):
    code, out, _ = run(capsys, SUBMISSIONS / "alice.py")
    assert code == 0
    assert out.startswith("alice.py:Value: all ") and "checks passed" in out

    code, out, _ = run(capsys, f"{SUBMISSIONS / 'bob.py'}:Value")
    assert code == 1
    assert "1. add, accumulation: x + x" in out and "2. mul, accumulation: x * x" in out

    code, out, _ = run(capsys, f"{SUBMISSIONS / 'carol.py'}:Value")
    assert code == 1
    assert "mul, order: b = x * y; f = b + b" in out
    assert "tanh, local derivative: x.tanh()" in out
    assert "sub, reflected: 2 - x" in out


def _readme_block() -> tuple[str, str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```sh\n(\$ for f in assignments/submissions/\*\.py; do[^\n]*)\n"
                      r"(.*?)```", text, re.DOTALL)
    assert match, "README: the teachers' loop over assignments/submissions is missing"
    return match.group(1), match.group(2)


def test_the_readme_shows_the_real_output(capsys, monkeypatch):
    command, shown = _readme_block()
    assert 'chainrule check "$f:Value"' in command and 'echo "exit $?"' in command
    monkeypatch.chdir(ROOT)
    produced = []
    for path in sorted(Path("assignments/submissions").glob("*.py")):
        code, out, _ = run(capsys, f"{path}:Value")
        produced.append(out + f"exit {code}\n")
    assert "".join(produced) == shown


def test_json_output(capsys):
    code, out, _ = run(capsys, f"{SUBMISSIONS / 'carol.py'}:Value", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and data["engine"] == "carol.py:Value"
    assert [(f["op"], f["kind"]) for f in data["failures"]] == [
        ("mul", "order"), ("tanh", "local derivative"), ("sub", "reflected")]
    first = data["failures"][0]
    assert set(first) >= {"op", "kind", "message", "example", "at", "expected", "actual"}
    assert "tanh" in data["checked"] and "log" in data["skipped"]

    code, out, _ = run(capsys, SUBMISSIONS / "alice.py", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


@pytest.mark.parametrize(("target", "message"), [
    ("missing.py:Value", "does not exist"),
    ("notes.txt:Value", "is not a .py file"),
    ("alice.py:not-a-name", "is not a Python name"),
    ("", "expected FILE.py:NAME"),
])
def test_usage_errors_exit_2(capsys, monkeypatch, target, message):
    monkeypatch.chdir(SUBMISSIONS)
    code, out, err = run(capsys, target)
    assert code == 2
    assert out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_argument_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2
    assert "FILE.py:NAME" in capsys.readouterr().err


@pytest.mark.parametrize(("source", "message"), [
    ("def broken(:\n", "has a syntax error at line 1"),
    ("import math\nx = 1 / 0\n", "raised ZeroDivisionError: division by zero (line 2)"),
    ("import sys\nsys.exit(3)\n", "called sys.exit(3) on import"),
    ("class Val:\n    pass\n", "has no Value (it defines Val)"),
    ("Value = 3\n", "Value in student.py is a int, not a class"),
])
def test_a_file_that_does_not_give_a_class_exits_1(tmp_path, capsys, source, message):
    path = tmp_path / "student.py"
    path.write_text(source)
    code, out, err = run(capsys, f"{path}:Value")
    assert code == 1
    assert message in err and "Traceback" not in err
    code, out, _ = run(capsys, f"{path}:Value", "--json")
    assert code == 1
    assert json.loads(out) == {"engine": "student.py:Value", "ok": False,
                               "error": json.loads(out)["error"]}
    assert message in json.loads(out)["error"]


def test_top_level_code_that_loops_is_stopped(tmp_path, capsys):
    path = tmp_path / "slow.py"
    path.write_text("while True:\n    pass\n")
    start = time.monotonic()
    code, _, err = run(capsys, path, "--timeout", "1")
    assert time.monotonic() - start < 3
    assert code == 1 and "took more than 1 s" in err and "__main__" in err


def test_what_the_file_prints_does_not_spoil_the_json(tmp_path, capsys):
    source = (SUBMISSIONS / "alice.py").read_text()
    path = tmp_path / "chatty.py"
    path.write_text('print("hello from the top level")\n' + source)
    code, out, err = run(capsys, f"{path}:Value", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    assert "hello from the top level" in err


def test_the_help_says_it_runs_the_file(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "runs the code in it" in text and "only chainrule command that runs user code" in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "runs" in capsys.readouterr().out


def test_no_other_command_imports_the_checker(tmp_path):
    code = ("import sys\nfrom chainrule.viz.cli import main\n"
            "main(['graph', '(x + y) * z', '--at', 'x=-2,y=5,z=-4', '--text'])\n"
            "print('chainrule.exercises' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    assert out.strip().endswith("False")


def test_the_console_script_exit_status(tmp_path):
    script = Path(sys.executable).with_name("chainrule")
    if not script.exists():
        pytest.skip("the chainrule console script is not installed next to python")
    done = subprocess.run([str(script), "check", str(SUBMISSIONS / "bob.py") + ":Value"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith("bob.py:Value: 2 problems")
