"""Lesson 08, continuous learning: drifting streams, monitors and detectors, retraining policies with model versions,
the policy study and the lesson's pictures."""

from __future__ import annotations

from dlopt_kit.continuous_learning.monitors import Detector, Threshold, alarm_report, psi, watch
from dlopt_kit.continuous_learning.plots import plot_compute, plot_policies, plot_signal, show_stream
from dlopt_kit.continuous_learning.policies import POLICIES, ModelRegistry, Policy, serve
from dlopt_kit.continuous_learning.stream import DRIFTS, SPEEDS, DriftSpec, make_stream, stream_pool, unused_training
from dlopt_kit.continuous_learning.study import arm, calibrate, deployed, equal_compute, phase_mean, policy_study
from dlopt_kit.continuous_learning.tradeoff import (
    PSI_RULES,
    SWEEP,
    detector_alarms,
    ks_rows,
    null_distribution,
    psi_null_mean,
    psi_rows,
    stream_signals,
    threshold_sweep,
)
from dlopt_kit.continuous_learning.tradeoff_plots import plot_null_distribution, plot_tradeoff

__all__ = [
    "alarm_report", "arm", "calibrate", "deployed", "Detector", "detector_alarms", "DRIFTS", "DriftSpec",
    "equal_compute", "ks_rows", "make_stream", "ModelRegistry", "null_distribution", "phase_mean", "plot_compute",
    "plot_null_distribution", "plot_policies", "plot_signal", "plot_tradeoff", "POLICIES", "Policy", "policy_study",
    "psi", "psi_null_mean", "psi_rows", "PSI_RULES", "serve", "show_stream", "SPEEDS", "stream_pool",
    "stream_signals", "SWEEP", "Threshold", "threshold_sweep", "unused_training", "watch"
]
