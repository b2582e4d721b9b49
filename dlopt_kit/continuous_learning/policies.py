"""Retraining policies for a model serving a drifting stream, the compute they spend, and model versions.

At each batch of the stream the served model predicts first (its accuracy on the batch's true labels is recorded,
whether or not those labels are known to the policy yet), then the policy may retrain on what it knows:

- ``never``: the model trained before deployment serves the whole stream;
- ``periodic``: retrain every ``every`` batches (``offset`` batches earlier in the cycle: the timer's phase, which
  it cannot choose to suit a drift it does not know of);
- ``triggered``: retrain after a monitor raises an alarm (then wait ``cooldown`` batches before the next).

A retrain trains the served model further (``fit`` from its current weights) on labelled batches not used before,
and with ``replay`` on a sample of the original training data as well, so that the old distribution is not
forgotten; the most recent of those batches is the validation split that picks the kept epoch. A periodic retrain
takes the newest (at most ``window`` of them). A triggered one, as the detect-then-adapt scheme of the drift
literature does (Gama et al., *A survey on concept drift adaptation*, 2014), takes the batches served from the alarm
on: it waits until ``after_alarm`` of them have their labels (with a label delay of 1, ``after_alarm`` batches
after the alarm), so that it learns from data after the change rather than from before it; alarms while it waits
are part of the same change. ``after_alarm=0`` retrains at the alarm on the newest labelled batches instead.
Compute is counted as training examples processed (examples x epochs). Every retrain registers a model version with
its metrics; ``ModelRegistry.rollback`` serves an earlier one again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch

from dlopt_kit.continuous_learning.monitors import Monitor, Reference, batch_signals, check
from dlopt_kit.continuous_learning.stream import Stream
from dlopt_kit.core import checks
from dlopt_kit.core.callbacks import StopReason
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import evaluate, fit, predict_proba

POLICIES = ("never", "periodic", "triggered")


@dataclass
class Version:
    number: int
    batch: int
    state: dict
    metrics: dict


@dataclass
class ModelRegistry:
    """Model versions with the batch they were made at and their metrics; ``rollback`` loads one back."""

    versions: list[Version] = field(default_factory=list)

    def register(self, model: torch.nn.Module, batch: int, **metrics: float) -> Version:
        version = Version(len(self.versions), batch, copy.deepcopy(model.state_dict()), dict(metrics))
        self.versions.append(version)
        return version

    def rollback(self, model: torch.nn.Module, number: int) -> torch.nn.Module:
        """Load version ``number``'s weights into ``model`` and return it."""
        if not 0 <= number < len(self.versions):
            raise ValueError(f"version={number!r} does not exist: choose 0 to {len(self.versions) - 1}")
        model.load_state_dict(self.versions[number].state)
        return model

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"version": v.number, "batch": v.batch, **v.metrics} for v in self.versions]
                            ).set_index("version")


@dataclass
class Policy:
    """When to retrain (``kind``) and how: on at most ``window`` labelled batches not used before (periodic: the
    newest, a sliding window of what the world looks like now; triggered: the first ``after_alarm`` served from the
    alarm on, see the module's text), with a ``replay`` share of each retrain's data from the original training
    split, and ``config`` for the retraining ``fit``."""

    kind: str = "triggered"
    every: int = 10
    cooldown: int = 5
    replay: float = 0.0
    window: int = 5
    after_alarm: int = 5
    offset: int = 0
    config: RunConfig = field(default_factory=lambda: RunConfig(model="mlp", epochs=3, lr=1e-3, batch_size=64,
                                                                monitor="val_acc"))

    def __post_init__(self) -> None:
        self.kind = checks.choice("kind", self.kind, POLICIES)
        self.every = checks.whole("every", self.every, 1)
        self.cooldown = checks.whole("cooldown", self.cooldown, 0)
        self.replay = checks.number("replay", self.replay, 0.0, 0.9)
        self.window = checks.whole("window", self.window, 2)
        self.after_alarm = checks.whole("after_alarm", self.after_alarm, 0, self.window)
        self.offset = checks.whole("offset", self.offset, 0, self.every - 1)
        if not isinstance(self.config, RunConfig):
            text = repr(self.config)
            text = text if len(text) <= 60 else text[:57] + "..."
            raise ValueError(f"config={text} is a {type(self.config).__name__}, not a RunConfig: pass the retraining "
                             "settings as RunConfig(...), e.g. config=RunConfig(model='mlp', epochs=3), or "
                             "RunConfig(**settings) for a dict")


