"""Evaluation report: every metric a lesson shows, computed with ``sklearn.metrics`` from labels and probabilities.

``report_from_probs(y_true, probs, classes)`` checks its input and returns a ``Report`` holding accuracy, per-class
and macro/weighted precision, recall and F1, the confusion matrix (counts and row-normalised), ROC curves and AUC
(one-vs-rest for more than two classes), precision-recall curves and average precision, and a reliability curve.
``evaluation_report(model, x, y, classes)`` does the same for a trained model. Used by notebook 07 and any lesson
that reports more than accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from dlopt_kit.core import checks


def _as_numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def check_probs(y_true, probs, classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and class probabilities; return them as NumPy arrays (labels int, probs float64 (n, k)).

    A binary task may pass probs as a vector of the positive class's probability.
    """
    y = _as_numpy(y_true)
    p = _as_numpy(probs).astype(np.float64)
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    if y.ndim != 1 or p.ndim != 2:
        raise ValueError(f"y_true must be 1-D and probs 2-D (examples x classes); got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"y_true has {len(y)} labels but probs has {len(p)} rows: they must match")
    if np.isnan(p).any() or np.isinf(p).any():
        bad = int((~np.isfinite(p)).any(axis=1).sum())
        raise ValueError(f"probs contains NaN or infinite scores in {bad} row(s): evaluate a model whose training "
                         "did not diverge, or drop those rows")
    if (p < 0).any() or (p > 1).any():
        raise ValueError(f"probs must lie in [0, 1]; got values from {p.min():.3g} to {p.max():.3g} "
                         "(pass probabilities, e.g. softmax of the logits, not the logits)")
    sums = p.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"each row of probs must sum to 1; row {worst} sums to {sums[worst]:.4f}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y_true must hold integer class indices; got dtype {y.dtype}")
    k = p.shape[1]
    if classes is not None and len(classes) != k:
        raise ValueError(f"{len(classes)} class names for {k} columns of probs: they must match")
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"y_true holds labels from {y.min()} to {y.max()}, but probs has {k} columns (0..{k - 1})")
    if len(np.unique(y)) < 2:
        raise ValueError(f"y_true holds one class only ({int(y[0])}): ROC, PR and per-class metrics need "
                         "examples of at least two classes")
    return y.astype(np.int64), p


