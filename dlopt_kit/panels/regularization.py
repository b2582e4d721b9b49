"""Lesson 05's training panel: the regularisation knobs, live curves of the gap and the weight norm, and a results
table of validation numbers that keeps every run."""

from __future__ import annotations

from functools import partial
from typing import Any

from matplotlib.figure import Figure

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import FitResult, fit
from dlopt_kit.panels.training import Control, TrainingPanel
from dlopt_kit.regularization.plots import plot_regularization


def regularization_metrics(result: FitResult, data: Splits, values: dict[str, Any]) -> dict[str, Any]:
    """The table's columns: validation loss and accuracy at the last epoch (the lesson reads every arm there) and at
    the best epoch by validation loss (what early stopping keeps), the gap at both, and the last epoch's weight norm
    and share of near-zero weights (all measured by ``fit``, on training and validation data)."""
    if not result.history:
        return {}
    best = result.history[(result.best_epoch or 1) - 1]
    last = result.history[-1]
    return {"val_loss at end": last["val_loss"], "val_acc at end": last["val_acc"],
            "val_loss at best": best["val_loss"], "val_acc at best": best["val_acc"],
            "gap at best": best.get("gap"), "gap at end": last.get("gap"),
            "weight norm": last["weight_norm"], "near zero": last["near_zero"]}


def regularization_panel(data: Splits, base: RunConfig) -> TrainingPanel:
    """Lesson 05's panel over ``data``: optimizer, lr, L1, L2, weight decay, dropout (hidden and input), early
    stopping patience (0 = off), epochs and seeds (1 to 3: a run repeated over seeds shows each number's mean and
    spread; see ``panels.training.seed_row``). Each epoch also evaluates the training split in eval mode, so that
    the live plot and the table show the generalisation gap as the validation split sees it."""
    spec = [Control("optimizer", "choice", base.optimizer, ("adam", "adamw", "sgd")),
            Control("lr", "float", base.lr),
            Control("l1", "float", base.l1, label="L1"),
            Control("l2", "float", base.l2, label="L2 (in the loss)"),
            Control("weight_decay", "float", base.weight_decay, label="weight decay"),
            Control("dropout", "float", base.dropout, label="dropout (hidden)"),
            Control("input_dropout", "float", base.input_dropout, label="dropout (input)"),
            Control("patience", "int", base.patience, label="patience (0 = off)"),
            Control("epochs", "int", base.epochs),
            Control("seeds", "int", 1)]

    def live(history: Any) -> Figure:
        return plot_regularization(history, axes=Figure(figsize=(10, 2.8)).subplots(1, 3))

    return TrainingPanel(data, base=base, spec=spec, fit_fn=partial(fit, measure_train=True),
                         row_metrics=regularization_metrics, live_plot=live,
                         title="Lesson 05: regularisation on a model that overfits")
