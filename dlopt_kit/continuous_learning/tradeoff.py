"""Lesson 08's monitors from the inside (``notebooks/08_continuous_learning.ipynb``): what a label-free signal does
when nothing drifts, and what moving a monitor's threshold trades.

- ``null_distribution``: the drift-free distribution of ``prediction_psi`` or ``input_ks`` as a function of the
  batch size. PSI between a batch of ``n`` and its source over ``k`` bins is about ``chi2(k - 1) / n``
  (``psi_null_mean``): the textbook rules of thumb (0.1 "watch", 0.25 "act") were set for large samples, and on
  small batches they fire on noise alone.
- ``threshold_sweep``: false alarms per 1,000 drift-free batches against the detection delay on drifting streams,
  per monitor, as each one's threshold moves: a level for the label-free signals, ADWIN's ``delta`` and
  Page-Hinkley's ``threshold`` (lambda) for river's detectors on per-example correctness, whose labels arrive
  ``delay`` batches late. It is how change-detection papers and river's docs evaluate a detector: no setting is
  best, each buys a shorter delay with more false alarms.

The signals are computed here with arrays (one prediction pass per pool or stream) and agree with
``monitors.batch_signals`` batch by batch; the tests check it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import kstwo

from dlopt_kit.continuous_learning.monitors import Reference
from dlopt_kit.continuous_learning.stream import DriftSpec, Stream, make_stream
from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.training import predict_proba

NULL_SIGNALS = ("prediction_psi", "input_ks")
PSI_RULES = {"watch": 0.1, "act": 0.25}  # the textbook rules of thumb for PSI
KS_ALPHA = 0.05  # the two-sample KS test's significance level in ``null_distribution``
SWEEP_MONITORS = ("prediction_psi", "input_ks", "adwin", "page_hinkley")
SETTING = {"prediction_psi": "level", "input_ks": "level", "adwin": "delta", "page_hinkley": "threshold"}
# a default grid per monitor: loose to strict (a higher level or threshold, a smaller delta, fires less)
SWEEP = {"prediction_psi": (0.02, 0.05, 0.1, 0.25, 0.5),
         "input_ks": (0.1, 0.15, 0.2, 0.3, 0.5),
         "adwin": (0.5, 0.2, 0.05, 0.002, 1e-5),
         "page_hinkley": (5.0, 10.0, 20.0, 50.0, 100.0)}
PSI_EPS = 1e-4  # empty bins are floored here, as ``monitors.psi`` does


def psi_null_mean(k: int, n: int) -> float:
    """The large-sample mean of PSI between a batch of ``n`` and its source over ``k`` bins: ``(k - 1) / n``.

    To second order PSI = sum (a - e) ln(a / e) is sum (a - e)^2 / e, Pearson's chi-square statistic divided by
    ``n``; for ``n`` large it is distributed as chi2(k - 1) / n, whose mean is (k - 1) / n (and whose spread,
    sqrt(2 (k - 1)) / n, shrinks as fast). Against a reference that is itself a sample of ``m``, add (k - 1) / m.
    Small batches leave bins empty and run above it (the floor ``PSI_EPS`` in an empty bin costs ln(e / eps))."""
    k = checks.whole("k", k, 2)
    n = checks.whole("n", n, 1)
    return (k - 1) / n


def psi_rows(expected: np.ndarray, actual: np.ndarray, eps: float = PSI_EPS) -> np.ndarray:
    """``monitors.psi(expected, row)`` for every row of ``actual`` (frequencies, or counts: each row is
    normalised), with empty bins floored at ``eps``."""
    e = np.clip(np.asarray(expected, dtype=float), eps, None)
    a = np.clip(np.asarray(actual, dtype=float), eps, None)
    e, a = e / e.sum(), a / a.sum(axis=1, keepdims=True)
    return np.sum((a - e) * np.log(a / e), axis=1)


def ks_rows(reference: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two-sample Kolmogorov-Smirnov statistic between ``reference`` and each row of ``samples``, with its
    asymptotic two-sided p-value: what ``scipy.stats.ks_2samp(reference, row, method="asymp")`` returns, row by
    row, without the loop. The statistic is the largest gap between the two empirical CDFs, read at every point of
    either sample (both CDFs right-continuous, so ties count as scipy counts them)."""
    r = np.sort(np.asarray(reference, dtype=float))
    s = np.sort(np.asarray(samples, dtype=float), axis=1)
    rows, n = s.shape
    m = len(r)
    at_own = np.abs(np.searchsorted(r, s, side="right") / m - _right_counts(s) / n).max(axis=1)
    ref_cdf = np.searchsorted(r, r, side="right") / m
    at_ref = np.array([np.abs(np.searchsorted(row, r, side="right") / n - ref_cdf).max() for row in s])
    statistic = np.maximum(at_own, at_ref)
    return statistic, kstwo.sf(statistic, np.round(m * n / (m + n)))  # as ks_2samp's method="asymp"