def _retrain_data(stream: Stream, batches: list[int], original: Splits, replay: float, seed: int) -> Splits:
    xs = [stream.batches[b][0] for b in batches]
    ys = [stream.batches[b][1] for b in batches]
    if len(xs) == 1:  # one batch: its first half trains, its second half chooses the epoch
        half = len(ys[0]) // 2
        xs, ys = [xs[0][:half], xs[0][half:]], [ys[0][:half], ys[0][half:]]
    x_val, y_val = xs[-1], ys[-1]
    x_new, y_new = torch.cat(xs[:-1]), torch.cat(ys[:-1])
    if replay > 0:
        count = int(round(len(y_new) * replay / (1 - replay)))
        pick = torch.randperm(len(original.y_train), generator=torch.Generator().manual_seed(seed))[:count]
        x_new, y_new = torch.cat([x_new, original.x_train[pick]]), torch.cat([y_new, original.y_train[pick]])
    return Splits(f"{original.name} [stream]", x_new, y_new, x_val, y_val, x_val[:0], y_val[:0],
                  list(original.classes))


def serve(model: torch.nn.Module, stream: Stream, original: Splits, policy: Policy,
          monitor: Monitor | None = None, seed: int = 0,
          on_batch: Callable[[int, dict], bool] | None = None) -> tuple[pd.DataFrame, ModelRegistry]:
    """Serve ``stream`` with a copy of ``model`` under ``policy``. Returns one row per batch (``accuracy`` of the
    served model on it, ``severity``, ``alarm``, ``retrained``, cumulative ``compute``, ``version``) and the model
    versions, each with the first and last batch it trained on, its accuracy on ``original``'s validation split (the
    old distribution) and on the newest labelled batch (the new one; that batch chose the retrain's epoch, so the
    number runs high) when made.
    ``on_batch(t, row)`` is called after each batch; when it returns True the stream stops there, and the rows so far
    and every version are kept (``frame.attrs["ended"]`` says ``stopped by the user`` instead of ``completed``)."""
    if not isinstance(policy, Policy):
        raise ValueError(f"policy must be a Policy, e.g. Policy('periodic', every=10); got {policy!r}")
    if not isinstance(stream, Stream):
        raise ValueError(f"stream must be a Stream (make_stream's); got {type(stream).__name__}")
    if not isinstance(original, Splits):
        raise ValueError(f"original must be the Splits the model trained on; got {type(original).__name__}")
    seed = checks.whole("seed", seed, 0, 2**32 - 1 - len(stream))  # each retrain's replay draw uses seed + batch
    if policy.kind == "triggered" and monitor is None:
        raise ValueError("policy kind='triggered' needs a monitor (a Threshold or a Detector)")
    model = copy.deepcopy(model)
    registry = ModelRegistry()
    registry.register(model, -1, old_val_acc=evaluate(model, original.x_val, original.y_val)[1])
    reference = Reference.of(model, original.x_val)
    if monitor is not None:
        monitor.reset()
    used: set[int] = set()
    last_retrain, compute, rows = -10**9, 0, []
    change: int | None = None  # the batch of an alarm whose retrain waits for labels from that batch on
    for t, (x, y) in enumerate(stream.batches):
        known_now = stream.labels_known(t)
        signals = batch_signals(model, x, None, reference)  # label-free signals of the batch being served
        accuracy = float((predict_proba(model, x).argmax(1) == y).float().mean())  # for the record only
        alarm = check(monitor, model, stream, t, signals, reference) if monitor is not None else False
        fresh = [b for b in known_now if b not in used][-policy.window:]
        if policy.kind == "triggered" and alarm and change is None and t - last_retrain > policy.cooldown:
            change = t
        if policy.kind == "triggered" and change is not None and policy.after_alarm:
            fresh = [b for b in known_now if b >= change and b not in used][:policy.after_alarm]
            due = len(fresh) == policy.after_alarm
        else:
            timer = (t + 1 + policy.offset) % policy.every == 0
            due = {"never": False, "periodic": timer, "triggered": change is not None}[policy.kind]
        retrained = False
        if due and fresh:
            data = _retrain_data(stream, fresh, original, policy.replay, seed + t)
            result = fit(policy.config.replace(seed=seed), data, progress=False, model=model)
            model = result.model
            epochs = len(result.history.to_frame())
            compute += len(data.y_train) * epochs
            used.update(fresh)
            last_retrain, retrained, change = t, True, None
            registry.register(model, t, first_batch=fresh[0], last_batch=fresh[-1],
                              old_val_acc=evaluate(model, original.x_val, original.y_val)[1],
                              newest_batch_acc=evaluate(model, data.x_val, data.y_val)[1])
            if monitor is not None:
                monitor.reset()  # the detector's past belongs to the model that was replaced
                reference = Reference.of(model, torch.cat([stream.batches[b][0] for b in fresh]))  # the new normal
        rows.append({"batch": t, "severity": stream.severity[t], "accuracy": accuracy, "alarm": alarm,
                     "retrained": retrained, "compute": compute, "version": len(registry.versions) - 1})
        if on_batch is not None and on_batch(t, rows[-1]):
            ended = StopReason.STOPPED.value
            break
    else:
        ended = StopReason.COMPLETED.value
    frame = pd.DataFrame(rows).set_index("batch")
    frame.attrs["ended"] = ended
    return frame, registry
