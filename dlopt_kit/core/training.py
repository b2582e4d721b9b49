"""``fit``: one readable training loop with a small fixed set of events; everything optional is a callback.

The loop is the hand-written PyTorch loop (zero_grad, forward, loss, backward, step over randperm slices) plus
what a lesson needs: a per-epoch history, the best weights, a NaN guard, and clean stops on Ctrl-C or Stop.
``python -m dlopt_kit.bench overhead`` checks that it costs no more than the hand-written loop and gives
bitwise the same weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from dlopt_kit.core.augment import Augmenter
from dlopt_kit.core.batching import Batcher
from dlopt_kit.core.callbacks import Callback, EarlyStopping, ProgressBar, TrainState
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.device import as_device, autocast, get_device, seed_everything
from dlopt_kit.core.history import History
from dlopt_kit.core.models import build_model, make_optimizer
from dlopt_kit.core.regularize import penalty, weight_stats, weights

# The gradient norm in the history is the mean over every 10th step (every step when clipping): computing it
# on every step would cost the MLP about 5% of its training time for a number that changes slowly.
GRAD_NORM_EVERY = 10


@dataclass
class FitResult:
    """What a run leaves: its config, per-epoch history, the best weights and why it ended."""

    config: RunConfig
    history: History
    model: nn.Module
    best_state: dict[str, torch.Tensor] | None
    best_epoch: int | None
    stop_reason: str = "completed"   # completed, early stopping: ..., stopped by the user, interrupted, diverged: ...
    device: str = "cpu"
    extra: dict = field(default_factory=dict)
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per step: lr, loss (and grad_norm, clipped)

    @property
    def completed(self) -> bool:
        return self.stop_reason == "completed"

    def restore_best(self) -> nn.Module:
        """Load the best weights into ``model`` (a no-op when no epoch finished) and return it."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.model


def _eval_logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> Iterator[tuple[slice, torch.Tensor]]:
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
    epoch on the loss it trains on)."""
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty split")
    loss_sum, weight_sum, correct = 0.0, 0.0, 0
    for rows, logits in _eval_logits(model, x, batch_size):
        yb = y[rows].to(logits.device)
        w = weight.to(logits.device) if weight is not None else None
        loss_sum += F.cross_entropy(logits, yb, weight=w, reduction="sum").item()
        weight_sum += float(w[yb].sum()) if w is not None else len(yb)
        correct += int((logits.argmax(1) == yb).sum())
    return loss_sum / weight_sum, correct / len(x)


def predict_proba(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Class probabilities of ``model`` on ``x`` (eval mode, on the CPU)."""
    return torch.cat([logits.softmax(1).cpu() for _, logits in _eval_logits(model, x, batch_size)])


