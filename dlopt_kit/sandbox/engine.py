"""Lesson 09's engine: run a recipe over its seeds, and compare recipes paired by seed and by test image.

``run_recipe`` trains ``recipe.config`` once per seed on the recipe's data; a recipe with a ``corruption`` plants it
in the training split with the same seed as the run (lesson 01's rule: the corruption draw and the training share
the seed, so a paired difference covers both sources of variation). Validation and test stay clean. The result is
``compare``'s tidy table with each run's per-example correctness, which ``store.Store`` keeps and ``verdicts``
reads: one pre-declared primary comparison, the others exploratory and Holm-corrected (``statistics``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import lru_cache

import pandas as pd

from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.bootstrap import correct
from dlopt_kit.core.claims import per_seed
from dlopt_kit.core.compare import compare, run_frame
from dlopt_kit.core.corruptions import corrupt
from dlopt_kit.core.data import Splits, load_splits
from dlopt_kit.core.own_data import file_splits, is_data_file
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import fit_quietly
from dlopt_kit.sandbox.recipes import Recipe, RecipeError
from dlopt_kit.sandbox.statistics import RECORD_COLUMNS, compare_pair, holm, verdict_line


def recipe_data(dataset: str, train_per_class: int | None, eval_per_class: int | None,
                label_column: str | None = None) -> Splits:
    """The clean splits a recipe names: a kit dataset loaded once per session, or a data file of yours
    (``core.own_data.file_splits``: checked on loading, cached by its sha256, so a changed file gives new splits)."""
    if is_data_file(dataset):
        return file_splits(dataset, train_per_class, eval_per_class, label_column)
    return _kit_data(dataset, train_per_class, eval_per_class)


@lru_cache(maxsize=4)
def _kit_data(dataset: str, train_per_class: int | None, eval_per_class: int | None) -> Splits:
    return load_splits(dataset, train_per_class, eval_per_class)


def check_model(recipe: Recipe, data: Splits) -> None:
    """RecipeError when the recipe's model cannot read the data's inputs: the CNN needs images (channels, height,
    width), the GRU sequences or images; the MLP and the linear model read anything."""
    shape, model = data.input_shape, recipe.config.model
    needs = {"cnn": ((3,), "images (channels, height, width)"),
             "rnn": ((2, 3), "sequences (steps, features) or images (channels, height, width)")}
    if model in needs and len(shape) not in needs[model][0]:
        what = "features" if len(shape) == 1 else "inputs"
        raise RecipeError(f"recipe {recipe.name!r}: config.model={model!r} needs {needs[model][1]}, but "
                          f"{data.name} holds {what} of shape {shape}: use model mlp or linear")


def check_recipe(recipe: Recipe, seeds: Sequence[int] | None = None) -> list[int]:
    """What a recipe's runs can be checked for before any trains: its seeds (``seeds``, else its own; distinct
    whole numbers from 0 to 2**32 - 1) and its schedule against the length of its runs in steps (``Schedule
    .check_run``: its epochs, and its first seed's training split in batches of its batch size). Returns the seeds
    (the first two in a dry run); ``RecipeError`` naming the recipe and the field otherwise, and for a model that
    cannot read the data (``check_model``). A data file that cannot be used raises ``OwnDataError``."""
    try:
        checked = checks.seeds("seeds", recipe.seeds if seeds is None else seeds)
    except ValueError as exc:
        raise RecipeError(f"recipe {recipe.name!r}: {exc}") from None
    check_model(recipe, recipe_data(*recipe.data_key))
    try:
        n, config = len(_seed_data(recipe, checked[0]).y_train), recipe.config
        lonely_last = config.batch_norm and n % config.batch_size == 1  # left out, as ``train_batcher`` does
        steps = max(1, n // config.batch_size if lonely_last else -(-n // config.batch_size))
        config.schedule.check_run(config.epochs, steps)
    except ValueError as exc:
        raise RecipeError(f"recipe {recipe.name!r}: config: {exc}") from None
    return dry.seeds(checked)


def run_recipe(recipe: Recipe, seeds: Sequence[int] | None = None, callbacks: Sequence = (),
               should_stop: Callable[[], bool] = lambda: False) -> pd.DataFrame:
    """Train ``recipe`` with each of ``seeds`` (default: the recipe's own); ``compare``'s table with ``config`` set
    to the recipe's name, plus ``val_correct`` and ``test_correct``: the kept model's per-example correctness on
    the validation and test images (one boolean array per run, on each of its rows), which ``verdicts`` and the
    store use. ``callbacks`` go to every ``fit``; once ``should_stop()`` is true no further seed starts (the run in
    progress ends through a callback, e.g. ``StopOnEvent``), and the seeds already run are kept. A dry run trains
    the first two seeds only. A bad seed or a schedule the runs cannot carry out is refused before the first run
    (``check_recipe``)."""
    parts = []
    for seed in check_recipe(recipe, seeds):
        if should_stop():
            break
        data = _seed_data(recipe, seed)
        models: dict = {}
        frame = compare({recipe.name: recipe.config}, data, [seed], progress=False, callbacks=list(callbacks),
                        models=models)
        parts.append(_with_records(frame, models[(recipe.name, seed)], data))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def run_recipes(recipes: Sequence[Recipe], seeds: Sequence[int] | None = None) -> list[pd.DataFrame]:
    """``run_recipe`` for each of ``recipes``, with every (recipe, seed) run trained at once in worker processes
    where the CPU has cores to spare (``core.processes``: the same numbers as ``run_recipe``, one after another on a
    GPU or in a dry run). One table per recipe, in order; every recipe is checked (``check_recipe``) before any
    trains."""
    checked = [check_recipe(recipe, seeds) for recipe in recipes]
    runs = [(recipe, seed) for recipe, own in zip(recipes, checked, strict=True) for seed in own]
    datas = [_seed_data(recipe, seed) for recipe, seed in runs]
    results = run_tasks(fit_quietly, [(recipe.config.replace(seed=seed), data)
                                      for (recipe, seed), data in zip(runs, datas, strict=True)])
    frames: dict[str, list[pd.DataFrame]] = {recipe.name: [] for recipe in recipes}
    for (recipe, seed), data, result in zip(runs, datas, results, strict=True):
        frames[recipe.name].append(_with_records(run_frame(recipe.name, seed, result, data), result.model, data))
    return [pd.concat(frames[recipe.name], ignore_index=True) for recipe in recipes]


def _seed_data(recipe: Recipe, seed: int) -> Splits:
    clean = recipe_data(*recipe.data_key)
    return clean if recipe.corruption is None else corrupt(clean, *recipe.corruption, seed=seed).data


def _with_records(frame: pd.DataFrame, model, data: Splits) -> pd.DataFrame:
    for split, (x, y) in {"val": (data.x_val, data.y_val), "test": (data.x_test, data.y_test)}.items():
        frame[RECORD_COLUMNS[split]] = pd.Series([correct(model, x, y)] * len(frame), frame.index, dtype=object)
    return frame


def verdict(a: str, b: str, table: pd.DataFrame, metric: str = "test_acc", at: str = "last",
            label: str = "primary") -> str:
    """One line: ``a`` against ``b`` on ``metric`` (``at="best"``: at each run's kept epoch, as validation accuracy
    is read; ``"last"``: the test metrics, which are the kept model's already), a single pre-declared comparison at
    alpha 0.05. With per-example records on both sides: the mean difference over the images and the common seeds,
    its 95 % interval and two-sided p from Student's t with the training noise and the images' sampling error both in
    its standard error (``statistics.two_level``), and McNemar's exact test alongside; without (an old store):
    "seeds only", a paired t over seeds. One beats the other only when p < 0.05 and the interval excludes 0 (and,
    seeds only, its gain has that sign in every seed). Notebook 09 prints it."""
    return verdict_line(compare_pair(table, a, b, metric, at), label)


def verdicts(table: pd.DataFrame, metric: str = "test_acc", at: str = "last",
             primary: tuple[str, str] | None = None) -> list[str]:
    """A verdict line for every two configs of ``table``: first the pre-declared ``primary`` pair (default: the
    second config against the first, in the table's order), labelled "primary" and read at alpha 0.05; then every
    other pair (later against earlier), labelled "exploratory, Holm-corrected over k comparisons", decided on its
    Holm-adjusted p-value (see ``verdict`` for the statistics). A pair that shares too few seeds says so instead.
    ``python -m dlopt_kit compare``, the sandbox panel and notebook 09 print them."""
    names = list(pd.unique(table["config"])) if "config" in table.columns else []
    if primary is None and len(names) < 2:
        return []
    primary = (names[1], names[0]) if primary is None else tuple(primary)
    unknown = [n for n in primary if n not in names]
    if unknown or primary[0] == primary[1]:
        raise ValueError(f"primary={primary!r}: name two different configs of the table: {', '.join(names)}")
    first = verdict_line(compare_pair(table, *primary, metric, at), "primary")
    others = [(b, a) for a, b in itertools.combinations(names, 2) if {a, b} != set(primary)]
    results = [compare_pair(table, a, b, metric, at) for a, b in others]
    tested = [r for r in results if not isinstance(r, str)]
    adjusted = iter(holm([r.p for r in tested]))
    label = f"exploratory, Holm-corrected over {len(tested)} comparison{'s' if len(tested) != 1 else ''}"
    return [first, *(verdict_line(r, "exploratory") if isinstance(r, str) else verdict_line(r, label, next(adjusted))
                     for r in results)]


def choose(table: pd.DataFrame, names: Sequence[str], metric: str = "val_acc") -> str:
    """Of ``names``, the config with the highest mean ``metric`` at each run's kept epoch: a choice made on
    validation, before any test number is read."""
    missing = [n for n in names if n not in set(table["config"])]
    if missing or not names:
        raise ValueError(f"names={list(names)!r}: choose from the table's configs {list(pd.unique(table['config']))}")
    means = {n: per_seed(table, n, metric, at="best").mean() for n in names}
    return max(names, key=means.__getitem__)
