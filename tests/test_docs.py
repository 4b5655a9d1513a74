"""The documentation site: it builds strictly, fetches nothing, and shows its pictures.

The site is built once per run with ``scripts/build-docs.sh`` (what ``make docs`` runs)
into a temporary folder. Its exercise pages are the students' versions: no line that
nbgrader takes out of a solution is on them, and no run of solution lines is anywhere
on the site. Every internal link of every page reaches a page and an anchor on it, and
the README's own links work on GitHub (headings and files that exist). A second, tiny
build with a broken link, a reference to a name that does not exist, a docstring that
does not parse, a notebook that cannot be read, a public name left out and a README
link to a repository file the site does not show proves that strict mode fails on
each; a third refuses an exercise whose solution is not in a solution cell. Then
headless Chromium (Debian's ``chromium``, driven by Playwright; never a downloaded
browser) opens the landing page, a notebook page, an exercise page and the engine's API
page from a local web server and checks that the gate picture and the notebook's plot
are on screen and drawn, that MathJax typeset the formulas, that the derivative table
shows every rule, and that no request left the machine. Screenshots go to
``$DOCS_SHOTS`` (default /tmp/chainrule-docs).

Needs the ``docs`` extra (part of the ``test`` extra); the browser check also needs
Playwright and Chromium, which ``make test`` installs when it can and otherwise says how.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import importlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "assignments" / "source").glob("*/*.ipynb"))
README = ROOT / "README.md"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(os.environ.get("DOCS_SHOTS", "/tmp/chainrule-docs"))
PLOT_NOTEBOOK = "03_neuron_to_mlp"  # its first picture: matplotlib loss and accuracy curves


def _need_docs_tools() -> None:
    for module in ("sphinx", "myst_nb", "furo", "mathjax"):
        pytest.importorskip(module, reason="the docs extra is not installed "
                            "(pip install -e '.[docs]')")


def build(out: Path, doctrees: Path, srcdir: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, DOCTREES=str(doctrees))
    if srcdir is None:
        cmd = ["bash", str(ROOT / "scripts" / "build-docs.sh"), str(out)]
    else:  # the same options as the script, on another source folder
        cmd = [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q",
               "-b", "html", "-d", str(doctrees), str(srcdir), str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    _need_docs_tools()
    work = tmp_path_factory.mktemp("docs")
    result = build(work / "site", work / "doctrees")
    assert result.returncode == 0, f"make docs failed:\n{result.stdout}\n{result.stderr}"
    # -q prints only warnings and errors: a clean build prints nothing
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr
    return work / "site"


def test_every_notebook_has_a_page_in_the_course(site):
    tutorial = (site / "tutorial.html").read_text(encoding="utf-8")
    assert NOTEBOOKS
    for notebook in NOTEBOOKS:
        page = site / "notebooks" / f"{notebook.stem}.html"
        assert page.exists(), f"{notebook.name} has no page"
        assert f'href="notebooks/{notebook.stem}.html"' in tutorial, notebook.name
    # rendered from the committed outputs: the first notebook's graph pictures are there
    first = (site / "notebooks" / f"{NOTEBOOKS[0].stem}.html").read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="\.\./_images/[0-9a-f]+\.svg"', first)


def test_every_public_name_has_an_entry_in_the_api_pages(site):
    pages = "".join((site / "api" / f"{p}.html").read_text(encoding="utf-8")
                    for p in ("engine", "nn", "viz", "exercises"))
    for package in ("chainrule.engine", "chainrule.nn", "chainrule.viz",
                    "chainrule.viz.playground", "chainrule.exercises"):
        module = importlib.import_module(package)
        for name in module.__all__:
            if package == "chainrule.nn" and name == "Value":
                continue  # re-exported from chainrule.engine, documented there
            assert f'id="{package}.{name}"' in pages, f"{package}.{name}"
    # the derivative table lists every rule of the engine
    from chainrule.engine import RULES

    engine = (site / "api" / "engine.html").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{rule.name}" \
               "</span></code>" in engine, rule.name


def _text(html_text: str) -> str:
    """What a reader sees of a page: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def _solution_blocks(notebook) -> list[list[str]]:
    """The lines between ### BEGIN SOLUTION and ### END SOLUTION, block by block."""
    blocks = []
    for cell in notebook.cells:
        block = None
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line:
                block = []
            elif "END SOLUTION" in line:
                blocks.append(block)
                block = None
            elif block is not None and line.strip():
                block.append(line.strip())
    return blocks


