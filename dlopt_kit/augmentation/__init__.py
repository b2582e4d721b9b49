"""Lesson 02, augmentation: the batched augmenter (from the core), shifted test sets, robustness tables and their
pictures."""

from __future__ import annotations

from dlopt_kit.augmentation.robustness import (
    confusion,
    moved,
    plot_augmented,
    plot_class_grid,
    plot_confusions,
    plot_robustness,
    plot_shifted_sets,
    robustness_summary,
    sample_photo,
    shift_accuracies,
    swap_rate,
)
from dlopt_kit.core.augment import SHIFT_NAMES, Augmenter, AugmentSpec, shifted

__all__ = [
    "Augmenter", "AugmentSpec", "confusion", "moved", "plot_augmented", "plot_class_grid", "plot_confusions",
    "plot_robustness", "plot_shifted_sets", "robustness_summary", "sample_photo", "shift_accuracies", "SHIFT_NAMES",
    "shifted", "swap_rate"
]
