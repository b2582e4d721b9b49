"""Lesson 03, architectures, transfer and ensembles: MNIST-1D's linear/MLP/CNN/GRU comparison, the architecture table,
the temporal-order task, transfer from MNIST and ImageNet features, ensembles, and their pictures."""

from __future__ import annotations

from dlopt_kit.architectures.ensembles import disagreement, ensemble_arm, ensemble_proba, ensemble_study
from dlopt_kit.architectures.mnist1d import (
    PUBLISHED,
    PUBLISHED_SOURCE,
    PUBLISHED_STEPS,
    SignalCNN,
    SignalGRU,
    mnist1d_configs,
    mnist1d_ensembles,
    mnist1d_study,
    plot_accuracy,
    plot_signals,
    shuffle_positions,
)
from dlopt_kit.architectures.plots import plot_ensemble_curve, plot_transfer_curve
from dlopt_kit.architectures.sequences import order_splits
from dlopt_kit.architectures.study import (
    IMAGENET_SIZE,
    arm_scores,
    arm_seeds,
    digits_target,
    error_reduction,
    few_label_ensembles,
    few_label_steps,
    for_steps,
    gap_table,
    imagenet_features,
    prepare_features,
    transfer_curve,
    zero_shot,
)
from dlopt_kit.architectures.table import architecture_table
from dlopt_kit.architectures.transfer import MODES, TransferNet, few_labels, kit_backbone, subset_classes

__all__ = [
    "architecture_table", "arm_scores", "arm_seeds", "digits_target", "disagreement", "ensemble_arm",
    "ensemble_proba", "ensemble_study", "error_reduction", "few_label_ensembles", "few_label_steps", "few_labels",
    "for_steps", "gap_table", "imagenet_features", "IMAGENET_SIZE", "kit_backbone", "mnist1d_configs",
    "mnist1d_ensembles", "mnist1d_study", "MODES", "order_splits", "plot_accuracy", "plot_ensemble_curve",
    "plot_signals", "plot_transfer_curve", "prepare_features", "PUBLISHED", "PUBLISHED_SOURCE", "PUBLISHED_STEPS",
    "shuffle_positions", "SignalCNN", "SignalGRU", "subset_classes", "transfer_curve", "TransferNet", "zero_shot"
]
