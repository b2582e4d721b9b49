"""Every panel of the kit, clicked in JupyterLab in headless Chromium the way a learner meets it.

For every panel: it rendered (no "Error displaying widget", no error output) and no two controls or labels overlap
and no label is cut off. Training panels: Run starts a run (Run disabled, progress moving), the live plot changes,
the run ends with a row and a status line; a long run is stopped by Stop within 2 s and keeps its row; a bad value
typed into a box shows the readable message and keeps every earlier row. View panels (gallery, threshold): moving a
slider changes the picture. Screenshots of each panel go to build/browser/screenshots/.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import pytest

from .conftest import ROOT, SHOTS
from .panels import PANELS

# (label, bad value, what the message says): the first of these a panel has is typed in
BAD_VALUES = (("batch size", "0", "batch_size=0 is out of range"), ("lr", "-1", "lr=-1.0 is out of range"),
              ("epochs", "0", "epochs=0 is out of range"), ("rate", "1.5", "rate=1.5 is out of range"),
              ("batches", "0", "batches=0 is out of range"))
# the box that makes a run long enough to be stopped: epochs for a training panel, stream batches for a stream one,
# optimiser steps for lesson 03's
LONG = {"training": "epochs", "stream": "batches", "transfer": "steps per member"}

PUBLISHED = ROOT / "docs" / "panels"

OVERLAPS = """root => {
  const boxes = [...root.querySelectorAll('.widget-gridbox > .widget-inline-hbox, .widget-hbox > .widget-inline-hbox,'
                                          + '.widget-hbox > button, .widget-gridbox > .widget-slider')];
  const rect = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const hit = (a, b) => a[0] < b[2] - 1 && b[0] < a[2] - 1 && a[1] < b[3] - 1 && b[1] < a[3] - 1;
  const problems = [];
  const items = boxes.map(e => ({name: (e.querySelector('label') || e).textContent.trim(), box: rect(e),
                                 label: e.querySelector('label'), input: e.querySelector('select, input')}));
  items.forEach((a, i) => {
    if (a.label && a.label.scrollWidth > a.label.clientWidth + 1) problems.push(`label "${a.name}" is cut off`);
    if (a.label && a.input && hit(rect(a.label), rect(a.input))) problems.push(`label "${a.name}" overlaps its box`);
    items.slice(i + 1).forEach(b => { if (hit(a.box, b.box)) problems.push(`"${a.name}" overlaps "${b.name}"`); });
  });
  // the page's right edge: the window's, or the cell output's where that is narrower (it clips what runs past it)
  const output = root.closest('.jp-OutputArea-output') || root;
  const edge = Math.min(document.documentElement.clientWidth, output.getBoundingClientRect().right);
  [...root.querySelectorAll('.widget-inline-hbox, .widget-hbox, .widget-gridbox, button, input, select')].forEach(e => {
    const right = e.getBoundingClientRect().right;
    const name = (e.closest('.widget-inline-hbox')?.querySelector('label') || e).textContent.trim() || e.className;
    if (right > edge + 0.5) problems.push(`"${name}" runs past the page's right edge (${right} > ${edge})`);
  });
  return [...new Set(problems)];
}"""


def panel_locator(page, name):
    panel = page.locator(f".dlopt-panel-{name}")
    panel.wait_for(timeout=120_000)
    panel.scroll_into_view_if_needed()
    return panel


def shot(panel, name: str, step: str) -> str:
    path = SHOTS / f"{name}-{step}.png"
    panel.screenshot(path=str(path))
    return str(path)


def box(panel, label: str):
    return panel.locator(".widget-inline-hbox", has=panel.page.locator(f"label:text-is('{label}')")).locator("input")


def image_src(panel) -> str:
    return panel.locator("img").first.get_attribute("src") or ""


def publish(panel, name: str) -> None:
    """With ``DLOPT_SCREENSHOTS=1``, the panel's picture for the course site: docs/panels/<name>.png, its colours
    reduced so that it stays small (``make site`` shows it where the lesson's panel would be)."""
    if not os.environ.get("DLOPT_SCREENSHOTS"):
        return
    from PIL import Image

    path = PUBLISHED / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(path))
    image = Image.open(path).convert("RGB")
    if image.width > 900:
        image = image.resize((900, round(image.height * 900 / image.width)), Image.LANCZOS)
    image.quantize(colors=64).save(path, optimize=True)


def check_renders(page, name: str) -> None:
    """The panel rendered without a widget error or error output, and no control overlaps another, has its label
    cut off or runs past the page's right edge."""
    panel = panel_locator(page, name)
    where = shot(panel, name, "rendered")
    cell = page.locator(".jp-Cell", has=panel)
    assert cell.get_by_text("Error displaying widget").count() == 0, f"{name}: widget error; see {where}"
    assert cell.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, f"{name}: error; {where}"
    problems = panel.evaluate(OVERLAPS)
    assert not problems, f"{name}: controls overlap or are cut off ({'; '.join(problems)}); see {where}"


