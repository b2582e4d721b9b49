"""Lesson 03's figures: test accuracy against labels per class for every transfer arm and the gap to scratch; an
ensemble's test accuracy against its number of members."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from dlopt_kit.architectures.study import gap_table

ARM_COLOURS = {"scratch": "tab:grey", "probe": "tab:blue", "last": "tab:cyan", "full": "tab:green",
               "features probe": "tab:orange"}


def plot_transfer_curve(curve: pd.DataFrame, gaps: Sequence[str] = ("full", "probe"),
                        labels: dict[str, str] | None = None, baselines: Mapping[str, float] | None = None) -> Figure:
    """Left: mean test accuracy over seeds against labels per class (a categorical axis: the sizes evenly spaced,
    not to scale), the band spanning the seeds, one line per arm; each of ``baselines`` (name -> accuracy, e.g. the
    source's zero-shot accuracy, which uses no target label) as a dashed horizontal line. Right: each arm of
    ``gaps`` minus scratch, per seed (thin) and in the mean (thick)."""
    labels = labels or {}
    sizes = sorted(curve["size"].unique())
    at = {size: k for k, size in enumerate(sizes)}  # evenly spaced: the sizes grow roughly geometrically
    fig = Figure(figsize=(9.6, 3.2))
    left, right = fig.subplots(1, 2)
    for arm, rows in curve.groupby("arm", sort=False):
        stats = rows.groupby("size")["test_acc"].agg(["mean", "min", "max"])
        colour = ARM_COLOURS.get(arm)
        left.plot(stats.index.map(at), stats["mean"], marker="o", color=colour, label=labels.get(arm, arm))
        left.fill_between(stats.index.map(at), stats["min"], stats["max"], color=colour, alpha=0.15)
    for k, (name, value) in enumerate((baselines or {}).items()):
        left.axhline(value, color=f"C{k + 4}", ls="--", lw=1.2, label=f"{name} ({value:.2f})")
    for arm in gaps:
        table = gap_table(curve, arm)
        colour = ARM_COLOURS.get(arm)
        for seed in table.columns:
            right.plot(table.index.map(at), table[seed], color=colour, lw=0.8, alpha=0.5)
        right.plot(table.index.map(at), table.mean(axis=1), color=colour, lw=2.2, marker="o",
                   label=f"{labels.get(arm, arm)} - scratch")
    right.axhline(0, color="black", lw=0.8)
    for ax, title in ((left, "test accuracy (band: min to max over seeds)"), (right, "gain over scratch, per seed")):
        ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
        ax.set_xlabel("labelled training images per class (categorical axis)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ensemble_curve(curves: Mapping[int, Sequence[float]],
                        mean_member: Mapping[int, float] | None = None) -> Figure:
    """The canonical ensemble picture: test accuracy of the average of the first k members against k, one thin line
    per ensemble seed and the mean over seeds (thick); ``mean_member`` (seed -> the members' mean accuracy) as a
    dashed line, what a single network scores on average. ``curves`` comes from ``ensemble_study(curves=...)``."""
    fig = Figure(figsize=(5.2, 3.2))
    ax = fig.subplots()
    frame = pd.DataFrame({seed: list(acc) for seed, acc in curves.items()})
    members = range(1, len(frame) + 1)
    for seed in frame.columns:
        ax.plot(members, frame[seed], color="tab:green", lw=0.8, alpha=0.4)
    ax.plot(members, frame.mean(axis=1), color="tab:green", lw=2.2, marker="o", label="ensemble (mean over seeds)")
    if mean_member is not None:
        level = float(pd.Series(mean_member, dtype=float).mean())
        ax.axhline(level, color="tab:grey", ls="--", lw=1.2, label=f"average single member ({level:.3f})")
    ax.set_xticks(list(members))
    ax.set_xlabel("members averaged (the first k trained)")
    ax.set_ylabel("test accuracy")
    ax.set_title("accuracy against ensemble size (thin: one ensemble seed each)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
