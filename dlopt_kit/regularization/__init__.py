"""Lesson 05, regularization: the penalties and weight statistics (from the core, which applies them in training), the
lesson's experiment (every arm trained long, read at its last epoch and early-stopped, chosen on validation) and its
pictures."""

from __future__ import annotations

from dlopt_kit.core.regularize import NEAR_ZERO, penalty, weight_stats, weight_values
from dlopt_kit.regularization.plots import (
    heatmap_frame,
    outcome_table,
    plot_class_weights,
    plot_early_stopping,
    plot_heatmaps,
    plot_regularization,
    plot_weight_histograms,
)
from dlopt_kit.regularization.study import (
    ADAMW_ARMS,
    EPOCHS,
    LINEAR_ARMS,
    LR_LADDER,
    LRS,
    MLP_ARMS,
    arm_table,
    choose,
    converged,
    epochs_for,
    epochs_run,
    families,
    grid,
    label,
    lr_of,
    lr_position,
    run_study,
    stop_epoch,
    tune,
    validation_scores,
)
from dlopt_kit.regularization.temperature import (
    fit_temperature,
    scaled_losses,
    scaled_per_example,
    scaled_per_seed,
    scaled_test_loss,
)

__all__ = [
    "ADAMW_ARMS", "EPOCHS", "LINEAR_ARMS", "LRS", "LR_LADDER", "MLP_ARMS", "NEAR_ZERO", "arm_table", "choose",
    "converged", "epochs_for", "epochs_run", "families", "fit_temperature", "grid", "heatmap_frame", "label",
    "lr_of", "lr_position", "outcome_table", "penalty", "plot_class_weights", "plot_early_stopping",
    "plot_heatmaps", "plot_regularization", "plot_weight_histograms", "run_study", "scaled_losses",
    "scaled_per_example", "scaled_per_seed", "scaled_test_loss", "stop_epoch", "tune", "validation_scores",
    "weight_stats", "weight_values",
]