@pytest.mark.parametrize("name", list(PANELS))
def test_panel_renders_without_error_or_overlap(page, name):
    check_renders(page, name)
    if PANELS[name][0] == "view":
        publish(panel_locator(page, name), name)


@contextmanager
def check(panel, name: str, what: str):
    """Run one check; a failure names the panel, the check and a screenshot taken at that moment."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - playwright timeouts and assertions alike
        where = shot(panel, name, "failed")
        raise AssertionError(f"{name}: {what} failed ({str(exc).splitlines()[0]}); see {where}") from exc


def wait_enabled(panel, text: str) -> None:
    """Wait until the panel's button ``text`` is enabled again (the state, not a fixed time)."""
    panel.locator("button:not([disabled])", has_text=text).first.wait_for(timeout=10_000)


def progress_width(panel) -> str:
    return panel.locator(".progress-bar").first.evaluate("e => e.style.width")


@pytest.mark.parametrize("name", [n for n, (kind, _) in PANELS.items() if kind in LONG])
def test_training_panel_run_stop_and_bad_value(page, name):
    check_run_stop_and_bad_value(page, name)


def check_run_stop_and_bad_value(page, name: str, prefix: str = "") -> None:
    """Run starts a run, the plot and a row appear; Stop ends a long run within 2 s and keeps its row; a bad value
    shows its message and keeps every row. Screenshots are named ``<prefix><name>-<step>.png``."""
    panel = panel_locator(page, name)
    shot_name = prefix + name
    long = LONG[PANELS[name][0]]
    run, stop = panel.locator("button", has_text="Run"), panel.locator("button", has_text="Stop")
    rows = panel.locator("table tbody tr")

    with check(panel, shot_name, "Run starts a run (Run disabled, progress moving)"):
        start = progress_width(panel)
        run.click()
        panel.locator("button[disabled]", has_text="Run").wait_for(timeout=10_000)
        page.wait_for_function("([el, before]) => el.style.width !== before", timeout=60_000,
                               arg=[panel.locator(".progress-bar").first.element_handle(), start])
    with check(panel, shot_name, "the live plot appears and the run ends with a row and a status line"):
        panel.locator("img[src]").first.wait_for(timeout=120_000)
        rows.first.wait_for(timeout=120_000)
        assert rows.count() == 1, f"{rows.count()} rows after one run"
        assert "Run 1: completed" in panel.inner_text(), "no status line for the run"
        wait_enabled(panel, "Run")  # the worker re-enables Run just after writing its last line
    shot(panel, shot_name, "after-run")
    if not prefix:
        publish(panel, name)
    first_picture = image_src(panel)

    with check(panel, shot_name, "Stop ends a long run within 2 s and keeps its row"):
        box(panel, long).fill("500" if long == "epochs" else "5000")
        box(panel, long).press("Enter")
        run.click()
        panel.locator("button[disabled]", has_text="Run").wait_for(timeout=10_000)
        page.wait_for_function("([el, before]) => (el.getAttribute('src') || '') !== before", timeout=60_000,
                               arg=[panel.locator("img").first.element_handle(), first_picture])
        clicked = time.perf_counter()
        stop.click()
        panel.get_by_text("stopped by the user").first.wait_for(timeout=10_000)
        took = time.perf_counter() - clicked
        assert took <= 2.0, f"Stop took {took:.1f}s (allowed 2 s)"
        page.wait_for_function("el => el.querySelectorAll('table tbody tr').length === 2", arg=panel.element_handle())
        assert "stopped by the user" in panel.locator("table").inner_text(), "the stopped run's row is missing"
    shot(panel, shot_name, "after-stop")

    for label, value, message in BAD_VALUES:
        if not box(panel, label).count():
            continue
        with check(panel, shot_name, f"a bad value ({label} {value}) shows its message and keeps every row"):
            good = box(panel, label).input_value()
            box(panel, label).fill(value)
            box(panel, label).press("Enter")
            run.click()
            panel.get_by_text(message).first.wait_for(timeout=10_000)
            assert rows.count() == 2 and run.is_enabled(), "a bad value lost rows or started a run"
        shot(panel, shot_name, f"bad-{label.replace(' ', '-')}")
        box(panel, label).fill(good)
        box(panel, label).press("Enter")


@pytest.mark.parametrize("name", [n for n, (kind, _) in PANELS.items() if kind == "view"])
def test_view_panel_slider_changes_the_picture(page, name):
    panel = panel_locator(page, name)
    before = image_src(panel)
    handle = panel.locator(".widget-slider .noUi-handle, .widget-slider .slider-handle").first
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    page.wait_for_function("([el, before]) => (el.getAttribute('src') || '') !== before",
                           arg=[panel.locator("img").first.element_handle(), before], timeout=30_000)
    shot(panel, name, "after-slider")


