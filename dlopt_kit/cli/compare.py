"""``python -m dlopt_kit compare RECIPE... [--seeds N] [--out DIR] [--test] [--store FILE] [--primary A B]``: the
sandbox's comparison from a terminal.

Loads and checks every recipe (a bad one: exit 2, one line naming the file and the field), prints what differs between
them field by field, trains each with every seed (the recipes share their dataset and validation/test images; training
sizes may differ), with a progress bar, then prints a table and a verdict for every two recipes on validation accuracy
at each run's kept epoch (a t over the images and the seeds, with both sources of variance in its standard error,
McNemar's test alongside; ``--primary A B`` names the pre-declared comparison, by default the second recipe against
the first, and every other pair is exploratory and Holm-corrected), how many seeds the primary pair would need to
detect 0.5 to 2 points, and writes the validation curves as PNG. ``--test`` adds the kept models' test accuracy and
gives the verdicts on it: for configs already chosen, read once. ``--store`` keeps every run in the sandbox's SQLite
store (a name already there gets a suffix, so kept runs stay as they are).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from dlopt_kit.core import paths
from dlopt_kit.sandbox.engine import verdicts
from dlopt_kit.sandbox.recipes import RecipeError, diff, load_recipe, same_data
from dlopt_kit.sandbox.summary import summary_table

__all__ = ["main"]


def _primary(given: list[str] | None, names: list[str]) -> tuple[str, str] | None:
    """The ``--primary`` pair, checked against the recipes' names (RecipeError before anything trains)."""
    if given is None:
        return None
    for name in given:
        if name not in names:
            raise RecipeError(f"--primary {name!r}: not a recipe name; the recipes are {', '.join(names)}")
    if given[0] == given[1]:
        raise RecipeError(f"--primary {given[0]!r} {given[1]!r}: name two different recipes")
    return given[0], given[1]


def _print_power(table: pd.DataFrame, pair: tuple[str, str], metric: str, at: str) -> None:
    from dlopt_kit.sandbox.power import power_table

    try:
        power = power_table(table, *pair, metric=metric, at=at)
    except ValueError as exc:  # one seed, or no per-example records: say why there is no estimate
        print(f"\npower: not estimated ({exc})")
        return
    print(f"\npower of {pair[0]} vs {pair[1]} (a t-test at alpha 0.05 with 80% power, on these images): seeds "
          "needed to detect a difference of")
    print(power.to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlopt_kit compare",
                                     description="Compare recipes side by side over seeds.")
    parser.add_argument("recipes", nargs="+", type=Path, help="recipe files (.yaml, .yml or .json)")
    parser.add_argument("--seeds", type=int, help="use seeds 0..N-1 instead of the recipes' own")
    parser.add_argument("--out", type=Path, default=paths.runs_dir() / "compare", help="folder for compare.png")
    parser.add_argument("--test", action="store_true",
                        help="also report test accuracy and give the verdicts on it: for configs already chosen on "
                             "validation, read once")
    parser.add_argument("--store", type=Path, help="also keep every run in this SQLite file (e.g. runs/sandbox.sqlite)")
    parser.add_argument("--primary", nargs=2, metavar=("A", "B"),
                        help="the pre-declared comparison, A against B, by recipe name (default: the second recipe "
                             "against the first); every other pair is exploratory and Holm-corrected")
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
        primary = _primary(args.primary, names)
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from tqdm.auto import tqdm

    from dlopt_kit.core.device import configure_threads
    from dlopt_kit.core.plots import plot_comparison
    from dlopt_kit.sandbox.engine import recipe_data, run_recipe

    configure_threads()  # the notebooks' thread count, so that the CLI and a notebook give the same numbers

    data = recipe_data(*recipes[0].data_key)
    sizes = sorted({r.train_per_class or 0 for r in recipes})
    train = "all" if sizes == [0] else "/".join(str(n) for n in sizes)
    print(f"data: {dataset}, {train} training images per class, {len(data.y_val)}/{len(data.y_test)} validation/test "
          f"images in all | seeds: {', '.join(map(str, seeds))}")
    if len(recipes) > 1:
        differs = diff(recipes)
        print("what differs:" if len(differs) else "what differs: nothing but the names")
        if len(differs):
            print(differs.to_string())
    store = None
    if args.store is not None:
        from dlopt_kit.sandbox.store import Store

        store = Store(args.store)
    parts = []
    with tqdm(total=len(recipes) * len(seeds), desc="runs", unit="run") as bar:
        for r in recipes:
            runs = []
            for seed in seeds:
                runs.append(run_recipe(r, [seed]))
                bar.update()
            parts.append(pd.concat(runs, ignore_index=True))
            if store is not None:  # kept as each recipe finishes: Ctrl-C keeps the recipes already run
                kept = store.free_name(r.name)
                if kept != r.name:
                    print(f"{r.name!r} is already in {args.store}: kept as {kept!r}")
                store.add(replace(r, name=kept), parts[-1])
    table = pd.concat(parts, ignore_index=True)
    summary = summary_table(table)
    if not args.test:
        summary = summary.drop(columns=["test_acc", "test_acc std"])
    print(summary.round(3).to_string())
    if len(recipes) > 1:
        metric, at = ("test_acc", "last") if args.test else ("val_acc", "best")
        if args.test:
            print("\npaired over test images and seeds, test accuracy of the kept model (each run's epoch chosen on "
                  "validation):")
        else:
            print("\npaired over validation images and seeds, validation accuracy at each run's kept epoch (choose "
                  "with these; add --test to read the test split once, for the configs you chose):")
        for line in verdicts(table, metric, at, primary=primary):
            print("  " + line)
        _print_power(table, primary or (names[1], names[0]), metric, at)
    args.out.mkdir(parents=True, exist_ok=True)
    fig = plot_comparison(table, "val_acc")
    path = args.out / "compare.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"\nplot: {path}")
    if store is not None:
        print(f"kept in: {args.store} ({len(store.runs())} runs)")
    return 0
