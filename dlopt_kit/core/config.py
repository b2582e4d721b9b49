"""Run configuration: a frozen dataclass validated on construction.

Every notebook builds a ``RunConfig``; variants come from ``dataclasses.replace`` (or ``config.replace``).
An invalid value raises ``ValueError`` naming the field, the value and what is allowed, so a panel can show
the message as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from dlopt_kit.core import checks
from dlopt_kit.core.augment import AugmentSpec
from dlopt_kit.core.schedules import Schedule

MODELS = ("mlp", "cnn", "linear", "rnn")
OPTIMIZERS = ("sgd", "adam", "adamw")
CLASS_WEIGHTS = ("none", "balanced")
CLIP_BY = ("norm", "value")
MONITORS = ("val_loss", "val_acc")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides one training run (used by every notebook through ``fit`` and the panels)."""

    model: str = "cnn"            # "mlp", "cnn", "linear" (logistic regression: one linear layer) or "rnn" (a GRU)
    optimizer: str = "adam"       # "sgd", "adam" or "adamw"
    lr: float = 1e-3              # step size, in units of the optimizer's update; a schedule's peak
    schedule: Schedule = Schedule()  # how the lr changes during the run: Schedule("cosine", warmup_epochs=1), or
                                  # a kind's name; constant by default (see schedules.Schedule.help())
    batch_size: int = 128         # examples per step
    epochs: int = 5               # passes over the training set
    weight_decay: float = 0.0     # the optimizer's decay of the weights, not of biases or norm parameters: coupled
                                  # (added to the gradient) for sgd and adam, decoupled for adamw
                                  # (0 to 100)
    l1: float = 0.0               # L1 penalty added to the loss: l1 * sum(|w|) over the weights
    l2: float = 0.0               # L2 penalty added to the loss: l2 / 2 * sum(w**2) over the weights (gradient l2 * w)
    momentum: float = 0.9         # sgd only
    hidden: int = 128             # width of the MLP's hidden layers and of the CNN's head
    dropout: float = 0.0          # probability of zeroing a hidden unit: after each hidden layer of the MLP, in the
                                  # CNN's head
    input_dropout: float = 0.0    # probability of zeroing an input pixel (both models, before the first layer)
    batch_norm: bool = False      # normalise activations per batch
    grad_clip: float | None = None  # clipping threshold; None = no clipping
    clip_by: str = "norm"         # "norm": rescale the gradient when its global norm exceeds grad_clip
                                  # (clip_grad_norm_); "value": clamp each element to +-grad_clip (clip_grad_value_)
    label_smoothing: float = 0.0  # cross-entropy target smoothing
    class_weight: str = "none"    # "balanced": each class's loss weighted by n / (classes * its count), as sklearn
    patience: int = 0             # early stopping: stop when `monitor` has not improved by min_delta for this many
                                  # epochs; 0 = never stop early
    min_delta: float = 0.0        # the smallest change of `monitor` that counts as an improvement
    monitor: str = "val_loss"     # "val_loss" or "val_acc": what early stopping watches and the best epoch is chosen by
    augment: AugmentSpec = AugmentSpec()  # transforms applied to each training batch; none by default
    seed: int = 0                 # model init, shuffling, dropout and augmentation

    def __new__(cls, *args: Any, **kwargs: Any) -> RunConfig:
        checks.known_names("setting(s)", kwargs, field_names())  # RunConfig(learning_rate=...) names what exists
        return super().__new__(cls)

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:  # store the plain Python value (np.int64(3) -> 3)
            object.__setattr__(self, name, value)

        put("model", checks.choice("model", self.model, MODELS))
        put("optimizer", checks.choice("optimizer", self.optimizer, OPTIMIZERS))
        put("lr", checks.number("lr", self.lr, 0.0, 10.0, low_open=True))
        put("schedule", Schedule.parse(self.schedule))
        put("batch_size", checks.whole("batch_size", self.batch_size, 1, 65536))
        put("epochs", checks.whole("epochs", self.epochs, 1, 1000))
        put("weight_decay", checks.number("weight_decay", self.weight_decay, 0.0, 100.0))
        put("l1", checks.number("l1", self.l1, 0.0, 1.0))
        put("l2", checks.number("l2", self.l2, 0.0, 1.0))
        put("momentum", checks.number("momentum", self.momentum, 0.0, 1.0, high_open=True))
        put("hidden", checks.whole("hidden", self.hidden, 1, 8192))
        put("dropout", checks.number("dropout", self.dropout, 0.0, 1.0, high_open=True))
        put("input_dropout", checks.number("input_dropout", self.input_dropout, 0.0, 1.0, high_open=True))
        put("batch_norm", checks.flag("batch_norm", self.batch_norm))
        if self.grad_clip is not None:
            put("grad_clip", checks.number("grad_clip", self.grad_clip, 0.0, 1e6, low_open=True))
        put("clip_by", checks.choice("clip_by", self.clip_by, CLIP_BY))
        put("label_smoothing", checks.number("label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True))
        put("class_weight", checks.choice("class_weight", self.class_weight, CLASS_WEIGHTS))
        put("patience", checks.whole("patience", self.patience, 0, 1000))
        put("min_delta", checks.number("min_delta", self.min_delta, 0.0, 1e6))
        put("monitor", checks.choice("monitor", self.monitor, MONITORS))
        if not isinstance(self.augment, AugmentSpec):
            raise ValueError(f"augment={self.augment!r} must be an AugmentSpec, e.g. AugmentSpec(rotate=15)")
        put("seed", checks.whole("seed", self.seed, 0, 2**32 - 1))

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied, validated like a new config."""
        checks.known_names("setting(s)", changes, field_names())
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (JSON-ready): the schedule as ``{"kind": ..., **parameters}``, which ``schedule=``
        accepts back; the augmentation as its strengths."""
        out = dataclasses.asdict(self)
        out["schedule"] = {"kind": self.schedule.kind, **self.schedule.params}
        return out


def field_names() -> list[str]:
    """The names of ``RunConfig``'s fields, in declaration order."""
    return [f.name for f in dataclasses.fields(RunConfig)]


def differing_fields(configs: list[RunConfig], ignore: tuple[str, ...] = ("seed",)) -> list[str]:
    """Fields whose value is not the same across ``configs`` (used to label comparison legends)."""
    names = [n for n in field_names() if n not in ignore]
    return [n for n in names if len({getattr(c, n) for c in configs}) > 1]


def describe(config: RunConfig, fields: list[str]) -> str:
    """A short label such as ``model=cnn, lr=0.001`` from the given fields."""
    return ", ".join(f"{n}={getattr(config, n)!r}".replace("'", "") for n in fields) or "default"
