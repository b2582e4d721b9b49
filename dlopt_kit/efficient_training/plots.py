"""Lesson 06's pictures: schedule shapes, an lr sweep, the LR finder's curve, gradient-norm diagnostics and the
per-step training loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dlopt_kit.core.plots import METRIC_LABELS, figure_axes
from dlopt_kit.core.schedules import Schedule, lr_curve
from dlopt_kit.efficient_training.clipping import share_clipped
from dlopt_kit.efficient_training.lr_finder import LRFinderResult


def plot_schedules(schedules: Sequence[Schedule | str], lr: float, epochs: int, steps_per_epoch: int,
                   axes: Sequence | None = None) -> Figure:
    """Each schedule's lr at every step of a run (``lr_curve``), one small panel each, epochs on the x axis."""
    schedules = [Schedule.parse(s) for s in schedules]
    if axes is None:
        ncols = min(3, len(schedules))
        nrows = -(-len(schedules) // ncols)
        axes = plt.subplots(nrows, ncols, figsize=(2.8 * ncols, 1.7 * nrows), squeeze=False)[1].ravel()
    axes = list(axes)
    for ax, schedule in zip(axes, schedules, strict=False):
        curve = lr_curve(schedule, lr, epochs, steps_per_epoch)
        ax.plot(np.arange(len(curve)) / steps_per_epoch, curve, lw=1.5)
        params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in schedule.params.items())
        ax.set_title(f"{schedule.kind}\n{params}" if params else schedule.kind, fontsize=7.5)
        ax.set_ylim(0, lr * 1.08)
        ax.set_xlim(0, epochs)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("lr", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(schedules):]:
        ax.set_visible(False)
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def plot_lr_sweep(table: pd.DataFrame, metric: str = "val_acc", hue: str = "network",
                  ax=None) -> Figure:
    """``metric`` (one value per run, e.g. at its best epoch) against ``lr`` on a log axis, mean +/- std over seeds,
    one line per value of ``hue``; every seed is a dot."""
    fig, (ax,) = figure_axes(ax, size=(4.6, 3.0))
    sns.lineplot(data=table, x="lr", y=metric, hue=hue, errorbar="sd", marker="o", ax=ax)
    sns.scatterplot(data=table, x="lr", y=metric, hue=hue, s=12, alpha=0.5, legend=False, ax=ax)
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_xlabel("learning rate")
    ax.legend(title=None, frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plot_lr_finder(result: LRFinderResult, ax=None, best_lr: float | None = None,
                   marks: Mapping[str, float] | None = None) -> Figure:
    """The range test: raw loss (faint) and smoothed loss against lr, each rule's suggestion as a dashed vertical
    line, and as solid lines the best lr of a real sweep (``best_lr``, when given) and any ``marks`` (label -> lr,
    e.g. the upper lr one-cycle peaks at)."""
    fig, (ax,) = figure_axes(ax, size=(5.0, 3.0))
    ax.plot(result.lrs, result.losses, color="grey", alpha=0.35, lw=0.8, label="loss per step")
    ax.plot(result.lrs, result.smoothed, color="C0", lw=1.8, label="smoothed")
    styles = {"steepest": "C3", "minimum": "C2", "valley": "C4"}
    for rule, lr in result.suggestions.items():
        chosen = " (used)" if rule == result.rule else ""
        ax.axvline(lr, color=styles[rule], ls="--", lw=1.2, label=f"{rule}{chosen}: {lr:.2g}")
    solid = {**({f"sweep's best lr: {best_lr:g}": best_lr} if best_lr is not None else {}), **dict(marks or {})}
    for i, (label, lr) in enumerate(solid.items()):
        ax.axvline(lr, color=("goldenrod", "black", "C5")[i % 3], lw=1.6, alpha=0.8, label=label)
    ax.set_xscale("log")
    top = float(np.nanmax(result.smoothed[: max(3, len(result.smoothed) // 4)])) * 1.6
    ax.set_ylim(0, top)
    ax.set_xlabel("learning rate (grows every step)")
    ax.set_ylabel("training loss")
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def plot_grad_norms(norms: Sequence[float] | np.ndarray, threshold: float, axes: Sequence | None = None,
                    percentile: float = 90.0) -> Figure:
    """The playbook's two plots of a run's unclipped gradient norms: over the steps, and as a histogram; both with the
    clipping ``threshold`` and the share of steps above it."""
    norms = np.asarray(norms, dtype=float)
    fig, (ax_steps, ax_hist) = figure_axes(axes, ncols=2, size=(3.6, 2.5))
    share = share_clipped(norms, threshold)
    ax_steps.plot(np.arange(1, len(norms) + 1), norms, lw=0.8)
    ax_hist.hist(norms, bins=40, color="C0", alpha=0.8)
    for ax in (ax_steps, ax_hist):
        line = ax.axhline if ax is ax_steps else ax.axvline
        line(threshold, color="C3", ls="--", label=f"{percentile:g}th percentile {threshold:.2f}: {share:.0%} above")
        ax.legend(frameon=False, fontsize=7)
    ax_steps.set_xlabel("step")
    ax_steps.set_ylabel("gradient norm (before clipping)")
    ax_hist.set_xlabel("gradient norm")
    ax_hist.set_ylabel("steps")
    ax_hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def plot_step_loss(steps: Mapping[str, pd.DataFrame], ax=None, window: int = 5) -> Figure:
    """The training loss of every step of each run (a light line) and its moving average over ``window`` steps,
    on a log axis: spikes and a blow-up show at once."""
    fig, (ax,) = figure_axes(ax, size=(5.0, 3.0))
    for i, (label, frame) in enumerate(steps.items()):
        colour = f"C{i}"
        ax.plot(frame["step"], frame["loss"], color=colour, alpha=0.3, lw=0.7)
        ax.plot(frame["step"], frame["loss"].rolling(window, min_periods=1).mean(), color=colour, lw=1.5,
                label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
