"""Learning-rate schedules (lesson 06): a validated ``Schedule`` spec that builds PyTorch's own schedulers.

Every schedule is built from ``torch.optim.lr_scheduler``; nothing here computes a learning rate by hand. The
config's ``lr`` is the schedule's **peak**: the lr a constant, step or exponential schedule starts from, the top of
a cycle, one-cycle's ``max_lr``, and the lr cosine reaches at the end of its warm-up. Parameters are in their own
units (epochs, fractions of ``lr``, fractions of the run), so one spec fits any dataset size and batch size.

``step`` and ``exponential`` change the lr once per epoch, as their PyTorch documentation steps them; ``cyclic``,
``onecycle`` and ``cosine`` change it after every batch. ``lr_curve`` gives the lr of every step of a run without
training (the panel's preview uses it), by stepping the same scheduler over a throwaway optimizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.optim import lr_scheduler

from dlopt_kit.core import checks

# kind -> parameter -> (default, low, high, unit); a tuple of strings as (low) means a choice among them
PARAMS: dict[str, dict[str, tuple[Any, ...]]] = {
    "constant": {},
    "step": {"step_size": (3, 1, 1000, "epochs between two drops"),
             "gamma": (0.3, 0.0, 1.0, "factor the lr is multiplied by at each drop")},
    "exponential": {"gamma": (0.7, 0.0, 1.0, "factor the lr is multiplied by after each epoch")},
    "cyclic": {"mode": ("triangular", ("triangular", "triangular2"), None,
                        "triangular repeats the same cycle; triangular2 halves its height each cycle"),
               "cycle_epochs": (2.0, 0.0, 1000.0, "epochs per cycle, up and down"),
               "base_factor": (0.1, 0.0, 1.0, "the lowest lr, as a fraction of lr")},
    "onecycle": {"pct_start": (0.3, 0.0, 1.0, "fraction of the run spent raising the lr to its peak"),
                 "div_factor": (25.0, 1.0, 1e6, "the first lr is lr / div_factor"),
                 "final_div_factor": (1e4, 1.0, 1e9, "the last lr is the first / final_div_factor")},
    "cosine": {"warmup_epochs": (1.0, 0.0, 1000.0, "epochs of linear warm-up from near 0 to lr"),
               "min_factor": (0.0, 0.0, 1.0, "the last lr, as a fraction of lr")},
}
KINDS = tuple(PARAMS)
PER_BATCH = ("cyclic", "onecycle", "cosine")  # the others step once per epoch
INTEGER_PARAMS = ("step_size",)
OPEN_LOW = ("gamma", "cycle_epochs", "pct_start")     # 0 is not allowed for these
OPEN_HIGH = ("pct_start",)                            # nor 1


def _check(kind: str, name: str, value: Any) -> Any:
    default, low, high, unit = PARAMS[kind][name]
    try:
        if isinstance(low, tuple):
            return checks.choice(f"schedule {kind} {name}", value, low)
        if name in INTEGER_PARAMS:
            return checks.whole(f"schedule {kind} {name}", value, low, high)
        return checks.number(f"schedule {kind} {name}", value, low, high, low_open=name in OPEN_LOW,
                             high_open=name in OPEN_HIGH)
    except ValueError as exc:
        raise ValueError(f"{exc} ({unit})") from None


class Schedule:
    """A learning-rate schedule: ``kind`` and its parameters, checked on construction.

    ``Schedule("cosine", warmup_epochs=1)``, ``Schedule("step", step_size=3, gamma=0.3)``; parameters left out take
    their defaults (``Schedule.help()`` lists kinds, parameters, defaults and units). Equal specs compare and hash
    equal, so configs that hold them can be compared and labelled.
    """

    __slots__ = ("kind", "_params")

    def __init__(self, kind: str = "constant", **params: Any) -> None:
        kind = checks.choice("schedule", kind, KINDS)
        checks.known_names(f"parameter(s) for the {kind} schedule", params, tuple(PARAMS[kind]) or ("none",))
        values = {name: _check(kind, name, params.get(name, spec[0])) for name, spec in PARAMS[kind].items()}
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "_params", tuple(values.items()))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Schedule is immutable: build a new one, or use .replace(...)")

    def __reduce__(self) -> tuple:
        """Pickle as the call that builds it (worker processes receive configs that hold a schedule)."""
        return (_rebuild, (self.kind, dict(self._params)))

    @classmethod
    def parse(cls, value: Schedule | str | Mapping) -> Schedule:
        """A ``Schedule`` from itself, a kind (``"cosine"``) or a dict ``{"kind": "step", "gamma": 0.5}``."""
        if isinstance(value, Schedule):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            params = {str(k): v for k, v in value.items()}
            try:
                return cls(params.pop("kind", "constant"), **params)
            except ValueError as exc:
                raise ValueError(f"schedule={dict(value)!r} is not allowed: {exc}") from None
        raise ValueError(f"schedule={value!r} must be a Schedule, a kind ({', '.join(KINDS)}) or a dict with "
                         "'kind' and its parameters")

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    @property
    def per_batch(self) -> bool:
        """Whether the scheduler steps after every batch (else after every epoch)."""
        return self.kind in PER_BATCH

    def replace(self, **changes: Any) -> Schedule:
        return Schedule(self.kind, **{**self.params, **changes})

    @staticmethod
    def help() -> str:
        lines = []
        for kind, params in PARAMS.items():
            lines.append(f"{kind}: " + ("the lr stays at lr" if not params else ""))
            for name, (default, low, high, unit) in params.items():
                allowed = " or ".join(low) if isinstance(low, tuple) else f"{low:g} to {high:g}"
                lines.append(f"    {name} = {default} ({allowed}): {unit}")
        return "\n".join(lines)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and (self.kind, self._params) == (other.kind, other._params)

    def __hash__(self) -> int:
        return hash((self.kind, self._params))

    def __repr__(self) -> str:  # short, for legends: "cosine(warmup_epochs=1, min_factor=0)"
        inner = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self._params)
        return f"{self.kind}({inner})" if inner else self.kind

    def __deepcopy__(self, memo: dict) -> Schedule:  # immutable: dataclasses.asdict may share it
        return self

    # ------------------------------------------------------------ fitting the run
    def check_run(self, epochs: int, steps_per_epoch: int | None = None) -> None:
        """Refuse, naming the parameter, its value and the run's length, a schedule that a run of ``epochs`` epochs
        (of ``steps_per_epoch`` steps, where known) cannot carry out: a ``step`` drop later than the run's last
        epoch (the lr never drops), a ``cyclic`` rise of half a cycle as long as the run (the lr never reaches
        ``lr``, no cycle happens), a ``cosine`` warm-up that fills the run (the lr creeps up from lr / warm-up steps,
        e.g. 4e-07 from 1e-3, and never anneals) and a ``onecycle`` warm-up of one step or less (the lr never rises:
        the run trains near its last lr, lr / div_factor / final_div_factor). ``build`` checks it; a recipe checks
        the epochs when it is loaded. A step drop exactly at the end of the run (``step_size == epochs``) is allowed:
        it is how a step schedule's shape is shown over a short run."""
        epochs = checks.whole("epochs", epochs, 1)
        steps = None if steps_per_epoch is None else checks.whole("steps_per_epoch", steps_per_epoch, 1)
        p, name = self.params, f"schedule {self.kind}"
        run = _count(epochs, "epoch") + ("" if steps is None else f" x {_count(steps, 'step')} = "
                                                                 f"{_count(epochs * steps, 'step')}")
        if self.kind == "step" and p["step_size"] > epochs:
            raise ValueError(f"{name} step_size={p['step_size']} is longer than the run ({run}): the lr would never "
                             f"drop; use a step_size of at most {epochs} (drops every step_size epochs) or more epochs")
        if self.kind == "cyclic":
            rise = p["cycle_epochs"] / 2
            if rise >= epochs if steps is None else max(1, round(rise * steps)) >= epochs * steps:
                raise ValueError(f"{name} cycle_epochs={p['cycle_epochs']:g} is too long for the run ({run}): the lr "
                                 f"rises for half a cycle ({_count(rise, 'epoch')}) and would never reach lr, so no "
                                 f"cycle happens; use cycle_epochs below {2 * epochs:g} (e.g. {min(2.0, epochs):g}) "
                                 "or more epochs")
        warmup = p.get("warmup_epochs", 0)
        if self.kind == "cosine" and warmup > 0 and (
                warmup >= epochs if steps is None else round(warmup * steps) >= epochs * steps - 1):
            raise ValueError(f"{name} warmup_epochs={warmup:g} fills the run ({run}): the lr would creep up from lr / "
                             "warm-up steps for the whole run and never anneal; use warmup_epochs below "
                             f"{epochs:g} (e.g. {min(1.0, epochs / 5):g}) or more epochs")
        if self.kind == "onecycle" and steps is not None and p["pct_start"] * epochs * steps <= 1:
            total = epochs * steps
            fix = (f"raise pct_start above {1 / total:.3g}, or " if total > 1 else "") + "train more epochs or use " \
                "a smaller batch_size"
            raise ValueError(f"{name} pct_start={p['pct_start']:g} gives a warm-up of "
                             f"{_count(p['pct_start'] * total, 'step')} in the run ({run}): one-cycle needs a warm-up "
                             "of more than one step, or the lr never rises to lr and the run trains near its last lr "
                             f"(lr / {p['div_factor'] * p['final_div_factor']:g}); {fix}")

    # ------------------------------------------------------------ building the scheduler
    def build(self, optimizer: torch.optim.Optimizer, epochs: int,
              steps_per_epoch: int) -> lr_scheduler.LRScheduler | None:
        """The PyTorch scheduler for a run of ``epochs`` x ``steps_per_epoch`` steps whose peak lr is the optimizer's
        current lr (None for ``constant``). Step it after every batch when ``per_batch``, else after every epoch.
        A schedule the run cannot carry out is refused first (``check_run``)."""
        self.check_run(epochs, steps_per_epoch)
        p = self.params
        total = epochs * steps_per_epoch
        peak = optimizer.param_groups[0]["lr"]
        if self.kind == "constant":
            return None
        if self.kind == "step":
            return lr_scheduler.StepLR(optimizer, step_size=p["step_size"], gamma=p["gamma"])
        if self.kind == "exponential":
            return lr_scheduler.ExponentialLR(optimizer, gamma=p["gamma"])
        if self.kind == "cyclic":
            half = max(1, round(p["cycle_epochs"] * steps_per_epoch / 2))
            # cycle_momentum off: the schedule moves the lr only, whatever the optimizer
            return lr_scheduler.CyclicLR(optimizer, base_lr=peak * p["base_factor"], max_lr=peak,
                                         step_size_up=half, mode=p["mode"], cycle_momentum=False)
        if self.kind == "onecycle":
            return lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total, pct_start=p["pct_start"],
                                           div_factor=p["div_factor"], final_div_factor=p["final_div_factor"],
                                           cycle_momentum=False)
        # cosine: linear warm-up, then cosine annealing whose last step is at the minimum
        warmup = min(round(p["warmup_epochs"] * steps_per_epoch), total - 1)
        cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup - 1),
                                                eta_min=peak * p["min_factor"])
        if warmup == 0:
            return cosine
        ramp = lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup)
        return lr_scheduler.SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])


