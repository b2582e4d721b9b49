"""Lesson 04, hyperparameter tuning on Optuna: the search space, samplers and pruners, stored studies, repeated
searches, the experiment's paired searches and final re-run (``experiment``), parallel sweeps (from the core) and the
pictures."""

from __future__ import annotations

from dlopt_kit.core.parallel import sweep
from dlopt_kit.hyperparameter_tuning.experiment import (
    Arm,
    anytime_best,
    best_by_epochs,
    best_of_k,
    check_pruning,
    importances,
    late_mean,
    mean_val,
    paired_searches,
    rerun,
    top_configs,
    within_epochs,
)
from dlopt_kit.hyperparameter_tuning.plots import (
    plot_best_of_k,
    plot_best_so_far,
    plot_grid_vs_random,
    plot_optuna,
    plot_search_points,
    plot_sweeps,
)
from dlopt_kit.hyperparameter_tuning.search import (
    LESSON04_SPACE,
    METHODS,
    PRUNERS,
    Objective,
    SearchSpace,
    StudyStopped,
    best_config,
    best_found,
    epochs_spent,
    finished,
    lesson04_base,
    make_pruner,
    make_sampler,
    make_storage,
    open_study,
    repeat_search,
    run_study,
    storage_url,
    trials_table,
)

__all__ = [
    "anytime_best", "Arm", "best_by_epochs", "best_of_k", "check_pruning", "importances", "late_mean", "mean_val",
    "paired_searches", "rerun", "top_configs", "within_epochs",
    "best_config", "best_found", "epochs_spent", "finished", "lesson04_base", "LESSON04_SPACE", "make_pruner",
    "make_sampler", "make_storage", "METHODS", "Objective", "open_study", "plot_best_of_k", "plot_best_so_far",
    "plot_grid_vs_random", "plot_optuna", "plot_search_points", "plot_sweeps", "PRUNERS", "repeat_search", "run_study",
    "SearchSpace", "storage_url", "StudyStopped", "sweep", "trials_table"
]
