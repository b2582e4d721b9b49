"""Calibration of a binary classifier's scores (notebook 07): Brier score and log-loss, a reliability diagram, and
a recalibration fitted on the validation split, all from ``sklearn.metrics`` and ``sklearn.calibration``.

A score is calibrated when, of the examples given 0.3, about 30 % are positive. Class weighting breaks that on
purpose (a model trained with 19:1 weights reports roughly 19 times the odds, a shift of its logit by log 19), and
``fit_recalibration`` maps the scores back with Platt's sigmoid on the logit or isotonic regression, fitted on
validation so that test can measure it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV, CalibrationDisplay
from sklearn.frozen import FrozenEstimator

from dlopt_kit.core.plots import figure_axes
from dlopt_kit.evaluation_metrics.metrics import check_binary

METHODS = ("sigmoid", "isotonic")


def calibration_metrics(y_true, scores) -> dict[str, float]:
    """``brier`` (mean squared error of the probability, 0 is perfect) and ``log_loss`` of positive-class
    probabilities ``scores`` against 0/1 labels ``y_true``; both reward calibration and ranking together."""
    y, s = check_binary(y_true, scores)
    return {"brier": float(skm.brier_score_loss(y, s)), "log_loss": float(skm.log_loss(y, s, labels=[0, 1]))}


def logit(scores, eps: float = 1e-12) -> np.ndarray:
    """log(p / (1 - p)) of probabilities ``scores``, clipped to [eps, 1 - eps] so that 0 and 1 stay finite."""
    p = np.clip(np.asarray(scores, dtype=np.float64), eps, 1.0 - eps)
    return np.log(p) - np.log1p(-p)


class _Logits(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose one input column already is the positive-class logit. Its ``decision_function`` is
    that column, so sklearn's sigmoid calibration fits sigma(a * logit + b): Platt scaling on the logit, which can
    undo any shift or scaling of the log-odds (an odds x 19 is a shift by log 19)."""

    def fit(self, x, y=None):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, x):
        return np.asarray(x, dtype=np.float64)[:, 0]

    def predict_proba(self, x):
        s = 1.0 / (1.0 + np.exp(-self.decision_function(x)))
        return np.column_stack([1.0 - s, s])

    def predict(self, x):
        return (self.decision_function(x) >= 0.0).astype(int)


def fit_recalibration(y_val, scores_val, method: str = "sigmoid") -> Callable[[np.ndarray], np.ndarray]:
    """Fit sklearn's ``CalibratedClassifierCV`` (``method`` sigmoid = Platt scaling, or isotonic) on **validation**
    scores and labels, the model itself frozen; returns a function mapping scores to recalibrated probabilities.

    The calibrator sees the scores' logits (``decision_function``), so the sigmoid is sigma(a * logit(p) + b), the
    standard Platt scaling: it can represent the odds x w distortion of class weighting exactly (a = 1,
    b = -log w). A sigmoid of the probability itself could not reach above sigma(a + b)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed: choose one of {', '.join(METHODS)}")
    y, s = check_binary(y_val, scores_val)
    calibrated = CalibratedClassifierCV(FrozenEstimator(_Logits().fit(None)), method=method)
    calibrated.fit(logit(s)[:, None], y)

    def recalibrate(scores) -> np.ndarray:
        return calibrated.predict_proba(logit(scores)[:, None])[:, 1]

    return recalibrate


def plot_reliability(curves: Mapping[str, tuple], n_bins: int = 10, ax: plt.Axes | None = None) -> Figure:
    """Reliability diagram (``sklearn.calibration.CalibrationDisplay``) of each ``name -> (y_true, scores)``: the
    share of positives against the mean score in each of ``n_bins`` equal-width bins; the legend gives each
    curve's Brier score and log-loss."""
    if not curves:
        raise ValueError("curves is empty: give at least one name -> (y_true, scores)")
    fig, (ax,) = figure_axes(ax, size=(3.8, 3.4))
    for name, (y_true, scores) in curves.items():
        y, s = check_binary(y_true, scores)
        m = calibration_metrics(y, s)
        CalibrationDisplay.from_predictions(y, s, n_bins=n_bins, ax=ax, ref_line=False, marker="o", ms=3, lw=1.2,
                                            name=f"{name} (Brier {m['brier']:.3f}, log-loss {m['log_loss']:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8, label="perfectly calibrated")
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("share of positives (bin)")
    ax.legend(fontsize=6, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig
