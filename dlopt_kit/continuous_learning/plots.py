"""Lesson 08's pictures: accuracy over the stream per policy (mean and spread over seeds) with the drift marked,
accuracy against compute per policy, a monitor's signal against its threshold, and a stream's batches as images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlopt_kit.continuous_learning.stream import Stream


def figure_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=size)[1]


def mark_drift(ax: Axes, drift_point: int | None, ramp_end: int | None = None) -> None:
    """A dashed line at the drift's first batch (and a shaded ramp for a gradual drift)."""
    if drift_point is None:
        return
    ax.axvline(drift_point, color="black", ls="--", lw=1, label="drift starts")
    if ramp_end is not None and ramp_end > drift_point:
        ax.axvspan(drift_point, ramp_end, color="gray", alpha=0.15, label="drift ramps up")


def plot_policies(frames: Mapping[str, Sequence[pd.DataFrame]], drift_point: int | None, ramp_end: int | None = None,
                  ax: Axes | None = None, window: int = 3) -> Axes:
    """Accuracy per batch for each policy: the mean over seeds (a rolling mean over ``window`` batches) with a band
    of one standard deviation; dots where the policy retrained (in the first seed's run)."""
    ax = figure_axes(ax, (8, 3.2))
    for name, runs in frames.items():
        acc = pd.concat([f["accuracy"] for f in runs], axis=1).rolling(window, min_periods=1).mean()
        mean, std = acc.mean(axis=1), acc.std(axis=1).fillna(0)
        line, = ax.plot(mean.index, mean, label=name, lw=1.5)
        ax.fill_between(mean.index, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        retrains = runs[0].index[runs[0]["retrained"]]
        ax.scatter(retrains, mean.loc[retrains], color=line.get_color(), s=14, zorder=3)
    mark_drift(ax, drift_point, ramp_end)
    ax.set_ylim(0, 1)
    ax.set_xlabel("batch of the stream")
    ax.set_ylabel(f"accuracy (rolling {window})")
    ax.legend(fontsize=7, ncol=3, loc="lower left")
    return ax


def plot_compute(table: pd.DataFrame, metric: str = "accuracy after", timers: Sequence[str] = (),
                 ax: Axes | None = None, colors: Mapping[str, str] | None = None) -> Axes:
    """``metric`` against compute (training examples processed) per policy of a ``policy_study`` table: the mean over
    seeds with error bars of one standard deviation on both axes. The ``timers`` (periodic policies at several
    intervals, in order) are gray and joined by a line: what a timer buys at each compute; a policy above that line
    does better at the same compute. ``colors`` maps a policy to its colour (e.g. from ``plot_policies``' lines)."""
    colors = dict(colors or {})
    ax = figure_axes(ax, (5, 3.2))
    stats = table.groupby("policy", sort=False)[[metric, "compute"]].agg(["mean", "std"]).fillna(0)
    if timers:
        line = stats.loc[list(timers)].sort_values(("compute", "mean"))
        ax.plot(line[("compute", "mean")], line[(metric, "mean")], color="gray", lw=1, zorder=1)
    for name, row in stats.iterrows():
        timer = name in timers
        ax.errorbar(row[("compute", "mean")], row[(metric, "mean")], xerr=row[("compute", "std")],
                    yerr=row[(metric, "std")], fmt="o" if timer else "D", ms=4 if timer else 6, capsize=2,
                    color="gray" if timer else colors.get(str(name)), zorder=2, label=None if timer else name)
        ax.annotate(str(name), (row[("compute", "mean")], row[(metric, "mean")]), textcoords="offset points",
                    xytext=(4, -9 if timer else 5), fontsize=6.5)
    ax.set_xlabel("compute: training examples processed")
    ax.set_ylabel(metric)
    return ax


def plot_signal(frame: pd.DataFrame, signal: str, threshold: float | None, drift_point: int | None,
                ax: Axes | None = None, label: str | None = None, log: bool = False) -> Axes:
    """One signal per batch, its alarm threshold and the drift point (``log``: a logarithmic y axis, for a signal
    such as PSI that grows by orders of magnitude)."""
    ax = figure_axes(ax, (4, 2.6))
    ax.plot(frame.index, frame[signal], lw=1.2, label=label or signal)
    if threshold is not None:
        ax.axhline(threshold, color="crimson", lw=1, label=f"threshold {threshold:.2g}")
    mark_drift(ax, drift_point)
    ax.set_xlabel("batch of the stream")
    ax.set_ylabel(signal)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    return ax


def show_stream(stream: Stream, batches: Sequence[int], per_batch: int = 4, classes: Sequence[str] = ()) -> Figure:
    """``per_batch`` images of each batch in ``batches`` (a row each), titled with their label."""
    fig, axes = plt.subplots(len(batches), per_batch, figsize=(per_batch * 1.0, len(batches) * 1.25), squeeze=False)
    for row, t in zip(axes, batches, strict=True):
        x, y = stream.batches[t]
        for k, ax in enumerate(row):
            ax.imshow(x[k, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")  # light on dark
            ax.set_xticks([])
            ax.set_yticks([])
            name = classes[int(y[k])] if classes else str(int(y[k]))
            ax.set_title(name, fontsize=6.5)
        row[0].set_ylabel(f"batch {t}\nseverity {stream.severity[t]:.1f}", fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig
