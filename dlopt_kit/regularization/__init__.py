"""Lesson 05, regularization: the penalties and weight statistics (from the core, which applies them in training) and
the lesson's pictures."""

from __future__ import annotations

from dlopt_kit.core.regularize import NEAR_ZERO, penalty, weight_stats, weight_values
from dlopt_kit.regularization.plots import plot_regularization, plot_weight_histograms

__all__ = [
    "NEAR_ZERO", "penalty", "plot_regularization", "plot_weight_histograms", "weight_stats", "weight_values"
]
