"""Monitors for a deployed model: signals per batch of a stream, alarms, and how well each monitor caught a drift.

Signals (``SIGNALS``), each computed on one batch against a reference (the validation split, where the model was
known to be good):

- ``accuracy``: needs the batch's labels; NaN where they are not known yet;
- ``confidence``: the mean probability of the predicted class (label-free);
- ``prediction_psi``: the population stability index between the predicted-class frequencies of the batch and of
  the reference (label-free; 0.1 is the usual "watch", 0.25 the usual "act");
- ``input_ks``: the two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``) between the images' mean
  brightness in the batch and in the reference (label-free, looks only at inputs).

Monitors: ``Threshold`` raises an alarm when a signal crosses a level; ``Detector`` feeds a per-example value
(correct or not, the predicted class's probability) into a streaming drift detector from ``river`` (ADWIN or
Page-Hinkley) and raises an alarm when it reports a change. ``alarm_report`` measures each monitor against the
known drift point: detection delay in batches, and false alarms before the drift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy.stats import ks_2samp

from dlopt_kit.continuous_learning.stream import Stream
from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import predict_proba

SIGNALS = ("accuracy", "confidence", "prediction_psi", "input_ks")
DETECTORS = ("adwin", "page_hinkley")
EXAMPLE_VALUES = ("correct", "confidence")


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """Population stability index between two frequency vectors (each summing to 1): sum (a - e) * ln(a / e), with
    empty bins floored at ``eps``."""
    e = np.clip(np.asarray(expected, dtype=float), eps, None)
    a = np.clip(np.asarray(actual, dtype=float), eps, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class Reference:
    """What the monitors compare a batch with: the reference split's predicted-class frequencies and the images'
    mean brightness (in a dry run, of the split's first ``dry_run.EXAMPLES`` images)."""

    frequencies: np.ndarray
    brightness: np.ndarray

    @classmethod
    def of(cls, model: torch.nn.Module, x: torch.Tensor) -> Reference:
        (x,) = dry.head(x)
        probs = predict_proba(model, x)
        predicted = probs.argmax(1).numpy()
        return cls(np.bincount(predicted, minlength=probs.shape[1]) / len(predicted), _brightness(x))


def _brightness(x: torch.Tensor) -> np.ndarray:
    return x.flatten(1).mean(1).cpu().numpy()


def batch_signals(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, reference: Reference) -> dict:
    """Every signal of one batch (``accuracy`` NaN when ``y`` is None), with the per-example values detectors read
    (``correct`` and ``confidence`` arrays)."""
    probs = predict_proba(model, x)
    confidence, predicted = probs.max(1)
    frequencies = np.bincount(predicted.numpy(), minlength=len(reference.frequencies)) / len(predicted)
    correct = (predicted == y.cpu()).numpy().astype(float) if y is not None else None
    return {"accuracy": float(correct.mean()) if correct is not None else math.nan,
            "confidence": float(confidence.mean()),
            "prediction_psi": psi(reference.frequencies, frequencies),
            "input_ks": float(ks_2samp(reference.brightness, _brightness(x)).statistic),
            "_correct": correct, "_confidence": confidence.numpy()}


@dataclass
class Threshold:
    """An alarm when ``signal`` goes above ``level`` (``below=True``: below it)."""

    signal: str
    level: float
    below: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        checks.choice("signal", self.signal, SIGNALS)
        checks.finite("level", self.level)
        self.name = self.name or f"{self.signal} {'<' if self.below else '>'} {self.level:.3g}"

    @property
    def needs_labels(self) -> bool:
        return self.signal == "accuracy"

    def reset(self) -> None:
        pass

    def alarm(self, signals: dict) -> bool:
        value = signals[self.signal]
        return bool(not math.isnan(value) and (value < self.level if self.below else value > self.level))


@dataclass
class Detector:
    """A ``river`` drift detector (``adwin`` or ``page_hinkley``) over a per-example value: ``correct`` (needs
    labels; batches without them are skipped) or ``confidence`` (label-free). ``options`` go to the detector."""

    detector: str = "adwin"
    value: str = "confidence"
    options: dict = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        checks.choice("detector", self.detector, DETECTORS)
        checks.choice("value", self.value, EXAMPLE_VALUES)
        self.name = self.name or f"{self.detector} on {self.value}"
        self.reset()

    @property
    def needs_labels(self) -> bool:
        return self.value == "correct"

    def reset(self) -> None:
        from river import drift

        kind = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley}[self.detector]
        self._detector = kind(**self.options)

    def alarm(self, signals: dict) -> bool:
        values = signals[f"_{self.value}"]
        if values is None:
            return False
        fired = False
        for v in values:
            self._detector.update(float(v))
            fired = fired or self._detector.drift_detected
        return fired


