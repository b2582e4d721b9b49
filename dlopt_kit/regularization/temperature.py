"""Temperature scaling (Guo et al., *On Calibration of Modern Neural Networks*, 2017): one number T > 0 dividing a
trained model's logits, fitted on the validation split by minimising its cross-entropy. It changes no prediction
(the arg max of ``logits / T`` is the arg max of the logits), only the confidence, so the part of a test-loss gain
that temperature scaling also gives is confidence, not better ranking. Lesson 05 applies it to every arm's
last-epoch model before comparing their test losses."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar
from torch import nn

from dlopt_kit.core import kept_epochs
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import eval_logits

#: the search range of log T: T from about 0.05 to 20
LOG_T_BOUNDS = (-3.0, 3.0)


def logits_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model``'s float32 logits on ``x`` in eval mode, without gradients, on the CPU (the model's mode is
    restored)."""
    return torch.cat([logits.cpu() for _, logits in eval_logits(model, x, 1024)])


def fit_temperature(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The temperature T that minimises the mean cross-entropy of ``logits / T`` against ``y``: a bounded 1-D search
    over log T in ``LOG_T_BOUNDS`` (scipy's ``minimize_scalar``)."""
    if logits.ndim != 2 or len(logits) != len(y) or len(y) == 0:
        raise ValueError(f"logits must be (examples, classes) with one label per example; got {tuple(logits.shape)} "
                         f"logits and {len(y)} labels")

    def loss(log_t: float) -> float:
        return float(F.cross_entropy(logits / math.exp(log_t), y))

    found = minimize_scalar(loss, bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return math.exp(float(found.x))


def scaled_losses(model: nn.Module, data: Splits, x: torch.Tensor | None = None,
                  y: torch.Tensor | None = None) -> tuple[float, np.ndarray]:
    """``(T, losses)``: the temperature fitted on ``data``'s validation split and each example's cross-entropy of the
    logits divided by it, on (``x``, ``y``), by default ``data``'s test split (one loss per example, for a bootstrap
    over examples: ``paired_bootstrap``)."""
    x, y = (data.x_test, data.y_test) if x is None else (x, y)
    if y is None or len(x) != len(y):
        raise ValueError("x and y must be given together, with one label per example")
    temperature = fit_temperature(logits_of(model, data.x_val), data.y_val)
    losses = F.cross_entropy(logits_of(model, x) / temperature, y.cpu(), reduction="none")
    return temperature, losses.numpy().astype(float)


def scaled_test_loss(model: nn.Module, data: Splits) -> tuple[float, float]:
    """``(T, test loss)``: the temperature fitted on ``data``'s validation split and the test split's mean
    cross-entropy of the logits divided by it."""
    temperature, losses = scaled_losses(model, data)
    return temperature, float(losses.mean())


def scaled_per_example(table: pd.DataFrame, config: str, models: Mapping[int, nn.Module], data: Splits,
                       x: torch.Tensor | None = None,
                       y: torch.Tensor | None = None) -> tuple[pd.Series, dict[int, np.ndarray]]:
    """``scaled_losses`` for each seed's model of ``config`` in ``table`` (``models``: seed -> model): the
    temperatures, indexed by seed, and each seed's per-example losses on (``x``, ``y``), by default the test split.
    Used by lesson 05 for a paired bootstrap over examples and seeds."""
    seeds = sorted(int(s) for s in pd.unique(table.loc[table["config"] == config, "seed"]))
    if not seeds:
        raise ValueError(f"config {config!r} is not in the table")
    missing = [seed for seed in seeds if seed not in models]
    if missing:
        raise ValueError(f"no model for seed(s) {missing} of config {config!r}: models has seeds {sorted(models)}")
    pairs = {seed: scaled_losses(models[seed], data, x, y) for seed in seeds}
    return (pd.Series({seed: t for seed, (t, _) in pairs.items()}, name="temperature"),
            {seed: losses for seed, (_, losses) in pairs.items()})


def scaled_per_seed(table: pd.DataFrame, config: str, models: Mapping[int, nn.Module], data: Splits,
                    x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> tuple[pd.Series, pd.Series]:
    """The temperatures and the temperature-scaled mean losses on (``x``, ``y``), by default the test split, of
    each seed's model of ``config`` (``scaled_per_example``), both indexed by seed; the losses carry ``config``'s
    kept epochs from ``table`` (as ``per_seed``'s do), so that a claim on them checks that the arm converged. Used
    by lesson 05."""
    temperatures, losses = scaled_per_example(table, config, models, data, x, y)
    means = pd.Series({seed: float(values.mean()) for seed, values in losses.items()}, name="scaled_test_loss")
    return temperatures, kept_epochs.attach(means, kept_epochs.from_table(table, config))
