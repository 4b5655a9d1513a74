"""The README's Python examples run, and print what the README says they print.

A ``print(...)`` line's expected output is the comment at its end
(``print(x)  # 3.0``) or the comment line right after it; when the block is followed
directly by a plain fenced block, that block is the whole expected output instead. A
block preceded by ``<!-- not-tested -->`` is skipped (for examples that need a display).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- not-tested -->\s*)?```python\n(.*?)```\n(?:\n```\n(.*?)```)?",
                   re.DOTALL)


def _blocks() -> list[tuple[int, str, str | None]]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        if match.group(1):
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, match.group(2), match.group(3)))
    return found


def _expected_prints(code: str) -> list[str]:
    lines = code.splitlines()
    expected = []
    for i, line in enumerate(lines):
        if not line.startswith("print("):
            continue
        if "  # " in line:
            expected.append(line.split("  # ", 1)[1].strip())
        elif i + 1 < len(lines) and lines[i + 1].startswith("# "):
            expected.append(lines[i + 1][2:].strip())
        else:
            expected.append(None)
    return expected


def _name(v: object) -> str:
    return f"line{v}" if isinstance(v, int) else ""


@pytest.mark.parametrize(("line", "code", "output"), _blocks(), ids=_name)
def test_readme_example(line: int, code: str, output: str | None, tmp_path, monkeypatch):
    if ".render(" in code and shutil.which("dot") is None:
        pytest.skip("the Graphviz dot program is not installed")
    monkeypatch.chdir(tmp_path)  # examples that save files write into a scratch folder
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
    if output is not None:
        got = [row.rstrip() for row in out.getvalue().splitlines()]
        assert got == [row.rstrip() for row in output.splitlines()], f"README.md:{line}"
        return
    printed = out.getvalue().splitlines()
    expected = _expected_prints(code)
    assert len(printed) == len(expected), f"README.md:{line}: each print should print one line"
    checked = [(got, want) for got, want in zip(printed, expected) if want is not None]
    for got, want in checked:
        assert got.strip() == want, f"README.md:{line}: printed {got!r}, README says {want!r}"
