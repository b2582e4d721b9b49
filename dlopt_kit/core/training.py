"""``fit``: one readable training loop with a small fixed set of events; everything optional is a callback.

The loop is the hand-written PyTorch loop (zero_grad, forward, loss, backward, step over randperm slices) plus
what a lesson needs: a per-epoch history, the best weights, a NaN guard, and clean stops on Ctrl-C or Stop.
``python -m dlopt_kit.bench overhead`` checks that it costs no more than the hand-written loop and gives
bitwise the same weights.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.augment import Augmenter
from dlopt_kit.core.batching import Batcher
from dlopt_kit.core.callbacks import (
    Callback,
    CallbackList,
    ProgressBar,
    StopReason,
    TrainState,
)
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.device import as_device, autocast, get_device, seed_everything
from dlopt_kit.core.fit_callbacks import BestWeights, StepTrace, default_callbacks
from dlopt_kit.core.history import History
from dlopt_kit.core.models import build_model, make_optimizer
from dlopt_kit.core.regularize import penalty, weight_stats, weights


@dataclass
class FitResult:
    """What a run leaves: its config, per-epoch history, the best weights and why it ended."""

    config: RunConfig
    history: History
    model: nn.Module
    best_state: dict[str, torch.Tensor] | None
    best_epoch: int | None
    stop_reason: str = StopReason.COMPLETED.value  # a StopReason, or its prefix with detail ("diverged: ...")
    device: str = "cpu"
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per step: lr, loss (and grad_norm, clipped)

    @property
    def completed(self) -> bool:
        return self.stop_reason == StopReason.COMPLETED

    def restore_best(self) -> nn.Module:
        """Load the best weights into ``model`` (a no-op when no epoch finished) and return it."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.model


def eval_logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield ``(rows, float32 logits)`` for ``x`` in batches, in eval mode and without gradients; the model's
    train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.no_grad(), autocast(device):
            for lo in range(0, len(x), batch_size):
                rows = slice(lo, lo + batch_size)
                yield rows, model(x[rows].to(device, torch.float32)).float()  # float64 data is fine
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024,
             weight: torch.Tensor | None = None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)`` in eval mode. With per-class ``weight`` the loss is
    the weighted mean, as ``F.cross_entropy(weight=...)`` computes it (``fit`` selects a class-weighted run's best
    epoch on the loss it trains on). In a dry run it reads the split's first ``dry_run.EXAMPLES`` examples."""
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty split")
    x, y = dry.head(x, y)
    loss_sum, weight_sum, correct = 0.0, 0.0, 0
    for rows, logits in eval_logits(model, x, batch_size):
        yb = y[rows].to(logits.device)
        w = weight.to(logits.device) if weight is not None else None
        loss_sum += F.cross_entropy(logits, yb, weight=w, reduction="sum").item()
        weight_sum += float(w[yb].sum()) if w is not None else len(yb)
        correct += int((logits.argmax(1) == yb).sum())
    return loss_sum / weight_sum, correct / len(x)


