"""Ensembles: several models' predictions combined, and what they cost.

- ``ensemble_proba``: the mean of the members' softmax probabilities (soft voting);
- ``majority_vote``: each member votes for its most probable class; a tie goes to the class with the higher mean
  probability;
- ``train_members``: ``size`` members of one config with different seeds; small MLPs are trained at once with
  ``torch.func.vmap`` (``parallel.fit_many``), other models one after another;
- ``ensemble_study``: per ensemble seed, every member, the best single member chosen on validation, and the
  ensemble, scored on test, with the members' pairwise ``disagreement`` (identical members gain nothing);
- ``SWA``: a callback that averages the weights of the last epochs (``torch.optim.swa_utils.AveragedModel``),
  an ensemble in weight space that costs one training run.

The averaged model's log-loss is never worse than the mean of its members' (the log-loss is convex in the
probabilities), so that is no claim; its accuracy against the best member's is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from dlopt_kit.core import checks, kept_epochs
from dlopt_kit.core.callbacks import Callback, StopReason
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.kept_epochs import ENDED_EARLY, ArmEpochs
from dlopt_kit.core.parallel import fit_many, why_not_parallel
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import FitResult, fit, predict_proba


def ensemble_proba(models: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The mean of the members' class probabilities on ``x``."""
    if not models:
        raise ValueError("an ensemble needs at least one model")
    return torch.stack([predict_proba(m, x) for m in models]).mean(0)


