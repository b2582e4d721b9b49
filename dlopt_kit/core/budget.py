"""Budgets: one named setting decides data size, epochs and seeds for every notebook.

``small`` keeps each notebook at about a minute on a 2-core CPU with the effects still visible;
``full`` is the default where a GPU is present. ``DLOPT_BUDGET`` overrides the choice.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch

from dlopt_kit.core import dry_run as dry

BUDGET_ENV = "DLOPT_BUDGET"


@dataclass(frozen=True)
class Budget:
    name: str
    train_per_class: int | None   # training images per class; None = all
    eval_per_class: int | None    # validation and test images per class; None = all
    epochs: int                   # default passes over the training set
    seeds: tuple[int, ...]        # seeds every comparison is repeated over
    few_shot_per_class: int = 60  # training images per class for lessons that need a model to overfit (02)
    few_shot_epochs: int = 30     # epochs for those lessons (augmented data needs longer to fit)
    few_shot_eval_per_class: int | None = 100  # test images per class for those lessons

    def describe(self, few_shot: bool = False) -> str:
        """``small (300/class, 6 epochs, 3 seeds)``; with ``few_shot`` the sizes a few-shot lesson trains with."""
        per_class, epochs = ((self.few_shot_per_class, self.few_shot_epochs) if few_shot
                             else (self.train_per_class, self.epochs))
        train = "all" if per_class is None else f"{per_class}/class"
        kind = "few-shot: " if few_shot else ""
        return f"{self.name} ({kind}{train}, {epochs} epochs, {len(self.seeds)} seeds)"


BUDGETS: dict[str, Budget] = {
    "small": Budget("small", train_per_class=300, eval_per_class=200, epochs=6, seeds=(0, 1, 2),
                    few_shot_per_class=60, few_shot_epochs=30, few_shot_eval_per_class=100),
    "medium": Budget("medium", train_per_class=1000, eval_per_class=500, epochs=10, seeds=(0, 1, 2),
                     few_shot_per_class=150, few_shot_epochs=40, few_shot_eval_per_class=300),
    "full": Budget("full", train_per_class=None, eval_per_class=None, epochs=10, seeds=(0, 1, 2),
                   few_shot_per_class=300, few_shot_epochs=50, few_shot_eval_per_class=None),
}


def get_budget(name: str | None = None, device: torch.device | None = None) -> Budget:
    """The budget in force: ``name``, else ``DLOPT_BUDGET``, else ``full`` on a GPU and ``small`` elsewhere. In a dry
    run (``dry_run``) its seeds are its first two; its sizes are unchanged."""
    chosen = name or os.environ.get(BUDGET_ENV, "").strip().lower()
    if not chosen:
        accelerated = device is not None and device.type in ("cuda", "mps")
        chosen = "full" if accelerated else "small"
    if chosen not in BUDGETS:
        raise ValueError(f"budget {chosen!r} is not allowed: choose one of {', '.join(BUDGETS)} "
                         f"(set {BUDGET_ENV} or pass name=)")
    budget = BUDGETS[chosen]
    return dataclasses.replace(budget, seeds=tuple(dry.seeds(budget.seeds))) if dry.dry_run() else budget
