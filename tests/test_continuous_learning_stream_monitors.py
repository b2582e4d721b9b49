"""Lesson 08's drifting stream and its monitors: each drift kind does what it says, labels arrive as set, and the
monitors' alarms are measured against the drift point."""

import math

import numpy as np
import pytest
import torch

from dlopt_kit.continuous_learning.monitors import (
    Detector,
    Reference,
    Threshold,
    alarm_column,
    alarm_report,
    arrivals,
    batch_signals,
    psi,
    watch,
)
from dlopt_kit.continuous_learning.stream import DriftSpec, make_stream
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import fit


@pytest.fixture(scope="module")
def model(small):
    return fit(RunConfig(model="mlp", hidden=64, lr=3e-3, batch_size=64, epochs=4, monitor="val_acc"), small,
               progress=False).model


def test_severity_is_sudden_or_a_linear_ramp_from_the_onset():
    sudden, gradual = DriftSpec("rotation", onset=3), DriftSpec("rotation", onset=3, speed="gradual", ramp=4)
    assert [sudden.severity(t) for t in range(6)] == [0, 0, 0, 1, 1, 1]
    assert [gradual.severity(t) for t in range(2, 9)] == [0, 0.25, 0.5, 0.75, 1, 1, 1]
    assert DriftSpec("none").severity(100) == 0
    with pytest.raises(ValueError, match="kind='fog' is not allowed: choose one of none, brightness"):
        DriftSpec("fog")
    with pytest.raises(ValueError, match="strength=2"):
        DriftSpec("brightness", strength=2)


def test_each_drift_changes_what_it_says_and_nothing_before_the_onset(small):
    kwargs = dict(batches=6, batch_size=200, seed=1)
    clean = make_stream(small, DriftSpec("none"), **kwargs)
    for kind in ("brightness", "rotation", "label_shift", "concept"):
        stream = make_stream(small, DriftSpec(kind, onset=3), **kwargs)
        assert stream.drift_point == 3 and stream.severity[:3] == [0, 0, 0]
        for t in range(3):  # same seed, same draws before the drift
            assert torch.equal(stream.batches[t][0], clean.batches[t][0])
        x, y = stream.batches[4]
        if kind == "brightness":
            assert x.mean() > clean.batches[4][0].mean() + 0.3
        if kind == "label_shift":
            favoured = (y < 5).float().mean()
            assert favoured > 0.8  # strength 0.9 of a batch from the first half of the classes
        if kind == "concept":  # every Sneaker (7) is labelled Sandal (5) and the other way round
            pool_y = small.y_test
            assert set(y.tolist()) <= set(pool_y.tolist()) and (y == 7).any()
    concept = make_stream(small, DriftSpec("concept", onset=0), batches=1, batch_size=500, seed=0)
    x, y = concept.batches[0]
    clean_x, clean_y = make_stream(small, DriftSpec("none"), batches=1, batch_size=500, seed=0).batches[0]
    assert torch.equal(x, clean_x)
    assert torch.equal(y[clean_y == 7], torch.full_like(y[clean_y == 7], 5))


def test_labels_arrive_late_and_only_for_a_share_of_the_batches(small):
    stream = make_stream(small, DriftSpec("none"), batches=40, batch_size=10, seed=0, delay=3, labelled=0.5)
    assert stream.labels_known(2) == []
    known = stream.labels_known(39)
    assert max(known) <= 36 and 8 < len(known) < 30
    with pytest.raises(ValueError, match="labelled=1.5"):
        make_stream(small, DriftSpec("none"), labelled=1.5)


def test_psi_is_zero_for_equal_frequencies_and_grows_with_the_shift():
    even = np.full(4, 0.25)
    assert psi(even, even) == 0
    assert 0 < psi(even, [0.3, 0.3, 0.2, 0.2]) < psi(even, [0.7, 0.1, 0.1, 0.1])


def test_signals_move_with_drift_and_monitors_are_measured_against_the_drift_point(model, small):
    stream = make_stream(small, DriftSpec("brightness", onset=10), batches=20, batch_size=100, seed=0)
    monitors = [Threshold("input_ks", 0.3), Threshold("confidence", 0.01, below=True),
                Detector("adwin", "correct"), Detector("page_hinkley", "confidence")]
    frame = watch(model, stream, small, monitors)
    before, after = frame[frame.severity == 0], frame[frame.severity > 0]
    assert after["accuracy"].mean() < before["accuracy"].mean() - 0.2
    assert after["input_ks"].min() > before["input_ks"].max()
    report = alarm_report(frame, monitors, stream.drift_point)
    assert report.loc["input_ks > 0.3", "delay (batches)"] == 0 and report.loc["input_ks > 0.3", "false alarms"] == 0
    assert math.isnan(report.loc["confidence < 0.01", "delay (batches)"])  # never fires
    assert report.loc["adwin on correct", "delay (batches)"] <= 3


def test_monitors_that_need_labels_see_them_only_when_they_arrive(model, small):
    stream = make_stream(small, DriftSpec("none"), batches=5, batch_size=50, seed=0, delay=2)
    assert [arrivals(stream, t) for t in range(5)] == [[], [], [0], [1], [2]]
    always = Threshold("accuracy", 2.0, below=True)  # fires whenever it sees labels
    frame = watch(model, stream, small, [always, Threshold("confidence", 2.0, below=True)])
    assert frame[alarm_column(always)].tolist() == [False, False, True, True, True]  # the label delay counts
    assert frame["alarm: confidence < 2"].all() and frame["accuracy"].notna().all()  # label-free: from the first
    assert frame["confidence"].between(0, 1).all()  # the signal keeps its own column
    ref = Reference.of(model, small.x_val)
    signals = batch_signals(model, *stream.batches[0], ref)
    assert signals["_correct"].shape == (50,) and 0 <= signals["confidence"] <= 1
    assert math.isnan(batch_signals(model, stream.batches[0][0], None, ref)["accuracy"])
    with pytest.raises(ValueError, match="signal='loss' is not allowed"):
        Threshold("loss", 1.0)
    with pytest.raises(ValueError, match="detector='ddm' is not allowed: choose one of adwin, page_hinkley"):
        Detector("ddm")