def _clip(params: list[nn.Parameter], config: RunConfig,
          measure: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Clip the gradients as ``config`` says; return the global gradient norm before clipping (None when not
    ``measure``d and not clipping by norm) and whether this step was clipped (None without clipping): by norm when
    the norm exceeded ``grad_clip``, by value when any element did."""
    if config.grad_clip is not None and config.clip_by == "norm":
        norm = nn.utils.clip_grad_norm_(params, config.grad_clip)
        return norm, norm > config.grad_clip
    if config.grad_clip is None:
        return (nn.utils.get_total_norm([p.grad for p in params if p.grad is not None]) if measure else None), None
    grads = [p.grad for p in params if p.grad is not None]
    norm = nn.utils.get_total_norm(grads) if measure else None
    clipped = torch.stack([g.abs().max() for g in grads]).max() > config.grad_clip
    nn.utils.clip_grad_value_(params, config.grad_clip)
    return norm, clipped


def step_frame(lrs: list[float], losses: list[float], norms: list[torch.Tensor],
               clipped: list[torch.Tensor], epochs: list[int]) -> pd.DataFrame:
    """The per-step record of a run: ``step`` (from 1), ``epoch``, the ``lr`` the step used, its training ``loss``,
    and, where measured, ``grad_norm`` (before clipping) and ``clipped``."""
    columns = {"step": np.arange(1, len(lrs) + 1), "epoch": epochs, "lr": lrs, "loss": losses}
    if norms:
        columns["grad_norm"] = torch.stack(norms).cpu().tolist()
    if clipped:
        columns["clipped"] = torch.stack(clipped).cpu().tolist()
    n = min(len(v) for v in columns.values())  # an interrupt between two appends leaves one list a step longer
    return pd.DataFrame({k: list(v)[:n] for k, v in columns.items()})


def class_weights(config: RunConfig, y_train: torch.Tensor, num_classes: int) -> torch.Tensor | None:
    """The cross-entropy's per-class weights: None, or for ``balanced`` n / (classes * count of the class), from
    ``sklearn.utils.class_weight.compute_class_weight``."""
    from sklearn.utils.class_weight import compute_class_weight

    if config.class_weight == "none":
        return None
    y = y_train.cpu().numpy()
    missing = sorted(set(range(num_classes)) - set(y.tolist()))
    if missing:
        raise ValueError(f"class_weight='balanced' needs every class in the training split; class(es) {missing} "
                         "have no example")
    weights = compute_class_weight(config.class_weight, classes=np.arange(num_classes), y=y)
    return torch.tensor(weights, dtype=torch.float32)


# A loss this many times the run's first loss is exploding even while it is still finite (SGD at lr=10 on the MLP
# reaches 1e11 and ends at chance): cross-entropy starts near log(classes) and a healthy run only goes down from it.
EXPLODE_FACTOR = 100.0


def divergence_message(config: RunConfig, epoch: int, step: int, value: float, first: float | None) -> str:
    what = (f"became {value}" if not math.isfinite(value)
            else f"exploded to {value:.3g}, over {EXPLODE_FACTOR:g}x its first value ({first:.3g}),")
    return (f"diverged: the training loss {what} at epoch {epoch}, step {step}. "
            f"The learning rate (lr={config.lr:g}) is probably too high for {config.optimizer}: try a value "
            "10x smaller, or set grad_clip. The history so far and the best weights are kept.")


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


def fit(config: RunConfig, data: Splits, callbacks: Sequence[Callback] = (), device: torch.device | None = None,
        progress: bool = True, model: nn.Module | None = None, restore_best: bool = True,
        measure_train: bool = False, record_grad_norms: bool = False) -> FitResult:
    """Train ``config.model`` on ``data`` and return a ``FitResult``.

    The best weights (lowest ``val_loss``, or highest ``val_acc`` with ``config.monitor="val_acc"``) are kept and,
    with ``restore_best``, loaded into the model at the end; ``config.patience`` adds early stopping on the same
    metric. A non-finite or exploding loss ends the run with ``stop_reason`` starting with ``diverged``; Ctrl-C
    (KeyboardInterrupt) or a callback's stop ends it with the history and best weights intact. Used by every notebook.

    Each epoch's record holds the mean training loss and accuracy over the epoch's steps (in training mode: with
    dropout, and without the L1/L2 penalty, so that it compares with ``val_loss``), the validation loss and accuracy,
    ``weight_norm`` and ``near_zero`` (``regularize.weight_stats``). ``measure_train`` also evaluates the whole training
    split in eval mode after each epoch, as the validation split is (one more forward pass over it), and records
    ``train_eval_loss``, ``train_eval_acc`` and ``gap`` = ``train_eval_acc - val_acc``: a generalisation gap that
    dropout's noise in the training-mode numbers does not shrink by itself.

    ``config.schedule`` sets the lr of every step (stepped per batch or per epoch, as the kind requires); the
    result's ``steps`` table records each step's lr and loss. ``record_grad_norms`` measures the gradient norm
    (before clipping) on every step instead of every 10th, and adds it to ``steps``; with ``grad_clip`` set it is
    measured on every step anyway, ``steps`` says whether each step was clipped and each epoch's record has
    ``clipped``, the share of its steps that were.
    """
    check_fit(config, data)
    device = as_device(device) if device is not None else get_device()
    seed_everything(config.seed, device)
    model = (model or build_model(config, data.input_shape, data.num_classes)).to(device)
    optimizer = make_optimizer(config, model)
    params = [p for p in model.parameters() if p.requires_grad]
    penalised = weights(model) if config.l1 or config.l2 else None
    x_val, y_val = data.x_val.to(device, torch.float32), data.y_val.to(device)  # the models are float32
    augmenter = Augmenter(config.augment, check_range=False).to(device) if config.augment else None  # checked above
    batcher = train_batcher(config, data, device)
    weight = class_weights(config, data.y_train, data.num_classes)
    weight = weight.to(device) if weight is not None else None
    stopper = [EarlyStopping(config.patience, config.monitor, config.min_delta)] if config.patience else []
    callbacks = [*stopper, *callbacks, *([ProgressBar()] if progress else [])]
    per_batch = [cb for cb in callbacks if cb.wants_batches()]
    scheduler = config.schedule.build(optimizer, config.epochs, len(batcher))
    per_batch_schedule = scheduler is not None and config.schedule.per_batch
    every_step = record_grad_norms or config.grad_clip is not None
    trace: dict[str, list] = {"lrs": [], "losses": [], "norms": [], "clipped": [], "epochs": []}
    trace_lrs, trace_losses, trace_epochs = trace["lrs"], trace["losses"], trace["epochs"]
    state = TrainState(config, model, optimizer, steps_per_epoch=len(batcher))
    history = History()
    sign = -1.0 if config.monitor.endswith("loss") else 1.0  # larger is better after the sign
    best_state, best_epoch, best_score = None, None, -math.inf
    first_loss, explode_at = None, math.inf
    for cb in callbacks:
        cb.on_fit_start(state=state, history=history)
    try:
        for epoch in range(1, config.epochs + 1):
            state.epoch = epoch
            for cb in callbacks:
                cb.on_epoch_start(state=state, history=history)
            model.train()
            started = time.perf_counter()
            loss_sum, norms, clips, preds, targets = 0.0, [], [], [], []
            seen = steps = 0
            for xb, yb in batcher:
                if augmenter is not None:
                    xb = augmenter(xb)
                with autocast(device):
                    logits = model(xb)
                    loss = F.cross_entropy(logits.float(), yb, weight=weight, label_smoothing=config.label_smoothing)
                objective = loss + penalty(penalised, config.l1, config.l2) if penalised else loss
                value = loss.item()  # the one sync per step, as in a hand-written loop that logs its loss
                if first_loss is None:
                    first_loss, explode_at = value, EXPLODE_FACTOR * max(value, 1.0)
                if not value <= explode_at:  # NaN, infinite, or exploding: one float comparison per step
                    state.stop_training = True
                    state.stop_reason = divergence_message(config, epoch, steps + 1, value, first_loss)
                    break
                optimizer.zero_grad(set_to_none=True)
                objective.backward()
                norm, clipped = _clip(params, config, every_step or steps % GRAD_NORM_EVERY == 0)
                lr_now = optimizer.param_groups[0]["lr"]
                optimizer.step()
                if per_batch_schedule:
                    scheduler.step()
                if norm is not None:
                    norms.append(norm)
                if clipped is not None:
                    clips.append(clipped)
                trace_lrs.append(lr_now)
                trace_losses.append(value)
                trace_epochs.append(epoch)
                if every_step:
                    trace["norms"].append(norm)
                if clipped is not None:
                    trace["clipped"].append(clipped)
                loss_sum += value * len(yb)
                preds.append(logits.argmax(1))
                targets.append(yb)
                seen += len(yb)
                steps += 1
                state.step += 1
                for cb in per_batch:
                    cb.on_batch_end(state=state, loss=value)
                if state.stop_training:
                    break
            if steps == 0:
                break  # diverged on the epoch's first step: nothing new to record
            val_loss, val_acc = evaluate(model, x_val, y_val, weight=weight)
            record = {"epoch": epoch, "train_loss": loss_sum / seen,
                      "train_acc": (torch.cat(preds) == torch.cat(targets)).float().mean().item(),
                      "val_loss": val_loss, "val_acc": val_acc, "lr": trace["lrs"][-1],
                      "grad_norm": torch.stack(norms).mean().item(), "seconds": time.perf_counter() - started,
                      **weight_stats(model)}
            if clips:
                record["clipped"] = torch.stack(clips).float().mean().item()
            if scheduler is not None and not config.schedule.per_batch:
                scheduler.step()
            if measure_train:
                record["train_eval_loss"], record["train_eval_acc"] = evaluate(model, batcher.x, batcher.y,
                                                                               weight=weight)
                record["gap"] = record["train_eval_acc"] - val_acc
            history.append(record)
            score = sign * record[config.monitor]
            if math.isfinite(score) and score > best_score:
                best_score, best_epoch = score, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            for cb in callbacks:
                cb.on_epoch_end(state=state, history=history, record=record)
            if state.stop_training:
                break
    except KeyboardInterrupt:
        state.stop_reason = "interrupted"
    finally:
        for cb in callbacks:
            cb.on_fit_end(state=state, history=history)
    result = FitResult(config, history, model, best_state, best_epoch, state.stop_reason or "completed",
                       device=device.type, steps=step_frame(**trace))
    if restore_best:
        result.restore_best()
    if result.stop_reason.startswith("diverged"):
        import warnings

        warnings.warn(result.stop_reason, RuntimeWarning, stacklevel=2)
    return result
