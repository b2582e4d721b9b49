"""Lesson 05's pictures: a run's generalisation gap and weight norm per epoch, and histograms of the weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from torch import nn

from dlopt_kit.core.history import History
from dlopt_kit.core.plots import figure_axes
from dlopt_kit.core.regularize import NEAR_ZERO, weight_values


def plot_regularization(history: History | pd.DataFrame, axes: Sequence | None = None) -> Figure:
    """Three panels per epoch: training accuracy (eval mode when ``fit`` measured it, else the running one) and
    validation accuracy with the gap between them shaded; the validation loss; the weight norm."""
    frame = history.to_frame() if isinstance(history, History) else history
    fig, (ax_acc, ax_loss, ax_norm) = figure_axes(axes, ncols=3, size=(3.4, 2.8))
    if len(frame):
        train = "train_eval_acc" if "train_eval_acc" in frame else "train_acc"
        label = "train (eval mode)" if train == "train_eval_acc" else "train (running, training mode)"
        ax_acc.plot(frame["epoch"], frame[train], "--", marker="o", ms=3, label=label)
        ax_acc.plot(frame["epoch"], frame["val_acc"], "-", marker="o", ms=3, label="val")
        ax_acc.fill_between(frame["epoch"], frame["val_acc"], frame[train], alpha=0.15, color="grey", label="gap")
        ax_loss.plot(frame["epoch"], frame["val_loss"], "-", marker="o", ms=3, color="C1")
        ax_norm.plot(frame["epoch"], frame["weight_norm"], "-", marker="o", ms=3, color="C2")
    for ax, ylabel in ((ax_acc, "accuracy"), (ax_loss, "validation loss"), (ax_norm, "weight norm (L2)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
    ax_acc.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def plot_weight_histograms(models: Mapping[str, nn.Module], threshold: float = NEAR_ZERO,
                           ax=None) -> Figure:
    """Histograms of every weight of each model (biases and norm parameters left out), overlaid on a log count
    axis, with the near-zero band (|w| < ``threshold``) shaded and each model's share inside it in the legend."""
    fig, (ax,) = figure_axes(ax, size=(5.0, 3.0))
    values = {label: weight_values(model) for label, model in models.items()}
    top = max(float(np.abs(v).max()) for v in values.values())
    bins = np.linspace(-top, top, 81)
    for label, v in values.items():
        share = float((np.abs(v) < threshold).mean())
        ax.hist(v, bins=bins, histtype="step", lw=1.4, label=f"{label}: {share:.0%} with |w| < {threshold:g}")
    ax.axvspan(-threshold, threshold, color="grey", alpha=0.3, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("weight value")
    ax.set_ylabel("number of weights (log)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