def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Class probabilities of ``model`` on ``x`` (eval mode, on the CPU)."""
    return torch.cat([logits.softmax(1).cpu() for _, logits in eval_logits(model, x, batch_size)])


def class_weights(config: RunConfig, y_train: torch.Tensor, num_classes: int,
                  device: torch.device | None = None) -> torch.Tensor | None:
    """The cross-entropy's per-class weights (on ``device``, else the CPU): None, or for ``balanced``
    n / (classes * count of the class), from ``sklearn.utils.class_weight.compute_class_weight``."""
    from sklearn.utils.class_weight import compute_class_weight

    if config.class_weight == "none":
        return None
    y = y_train.cpu().numpy()
    missing = sorted(set(range(num_classes)) - set(y.tolist()))
    if missing:
        raise ValueError(f"class_weight='balanced' needs every class in the training split; class(es) {missing} "
                         "have no example")
    weights = compute_class_weight(config.class_weight, classes=np.arange(num_classes), y=y)
    weights = torch.tensor(weights, dtype=torch.float32)
    return weights.to(device) if device is not None else weights


def train_batcher(config: RunConfig, data: Splits, device: torch.device) -> Batcher:
    """The training split in shuffled batches of ``config.batch_size`` on ``device``. Batch norm cannot normalise a
    batch of one example: with it, a last batch of one is left out (a different example each epoch, as the order is
    reshuffled)."""
    lonely_last = config.batch_norm and len(data.y_train) % config.batch_size == 1
    return Batcher(data.x_train.to(device, torch.float32), data.y_train.to(device), config.batch_size,
                   seed=config.seed, drop_last=lonely_last)


def check_fit(config: RunConfig, data: Splits) -> None:
    """Everything ``fit`` can check before the first step: a ``RunConfig``, valid splits, a model that fits the data
    and, with augmentation, images in [0, 1]. Raises ValueError naming what is wrong (``compare`` calls it for every
    run before training any)."""
    if not isinstance(config, RunConfig):
        raise ValueError(f"config must be a RunConfig, e.g. RunConfig(lr=0.01); got {type(config).__name__}")
    if not isinstance(data, Splits):
        raise ValueError(f"data must be a Splits from load_splits(...); got {type(data).__name__}")
    data.validate()
    if config.batch_norm and len(data.y_train) < 2:
        raise ValueError(f"batch_norm=True needs at least 2 training examples; {data.name} has {len(data.y_train)}")
    build_model(config, data.input_shape, data.num_classes)  # the cnn refuses non-images here, not mid-compare
    if config.augment and (data.x_train.ndim != 4 or float(data.x_train.min()) < 0 or float(data.x_train.max()) > 1):
        raise ValueError(f"augmentation needs images (N, C, H, W) with values in [0, 1]; {data.name}'s x_train has "
                         f"shape {tuple(data.x_train.shape)}: turn augmentation off or scale the images")


class TrainEval(Callback):
    """After each epoch, evaluate the whole training split ``(x, y)`` in eval mode, as the validation split is (one
    more forward pass over it), and add ``train_eval_loss``, ``train_eval_acc`` and ``gap`` = ``train_eval_acc -
    val_acc`` to the epoch's record: a generalisation gap that dropout's noise in the training-mode numbers does not
    shrink by itself. ``fit(measure_train=True)`` runs it right after the defaults."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> None:
        self.x, self.y, self.weight = x, y, weight

    def on_epoch_end(self, state: TrainState, record: dict, **kwargs: Any) -> None:
        record["train_eval_loss"], record["train_eval_acc"] = evaluate(state.model, self.x, self.y, weight=self.weight)
        record["gap"] = record["train_eval_acc"] - record["val_acc"]


