"""The callbacks that make up ``fit``'s options, built from the config by ``default_callbacks``.

Each hooks into the loop at one event (``callbacks.Callback``): ``GradClip`` after the backward pass (skorch's
``GradientNormClipping.on_grad_computed``), ``StepTrace`` after each step (the result's per-step table),
``LRSchedule`` per batch or per epoch (skorch's ``LRScheduler(step_every=...)``), ``DivergenceGuard`` on each loss,
``BestWeights`` at each epoch's end. ``fit`` (``training``) runs them before the user's callbacks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from dlopt_kit.core.callbacks import Callback, EarlyStopping, StopReason, TrainState, higher_is_better
from dlopt_kit.core.config import RunConfig

# The gradient norm in the history is the mean over every 10th step (every step when clipping): computing it
# on every step would cost the MLP about 5% of its training time for a number that changes slowly.
GRAD_NORM_EVERY = 10


def clip_gradients(params: list[nn.Parameter], config: RunConfig,
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


# A loss this many times the run's first loss is exploding even while it is still finite (SGD at lr=10 on the MLP
# reaches 1e11 and ends at chance): cross-entropy starts near log(classes) and a healthy run only goes down from it.
EXPLODE_FACTOR = 100.0


def divergence_message(config: RunConfig, epoch: int, step: int, value: float, first: float | None) -> str:
    what = (f"became {value}" if not math.isfinite(value)
            else f"exploded to {value:.3g}, over {EXPLODE_FACTOR:g}x its first value ({first:.3g}),")
    return StopReason.DIVERGED.detail(
        f"the training loss {what} at epoch {epoch}, step {step}. The learning rate (lr={config.lr:g}) is probably "
        f"too high for {config.optimizer}: try a value 10x smaller, or set grad_clip. The history so far and the best "
        "weights are kept.")


class GradClip(Callback):
    """Clip the gradients after backward as ``config.grad_clip`` and ``config.clip_by`` say (``clip_gradients``):
    rescale them when their global norm exceeds the threshold (``clip_grad_norm_``), or clamp each element
    (``clip_grad_value_``).
    It measures the norm before clipping on every step and leaves it, with whether the step was clipped, in
    ``state.grad_norm`` and ``state.clipped`` for ``StepTrace``: ``steps`` then says whether each step was clipped and
    each epoch's record has ``clipped``, the share of its steps that were."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.params: list[nn.Parameter] = []

    def on_fit_start(self, state: TrainState, **kwargs: Any) -> None:
        self.params = [p for p in state.model.parameters() if p.requires_grad]

    def on_after_backward(self, state: TrainState, **kwargs: Any) -> None:
        state.grad_norm, state.clipped = clip_gradients(self.params, self.config, measure=True)


class StepTrace(Callback):
    """The per-step record (``FitResult.steps``: each step's lr and training loss, and ``grad_norm`` / ``clipped``
    where measured) and the step-derived fields of each epoch's record: ``lr`` (its last step's), ``grad_norm`` (the
    mean of its measured norms) and, with clipping, ``clipped``.

    The gradient norm (before clipping) is measured on every ``GRAD_NORM_EVERY``-th step of an epoch, or on every
    step with ``every_step`` (``fit(record_grad_norms=True)``, or clipping, whose ``GradClip`` measures it first)."""

    def __init__(self, every_step: bool = False) -> None:
        self.every_step = every_step
        self.params: list[nn.Parameter] = []
        self._reset()

    def _reset(self) -> None:
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.norms: list[torch.Tensor] = []
        self.clipped: list[torch.Tensor] = []
        self.epochs: list[int] = []
        self.epoch_norms: list[torch.Tensor] = []
        self.epoch_clips: list[torch.Tensor] = []
        self.lr = math.nan

    def on_fit_start(self, state: TrainState, **kwargs: Any) -> None:
        self._reset()  # a fresh trace for each run
        self.params = [p for p in state.model.parameters() if p.requires_grad]

    def on_epoch_start(self, **kwargs: Any) -> None:
        self.epoch_norms, self.epoch_clips = [], []

    def on_after_backward(self, state: TrainState, **kwargs: Any) -> None:
        if state.grad_norm is None and (self.every_step or state.epoch_step % GRAD_NORM_EVERY == 0):
            state.grad_norm = nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        self.lr = state.optimizer.param_groups[0]["lr"]  # the lr this step uses: read before a schedule moves it

    def on_batch_end(self, state: TrainState, loss: float, **kwargs: Any) -> None:
        norm, clipped = state.grad_norm, state.clipped
        if norm is not None:
            self.epoch_norms.append(norm)
        if clipped is not None:
            self.epoch_clips.append(clipped)
            self.clipped.append(clipped)
        self.lrs.append(self.lr)
        self.losses.append(loss)
        self.epochs.append(state.epoch)
        if self.every_step:
            self.norms.append(norm)
        state.grad_norm = state.clipped = None  # measured for this step only

    def epoch_record(self) -> dict[str, float]:
        """The epoch's ``lr`` and ``grad_norm`` (tensors are kept per step and synced here, once an epoch)."""
        return {"lr": self.lrs[-1], "grad_norm": torch.stack(self.epoch_norms).mean().item()}

    def clipped_record(self) -> dict[str, float]:
        """``{"clipped": share of the epoch's steps clipped}`` when clipping, else ``{}``."""
        return {"clipped": torch.stack(self.epoch_clips).float().mean().item()} if self.epoch_clips else {}

    def frame(self) -> pd.DataFrame:
        return step_frame(self.lrs, self.losses, self.norms, self.clipped, self.epochs)


