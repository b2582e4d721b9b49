"""Lesson 04's pictures: one-dimensional sweeps, grid against random search, and best-so-far curves over repeated
searches (mean +/- std over search seeds). Optuna's own plots come from ``optuna.visualization.matplotlib``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import optuna
import optuna.visualization.matplotlib as ov
import pandas as pd
from matplotlib.figure import Figure


def plot_sweeps(sweeps: Mapping[str, pd.DataFrame], metric: str = "val_acc",
                ylabels: Mapping[str, str] | None = None) -> Figure:
    """One panel per swept setting: the best-epoch ``metric`` (mean +/- std over seeds) against the setting's value.
    Each table is ``compare``/``sweep``'s, with a ``value`` column added holding the swept value of each row.
    ``ylabels`` overrides a panel's y-label (default ``"best <metric>"``), e.g. for a panel that reads one run at
    each epoch rather than each run's best epoch."""
    fig, axes = plt.subplots(1, len(sweeps), figsize=(3.1 * len(sweeps), 2.8), squeeze=False)
    for ax, (name, table) in zip(axes[0], sweeps.items(), strict=True):
        best = table.loc[table.groupby(["config", "seed"])[metric].idxmax()]
        stats = best.groupby("value")[metric].agg(["mean", "std"]).reset_index()
        ax.errorbar(stats["value"], stats["mean"], yerr=stats["std"], marker="o", capsize=3)
        if stats["value"].min() > 0 and stats["value"].max() / stats["value"].min() >= 30:
            ax.set_xscale("log")
        ax.set(xlabel=name, ylabel=(ylabels or {}).get(name, f"best {metric}"), title=name)
    fig.suptitle(f"each setting alone, the others fixed: mean ± std (ddof 1) over {table['seed'].nunique()} "
                 "training seeds; each panel has its own y-axis", fontsize=9)
    fig.tight_layout()
    return fig


def toy_objective(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bergstra and Bengio's picture: a score that depends strongly on ``x`` (a peak near 0.7) and hardly on ``y``."""
    return np.exp(-((x - 0.7) ** 2) / 0.01) + 0.05 * np.sin(3 * y)


def plot_grid_vs_random(n: int = 9, seed: int = 0) -> Figure:
    """A 3x3 grid and 9 random points over the toy objective, each with its projection on the important axis:
    the grid tries 3 distinct values of it, random search 9."""
    side = int(round(np.sqrt(n)))
    g = (np.arange(side) + 0.5) / side
    grid = np.array([(a, b) for a in g for b in g])
    rand = np.random.default_rng(seed).random((n, 2))
    xs = np.linspace(0, 1, 200)
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.3))
    for ax, points, name in ((axes[0], grid, "grid"), (axes[1], rand, "random")):
        xx, yy = np.meshgrid(xs, xs)
        ax.contourf(xx, yy, toy_objective(xx, yy), levels=12, cmap="Greens", alpha=0.6)
        ax.scatter(points[:, 0], points[:, 1], color="black", s=20, zorder=3)
        top = ax.inset_axes([0, 1.02, 1, 0.25], sharex=ax)
        top.plot(xs, toy_objective(xs, np.zeros_like(xs)), color="C2")
        top.scatter(points[:, 0], toy_objective(points[:, 0], np.zeros(len(points))), color="black", s=12, zorder=3)
        top.axis("off")
        distinct = len(np.unique(points[:, 0].round(6)))
        best = toy_objective(points[:, 0], points[:, 1]).max()
        ax.set(xlabel="important parameter", ylabel="unimportant parameter", xlim=(0, 1), ylim=(0, 1))
        ax.set_title(f"{name}: {distinct} distinct values, best {best:.2f}", pad=48)
    fig.tight_layout()
    return fig


def plot_search_points(tables: Mapping[str, pd.DataFrame], x: str = "lr", y: str = "weight_decay",
                       search_seed: int = 0) -> Figure:
    """The trials of one search per method, placed by their parameters and coloured by validation accuracy."""
    fig, axes = plt.subplots(1, len(tables), figsize=(3.2 * len(tables), 2.9), squeeze=False, sharey=True)
    for ax, (name, table) in zip(axes[0], tables.items(), strict=True):
        rows = table[table["search_seed"] == search_seed]
        points = ax.scatter(rows[x], rows[y], c=rows["value"], cmap="viridis", vmin=0.1, vmax=0.85, s=28)
        ax.set(xscale="log", yscale="log", xlabel=x, ylabel=y if ax is axes[0][0] else None,
               title=f"{name}: {rows[x].round(8).nunique()} distinct {x}")
    fig.colorbar(points, ax=axes[0].tolist(), label="validation accuracy", shrink=0.9)
    return fig


