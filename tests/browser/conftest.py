"""JupyterLab on loopback with a token (its server serves Notebook 7's pages too), and Debian's Chromium driven by
Playwright (no browser download; the session's one ``browser`` is in tests/conftest.py).

Where Chromium or Playwright is missing, every browser test skips with one line naming the command that installs
them (``make browser-setup``); under CI (``CI`` set) a missing browser fails instead, so it cannot skip silently.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from .panels import NOTEBOOK7, write_notebook

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "browser" / "screenshots"
LAB_NOTEBOOK = ROOT / "build" / "browser" / "panels.ipynb"
NOTEBOOK7_NOTEBOOK = ROOT / "build" / "browser" / "panels-notebook7.ipynb"
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


@dataclass(frozen=True)
class Server:
    """A running Jupyter server: its base URL and token."""

    base: str
    token: str

    def url(self, route: str, path: Path) -> str:
        return f"{self.base}/{route}/{path.relative_to(ROOT)}?token={self.token}"

    def kernel_idle(self, path: Path) -> bool:
        """Whether the notebook at ``path`` has a kernel that has started and is idle."""
        with urllib.request.urlopen(f"{self.base}/api/sessions?token={self.token}", timeout=5) as answer:
            sessions = json.load(answer)
        where = str(path.relative_to(ROOT))
        return any(s.get("path") == where and (s.get("kernel") or {}).get("execution_state") == "idle"
                   for s in sessions)


@pytest.fixture(scope="session")
def jupyter(class_storage):
    """Start JupyterLab the way ``make lab`` does (127.0.0.1, a token, --allow-root only for root), with the class
    study's URL in ``DLOPT_STORAGE`` as a student would have it; stop it after. The same server serves Jupyter
    Notebook 7's pages (``/notebooks/...``): notebook registers itself as one of its extensions."""
    (ROOT / "build" / "browser").mkdir(parents=True, exist_ok=True)
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
        yield Server(f"http://127.0.0.1:{port}", token)
    finally:
        lab.terminate()
        try:
            lab.wait(15)
        except subprocess.TimeoutExpired:
            lab.kill()
        log.close()


@pytest.fixture(scope="session")
def lab_url(jupyter):
    """The panels notebook's URL in JupyterLab."""
    return jupyter.url("lab/tree", write_notebook(LAB_NOTEBOOK)) + "&reset"


def _open_and_run_all(browser, server: Server, url: str, notebook: Path):
    """A page (1280 x 1000 CSS pixels, one device pixel each) at ``url``, every cell run once the notebook's kernel
    is idle (Run > Run All Cells: the same menu in JupyterLab and Notebook 7)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    deadline = time.time() + 90
    while not server.kernel_idle(notebook):
        if time.time() > deadline:
            pytest.fail(f"the kernel of {notebook.name} did not start within 90 s")
        page.wait_for_timeout(250)
    # JupyterLab's "notify about news?" toast covers the panels (exact: Notebook 7's "Not Trusted" is a button too)
    news = page.get_by_role("button", name="No", exact=True)
    if news.count():
        news.first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    return page


@pytest.fixture(scope="session")
def page(browser, jupyter, lab_url):
    """The panels notebook opened in JupyterLab in headless Chromium, every cell run."""
    page = _open_and_run_all(browser, jupyter, lab_url, LAB_NOTEBOOK)
    yield page
    page.close()


@pytest.fixture(scope="session")
def notebook7_page(browser, jupyter):
    """A notebook of the panels in ``NOTEBOOK7`` opened in Jupyter Notebook 7 (``/notebooks/...`` on the same
    server), every cell run. Its own notebook, so its own kernel: JupyterLab's panels are left as they are."""
    notebook = write_notebook(NOTEBOOK7_NOTEBOOK, NOTEBOOK7)
    page = _open_and_run_all(browser, jupyter, jupyter.url("notebooks", notebook), notebook)
    yield page
    page.close()
