"""`make site`: the course website built from the stored notebooks, every page opened in headless Chromium."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
SHOWN = "lesson04-tuning"
PUBLISHED = ROOT / "docs" / "panels"
SHOTS = ROOT / "build" / "browser" / "screenshots"
SCREENSHOT = "02_augmentation"  # the lesson page photographed for a look at the site


def _load_build():
    spec = importlib.util.spec_from_file_location("site_build", ROOT / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    build = _load_build()
    tmp = tmp_path_factory.mktemp("site")
    shots = tmp / "panels"
    shots.mkdir()
    (shots / f"{SHOWN}.png").write_bytes(PNG)
    return build, build.build(tmp / "site", shots)


def test_every_page_opens_without_errors(site, browser):
    build, out = site
    lessons = build.lessons()
    pages = [out / "index.html"] + [out / f"{p.stem}.html" for p in lessons]
    assert all(p.is_file() for p in pages), [p.name for p in pages if not p.is_file()]
    page = browser.new_page()
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: (r.continue_() if r.request.url.startswith("file:")
                                  else (outside.append(r.request.url), r.abort())))
    for path in pages:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        if path.stem == SCREENSHOT:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"site-{path.stem}.png"))
        sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
        assert all(w > 0 for _, w in sizes), (path.name, [s for s, w in sizes if not w])
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            url = urlparse(href)
            if url.scheme or href.startswith("//") or href.startswith("mailto:"):
                continue
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            assert target.is_file(), (path.name, href)
            if url.fragment:
                page2 = target.read_text()
                assert f'id="{url.fragment}"' in page2, (path.name, href)
        if path.name != "index.html":
            nb = json.loads((ROOT / "notebooks" / f"{path.stem}.ipynb").read_text())
            figures = sum("image/png" in o.get("data", {}) and not build.is_panel_output(o)
                          for c in nb["cells"] for o in c.get("outputs", []))
            shots = page.locator("figure.panel-screenshot img").count()
            assert len(sizes) - shots == figures, (path.name, len(sizes), shots, figures)
            assert page.locator("details summary", has_text="Solution").count() == sum(
                "solution" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
            assert shots == (1 if path.stem.startswith("04_") else 0), path.name
    page.close()
    assert not errors, errors
    assert not outside, outside


def test_every_lesson_panel_has_a_small_committed_screenshot():
    """Every panel output of every stored lesson is given a panel name, and each panel of the browser tests has its
    screenshot in docs/panels/ (``DLOPT_SCREENSHOTS=1 make browser-test`` writes them), under 150 KB."""
    build = _load_build()
    constructors = build.panel_constructors()
    for path in build.lessons():
        _, placed = build.transform(json.loads(path.read_text()), path.name, constructors, PUBLISHED)
        assert placed and None not in placed, (path.name, placed)
    for name in constructors:
        png = PUBLISHED / f"{name}.png"
        assert png.is_file(), f"{png} is missing: run DLOPT_SCREENSHOTS=1 make browser-test"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 150_000, (png, png.stat().st_size)