def majority_vote(models: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The class most members predict on each row of ``x``; ties go to the class with the higher mean
    probability."""
    probs = torch.stack([predict_proba(m, x) for m in models])
    votes = torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).sum(0).float()
    return (votes + probs.mean(0) / 2).argmax(-1)  # the mean probability (< 1/2) only breaks ties


def accuracy(predicted: torch.Tensor, y: torch.Tensor) -> float:
    return float((predicted.cpu() == y.cpu()).float().mean())


def member_seeds(seed: int, size: int) -> list[int]:
    """The members' seeds of ensemble ``seed``: disjoint between ensemble seeds (seed * 1000 + 0, 1, ...)."""
    return [seed * 1000 + k for k in range(size)]


def train_members(config: RunConfig, data: Splits, size: int, seed: int = 0,
                  fit_member: Callable[[RunConfig, Splits], FitResult] | None = None) -> tuple[list[FitResult], float]:
    """``size`` members of ``config`` with seeds ``member_seeds(seed, size)``, and the seconds they took. With
    ``fit_member`` (a module-level function, e.g. a ``functools.partial`` of one) each member is trained by it, in
    worker processes (``processes.run_tasks``); without, small MLPs are trained at once with ``fit_many`` (vmap) when
    they can be, other models one after another with ``fit``."""
    results, seconds = _train({seed: [config.replace(seed=s) for s in member_seeds(seed, size)]}, data, fit_member)
    return results[seed], seconds[seed]


def _train(configs: dict[int, list[RunConfig]], data: Splits,
           fit_member: Callable[[RunConfig, Splits], FitResult] | None) -> tuple[dict, dict]:
    for members in configs.values():
        checks.whole("size", len(members), 1, 64)
    if fit_member is not None:  # every ensemble's members in one batch of tasks, two at a time on a 2-core CPU
        started = time.perf_counter()
        flat = run_tasks(fit_member, [(c, data) for members in configs.values() for c in members])
        share = (time.perf_counter() - started) / len(configs)
        out, at = {}, 0
        for seed, members in configs.items():
            out[seed], at = flat[at:at + len(members)], at + len(members)
        return out, {seed: share for seed in configs}
    out, seconds = {}, {}
    for seed, members in configs.items():
        started = time.perf_counter()
        if why_not_parallel(members) is None and len(members) > 1:
            out[seed] = fit_many(members, data)
        else:
            out[seed] = [fit(c, data, progress=False) for c in members]
        seconds[seed] = time.perf_counter() - started
    return out, seconds


def disagreement(models: Sequence[nn.Module], x: torch.Tensor) -> float:
    """The share of inputs on which two members predict different classes, averaged over every pair of members: 0
    for identical members, whose average could not beat them."""
    if len(models) < 2:
        raise ValueError(f"disagreement needs at least 2 members, got {len(models)}")
    predicted = [predict_proba(m, x).argmax(-1) for m in models]
    pairs = [(a, b) for i, a in enumerate(predicted) for b in predicted[i + 1:]]
    return sum(float((a != b).float().mean()) for a, b in pairs) / len(pairs)


def ensemble_study(config: RunConfig, data: Splits, size: int = 5, seeds: Sequence[int] = (0, 1, 2),
                   curves: dict | None = None,
                   fit_member: Callable[[RunConfig, Splits], FitResult] | None = None) -> pd.DataFrame:
    """One row per ensemble seed: the validation accuracy of the best member (chosen on it), the test accuracy of
    that member, of the average member, of the probability average and of the majority vote, the members' mean
    pairwise disagreement on test, and the seconds the members took to train (with ``fit_member``, as in
    ``train_members``, the batch's time shared out evenly). The test split is read only for these scores. Pass a
    dict as ``curves`` to receive, per ensemble seed, the test accuracy of the average of the first k members for
    k = 1 .. ``size`` (the members in the order they were trained: the accuracy-against-members curve,
    ``plot_ensemble_curve``)."""
    size = checks.whole("size", size, 1, 64)
    seeds = checks.seeds("seeds", seeds)
    trained, seconds = _train({seed: [config.replace(seed=s) for s in member_seeds(seed, size)] for seed in seeds},
                              data, fit_member)
    rows = []
    for seed in seeds:
        models = [r.model for r in trained[seed]]
        val = [accuracy(predict_proba(m, data.x_val).argmax(-1), data.y_val) for m in models]
        test = [accuracy(predict_proba(m, data.x_test).argmax(-1), data.y_test) for m in models]
        best = max(range(size), key=val.__getitem__)
        if curves is not None:
            probs = torch.stack([predict_proba(m, data.x_test) for m in models])
            running = probs.cumsum(0) / torch.arange(1, size + 1).view(-1, 1, 1)
            curves[seed] = [accuracy(p.argmax(-1), data.y_test) for p in running]
        rows.append({"seed": seed, "members": size, "best member val_acc": val[best],
                     "best member": test[best], "mean member": sum(test) / size,
                     "average": accuracy(ensemble_proba(models, data.x_test).argmax(-1), data.y_test),
                     "vote": accuracy(majority_vote(models, data.x_test), data.y_test),
                     "disagreement": disagreement(models, data.x_test) if size > 1 else 0.0,
                     **_latest_member(trained[seed]), "seconds": seconds[seed]})
    return pd.DataFrame(rows).set_index("seed")


def _latest_member(results: Sequence[FitResult]) -> dict[str, Any]:
    """The kept epoch and epochs run of the member that was latest to stop improving: one that ran to its budget
    if any did (``ended early`` False), else any (every member ended by early stopping)."""
    early = [StopReason.of(r.stop_reason) in ENDED_EARLY for r in results]
    pool = [r for r, e in zip(results, early, strict=True) if not e] or list(results)
    latest = max(pool, key=lambda r: (int(r.best_epoch or 0) - len(r.history), int(r.best_epoch or 0)))
    return {"kept epoch": int(latest.best_epoch or 0), "epochs run": len(latest.history), "ended early": all(early)}


def ensemble_arm(table: pd.DataFrame, column: str) -> pd.Series:
    """``column`` of ``ensemble_study``'s table (``"average"``, ``"best member"``, ...) indexed by seed and carrying
    the latest member's kept epoch per seed, so that a claim on it checks that the members had stopped improving."""
    if column not in table.columns:
        raise ValueError(f"column={column!r} is not in the table: choose one of {', '.join(table.columns)}")
    seeds = [int(s) for s in table.index]
    epochs = ArmEpochs(column, {s: int(table.loc[s, "kept epoch"]) for s in seeds},
                       {s: int(table.loc[s, "epochs run"]) for s in seeds},
                       {s: bool(table.loc[s, "ended early"]) for s in seeds})
    return kept_epochs.attach(table[column].astype(float).copy(), epochs)


class SWA(Callback):
    """Stochastic weight averaging (Izmailov et al., 2018): from epoch ``start`` on, the weights at the end of each
    epoch are averaged into ``self.model`` (an ``AveragedModel``). After ``fit``, ``self.model`` predicts with the
    average; a model with batch norm needs ``torch.optim.swa_utils.update_bn`` over the training data first."""

    def __init__(self, start: int = 1) -> None:
        self.start = checks.whole("start", start, 1)
        self.model: AveragedModel | None = None
        self.averaged = 0

    def on_epoch_end(self, state: Any, **kwargs: Any) -> None:
        if state.epoch < self.start:
            return
        if self.model is None:
            self.model = AveragedModel(state.model)
        self.model.update_parameters(state.model)
        self.averaged += 1
