"""Lesson 04's experiment: searches paired by search seed, their any-time curves, and the final choice.

- ``Arm`` / ``paired_searches``: each arm (a method, a trial count, a pruner) once per search seed; search seed ``s``
  also **trains** with seed ``s``, so that two arms paired by seed share their training noise as well as their
  draws, and a claim over seeds samples that noise. The seeds run in worker processes (``core.processes``), two
  at a time on a 2-core CPU; within one seed the arms share a cache (a config trained once is replayed).
- ``best_by_epochs`` / ``anytime_best``: the best validation accuracy reached against the epochs spent, and its
  mean over an epoch budget (the any-time view of a search at equal compute, d2l's chapter on pruning).
- ``best_of_k``: the tuning playbook's bootstrapped picture of a random search: the best of ``k`` trials drawn
  with replacement from a pool of random trials, many times, for several ``k``.
- ``top_configs`` / ``rerun`` / ``mean_val``: the tuning playbook's remedy for the winner's curse: re-train the
  few best configs over fresh seeds and choose by their mean validation accuracy, before the test split is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd

from dlopt_kit.core import checks
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import FitResult, fit
from dlopt_kit.hyperparameter_tuning.search import (
    METHODS,
    PRUNERS,
    Objective,
    SearchSpace,
    epochs_spent,
    make_pruner,
    make_sampler,
    run_study,
    trials_table,
)


@dataclass(frozen=True)
class Arm:
    """One search of the experiment: ``name`` in tables and plots, an Optuna ``method``, ``trials``, a ``pruner``.
    With ``epochs_of`` (an earlier arm's name) it runs at equal compute instead: up to ``trials`` trials, stopping
    once it has spent as many epochs as that arm did in the same seed; a trial that would end past that budget is
    not counted (see ``within_epochs``). ``startup`` sets a Bayesian sampler's random start-up trials,
    ``grid_points`` a grid arm's values per range and ``space`` the arm's search space (each by default
    ``paired_searches``'s). Arms of one ``group`` run in one worker process per seed and share its cache (an arm
    with ``epochs_of`` must be in that arm's group); several groups spread a seed's work over the cores."""

    name: str
    method: str
    trials: int
    pruner: str = "none"
    epochs_of: str | None = None
    startup: int | None = None
    group: int = 0
    grid_points: int | Mapping[str, int] | None = None
    space: SearchSpace | None = None

    def __post_init__(self) -> None:
        checks.choice("method", self.method, METHODS)
        checks.choice("pruner", self.pruner, PRUNERS)
        checks.whole("trials", self.trials, low=1)


def _one_seed(base: RunConfig, data: Splits, space: SearchSpace, arms: Sequence[Arm], seed: int,
              grid_points: int | Mapping[str, int], startup: int) -> dict[str, tuple[pd.DataFrame, list]]:
    """Every arm for search seed ``seed``, training with seed ``seed``: each arm's trials table and frozen trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config, cache, out = base.replace(seed=seed), {}, {}
    for arm in arms:
        own = space if arm.space is None else arm.space
        study = optuna.create_study(direction="maximize",
                                    sampler=make_sampler(arm.method, own, seed,
                                                         grid_points if arm.grid_points is None else arm.grid_points,
                                                         startup if arm.startup is None else arm.startup),
                                    pruner=make_pruner(arm.pruner, base.epochs))
        budget = None if arm.epochs_of is None else int(out[arm.epochs_of][0]["epochs"].sum())
        run_study(study, Objective(config, data, own, cache=cache), arm.trials,
                  callbacks=[] if budget is None else [_stop_after(budget)])
        table = trials_table(study)
        if budget is not None:
            table = within_epochs(table, budget)
        for column, value in (("search_seed", seed), ("pruner", arm.pruner), ("method", arm.name)):
            table.insert(0, column, value)
        out[arm.name] = (table, study.get_trials(deepcopy=False))
    return out


def _stop_after(epochs: int) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    def stop(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        if sum(t.user_attrs.get("epochs", 0) for t in study.get_trials(deepcopy=False)) >= epochs:
            study.stop()

    return stop


def within_epochs(table: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """The trials of one search that ended within ``epochs`` epochs spent (``epochs_so_far`` at most ``epochs``)."""
    return table[table["epochs_so_far"] <= epochs].reset_index(drop=True)


def paired_searches(base: RunConfig, data: Splits, space: SearchSpace, arms: Sequence[Arm],
                    search_seeds: Sequence[int] = (0, 1, 2), grid_points: int | Mapping[str, int] = 3,
                    startup: int = 4, studies: dict | None = None,
                    workers: int | None = None) -> dict[str, pd.DataFrame]:
    """Each of ``arms`` once per search seed, in fresh in-memory studies; search seed ``s`` trains with seed ``s``.
    Returns ``{arm name: trials tables stacked over seeds}`` (``trials_table``'s columns, with ``method`` (the arm's
    name), ``pruner`` and ``search_seed``). Pass a dict as ``studies`` to get each Optuna study (for Optuna's plots)
    under ``(arm name, seed)``. Used by lesson 04."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    arms = tuple(arms)
    if not arms or len({a.name for a in arms}) != len(arms):
        raise ValueError(f"arms must be a non-empty sequence of Arm with distinct names; got {arms!r}")
    for i, arm in enumerate(arms):
        if arm.epochs_of is not None and arm.epochs_of not in {a.name for a in arms[:i] if a.group == arm.group}:
            raise ValueError(f"arm {arm.name!r}: epochs_of={arm.epochs_of!r} must name an arm listed before it, "
                             "in its group")
    seeds = checks.seeds("search_seeds", search_seeds)
    groups = sorted({a.group for a in arms})
    tasks = [(base, data, space, tuple(a for a in arms if a.group == g), s, grid_points, startup)
             for g in groups for s in seeds]  # group 0 (list the largest arms there) first, for the balance
    results = {}  # (arm name, seed) -> (table, frozen trials)
    for task, result in zip(tasks, run_tasks(_one_seed, tasks, workers), strict=True):
        results.update({(name, task[4]): value for name, value in result.items()})
    tables = {}
    for arm in arms:
        tables[arm.name] = pd.concat([results[(arm.name, s)][0] for s in seeds], ignore_index=True)
        if studies is not None:
            for seed in seeds:
                study = optuna.create_study(direction="maximize")
                study.add_trials(results[(arm.name, seed)][1])
                studies[(arm.name, seed)] = study
    return tables


def best_by_epochs(table: pd.DataFrame) -> pd.DataFrame:
    """The best validation accuracy reached so far against the epochs spent (1, 2, ... the most any seed spent):
    one column per search seed, NaN before a seed's first finished trial and carried forward after its last."""
    top = int(table.groupby("search_seed")["epochs"].sum().max())
    grid = pd.RangeIndex(1, top + 1, name="epochs spent")
    return pd.DataFrame({s: pd.Series(t["best_so_far"].to_numpy(), index=t["epochs_so_far"].to_numpy())
                         .groupby(level=0).last().reindex(grid, method="ffill")
                         for s, t in table.groupby("search_seed")})


def anytime_best(table: pd.DataFrame, until: Mapping[int, int] | pd.Series, start: int = 1) -> pd.Series:
    """Per search seed: the mean of the best validation accuracy reached so far over epochs ``start`` to
    ``until[seed]`` spent (the area under the any-time curve, divided by its width): a search that reaches good
    values sooner scores higher. An epoch before the seed's first finished trial counts as 0."""
    curves = best_by_epochs(table)
    until = pd.Series(until)
    out = {}
    for seed in curves.columns:
        end = int(until[seed])
        if not 1 <= start <= end:
            raise ValueError(f"search seed {seed}: the window {start}..{end} of epochs is empty")
        curve = curves[seed].reindex(range(start, end + 1), method="ffill").fillna(0.0)
        out[seed] = float(curve.mean())
    return pd.Series(out, name="any-time best").rename_axis("search_seed")


def best_of_k(table: pd.DataFrame, ks: Sequence[int], draws: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The tuning playbook's bootstrap of a random search: for each search seed's pool of finished trials in
    ``table`` (random or quasi-random draws, which are exchangeable) and each ``k`` in ``ks``, ``draws`` times the
    best validation accuracy of ``k`` trials drawn with replacement. Returns columns ``search_seed``, ``k`` and
    ``best``, one row per draw; seeded, so the same table gives the same rows. Reads no test data."""
    ks = [checks.whole("k", k, low=1) for k in ks]
    draws = checks.whole("draws", draws, low=1)
    rng = np.random.default_rng(seed)
    rows = []
    for search_seed, pool in table.dropna(subset=["value"]).groupby("search_seed"):
        values = pool["value"].to_numpy()
        for k in ks:
            best = values[rng.integers(0, len(values), size=(draws, k))].max(axis=1)
            rows.append(pd.DataFrame({"search_seed": search_seed, "k": k, "best": best}))
    if not rows:
        raise ValueError("best_of_k: the table has no finished trial with a value")
    return pd.concat(rows, ignore_index=True)


def top_configs(table: pd.DataFrame, base: RunConfig, space: SearchSpace, k: int = 3) -> dict[str, RunConfig]:
    """The ``k`` distinct configs (by their values in ``space``) with the best validation accuracy in ``table``,
    best first, as ``base`` with those values, named like ``"lr=0.119, weight_decay=8.8e-06"``."""
    k = checks.whole("k", k, low=1)
    names = list(space.params)
    done = table.dropna(subset=["value"]).sort_values("value", ascending=False, kind="stable")
    rows = done.drop_duplicates(subset=names).head(k)
    if rows.empty:
        raise ValueError("top_configs: the table has no completed trial")
    configs = {}
    for _, row in rows.iterrows():
        values = {n: row[n].item() if hasattr(row[n], "item") else row[n] for n in names}
        configs[", ".join(f"{n}={v:.3g}" for n, v in values.items())] = base.replace(**values)
    return configs


def _fit_quietly(config: RunConfig, data: Splits) -> FitResult:
    return fit(config, data, progress=False)


def rerun(configs: Mapping[str, RunConfig], data: Splits, seeds: Sequence[int],
          workers: int | None = None) -> dict[tuple[str, int], FitResult]:
    """Train every config with every seed (each keeps its best validation-accuracy epoch, as a search trial does),
    two runs at a time on a 2-core CPU. Returns ``{(name, seed): FitResult}``; reads no test data."""
    seeds = checks.seeds("seeds", seeds)
    keys = [(name, s) for name in configs for s in seeds]
    tasks = [(configs[name].replace(seed=s, monitor="val_acc"), data) for name, s in keys]
    return dict(zip(keys, run_tasks(_fit_quietly, tasks, workers), strict=True))


def mean_val(results: Mapping[tuple[str, int], FitResult]) -> pd.DataFrame:
    """The best validation accuracy of each ``rerun`` run: one row per config, one column per seed, and ``mean``."""
    rows = pd.Series({key: max(r["val_acc"] for r in result.history) if len(result.history) else float("nan")
                      for key, result in results.items()}).unstack()
    rows.index.name, rows.columns.name = "config", "seed"
    rows["mean"] = rows.mean(axis=1)
    return rows


def late_mean(table: pd.DataFrame, start: int) -> pd.Series:
    """Per search seed: the mean validation accuracy of the trials numbered ``start`` and later (for TPE, the
    trials its model placed once its ``start`` random start-up trials were done)."""
    return table[table["trial"] >= start].groupby("search_seed")["value"].mean()


def importances(studies: Mapping[tuple[str, int], optuna.Study], arm: str,
                seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """fANOVA's importance of each parameter (Optuna's ``FanovaImportanceEvaluator``, seeded: the same study gives
    the same numbers) in the study of ``arm`` for each search seed (default: every seed ``studies`` holds for it):
    one row per seed, one column per parameter."""
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    seeds = sorted(s for a, s in studies if a == arm) if seeds is None else seeds
    rows = {s: optuna.importance.get_param_importances(studies[(arm, s)], evaluator=evaluator) for s in seeds}
    return pd.DataFrame(rows).T.rename_axis("search_seed")


def check_pruning(pruned: pd.DataFrame, full: pd.DataFrame, at_most: float = 0.5) -> pd.Series:
    """An implementation check, not a claim: the share of epochs a pruned search spent against the same draws
    unpruned, per search seed, printed; AssertionError when it is above ``at_most`` in a seed with at least 9 trials
    (successive halving with reduction factor 3 passes about a third of the trials at each rung whatever the
    objective; with fewer trials its warm-up lets nearly all through, so nothing is checked)."""
    share = epochs_spent(pruned) / epochs_spent(full)
    print("check (the pruner's wiring, not a claim): epochs spent with pruning / without, same draws:",
          share.round(3).to_dict())
    trials = pruned.groupby("search_seed").size()
    over = [s for s, v in share.items() if v > at_most and trials[s] >= 9]
    if over:
        raise AssertionError(f"the pruner spent more than {at_most} of the epochs in search seed(s) {over}: it is "
                             "not stopping trials early")
    return share
