"""``python -m dlopt_kit doctor``: versions, device, budget, threads and dataset readiness, with fix-it advice."""

from __future__ import annotations

import importlib.metadata as md
import sys

from dlopt_kit.core import paths

# What the notebooks need to run, in any Jupyter front end (JupyterLab, VS Code, ...).
CORE = ("torch", "torchvision", "numpy", "pandas", "matplotlib", "seaborn", "scikit-learn", "tqdm", "mlxtend",
        "ipywidgets", "ipykernel")
# What `make lab` and `make test` add: reported, but a notebook opened elsewhere runs without them.
TOOLS = {"jupyterlab": "make lab", "nbval": "make test"}


def advice() -> dict[str, str]:
    """How to fix what is missing: a checkout's make targets, or an installed kit's commands."""
    if paths.checkout() is not None:
        return {"install": "run `make setup` (or pip install -r requirements.txt)", "prepare": "run `make setup`",
                "next": "open notebooks/00_start_here.ipynb"}
    return {"install": "run pip install 'dlopt-kit[course]'", "prepare": "run `dlopt-kit prepare`",
            "next": "open a lesson's notebook in Jupyter with this environment's kernel"}


def check() -> tuple[list[str], list[str]]:
    """Lines to print and problems found (each problem says how to fix it)."""
    lines, problems, fix = [], [], advice()
    for name in CORE:
        try:
            lines.append(f"{name:<13} {md.version(name)}")
        except md.PackageNotFoundError:
            lines.append(f"{name:<13} MISSING")
            problems.append(f"{name} is not installed: {fix['install']}")
    for name, needed_by in TOOLS.items():
        try:
            lines.append(f"{name:<13} {md.version(name)}")
        except md.PackageNotFoundError:
            lines.append(f"{name:<13} not installed (only `{needed_by}` needs it)")
    try:
        from dlopt_kit.core.budget import get_budget
        from dlopt_kit.core.data import STORED, cache_status
        from dlopt_kit.core.device import configure_threads, device_name, get_device

        threads = configure_threads()
        device = get_device()
        lines.append(f"{'device':<13} {device_name(device)}")
        lines.append(f"{'cpu threads':<13} {threads} (DLOPT_THREADS overrides)")
        lines.append(f"{'budget':<13} {get_budget(device=device).describe()} (DLOPT_BUDGET overrides)")
        for name in STORED:
            status = cache_status(name)
            lines.append(f"{'dataset':<13} {name}: {status}")
            if status != "ready":
                problems.append(f"dataset {name} is {status}: {fix['prepare']} to prepare it")
    except (ImportError, ValueError, RuntimeError) as exc:  # DatasetError is a RuntimeError and says the fix
        problems.append(f"{type(exc).__name__}: {exc}")
    return lines, problems


def main() -> int:
    lines, problems = check()
    print(f"python        {sys.version.split()[0]}")
    print("\n".join(lines))
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(f"- {p}" for p in problems))
        return 1
    print(f"\nall good: {advice()['next']}")
    return 0
