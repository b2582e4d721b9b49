"""The report against small cases worked out by hand (see the comments), and its refusals of bad input."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import fit
from dlopt_kit.evaluation_metrics.metrics import best_threshold, evaluation_report, report_from_probs, threshold_metrics
from dlopt_kit.evaluation_metrics.plots import (
    plot_calibration,
    plot_confusion,
    plot_highest_loss,
    plot_per_class_f1,
    plot_pr,
    plot_roc,
    plot_threshold_view,
)

# Binary: labels and the positive class's probability.
Y_BIN = [0, 0, 1, 1, 1, 0]
P_BIN = [0.1, 0.6, 0.8, 0.4, 0.9, 0.3]
# Multi-class: argmax predicts [0, 1, 1, 1, 2, 0] for labels [0, 0, 1, 1, 2, 2].
Y_MC = [0, 0, 1, 1, 2, 2]
P_MC = [[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]]


def test_threshold_metrics_by_hand():
    # threshold 0.5 predicts [0, 1, 1, 0, 1, 0]: TP = items 2 and 4, FP = item 1, FN = item 3, TN = items 0 and 5
    at = threshold_metrics(Y_BIN, P_BIN, 0.5)
    assert (at["tp"], at["fp"], at["fn"], at["tn"]) == (2, 1, 1, 2)
    assert at["precision"] == pytest.approx(2 / 3) and at["recall"] == pytest.approx(2 / 3)
    assert at["f1"] == pytest.approx(2 / 3) and at["accuracy"] == pytest.approx(4 / 6)
    assert at["fpr"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="threshold=1.5 is out of range"):
        threshold_metrics(Y_BIN, P_BIN, 1.5)


def test_binary_report_by_hand():
    report = report_from_probs(np.array(Y_BIN), np.array(P_BIN), ["neg", "pos"])
    # AUC: of the 9 (positive, negative) pairs, the positive scores higher in 8 (0.4 < 0.6 is the exception)
    assert report.roc["pos"][2] == pytest.approx(8 / 9)
    # AP: ranked 0.9+, 0.8+, 0.6-, 0.4+, ...: precision at each positive 1, 1, 3/4, mean 11/12
    assert report.pr["pos"][2] == pytest.approx(11 / 12)
    assert list(report.roc) == ["pos"]


def test_best_threshold_by_hand():
    # F1 at thresholds 0.1, 0.3, 0.4, 0.6, 0.8, 0.9: 0.667, 0.75, 0.857, 0.667, 0.8, 0.5
    assert best_threshold(Y_BIN, P_BIN, "f1") == pytest.approx(0.4)
    # recall stays 1 up to 0.4; recall >= 0.6 holds up to 0.8 (recall 2/3)
    assert best_threshold(Y_BIN, P_BIN, "recall_floor", recall_floor=1.0) == pytest.approx(0.4)
    assert best_threshold(Y_BIN, P_BIN, "recall_floor", recall_floor=0.6) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="objective='auc'"):
        best_threshold(Y_BIN, P_BIN, "auc")
    with pytest.raises(ValueError, match="recall_floor=0"):
        best_threshold(Y_BIN, P_BIN, "recall_floor", recall_floor=0)


def test_multiclass_report_by_hand():
    report = report_from_probs(torch.tensor(Y_MC), torch.tensor(P_MC), ["a", "b", "c"])
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report.confusion_normalized[0].tolist() == [0.5, 0.5, 0.0]
    # precision: a 1/2, b 2/3, c 1/1; recall: a 1/2, b 1, c 1/2; F1: 0.5, 0.8, 2/3
    assert report.per_class["precision"].tolist() == pytest.approx([0.5, 2 / 3, 1.0])
    assert report.per_class["recall"].tolist() == pytest.approx([0.5, 1.0, 0.5])
    assert report.per_class["f1"].tolist() == pytest.approx([0.5, 0.8, 2 / 3])
    assert report.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report.averages.loc["weighted", "f1"] == pytest.approx(report.macro_f1)  # equal supports
    assert set(report.roc) == {"a", "b", "c"}
    confused = report.most_confused(5)
    assert len(confused) == 2 and set(zip(confused["true"], confused["predicted"], strict=True)) == {("a", "b"),
                                                                                                      ("c", "a")}
    assert report.summary()["accuracy"] == pytest.approx(4 / 6)
    # true-class probabilities 0.7, 0.3, 0.8, 0.5, 0.8, 0.3: the worst are items 1 and 5 (0.3, in order), then 3
    assert report.highest_loss(3).tolist() == [1, 5, 3]
    assert report.losses()[1] == pytest.approx(-np.log(0.3))


BAD = [
    (Y_BIN[:5], P_BIN, "y_true has 5 labels but probs has 6 rows"),
    ([1, 1, 1], [0.2, 0.7, 0.9], "one class only"),
    (Y_MC, [[0.5, 0.6, 0.1]] * 6, "sums to 1.2000"),
    (Y_BIN, [0.1, float("nan"), 0.8, 0.4, 0.9, 0.3], "NaN or infinite scores in 1 row"),
    (Y_MC, [[2.0, -1.0, 0.0]] * 6, "not the logits"),
    ([0, 3, 1], [[0.5, 0.5]] * 3, "labels from 0 to 3, but probs has 2 columns"),
    ([0.0, 1.0], [[0.5, 0.5]] * 2, "integer class indices"),
]


@pytest.mark.parametrize(("y", "p", "message"), BAD)
def test_bad_input_is_refused_clearly(y, p, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        report_from_probs(np.array(y), np.array(p))


def test_class_names_must_match_columns():
    with pytest.raises(ValueError, match="3 class names for 2 columns"):
        report_from_probs(Y_BIN, P_BIN, ["a", "b", "c"])


def test_report_of_a_trained_model_and_its_plots(tiny):
    model = fit(RunConfig(model="mlp", epochs=2, batch_size=32), tiny, progress=False).model
    report = evaluation_report(model, tiny.x_test, tiny.y_test, tiny.classes)
    assert report.confusion.sum() == len(tiny.y_test) and len(report.roc) == 10
    assert np.allclose(report.confusion_normalized.sum(1), 1.0)
    for fig in (plot_confusion(report), plot_confusion(report, normalize=False), plot_roc(report), plot_pr(report),
                plot_calibration(report), plot_per_class_f1(report), plot_highest_loss(report, tiny.x_test, n=8)):
        assert isinstance(fig, Figure)
    heat = plot_confusion(report).axes[0]
    assert [t.get_text() for t in heat.get_xticklabels()] == tiny.classes
    with pytest.raises(ValueError, match="x has 3 images but the report has 100 labels"):
        plot_highest_loss(report, tiny.x_test[:3])


def test_threshold_view_marks_the_operating_point():
    report = report_from_probs(Y_BIN, P_BIN, ["neg", "pos"])
    fig = plot_threshold_view(report, threshold_metrics(Y_BIN, P_BIN, 0.5))
    assert len(fig.axes) == 3
    marker = [line for line in fig.axes[1].lines if line.get_label() == "threshold"][0]
    assert marker.get_xydata().tolist() == [[pytest.approx(1 / 3), pytest.approx(2 / 3)]]


def test_micro_average_equals_accuracy_and_calibration_bins_are_counted():
    report = report_from_probs(Y_MC, P_MC, ["a", "b", "c"])
    assert report.averages.loc["micro", "f1"] == pytest.approx(report.accuracy)
    assert report.averages.loc["macro", "f1"] != pytest.approx(report.averages.loc["micro", "f1"])
    # top probabilities 0.7, 0.6, 0.8, 0.5, 0.8, 0.5 fall in the uniform bins [0.5, 0.6), [0.6, 0.7), ...
    assert report.calibration_counts.sum() == 6
    assert len(report.calibration_counts) == len(report.calibration[0])
    assert report.calibration_counts.tolist() == [2, 1, 1, 2]


def test_best_threshold_needs_a_positive():
    with pytest.raises(ValueError, match="at least one positive label"):
        best_threshold([0, 0, 0], [0.1, 0.2, 0.3])
