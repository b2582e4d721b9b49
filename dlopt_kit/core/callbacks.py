"""Callbacks: everything optional in ``fit`` (progress bar, early stopping, Stop button, live plots).

A callback overrides any of the no-op hooks below; each hook receives keyword arguments and ignores the
ones it does not need. To end a run, a callback sets ``state.stop_training = True`` and a ``stop_reason``
(a ``StopReason``, or the text one builds); ``fit`` finishes the current step, records the epoch and returns
normally. The callbacks that make up ``fit`` itself (clipping, schedule, trace, best weights, divergence guard)
are in ``fit_callbacks``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import torch

from dlopt_kit.core import checks


class StopReason(StrEnum):
    """Why a run ended: ``FitResult.stop_reason`` is one of these values, or for early stopping, divergence and
    pruning the prefix, a colon and the detail (``StopReason.DIVERGED.detail("...")``). A ``StrEnum``: members are
    the plain strings, so they compare ``==`` with the strings stored by earlier runs and are stored as them."""

    COMPLETED = "completed"
    STOPPED = "stopped by the user"
    INTERRUPTED = "interrupted"
    EARLY_STOPPING = "early stopping"
    DIVERGED = "diverged"
    PRUNED = "pruned"

    def detail(self, text: str) -> str:
        """``"<reason>: <text>"``, e.g. ``"early stopping: val_loss did not improve for 3 epochs"``."""
        return f"{self.value}: {text}"

    @classmethod
    def of(cls, text: str) -> StopReason | None:
        """The reason ``text`` states (itself, or the prefix before its colon); None for text not in the
        vocabulary (e.g. ``"completed (cached)"``)."""
        head = text.split(":", 1)[0]
        return cls(head) if head in cls._value2member_map_ else None

    @classmethod
    def head(cls, text: str) -> str:
        """``text`` without its detail, for a table's "ended" column: ``"early stopping"`` for ``"early stopping:
        val_loss did not improve for 3 epochs"``; text outside the vocabulary as it is."""
        reason = cls.of(text)
        return reason.value if reason is not None else text


def higher_is_better(monitor: str) -> bool:
    """Whether a larger ``monitor`` value is better: accuracies yes, losses (``*loss``) no."""
    return not monitor.endswith("loss")


@dataclass
class TrainState:
    """What a callback may read (and ``stop_training`` / ``stop_reason``, which it may set)."""

    config: Any
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    steps_per_epoch: int
    epoch: int = 0
    step: int = 0                      # steps taken since the start of the run
    epoch_step: int = 0                # steps taken in the current epoch
    stop_training: bool = False
    stop_reason: str = ""
    # this step's gradient norm before clipping and whether it was clipped, where measured (else None): set in
    # on_after_backward (by fit_callbacks.GradClip, or fit_callbacks.StepTrace on its measuring steps), cleared
    # at batch end
    grad_norm: torch.Tensor | None = None
    clipped: torch.Tensor | None = None


HOOKS = ("on_fit_start", "on_epoch_start", "on_loss", "on_after_backward", "on_batch_end", "on_epoch_end",
         "on_fit_end")


class Callback:
    """Base class with no-op hooks; ``fit`` calls them in this order. Per step: ``on_loss`` (the loss is
    computed, before backward; a stop set here skips the step), ``on_after_backward`` (the gradients are
    computed, before the optimizer step: clip or measure them here), ``on_batch_end`` (the step is taken)."""

    def on_fit_start(self, **kwargs: Any) -> None: ...
    def on_epoch_start(self, **kwargs: Any) -> None: ...
    def on_loss(self, **kwargs: Any) -> None: ...
    def on_after_backward(self, **kwargs: Any) -> None: ...
    def on_batch_end(self, **kwargs: Any) -> None: ...
    def on_epoch_end(self, **kwargs: Any) -> None: ...
    def on_fit_end(self, **kwargs: Any) -> None: ...

    def wants_batches(self) -> bool:
        """Whether ``on_batch_end`` is overridden (``fit`` skips the per-step call otherwise)."""
        return type(self).on_batch_end is not Callback.on_batch_end

    def wants(self, hook: str) -> bool:
        """Whether ``hook`` needs calling: it is overridden (for ``on_batch_end``: ``wants_batches``)."""
        if hook == "on_batch_end":
            return self.wants_batches()
        return getattr(type(self), hook) is not getattr(Callback, hook)


