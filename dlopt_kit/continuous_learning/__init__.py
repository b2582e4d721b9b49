"""Lesson 08, continuous learning: drifting streams, monitors and detectors, retraining policies with model versions,
the policy study and the lesson's pictures."""

from __future__ import annotations

from dlopt_kit.continuous_learning.monitors import Detector, Threshold, alarm_report, psi, watch
from dlopt_kit.continuous_learning.plots import plot_policies, plot_signal, show_stream
from dlopt_kit.continuous_learning.policies import POLICIES, ModelRegistry, Policy, serve
from dlopt_kit.continuous_learning.stream import DRIFTS, SPEEDS, DriftSpec, make_stream, stream_pool, unused_training
from dlopt_kit.continuous_learning.study import arm, calibrate, deployed, policy_study

__all__ = [
    "alarm_report", "arm", "calibrate", "deployed", "Detector", "DRIFTS", "DriftSpec", "make_stream",
    "ModelRegistry", "plot_policies", "plot_signal", "POLICIES", "Policy", "policy_study", "psi", "serve",
    "show_stream", "SPEEDS", "stream_pool", "Threshold", "unused_training", "watch"
]
