"""End to end: the playground notebook in JupyterLab, in a real headless Chromium.

Starts a Jupyter server on 127.0.0.1 (a free port, a random token) serving a copy of
notebooks/playground.ipynb, opens it with Playwright driving Debian's ``chromium``, runs
every cell, presses reset and play, and checks in the pixels that the output heatmap
changes while training runs; clicks a neuron and checks the inspector shows it.
Screenshots go to ``$E2E_OUT`` (default: ``chainrule-e2e`` in the system's temporary
folder); with ``E2E_UPDATE_SCREENSHOT=1`` the README's docs/images/playground.png is
replaced too.

Not part of ``make test``: run ``bash e2e/run.sh`` (``make test-e2e``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
OUT = Path(os.environ.get("E2E_OUT", Path(tempfile.gettempdir()) / "chainrule-e2e"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A JupyterLab server on a free localhost port; yields (base url, token)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    work = tmp_path_factory.mktemp("lab")
    # A copy: JupyterLab's autosave must not rewrite the committed notebook.
    shutil.copy(ROOT / "notebooks" / "playground.ipynb", work / "playground.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    log = open(work / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={work}", "--ServerApp.port_retries=0",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, cwd=work)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("the Jupyter server did not start:\n"
                                + (work / "server.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def changed_fraction(a: bytes, b: bytes) -> float:
    """Share of pixels whose colour moved by more than 24 (of 255) in some channel."""
    x, y = pixels(a), pixels(b)
    if x.shape != y.shape:
        return 1.0
    return float((np.abs(x - y).max(axis=2) > 24).mean())


def test_playground_trains_live_in_jupyterlab(server):
    base, token = server
    OUT.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        try:
            page.goto(f"{base}/lab/tree/playground.ipynb?token={token}")
            page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
            # JupyterLab may ask which kernel to start: the notebook's own (python3)
            select = page.locator(".jp-Dialog button", has_text=re.compile(r"^Select$"))
            with contextlib.suppress(playwright_api.TimeoutError):
                select.wait_for(timeout=15_000)
                select.click()
            # JupyterLab's question about news would cover the pictures: answer it
            no_news = page.locator(".jp-toast-button", has_text=re.compile(r"^No$"))
            with contextlib.suppress(playwright_api.TimeoutError):
                no_news.wait_for(timeout=5_000)
                no_news.click()
            # the kernel must be up before "Run All Cells" is useful
            page.wait_for_function(
                "() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
                "?.getAttribute('data-status') === 'idle'", timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
            app = page.locator(".chainrule-playground").first
            app.wait_for(timeout=60_000)
            # every cell has run when the last one's graph (an SVG) is there
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                ".every(e => !e.textContent.includes('*'))"
                " && document.querySelectorAll('.jp-OutputArea-output svg').length > 0",
                timeout=120_000)
            app.scroll_into_view_if_needed()
            output = app.locator(".chainrule-output")
            counter = app.locator(".chainrule-counter")

            app.locator("button", has_text="reset").click()
            page.wait_for_function(
                "() => document.querySelector('.chainrule-counter').textContent"
                ".includes('step 0')", timeout=10_000)
            page.wait_for_timeout(500)
            before = output.screenshot()
            page.screenshot(path=OUT / "playground-before.png")

            app.locator("button", has_text="play").click()
            page.wait_for_timeout(6000)
            during = output.screenshot()
            text = counter.text_content()
            page.screenshot(path=OUT / "playground-playing.png")
            app.locator("button", has_text="pause").click()
            page.wait_for_timeout(500)
            (OUT / "output-before.png").write_bytes(before)
            (OUT / "output-playing.png").write_bytes(during)

            steps = int(re.search(r"step (\d+)", text).group(1))
            rate = re.search(r"(\d+) steps/s", text)
            print(f"\nbrowser: after 6 s of play: {text.strip()}")
            assert steps > 100, text
            assert rate is not None and int(rate.group(1)) >= 20, text
            moved = changed_fraction(before, during)
            print(f"output heatmap: {moved:.1%} of pixels changed")
            assert moved > 0.05

            # click a neuron (layer 1, neuron 3 of 2-[8,8]-1): the inspector shows it
            net = app.locator(".chainrule-network")
            box = net.bounding_box()
            natural = net.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            x, y = 56 + 104 + 20, 26 + 2 * 54 + 20  # tile centre (render.network_png geometry)
            net.click(position={"x": x * box["width"] / natural[0],
                                "y": y * box["height"] / natural[1]})
            page.wait_for_function(
                "() => [...document.querySelectorAll('.chainrule-playground select')]"
                ".some(s => s.selectedOptions.length &&"
                " s.selectedOptions[0].textContent.replace(/\\s/g, ' ')"
                ".includes('layer 1 · neuron 3'))",
                timeout=10_000)
            page.wait_for_timeout(500)
            page.screenshot(path=OUT / "playground-neuron.png")
            # the README's picture: the app down to the inspector (the rows below are empty
            # until a graph is drawn)
            top = app.bounding_box()
            bottom = app.locator(".chainrule-inspector").bounding_box()
            shot = page.screenshot(clip={"x": top["x"], "y": top["y"], "width": top["width"],
                                         "height": bottom["y"] + bottom["height"] + 8
                                         - top["y"]})
            (OUT / "playground.png").write_bytes(shot)
            if os.environ.get("E2E_UPDATE_SCREENSHOT") == "1":
                (ROOT / "docs" / "images" / "playground.png").write_bytes(shot)
        except Exception:
            page.screenshot(path=OUT / "failure.png")
            print(page.evaluate("() => [...document.querySelectorAll('.chainrule-playground "
                                "select')].map(s => [s.selectedIndex, s.options.length, "
                                "s.selectedOptions[0]?.textContent])"))
            raise
        finally:
            browser.close()
