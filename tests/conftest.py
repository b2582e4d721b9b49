"""Shared fixtures: a seed per test, one CPU thread, and small real-data splits."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
# Unit tests check logic on the CPU, where the same seed gives the same numbers; tests marked `gpu` use CUDA
# explicitly. The notebooks and benchmarks exercise whatever device the machine has.
os.environ.setdefault("DLOPT_DEVICE", "cpu")
torch.set_num_threads(1)  # same seed gives the same numbers for the same thread count: fix it for the session

from dlopt_kit.core.data import Splits, load_splits  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield
    torch.set_num_threads(1)
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def tiny() -> Splits:
    """Fashion-MNIST, 30 training and 10 validation/test images per class (real data, fast)."""
    return load_splits("fashion_mnist", train_per_class=30, eval_per_class=10)


@pytest.fixture(scope="session")
def small() -> Splits:
    """Fashion-MNIST, 100 training and 30 validation/test images per class."""
    return load_splits("fashion_mnist", train_per_class=100, eval_per_class=30)


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server on loopback, in a temporary folder, with password (scram-sha-256) logins; stopped
    and removed after the session. Skips where PostgreSQL is not installed (``make test`` installs it where apt
    is available)."""
    import shutil
    import tempfile

    from dlopt_kit.classroom.server import PgServer, free_port

    require_postgres()
    folder = tempfile.mkdtemp(prefix="dlopt-pg-")
    server = PgServer(folder, port=free_port()).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def require_postgres() -> None:
    """Skip (fail under CI, where ``make test`` installs it) when PostgreSQL's programs are missing."""
    from dlopt_kit.classroom.server import INSTALL_HINT, pg_bin

    if pg_bin() is None:
        message = f"PostgreSQL is not installed: {INSTALL_HINT} (or run make test, which installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"the shared-study tests must run in CI: {message}")
        pytest.skip(message)


@pytest.fixture
def postgres() -> None:
    """For tests that start their own PostgreSQL server: PostgreSQL's programs must be installed."""
    require_postgres()


CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
BROWSER_INSTALL = "make browser-setup (as root: apt-get install chromium, and pip install playwright into .venv)"


def require_browser_part(reason: str) -> None:
    """Skip (fail under CI, where ``make test`` installs it) when Chromium or Playwright is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}; install with {BROWSER_INSTALL}")
    pytest.skip(f"{reason}: install with {BROWSER_INSTALL}")


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's), driven by Playwright: one for the whole session, shared by the panel tests,
    the site test and the playground test (Playwright's sync API allows one running instance per thread)."""
    import shutil

    chromium = next((path for name in CHROMIUM if (path := shutil.which(name))), None)
    if chromium is None:
        require_browser_part("no Chromium on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_browser_part("the Python package playwright is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()