@dataclass
class Report:
    """All metrics of one classifier on one split (see module docstring)."""

    classes: list[str]
    y_true: np.ndarray
    probs: np.ndarray
    accuracy: float
    per_class: pd.DataFrame          # precision, recall, f1, support per class
    averages: pd.DataFrame           # macro, weighted and micro precision, recall, f1
    confusion: np.ndarray            # counts: rows true class, columns predicted
    confusion_normalized: np.ndarray  # each row sums to 1 (recall on the diagonal)
    roc: dict[str, tuple[np.ndarray, np.ndarray, float]]   # class -> (fpr, tpr, auc)
    pr: dict[str, tuple[np.ndarray, np.ndarray, float]]    # class -> (recall, precision, average precision)
    calibration: tuple[np.ndarray, np.ndarray]              # (mean predicted confidence, observed accuracy) per bin
    calibration_counts: np.ndarray                          # examples in each of those (non-empty) bins

    @property
    def y_pred(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def macro_f1(self) -> float:
        return float(self.averages.loc["macro", "f1"])

    def losses(self) -> np.ndarray:
        """Per-example cross-entropy: minus the log of the probability given to the true class."""
        true_prob = self.probs[np.arange(len(self.y_true)), self.y_true]
        return -np.log(np.clip(true_prob, 1e-12, None))

    def highest_loss(self, n: int = 12) -> np.ndarray:
        """Indices of the ``n`` examples with the highest loss, highest first (confident and wrong)."""
        return np.argsort(-self.losses(), kind="stable")[:n]

    def most_confused(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` largest off-diagonal cells: true class, predicted class, count, share of the true class."""
        counts = self.confusion.copy()
        np.fill_diagonal(counts, 0)
        order = np.argsort(counts, axis=None)[::-1][:n]
        rows = []
        for flat in order:
            t, p = np.unravel_index(flat, counts.shape)
            if counts[t, p] == 0:
                break
            rows.append({"true": self.classes[t], "predicted": self.classes[p], "count": int(counts[t, p]),
                         "share of true class": float(self.confusion_normalized[t, p])})
        return pd.DataFrame(rows, columns=["true", "predicted", "count", "share of true class"])

    def summary(self) -> pd.Series:
        roc_auc = np.mean([auc for _, _, auc in self.roc.values()])
        ap = np.mean([a for _, _, a in self.pr.values()])
        return pd.Series({"accuracy": self.accuracy, "macro precision": self.averages.loc["macro", "precision"],
                          "macro recall": self.averages.loc["macro", "recall"], "macro f1": self.macro_f1,
                          "weighted f1": self.averages.loc["weighted", "f1"], "roc auc (mean)": roc_auc,
                          "average precision (mean)": ap})


def report_from_probs(y_true, probs, classes: list[str] | None = None, calibration_bins: int = 10) -> Report:
    """Build a ``Report`` from true labels and predicted class probabilities."""
    y, p = check_probs(y_true, probs, classes)
    k = p.shape[1]
    classes = list(classes) if classes is not None else [str(i) for i in range(k)]
    y_pred = p.argmax(axis=1)
    labels = list(range(k))
    prec, rec, f1, support = skm.precision_recall_fscore_support(y, y_pred, labels=labels, zero_division=0)
    per_class = pd.DataFrame({"precision": prec, "recall": rec, "f1": f1, "support": support}, index=classes)
    averages = pd.DataFrame(
        {avg: skm.precision_recall_fscore_support(y, y_pred, labels=labels, average=avg, zero_division=0)[:3]
         for avg in ("macro", "weighted", "micro")}, index=["precision", "recall", "f1"]).T
    confusion = skm.confusion_matrix(y, y_pred, labels=labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = np.nan_to_num(confusion / confusion.sum(axis=1, keepdims=True))
    positives = [1] if k == 2 else labels  # binary: one curve, for the positive class
    roc, pr = {}, {}
    for c in positives:
        truth = (y == c).astype(int)
        if truth.min() == truth.max():
            continue  # a class absent from y_true has no ROC or PR curve
        fpr, tpr, _ = skm.roc_curve(truth, p[:, c])
        roc[classes[c]] = (fpr, tpr, float(skm.auc(fpr, tpr)))
        precision, recall, _ = skm.precision_recall_curve(truth, p[:, c])
        pr[classes[c]] = (recall, precision, float(skm.average_precision_score(truth, p[:, c])))
    confidence = p.max(axis=1)
    correct = (y_pred == y).astype(int)
    if correct.min() == correct.max():  # calibration_curve needs both outcomes; all right or all wrong is one bin
        calibration = (np.array([confidence.mean()]), np.array([float(correct[0])]))
        counts = np.array([len(correct)])
    else:
        observed, predicted = calibration_curve(correct, confidence, n_bins=calibration_bins, strategy="uniform")
        calibration = (predicted, observed)
        # calibration_curve's bins, counted the same way; it drops the empty ones, and so do we
        edges = np.linspace(0.0, 1.0, calibration_bins + 1)
        counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=calibration_bins)
        counts = counts[counts > 0]
    return Report(classes, y, p, float(skm.accuracy_score(y, y_pred)), per_class, averages, confusion, normalized,
                  roc, pr, calibration, counts)


def evaluation_report(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, classes: list[str]) -> Report:
    """Evaluate a trained classifier on ``(x, y)`` (eval mode) and return its ``Report``."""
    from dlopt_kit.core.training import predict_proba

    return report_from_probs(y, predict_proba(model, x), classes)


# ---------------------------------------------------------------- binary thresholds

def check_binary(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0/1 and one finite score in [0, 1] per example (the positive class's probability), as NumPy arrays."""
    y, s = _as_numpy(y_true), _as_numpy(scores)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D (one per example); got shapes {y.shape} and {s.shape}: for "
                         "a multi-class model pass one class's probabilities, e.g. probs[:, 1]")
    if len(y) == 0 or len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} labels and scores has {len(s)}: they must match and not be empty")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must hold 0 (negative) and 1 (positive); got values {sorted(set(y.tolist()))[:5]}")
    s = s.astype(np.float64)
    if not np.isfinite(s).all() or s.min() < 0 or s.max() > 1:
        raise ValueError("scores must be finite probabilities in [0, 1]: a NaN would be counted as a negative; "
                         "evaluate a model whose training did not diverge")
    return y.astype(int), s


AVERAGES = ("binary", "macro", "micro", "weighted")


def threshold_metrics(y_true, scores, threshold: float, average: str = "binary") -> dict[str, float]:
    """Confusion counts, precision, recall, F1 and accuracy when predicting positive for ``scores >= threshold``.
    ``average`` is sklearn's: ``binary`` scores the positive class; ``macro`` averages the two classes' precision,
    recall and F1, ``weighted`` weights them by class size, ``micro`` pools every decision (it equals accuracy)."""
    if average not in AVERAGES:
        raise ValueError(f"average={average!r} is not allowed: choose one of {', '.join(AVERAGES)}")
    y, s = check_binary(y_true, scores)
    threshold = checks.number("threshold", threshold, 0.0, 1.0)
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=[0, 1], average=average,
                                                                   zero_division=0)
    return {"threshold": float(threshold), "tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn),
            "precision": float(precision), "recall": float(recall), "f1": float(f1),
            "accuracy": float(skm.accuracy_score(y, pred)),
            "fpr": float(fp / (fp + tn)) if fp + tn else 0.0}


def best_threshold(y_true, scores, objective: str = "f1", recall_floor: float = 0.95) -> float:
    """The threshold that maximises F1 (``objective="f1"``), or the highest one whose recall is at least
    ``recall_floor`` (``objective="recall_floor"``: the most precise operating point that still finds enough).

    Pass **validation** labels and scores: a threshold chosen on the test split and then reported on it holds by
    construction. Report the chosen threshold on the test split afterwards (``imbalance.choose_threshold`` does the
    choosing from a run and its splits)."""
    if objective not in ("f1", "recall_floor"):
        raise ValueError(f"objective={objective!r} is not allowed: choose f1 or recall_floor")
    if objective == "recall_floor" and not 0.0 < recall_floor <= 1.0:
        raise ValueError(f"recall_floor={recall_floor!r} is out of range: allowed is (0, 1]")
    y, s = check_binary(y_true, scores)
    if y.max() < 1:
        raise ValueError("best_threshold needs at least one positive label (1) in y_true: choose a threshold on a "
                         "split that holds positives")
    # one pass gives precision and recall at every distinct score used as the threshold (ascending)
    precision, recall, thresholds = skm.precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    if objective == "f1":
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        return float(thresholds[int(np.argmax(f1))])
    return float(thresholds[recall >= recall_floor].max())