def test_the_exercises_are_a_section_of_the_course_as_students_get_them(site, make_exercises):
    nbformat = pytest.importorskip("nbformat")
    assert EXERCISES
    section = (site / "exercises.html").read_text(encoding="utf-8")
    student_version = make_exercises.student_version
    pages = {path: _text(path.read_text(encoding="utf-8", errors="replace"))
             for path in site.rglob("*.html")}
    assert not list(site.rglob("*.ipynb")), "a notebook file was published"
    for source in EXERCISES:
        page = site / "exercises" / f"{source.stem}.html"
        assert page.exists(), f"{source.name} has no page"
        assert f'href="exercises/{source.stem}.html"' in section, source.name
        teacher = nbformat.read(source, as_version=4)
        student = "\n".join(c.source for c in student_version(teacher).cells)
        shown = pages[page]
        assert "raise NotImplementedError()" in shown, source.name
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
            assert marker not in shown, f"{source.name}: {marker}"
        blocks = _solution_blocks(teacher)
        assert blocks, f"{source.name} has no solution to hide"
        for block in blocks:
            # the lines nbgrader took out (a few, such as a given `t = math.tanh(x)`,
            # are also in the student's version, outside the solution)
            hidden = [line for line in block if line not in student]
            for line in hidden:
                assert line not in shown, f"{source.name} shows its solution: {line!r}"
            # nowhere on the site: three consecutive hidden lines (two, of a block of
            # two; fewer would match idioms such as a depth-first search), or a long one
            size = min(3, len(hidden))
            runs = ["\n".join(hidden[i:i + size]) for i in range(len(hidden) - size + 1)
                    if size > 1]
            for path, text in pages.items():
                lines = "\n".join(line.strip() for line in text.splitlines())
                for run in runs:
                    assert run not in lines, f"{path.relative_to(site)}: {run!r}"
                for line in hidden:
                    if len(line) >= 25:
                        assert line not in text, f"{path.relative_to(site)}: {line!r}"


def test_the_readme_links_work_on_github_and_on_the_site(site):
    readme = README.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", readme, flags=re.DOTALL)  # links in code are not links
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)
    slugs = {re.sub(r"[^\w\- ]", "", h.replace("`", "").lower()).replace(" ", "-")
             for h in headings}
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    anchors = [link[1:] for link in links if link.startswith("#")]
    files = [link for link in links if not link.startswith(("#", "http://", "https://"))]
    assert anchors and files
    for anchor in anchors:  # GitHub: the anchor is a heading of the README
        assert anchor in slugs, f"README links to #{anchor}, which is no heading"
    for file in files:  # GitHub: the file is in the repository
        assert (ROOT / file.partition("#")[0]).exists(), f"README links to {file}"
    # the site: every internal link of every page reaches a page, and an id on it
    ids: dict[Path, set[str]] = {}
    broken = []
    for page in site.rglob("*.html"):
        for href in re.findall(r'<a [^>]*href="([^"]+)"', page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", href) or href.startswith("//"):
                continue
            path, _, fragment = html.unescape(href).partition("#")
            target = (page.parent / path).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href}")
                continue
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(re.findall(r'\bid="([^"]+)"',
                                                 target.read_text(encoding="utf-8")))
                if fragment not in ids[target]:
                    broken.append(f"{page.relative_to(site)}: {href}")
    assert not broken, broken
    # the README's anchors and its links to exercise notebooks, as the site shows them
    shown = "".join(p.read_text(encoding="utf-8") for p in site.glob("*.html"))
    for anchor in anchors:  # a section on a page, or a page of its own
        assert re.search(rf'href="(?:[a-z_]*\.html)?#{anchor}"|href="{anchor}\.html"',
                         shown), anchor
    assert "assignments/source" not in "".join(re.findall(r'href="([^"]+)"', shown))