def _right_counts(s: np.ndarray) -> np.ndarray:
    """For sorted rows, how many values of its row are at most each value (the last of a run of ties, plus one)."""
    n = s.shape[1]
    last = np.ones_like(s, dtype=bool)
    last[:, :-1] = s[:, 1:] != s[:, :-1]
    ends = np.where(last, np.arange(n), n)
    return np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1] + 1


def _brightness(x: torch.Tensor) -> np.ndarray:
    return x.flatten(1).mean(1).cpu().numpy()  # as ``monitors`` reads an image's brightness


def _pool_images(pool: tuple[torch.Tensor, torch.Tensor] | torch.Tensor) -> torch.Tensor:
    x = pool[0] if isinstance(pool, (tuple, list)) else pool
    return checks.tensor("pool", x, floating=True)


def _frequencies(predicted: np.ndarray, k: int) -> np.ndarray:
    """Predicted-class frequencies of each row of ``predicted`` (one bincount for all rows)."""
    rows, n = predicted.shape
    counts = np.bincount((predicted + k * np.arange(rows)[:, None]).ravel(), minlength=rows * k)
    return counts.reshape(rows, k) / n


def null_distribution(model: torch.nn.Module, reference_x: torch.Tensor,
                      pool: tuple[torch.Tensor, torch.Tensor] | torch.Tensor, signal: str,
                      batch_sizes: Sequence[int] = (25, 100, 400, 1600), batches: int = 200,
                      seed: int = 0) -> pd.DataFrame:
    """The drift-free distribution of a label-free ``signal`` (``prediction_psi`` or ``input_ks``) per batch size:
    ``batches`` batches of each size drawn at random, with replacement, from ``pool`` (``(x, y)`` or ``x``: images
    the model never saw, e.g. ``stream_pool``'s), each compared with ``Reference.of(model, reference_x)`` as the
    monitors compare a batch. Not batches of the reference itself: those share its images and run low.

    The model predicts the pool once; a batch is a draw of indices, its frequencies one ``np.bincount``. The draws
    for a batch size depend only on ``seed`` and that size. Returns one row per batch size: ``signal``,
    ``batch_size``, ``batches``, ``mean``, ``p95``, ``p99``, ``max`` and ``whole pool`` (the signal of the whole
    pool against the reference: where a batch's value tends as it grows, not 0, as reference and pool are both
    finite samples); for PSI also ``(k-1)/n`` (``psi_null_mean`` over the model's ``k`` classes) and the shares of
    batches above the rules of thumb, ``share > 0.1`` ("watch") and ``share > 0.25`` ("act"); for KS
    ``share p < 0.05``, the share the two-sample KS test (asymptotic p-value) would call drifted. A dry run draws
    ``dry_run.BATCHES`` batches of each size from the pool's first ``dry_run.EXAMPLES`` images."""
    signal = checks.choice("signal", signal, NULL_SIGNALS)
    x_pool = _pool_images(pool)
    sizes = _batch_sizes("batch_sizes", batch_sizes, len(x_pool))
    batches = dry.batches(checks.whole("batches", batches, 1))
    seed = checks.whole("seed", seed, 0)
    reference = Reference.of(model, reference_x)
    (x_pool,) = dry.head(x_pool)
    k = len(reference.frequencies)
    if signal == "prediction_psi":
        values = predict_proba(model, x_pool).argmax(1).numpy()
        whole = float(psi_rows(reference.frequencies, _frequencies(values[None, :], k))[0])
    else:
        values = _brightness(x_pool)
        whole = float(ks_rows(reference.brightness, values[None, :])[0][0])
    rows = []
    for n in sizes:
        drawn = values[np.random.default_rng([seed, n]).integers(len(values), size=(batches, n))]
        row = {"signal": signal, "batch_size": n, "batches": batches}
        if signal == "prediction_psi":
            stat = psi_rows(reference.frequencies, _frequencies(drawn, k))
        else:
            stat, p = ks_rows(reference.brightness, drawn)
        row.update({"mean": stat.mean(), "p95": np.quantile(stat, 0.95), "p99": np.quantile(stat, 0.99),
                    "max": stat.max(), "whole pool": whole})
        if signal == "prediction_psi":
            row["(k-1)/n"] = psi_null_mean(k, n)
            row.update({f"share > {level:g}": float((stat > level).mean()) for level in PSI_RULES.values()})
        else:
            row[f"share p < {KS_ALPHA:g}"] = float((p < KS_ALPHA).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _batch_sizes(name: str, sizes: Sequence[int], pool_size: int) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not len(sizes):
        raise ValueError(f"{name}={sizes!r} must be a non-empty sequence of batch sizes, e.g. (25, 100, 400, 1600)")
    out = []
    for i, n in enumerate(sizes):
        n = checks.whole(f"{name}[{i}]", n, 1)
        if n > pool_size:
            raise ValueError(f"{name}[{i}]={n} is larger than the pool ({pool_size} images): allowed is 1 to "
                             f"{pool_size}")
        out.append(n)
    return out


def stream_signals(model: torch.nn.Module, stream: Stream, reference: Reference) -> dict[str, np.ndarray]:
    """One prediction pass over every batch of ``stream``: per batch ``prediction_psi`` and ``input_ks`` (as
    ``monitors.batch_signals`` computes them) and ``correct``, a (batches, batch_size) array of 0/1 per example."""
    x = torch.cat([b[0] for b in stream.batches])
    y = torch.cat([b[1] for b in stream.batches])
    shape = (len(stream), len(stream.batches[0][1]))
    predicted = predict_proba(model, x).argmax(1)
    k = len(reference.frequencies)
    return {"prediction_psi": psi_rows(reference.frequencies, _frequencies(predicted.numpy().reshape(shape), k)),
            "input_ks": ks_rows(reference.brightness, _brightness(x).reshape(shape))[0],
            "correct": (predicted == y).numpy().astype(float).reshape(shape)}


def detector_alarms(detector: str, value: float, correct: np.ndarray, delay: int) -> np.ndarray:
    """The times (batch indices of the stream) at which river's ``detector`` (``adwin`` with ``delta=value``,
    ``page_hinkley`` with ``threshold=value``, watching for a fall) raises an alarm on per-example ``correct``
    whose labels arrive ``delay`` batches late: at time ``t`` it reads batch ``t - delay``, one example at a time,
    and after an alarm it starts afresh (a detector that has fired is reset, as after a retrain)."""
    from river import drift

    def fresh() -> drift.ADWIN | drift.PageHinkley:
        if detector == "adwin":
            return drift.ADWIN(delta=value)
        return drift.PageHinkley(threshold=value, mode="down")  # a fall in correctness; river's default is both

    watcher, alarms = fresh(), []
    for b, batch in enumerate(correct[: max(0, len(correct) - delay)]):
        fired = False
        for v in batch:
            watcher.update(float(v))
            if watcher.drift_detected:
                fired, watcher = True, fresh()  # the rest of the batch goes to the fresh one
        if fired:
            alarms.append(b + delay)  # one alarm per batch, however many times it fired in it
    return np.array(alarms, dtype=int)


def threshold_sweep(model: torch.nn.Module, reference_x: torch.Tensor, pool: tuple[torch.Tensor, torch.Tensor],
                    spec: DriftSpec, monitors: Mapping[str, Sequence[float]] = SWEEP, streams: int = 3,
                    batches: int = 60, batch_size: int = 100, seed: int = 0, delay: int = 1) -> pd.DataFrame:
    """The false-alarm/delay trade-off of each monitor in ``monitors`` (name -> settings, see ``SWEEP``) as its
    threshold moves: ``prediction_psi`` and ``input_ks`` above a level; river's ``adwin`` (its ``delta``) and
    ``page_hinkley`` (its ``threshold``, lambda) on per-example correctness, with labels ``delay`` batches late.

    False alarms are counted on ``streams`` drift-free streams (seeds ``seed``, ``seed + 1``, ...) and reported
    per 1,000 batches the monitor read (a label-based one reads ``delay`` fewer per stream); the detection delay on
    ``streams`` streams drifting as ``spec`` says (seeds ``seed + streams``, ...), each ``batches`` of
    ``batch_size`` drawn without replacement from ``pool`` (``make_stream``). The delay is from the drift point to
    the first alarm at or after it, label delay included (as ``monitors.check`` and ``alarm_report`` count it);
    a detector is reset after each alarm. Each stream is predicted once and every level read off its arrays.

    Returns one row per (monitor, setting): ``monitor``, ``setting`` (``level``, ``delta`` or ``threshold``),
    ``value``, ``false alarms per 1000 batches``, ``mean delay (batches)`` (over the drifting streams where it
    fired; NaN where it fired on none) and ``missed`` (the share of drifting streams where it never fired after the
    drift point). A dry run uses one stream of each kind, of ``make_stream``'s dry-run length."""
    if not isinstance(spec, DriftSpec) or spec.kind == "none":
        raise ValueError(f"spec={spec!r} must be a DriftSpec that drifts: kind one of brightness, rotation, "
                         "label_shift, concept (drift-free streams are drawn for the false alarms)")
    settings = _settings(monitors)
    streams = dry.cap(checks.whole("streams", streams, 1), 1)
    batches = checks.whole("batches", batches, 1)
    batch_size = checks.whole("batch_size", batch_size, 1)
    delay = checks.whole("delay", delay, 0)
    seed = checks.whole("seed", seed, 0)
    if not isinstance(pool, (tuple, list)) or len(pool) != 2:
        raise ValueError(f"pool must be (x, y), images and their labels (e.g. stream_pool's); got "
                         f"{type(pool).__name__}")
    x_pool = _pool_images(pool)
    if batch_size * batches > len(x_pool):
        raise ValueError(f"batch_size={batch_size} with batches={batches} needs {batch_size * batches} images, the "
                         f"pool holds {len(x_pool)}: draw fewer or smaller batches")
    reference = Reference.of(model, reference_x)
    free = [stream_signals(model, make_stream(pool, DriftSpec("none"), batches, batch_size, seed + s,
                                              delay=delay, replace=False), reference) for s in range(streams)]
    drifting, drift_points = [], []
    for s in range(streams):
        stream = make_stream(pool, spec, batches, batch_size, seed + streams + s, delay=delay, replace=False)
        drifting.append(stream_signals(model, stream, reference))
        drift_points.append(stream.drift_point if stream.drift_point is not None else len(stream))
    rows = []
    for name, values in settings.items():
        for value in values:
            lag = delay if name in ("adwin", "page_hinkley") else 0
            alarms = [_alarm_times(name, value, signals, lag) for signals in free]
            read = sum(max(0, len(signals["correct"]) - lag) for signals in free)
            delays = [_first_after(_alarm_times(name, value, signals, lag), point)
                      for signals, point in zip(drifting, drift_points, strict=True)]
            found = [d for d in delays if not math.isnan(d)]
            rows.append({"monitor": name, "setting": SETTING[name], "value": value,
                         "false alarms per 1000 batches": 1000 * sum(map(len, alarms)) / read if read else math.nan,
                         "mean delay (batches)": float(np.mean(found)) if found else math.nan,
                         "missed": 1 - len(found) / len(delays)})
    return pd.DataFrame(rows)


def _alarm_times(name: str, value: float, signals: dict[str, np.ndarray], lag: int) -> np.ndarray:
    if name in ("prediction_psi", "input_ks"):
        return np.flatnonzero(signals[name] > value)
    return detector_alarms(name, value, signals["correct"], lag)


def _first_after(alarms: np.ndarray, point: int) -> float:
    after = alarms[alarms >= point]
    return float(after[0] - point) if len(after) else math.nan


def _settings(monitors: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
    """``monitors`` checked: known names, each with a non-empty list of valid settings."""
    if not isinstance(monitors, Mapping) or not monitors:
        raise ValueError(f"monitors={monitors!r} must be a non-empty dict of monitor -> settings, e.g. "
                         f"{{'input_ks': {SWEEP['input_ks']}}}: monitors are {', '.join(SWEEP_MONITORS)}")
    checks.known_names("monitors", monitors, SWEEP_MONITORS)
    out = {}
    for name, values in monitors.items():
        field = f"monitors[{name!r}]"
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not len(values):
            raise ValueError(f"{field}={values!r} must be a non-empty sequence of {SETTING[name]} values, e.g. "
                             f"{SWEEP[name]}")
        checked = []
        for i, v in enumerate(values):
            where = f"{field}[{i}]"
            if name == "adwin":
                checked.append(checks.number(where, v, 0.0, 1.0, low_open=True, high_open=True))
                continue
            v = checks.finite(where, v)
            if v < 0 or (name == "page_hinkley" and v == 0):
                allowed = "above 0" if name == "page_hinkley" else "0 or above"
                raise ValueError(f"{where}={v!r} is out of range: allowed is {allowed}")
            checked.append(v)
        out[name] = checked
    return out
