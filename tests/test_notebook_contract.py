"""Every notebook follows the lesson contract (the course map in README.md lists the sequence)."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_is_a_first_lesson():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_contract(path):
    nb = nbformat.read(path, as_version=4)
    text = [c.source for c in nb.cells]
    head = text[0]
    assert re.match(rf"# {path.name[:2]} · ", head), "title first"
    assert "You will learn" in head and len(re.findall(r"^- ", head, re.M)) == 3, "three 'you will learn' bullets"
    assert "CPU" in head and "GPU" in head, "how long it takes on CPU and on a GPU"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "setup(" in code[0].source, "one setup cell first"
    assert any("Panel(" in c.source or "_panel(" in c.source for c in code), "a panel"
    claim = re.compile(r"assert_gain\(|assert_paired\(|assert_not_worse\(|assert_peak_inside\(|^assert ", re.M)
    assert any(claim.search(c.source) for c in code), "a claim"
    assert any(t.startswith("## Exercises") for t in text), "exercises"
    assert any("Takeaway" in t for t in text), "a takeaway box"
    assert nb.metadata["kernelspec"]["name"] == "dlopt-kit"
    assert all(c.execution_count is not None and c.outputs is not None for c in code), "stored with outputs"
    assert path.stat().st_size < 600_000, "small images"
