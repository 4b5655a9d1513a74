"""Write the student versions of the exercise notebooks (``make exercises``).

Reads ``assignments/source/<assignment>/*.ipynb`` (the teacher's versions, with solutions)
and writes ``assignments/release/<assignment>/*.ipynb`` with nbgrader's own preprocessors,
in the order ``nbgrader generate_assignment`` applies them, minus the two that need its
database (``SaveCells``) or its header files: locked cells, solutions replaced by
``raise NotImplementedError()``, outputs cleared, hidden tests removed, checksums for
``nbgrader autograde``. ``nbgrader generate_assignment backprop`` run in ``assignments/``
gives the same notebooks (and a gradebook).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1] / "assignments"


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's copy of a source notebook (the argument is not changed)."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    steps = (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums,
             ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata)
    notebook = nbformat.from_dict(notebook)  # a copy
    resources: dict = {}
    for step in steps:
        notebook, resources = step().preprocess(notebook, resources)
    return notebook


def release(source: Path, out: Path) -> list[Path]:
    """Write the student version of every ``source/*/*.ipynb`` under ``out``."""
    written = []
    notebooks = sorted(source.glob("*/*.ipynb"))
    if not notebooks:
        raise SystemExit(f"make_exercises: no notebooks in {source}/<assignment>/")
    for path in notebooks:
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = student_version(nbformat.read(path, as_version=4))
        nbformat.write(notebook, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "source",
                        help="folder of assignments (default: assignments/source)")
    parser.add_argument("--release", type=Path, default=ROOT / "release",
                        help="where the student versions go (default: assignments/release)")
    args = parser.parse_args(argv)
    for path in release(args.source, args.release):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
