"""Lesson 06, efficient training: learning-rate schedules (from the core), the LR finder, gradient clipping, the
lesson's runs and its pictures."""

from __future__ import annotations

from dlopt_kit.core.schedules import Schedule, lr_curve
from dlopt_kit.efficient_training.clipping import (
    AGGRESSIVE,
    effective_lr,
    lowest_failing_lr,
    share_clipped,
    suggest_clip,
)
from dlopt_kit.efficient_training.lr_finder import find_lr, upper_lr
from dlopt_kit.efficient_training.plots import (
    plot_grad_norms,
    plot_lr_finder,
    plot_lr_sweep,
    plot_schedules,
    plot_step_loss,
)
from dlopt_kit.efficient_training.runs import more_seeds, over_seeds, train_runs

__all__ = [
    "AGGRESSIVE", "effective_lr", "find_lr", "lowest_failing_lr", "lr_curve", "more_seeds", "over_seeds",
    "plot_grad_norms", "plot_lr_finder", "plot_lr_sweep", "plot_schedules", "plot_step_loss", "Schedule",
    "share_clipped", "suggest_clip", "train_runs", "upper_lr",
]
