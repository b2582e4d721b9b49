"""Lesson 08's pictures of its monitors from the inside (``notebooks/08_continuous_learning.ipynb``): a signal's
drift-free spread against the batch size, and each monitor's false alarms against its detection delay as its
threshold moves. Each takes ``ax=None``, returns the figure and never calls ``plt.show()``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from dlopt_kit.continuous_learning.tradeoff import PSI_RULES, SETTING
from dlopt_kit.core.plots import figure_axes

MONITOR_LABELS = {"prediction_psi": "prediction PSI > level", "input_ks": "input KS > level",
                  "adwin": "ADWIN on correct (delta)", "page_hinkley": "Page-Hinkley on correct (threshold)"}
SIGNAL_LABELS = {"prediction_psi": "PSI of the predicted classes", "input_ks": "KS statistic of brightness"}
FRAME_COLUMNS = {"tradeoff": ("monitor", "value", "false alarms per 1000 batches", "mean delay (batches)", "missed"),
                 "null": ("signal", "batch_size", "batches", "mean", "p95", "p99", "whole pool")}


def _needs(frame: pd.DataFrame, kind: str, made_by: str) -> None:
    missing = [c for c in FRAME_COLUMNS[kind] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the column(s) {', '.join(missing)}: pass what {made_by} returns")


def plot_tradeoff(frame: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """False alarms per 1,000 drift-free batches (x, symmetric log: 0 is shown) against the mean detection delay
    (y), one line per monitor of ``threshold_sweep``'s frame from its loosest setting to its strictest, each point
    labelled with its setting (and the share of drifting streams it missed). A setting that missed every drift has
    no delay: it is drawn as an ``x`` on the top edge, marked "missed"."""
    _needs(frame, "tradeoff", "threshold_sweep")
    fig, (ax,) = figure_axes(ax, size=(6.0, 3.8))
    delays = frame["mean delay (batches)"]
    top = (float(delays.max()) if delays.notna().any() else 0.0) + 1.5  # where the settings that missed everything go
    missing = 0  # monitors with a setting that missed everything so far: their labels stack down from the top
    for index, (monitor, rows) in enumerate(frame.groupby("monitor", sort=False)):
        strict = SETTING.get(monitor) != "delta"  # a smaller delta is stricter, a higher level or threshold is
        rows = rows.sort_values("value", ascending=strict)
        x, y = rows["false alarms per 1000 batches"], rows["mean delay (batches)"]
        line, = ax.plot(x, y, "-o", ms=4, lw=1.3, label=MONITOR_LABELS.get(monitor, monitor))
        labels: dict[tuple[float, float], list[str]] = {}  # settings that land on the same point share a label
        for _, row in rows[y.notna()].iterrows():
            text = f"{row['value']:g}" + (f" ({row['missed']:.0%} missed)" if row["missed"] > 0 else "")
            labels.setdefault((row["false alarms per 1000 batches"], row["mean delay (batches)"]), []).append(text)
        dx, dy = ((4, 3), (4, -9), (-4, 3), (-4, -9))[index % 4]  # monitors on the same point label apart
        for point, texts in labels.items():
            ax.annotate(", ".join(texts), point, textcoords="offset points", xytext=(dx, dy), fontsize=6,
                        color=line.get_color(), ha="left" if dx > 0 else "right")
        lost = rows[y.isna()]
        if len(lost):
            ax.scatter(lost["false alarms per 1000 batches"], np.full(len(lost), top), marker="x",
                       color=line.get_color(), zorder=3)
            ax.annotate(f"missed all: {', '.join(f'{v:g}' for v in lost['value'])}",
                        (lost["false alarms per 1000 batches"].iloc[0], top), textcoords="offset points",
                        xytext=(6, -9 * (missing + 1)), fontsize=6, color=line.get_color())
            missing += 1
    if frame["mean delay (batches)"].isna().any():
        ax.axhline(top, color="gray", lw=0.6, ls=":")
        ax.text(1.0, top, " missed", transform=ax.get_yaxis_transform(), fontsize=7, va="center", color="gray")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=-0.2)
    ax.set_ylim(bottom=-0.5, top=top + 1)
    ax.set_xlabel("false alarms per 1,000 drift-free batches")
    ax.set_ylabel("mean detection delay (batches)")
    ax.set_title("each monitor as its threshold moves: fewer false alarms, later alarms", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def plot_null_distribution(frame: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """``null_distribution``'s 95th and 99th percentile and mean of the drift-free signal against the batch size
    (log-log), with the whole pool's value (where a batch's value tends as it grows); for PSI also its rules of
    thumb, 0.1 ("watch") and 0.25 ("act"), as horizontal lines and the large-sample mean (k - 1) / n as a curve."""
    _needs(frame, "null", "null_distribution")
    fig, (ax,) = figure_axes(ax, size=(5.0, 3.4))
    frame = frame.sort_values("batch_size")
    n = frame["batch_size"]
    ax.plot(n, frame["p99"], "-s", ms=4, label="99th percentile")
    ax.plot(n, frame["p95"], "-o", ms=4, label="95th percentile")
    ax.plot(n, frame["mean"], "-^", ms=4, lw=1, label="mean")
    if frame["whole pool"].iloc[0] > 0:  # 0 where the reference is the pool: nothing to draw on a log axis
        ax.axhline(frame["whole pool"].iloc[0], color="gray", lw=0.8, ls=":", label="whole pool vs reference")
    signal = frame["signal"].iloc[0]
    if "(k-1)/n" in frame.columns:
        grid = np.geomspace(n.min(), n.max(), 100)
        k_minus_1 = float((frame["(k-1)/n"] * n).iloc[0])
        ax.plot(grid, k_minus_1 / grid, color="black", ls="--", lw=1, label=f"(k-1)/n, k = {k_minus_1 + 1:.0f}")
        for (name, level), colour in zip(PSI_RULES.items(), ("darkorange", "crimson"), strict=True):
            ax.axhline(level, color=colour, lw=1, label=f"{level:g} ({name})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(n), [str(v) for v in n])
    ax.xaxis.set_minor_locator(NullLocator())  # the batch sizes are the ticks
    ax.set_xlabel("batch size (images)")
    ax.set_ylabel(SIGNAL_LABELS.get(signal, signal))
    ax.set_title(f"{signal} without drift: {int(frame['batches'].iloc[0])} batches per size", fontsize=9)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig
