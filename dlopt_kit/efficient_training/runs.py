"""Lesson 06's runs: any set of (arm, seed) configs trained in worker processes, as one ``compare`` table.

``compare`` trains one config per arm over the seeds; lesson 06 also needs arms whose config differs by seed (each
seed trains at the lr its own range test suggested) and runs that record every step's gradient norm (the clipping
diagnostics). ``train_runs`` does both, two runs at a time on a 2-core CPU (``core.processes.run_tasks``), with
the same numbers as training them one after another.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import pandas as pd

from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.compare import run_frame
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import FitResult, check_fit, fit


def _fit(config: RunConfig, data: Splits, record_grad_norms: bool, quiet: bool) -> FitResult:
    with warnings.catch_warnings():  # in a worker process, the caller's warning filters do not apply
        if quiet:
            warnings.simplefilter("ignore", RuntimeWarning)
        return fit(config, data, progress=False, record_grad_norms=record_grad_norms)


def train_runs(runs: Mapping[tuple[str, int], RunConfig], data: Splits, results: dict | None = None,
               record_grad_norms: bool = False, quiet: bool = False) -> pd.DataFrame:
    """Train every ``(arm, seed) -> config`` of ``runs`` (each config's own ``seed`` is set to the key's) and return
    ``compare``'s table: one row per (arm, seed, epoch), with the test scores of each run's kept weights. Pass a
    dict as ``results`` to keep every run's ``FitResult`` under ``(arm, seed)``; ``record_grad_norms`` records each
    step's unclipped gradient norm (``result.steps["grad_norm"]``); ``quiet`` silences the warning a diverged run
    gives (its ``stop_reason`` still says so). Used by lesson 06."""
    if not runs:
        raise ValueError("train_runs needs at least one (arm, seed) -> RunConfig")
    for key, config in runs.items():
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int)):
            raise ValueError(f"runs must be keyed by (arm, seed), e.g. ('lr=0.1', 0); got {key!r}")
        if not isinstance(config, RunConfig):
            raise ValueError(f"runs[{key!r}] must be a RunConfig; got {config!r}")
        check_fit(config, data)
    keys = list(runs)
    trained = run_tasks(_fit, [(runs[k].replace(seed=k[1]), data, record_grad_norms, quiet) for k in keys])
    if results is not None:
        results.update(zip(keys, trained, strict=True))
    return pd.concat([run_frame(str(arm), seed, result, data)
                      for (arm, seed), result in zip(keys, trained, strict=True)], ignore_index=True)


def over_seeds(arms: Mapping[str, RunConfig], seeds: tuple[int, ...] | list[int]) -> dict[tuple[str, int], RunConfig]:
    """``{(arm, seed): config}`` for every arm with every seed: the input ``train_runs`` takes for plain arms."""
    return {(arm, int(seed)): config for arm, config in arms.items() for seed in seeds}


def more_seeds(seeds: tuple[int, ...] | list[int], count: int) -> tuple[int, ...]:
    """``seeds`` followed by the next unused integers, ``count`` seeds in all (``seeds`` unchanged if it already has
    ``count``): for a claim whose arms are cheap and whose per-seed scatter is wide, so it needs more seeds than the
    budget's. In a dry run, ``seeds`` unchanged (the capped work proves nothing)."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count={count!r} must be a whole number >= 1")
    chosen = [int(s) for s in seeds]
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"seeds {chosen} repeat a seed")
    if dry.dry_run():
        return tuple(chosen)
    extra = (s for s in range(max(chosen, default=-1) + 1, 10**9))
    while len(chosen) < count:
        chosen.append(next(extra))
    return tuple(chosen)
