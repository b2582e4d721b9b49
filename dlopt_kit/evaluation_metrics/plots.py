"""Pictures of a ``Report``: each takes ``ax=None``, returns the figure and never calls ``plt.show()``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.figure import Figure

from dlopt_kit.core.plots import figure_axes
from dlopt_kit.evaluation_metrics.metrics import Report


def plot_confusion(report: Report, normalize: bool = True, ax: plt.Axes | None = None) -> Figure:
    """Heatmap of the confusion matrix, rows true class, columns predicted, class names on both axes."""
    k = len(report.classes)
    fig, (ax,) = figure_axes(ax, size=(0.45 * k + 2.2, 0.4 * k + 1.6))
    data = report.confusion_normalized if normalize else report.confusion
    sns.heatmap(data, annot=k <= 10, fmt=".2f" if normalize else "d", cmap="Blues", cbar=False, square=True,
                xticklabels=report.classes, yticklabels=report.classes, ax=ax, annot_kws={"size": 7},
                vmin=0, vmax=1 if normalize else None)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(labelsize=7)
    ax.set_title("share of each true class" if normalize else "counts", fontsize=9)
    fig.tight_layout()
    return fig


def plot_roc(report: Report, ax: plt.Axes | None = None, mark: tuple[float, float] | None = None) -> Figure:
    """ROC curves with their AUC; ``mark=(fpr, tpr)`` draws the current operating point."""
    fig, (ax,) = figure_axes(ax, size=(3.6, 3.2))
    for name, (fpr, tpr, auc) in report.roc.items():
        ax.plot(fpr, tpr, lw=1.2, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
    if mark is not None:
        ax.plot(*mark, "o", color="crimson", ms=7, label="threshold")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (recall)")
    ax.legend(fontsize=6 if len(report.roc) > 3 else 8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def plot_pr(report: Report, ax: plt.Axes | None = None, mark: tuple[float, float] | None = None) -> Figure:
    """Precision-recall curves with average precision; ``mark=(recall, precision)`` draws the operating point.
    Each curve's chance line is dotted at its class's prevalence: a classifier that guesses has that precision at
    every recall (and that AP), the PR counterpart of ROC's diagonal."""
    fig, (ax,) = figure_axes(ax, size=(3.6, 3.2))
    prevalences = {name: float(np.mean(report.y_true == report.classes.index(name))) for name in report.pr}
    shared = len(set(prevalences.values())) == 1 and len(prevalences) > 1  # e.g. ten equal classes: one line
    for name, (recall, precision, ap) in report.pr.items():
        line, = ax.plot(recall, precision, lw=1.2, label=f"{name} (AP {ap:.3f}; chance {prevalences[name]:.3f})")
        if not shared:
            ax.axhline(prevalences[name], ls=":", lw=0.8, color=line.get_color())
    if shared:
        ax.axhline(next(iter(prevalences.values())), ls=":", lw=0.8, color="grey")
    if mark is not None:
        ax.plot(*mark, "o", color="crimson", ms=7, label="threshold")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=6 if len(report.pr) > 3 else 8, frameon=False, loc="lower left")
    fig.tight_layout()
    return fig


def plot_calibration(report: Report, ax: plt.Axes | None = None) -> Figure:
    """Reliability curve: how often the model is right against how confident it says it is; each point is labelled
    with the number of examples in its bin (a point from a handful of examples says little)."""
    fig, (ax,) = figure_axes(ax, size=(3.4, 3.2))
    predicted, observed = report.calibration
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8, label="perfectly calibrated")
    ax.plot(predicted, observed, "o-", ms=4, label="model")
    for x, y, n in zip(predicted, observed, report.calibration_counts, strict=True):
        ax.annotate(f"{n}", (x, y), textcoords="offset points", xytext=(0, -11), ha="center", fontsize=6)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy at that confidence")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_per_class_f1(report: Report, ax: plt.Axes | None = None) -> Figure:
    """A bar per class of its F1, with the macro average as a line."""
    fig, (ax,) = figure_axes(ax, size=(0.45 * len(report.classes) + 2.0, 3.0))
    frame = report.per_class.reset_index(names="class")
    sns.barplot(data=frame, x="class", y="f1", ax=ax, color="#9ecae1")
    ax.axhline(report.macro_f1, color="crimson", lw=1, ls="--", label=f"macro F1 {report.macro_f1:.3f}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_highest_loss(report: Report, x: torch.Tensor, n: int = 12) -> Figure:
    """The ``n`` images the model got most wrong (highest cross-entropy): each titled with its true label and the
    probability the model gave it, and the predicted label."""
    if x.ndim != 4:
        raise ValueError(f"plot_highest_loss needs images (N, C, H, W); got shape {tuple(x.shape)}")
    if len(x) != len(report.y_true):
        raise ValueError(f"x has {len(x)} images but the report has {len(report.y_true)} labels: they must match")
    order = report.highest_loss(n)
    cols = min(n, 6)
    rows = -(-len(order) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.35, rows * 1.8), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, order, strict=False):
        ax.imshow(x[i].detach().cpu().permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray_r")
        true, pred = report.y_true[i], report.y_pred[i]
        ax.set_title(f"true {report.classes[true]} ({report.probs[i, true]:.2g})\npred {report.classes[pred]}",
                     fontsize=6.5)
    fig.tight_layout(pad=0.3)
    return fig


def plot_threshold_view(report: Report, at: dict[str, float]) -> Figure:
    """Confusion counts at one threshold beside the ROC and PR curves with that operating point marked.

    ``at`` is what ``threshold_metrics`` returns. Drawn on a pyplot-free figure, so a panel may call it from any thread.
    """
    fig = Figure(figsize=(9.6, 3.0))
    ax_cm, ax_roc, ax_pr = fig.subplots(1, 3, gridspec_kw={"width_ratios": [0.8, 1, 1]})
    counts = np.array([[at["tn"], at["fp"]], [at["fn"], at["tp"]]])
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, square=True, ax=ax_cm,
                xticklabels=report.classes, yticklabels=report.classes, annot_kws={"size": 9})
    ax_cm.set_xlabel("predicted")
    ax_cm.set_ylabel("true")
    ax_cm.set_title(f"threshold {at['threshold']:.2f}", fontsize=9)
    plot_roc(report, ax=ax_roc, mark=(at["fpr"], at["recall"]))
    plot_pr(report, ax=ax_pr, mark=(at["recall"], at["precision"]))
    fig.tight_layout()
    return fig
