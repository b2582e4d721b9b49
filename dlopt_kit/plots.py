"""Plots: each takes ``ax=None``, returns the figure and never calls ``plt.show()``."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .history import History

METRIC_LABELS = {"train_loss": "training loss", "val_loss": "validation loss", "train_acc": "training accuracy",
                 "val_acc": "validation accuracy", "test_acc": "test accuracy", "lr": "learning rate",
                 "grad_norm": "gradient norm"}


def _axes(ax: plt.Axes | None, ncols: int = 1, size: tuple[float, float] = (4.0, 3.0)):
    if ax is not None:
        return ax.figure, [ax] if ncols == 1 else ax
    fig, axes = plt.subplots(1, ncols, figsize=(size[0] * ncols, size[1]), squeeze=False)
    return fig, list(axes[0])


def plot_history(history: History | pd.DataFrame, axes: Sequence | None = None) -> Figure:
    """Loss (train and val) and accuracy (train and val) per epoch, side by side."""
    frame = history.to_frame() if isinstance(history, History) else history
    fig, (ax_loss, ax_acc) = _axes(axes, ncols=2)
    for ax, kind in ((ax_loss, "loss"), (ax_acc, "acc")):
        for split, style in (("train", "--"), ("val", "-")):
            column = f"{split}_{kind}"
            if column in frame and len(frame):
                ax.plot(frame["epoch"], frame[column], style, marker="o", ms=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if kind == "loss" else "accuracy")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def plot_comparison(table: pd.DataFrame, metric: str = "val_acc", ax: plt.Axes | None = None) -> Figure:
    """Mean +/- std over seeds of ``metric`` per epoch, one line per config (legend names what differs)."""
    if metric not in table.columns:
        raise ValueError(f"metric={metric!r} is not a column: choose one of {', '.join(table.columns)}")
    fig, (ax,) = _axes(ax, size=(5.0, 3.2))
    sns.lineplot(data=table, x="epoch", y=metric, hue="config", errorbar="sd", marker="o", ax=ax)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    n_seeds = table["seed"].nunique()
    ax.set_title(f"mean ± std over {n_seeds} seed{'s' if n_seeds > 1 else ''}", fontsize=10)
    ax.legend(title=None, frameon=False)
    fig.tight_layout()
    return fig


def plot_summary(table: pd.DataFrame, metric: str = "test_acc", ax: plt.Axes | None = None) -> Figure:
    """A bar per config of ``metric`` at the end of each run, mean +/- std over seeds, seeds as dots."""
    last = table.sort_values("epoch").groupby(["config", "seed"], sort=False).tail(1)
    fig, (ax,) = _axes(ax, size=(4.5, 3.0))
    sns.barplot(data=last, x="config", y=metric, errorbar="sd", ax=ax, color="#9ecae1")
    sns.stripplot(data=last, x="config", y=metric, ax=ax, color="black", size=4)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_xlabel("")
    low = last[metric].min()
    ax.set_ylim(max(0.0, low - 0.1), min(1.0, last[metric].max() + 0.05) if metric.endswith("acc") else None)
    fig.tight_layout()
    return fig


def figure_png(fig: Figure, dpi: int = 72) -> bytes:
    """The figure as PNG bytes (for an ``ipywidgets.Image``), then closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()

