"""Lesson 03's figures: test accuracy against labels per class for every transfer arm, and the gap to scratch."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from dlopt_kit.architectures.study import gap_table

ARM_COLOURS = {"scratch": "tab:grey", "probe": "tab:blue", "last": "tab:cyan", "full": "tab:green",
               "features probe": "tab:orange"}


def plot_transfer_curve(curve: pd.DataFrame, gaps: Sequence[str] = ("full", "probe"),
                        labels: dict[str, str] | None = None) -> Figure:
    """Left: mean test accuracy over seeds against labels per class (evenly spaced), the band spanning the seeds, one
    line per arm. Right: each arm of ``gaps`` minus scratch, per seed (thin) and in the mean (thick)."""
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
        ax.set_xlabel("labelled training images per class")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
