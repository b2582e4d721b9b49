"""Lesson 08's monitors from the inside: a label-free signal's drift-free distribution against the batch size (PSI
near (k - 1) / n), the vectorised signals against the kit's and scipy's, and the false-alarm/delay trade-off as a
threshold moves (monotone for a level, label delay counted for river's detectors), with their pictures.

The model is fixed: it predicts the brightest of an 8x8 image's first ten pixels, so on uniform noise its classes
are uniform, and a brighter stream (pixels clipped at 1, ties to the first) changes its predictions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from scipy.stats import ks_2samp

from dlopt_kit.continuous_learning.monitors import Reference, Threshold, alarm_report, batch_signals, psi, watch
from dlopt_kit.continuous_learning.stream import DriftSpec, make_stream
from dlopt_kit.continuous_learning.tradeoff import (
    detector_alarms,
    ks_rows,
    null_distribution,
    psi_null_mean,
    psi_rows,
    stream_signals,
    threshold_sweep,
)
from dlopt_kit.continuous_learning.tradeoff_plots import plot_null_distribution, plot_tradeoff
from dlopt_kit.core import dry_run as dry

CLASSES = 10
SHAPE = (1, 8, 8)


@pytest.fixture(autouse=True)
def _full_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dry.DRY_RUN_ENV, raising=False)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    linear = torch.nn.Linear(SHAPE[1] * SHAPE[2], CLASSES)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.zero_()
        linear.weight[:, :CLASSES] = 10 * torch.eye(CLASSES)  # class c: pixel c
    return torch.nn.Sequential(torch.nn.Flatten(), linear).eval()


def images(n: int, seed: int) -> torch.Tensor:
    return torch.rand((n, *SHAPE), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def pool() -> tuple[torch.Tensor, torch.Tensor]:
    """3,000 noise images labelled by the model's rule, a fifth of them relabelled at random (a model about 82%
    right, so that correctness is noisy without drift)."""
    x = images(3000, 1)
    y = x.flatten(1)[:, :CLASSES].argmax(1)
    rng = np.random.default_rng(2)
    noisy = torch.from_numpy(rng.random(len(y)) < 0.2)
    y[noisy] = torch.from_numpy(rng.integers(CLASSES, size=int(noisy.sum())))
    return x, y


@pytest.fixture(scope="module")
def reference_x() -> torch.Tensor:
    return images(2000, 3)


def test_psi_null_mean_is_k_minus_1_over_n_as_a_simulated_uniform_multinomial_says():
    assert psi_null_mean(10, 400) == pytest.approx(9 / 400)
    rng = np.random.default_rng(0)
    uniform = np.full(10, 0.1)
    simulated = psi_rows(uniform, rng.multinomial(400, uniform, size=20000) / 400).mean()
    assert simulated == pytest.approx(9 / 400, rel=0.03)
    small = psi_rows(uniform, rng.multinomial(25, uniform, size=20000) / 25).mean()
    assert small > 1.5 * psi_null_mean(10, 25)  # empty bins, floored at eps, push small batches above it
    with pytest.raises(ValueError, match="k=1 is out of range: allowed is at least 2"):
        psi_null_mean(1, 100)
    with pytest.raises(ValueError, match="n=0 is out of range"):
        psi_null_mean(10, 0)


def test_psi_rows_and_ks_rows_agree_with_the_kit_and_with_scipy():
    rng = np.random.default_rng(0)
    expected = rng.dirichlet(np.ones(10))
    actual = rng.dirichlet(np.ones(10), size=20)
    actual[0, :3] = 0  # empty bins, floored as psi floors them
    assert np.allclose(psi_rows(expected, actual), [psi(expected, row) for row in actual])
    reference = rng.random(300)
    continuous = rng.random((5, 40)) * 0.8 + 0.2
    tied = np.round(rng.random((5, 40)), 1)  # ties within a row and with the reference
    tied_reference = np.round(reference, 1)
    for ref, samples in ((reference, continuous), (tied_reference, tied), (reference, tied)):
        statistic, p = ks_rows(ref, samples)
        for k, row in enumerate(samples):
            scipy = ks_2samp(ref, row, method="asymp")
            assert statistic[k] == pytest.approx(scipy.statistic, abs=1e-12)
            assert p[k] == pytest.approx(scipy.pvalue, rel=1e-9, abs=1e-300)


def test_null_psi_is_near_k_minus_1_over_n_and_its_rules_of_thumb_fire_on_small_batches(model, pool):
    x, _ = pool
    # the pool as its own reference: a batch is a multinomial draw from the reference's own frequencies
    frame = null_distribution(model, x, pool, "prediction_psi", batch_sizes=(25, 100, 400, 1600), batches=400)
    assert list(frame.columns) == ["signal", "batch_size", "batches", "mean", "p95", "p99", "max", "whole pool",
                                   "(k-1)/n", "share > 0.1", "share > 0.25"]
    assert frame["batch_size"].tolist() == [25, 100, 400, 1600] and (frame["batches"] == 400).all()
    assert (frame["whole pool"] == 0).all()
    at = frame.set_index("batch_size")
    assert at.loc[400, "(k-1)/n"] == pytest.approx(9 / 400)
    assert at.loc[400, "mean"] == pytest.approx(9 / 400, rel=0.15)
    assert at.loc[1600, "mean"] == pytest.approx(9 / 1600, rel=0.15)
    assert (frame["mean"] <= frame["p95"]).all() and (frame["p95"] <= frame["p99"]).all()
    assert (frame["p99"] <= frame["max"]).all()
    assert frame["p95"].is_monotonic_decreasing and frame["share > 0.1"].is_monotonic_decreasing
    assert at.loc[25, "share > 0.1"] > 0.9 and at.loc[25, "share > 0.25"] > 0.5  # noise alone crosses both
    assert at.loc[1600, "share > 0.1"] == 0
    assert (frame["share > 0.25"] <= frame["share > 0.1"]).all()


def test_null_distribution_compares_with_the_reference_and_is_seeded(model, pool, reference_x):
    same = null_distribution(model, reference_x, pool, "input_ks", batch_sizes=(100, 400), batches=100)
    assert list(same.columns) == ["signal", "batch_size", "batches", "mean", "p95", "p99", "max", "whole pool",
                                  "share p < 0.05"]
    assert (same["share p < 0.05"] <= 0.15).all()  # same distribution: the test rejects about 5%
    assert same["whole pool"].iloc[0] > 0  # two finite samples differ
    brighter = null_distribution(model, reference_x * 0.9, pool, "input_ks", batch_sizes=(100, 400), batches=100)
    assert (brighter["share p < 0.05"] == 1).all() and (brighter["mean"] > same["mean"] + 0.2).all()
    again = null_distribution(model, reference_x, pool, "input_ks", batch_sizes=(100, 400), batches=100)
    pd.testing.assert_frame_equal(same, again)
    alone = null_distribution(model, reference_x, pool, "input_ks", batch_sizes=(400,), batches=100)
    pd.testing.assert_frame_equal(alone, same.iloc[[1]].reset_index(drop=True))  # a size's draws are its own
    other = null_distribution(model, reference_x, pool, "input_ks", batch_sizes=(100, 400), batches=100, seed=1)
    assert not np.allclose(other["mean"], same["mean"])


def test_null_distribution_refuses_bad_arguments(model, pool, reference_x):
    with pytest.raises(ValueError, match="signal='accuracy' is not allowed: choose one of prediction_psi, input_ks"):
        null_distribution(model, reference_x, pool, "accuracy")
    with pytest.raises(ValueError, match=r"batch_sizes\[1\]=5000 is larger than the pool \(3000 images\): allowed "
                                         "is 1 to 3000"):
        null_distribution(model, reference_x, pool, "prediction_psi", batch_sizes=(100, 5000))
    with pytest.raises(ValueError, match=r"batch_sizes=\(\) must be a non-empty sequence"):
        null_distribution(model, reference_x, pool, "prediction_psi", batch_sizes=())
    with pytest.raises(ValueError, match=r"batch_sizes\[0\]=0 is out of range: allowed is at least 1"):
        null_distribution(model, reference_x, pool, "prediction_psi", batch_sizes=(0,))
    with pytest.raises(ValueError, match="batches=0 is out of range"):
        null_distribution(model, reference_x, pool, "prediction_psi", batches=0)


def test_stream_signals_agree_with_the_monitors_batch_by_batch(model, pool, reference_x):
    reference = Reference.of(model, reference_x)
    stream = make_stream(pool, DriftSpec("brightness", onset=3), batches=6, batch_size=50, seed=0, replace=False)
    signals = stream_signals(model, stream, reference)
    assert signals["correct"].shape == (6, 50)
    for t, (x, y) in enumerate(stream.batches):
        one = batch_signals(model, x, y, reference)
        assert signals["prediction_psi"][t] == pytest.approx(one["prediction_psi"], abs=1e-12)
        assert signals["input_ks"][t] == pytest.approx(one["input_ks"], abs=1e-12)
        assert np.array_equal(signals["correct"][t], one["_correct"])


def sweep(model, pool, reference_x, spec, monitors, **kwargs) -> pd.DataFrame:
    return threshold_sweep(model, reference_x, pool, spec, monitors, **{"batches": 30, "batch_size": 50, **kwargs})


def test_a_higher_level_never_gives_more_false_alarms_nor_a_shorter_delay(model, pool, reference_x):
    levels = {"prediction_psi": [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0],
              "input_ks": [0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 0.95]}
    spec = DriftSpec("brightness", onset=10, speed="gradual", ramp=15, strength=0.1)
    frame = sweep(model, pool, reference_x, spec, levels, streams=3)
    assert list(frame.columns) == ["monitor", "setting", "value", "false alarms per 1000 batches",
                                   "mean delay (batches)", "missed"]
    for monitor, rows in frame.groupby("monitor"):
        rows = rows.sort_values("value")
        assert (rows["setting"] == "level").all() and rows["value"].tolist() == levels[monitor]
        assert rows["false alarms per 1000 batches"].is_monotonic_decreasing
        assert rows["missed"].is_monotonic_increasing
        for (_, loose), (_, strict) in zip(rows.iloc[:-1].iterrows(), rows.iloc[1:].iterrows(), strict=True):
            if loose["missed"] == strict["missed"] and not math.isnan(strict["mean delay (batches)"]):
                assert strict["mean delay (batches)"] >= loose["mean delay (batches)"]
        # the sweep spans the trade-off: from many false alarms to none, from no delay to missing the drift
        alarms = rows["false alarms per 1000 batches"]
        assert alarms.iloc[0] > 100 and alarms.iloc[-1] == 0
        assert rows["mean delay (batches)"].iloc[0] <= 1 and rows["missed"].iloc[-1] == 1
        assert rows["mean delay (batches)"].nunique() > 2
    pd.testing.assert_frame_equal(frame, sweep(model, pool, reference_x, spec, levels, streams=3))


def test_a_level_counts_false_alarms_and_delay_as_the_kits_watch_and_alarm_report_do(model, pool, reference_x):
    spec = DriftSpec("brightness", onset=10, speed="gradual", ramp=15, strength=0.1)
    levels = {"prediction_psi": [0.1, 0.3, 2.0], "input_ks": [0.15, 0.3, 0.95]}
    frame = sweep(model, pool, reference_x, spec, levels, streams=1, seed=4).set_index(["monitor", "value"])
    reference = Reference.of(model, reference_x)
    monitors = [Threshold(signal, level) for signal, values in levels.items() for level in values]
    free = make_stream(pool, DriftSpec("none"), 30, 50, seed=4, delay=1, replace=False)  # seed: seed + 0
    drifting = make_stream(pool, spec, 30, 50, seed=5, delay=1, replace=False)  # seed: seed + streams + 0
    false = alarm_report(watch(model, free, reference, monitors), monitors, None)
    caught = alarm_report(watch(model, drifting, reference, monitors), monitors, drifting.drift_point)
    for m in monitors:
        row = frame.loc[(m.signal, m.level)]
        assert row["false alarms per 1000 batches"] == pytest.approx(1000 * false.loc[m.name, "false alarms"] / 30)
        delay = caught.loc[m.name, "delay (batches)"]
        assert row["missed"] == float(math.isnan(delay))
        assert (math.isnan(row["mean delay (batches)"]) and math.isnan(delay)) or row["mean delay (batches)"] == delay
    assert frame["false alarms per 1000 batches"].max() > 0 and frame["missed"].max() == 1  # not all zero


def test_input_ks_catches_a_sudden_brightness_drift_at_once(model, pool, reference_x):
    frame = sweep(model, pool, reference_x, DriftSpec("brightness", onset=12), {"input_ks": [0.4]}, streams=3)
    row = frame.iloc[0]
    assert row["monitor"] == "input_ks" and row["value"] == 0.4
    assert row["false alarms per 1000 batches"] == 0 and row["mean delay (batches)"] == 0 and row["missed"] == 0


def test_river_detectors_count_the_label_delay_and_trade_alarms_for_delay(model, pool, reference_x):
    monitors = {"adwin": [0.5, 1e-5], "page_hinkley": [2.0, 50.0]}
    frame = sweep(model, pool, reference_x, DriftSpec("brightness", onset=12), monitors, streams=3, delay=2)
    assert frame["setting"].tolist() == ["delta", "delta", "threshold", "threshold"]
    at = frame.set_index(["monitor", "value"])
    for loose, strict in ((("adwin", 0.5), ("adwin", 1e-5)), (("page_hinkley", 2.0), ("page_hinkley", 50.0))):
        assert at.loc[loose, "false alarms per 1000 batches"] > at.loc[strict, "false alarms per 1000 batches"]
        assert at.loc[strict, "missed"] == 0
        assert 2 <= at.loc[strict, "mean delay (batches)"] <= 4  # the labels of the first drifted batch come 2 late
        assert at.loc[loose, "mean delay (batches)"] <= at.loc[strict, "mean delay (batches)"]


def test_detector_alarms_read_labels_late_and_start_afresh_after_an_alarm():
    correct = np.ones((10, 50))
    correct[5:] = 0  # everything wrong from batch 5
    assert detector_alarms("adwin", 0.002, correct, delay=0)[0] == 5
    alarms = detector_alarms("adwin", 0.002, correct, delay=3)
    assert alarms[0] == 8 and alarms.max() <= 9  # batch 5's labels arrive at 8; batches 7 to 9 are never read
    assert len(alarms) == 1  # afresh after the alarm: a constant 0 after it is no change
    assert detector_alarms("page_hinkley", 20.0, correct, delay=1).tolist() == [6]
    assert len(detector_alarms("page_hinkley", 20.0, 1 - correct, delay=0)) == 0  # a rise is not what it watches


def test_a_detector_that_fired_starts_afresh_on_the_rest_of_its_batch(monkeypatch: pytest.MonkeyPatch):
    from river import drift

    class FiresOnItsThirdValue:
        def __init__(self, **options: float) -> None:
            self.seen, self.drift_detected = 0, False

        def update(self, value: float) -> None:
            self.seen += 1
            self.drift_detected = self.seen == 3

    monkeypatch.setattr(drift, "ADWIN", FiresOnItsThirdValue)
    # two values a batch: fresh detectors fire at values 3, 6, 9, ... of the stream, in batches 1, 2, 4, 5, 7
    assert detector_alarms("adwin", 0.1, np.ones((8, 2)), delay=0).tolist() == [1, 2, 4, 5, 7]
    assert detector_alarms("adwin", 0.1, np.ones((8, 2)), delay=1).tolist() == [2, 3, 5, 6]


def test_threshold_sweep_refuses_bad_arguments(model, pool, reference_x):
    spec = DriftSpec("brightness", onset=10)
    bad = [({"cusum": [1.0]}, spec, {}, "unknown monitors cusum: allowed are prediction_psi, input_ks, adwin, "
                                        "page_hinkley"),
           ({"adwin": []}, spec, {}, r"monitors\['adwin'\]=\[\] must be a non-empty sequence of delta values"),
           ({}, spec, {}, "monitors={} must be a non-empty dict"),
           ({"adwin": [0.0]}, spec, {}, r"monitors\['adwin'\]\[0\]=0.0 is out of range: allowed is \(0, 1\)"),
           ({"page_hinkley": [50, 0]}, spec, {}, r"monitors\['page_hinkley'\]\[1\]=0.0 is out of range: allowed is "
                                                 "above 0"),
           ({"input_ks": [-0.1]}, spec, {}, r"monitors\['input_ks'\]\[0\]=-0.1 is out of range"),
           ({"input_ks": [0.3]}, DriftSpec("none"), {}, "must be a DriftSpec that drifts"),
           ({"input_ks": [0.3]}, spec, {"batch_size": 5000, "batches": 1},
            "batch_size=5000 with batches=1 needs 5000 images, the pool holds 3000"),
           ({"input_ks": [0.3]}, spec, {"streams": 0}, "streams=0 is out of range")]
    for monitors, drift, kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            threshold_sweep(model, reference_x, pool, drift, monitors, **kwargs)
    with pytest.raises(ValueError, match=r"pool must be \(x, y\)"):
        threshold_sweep(model, reference_x, pool[0], spec, {"input_ks": [0.3]})


def test_a_dry_run_is_cheap(model, pool, reference_x, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(dry.DRY_RUN_ENV, "1")
    frame = null_distribution(model, reference_x, pool, "prediction_psi", batch_sizes=(25, 2500), batches=200)
    assert (frame["batches"] == dry.BATCHES).all()
    swept = threshold_sweep(model, reference_x, pool, DriftSpec("brightness", onset=3, ramp=1),
                            {"input_ks": [0.3], "adwin": [0.002]}, streams=3, batches=30, batch_size=50)
    assert set(swept["missed"]) <= {0.0, 1.0}  # one drifting stream


def test_plot_tradeoff_draws_a_line_per_monitor_with_its_settings(model, pool, reference_x):
    frame = sweep(model, pool, reference_x, DriftSpec("brightness", onset=12),
                  {"input_ks": [0.2, 0.4, 2.0], "adwin": [0.5, 1e-5]}, streams=2)
    fig = plot_tradeoff(frame)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "symlog" and ax.get_xlim()[0] < 0 <= ax.get_xlim()[1]  # zero false alarms shows
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["input KS > level", "ADWIN on correct (delta)"]
    texts = [t.get_text() for t in ax.texts]
    assert {"0.2", "0.4", "0.5", "1e-05"} <= set(texts) and "missed all: 2" in texts  # KS never reaches 2
    given = plt_axes()
    assert plot_tradeoff(frame, ax=given) is given.figure
    with pytest.raises(ValueError, match="frame lacks the column"):
        plot_tradeoff(frame.drop(columns="missed"))


def test_plot_null_distribution_draws_percentiles_rules_of_thumb_and_the_curve(model, pool, reference_x):
    frame = null_distribution(model, reference_x, pool, "prediction_psi", batch_sizes=(25, 100, 400), batches=50)
    ax = plot_null_distribution(frame).axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = {line.get_label() for line in ax.get_lines()}
    assert {"95th percentile", "99th percentile", "mean", "0.1 (watch)", "0.25 (act)", "(k-1)/n, k = 10"} <= labels
    curve = next(line for line in ax.get_lines() if line.get_label().startswith("(k-1)/n"))
    x, y = curve.get_data()
    assert np.allclose(y, 9 / x)
    ks = null_distribution(model, reference_x, pool, "input_ks", batch_sizes=(25, 100), batches=50)
    ks_labels = {line.get_label() for line in plot_null_distribution(ks).axes[0].get_lines()}
    assert "0.1 (watch)" not in ks_labels and "95th percentile" in ks_labels
    with pytest.raises(ValueError, match="frame lacks the column"):
        plot_null_distribution(frame.drop(columns="p95"))


def plt_axes():
    import matplotlib.pyplot as plt

    return plt.subplots()[1]
