"""Lesson 03, architectures, transfer and ensembles: the architecture table, the temporal-order task, transfer from
MNIST and ImageNet features, ensembles, and the transfer study with its pictures."""

from __future__ import annotations

from dlopt_kit.architectures.ensembles import ensemble_proba, ensemble_study
from dlopt_kit.architectures.plots import plot_transfer_curve
from dlopt_kit.architectures.sequences import order_splits
from dlopt_kit.architectures.study import (
    IMAGENET_SIZE,
    arm_scores,
    digits_target,
    error_reduction,
    few_label_ensembles,
    for_steps,
    gap_table,
    imagenet_features,
    prepare_features,
    transfer_curve,
)
from dlopt_kit.architectures.table import architecture_table
from dlopt_kit.architectures.transfer import MODES, TransferNet, few_labels, kit_backbone

__all__ = [
    "architecture_table", "arm_scores", "digits_target", "ensemble_proba", "ensemble_study", "error_reduction",
    "few_label_ensembles", "few_labels", "for_steps", "gap_table", "imagenet_features", "IMAGENET_SIZE",
    "kit_backbone", "MODES", "order_splits", "plot_transfer_curve", "prepare_features", "transfer_curve",
    "TransferNet"
]