class LRSchedule(Callback):
    """Set every step's lr by ``schedule`` (a ``schedules.Schedule``): its PyTorch scheduler, built at the start of
    the run (a warm-up lowers the first step's lr then), steps after every batch (``step_every="batch"``) or after
    every recorded epoch (``"epoch"``); by default as the schedule's kind requires (``Schedule.per_batch``)."""

    def __init__(self, schedule: Any, step_every: str | None = None) -> None:
        self.schedule = schedule
        self.step_every = step_every or ("batch" if schedule.per_batch else "epoch")
        if self.step_every not in ("batch", "epoch"):
            raise ValueError(f"step_every={step_every!r} is not allowed: use 'batch' or 'epoch'")
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None

    def on_fit_start(self, state: TrainState, **kwargs: Any) -> None:
        self.scheduler = self.schedule.build(state.optimizer, state.config.epochs, state.steps_per_epoch)

    def on_batch_end(self, **kwargs: Any) -> None:
        if self.scheduler is not None and self.step_every == "batch":
            self.scheduler.step()

    def on_epoch_end(self, **kwargs: Any) -> None:
        if self.scheduler is not None and self.step_every == "epoch":
            self.scheduler.step()

    def wants_batches(self) -> bool:
        return self.step_every == "batch"


class DivergenceGuard(Callback):
    """End the run before a step is taken when its training loss is NaN, infinite or over ``EXPLODE_FACTOR`` times
    the run's first loss (at least ``EXPLODE_FACTOR``): ``stop_reason`` is ``divergence_message``'s explanation, and
    ``fit`` warns with it. ``diverged(loss)`` is the rule alone (``fit_many`` keeps one guard per config)."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.limit = math.inf

    def on_fit_start(self, **kwargs: Any) -> None:
        self.first, self.limit = None, math.inf

    def diverged(self, loss: float) -> bool:
        """Whether ``loss`` (the next step's) has diverged; the first loss it is given sets the limit."""
        if self.first is None:
            self.first, self.limit = loss, EXPLODE_FACTOR * max(loss, 1.0)
        return not loss <= self.limit  # NaN, infinite, or exploding: one float comparison per step

    def on_loss(self, state: TrainState, loss: float, **kwargs: Any) -> None:
        if self.diverged(loss):
            state.stop_training = True
            state.stop_reason = divergence_message(state.config, state.epoch, state.epoch_step + 1, loss, self.first)


class BestWeights(Callback):
    """Keep a copy of the weights of the best epoch so far by ``monitor`` (lowest loss or highest accuracy; an epoch
    whose value is not finite never counts): ``best_state`` and ``best_epoch``, None until an epoch is recorded.
    ``fit`` hands them to ``FitResult``, whose ``restore_best`` loads them."""

    def __init__(self, monitor: str = "val_loss") -> None:
        self.monitor = monitor
        self.sign = 1.0 if higher_is_better(monitor) else -1.0  # larger is better after the sign
        self.best_score, self.best_epoch, self.best_state = -math.inf, None, None

    def on_fit_start(self, **kwargs: Any) -> None:
        self.best_score, self.best_epoch, self.best_state = -math.inf, None, None

    def on_epoch_end(self, state: TrainState, record: dict, **kwargs: Any) -> None:
        self.update(record, state.model)

    def update(self, record: dict, model: nn.Module) -> None:
        """Keep a copy of ``model``'s weights if ``record``'s epoch is the best so far (``fit_many``: per config)."""
        score = self.sign * record[self.monitor]
        if math.isfinite(score) and score > self.best_score:
            self.best_score, self.best_epoch = score, record["epoch"]
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}


def default_callbacks(config: RunConfig, record_grad_norms: bool = False) -> list[Callback]:
    """The callbacks that make ``fit`` what it is, from ``config``, in the order they must run: clipping (before the
    trace reads the norm), the step trace, the lr schedule, the divergence guard, the best weights and, with
    ``config.patience``, early stopping on ``config.monitor``. Users' callbacks run after them."""
    clip = [GradClip(config)] if config.grad_clip is not None else []
    stopper = [EarlyStopping(config.patience, config.monitor, config.min_delta)] if config.patience else []
    return [*clip, StepTrace(every_step=record_grad_norms or bool(clip)), LRSchedule(config.schedule),
            DivergenceGuard(), BestWeights(config.monitor), *stopper]
