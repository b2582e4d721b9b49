"""Execute notebooks in place with the dlopt-kit kernel and store their outputs without execution noise.

    .venv/bin/python tools/run_notebooks.py notebooks/00_start_here.ipynb [...]

Run it after editing a notebook, on a CPU with the small budget (the stored outputs are a CPU run's).
Execution counts are renumbered 1..N; timing metadata and widget state are dropped.
"""

from __future__ import annotations

import os
import sys
import time

import nbformat
from nbclient import NotebookClient

KERNEL = "dlopt-kit"


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
                # tqdm's widget bars leave only a model id behind: keep their text form
                data = output.get("data", {})
                if "application/vnd.jupyter.widget-view+json" in data and "text/plain" in data:
                    data.pop("application/vnd.jupyter.widget-view+json")


def run(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    os.environ.setdefault("DLOPT_BUDGET", "small")
    resources = {"metadata": {"path": os.path.dirname(path)}}
    NotebookClient(nb, timeout=600, kernel_name=KERNEL, resources=resources).execute()
    clean(nb)
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    for notebook in sys.argv[1:]:
        run(notebook)