@pytest.mark.parametrize("name", [n for n, (kind, _) in PANELS.items() if kind == "study"])
def test_study_panel_run_stop_and_bad_value(page, name):
    panel = panel_locator(page, name)
    run, stop = panel.locator("button", has_text="Run"), panel.locator("button", has_text="Stop")
    rows = panel.locator("table").last.locator("tbody tr")  # the trials table (a summary of studies may sit above it)
    with check(panel, name, "Run runs the study: trials fill the table and the plot, and it ends with a status"):
        box(panel, "trials").fill("3")
        box(panel, "trials").press("Enter")
        box(panel, "epochs").fill("2")
        box(panel, "epochs").press("Enter")
        run.click()
        panel.get_by_text("3 trial(s) finished").first.wait_for(timeout=120_000)
        wait_enabled(panel, "Run")
        assert rows.count() == 3 and panel.locator("img[src]").count()
    shot(panel, name, "after-run")
    publish(panel, name)
    with check(panel, name, "Stop ends a long study within 2 s and keeps its finished trials"):
        box(panel, "trials").fill("500")
        box(panel, "trials").press("Enter")
        box(panel, "epochs").fill("100")
        box(panel, "epochs").press("Enter")
        run.click()
        panel.locator("button[disabled]", has_text="Run").wait_for(timeout=10_000)
        page.wait_for_timeout(1500)
        clicked = time.perf_counter()
        stop.click()
        panel.get_by_text("stopped by the user,").first.wait_for(timeout=10_000)  # the status line, not the row
        took = time.perf_counter() - clicked
        assert took <= 2.0, f"Stop took {took:.1f}s (allowed 2 s)"
        panel.locator("button:not([disabled])", has_text="Run").wait_for(timeout=5_000)
        assert "fail" in panel.locator("table").last.inner_text()
    shot(panel, name, "after-stop")
    kept = rows.count()
    with check(panel, name, "a bad value (trials 0) shows its message and keeps every row"):
        box(panel, "trials").fill("0")
        box(panel, "trials").press("Enter")
        run.click()
        panel.get_by_text("trials=0 is out of range").first.wait_for(timeout=10_000)
        assert rows.count() == kept and run.is_enabled(), "a bad value lost rows or started a study"
    shot(panel, name, "bad-trials")


def test_study_panel_join_box_refuses_other_data(page):
    panel = panel_locator(page, "lesson04-tuning")
    with check(panel, "lesson04-tuning", "joining the class study with another budget's data is refused by name"):
        panel.get_by_text("join class study").first.click()
        box(panel, "class study").fill("browser-class")  # the URL comes from DLOPT_STORAGE, as a student's would
        box(panel, "trials").fill("1")
        box(panel, "trials").press("Enter")
        panel.locator("button", has_text="Run").click()
        panel.get_by_text("restart the notebook with DLOPT_BUDGET=small").first.wait_for(timeout=30_000)
        panel.get_by_text("join class study").first.click()  # back to the panel's own study
    shot(panel, "lesson04-tuning", "join-refused")


@pytest.mark.parametrize("name", [n for n, (kind, _) in PANELS.items() if kind == "board"])
def test_leaderboard_watch_stop_and_bad_value(page, name):
    panel = panel_locator(page, name)
    watch, stop = panel.locator("button", has_text="Watch"), panel.locator("button", has_text="Stop")
    rows = panel.locator("table tbody tr")
    with check(panel, name, "Watch shows every learner's best, names as text, and refreshes"):
        watch.click()
        panel.get_by_text("refreshed (2 participant(s))").first.wait_for(timeout=30_000)
        assert rows.count() == 2 and panel.locator("table b").count() == 0, "a name's HTML was rendered"
        assert "<b>Ada</b>" in panel.locator("table").inner_text() and not watch.is_enabled()
    shot(panel, name, "watching")
    publish(panel, name)
    with check(panel, name, "Stop ends the refreshing and keeps the board"):
        stop.click()
        panel.get_by_text("Stopped watching").first.wait_for(timeout=10_000)
        wait_enabled(panel, "Watch")
        assert rows.count() == 2
    with check(panel, name, "a bad value (every 0 s) shows its message and keeps the board"):
        box(panel, "refresh every (s)").fill("0")
        box(panel, "refresh every (s)").press("Enter")
        watch.click()
        panel.get_by_text("1 to 3600 seconds").first.wait_for(timeout=10_000)
        assert rows.count() == 2 and watch.is_enabled()
    shot(panel, name, "bad-every")