def test_the_engine_page_says_where_to_start_and_shows_the_table_built_methods(site):
    from chainrule.engine import RULES

    api = (site / "api" / "engine.html").read_text(encoding="utf-8")
    text = " ".join(_text(api).split())
    for part in ("value.py", "rules.py", "walk.py", "tests/test_engine_rules.py"):
        assert part in text, part
    assert 'id="adding-an-op"' in api and 'id="chainrule.engine.register"' in api
    # every op's method or operator, with the words and the derivative of its row(s)
    for rule in RULES.values():
        entry = re.search(rf'id="chainrule\.engine\.Value\.{re.escape(rule.method)}"'
                          r"(.*?)</dd>", api, flags=re.DOTALL)
        assert entry, rule.method
        shown = " ".join(_text(entry.group(1)).split()).replace("…", "...")
        assert rule.derivative in shown, (rule.name, shown)
        assert "arg: Any" not in shown, (rule.method, shown)  # the builder's signature
    guide = " ".join(_text((site / "engine.html").read_text(encoding="utf-8")).split())
    assert "Adding an op" in guide and "register" in guide and "engine/walk.py" in guide


def test_pages_load_nothing_from_the_network(site):
    external = re.compile(r"""<(?:script|img|iframe|source)\b[^>]*\bsrc=["']?(?:https?:)?//"""
                          r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
                          re.IGNORECASE)
    offenders = [str(path.relative_to(site)) for path in site.rglob("*")
                 if path.suffix in {".html", ".css"}
                 and external.search(path.read_text(encoding="utf-8", errors="replace"))]
    assert not offenders, f"pages that fetch from the network: {offenders}"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


def _scratch_project(tmp_path: Path, settings: str) -> Path:
    """A throwaway Sphinx source folder: the site's conf.py plus ``settings``, without
    the site's static files."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "import runpy\n"
        f"_conf = runpy.run_path({str(ROOT / 'docs' / 'conf.py')!r})\n"
        "globals().update({k: v for k, v in _conf.items() if not k.startswith('__')})\n"
        "html_static_path, html_css_files = [], []\n" + settings)
    return src


def test_strict_mode_fails_on_each_kind_of_mistake(tmp_path):
    _need_docs_tools()
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    src = _scratch_project(
        tmp_path,
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        f"chainrule_notebook_sections = {{'notebooks': {str(notebooks / '*.ipynb')!r}}}\n"
        "chainrule_public_packages = ['badmod']\n")
    (src / "index.md").write_text(
        "# Broken\n\n[a page that is not there](missing-page.md)\n\n"
        "```{include} ../README.md\n```\n\n"
        "{py:func}`badmod.no_such_function`\n\n"
        "```{toctree}\n:glob:\n\napi\nnotebooks/*\n```\n")
    (src / "api.rst").write_text("API\n===\n\n.. automodule:: badmod\n   :no-members:\n\n"
                                 ".. autofunction:: badmod.documented\n")
    (tmp_path / "badmod.py").write_text(
        '"""A module docstring that does not parse.\n\n    indented\nunindented\n"""\n\n'
        '__all__ = ["documented", "forgotten"]\n\n\n'
        'def documented():\n    """In the API page."""\n\n\n'
        'def forgotten():\n    """Public, but left out of the API page."""\n')
    (notebooks / "broken.ipynb").write_text('{"cells": [')  # truncated JSON
    # a README's link to a repository file that no page of the site shows
    (tmp_path / "README.md").write_text("[the module](badmod.py)\n")
    result = build(tmp_path / "site", tmp_path / "doctrees", srcdir=src)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for problem in ("missing-page", "badmod.no_such_function", "docstring of badmod:",
                    "broken.ipynb cannot be read", "badmod.forgotten is public",
                    "repository file badmod.py, which the site does not publish"):
        assert problem in output, f"strict mode did not report {problem!r}:\n{output}"


def test_an_exercise_with_an_unmarked_solution_stops_the_build(tmp_path):
    """A cell with solution markers that is not marked as a solution cell would keep its
    answer in the student version: the build refuses to publish it."""
    _need_docs_tools()
    nbformat = pytest.importorskip("nbformat")
    exercises = tmp_path / "ex"
    exercises.mkdir()
    src = _scratch_project(
        tmp_path,
        f"chainrule_notebook_sections = {{'ex': ({str(exercises / '*.ipynb')!r}, "
        "'student')}\n")
    (src / "index.md").write_text("# Exercises\n\n```{toctree}\n:glob:\n\nex/*\n```\n")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# An exercise"),
        nbformat.v4.new_code_cell("answer = None\n### BEGIN SOLUTION\nanswer = 42\n"
                                  "### END SOLUTION")])  # no nbgrader metadata
    nbformat.write(notebook, exercises / "forgot.ipynb")
    result = build(tmp_path / "site", tmp_path / "doctrees", srcdir=src)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "forgot.ipynb" in output and "not publishing it" in output, output
    assert not (src / "ex" / "forgot.ipynb").exists()
    assert "answer = 42" not in "".join(p.read_text(errors="replace")
                                        for p in tmp_path.rglob("*.html"))


# -- in a browser ----------------------------------------------------------------------

@contextlib.contextmanager
def serve(folder: Path):
    """The site on a free port of 127.0.0.1, as ``make serve-docs`` serves it."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _share(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> float:
    return float((np.abs(pixels - np.array(rgb)).max(axis=2) < tol).mean())