Monitor = Threshold | Detector


def arrivals(stream: Stream, t: int) -> list[int]:
    """The batches whose labels arrive at time ``t`` (labelled ones, ``delay`` batches after they were served)."""
    b = t - stream.delay
    return [b] if b >= 0 and stream.labelled_batches[b] else []


def check(monitor: Monitor, model: torch.nn.Module, stream: Stream, t: int, signals: dict,
          reference: Reference) -> bool:
    """Whether ``monitor`` raises an alarm at time ``t``: a label-free one reads batch ``t``'s ``signals``, one that
    needs labels reads the batches whose labels arrive at ``t`` (so label delay counts in its detection delay)."""
    if not monitor.needs_labels:
        return monitor.alarm(signals)
    fired = False
    for b in arrivals(stream, t):
        fired = monitor.alarm(batch_signals(model, *stream.batches[b], reference)) or fired
    return fired


def alarm_column(monitor: Monitor | str) -> str:
    """The column of ``watch``'s frame that holds ``monitor``'s alarms: ``alarm: <its name>``."""
    return f"alarm: {monitor if isinstance(monitor, str) else monitor.name}"


def watch(model: torch.nn.Module, stream: Stream, reference: Splits | Reference,
          monitors: Sequence[Monitor] = ()) -> pd.DataFrame:
    """Score ``model`` on every batch of ``stream`` (no retraining): one row per batch with ``severity``, every
    signal (``accuracy`` of the batch on its true labels, for the record) and, per monitor, whether it raised an
    alarm at that batch (column ``alarm: <monitor's name>``); monitors that need labels see them only when they
    arrive (``stream.delay``)."""
    ref = reference if isinstance(reference, Reference) else Reference.of(model, reference.x_val)
    for m in monitors:
        m.reset()
    rows = []
    for t, (x, y) in enumerate(stream.batches):
        signals = batch_signals(model, x, y, ref)
        row = {"batch": t, "severity": stream.severity[t], **{k: v for k, v in signals.items() if k[0] != "_"}}
        row.update({alarm_column(m): check(m, model, stream, t, signals, ref) for m in monitors})
        rows.append(row)
    return pd.DataFrame(rows).set_index("batch")


def alarm_report(frame: pd.DataFrame, monitors: Sequence[Monitor] | Sequence[str], drift_point: int | None,
                 ) -> pd.DataFrame:
    """Per monitor: false alarms (alarms before ``drift_point``), the first alarm at or after it and the detection
    delay in batches (NaN when it never fired after the drift)."""
    rows = {}
    for m in monitors:
        name = m if isinstance(m, str) else m.name
        alarms = np.flatnonzero(frame[alarm_column(name)].to_numpy())
        start = len(frame) if drift_point is None else drift_point
        after = alarms[alarms >= start]
        rows[name] = {"false alarms": int((alarms < start).sum()),
                      "first alarm after drift": int(after[0]) if len(after) else math.nan,
                      "delay (batches)": int(after[0] - start) if len(after) else math.nan}
    return pd.DataFrame(rows).T.rename_axis("monitor")
