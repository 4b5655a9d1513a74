"""The exercise notebooks: nbgrader's format; the teacher's versions pass; the student
versions (made by nbgrader's own preprocessors) fail each test with the intended hint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "assignments"
SOURCE = COURSE / "source" / "backprop"
NOTEBOOKS = sorted(SOURCE.glob("*.ipynb"))

# What each autograded cell says when a student has not written the answer yet.
HINTS = {
    "gate-test-forward": "Set q = x + y and f = q * z (numbers) in the cell above.",
    "gate-test-local": "Give all four local derivatives above.",
    "gate-test-chain": "Compute df_dx and df_dy above with the chain rule",
    "gate-test-nudge": "Compute change = f(x + h, y, z) - f(x, y, z) above.",
    "gate-test-chainrule": "Build fv from the Values xv, yv, zv above.",
    "value-test-add-mul": "Write __add__ and __mul__ (they still raise NotImplementedError).",
    "value-test-pow-neg-sub-div": "Write __pow__, __neg__, __sub__, __truediv__",
    "value-test-tanh-exp": "Write tanh and exp",
    "value-test-everything": "Write __add__, __mul__, __pow__",
    "local-test-sigmoid": "sigmoid is not written yet",
    "local-test-sigmoid-prime": "sigmoid_prime is not written yet",
    "local-test-tanh-prime": "tanh_prime is not written yet",
    "local-test-softplus": "softplus is not written yet",
    "local-test-softplus-prime": "softplus_prime is not written yet",
    "net-test-forward": "Compute z1, a1, z2, yhat and C in the cell above.",
    "net-test-output-error": "Compute dC_dyhat, dyhat_dz2 and delta2 above.",
    "net-test-gradients": "Compute dC_dw2, dC_db2, delta1 and dC_dw1 above.",
    "net-test-update": "Compute w2_new, b2_new and w1_new above.",
    "optim-test-momentum": "sgd_momentum is not written yet",
    "optim-test-adam": "adam is not written yet",
}


def nbgrader_of(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def run(notebook, folder: Path, allow_errors: bool = False):
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    return notebook


def errors(notebook) -> list[tuple[dict, dict]]:
    return [(nbgrader_of(cell), out) for cell in notebook.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def test_the_five_exercises_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "01_gate_by_hand.ipynb", "02_your_own_value.ipynb", "03_local_derivatives.ipynb",
        "04_backprop_221_network.ipynb", "05_optimizer_step.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_source_is_in_nbgrader_format(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    grade_ids = [nbgrader_of(c)["grade_id"] for c in notebook.cells if nbgrader_of(c)]
    assert len(grade_ids) == len(set(grade_ids))
    tests = solutions = 0
    for cell in notebook.cells:
        meta = nbgrader_of(cell)
        if "BEGIN SOLUTION" in cell.source:
            assert meta.get("solution") is True, cell.source[:80]
            assert cell.source.count("### BEGIN SOLUTION") == cell.source.count(
                "### END SOLUTION")
            solutions += 1
        if meta.get("grade"):
            assert meta["locked"] is True and meta["points"] > 0 and meta["schema_version"] == 3
            assert cell.cell_type == "code" and not meta["solution"]
            assert meta["grade_id"] in HINTS, f"add {meta['grade_id']} to HINTS"
            tests += 1
        if cell.cell_type == "code":
            assert cell.outputs == [], "commit the source notebooks without outputs"
    assert tests >= 2 and solutions >= 1
    assert notebook.metadata.kernelspec.language == "python"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_solutions_pass(path, tmp_path):
    notebook = run(nbformat.read(path, as_version=4), tmp_path)
    assert errors(notebook) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_student_version_fails_with_the_intended_hints(path, tmp_path, make_exercises):
    pytest.importorskip("nbgrader")
    source = nbformat.read(path, as_version=4)
    student = make_exercises.student_version(source)
    assert nbformat.read(path, as_version=4) == source  # the source is not changed
    assert not any("BEGIN SOLUTION" in cell.source for cell in student.cells)
    graded = {nbgrader_of(c)["grade_id"]: c.source for c in source.cells
              if nbgrader_of(c).get("grade")}
    assert {nbgrader_of(c)["grade_id"]: c.source for c in student.cells
            if nbgrader_of(c).get("grade")} == graded  # tests are handed out as written

    run(student, tmp_path, allow_errors=True)
    failed = {}
    for meta, error in errors(student):
        if meta.get("grade"):
            failed[meta["grade_id"]] = error
        else:  # a solution cell the student has yet to write
            assert meta.get("solution") and error.ename == "NotImplementedError", error.ename
    assert set(failed) == set(graded), "every test must fail before the work is done"
    for grade_id, error in failed.items():
        assert error.ename == "AssertionError", f"{grade_id}: {error.ename}: {error.evalue}"
        assert HINTS[grade_id] in error.evalue, f"{grade_id}: {error.evalue}"
        # the hint comes from the test cell (or a helper cell of the notebook), not from
        # deep inside a library
        assert not any("site-packages" in line for line in error.traceback), grade_id


def test_make_exercises_writes_the_student_versions(tmp_path, capsys, make_exercises):
    pytest.importorskip("nbgrader")
    assert make_exercises.main(["--release", str(tmp_path)]) == 0
    written = sorted(p.name for p in (tmp_path / "backprop").glob("*.ipynb"))
    assert written == [p.name for p in NOTEBOOKS]
    assert capsys.readouterr().out.count("wrote ") == len(NOTEBOOKS)
    text = (tmp_path / "backprop" / "02_your_own_value.ipynb").read_text()
    assert "raise NotImplementedError()" in text and "self.grad += out.grad" not in text


@pytest.mark.slow
def test_nbgrader_generate_assignment_gives_the_same_notebooks(tmp_path, make_exercises):
    """The course folder works with nbgrader itself, and the make target agrees with it."""
    pytest.importorskip("nbgrader")
    course = tmp_path / "course"
    shutil.copytree(COURSE / "source", course / "source")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(bin_dir / "nbgrader"), "generate_assignment", "backprop", "--force"],
                   cwd=course, env=env, check=True, capture_output=True, timeout=300)
    ours = make_exercises
    for path in NOTEBOOKS:
        theirs = json.loads((course / "release" / "backprop" / path.name).read_text())
        mine = ours.student_version(nbformat.read(path, as_version=4))
        assert json.loads(nbformat.writes(mine)) == theirs, path.name


@pytest.mark.parametrize(("name", "right", "wrong", "grade_id", "hint"), [
    # copying the lecture notes' sign slip
    ("04_backprop_221_network", "dC_dyhat = 2 * (yhat - y)", "dC_dyhat = 2 * (y - yhat)",
     "net-test-output-error", "The notes print +0.44 here."),
    # `=` where `+=` belongs, in a student's own Value
    ("02_your_own_value", "            self.grad += out.grad\n            other.grad += out.grad",
     "            self.grad = out.grad\n            other.grad = out.grad",
     "value-test-add-mul", "add, accumulation: x + x"),
    # momentum as an average of gradients
    ("05_optimizer_step", "momentum * buf + g", "momentum * buf + (1 - momentum) * g",
     "optim-test-momentum", "adds the whole gradient: buf = 0.9 buf + g"),
])
def test_a_classic_wrong_answer_gets_its_hint(tmp_path, name, right, wrong, grade_id, hint):
    notebook = nbformat.read(SOURCE / f"{name}.ipynb", as_version=4)
    changed = 0
    for cell in notebook.cells:
        if right in cell.source:
            cell.source = cell.source.replace(right, wrong)
            changed += 1
    assert changed == 1
    run(notebook, tmp_path, allow_errors=True)
    failed = {meta["grade_id"]: error for meta, error in errors(notebook) if meta.get("grade")}
    assert grade_id in failed
    assert failed[grade_id].ename == "AssertionError" and hint in failed[grade_id].evalue
