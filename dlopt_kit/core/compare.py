"""Comparisons: several configs x several seeds, as one tidy pandas table.

``compare`` is the experiment cell of every lesson: it trains each config with each seed and returns
one row per (config, seed, epoch) with the test accuracy of the run's best weights alongside.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd
from tqdm.auto import tqdm

from dlopt_kit.core import checks
from dlopt_kit.core.callbacks import higher_is_better
from dlopt_kit.core.config import RunConfig, describe, differing_fields
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import FitResult, check_fit, evaluate, fit, fit_quietly


def label_configs(configs: Sequence[RunConfig]) -> list[str]:
    """Labels naming only what differs between ``configs`` (``model=cnn`` vs ``model=mlp``)."""
    fields = differing_fields(list(configs))
    return [describe(c, fields) for c in configs]


def compare(configs: Sequence[RunConfig] | Mapping[str, RunConfig], data: Splits, seeds: Sequence[int] = (0, 1, 2),
            fit_fn: Callable[..., FitResult] = fit, progress: bool = True,
            extra_metrics: Callable[[FitResult, Splits], dict[str, float]] | None = None,
            models: dict | None = None, results: dict | None = None, parallel: bool = False,
            **fit_kwargs) -> pd.DataFrame:
    """Train every config with every seed; return a tidy table.

    Columns: ``config`` (a label naming what differs, or the mapping's key), ``seed``, the history columns
    (``epoch``, ``train_loss``, ``val_acc``, ...), ``test_loss``/``test_acc`` of the best weights, ``best_epoch`` (the
    epoch those weights come from, chosen on validation) and ``stop_reason``. Pass a dict as ``models`` to keep
    every run's model (with its best weights) in it under ``(label, seed)``, or as ``results`` to keep every run's
    ``FitResult`` (its per-step record too); ``fit_kwargs`` go to every ``fit``. With ``parallel`` the runs train
    in worker processes where the CPU has cores to spare (``core.processes``; the same numbers, no progress bar);
    it applies to the plain ``fit`` without ``fit_kwargs`` only, and is ignored otherwise.
    """
    if isinstance(configs, RunConfig) or not isinstance(configs, (Mapping, Sequence)) or isinstance(configs, str):
        raise ValueError(f"configs must be a list of RunConfig or a dict label -> RunConfig; got {configs!r}")
    labels = [str(k) for k in configs] if isinstance(configs, Mapping) else None
    configs = list(configs.values()) if isinstance(configs, Mapping) else list(configs)
    if not configs:
        raise ValueError("compare needs at least one config")
    for i, config in enumerate(configs):
        if not isinstance(config, RunConfig):
            raise ValueError(f"configs[{i}] must be a RunConfig, e.g. RunConfig(lr=0.01); got {config!r}")
    labels = labels or label_configs(configs)
    if len(set(labels)) != len(labels):
        raise ValueError(f"configs must differ in something other than seed; labels were {labels}")
    seeds = checks.seeds("seeds", seeds)
    for config in configs:  # every run's problems surface before the first run trains
        check_fit(config, data)
    frames = []
    runs = [(label, config, seed) for label, config in zip(labels, configs, strict=True) for seed in seeds]
    trained = None
    if parallel and fit_fn is fit and not fit_kwargs:
        from dlopt_kit.core.processes import run_tasks

        trained = iter(run_tasks(fit_quietly, [(config.replace(seed=seed), data) for _, config, seed in runs]))
    for label, config, seed in tqdm(runs, desc="runs", disable=not progress or trained is not None):
        result = next(trained) if trained is not None else fit_fn(config.replace(seed=seed), data, progress=False,
                                                                   **fit_kwargs)
        if models is not None:
            models[(label, seed)] = result.model
        if results is not None:
            results[(label, seed)] = result
        frames.append(run_frame(label, seed, result, data, extra_metrics))
    return pd.concat(frames, ignore_index=True)


def run_frame(label: str, seed: int, result: FitResult, data: Splits,
              extra_metrics: Callable[[FitResult, Splits], dict[str, float]] | None = None) -> pd.DataFrame:
    """One run's rows of ``compare``'s table: its history with ``config`` and ``seed`` in front, and the test loss
    and accuracy of its kept weights, ``stop_reason`` and ``best_epoch`` on every row."""
    frame = result.history.to_frame()
    test_loss, test_acc = evaluate(result.model, data.x_test, data.y_test)
    frame.insert(0, "seed", seed)
    frame.insert(0, "config", label)
    frame["test_loss"], frame["test_acc"], frame["stop_reason"] = test_loss, test_acc, result.stop_reason
    frame["best_epoch"] = result.best_epoch
    for column, value in (extra_metrics(result, data) if extra_metrics else {}).items():
        frame[column] = value
    return frame


def final_epochs(table: pd.DataFrame) -> pd.DataFrame:
    """The last recorded epoch of every (config, seed) run."""
    return table.sort_values("epoch", kind="stable").groupby(["config", "seed"], sort=False).tail(1)


def summarize(table: pd.DataFrame, metric: str = "test_acc", at: str = "last") -> pd.DataFrame:
    """Mean, std, min and max of ``metric`` over seeds for each config, configs in the order they were compared:
    read at each run's last epoch (``at="last"``) or at its kept epoch (``at="best"``, see ``best_rows``)."""
    if metric not in table.columns:
        raise ValueError(f"metric={metric!r} is not a column: choose one of {', '.join(table.columns)}")
    if at not in ("last", "best"):
        raise ValueError(f"at={at!r} is not allowed: choose 'last' (the last epoch) or 'best' (the kept epoch)")
    runs = final_epochs(table) if at == "last" else best_rows(table)
    stats = runs.groupby("config", sort=False)[metric].agg(["mean", "std", "min", "max"])
    return stats.reindex(pd.unique(table["config"])).rename_axis("config").reset_index()  # configs in given order


def best_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The record of every (config, seed) run at its best epoch: the epoch whose weights ``fit`` kept (the
    ``best_epoch`` column; tables without it, the epoch with the lowest ``val_loss``)."""
    if "best_epoch" in table.columns:
        return table[table["epoch"] == table["best_epoch"]]
    return table.loc[table.groupby(["config", "seed"], sort=False)["val_loss"].idxmin()]


def best_epochs(table: pd.DataFrame) -> pd.DataFrame:
    """The best epoch of every run (see ``best_rows``), one row per config and a column per seed: a best epoch at or
    near the last one says the arm was still improving when its budget ran out."""
    best = best_rows(table)
    return best.pivot(index="config", columns="seed", values="epoch").reindex(pd.unique(table["config"]))


def epochs_to_reach(table: pd.DataFrame, target: float, metric: str = "val_acc") -> pd.DataFrame:
    """The first epoch at which each run's ``metric`` reached ``target`` (at least it; at most it for a loss), one row
    per config and a column per seed. A run that never reached it counts as the table's longest run + 1 epochs: it
    needed more than any run had (a run that diverged in its first epoch does not count as fast)."""
    if metric not in table.columns:
        raise ValueError(f"metric={metric!r} is not a column: choose one of {', '.join(table.columns)}")
    target = checks.finite("target", target)
    lower = not higher_is_better(metric)
    never = int(table["epoch"].max()) + 1

    def first(run: pd.DataFrame) -> int:
        reached = run[run[metric] <= target] if lower else run[run[metric] >= target]
        return int(reached["epoch"].min()) if len(reached) else never

    counts = table.groupby(["config", "seed"], sort=False)[["epoch", metric]].apply(first).rename("epochs")
    return counts.reset_index().pivot(index="config", columns="seed", values="epochs").reindex(
        pd.unique(table["config"]))