def _drawn(locator) -> dict:
    return locator.evaluate(
        "e => { const r = e.getBoundingClientRect(); return {complete: e.complete,"
        " width: e.naturalWidth, height: e.naturalHeight, shown: r.width, top: r.top,"
        " inView: r.top >= 0 && r.bottom <= innerHeight && r.width > 0} }")


def test_the_pictures_are_on_screen_in_a_browser(site):
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not "
                                     "installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    requests, failed, errors = [], [], []
    with serve(site) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
            page.on("response", lambda r: r.status >= 400 and failed.append(
                f"{r.url} {r.status}"))
            page.on("console", lambda m: m.type == "error" and errors.append(
                f"{m.text} ({m.location.get('url')})"))

            # the landing page: the gate picture, values in green and gradients in red
            page.goto(f"{base}/index.html", wait_until="networkidle")
            gate = page.locator('img[src$="gate.svg"]')
            gate.wait_for(state="visible", timeout=10_000)
            state = _drawn(gate)
            assert state["complete"] and state["width"] > 300 and state["inView"], state
            shot = _pixels(gate.screenshot())
            green, red = _share(shot, (26, 127, 55)), _share(shot, (207, 34, 46))
            page.screenshot(path=SHOTS / "landing.png")
            assert green > 0.0005 and red > 0.0005, (green, red)

            # a notebook page: its plot, drawn from the committed output, and its formulas
            page.goto(f"{base}/notebooks/{PLOT_NOTEBOOK}.html", wait_until="networkidle")
            plot = page.locator(".cell_output img[src$='.png']").first
            plot.scroll_into_view_if_needed()
            plot.wait_for(state="visible", timeout=10_000)
            page.wait_for_timeout(300)
            state = _drawn(plot)
            assert state["complete"] and state["width"] > 200 and state["inView"], state
            shot = _pixels(plot.screenshot())
            colours = len(np.unique(shot.reshape(-1, 3) // 16, axis=0))
            page.screenshot(path=SHOTS / "notebook.png")
            assert shot.std() > 20 and colours > 20, (shot.std(), colours)
            page.wait_for_function("() => document.querySelectorAll('mjx-container')"
                                   ".length > 0", timeout=10_000)

            # an exercise page: the student's version, its formulas typeset
            page.goto(f"{base}/exercises/{EXERCISES[0].stem}.html", wait_until="networkidle")
            page.wait_for_function("() => document.querySelectorAll('mjx-container')"
                                   ".length > 0", timeout=10_000)
            stub = page.locator(".cell_input pre", has_text="raise NotImplementedError()")
            stub.first.scroll_into_view_if_needed()
            assert stub.first.is_visible() and stub.count() >= 1
            page.screenshot(path=SHOTS / "exercise.png")

            # the engine's API page: the derivative table, one row per rule, on screen
            from chainrule.engine import RULES

            page.goto(f"{base}/api/engine.html", wait_until="networkidle")
            page.screenshot(path=SHOTS / "engine-api.png")
            table = page.locator("#derivative-rules table")
            table.scroll_into_view_if_needed()
            assert table.is_visible()
            assert table.locator("tbody tr").count() == len(RULES)
            page.screenshot(path=SHOTS / "engine-api-rules.png")
            page.locator('[id="chainrule.engine.Value.__pow__"]').scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / "engine-api-methods.png")
        finally:
            browser.close()
    (SHOTS / "requests.json").write_text(json.dumps(requests, indent=1))
    assert not failed, failed
    assert not errors, errors
    outside = [u for u in requests if not u.startswith(base + "/")]
    assert not outside, f"requests that left the machine: {outside}"