class CallbackList:
    """Callbacks called as one, in their order: ``hooks("on_epoch_end", state=..., record=...)`` calls the hook of
    every callback that overrides it (``Callback.wants``), so a step pays only for the callbacks it needs."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)
        self._targets = {hook: [getattr(cb, hook) for cb in self.callbacks if cb.wants(hook)] for hook in HOOKS}

    def __call__(self, hook: str, **kwargs: Any) -> None:
        for method in self._targets[hook]:
            method(**kwargs)


class ProgressBar(Callback):
    """A tqdm.auto bar over epochs with the latest metrics as its postfix."""

    def __init__(self, desc: str = "training") -> None:
        self.desc = desc
        self.bar = None

    def on_fit_start(self, state: TrainState, **kwargs: Any) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.config.epochs, desc=self.desc, unit="epoch", leave=True)

    def on_epoch_end(self, record: dict, **kwargs: Any) -> None:
        self.bar.set_postfix(train_loss=f"{record['train_loss']:.3f}", val_acc=f"{record['val_acc']:.3f}",
                             refresh=False)
        self.bar.update(1)

    def on_fit_end(self, **kwargs: Any) -> None:
        if self.bar is not None:
            self.bar.close()


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, patience: int = 3, monitor: str = "val_loss", min_delta: float = 0.0) -> None:
        patience = checks.whole("patience", patience, 1)
        monitor = checks.choice("monitor", monitor, ("val_loss", "val_acc", "train_loss", "train_acc"))
        min_delta = checks.number("min_delta", min_delta, 0.0, 1e6)  # negative would count a worse epoch as better
        self.patience, self.monitor, self.min_delta = patience, monitor, min_delta
        self.sign = 1.0 if higher_is_better(monitor) else -1.0  # larger is better after the sign
        self.best = -math.inf
        self.waited = 0

    def on_fit_start(self, **kwargs: Any) -> None:
        self.best, self.waited = -math.inf, 0

    def on_epoch_end(self, state: TrainState, record: dict, **kwargs: Any) -> None:
        value = self.sign * record[self.monitor]
        if value > self.best + self.min_delta:
            self.best, self.waited = value, 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            state.stop_training = True
            state.stop_reason = StopReason.EARLY_STOPPING.detail(
                f"{self.monitor} did not improve for {self.patience} epoch{'s' if self.patience > 1 else ''}")


class StopOnEvent(Callback):
    """Stop at the next step once ``event`` is set (the panel's Stop button sets it from the UI thread)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_batch_end(self, state: TrainState, **kwargs: Any) -> None:
        if self.event.is_set():
            state.stop_training = True
            state.stop_reason = StopReason.STOPPED


class LambdaCallback(Callback):
    """Call ``on_epoch(history=..., state=...)`` after each epoch and ``on_step(state=...)`` every ``every`` steps."""

    def __init__(self, on_epoch: Callable[..., None] | None = None, on_step: Callable[..., None] | None = None,
                 every: int = 10) -> None:
        self.on_epoch, self.on_step, self.every = on_epoch, on_step, every

    def on_batch_end(self, state: TrainState, **kwargs: Any) -> None:
        if self.on_step is not None and state.step % self.every == 0:
            self.on_step(state=state)

    def on_epoch_end(self, state: TrainState, history: Any, **kwargs: Any) -> None:
        if self.on_epoch is not None:
            self.on_epoch(state=state, history=history)

    def wants_batches(self) -> bool:
        return self.on_step is not None
