"""``python -m dlopt_kit compare RECIPE... [--seeds N] [--out DIR]``: the sandbox's comparison from a terminal.

Loads and checks every recipe (a bad one: exit 2, one line naming the file and the field), prints what differs
between them field by field, trains each with every
seed on the data they share, with a progress bar, then prints a table (parameters of the choice on validation, the
kept model's test accuracy) and a paired verdict for every two recipes, writes the validation curves as PNG and,
with ``--store``, keeps every run in the sandbox's SQLite store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .recipes import RecipeError, diff, load_recipe, same_data
from .sandbox import verdict, verdicts

__all__ = ["main", "summary_table", "verdict"]


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per recipe: the best epoch's validation accuracy and the kept model's test accuracy (mean and std over
    seeds), and seconds per run."""
    from .compare import best_rows

    best = best_rows(table).groupby("config", sort=False)
    out = pd.DataFrame({"val_acc": best["val_acc"].mean(), "test_acc": best["test_acc"].mean(),
                        "test_acc std": best["test_acc"].std(),
                        "seconds per run": table.groupby(["config", "seed"], sort=False)["seconds"].sum()
                        .groupby("config", sort=False).mean()})
    return out.reindex(pd.unique(table["config"])).rename_axis("recipe")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlopt_kit compare",
                                     description="Compare recipes side by side over seeds.")
    parser.add_argument("recipes", nargs="+", type=Path, help="recipe files (.yaml, .yml or .json)")
    parser.add_argument("--seeds", type=int, help="use seeds 0..N-1 instead of the recipes' own")
    parser.add_argument("--out", type=Path, default=Path("runs/compare"), help="folder for compare.png")
    parser.add_argument("--store", type=Path, help="also keep every run in this SQLite file (e.g. runs/sandbox.sqlite)")
    args = parser.parse_args(argv)
    try:
        recipes = [load_recipe(p) for p in args.recipes]
        names = [r.name for r in recipes]
        if len(set(names)) != len(names):
            raise RecipeError(f"two recipes share a name ({', '.join(names)}): give each its own `name:`")
        dataset, evaluate = same_data(recipes)
        if args.seeds is not None:
            if args.seeds < 1:
                raise RecipeError(f"--seeds {args.seeds}: give at least 1")
            seeds = list(range(args.seeds))
        else:
            seeds = list(recipes[0].seeds)
            for r in recipes[1:]:
                if list(r.seeds) != seeds:
                    raise RecipeError(f"recipes {recipes[0].name!r} and {r.name!r} list different seeds: "
                                      "give them the same `seeds:` or pass --seeds N")
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from tqdm.auto import tqdm

    from .device import configure_threads
    from .plots import plot_comparison
    from .sandbox import recipe_data, run_recipe

    configure_threads()  # the notebooks' thread count, so that the CLI and a notebook give the same numbers

    data = recipe_data(*recipes[0].data_key)
    sizes = sorted({r.train_per_class or 0 for r in recipes})
    train = "all" if sizes == [0] else "/".join(str(n) for n in sizes)
    print(f"data: {dataset}, {train} training and {len(data.y_val)}/{len(data.y_test)} validation/test images | "
          f"seeds: {', '.join(map(str, seeds))}")
    if len(recipes) > 1:
        differs = diff(recipes)
        print("what differs:" if len(differs) else "what differs: nothing but the names")
        if len(differs):
            print(differs.to_string())
    runs = [(r, seed) for r in recipes for seed in seeds]
    table = pd.concat([run_recipe(r, [seed]) for r, seed in tqdm(runs, desc="runs", unit="run")], ignore_index=True)
    print(summary_table(table).round(3).to_string())
    if len(recipes) > 1:
        print("\npaired over seeds, test accuracy of the kept model (each run's epoch chosen on validation):")
        for line in verdicts(table):
            print("  " + line)
    args.out.mkdir(parents=True, exist_ok=True)
    fig = plot_comparison(table, "val_acc")
    path = args.out / "compare.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"\nplot: {path}")
    if args.store is not None:
        from .store import Store

        store = Store(args.store)
        for r in recipes:
            store.add(r, table[table["config"] == r.name])
        print(f"kept in: {args.store} ({len(store.runs())} runs)")
    return 0