def fit(config: RunConfig, data: Splits, callbacks: Sequence[Callback] = (), device: torch.device | None = None,
        progress: bool = True, model: nn.Module | None = None, restore_best: bool = True,
        measure_train: bool = False, record_grad_norms: bool = False, warn_divergence: bool = True) -> FitResult:
    """Train ``config.model`` on ``data`` and return a ``FitResult``. Used by every notebook.

    The options are the callbacks of ``default_callbacks(config)``, run before ``callbacks``: ``GradClip``,
    ``StepTrace`` (the result's ``steps``; ``record_grad_norms`` measures the gradient norm on every step),
    ``LRSchedule``, ``DivergenceGuard`` (``stop_reason`` ``diverged: ...``, and a warning if ``warn_divergence``),
    ``BestWeights`` (loaded into the model at the end if ``restore_best``), ``EarlyStopping`` with ``config.patience``,
    ``TrainEval`` with ``measure_train``. Ctrl-C or a callback's stop ends the run, history and best weights intact.
    A dry run (``dry_run``) caps it at ``dry_run.EPOCHS`` epochs of ``dry_run.STEPS`` steps.

    Each epoch's record holds the mean training loss and accuracy over the epoch's steps (in training mode: with
    dropout, and without the L1/L2 penalty, so that it compares with ``val_loss``), the validation loss and accuracy,
    ``weight_norm`` and ``near_zero`` (``regularize.weight_stats``), and the callbacks' fields."""
    check_fit(config, data)
    device = as_device(device) if device is not None else get_device()
    seed_everything(config.seed, device)
    model = (model or build_model(config, data.input_shape, data.num_classes)).to(device)
    optimizer = make_optimizer(config, model)
    penalised = weights(model) if config.l1 or config.l2 else None
    x_val, y_val = data.x_val.to(device, torch.float32), data.y_val.to(device)  # the models are float32
    augmenter = Augmenter(config.augment, check_range=False).to(device) if config.augment else None  # checked above
    batcher = train_batcher(config, data, device)
    weight = class_weights(config, data.y_train, data.num_classes, device)
    defaults = default_callbacks(config, record_grad_norms)
    trace, best = (next(cb for cb in defaults if isinstance(cb, kind)) for kind in (StepTrace, BestWeights))
    train_eval = [TrainEval(batcher.x, batcher.y, weight)] if measure_train else []
    hooks = CallbackList([*defaults, *train_eval, *callbacks, *([ProgressBar()] if progress else [])])
    state, history = TrainState(config, model, optimizer, steps_per_epoch=len(batcher)), History()
    hooks("on_fit_start", state=state, history=history)
    epochs, steps_cap = dry.epochs(config.epochs), dry.steps(len(batcher))  # the config's, unless a dry run caps them
    try:
        for epoch in range(1, epochs + 1):
            state.epoch, state.epoch_step = epoch, 0
            hooks("on_epoch_start", state=state, history=history)
            model.train()
            loss_sum, seen, hits, started = 0.0, 0, [], time.perf_counter()
            for xb, yb in batcher:
                xb = augmenter(xb) if augmenter is not None else xb
                with autocast(device):
                    logits = model(xb)
                    loss = F.cross_entropy(logits.float(), yb, weight=weight, label_smoothing=config.label_smoothing)
                objective = loss + penalty(penalised, config.l1, config.l2) if penalised else loss
                value = loss.item()  # the one sync per step, as in a hand-written loop that logs its loss
                hooks("on_loss", state=state, loss=value)
                if state.stop_training:
                    break  # the divergence guard: this step is not taken
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                hooks("on_after_backward", state=state)
                optimizer.step()
                loss_sum, seen = loss_sum + value * len(yb), seen + len(yb)
                hits.append(logits.argmax(1) == yb)
                state.step, state.epoch_step = state.step + 1, state.epoch_step + 1
                hooks("on_batch_end", state=state, loss=value)
                if state.stop_training or state.epoch_step == steps_cap:
                    break
            if state.epoch_step == 0:
                break  # diverged on the epoch's first step: nothing new to record
            val_loss, val_acc = evaluate(model, x_val, y_val, weight=weight)
            record = {"epoch": epoch, "train_loss": loss_sum / seen,
                      "train_acc": torch.cat(hits).float().mean().item(),
                      "val_loss": val_loss, "val_acc": val_acc, **trace.epoch_record(),
                      "seconds": time.perf_counter() - started, **weight_stats(model), **trace.clipped_record()}
            history.append(record)
            hooks("on_epoch_end", state=state, history=history, record=record)
            if state.stop_training:
                break
    except KeyboardInterrupt:
        state.stop_reason = StopReason.INTERRUPTED
    finally:
        hooks("on_fit_end", state=state, history=history)
    result = FitResult(config, history, model, best.best_state, best.best_epoch,
                       str(state.stop_reason or StopReason.COMPLETED), device=device.type, steps=trace.frame())
    if restore_best:
        result.restore_best()
    if warn_divergence and result.stop_reason.startswith(StopReason.DIVERGED):
        warnings.warn(result.stop_reason, RuntimeWarning, stacklevel=2)
    return result


def fit_quietly(config: RunConfig, data: Splits) -> FitResult:
    """``fit(config, data)`` without a progress bar: a module-level function that worker processes can call
    (``processes.run_tasks``)."""
    return fit(config, data, progress=False)
