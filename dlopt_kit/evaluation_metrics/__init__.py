"""Lesson 07, evaluation metrics: reports from sklearn.metrics, thresholds, an imbalanced one-vs-rest task and the
lesson's pictures."""

from __future__ import annotations

from dlopt_kit.evaluation_metrics.bootstrap import ap_difference_bootstrap, resampled_ap
from dlopt_kit.evaluation_metrics.calibration import calibration_metrics, fit_recalibration, logit, plot_reliability
from dlopt_kit.evaluation_metrics.imbalance import (
    at_prevalence,
    imbalance_metrics,
    one_vs_rest,
    positive_scores,
    recall_interval,
)
from dlopt_kit.evaluation_metrics.metrics import best_threshold, evaluation_report, report_from_probs, threshold_metrics
from dlopt_kit.evaluation_metrics.plots import (
    plot_calibration,
    plot_confusion,
    plot_highest_loss,
    plot_per_class_f1,
    plot_pr,
    plot_roc,
    plot_threshold_view,
)

__all__ = [
    "ap_difference_bootstrap", "at_prevalence", "best_threshold", "calibration_metrics", "evaluation_report",
    "fit_recalibration", "imbalance_metrics", "logit", "one_vs_rest", "plot_calibration", "plot_confusion",
    "plot_highest_loss", "plot_per_class_f1", "plot_pr", "plot_reliability", "plot_roc", "plot_threshold_view",
    "positive_scores", "recall_interval", "report_from_probs", "resampled_ap", "threshold_metrics"
]
