"""Lesson 09's engine: run a recipe over its seeds, and compare any two recipes paired by seed.

``run_recipe`` trains ``recipe.config`` once per seed on the recipe's data; a recipe with a ``corruption`` plants it
in the training split with the same seed as the run (lesson 01's rule: the corruption draw and the training share
the seed, so a paired difference covers both sources of variation). Validation and test stay clean. The result is
``compare``'s tidy table, which ``store.Store`` keeps and ``verdicts`` reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import lru_cache

import pandas as pd

from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.claims import paired, per_seed
from dlopt_kit.core.compare import compare
from dlopt_kit.core.corruptions import corrupt
from dlopt_kit.core.data import Splits, load_splits
from dlopt_kit.sandbox.recipes import Recipe


@lru_cache(maxsize=4)
def recipe_data(dataset: str, train_per_class: int | None, eval_per_class: int | None) -> Splits:
    """The clean splits a recipe names (loaded once per session)."""
    return load_splits(dataset, train_per_class, eval_per_class)


def run_recipe(recipe: Recipe, seeds: Sequence[int] | None = None, callbacks: Sequence = (),
               should_stop: Callable[[], bool] = lambda: False) -> pd.DataFrame:
    """Train ``recipe`` with each of ``seeds`` (default: the recipe's own); ``compare``'s table with ``config`` set
    to the recipe's name. ``callbacks`` go to every ``fit``; once ``should_stop()`` is true no further seed starts
    (the run in progress ends through a callback, e.g. ``StopOnEvent``), and the seeds already run are kept. A dry
    run trains the first two seeds only."""
    clean = recipe_data(*recipe.data_key)
    parts = []
    for seed in dry.seeds(recipe.seeds if seeds is None else seeds):
        if should_stop():
            break
        data = clean if recipe.corruption is None else corrupt(clean, *recipe.corruption, seed=seed).data
        parts.append(compare({recipe.name: recipe.config}, data, [seed], progress=False, callbacks=list(callbacks)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def verdict(a: str, b: str, table: pd.DataFrame, metric: str = "test_acc", at: str = "last") -> str:
    """One line: ``a`` against ``b`` paired over their common seeds on ``metric`` (``at="best"``: at each run's kept
    epoch, as validation accuracy is read; ``"last"``: the test metrics, which are the kept model's already), and
    what it supports: one beats the other only if it did in every seed and the 95 % interval excludes zero."""
    ours, theirs = per_seed(table, a, metric, at=at), per_seed(table, b, metric, at=at)
    common = sorted(set(ours.index) & set(theirs.index))
    result = paired(ours[common], theirs[common], f"{a} vs {b}")
    low, high = result.interval()
    if (result.gains > 0).all() and low > 0:
        word = f"{a} beats {b}"
    elif (result.gains < 0).all() and high < 0:
        word = f"{b} beats {a}"
    else:
        word = f"no clear difference over {len(result.seeds)} seeds"
    return f"{result.summary()}: {word}"


def verdicts(table: pd.DataFrame, metric: str = "test_acc", at: str = "last") -> list[str]:
    """``verdict`` for every two configs of ``table`` (later against earlier) that share at least two seeds; a pair
    that does not says so instead."""
    names = list(pd.unique(table["config"]))
    lines = []
    for a, b in itertools.combinations(names, 2):
        shared = set(table.loc[table["config"] == a, "seed"]) & set(table.loc[table["config"] == b, "seed"])
        if len(shared) < 2:
            lines.append(f"{b} vs {a}: not compared, they share {len(shared)} seed(s) and a paired verdict needs 2")
        else:
            lines.append(verdict(b, a, table, metric, at))
    return lines


def choose(table: pd.DataFrame, names: Sequence[str], metric: str = "val_acc") -> str:
    """Of ``names``, the config with the highest mean ``metric`` at each run's kept epoch: a choice made on
    validation, before any test number is read."""
    missing = [n for n in names if n not in set(table["config"])]
    if missing or not names:
        raise ValueError(f"names={list(names)!r}: choose from the table's configs {list(pd.unique(table['config']))}")
    means = {n: per_seed(table, n, metric, at="best").mean() for n in names}
    return max(names, key=means.__getitem__)
