"""Lesson 07's imbalanced task: class weighting, thresholds chosen on validation, recall intervals, its panel."""

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import class_weights, fit
from dlopt_kit.evaluation_metrics import one_vs_rest
from dlopt_kit.evaluation_metrics.imbalance import choose_threshold, imbalance_metrics, positive_scores, recall_interval
from dlopt_kit.evaluation_metrics.metrics import best_threshold, report_from_probs, threshold_metrics
from dlopt_kit.panels.evaluation_metrics import imbalance_panel

BASE = RunConfig(model="mlp", epochs=2, batch_size=32)


@pytest.fixture(scope="module")
def task(small):
    return one_vs_rest(small, "Shirt", share=0.1)


def test_balanced_weights_match_sklearn():
    y = torch.tensor([0] * 90 + [1] * 10)
    weights = class_weights(RunConfig(class_weight="balanced"), y, 2)
    assert weights.tolist() == pytest.approx(compute_class_weight("balanced", classes=np.array([0, 1]), y=y.numpy()))
    assert class_weights(RunConfig(), y, 2) is None
    with pytest.raises(ValueError, match="class\\(es\\) \\[2\\] have no example"):
        class_weights(RunConfig(class_weight="balanced"), y, 3)
    with pytest.raises(ValueError, match="class_weight='inverse' is not allowed: choose one of none, balanced"):
        RunConfig(class_weight="inverse")


def test_class_weighting_raises_minority_recall(task):
    # the minority is 10 % of the training split: weighting its loss 9x over the majority's must find more of it
    config = BASE.replace(epochs=4)
    plain = imbalance_metrics("fixed 0.5", split="val")(fit(config, task, progress=False), task)
    weighted_run = fit(config.replace(class_weight="balanced"), task, progress=False)
    weighted = imbalance_metrics("fixed 0.5", split="val")(weighted_run, task)
    assert weighted["val_recall"] > plain["val_recall"]


def test_threshold_is_chosen_on_validation_only(task):
    result = fit(BASE, task, progress=False)
    scores = positive_scores(result, task.x_val)
    assert choose_threshold(result, task, "best F1 (val)") == best_threshold(task.y_val, scores, "f1")
    assert choose_threshold(result, task, "recall >= 0.9 (val)") == best_threshold(task.y_val, scores,
                                                                                     "recall_floor", 0.9)
    assert choose_threshold(result, task, "fixed 0.5") == 0.5
    # the test split does not move the choice: scramble it and choose again
    scrambled = type(task)(**{**task.__dict__, "y_test": task.y_test.flip(0)})
    assert choose_threshold(result, scrambled, "best F1 (val)") == choose_threshold(result, task, "best F1 (val)")
    with pytest.raises(ValueError, match="threshold objective 'best' is not allowed"):
        choose_threshold(result, task, "best")


def test_imbalance_metrics_report_on_the_named_split(task):
    result = fit(BASE, task, progress=False)
    out = imbalance_metrics("best F1 (val)", split="test")(result, task)
    scores = positive_scores(result, task.x_test)
    report = report_from_probs(task.y_test, scores)
    assert out["test_roc_auc"] == pytest.approx(report.roc["1"][2])
    assert out["test_ap"] == pytest.approx(report.pr["1"][2])
    predicted = scores >= out["threshold"]
    truth = task.y_test.numpy() == 1
    assert out["test_recall_tuned"] == pytest.approx((predicted & truth).sum() / truth.sum())
    assert {"test_accuracy", "test_precision", "test_f1", "test_accuracy_tuned"} <= set(out)
    with pytest.raises(ValueError, match="split='train' is not allowed"):
        imbalance_metrics(split="train")
    with pytest.raises(ValueError, match="need a binary task"):
        imbalance_metrics()(result, type(task)(**{**task.__dict__, "classes": ["a", "b", "c"]}))


def test_recall_interval_is_the_exact_binomial_one():
    low, high = recall_interval(32, 32)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 32), abs=1e-9)  # Clopper-Pearson at k = n
    low, high = recall_interval(5, 10)
    assert low < 0.5 < high
    with pytest.raises(ValueError, match="found=11, positives=10"):
        recall_interval(11, 10)


def test_imbalance_panel_runs_and_shows_validation_metrics_only(small):
    panel = imbalance_panel(small, "Shirt", BASE, share=0.1)
    result = panel.run(class_weight="balanced", threshold_by="best F1 (val)")
    assert result is not None and result.config.class_weight == "balanced"
    row = panel.results_frame().iloc[0]
    assert row["threshold_by"] == "best F1 (val)" and 0 < row["threshold"] < 1 and 0 <= row["val_recall_tuned"] <= 1
    assert not any(column.startswith("test") for column in panel.results_frame().columns)
    second = panel.run(positive="Coat", epochs=1)
    assert second is not None and panel.results_frame()["positive"].tolist() == ["Shirt", "Coat"]
    panel.run(share=1.5)  # not a share: refused with the rule, the first rows stay
    assert "share=1.5 is out of range: allowed is (0, 1)" in panel.status.value
    assert len(panel.results_frame()) == 2
    # the averaging knob: macro F1 over both classes
    third = panel.run(share=0.1, positive="Shirt", average="macro", epochs=1)
    row = panel.results_frame().iloc[-1]
    assert third is not None and row["average"] == "macro"
    scores = positive_scores(third, panel_task(small).x_val)
    macro = threshold_metrics(panel_task(small).y_val, scores, 0.5, "macro")
    assert row["val_f1"] == pytest.approx(macro["f1"])


def panel_task(small):
    return one_vs_rest(small, "Shirt", share=0.1)


def test_a_class_weighted_run_selects_its_best_epoch_on_the_weighted_loss(task):
    import torch.nn.functional as F

    from dlopt_kit.core.training import evaluate

    result = fit(BASE.replace(class_weight="balanced", epochs=3), task, progress=False, restore_best=False)
    weight = class_weights(result.config, task.y_train, 2)
    with torch.no_grad():
        result.model.eval()
        expected = F.cross_entropy(result.model(task.x_val), task.y_val, weight=weight).item()
    assert evaluate(result.model, task.x_val, task.y_val, weight=weight)[0] == pytest.approx(expected, rel=1e-5)
    assert result.history[-1]["val_loss"] == pytest.approx(expected, rel=1e-5)  # the history records that loss
    losses = result.history[:, "val_loss"]
    assert result.best_epoch == 1 + losses.index(min(losses))
