import pytest

from dlopt_kit.evaluation_metrics.metrics import threshold_metrics
from dlopt_kit.panels.evaluation_metrics import ThresholdPanel

Y = [0, 0, 1, 1, 1, 0]
P = [0.1, 0.6, 0.8, 0.4, 0.9, 0.3]


def test_moving_the_slider_updates_the_numbers_shown():
    panel = ThresholdPanel(Y, P, ("neg", "pos"))
    first_picture = bytes(panel.plot.value)
    panel.threshold.value = 0.85
    shown = panel.metrics()
    assert shown == threshold_metrics(Y, P, 0.85)
    assert (shown["tp"], shown["fp"]) == (1, 0)
    assert "<td>1.000</td>" in panel.numbers.value  # precision 1 at this threshold
    assert bytes(panel.plot.value) != first_picture


def test_optimise_moves_the_slider():
    panel = ThresholdPanel(Y, P)
    panel.objective.value = "f1"
    panel.optimise_button.click()
    assert panel.threshold.value == pytest.approx(0.4) and panel.metrics()["f1"] == pytest.approx(6 / 7)
    panel.objective.value = "recall_floor"
    panel.recall_floor.value = 0.6
    panel.optimise_button.click()
    assert panel.threshold.value == pytest.approx(0.8) and panel.metrics()["recall"] >= 0.6


def test_bad_floor_shows_a_message_and_keeps_the_threshold():
    panel = ThresholdPanel(Y, P)
    panel.threshold.value = 0.3
    panel.objective.value = "recall_floor"
    panel.recall_floor.value = 1.5
    assert panel.optimise() is None
    assert "recall_floor=1.5 is out of range" in panel.status.value
    assert panel.threshold.value == pytest.approx(0.3)
    assert "application/vnd.jupyter.widget-view+json" in panel._repr_mimebundle_()
