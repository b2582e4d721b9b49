"""Every notebook in a dry run at ``medium`` and at ``full`` on the CPU: a crash test, nothing more.

``DLOPT_DRY_RUN=1`` builds the data exactly as the budget does and caps the work (``dlopt_kit.core.dry_run``), so a
notebook that breaks only at a budget CI never runs (lesson 08's pool at ``full``) breaks here, in seconds. Each
notebook runs in a fresh ``dlopt-kit`` kernel from an in-memory copy, in a scratch folder laid out like the
checkout (``DLOPT_HOME`` and the working directory ``<scratch>/notebooks``, the checkout's prepared datasets): what
a dry run writes (studies, lesson 09's stores and recipe files under ``../runs``) never lands in the checkout, where
the real ``small`` run would read it back. A failure names the cell and the error. The claims are not checked (the real
``small`` run under nbval checks them). Times are printed (``pytest -s``) and summarised, never asserted.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KERNEL = "dlopt-kit"
TIMES: dict[str, float] = {}


def execute(path: Path, folder: Path) -> None:
    """Run ``path`` in a fresh kernel with ``folder`` as its working directory; raise AssertionError naming the
    failing cell and its error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    failed: dict = {}

    def on_cell_error(cell, cell_index, execute_reply):
        failed.setdefault("index", cell_index)

    client = NotebookClient(nb, timeout=600, kernel_name=KERNEL, on_cell_error=on_cell_error,
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        index = failed.get("index", "?")
        source = nb.cells[index].source if isinstance(index, int) else ""
        first = source.strip().splitlines()[0] if source.strip() else ""
        raise AssertionError(f"{path.name}, cell {index} ({first!r}) failed: {exc.ename}: {exc.evalue}\n"
                             f"{exc.traceback}") from None


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    if TIMES:
        lines = "\n".join(f"  {key:<38} {seconds:6.1f} s" for key, seconds in TIMES.items())
        print(f"\ndry runs ({len(TIMES)}), total {sum(TIMES.values()):.1f} s:\n{lines}")


@pytest.mark.parametrize("budget", ["medium", "full"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_dry_run(path: Path, budget: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dlopt_kit.core import paths

    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("DLOPT_DATA_DIR", str(paths.datasets_dir()))  # the prepared cache, read only
    monkeypatch.setenv("DLOPT_HOME", str(tmp_path))
    monkeypatch.setenv("DLOPT_DRY_RUN", "1")
    monkeypatch.setenv("DLOPT_BUDGET", budget)
    monkeypatch.setenv("DLOPT_DEVICE", "cpu")
    started = time.perf_counter()
    try:
        execute(path, tmp_path / "notebooks")
    finally:
        TIMES[f"{path.stem} @ {budget}"] = time.perf_counter() - started
        print(f"\n{path.stem} dry run at {budget}: {TIMES[f'{path.stem} @ {budget}']:.1f} s")
