"""Every notebook in a dry run at ``medium`` and at ``full`` on the CPU, the two budgets' kernels side by side: a
crash test, nothing more.

``DLOPT_DRY_RUN=1`` builds the data exactly as the budget does and caps the work (``dlopt_kit.core.dry_run``), so a
notebook that breaks only at a budget CI never runs (lesson 08's pool at ``full``) breaks here, in seconds. Each
notebook runs in a fresh ``dlopt-kit`` kernel from an in-memory copy, in a scratch folder laid out like the
checkout (``DLOPT_HOME`` and the working directory ``<scratch>/notebooks``, the checkout's prepared datasets): what
a dry run writes (studies, lesson 09's stores and recipe files under ``../runs``) never lands in the checkout, where
the real ``small`` run would read it back. A failure names the cell and the error. The claims are not checked (the real
``small`` run under nbval checks them). Times are printed (``pytest -s``) and summarised, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KERNEL = "dlopt-kit"
TIMES: dict[str, float] = {}


BUDGETS = ("medium", "full")


async def execute(path: Path, folder: Path, env: dict[str, str]) -> None:
    """Run ``path`` in a fresh kernel with ``folder`` as its working directory and ``env`` as its environment;
    raise AssertionError naming the failing cell and its error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    failed: dict = {}

    def on_cell_error(cell, cell_index, execute_reply):
        failed.setdefault("index", cell_index)

    client = NotebookClient(nb, timeout=600, kernel_name=KERNEL, on_cell_error=on_cell_error,
                            resources={"metadata": {"path": str(folder)}})
    try:
        await client.async_execute(env=env)
    except CellExecutionError as exc:
        index = failed.get("index", "?")
        source = nb.cells[index].source if isinstance(index, int) else ""
        first = source.strip().splitlines()[0] if source.strip() else ""
        raise AssertionError(f"{path.name} at {env['DLOPT_BUDGET']}, cell {index} ({first!r}) failed: "
                             f"{exc.ename}: {exc.evalue}\n{exc.traceback}") from None


def run_both(path: Path, runs: dict[str, tuple[Path, dict[str, str]]]) -> dict[str, BaseException | None]:
    """Each budget's dry run of ``path`` in its own kernel, the kernels side by side (one per CPU core on CI's
    two), in a thread of their own: the session's browser holds the main thread's event loop. Returns each
    budget's error, or None."""
    async def one(budget: str) -> None:
        started = time.perf_counter()
        try:
            await execute(path, *runs[budget])
        finally:
            TIMES[f"{path.stem} @ {budget}"] = time.perf_counter() - started
            print(f"\n{path.stem} dry run at {budget}: {TIMES[f'{path.stem} @ {budget}']:.1f} s")

    results: list = []

    async def both() -> None:
        results.extend(await asyncio.gather(*(one(budget) for budget in runs), return_exceptions=True))

    thread = threading.Thread(target=lambda: asyncio.run(both()))
    thread.start()
    thread.join()
    return dict(zip(runs, results, strict=True))


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    if TIMES:
        lines = "\n".join(f"  {key:<38} {seconds:6.1f} s" for key, seconds in TIMES.items())
        print(f"\ndry runs ({len(TIMES)}), total {sum(TIMES.values()):.1f} s:\n{lines}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_dry_run(path: Path, tmp_path: Path) -> None:
    """``path`` at ``medium`` and at ``full``, both at once."""
    from dlopt_kit.core import paths

    runs = {}
    for budget in BUDGETS:
        home = tmp_path / budget
        (home / "notebooks").mkdir(parents=True)
        env = {**os.environ, "DLOPT_DATA_DIR": str(paths.datasets_dir()),  # the prepared cache, read only
               "DLOPT_HOME": str(home), "DLOPT_DRY_RUN": "1", "DLOPT_BUDGET": budget, "DLOPT_DEVICE": "cpu"}
        runs[budget] = (home / "notebooks", env)
    outcome = run_both(path, runs)
    errors = [exc for exc in outcome.values() if exc is not None]
    assert set(outcome) == set(BUDGETS) and not errors, "\n\n".join(str(e) for e in errors)