def lr_curve(schedule: Schedule | str, lr: float, epochs: int, steps_per_epoch: int) -> np.ndarray:
    """The lr of every step of a run (``epochs * steps_per_epoch`` values), computed by stepping the scheduler
    ``schedule`` builds over a throwaway optimizer: no model, no data, no training. ``fit`` steps it the same way,
    so a run's recorded lrs equal this curve."""
    schedule = Schedule.parse(schedule)
    lr = checks.number("lr", lr, 0.0, 10.0, low_open=True)
    epochs = checks.whole("epochs", epochs, 1, 1000)
    steps_per_epoch = checks.whole("steps_per_epoch", steps_per_epoch, 1, 10**6)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = schedule.build(optimizer, epochs, steps_per_epoch)
    out = np.empty(epochs * steps_per_epoch)
    for step in range(len(out)):
        out[step] = optimizer.param_groups[0]["lr"]
        optimizer.step()  # a no-op without gradients; keeps the scheduler's step-order check quiet
        if scheduler is not None and (schedule.per_batch or (step + 1) % steps_per_epoch == 0):
            scheduler.step()
    return out


def _count(n: float, unit: str) -> str:
    """``3 epochs``, ``1 step``, ``0.9 steps``."""
    return f"{n if isinstance(n, int) else f'{n:.3g}'} {unit}{'' if n == 1 else 's'}"


def _rebuild(kind: str, params: dict[str, Any]) -> Schedule:
    return Schedule(kind, **params)