#: one colour per search method, the same in every figure of lesson 04
METHOD_COLOURS = {"grid": "C0", "random": "C1", "TPE": "C2", "QMC": "C5", "TPE, 4 start-up": "C8",
                  "random, 27 trials": "C1", "random + pruning": "C3", "random + pruning, 27 trials": "C3",
                  "random + pruning, same epochs": "C4"}


def plot_best_so_far(tables: Mapping[str, pd.DataFrame], x: str = "trial", ax: plt.Axes | None = None) -> Figure:
    """Best validation accuracy found so far against trials (or ``x="epochs_so_far"``): the mean over search seeds
    as a line, the lowest and highest seed as a band (with 3 seeds a +/- std band would overrun 0 and 1), one
    colour per method (``METHOD_COLOURS``)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3))
    for name, table in tables.items():
        if x == "trial":
            curves = table.pivot(index="trial", columns="search_seed", values="best_so_far").ffill()
            where = curves.index + 1
        else:  # epochs: step curves on a common axis of epochs spent
            grid = np.arange(1, int(table.groupby("search_seed")["epochs"].sum().max()) + 1)
            curves = pd.DataFrame({s: pd.Series(t["best_so_far"].values, index=t["epochs_so_far"].values)
                                   .groupby(level=0).last().reindex(grid, method="ffill")
                                   for s, t in table.groupby("search_seed")})
            where = grid
        colour = METHOD_COLOURS.get(name)
        ax.plot(where, curves.mean(axis=1), label=name, color=colour)
        ax.fill_between(where, curves.min(axis=1), curves.max(axis=1), alpha=0.2, color=colour)
    ax.set(xlabel="trials" if x == "trial" else "epochs spent", ylabel="best validation accuracy so far")
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_best_of_k(boot: pd.DataFrame, searches: Mapping[str, Mapping[int, pd.Series]],
                   ax: plt.Axes | None = None) -> Figure:
    """The tuning playbook's picture: box plots of a random search's bootstrapped best of ``k`` trials
    (``best_of_k``'s rows, every search seed's pool together; whiskers at the 5th and 95th percentiles) at each
    ``k``, and for each other search a marker at the trial counts it ran: ``searches[name][k]`` the best it found
    in its first ``k`` trials per search seed (the mean over seeds, the bar from the lowest to the highest seed)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    ks = sorted(boot["k"].unique())
    where = {k: i for i, k in enumerate(ks)}
    ax.boxplot([boot.loc[boot["k"] == k, "best"] for k in ks], positions=range(len(ks)), widths=0.35,
               whis=(5, 95), showfliers=False, patch_artist=True, boxprops={"facecolor": "C1", "alpha": 0.35},
               medianprops={"color": "C1"})
    ax.plot([], [], color="C1", alpha=0.6, lw=6, label="random, bootstrapped")
    offsets = np.linspace(-0.3, 0.3, max(len(searches), 1) + 2)[1:-1] if len(searches) > 1 else [0.25]
    for offset, (name, by_k) in zip(offsets, searches.items(), strict=False):
        xs = [where[k] + offset for k in by_k if k in where]
        found = [by_k[k] for k in by_k if k in where]
        means = [f.mean() for f in found]
        spread = [[m - f.min() for m, f in zip(means, found, strict=True)],
                  [f.max() - m for m, f in zip(means, found, strict=True)]]
        ax.errorbar(xs, means, yerr=spread, fmt="o", ms=4, capsize=2, color=METHOD_COLOURS.get(name), label=name)
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set(xlabel="trials (k)", ylabel="best validation accuracy")
    ax.legend(fontsize=8, loc="lower right")
    ax.figure.tight_layout()
    return ax.figure


OPTUNA_PLOTS = (ov.plot_optimization_history,
                # fANOVA fits a random forest: seeded, so the same study gives the same importances
                partial(ov.plot_param_importances, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)),
                ov.plot_contour, ov.plot_slice, ov.plot_parallel_coordinate, ov.plot_timeline)


def plot_optuna(study: optuna.Study, size: tuple[float, float] = (5.6, 3.2)) -> list[Figure]:
    """Optuna's matplotlib plots of ``study``: history, importances (fANOVA), contour, slice, parallel coordinates
    and timeline, each at ``size``. Optuna marks them experimental; the warning saying so is not repeated here."""
    figures = []
    with warnings.catch_warnings(), plt.rc_context({"figure.figsize": size}):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for draw in OPTUNA_PLOTS:
            axes = draw(study)
            figure = (axes.flat[0] if isinstance(axes, np.ndarray) else axes).figure
            if draw is OPTUNA_PLOTS[1] and axes.get_legend() is not None:
                axes.get_legend().remove()  # one series: the legend only hides a bar's label
            figures.append(figure)
    return figures
