"""The code behind a sandbox comparison: its configs written as recipe files, the Python that runs them and the
``python -m dlopt_kit compare`` command that gives the same table. The playground's "Show the code" shows them.

``export(recipes, seeds, folder)`` writes one recipe file per config into ``folder`` (every file with ``seeds``, so
the command needs no ``--seeds``) and returns the two snippets, which name those files by absolute path: they run
from any folder, with the kit's environment (``.venv/bin/python``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dlopt_kit.core import checks
from dlopt_kit.sandbox.recipes import Recipe, RecipeError, same_data

CLI = "python -m dlopt_kit compare"


@dataclass(frozen=True)
class Export:
    """What reproduces a comparison: the recipe files written, the Python snippet and the terminal command."""

    files: tuple[Path, ...]
    python: str
    command: str


def file_names(recipes: Sequence[Recipe]) -> list[str]:
    """A file name per recipe, from its name (``dropout 0.3`` -> ``dropout-0-3.yaml``), distinct within the list."""
    names: list[str] = []
    for recipe in recipes:
        stem = re.sub(r"[^a-z0-9]+", "-", recipe.name.lower()).strip("-") or "recipe"
        name, n = f"{stem}.yaml", 2
        while name in names:
            name, n = f"{stem}-{n}.yaml", n + 1
        names.append(name)
    return names


def check_recipes(recipes: Sequence[Recipe]) -> None:
    """What ``compare`` refuses, refused here first: no recipe, two recipes with one name, or recipes on different
    data (RecipeError naming them)."""
    if not recipes:
        raise RecipeError("recipes=[]: give at least one recipe (run or queue a config first)")
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise RecipeError(f"recipes={names!r}: two recipes share a name; give each its own")
    same_data(recipes)


def python_snippet(paths: Sequence[Path | str], seeds: Sequence[int]) -> str:
    """Python that loads the recipe files at ``paths``, trains each with ``seeds`` and prints compare's table and
    the paired verdicts on validation accuracy at each run's kept epoch."""
    listed = ",\n    ".join(repr(str(p)) for p in paths)
    return f"""import pandas as pd

from dlopt_kit import configure_threads
from dlopt_kit.sandbox import load_recipe, run_recipe, summary_table, verdicts

configure_threads()  # the thread count compare and the sandbox use: the same seed gives the same numbers
recipes = [load_recipe(path) for path in [
    {listed},
]]
table = pd.concat([run_recipe(recipe, {list(seeds)!r}) for recipe in recipes], ignore_index=True)
print(summary_table(table).drop(columns=["test_acc", "test_acc std"]).round(3).to_string())
for line in verdicts(table, "val_acc", at="best"):  # the second recipe against the first is the primary pair
    print(line)
"""


def cli_command(paths: Sequence[Path | str], out: Path | str | None = None, python: str = "python") -> str:
    """The terminal command that compares the recipe files at ``paths`` (``--out``: where compare.png goes)."""
    words = [python, *CLI.split()[1:], *(str(p) for p in paths)]
    if out is not None:
        words += ["--out", str(out)]
    return shlex.join(words)


def export(recipes: Sequence[Recipe], seeds: Sequence[int], folder: Path | str) -> Export:
    """Write ``recipes`` (each with ``seeds``) as YAML files in ``folder`` (made when missing; files of the same
    names are replaced) and return them with the Python and the command that reproduce the comparison. Bad input
    (no recipe, a shared name, different data, bad seeds) is RecipeError before anything is written."""
    check_recipes(recipes)
    try:
        seeds = tuple(checks.seeds("seeds", list(seeds)))
    except ValueError as exc:
        raise RecipeError(str(exc)) from None
    folder = Path(folder).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise RecipeError(f"folder={str(folder)!r} is a file: give a folder for the recipe files (made when missing)")
    folder.mkdir(parents=True, exist_ok=True)
    files = tuple(replace(r, seeds=seeds).save(folder / name) for r, name in zip(recipes, file_names(recipes),
                                                                                     strict=True))
    return Export(files, python_snippet(files, seeds), cli_command(files, out=folder))


__all__ = ["CLI", "Export", "check_recipes", "cli_command", "export", "file_names", "python_snippet"]
