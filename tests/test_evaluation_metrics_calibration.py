"""Lesson 07's calibration helpers, the PR chance line, the averaging knob and one_vs_rest above the natural share."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn import metrics as skm

from dlopt_kit.evaluation_metrics import (
    calibration_metrics,
    fit_recalibration,
    logit,
    one_vs_rest,
    plot_pr,
    plot_reliability,
    report_from_probs,
    threshold_metrics,
)
from dlopt_kit.panels.evaluation_metrics import ThresholdPanel


def distorted(n=4000, seed=0):
    """Labels drawn from calibrated probabilities p, and scores that report 19 times the odds (as balanced class
    weights at 95/5 would)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.5, 8.0, n)
    y = (rng.random(n) < p).astype(int)
    odds = 19 * p / (1 - p)
    return y, p, odds / (1 + odds)


def test_calibration_metrics_are_sklearns():
    y, p, _ = distorted()
    m = calibration_metrics(y, p)
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p))
    with pytest.raises(ValueError, match="y_true must hold 0"):
        calibration_metrics([0, 2], [0.1, 0.2])


def test_recalibration_fitted_on_one_half_repairs_the_other():
    y, p, inflated = distorted()
    fit_half, held_out = slice(0, 2000), slice(2000, None)
    recalibrate = fit_recalibration(y[fit_half], inflated[fit_half])
    repaired = recalibrate(inflated[held_out])
    before = calibration_metrics(y[held_out], inflated[held_out])
    after = calibration_metrics(y[held_out], repaired)
    truth = calibration_metrics(y[held_out], p[held_out])
    assert after["log_loss"] < before["log_loss"] - 0.1
    assert after["log_loss"] == pytest.approx(truth["log_loss"], abs=0.02)
    assert repaired.mean() == pytest.approx(y[held_out].mean(), abs=0.02)
    # monotone: the ranking, hence ROC AUC, is unchanged
    assert skm.roc_auc_score(y[held_out], repaired) == pytest.approx(skm.roc_auc_score(y[held_out],
                                                                                       inflated[held_out]))
    assert fit_recalibration(y, inflated, method="isotonic")(inflated).shape == inflated.shape
    with pytest.raises(ValueError, match="method='platt' is not allowed: choose one of sigmoid, isotonic"):
        fit_recalibration(y, inflated, method="platt")


def test_platt_on_the_logit_undoes_a_known_odds_shift_point_by_point():
    y, p, inflated = distorted(n=20000, seed=1)
    recalibrate = fit_recalibration(y[:10000], inflated[:10000])
    repaired, truth = recalibrate(inflated[10000:]), p[10000:]
    # odds x 19 is logit - log 19: the fitted sigmoid on the logit recovers p itself, over the whole range
    assert np.abs(repaired - truth).max() < 0.05
    assert np.corrcoef(logit(repaired), logit(truth))[0, 1] > 0.999
    assert truth.max() > 0.6 and repaired.max() == pytest.approx(truth.max(), abs=0.05)  # the top is reachable
    shifted = logit(inflated[10000:]) - np.log(19)
    assert np.abs(logit(repaired) - shifted).max() < 0.5


def test_reliability_diagram_names_each_curve_with_its_scores():
    y, p, inflated = distorted()
    fig = plot_reliability({"calibrated": (y, p), "inflated": (y, inflated)})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("calibrated (Brier ") and "log-loss" in labels[1]
    plt.close(fig)
    with pytest.raises(ValueError, match="curves is empty"):
        plot_reliability({})


def test_pr_plot_draws_the_chance_line_at_the_prevalence():
    y = np.array([0] * 18 + [1] * 2)
    s = np.linspace(0.05, 0.95, 20)
    fig = plot_pr(report_from_probs(y, s, ["neg", "pos"]))
    levels = [line.get_ydata()[0] for line in fig.axes[0].get_lines() if line.get_linestyle() == ":"]
    assert levels == [pytest.approx(0.1)]
    assert "chance 0.100" in fig.axes[0].get_legend().get_texts()[0].get_text()
    plt.close(fig)


def test_threshold_metrics_average_as_sklearn_and_refuse_unknown():
    y, s = [0, 0, 1, 1, 1, 0], [0.1, 0.6, 0.8, 0.4, 0.9, 0.3]
    pred = [0, 1, 1, 0, 1, 0]
    for average in ("macro", "micro", "weighted"):
        m = threshold_metrics(y, s, 0.5, average)
        assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average=average))
        assert m["recall"] == pytest.approx(skm.recall_score(y, pred, average=average))
    assert threshold_metrics(y, s, 0.5, "micro")["f1"] == pytest.approx(threshold_metrics(y, s, 0.5)["accuracy"])
    with pytest.raises(ValueError, match="average='samples' is not allowed: choose one of binary, macro"):
        threshold_metrics(y, s, 0.5, "samples")


def test_threshold_panel_averaging_changes_the_numbers_not_the_point():
    panel = ThresholdPanel([0, 0, 1, 1, 1, 0], [0.1, 0.6, 0.8, 0.4, 0.9, 0.3])
    binary = panel.metrics()
    panel.average.value = "macro"
    macro = panel.metrics()
    assert macro["f1"] == pytest.approx(skm.f1_score([0, 0, 1, 1, 1, 0], [0, 1, 1, 0, 1, 0], average="macro"))
    assert (macro["tp"], macro["fp"]) == (binary["tp"], binary["fp"])
    assert "<td>macro</td>" in panel.numbers.value


def test_one_vs_rest_reaches_a_share_above_the_natural_one(small):
    natural = one_vs_rest(small, "Shirt")
    share = natural.y_val.float().mean().item()
    above = one_vs_rest(small, "Shirt", share=min(0.9, 2 * share))
    for split in ("train", "val", "test"):
        y, y0 = getattr(above, f"y_{split}"), getattr(natural, f"y_{split}")
        assert y.float().mean().item() == pytest.approx(min(0.9, 2 * share), abs=0.01)
        assert int(y.sum()) == int(y0.sum())  # every positive kept, negatives dropped
    below = one_vs_rest(small, "Shirt", share=share / 2)
    assert below.y_val.float().mean().item() == pytest.approx(share / 2, abs=0.01)
    assert len(below.y_val) - int(below.y_val.sum()) == len(natural.y_val) - int(natural.y_val.sum())
