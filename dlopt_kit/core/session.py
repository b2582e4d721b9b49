"""``setup``: the one call at the top of every notebook; it prints the device, the budget and the dataset, and opens the
lesson's claims ledger."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dlopt_kit.core import dry_run as dry
from dlopt_kit.core import ledger
from dlopt_kit.core.budget import Budget, get_budget
from dlopt_kit.core.data import Splits, load_splits
from dlopt_kit.core.device import configure_threads, device_name, get_device


@dataclass
class Session:
    """What ``setup`` decided: the device, the budget in force and the dataset's splits."""

    device: torch.device
    budget: Budget
    data: Splits | None


def setup(dataset: str | None = "fashion_mnist", budget: str | None = None, few_shot: bool = False,
          lesson: str | None = None, data_note: str | None = None) -> Session:
    """Configure threads, pick the device and budget, load ``dataset`` at the budget's size; print one line.

    ``few_shot`` loads the budget's few-shot training size instead (lessons that need a model to overfit), with
    a small validation split (30 per class) to keep per-epoch evaluation cheap. ``lesson`` (the notebook's name
    without ``.ipynb``, e.g. ``"01_data_quality"``) opens that lesson's claims ledger at this budget and empties it:
    every claim checked afterwards is recorded there (see ``ledger``); without it nothing is recorded. A lesson whose
    data comes from elsewhere (recipe files, with ``dataset=None``) names it in ``data_note`` for the printed line.
    """
    configure_threads()
    device = get_device()
    chosen = get_budget(budget, device)
    data = None
    if dataset is not None and few_shot:
        data = load_splits(dataset, chosen.few_shot_per_class, chosen.few_shot_eval_per_class, val_per_class=30)
    elif dataset is not None:
        data = load_splits(dataset, chosen.train_per_class, chosen.eval_per_class)
    if lesson is not None:
        ledger.open_lesson(lesson, chosen.name, device_name(device))
    else:
        ledger.close()
    print(f"device: {device_name(device)} | budget: {chosen.describe(few_shot)} | "
          f"data: {data.describe() if data is not None else data_note or 'none'}"
          + (" | dry run: work capped, claims not checked" if dry.dry_run() else ""))
    return Session(device, chosen, data)
