"""Plots: each takes ``ax=None``, returns the figure and never calls ``plt.show()``."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from dlopt_kit.core.data import Splits
from dlopt_kit.core.history import History

METRIC_LABELS = {"train_loss": "training loss", "val_loss": "validation loss", "train_acc": "training accuracy",
                 "val_acc": "validation accuracy", "test_acc": "test accuracy", "lr": "learning rate",
                 "grad_norm": "gradient norm", "acc_clean": "accuracy, clean test set",
                 "acc_shifted": "accuracy, shifted test sets (mean)",
                 "gap": "train - val accuracy (eval mode)", "train_eval_acc": "training accuracy (eval mode)",
                 "weight_norm": "weight norm (L2)", "near_zero": "share of weights near zero"}


def figure_axes(ax: plt.Axes | None, ncols: int = 1, size: tuple[float, float] = (4.0, 3.0)) -> tuple[Figure, list]:
    """The figure and ``ncols`` axes to draw on: ``ax`` (one axes or a sequence) when given, else a new figure."""
    if ax is not None:
        axes = [ax] if ncols == 1 else list(ax)
        return axes[0].figure, axes
    fig, axes = plt.subplots(1, ncols, figsize=(size[0] * ncols, size[1]), squeeze=False)
    return fig, list(axes[0])


def plot_history(history: History | pd.DataFrame, axes: Sequence | None = None) -> Figure:
    """Loss (train and val) and accuracy (train and val) per epoch, side by side."""
    frame = history.to_frame() if isinstance(history, History) else history
    fig, (ax_loss, ax_acc) = figure_axes(axes, ncols=2)
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
    fig, (ax,) = figure_axes(ax, size=(5.0, 3.2))
    sns.lineplot(data=table, x="epoch", y=metric, hue="config", errorbar="sd", marker="o", ax=ax)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    n_seeds = table["seed"].nunique()
    ax.set_title(f"mean ± std over {n_seeds} seed{'s' if n_seeds > 1 else ''}", fontsize=10)
    ax.legend(title=None, frameon=False)
    fig.tight_layout()
    return fig


def plot_summary(table: pd.DataFrame, metric: str = "test_acc", ax: plt.Axes | None = None,
                 at: str = "last") -> Figure:
    """``metric`` at the end of each run (or with ``at="best"`` at its best epoch by validation), per config: each
    seed a dot, a seed's runs joined by a thin line (the pairs a paired claim compares), and the mean +/- std over
    seeds as a black point with error bars."""
    from dlopt_kit.core.compare import (  # compare imports training; keep plots importable on its own
        best_rows,
        final_epochs,
    )

    if metric not in table.columns:
        raise ValueError(f"metric={metric!r} is not a column: choose one of {', '.join(table.columns)}")
    if at not in ("last", "best"):
        raise ValueError(f"at={at!r} is not allowed: choose 'last' (the last epoch) or 'best' (the best epoch)")
    last = final_epochs(table) if at == "last" else best_rows(table)
    configs = list(pd.unique(table["config"]))
    position = {c: i for i, c in enumerate(configs)}
    fig, (ax,) = figure_axes(ax, size=(max(3.2, 1.1 * len(configs) + 1.4), 3.0))
    for _, runs in last.groupby("seed"):
        runs = runs.assign(x=runs["config"].map(position)).sort_values("x")
        ax.plot(runs["x"], runs[metric], "-o", color="#9ecae1", lw=0.8, ms=4, zorder=1)
    stats = last.groupby("config", sort=False)[metric].agg(["mean", "std"]).reindex(configs)
    ax.errorbar(range(len(configs)), stats["mean"], yerr=stats["std"].fillna(0.0), fmt="o", color="black",
                capsize=4, ms=6, zorder=2, label="mean ± std")
    crowded = len(configs) > 3 or max(len(c) for c in configs) > 12
    ax.set_xticks(range(len(configs)), configs, rotation=20 if crowded else 0, ha="right" if crowded else "center",
                  fontsize=8 if crowded else None)
    ax.set_xlim(-0.5, len(configs) - 0.5)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    n_seeds = last["seed"].nunique()
    ax.set_title(f"{n_seeds} seed{'s' if n_seeds > 1 else ''}: one line per seed", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def figure_png(fig: Figure, dpi: int = 72) -> bytes:
    """The figure as PNG bytes (for an ``ipywidgets.Image``), then closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()



def plot_examples(data: Splits, per_class: int = 8, ax: plt.Axes | None = None) -> Figure:
    """Training images in one picture, a row per class, class names on the left."""
    from torchvision.utils import make_grid

    if len(data.input_shape) != 3:
        raise ValueError(f"plot_examples needs image data; {data.name} has inputs of shape {data.input_shape}")
    picks = [(data.y_train == c).nonzero().flatten()[:per_class] for c in range(data.num_classes)]
    images = torch.cat([data.x_train[p].cpu() for p in picks])
    grid = make_grid(1 - images, nrow=per_class, padding=2, pad_value=1.0)  # dark clothes on white
    height = data.input_shape[1] + 2
    fig, (ax,) = figure_axes(ax, size=(0.55 * per_class + 1.2, 0.55 * data.num_classes))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_yticks([height * c + height / 2 for c in range(data.num_classes)], data.classes, fontsize=8)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.tight_layout(pad=0.2)
    return fig
