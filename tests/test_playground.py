"""``make playground`` in a real browser: bin/playground serves the app with Voila on 127.0.0.1 with a token, and
headless Chromium (Debian's, driven by Playwright) runs a two-config comparison, stops a long run, enters a bad
value, and the command that "Show the code" shows gives the same table from a terminal. A request without the
token is refused.

Where Chromium, Playwright or Voila is missing it skips with one line naming the install command; under CI it fails.
"""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlopt_kit.core.paths import datasets_dir

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "browser" / "screenshots"
INSTALL = "make browser-setup (as root: apt-get install chromium) and .venv/bin/pip install voila playwright"


def missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the playground's browser test cannot run in CI: {reason}; install with {INSTALL}")
    pytest.skip(f"{reason}: install with {INSTALL}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(port: int, path: str) -> tuple[int, str]:
    """The HTTP status and Location of one GET, redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


@pytest.fixture
def server(tmp_path):
    """bin/playground (as ``make playground`` runs it) on a free port, its runs kept under ``tmp_path``."""
    import importlib.util

    if importlib.util.find_spec("voila") is None:
        missing("the Python package voila is not installed")
    port, token = free_port(), "playground-test-0123456789"
    env = {**os.environ, "PORT": str(port), "JUPYTER_TOKEN": token, "DLOPT_HOME": str(tmp_path),
           "DLOPT_DATA_DIR": str(datasets_dir()), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "voila.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(ROOT / "bin" / "playground")], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 60
        while True:  # a static file: asking for the app itself would start a kernel
            try:
                if status(port, f"/voila/static/voila.js?token={token}")[0] < 500:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                pytest.fail(f"Voila did not start: {(tmp_path / 'voila.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield port, token, env
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def box(app, label: str):
    return app.locator(".widget-inline-hbox", has=app.page.locator(f"label:text-is('{label}')")).locator(
        "input, select").first


def enter(app, label: str, value: str) -> None:
    box(app, label).fill(value)
    box(app, label).press("Enter")


def cells(row) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_the_playground_in_a_browser(server, browser, tmp_path):
    port, token, env = server
    started = time.perf_counter()
    # the token is required: without it, or with a wrong one, the app is refused (403 or a redirect to log in)
    for path in ("/", "/?token=wrong"):
        code, where = status(port, path)
        assert code == 403 or (code in (301, 302) and "/login" in where), (path, code, where)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(f"http://127.0.0.1:{port}/?token={token}")
    app = page.locator(".dlopt-playground")
    app.wait_for(timeout=90_000)
    assert page.locator(".jp-InputArea, .jp-CodeMirrorEditor, .cm-editor").count() == 0, "a code cell is shown"
    run, stop = app.locator("button", has_text="Run"), app.locator("button", has_text="Stop")
    rows = app.locator("table tbody tr")

    # a two-config comparison at tiny settings
    box(app, "dataset").select_option("digits")
    for label, value in (("train per class (0 = all)", "20"), ("hidden", "32"), ("epochs", "3"),
                         ("seeds", "2"), ("name", "baseline")):
        enter(app, label, value)
    app.locator("button", has_text="Add to queue").click()
    app.get_by_text("Queued baseline").wait_for()
    enter(app, "dropout", "0.3")
    enter(app, "name", "dropout")
    app.locator("button", has_text="Add to queue").click()
    app.get_by_text("Queued dropout").wait_for()
    run.click()
    page.wait_for_function("el => el.querySelectorAll('table tbody tr').length === 2", arg=app.element_handle(),
                           timeout=90_000)
    app.locator("button:not([disabled])", has_text="Run").wait_for()
    assert app.get_by_text("[primary] dropout vs baseline").count() and app.locator("img[src]").count()
    table = {cells(rows.nth(i))[0]: cells(rows.nth(i)) for i in range(2)}

    # Show the code: the recipe files and the command; run the command while the browser goes on
    app.locator("button", has_text="Show the code").click()
    command = app.locator("pre.dlopt-code-command")
    command.wait_for()
    assert "load_recipe" in app.locator("pre.dlopt-code-python").inner_text()
    words = shlex.split(command.inner_text())
    assert words[:4] == ["python", "-m", "dlopt_kit", "compare"]
    cli = subprocess.Popen([sys.executable, *words[1:]], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    page.screenshot(path=str(SHOTS / "playground.png"), full_page=True)

    # Stop ends a long run and keeps its row
    enter(app, "epochs", "500")
    enter(app, "name", "long")
    run.click()
    app.locator("button[disabled]", has_text="Run").wait_for()
    app.get_by_text("training long").wait_for()
    page.wait_for_function("el => !['', '0%'].includes(el.style.width)",
                           arg=app.locator(".progress-bar").first.element_handle())
    stop.click()
    app.get_by_text("stopped by the user").first.wait_for(timeout=10_000)
    page.wait_for_function("el => el.querySelectorAll('table tbody tr').length === 3", arg=app.element_handle())
    app.locator("button:not([disabled])", has_text="Run").wait_for()

    # a bad value: a readable message, every row kept, no run
    enter(app, "batch size", "0")
    run.click()
    app.get_by_text("batch_size=0 is out of range").first.wait_for(timeout=10_000)
    assert rows.count() == 3 and run.is_enabled()
    page.close()

    out, err = cli.communicate(timeout=120)
    assert cli.returncode == 0, err[-2000:]
    for name in ("baseline", "dropout"):
        line = next(x for x in out.splitlines() if x.startswith(name + " "))
        terminal, shown = float(line.split()[1]), float(table[name][2])
        assert abs(terminal - shown) <= 0.0011, f"{name}: the command gives {terminal}, the app {shown}"
    print(f"\nplayground test: {time.perf_counter() - started:.0f} s; screenshot {SHOTS / 'playground.png'}")
