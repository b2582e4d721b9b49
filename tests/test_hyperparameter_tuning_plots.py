"""Lesson 04's pictures draw what their tables hold."""

import numpy as np
import optuna
import pandas as pd
import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.hyperparameter_tuning.plots import (
    plot_best_of_k,
    plot_best_so_far,
    plot_grid_vs_random,
    plot_optuna,
    plot_search_points,
    plot_sweeps,
    toy_objective,
)
from dlopt_kit.hyperparameter_tuning.search import SearchSpace, repeat_search

BASE = RunConfig(model="mlp", hidden=16, optimizer="sgd", batch_size=32, epochs=2)
SPACE = SearchSpace({"lr": ("log", 1e-3, 0.3), "weight_decay": ("log", 1e-6, 1e-3)})


def test_sweep_panels_plot_the_mean_of_each_value():
    table = pd.DataFrame({"config": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "val_acc": [0.5, 0.7, 0.8, 0.8],
                          "value": [0.01, 0.01, 0.1, 0.1]})
    fig = plot_sweeps({"lr": table})
    line = fig.axes[0].lines[0]
    assert list(line.get_ydata()) == [0.6, 0.8] and fig.axes[0].get_ylabel() == "best val_acc"
    fig = plot_sweeps({"epochs": table}, ylabels={"epochs": "val_acc at that epoch"})
    assert fig.axes[0].get_ylabel() == "val_acc at that epoch"


def test_grid_tries_three_values_of_the_important_axis_random_nine():
    fig = plot_grid_vs_random(9, seed=0)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("grid: 3 distinct") and titles[1].startswith("random: 9 distinct")
    assert toy_objective(np.array([0.7]), np.array([0.0]))[0] > toy_objective(np.array([0.1]), np.array([5.0]))[0]


def test_search_pictures_and_optunas_plots(tiny):
    studies: dict = {}
    tables = {m: repeat_search(BASE, tiny, SPACE, m, 4, (0, 1), progress=False, studies=studies if m == "tpe"
                               else None) for m in ("random", "tpe")}
    fig = plot_search_points(tables)
    assert fig.axes[0].get_title() == "random: 4 distinct lr"
    fig = plot_best_so_far(tables)
    mean = fig.axes[0].lines[0].get_ydata()
    assert np.all(np.diff(mean) >= 0) and len(mean) == 4
    fig = plot_best_so_far(tables, x="epochs_so_far")
    assert len(fig.axes[0].lines[0].get_xdata()) == 8  # 4 trials x 2 epochs
    figures = plot_optuna(studies[0])
    assert len(figures) == 6 and isinstance(studies[0], optuna.Study)
    importances = [[bar.get_width() for bar in plot_optuna(studies[0])[1].axes[0].patches] for _ in range(2)]
    assert importances[0] == importances[1] and len(importances[0]) == 2  # seeded fANOVA: same study, same bars


def test_best_of_k_picture_has_a_box_per_k_and_a_marker_per_search():
    boot = pd.DataFrame({"search_seed": [0] * 6 + [1] * 6, "k": [3, 3, 3, 9, 9, 9] * 2,
                         "best": [0.5, 0.6, 0.7, 0.7, 0.75, 0.8, 0.55, 0.6, 0.65, 0.72, 0.74, 0.78]})
    grid = {9: pd.Series({0: 0.7, 1: 0.74})}
    fig = plot_best_of_k(boot, {"grid": grid, "QMC": {3: pd.Series({0: 0.6, 1: 0.62}), 9: pd.Series({0: 0.8, 1: 0.8})}})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3", "9"]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["random, bootstrapped", "grid", "QMC"]
    markers = [c for c in ax.containers if hasattr(c, "lines")]  # one errorbar container per search
    assert len(markers) == 2 and markers[0].lines[0].get_ydata()[0] == pytest.approx(0.72)
