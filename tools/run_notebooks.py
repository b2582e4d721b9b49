"""Execute notebooks with the dlopt-kit kernel and store their outputs without execution noise.

    .venv/bin/python tools/run_notebooks.py notebooks/00_start_here.ipynb [...]
    .venv/bin/python tools/run_notebooks.py --budget medium --out /tmp/medium notebooks/*.ipynb

Run it after editing a notebook, on a CPU with the small budget (the stored outputs are a CPU run's): it rewrites
the notebook in place. With ``--out DIR`` the executed copies go to DIR instead (to check a lesson's claims at
another budget without touching the stored outputs); every run prints its time and the lines its claims printed.
Execution counts are renumbered 1..N; timing metadata and widget state are dropped.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNEL = "dlopt-kit"
CLAIM_MARKERS = ("claimed at least", "peak at")


def _is_progress_bar(output: dict) -> bool:
    text = output.get("data", {}).get("text/plain", "")
    return "application/vnd.jupyter.widget-view+json" in output.get("data", {}) and "it/s]" in text


def clean(nb: nbformat.NotebookNode) -> None:
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python (dlopt-kit)", "language": "python"}
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            count += 1  # sequential from 1: nbval treats a cell without a count as never run
            cell.execution_count = count
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = count
            # tqdm's widget bars leave only a model id and the text of their first frame ("runs: 0%"), which
            # reads as if nothing ran: drop them (the panels' widgets stay, as their text form)
            cell.outputs = [o for o in cell.get("outputs", []) if not _is_progress_bar(o)]
            for output in cell.outputs:
                data = output.get("data", {})
                if "application/vnd.jupyter.widget-view+json" in data and "text/plain" in data:
                    data.pop("application/vnd.jupyter.widget-view+json")


def claim_lines(nb: nbformat.NotebookNode) -> list[str]:
    """The lines the notebook's claim checks printed."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines += [ln for ln in output["text"].splitlines() if any(m in ln for m in CLAIM_MARKERS)]
    return lines


def run(path: Path, out: Path | None) -> None:
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(nb, timeout=1800, kernel_name=KERNEL, resources=resources).execute()
    clean(nb)
    target = (out / path.name) if out else path
    nbformat.write(nb, target)
    print(f"{path} ({os.environ['DLOPT_BUDGET']} budget): executed in {time.perf_counter() - started:.1f}s -> {target}")
    for line in claim_lines(nb):
        print(f"  {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--budget", default="small", choices=("small", "medium", "full"))
    parser.add_argument("--out", type=Path, help="write executed copies here instead of in place")
    args = parser.parse_args()
    os.environ["DLOPT_BUDGET"] = args.budget
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for notebook in args.notebooks:
        run(notebook, args.out)
