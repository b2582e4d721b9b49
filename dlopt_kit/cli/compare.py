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

A recipe may name a data file of yours instead of a kit dataset (``dataset: my_table.csv``, read against the recipe
file's folder; ``core.own_data`` says what a ``.csv`` or ``.npz`` holds): it is checked before anything trains (a
bad file is one line naming the file, the field and what is allowed), split with the kit's fixed splits, and the
data line names it with the start of its sha256. A model that cannot read the data (a CNN on features) is refused
the same way.

Everything that can be checked is checked before the first run trains, each failure one line ``error: ...`` and exit
status 2: the recipe files (read, UTF-8, valid YAML/JSON, no key twice, every field), their seeds and schedules
against their runs' length, ``--primary``, ``--out`` (a folder, made when missing, that can be written; its
``compare.png`` is replaced) and ``--store`` (an SQLite store of this kit, or a new file). A bad value found while
training (e.g. a corrupted split that changes a run's length) is one line too, after the recipes already run are kept
in the store.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from dlopt_kit.core import paths
from dlopt_kit.core.own_data import checksum, is_data_file
from dlopt_kit.sandbox import engine
from dlopt_kit.sandbox.engine import verdicts
from dlopt_kit.sandbox.recipes import Recipe, RecipeError, diff, load_recipe, same_data
from dlopt_kit.sandbox.summary import summary_table

__all__ = ["main"]

PLOT = "compare.png"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def _check_out(out: Path) -> None:
    """``--out`` names the folder ``compare.png`` goes in (made when missing; a ``compare.png`` already there is
    replaced): RecipeError, before anything trains, for a path that is a file, lies under a file, cannot be
    written, or is named like an image file that does not exist yet (the folder was meant)."""
    if out.exists() and not out.is_dir():
        folder = out.with_suffix("") if out.suffix else out.parent / "compare"
        raise RecipeError(f"--out {out} is a file: --out names the folder {PLOT} is written to; give a folder "
                          f"(made when missing), e.g. --out {folder}")
    if not out.exists() and out.suffix.lower() in IMAGE_SUFFIXES:
        raise RecipeError(f"--out {out}: --out names a folder, and {PLOT} is written inside it; give the folder, "
                          f"e.g. --out {out.parent}")
    existing = next(p for p in (out, *out.parents) if p.exists())  # '.' or '/' at the latest
    if not existing.is_dir():
        raise RecipeError(f"--out {out}: {existing} is a file, so the folder cannot be made there; choose another "
                          "folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RecipeError(f"--out {out}: {existing} is not writable; choose a folder you can write to")
    plot = out / PLOT
    if plot.exists() and (plot.is_dir() or not os.access(plot, os.W_OK)):
        raise RecipeError(f"--out {out}: {plot} is {'a folder' if plot.is_dir() else 'not writable'}, so the plot "
                          "cannot be written; choose another folder")


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


def _prepare(recipes: list[Recipe], seeds: list[int], store_path: Path | None) -> tuple:
    """The shared data, each recipe checked against it (``engine.check_recipe``: seeds, schedule against the run's
    length) and the store opened (``StoreError`` for a folder or a file that is not a store): everything before
    the first run trains. ValueError naming what is wrong."""
    from dlopt_kit.core.device import configure_threads

    configure_threads()  # the notebooks' thread count, so that the CLI and a notebook give the same numbers
    data = engine.recipe_data(*recipes[0].data_key)
    for r in recipes:
        engine.check_recipe(r, seeds)
    store = None
    if store_path is not None:
        from dlopt_kit.sandbox.store import Store

        store = Store(store_path)
    return data, store


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
    parser.add_argument("--out", type=Path, default=paths.runs_dir() / "compare",
                        help="folder for compare.png (made when missing; a compare.png already there is replaced)")
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
        if len(recipes) > 1 and len(seeds) < 2:
            raise RecipeError(f"seeds {seeds}: comparing recipes needs at least 2 seeds (one seed has no spread "
                              "to judge a difference against): pass --seeds 2 or more")
        primary = _primary(args.primary, names)
        _check_out(args.out)
        data, store = _prepare(recipes, seeds, args.store)
    except ValueError as exc:  # RecipeError, StoreError, a dataset that cannot load: one line, nothing trained
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from tqdm.auto import tqdm

    from dlopt_kit.core.plots import plot_comparison

    sizes = sorted({r.train_per_class or 0 for r in recipes})
    train = "all" if sizes == [0] else "/".join(str(n) for n in sizes)
    unit = "images"
    if is_data_file(dataset):
        kind = "features" if len(data.input_shape) == 1 else "images"
        unit, dataset = "examples", (f"{Path(dataset).name} (sha256 {checksum(dataset)[:12]}, "
                                     f"{'x'.join(map(str, data.input_shape))} {kind}, {data.num_classes} classes)")
    print(f"data: {dataset}, {train} training {unit} per class, {len(data.y_val)}/{len(data.y_test)} validation/test "
          f"{unit} in all | seeds: {', '.join(map(str, seeds))}")
    if len(recipes) > 1:
        differs = diff(recipes)
        print("what differs:" if len(differs) else "what differs: nothing but the names")
        if len(differs):
            print(differs.to_string())
    parts: list[pd.DataFrame] = []
    try:
        with tqdm(total=len(recipes) * len(seeds), desc="runs", unit="run") as bar:
            for r in recipes:
                runs = []
                for seed in seeds:
                    runs.append(engine.run_recipe(r, [seed]))
                    bar.update()
                parts.append(pd.concat(runs, ignore_index=True))
                if store is not None:  # kept as each recipe finishes: Ctrl-C keeps the recipes already run
                    kept = store.free_name(r.name)
                    if kept != r.name:
                        print(f"{r.name!r} is already in {args.store}: kept as {kept!r}")
                    store.add(replace(r, name=kept), parts[-1])
    except ValueError as exc:  # found only while training: say so in one line, and what was kept
        done = ", ".join(repr(r.name) for r in recipes[:len(parts)])
        if store is not None and parts:
            kept = f"the runs of {done} are kept in {args.store}"
        elif parts:
            kept = f"the runs of {done} were not kept: pass --store FILE to keep each recipe's runs as it finishes"
        else:
            kept = "no recipe had finished"
        print(f"error: {exc} ({kept})", file=sys.stderr)
        return 2
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
    fig = plot_comparison(table, "val_acc")
    path = args.out / PLOT
    try:  # checked before training; a folder removed or locked since then is still one line
        args.out.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    except OSError as exc:
        where = f"; the runs are kept in {args.store}" if store is not None else ""
        print(f"error: --out {args.out}: the plot cannot be written ({exc.strerror or exc}){where}", file=sys.stderr)
        return 2
    print(f"\nplot: {path}")
    if store is not None:
        print(f"kept in: {args.store} ({len(store.runs())} runs)")
    return 0
