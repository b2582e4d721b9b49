"""Uncertainty from the test examples as well as the seeds: a paired bootstrap over both.

Seeds measure how much training varies; they say nothing about the test split's own sampling error. With 2,000 test
images, a one-point difference between two models is within that error whatever the seeds say. ``paired_bootstrap``
resamples the test examples (the same draw for both arms and every seed: the comparison stays paired) and the seeds
(with replacement), and reports the mean gain over seeds with a percentile interval that carries both sources of
uncertainty. ``example_bootstrap`` does it for the models a ``compare(..., models=...)`` call kept, and
``seed_accuracy`` gives each seed's accuracy of those models on a larger test set, for a claim paired over seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from dlopt_kit.core import checks, kept_epochs
from dlopt_kit.core.training import eval_logits, predict_proba


@dataclass(frozen=True)
class ExampleBootstrap:
    """The mean gain over seeds and its bootstrap interval over test examples and seeds."""

    name: str
    mean: float
    low: float
    high: float
    examples: int
    seeds: int
    reps: int

    def summary(self) -> str:
        """One line, claiming nothing."""
        return (f"{self.name}: gain {self.mean:+.3f}, 95% interval over test examples and seeds {self.low:+.3f} to "
                f"{self.high:+.3f} ({self.examples:,} examples x {self.seeds} seeds, {self.reps:,} resamples)")


def correct(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Whether ``model`` classifies each example of ``x`` correctly (a boolean array, one entry per example)."""
    return (predict_proba(model, x).argmax(1) == y.cpu()).numpy()


def example_losses(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """``model``'s cross-entropy on each example of ``x`` (eval mode; one float per example), for a bootstrap of a
    loss over examples (``paired_bootstrap``)."""
    parts = [F.cross_entropy(logits, y[rows].to(logits.device), reduction="none").cpu()
             for rows, logits in eval_logits(model, x, 1024)]
    return torch.cat(parts).numpy().astype(float)


def paired_bootstrap(better: Mapping[int, np.ndarray], over: Mapping[int, np.ndarray], reps: int = 2000,
                     seed: int = 0, name: str = "gain") -> ExampleBootstrap:
    """``better`` and ``over`` map each seed to a per-example score (1/0 for correct/wrong) on the same test examples.
    Each resample draws the examples and the seeds with replacement (the same draw for both arms) and takes the mean
    over the drawn seeds of the difference in mean score; the interval is the 2.5th to 97.5th percentile."""
    reps = checks.whole("reps", reps, 100)
    if set(better) != set(over) or len(better) < 1:
        raise ValueError(f"a paired bootstrap needs the same seeds in both arms, at least one; got {sorted(better)} "
                         f"and {sorted(over)}")
    seeds = sorted(better)
    diff = np.stack([np.asarray(better[s], float) - np.asarray(over[s], float) for s in seeds])  # seeds x examples
    if diff.ndim != 2 or np.isnan(diff).any():
        raise ValueError(f"{name}: every seed needs one finite score per example, the same examples in both arms")
    k, n = diff.shape
    rng = np.random.default_rng(seed)
    gains = np.empty(reps)
    for r in range(reps):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)  # how often each example is drawn
        drawn = rng.integers(0, k, k)
        gains[r] = (diff[drawn] @ weights).mean() / n
    low, high = np.percentile(gains, [2.5, 97.5])
    return ExampleBootstrap(name, float(diff.mean()), float(low), float(high), n, k, reps)


def example_bootstrap(models: Mapping[tuple[str, int], torch.nn.Module], better: str, over: str,
                      x: torch.Tensor, y: torch.Tensor, reps: int = 2000, seed: int = 0) -> ExampleBootstrap:
    """``paired_bootstrap`` of accuracy on (``x``, ``y``) for configs ``better`` and ``over`` of the models a
    ``compare(..., models=models)`` call kept (keyed by (config, seed))."""
    runs = {label for label, _ in models}
    for config in (better, over):
        if config not in runs:
            raise ValueError(f"config {config!r} has no kept models: the models hold {', '.join(sorted(runs))}")
    pick = {c: {s: correct(m, x, y) for (label, s), m in models.items() if label == c} for c in (better, over)}
    return paired_bootstrap(pick[better], pick[over], reps, seed, name=f"accuracy, {better} over {over}")


def _seed_means(models: Mapping[tuple[str, int], torch.nn.Module], config: str, x: torch.Tensor, y: torch.Tensor,
                table: pd.DataFrame | None, score: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor],
                                                            np.ndarray]) -> pd.Series:
    """Each seed's mean ``score`` per example on (``x``, ``y``) of ``config``'s models, indexed by seed and named
    ``config``, carrying the config's kept epochs in ``table`` when one is given."""
    picked = {seed: model for (label, seed), model in models.items() if label == config}
    if not picked:
        runs = sorted({label for label, _ in models})
        raise ValueError(f"config {config!r} has no kept models: the models hold {', '.join(runs)}")
    values = pd.Series({seed: float(score(picked[seed], x, y).mean()) for seed in sorted(picked)}, name=config)
    return kept_epochs.attach(values, kept_epochs.from_table(table, config) if table is not None else None)


def seed_accuracy(models: Mapping[tuple[str, int], torch.nn.Module], config: str, x: torch.Tensor, y: torch.Tensor,
                  table: pd.DataFrame | None = None) -> pd.Series:
    """Each seed's accuracy on (``x``, ``y``) of ``config``'s models kept by ``compare(..., models=models)``, indexed by
    seed and named ``config``. With ``table`` (the ``compare`` table those runs made) the Series carries the config's
    kept epochs there, so that a claim read from it (``assert_paired``) checks that the arm had converged."""
    return _seed_means(models, config, x, y, table, correct)


def seed_loss(models: Mapping[tuple[str, int], torch.nn.Module], config: str, x: torch.Tensor, y: torch.Tensor,
              table: pd.DataFrame | None = None) -> pd.Series:
    """Each seed's mean cross-entropy on (``x``, ``y``) of ``config``'s models (keyed by (config, seed)), indexed by
    seed and named ``config``; with ``table`` it carries the config's kept epochs there, as ``seed_accuracy`` does."""
    return _seed_means(models, config, x, y, table, example_losses)
