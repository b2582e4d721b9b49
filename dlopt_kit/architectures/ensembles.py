"""Ensembles: several models' predictions combined, and what they cost.

- ``ensemble_proba``: the mean of the members' softmax probabilities (soft voting);
- ``majority_vote``: each member votes for its most probable class; a tie goes to the class with the higher mean
  probability;
- ``train_members``: ``size`` members of one config with different seeds; small MLPs are trained at once with
  ``torch.func.vmap`` (``parallel.fit_many``), other models one after another;
- ``ensemble_study``: per ensemble seed, every member, the best single member chosen on validation, and the
  ensemble, scored on test;
- ``SWA``: a callback that averages the weights of the last epochs (``torch.optim.swa_utils.AveragedModel``),
  an ensemble in weight space that costs one training run.

The averaged model's log-loss is never worse than the mean of its members' (the log-loss is convex in the
probabilities), so that is no claim; its accuracy against the best member's is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from dlopt_kit.core import checks
from dlopt_kit.core.callbacks import Callback
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.parallel import fit_many, why_not_parallel
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


def train_members(config: RunConfig, data: Splits, size: int, seed: int = 0) -> tuple[list[FitResult], float]:
    """``size`` members of ``config`` with seeds ``member_seeds(seed, size)``, and the seconds they took. Trained at
    once with ``fit_many`` (vmap) when it can, else one after another with ``fit``."""
    size = checks.whole("size", size, 1, 64)
    configs = [config.replace(seed=s) for s in member_seeds(seed, size)]
    started = time.perf_counter()
    if why_not_parallel(configs) is None and size > 1:
        results = fit_many(configs, data)
    else:
        results = [fit(c, data, progress=False) for c in configs]
    return results, time.perf_counter() - started


def ensemble_study(config: RunConfig, data: Splits, size: int = 5, seeds: Sequence[int] = (0, 1, 2),
                   curves: dict | None = None) -> pd.DataFrame:
    """One row per ensemble seed: the validation accuracy of the best member (chosen on it), the test accuracy of
    that member, of the average member, of the probability average and of the majority vote, and the seconds the
    members took to train. The test split is read only for these scores. Pass a dict as ``curves`` to receive, per
    ensemble seed, the test accuracy of the average of the first k members for k = 1 .. ``size`` (the members in
    the order they were trained: the accuracy-against-members curve, ``plot_ensemble_curve``)."""
    rows = []
    for seed in checks.seeds("seeds", seeds):
        results, seconds = train_members(config, data, size, seed)
        models = [r.model for r in results]
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
                     "vote": accuracy(majority_vote(models, data.x_test), data.y_test), "seconds": seconds})
    return pd.DataFrame(rows).set_index("seed")


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
