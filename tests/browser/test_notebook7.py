"""One training panel and the sandbox panel again in Jupyter Notebook 7, whose single-document page is laid out
unlike JupyterLab's: each renders without an error, no control overlaps another or runs past the page's right edge,
and Run, Stop and a bad value behave as they do in JupyterLab (the same checks, on the same server)."""

from __future__ import annotations

import pytest

from .panels import NOTEBOOK7
from .test_panels_in_browser import check_renders, check_run_stop_and_bad_value


def test_notebook7_page_is_notebook7(notebook7_page):
    # Notebook 7's own shell, not JupyterLab's: its notebook page has no launcher and no side panels
    assert notebook7_page.locator("#main-panel, .jp-NotebookPanel").count()
    assert "/notebooks/" in notebook7_page.url


@pytest.mark.parametrize("name", NOTEBOOK7)
def test_notebook7_panel_renders_within_the_page(notebook7_page, name):
    check_renders(notebook7_page, name)


@pytest.mark.parametrize("name", NOTEBOOK7)
def test_notebook7_panel_run_stop_and_bad_value(notebook7_page, name):
    check_run_stop_and_bad_value(notebook7_page, name, prefix="notebook7-")
