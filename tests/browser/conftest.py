"""JupyterLab on loopback with a token, and Debian's Chromium driven by Playwright (no browser download).

Where Chromium or Playwright is missing, every browser test skips with one line naming the command that installs
them (``make browser-setup``); under CI (``CI`` set) a missing browser fails instead, so it cannot skip silently.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .panels import write_notebook

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "browser" / "screenshots"
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
INSTALL = "make browser-setup (as root: apt-get install chromium, and pip install playwright into .venv)"


def _chromium() -> str | None:
    return next((path for name in CHROMIUM if (path := shutil.which(name))), None)


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}; install with {INSTALL}")
    pytest.skip(f"{reason}: install with {INSTALL}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLASS_STUDY = "browser-class"


@pytest.fixture(scope="session")
def class_storage():
    """The class study the leaderboard panel watches: on a real PostgreSQL server on loopback (SQLite under
    build/browser where PostgreSQL is not installed, outside CI), holding real trials by two named learners, one
    name with HTML in it."""
    from dlopt_kit.classroom.server import PgServer, free_port, pg_bin
    from dlopt_kit.classroom.study import connect, create_shared, objective_for, work
    from dlopt_kit.core.data import load_splits

    server, folder = None, None
    if pg_bin() is not None:
        import tempfile

        folder = tempfile.mkdtemp(prefix="dlopt-pg-browser-")
        server = PgServer(folder, port=free_port()).start()
        url = server.url()
    elif os.environ.get("CI"):
        pytest.fail("the leaderboard's browser test needs PostgreSQL in CI: run make postgres-setup")
    else:
        (ROOT / "build" / "browser").mkdir(parents=True, exist_ok=True)
        (ROOT / "build" / "browser" / "class.db").unlink(missing_ok=True)
        url = f"sqlite:///{ROOT / 'build' / 'browser' / 'class.db'}"
    study = create_shared(connect(url), CLASS_STUDY, method="random", pruner="none")
    tiny = load_splits("fashion_mnist", train_per_class=30, eval_per_class=10)
    for learner in ("<b>Ada</b>", "Grace"):
        work(study, objective_for(study, tiny, learner), add=1)
    yield url
    if server is not None:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def lab_url(class_storage):
    """Start JupyterLab the way ``make lab`` does (127.0.0.1, a token, --allow-root only for root), with the class
    study's URL in ``DLOPT_STORAGE`` as a student would have it; yield the panels notebook's URL; stop it after."""
    notebook = write_notebook(ROOT / "build" / "browser" / "panels.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    extra = ["--allow-root"] if os.geteuid() == 0 else []
    log = open(ROOT / "build" / "browser" / "lab.log", "w")  # noqa: SIM115 - closed below
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                            f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={ROOT}",
                            *extra], env={**os.environ, "JUPYTER_TOKEN": token, "DLOPT_STORAGE": class_storage},
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.time() > deadline or lab.poll() is not None:
                    pytest.fail(f"JupyterLab did not start; see {log.name}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/{notebook.relative_to(ROOT)}?token={token}&reset"
    finally:
        lab.terminate()
        try:
            lab.wait(15)
        except subprocess.TimeoutExpired:
            lab.kill()
        log.close()


@pytest.fixture(scope="session")
def page(lab_url):
    """The panels notebook opened in headless Chromium, every cell run (Run > Run All Cells)."""
    chromium = _chromium()
    if chromium is None:
        _missing("no Chromium on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {SHOTS}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(lab_url)
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
        page.get_by_text("Python (dlopt-kit) | Idle").wait_for(timeout=90_000)
        news = page.get_by_role("button", name="No")  # JupyterLab's "notify about news?" toast covers the panels
        if news.count():
            news.first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        yield page
        browser.close()
