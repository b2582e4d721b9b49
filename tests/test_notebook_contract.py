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
    assert f'lesson="{path.stem}"' in code[0].source, f'setup(..., lesson="{path.stem}") opens the claims ledger'

    assert any("Panel(" in c.source or "_panel(" in c.source for c in code), "a panel"
    claim = re.compile(r"assert_(gain|paired|not_worse|peak_inside|threshold)\(")
    assert any(claim.search(c.source) for c in code), "a claim, checked by a claims helper"
    assert any(t.startswith("## Exercises") for t in text), "exercises"
    assert any("Takeaway" in t for t in text), "a takeaway box"
    assert nb.metadata["kernelspec"]["name"] == "dlopt-kit"
    assert all(c.execution_count is not None and c.outputs is not None for c in code), "stored with outputs"
    assert path.stat().st_size < 600_000, "small images"


BARE = re.compile(r"^\s*assert\b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_bare_asserts_are_sanity_checks(path):
    """A lesson's claim goes through a claims helper, so that it is recorded in the ledger and checked the same way
    everywhere; a bare ``assert`` is a sanity check the text does not present as the claim. It says so in a comment
    on its line and is not skipped in a dry run (a check a dry run cannot pass is a claim)."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if BARE.match(line):
                where = f"cell {index}: {line.strip()}"
                assert "# sanity check" in line, (f"{where}: a claim goes through a claims helper; a sanity check "
                                                  "says '# sanity check' on its line")
                assert "dry_run()" not in line, f"{where}: an assert a dry run must skip is a claim"
