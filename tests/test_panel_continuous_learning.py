"""Lesson 08's dashboard: a run streams and adds a row, Stop keeps the partial run, a bad value is refused by name
and keeps every row."""

import time

import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.panels import StreamPanel
from dlopt_kit.panels.continuous_learning import make_monitor

BASE = RunConfig(model="mlp", hidden=32, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")


def test_a_run_streams_the_validation_split_and_adds_a_row(tiny):
    panel = StreamPanel(tiny, BASE, batch_size=20)
    frame = panel.run(drift="brightness", speed="sudden", policy="triggered", monitor="input_ks", threshold=0.3,
                      batches=12)
    assert len(frame) == 12 and frame.attrs["ended"] == "completed"
    row = panel.results_frame().iloc[0]
    assert row["run"] == 1 and row["batches run"] == 12 and row["retrains"] >= 1 and row["compute"] > 0
    assert "Run 1: completed" in panel.status.value and panel.plot.value
    assert row["false alarms"] <= row["alarms"]
    partial = panel.run(labelled=0.5, delay=2)
    assert partial is not None and panel.rows[-1]["delay"] == 2
    never = panel.run(policy="never", labelled=1.0, delay=1)
    assert never["compute"].iloc[-1] == 0 and len(panel.results_frame()) == 3


def test_stop_keeps_the_partial_run_and_a_bad_value_keeps_every_row(tiny):
    panel = StreamPanel(tiny, BASE, batch_size=20)
    panel.run(wait=False, drift="rotation", policy="periodic", every=2, batches=3000)
    deadline = time.time() + 30
    while panel.progress.value < 3 and time.time() < deadline:
        time.sleep(0.05)
    panel.stop_button.click()
    panel.wait(10)
    assert not panel.running and panel.rows[-1]["ended"] == "stopped by the user"
    assert 3 <= panel.rows[-1]["batches run"] < 3000
    for bad, message in ((dict(batches=0), "batches=0 is out of range"),
                         (dict(batches=40, replay=0.95), "replay=0.95 is out of range"),
                         (dict(replay=0.0, threshold=-1.0), "threshold=-1.0 is out of range"),
                         (dict(threshold=0.3, labelled=2.0), "labelled=2.0 is out of range")):
        assert panel.run(**bad) is None
        assert message in panel.status.value and len(panel.rows) == 1
    with pytest.raises(ValueError, match="monitor='loss' is not allowed"):
        make_monitor("loss", 0.3)
    assert make_monitor("confidence", 0.6).below and make_monitor("adwin on correct", 0).needs_labels
