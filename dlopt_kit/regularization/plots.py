"""Lesson 05's pictures: a run's generalisation gap and weight norm per epoch, histograms of the weights, the arms'
test scores at the last epoch and early-stopped, early stopping's rule on a loss curve, lr x strength heatmaps and a
linear model's weights as images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from torch import nn

from dlopt_kit.core.history import History
from dlopt_kit.core.plots import METRIC_LABELS, figure_axes
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


def outcome_table(arms: pd.DataFrame, early_stopped: str = "none") -> pd.DataFrame:
    """One row per (reading, seed) with ``test_loss`` and ``test_acc``: every arm of ``arms`` (an ``arm_table``) at
    its **last epoch**, and ``early_stopped`` again at the epoch early stopping keeps (its best by validation loss),
    named ``"<arm>, early-stopped"``, right after it. For ``plot_summary``."""
    from dlopt_kit.core.compare import final_epochs  # compare imports training; keep plots importable on its own

    last = final_epochs(arms)
    rows = []
    for arm in pd.unique(arms["config"]):
        runs = last[last["config"] == arm]
        rows.append(pd.DataFrame({"config": arm, "seed": runs["seed"], "epoch": 1,
                                  "test_loss": runs["last_test_loss"], "test_acc": runs["last_test_acc"]}))
        if arm == early_stopped:
            rows.append(pd.DataFrame({"config": f"{arm}, early-stopped", "seed": runs["seed"], "epoch": 1,
                                      "test_loss": runs["test_loss"], "test_acc": runs["test_acc"]}))
    return pd.concat(rows, ignore_index=True)


def heatmap_frame(table: pd.DataFrame, settings: Mapping[str, float], lrs: Sequence[float],
                  metric: str = "val_loss") -> pd.DataFrame:
    """``metric`` at the last epoch, mean over seeds, for each lr (rows) and strength (columns) of a grid whose configs
    are labelled ``"<setting> | lr <lr>"`` (``study.label``); ``settings`` maps each setting to its strength."""
    from dlopt_kit.core.compare import final_epochs

    last = final_epochs(table).groupby("config")[metric].mean()
    cells = {strength: {lr: float(last.get(f"{setting} | lr {lr:g}", np.nan)) for lr in lrs}
             for setting, strength in settings.items()}
    frame = pd.DataFrame(cells)
    frame.index.name, frame.columns.name = "lr", "strength"
    return frame


def plot_heatmaps(frames: Mapping[str, pd.DataFrame], chosen: Mapping[str, tuple[float, float]] | None = None,
                  metric: str = "val_loss", axes: Sequence | None = None,
                  excluded: Mapping[str, Sequence[tuple[float, float]]] | None = None) -> Figure:
    """One heatmap per grid (title -> ``heatmap_frame``), on one colour scale, each cell annotated with its value;
    ``chosen`` (title -> (lr, strength)) outlines the cell validation chose; ``excluded`` (title -> [(lr, strength),
    ...]) hatches the cells that were not candidates (runs that had not converged)."""
    fig, axes = figure_axes(axes, ncols=len(frames), size=(3.6, 2.6))
    values = np.concatenate([f.to_numpy().ravel() for f in frames.values()])
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    cmap = "viridis_r" if metric.endswith("loss") else "viridis"
    for k, (ax, (title, frame)) in enumerate(zip(axes, frames.items(), strict=True)):
        image = ax.imshow(frame.to_numpy(), cmap=cmap, vmin=low, vmax=high, aspect="auto")
        for i in range(frame.shape[0]):
            for j in range(frame.shape[1]):
                value = frame.iat[i, j]
                if np.isnan(value):  # a cell that was not trained
                    continue
                shade = (value - low) / (high - low) if high > low else 0.5
                dark = shade > 0.5 if metric.endswith("loss") else shade < 0.5
                ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
        ax.set_xticks(range(frame.shape[1]), [f"{c:g}" for c in frame.columns])
        same_rows = k > 0 and list(frame.index) == list(next(iter(frames.values())).index)
        ax.set_yticks(range(frame.shape[0]), [] if same_rows else [f"{r:g}" for r in frame.index])
        ax.set_xlabel("strength")
        if k == 0:  # one lr label for the row of heatmaps, so that no label runs into its neighbour
            ax.set_ylabel("lr")
        ax.set_title(title, fontsize=9)
        for lr, strength in (excluded or {}).get(title, []):
            i, j = list(frame.index).index(lr), list(frame.columns).index(strength)
            ax.add_patch(_hatch(j, i))
        if chosen and title in chosen:
            lr, strength = chosen[title]
            i, j = list(frame.index).index(lr), list(frame.columns).index(strength)
            ax.add_patch(_outline(j, i))
    fig.colorbar(image, ax=list(axes), label=f"{METRIC_LABELS.get(metric, metric)}, last epoch")
    return fig


def _hatch(column: int, row: int):
    """The hatching drawn over a heatmap cell that was not a candidate."""
    from matplotlib.patches import Rectangle

    return Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.6", lw=0)


def _outline(column: int, row: int):
    """The outline drawn around a chosen heatmap cell."""
    from matplotlib.patches import Rectangle

    return Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", lw=2.5)


def plot_early_stopping(history: History | pd.DataFrame, patience: int, ax=None) -> Figure:
    """One run's validation (and training) loss per epoch with early stopping's rule drawn on it: the epoch it keeps
    (the lowest validation loss so far), the ``patience`` epochs it waits without improvement (shaded) and the epoch
    it stops after."""
    from dlopt_kit.regularization.study import stop_epoch

    frame = history.to_frame() if isinstance(history, History) else history
    fig, (ax,) = figure_axes(ax, size=(5.2, 3.0))
    kept, stopped = stop_epoch(frame["val_loss"].tolist(), patience)
    ax.plot(frame["epoch"], frame["train_loss"], "--", color="C0", lw=1, label="training loss")
    ax.plot(frame["epoch"], frame["val_loss"], "-", color="C1", lw=1.5, label="validation loss")
    ax.axvspan(kept, stopped, color="grey", alpha=0.2, lw=0, label=f"patience: {patience} epochs without improvement")
    ax.axvline(kept, color="green", lw=1.2, label=f"kept: epoch {kept}")
    ax.axvline(stopped, color="crimson", lw=1.2, ls=":", label=f"stops after epoch {stopped}")
    ax.axvline(int(frame["epoch"].max()), color="black", lw=0.8, label=f"full run: {int(frame['epoch'].max())} epochs")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def plot_class_weights(models: Mapping[str, nn.Module], image_shape: tuple[int, int], classes: Sequence[int],
                       class_names: Sequence[str] | None = None, threshold: float = NEAR_ZERO) -> Figure:
    """The weights of linear models (``model="linear"``) as images, one row per model and one column per class in
    ``classes``: each class's weight on every pixel, red positive, blue negative, on one colour scale per row; the
    row title gives the share of the model's weights with |w| < ``threshold``."""
    fig = plt.figure(figsize=(1.25 * len(classes) + 0.6, 1.45 * len(models)))
    axes = fig.subplots(len(models), len(classes), squeeze=False)
    for r, (name, model) in enumerate(models.items()):
        matrix = next(p for p in model.parameters() if p.ndim == 2).detach().cpu().numpy()
        top = float(np.abs(matrix).max()) or 1.0
        share = float((np.abs(matrix) < threshold).mean())
        for c, cls in enumerate(classes):
            ax = axes[r][c]
            ax.imshow(matrix[cls].reshape(image_shape), cmap="RdBu_r", vmin=-top, vmax=top)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(class_names[cls] if class_names else str(cls), fontsize=8)
        axes[r][0].set_ylabel(f"{name}\n{share:.0%} near 0", fontsize=8)
    fig.tight_layout()
    return fig
