"""The documentation site: it builds strictly, fetches nothing, and shows its pictures.

The site is built once per run with ``scripts/build-docs.sh`` (what ``make docs`` runs)
into a temporary folder. A second, tiny build with a broken link, a reference to a name
that does not exist, a docstring that does not parse, a notebook that cannot be read
and a public name left out proves that strict mode fails on each. Then headless
Chromium (Debian's ``chromium``, driven by Playwright; never a downloaded browser) opens
the landing page and a notebook page from a local web server and checks that the gate
picture and the notebook's plot are on screen and drawn, that MathJax typeset the
notebook's formulas, and that no request left the machine. Screenshots go to
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


def test_strict_mode_fails_on_each_kind_of_mistake(tmp_path):
    _need_docs_tools()
    src, notebooks = tmp_path / "src", tmp_path / "nb"
    src.mkdir()
    notebooks.mkdir()
    (src / "conf.py").write_text(
        "import runpy, sys\n"
        f"_conf = runpy.run_path({str(ROOT / 'docs' / 'conf.py')!r})\n"
        "globals().update({k: v for k, v in _conf.items() if not k.startswith('__')})\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "html_static_path, html_css_files = [], []\n"
        f"chainrule_notebook_sections = {{'notebooks': {str(notebooks / '*.ipynb')!r}}}\n"
        "chainrule_public_packages = ['badmod']\n")
    (src / "index.md").write_text(
        "# Broken\n\n[a page that is not there](missing-page.md)\n\n"
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
    result = build(tmp_path / "site", tmp_path / "doctrees", srcdir=src)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for problem in ("missing-page", "badmod.no_such_function", "docstring of badmod:",
                    "broken.ipynb cannot be read", "badmod.forgotten is public"):
        assert problem in output, f"strict mode did not report {problem!r}:\n{output}"


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
        finally:
            browser.close()
    (SHOTS / "requests.json").write_text(json.dumps(requests, indent=1))
    assert not failed, failed
    assert not errors, errors
    outside = [u for u in requests if not u.startswith(base + "/")]
    assert not outside, f"requests that left the machine: {outside}"
