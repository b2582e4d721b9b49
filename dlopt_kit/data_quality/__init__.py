"""Lesson 01, data quality: a data report (duplicates, leaks, outliers, label issues), corruptions and their fixes,
engineered features, the corruption study and its pictures."""

from __future__ import annotations

from dlopt_kit.core.corruptions import CORRUPTIONS, class_pairs, corrupt, detection
from dlopt_kit.data_quality import fixes
from dlopt_kit.data_quality.features import ENGINEERED, cost_table, engineer, feature_study, mean_features, pleomorphism
from dlopt_kit.data_quality.plots import (
    plot_class_counts,
    plot_class_recall,
    plot_decision_boundary,
    plot_detection,
    plot_effects,
    show_copies,
    show_examples,
    show_fills,
    show_label_issues,
)
from dlopt_kit.data_quality.report import data_report, near_duplicates, outliers, overlap
from dlopt_kit.data_quality.study import CorruptionStudy, class_recall, detect, train_ready

__all__ = [
    "class_pairs", "class_recall", "corrupt", "CORRUPTIONS", "CorruptionStudy", "cost_table", "data_report",
    "detect", "detection", "engineer", "ENGINEERED", "feature_study", "fixes", "mean_features", "near_duplicates",
    "outliers", "overlap", "pleomorphism", "plot_class_counts", "plot_class_recall", "plot_decision_boundary",
    "plot_detection", "plot_effects", "show_copies", "show_examples", "show_fills", "show_label_issues", "train_ready"
]
