"""dlopt_kit: the helper package behind the dlopt-kit notebooks.

The layout follows the course: ``notebooks/NN_<stem>.ipynb`` is served by ``dlopt_kit/<stem>/`` (its logic and
pictures) and ``dlopt_kit/panels/<stem>.py`` (its panel), over ``dlopt_kit/core/``. This module re-exports the
core's public names, so that a notebook starts with ``from dlopt_kit import ...`` and one ``setup()`` call that
prints the device, the budget and the dataset in one line.
"""

from __future__ import annotations

from dlopt_kit.core.augment import AugmentSpec
from dlopt_kit.core.bootstrap import example_bootstrap, example_losses, paired_bootstrap, seed_accuracy, seed_loss
from dlopt_kit.core.budget import Budget, get_budget
from dlopt_kit.core.callbacks import Callback, EarlyStopping, LambdaCallback, ProgressBar, StopOnEvent
from dlopt_kit.core.claims import (
    assert_gain,
    assert_not_worse,
    assert_paired,
    assert_peak_inside,
    assert_threshold,
    gain_table,
    paired,
    per_seed,
)
from dlopt_kit.core.compare import best_epochs, best_rows, compare, epochs_to_reach, label_configs, summarize
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits, load_splits, make_synthetic
from dlopt_kit.core.device import configure_threads, device_name, get_device, seed_everything
from dlopt_kit.core.dry_run import dry_run
from dlopt_kit.core.history import History
from dlopt_kit.core.models import MLP, SmallCNN, build_model, count_parameters
from dlopt_kit.core.plots import plot_comparison, plot_examples, plot_history, plot_summary
from dlopt_kit.core.schedules import Schedule
from dlopt_kit.core.session import Session, setup
from dlopt_kit.core.training import FitResult, evaluate, fit, predict_proba

__version__ = "0.1.0"

__all__ = [
    "AugmentSpec", "Budget", "Callback", "EarlyStopping", "FitResult", "History", "LambdaCallback", "MLP",
    "ProgressBar", "RunConfig", "Schedule", "Session", "SmallCNN", "Splits", "StopOnEvent", "assert_gain",
    "assert_not_worse", "assert_paired", "assert_peak_inside", "assert_threshold", "best_epochs", "best_rows",
    "build_model", "compare", "configure_threads", "count_parameters", "device_name", "dry_run", "epochs_to_reach",
    "evaluate", "example_bootstrap", "example_losses", "fit", "gain_table", "get_budget", "get_device",
    "label_configs", "load_splits", "make_synthetic", "paired", "paired_bootstrap", "per_seed", "plot_comparison",
    "plot_examples", "plot_history", "plot_summary", "predict_proba", "seed_accuracy", "seed_everything", "seed_loss",
    "setup", "summarize",
]
