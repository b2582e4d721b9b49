"""Lesson 06, efficient training: learning-rate schedules (from the core), the LR finder, gradient clipping and the
lesson's pictures."""

from __future__ import annotations

from dlopt_kit.core.schedules import Schedule, lr_curve
from dlopt_kit.efficient_training.clipping import AGGRESSIVE, suggest_clip
from dlopt_kit.efficient_training.lr_finder import find_lr
from dlopt_kit.efficient_training.plots import (
    plot_grad_norms,
    plot_lr_finder,
    plot_lr_sweep,
    plot_schedules,
    plot_step_loss,
)

__all__ = [
    "AGGRESSIVE", "find_lr", "lr_curve", "plot_grad_norms", "plot_lr_finder", "plot_lr_sweep", "plot_schedules",
    "plot_step_loss", "Schedule", "suggest_clip"
]
