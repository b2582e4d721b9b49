"""Run configuration: a frozen dataclass validated on construction.

Every notebook builds a ``RunConfig``; variants come from ``dataclasses.replace`` (or ``config.replace``).
An invalid value raises ``ValueError`` naming the field, the value and what is allowed, so a panel can show
the message as it is.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .augment import AugmentSpec

MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "adam", "adamw")
CLASS_WEIGHTS = ("none", "balanced")


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed: choose one of {', '.join(allowed)}")


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}={value!r} must be a whole number from {low} to {high}")
    if not low <= value <= high:
        raise ValueError(f"{name}={value!r} is out of range: allowed is {low} to {high}")


def _check_float(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False) -> None:
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    allowed = f"{left}{low:g}, {high:g}{right}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number in {allowed}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        raise ValueError(f"{name}={value!r} is out of range: allowed is {allowed}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides one training run (used by every notebook through ``fit`` and the panels)."""

    model: str = "cnn"            # "mlp" or "cnn"
    optimizer: str = "adam"       # "sgd", "adam" or "adamw"
    lr: float = 1e-3              # step size, in units of the optimizer's update
    batch_size: int = 128         # examples per step
    epochs: int = 5               # passes over the training set
    weight_decay: float = 0.0     # L2 strength (decoupled for adamw)
    momentum: float = 0.9         # sgd only
    hidden: int = 128             # width of the MLP's hidden layers and of the CNN's head
    dropout: float = 0.0          # probability of zeroing an activation
    batch_norm: bool = False      # normalise activations per batch
    grad_clip: float | None = None  # max global gradient norm; None = no clipping
    label_smoothing: float = 0.0  # cross-entropy target smoothing
    class_weight: str = "none"    # "balanced": each class's loss weighted by n / (classes * its count), as sklearn
    augment: AugmentSpec = AugmentSpec()  # transforms applied to each training batch; none by default
    seed: int = 0                 # model init, shuffling, dropout and augmentation

    def __post_init__(self) -> None:
        _check_choice("model", self.model, MODELS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float("lr", self.lr, 0.0, 10.0, low_open=True)
        _check_int("batch_size", self.batch_size, 1, 65536)
        _check_int("epochs", self.epochs, 1, 1000)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_float("momentum", self.momentum, 0.0, 1.0, high_open=True)
        _check_int("hidden", self.hidden, 1, 8192)
        _check_float("dropout", self.dropout, 0.0, 1.0, high_open=True)
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm={self.batch_norm!r} must be True or False")
        if self.grad_clip is not None:
            _check_float("grad_clip", self.grad_clip, 0.0, 1e6, low_open=True)
        _check_float("label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        _check_choice("class_weight", self.class_weight, CLASS_WEIGHTS)
        if not isinstance(self.augment, AugmentSpec):
            raise ValueError(f"augment={self.augment!r} must be an AugmentSpec, e.g. AugmentSpec(rotate=15)")
        _check_int("seed", self.seed, 0, 2**32 - 1)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied, validated like a new config."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}: allowed are {', '.join(field_names())}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
