"""dlopt_kit: the helper package behind the dlopt-kit notebooks.

Every notebook starts with ``from dlopt_kit import *``-style imports and one ``setup()`` call that prints the
device, the budget and the dataset in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .budget import Budget, get_budget
from .callbacks import Callback, EarlyStopping, LambdaCallback, ProgressBar, StopOnEvent
from .claims import assert_gain, assert_not_worse, assert_paired, assert_peak_inside, paired
from .compare import compare, label_configs, summarize
from .config import RunConfig
from .data import Splits, load_splits, make_synthetic
from .device import configure_threads, device_name, get_device, seed_everything
from .history import History
from .models import MLP, SmallCNN, build_model
from .plots import plot_comparison, plot_history, plot_summary
from .training import FitResult, evaluate, fit, predict_proba

__version__ = "0.1.0"


@dataclass
class Session:
    """What ``setup`` decided: the device, the budget in force and the dataset's splits."""

    device: torch.device
    budget: Budget
    data: Splits | None


def setup(dataset: str | None = "fashion_mnist", budget: str | None = None, few_shot: bool = False) -> Session:
    """Configure threads, pick the device and budget, load ``dataset`` at the budget's size; print one line.

    ``few_shot`` loads the budget's few-shot training size instead (lessons that need a model to overfit), with
    a small validation split (30 per class) to keep per-epoch evaluation cheap.
    """
    configure_threads()
    device = get_device()
    chosen = get_budget(budget, device)
    data = None
    if dataset is not None and few_shot:
        data = load_splits(dataset, chosen.few_shot_per_class, chosen.few_shot_eval_per_class, val_per_class=30)
    elif dataset is not None:
        data = load_splits(dataset, chosen.train_per_class, chosen.eval_per_class)
    print(f"device: {device_name(device)} | budget: {chosen.describe(few_shot)} | "
          f"data: {data.describe() if data is not None else 'none'}")
    return Session(device, chosen, data)


__all__ = [
    "Budget", "Callback", "EarlyStopping", "FitResult", "History", "LambdaCallback", "MLP", "ProgressBar",
    "RunConfig", "Session", "SmallCNN", "Splits", "StopOnEvent", "assert_gain", "assert_peak_inside", "build_model",
    "assert_not_worse", "assert_paired", "compare", "configure_threads", "device_name", "evaluate", "fit",
    "get_budget", "get_device", "paired",
    "label_configs", "load_splits", "make_synthetic", "plot_comparison", "plot_history", "plot_summary",
    "predict_proba", "seed_everything", "setup", "summarize",
]
