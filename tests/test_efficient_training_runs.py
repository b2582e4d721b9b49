"""Lesson 06's run helper (per-seed configs, gradient norms, worker processes), the range test's upper lr, the lr
clipping is tried at, the LR finder's marks and the panel's seeds."""

import matplotlib
import numpy as np
import pytest

from dlopt_kit.core.compare import compare
from dlopt_kit.core.config import RunConfig
from dlopt_kit.efficient_training import lowest_failing_lr, more_seeds, over_seeds, plot_lr_finder, train_runs, upper_lr
from dlopt_kit.efficient_training.lr_finder import LRFinderResult
from dlopt_kit.panels.efficient_training import efficient_panel

matplotlib.use("Agg")
SGD = RunConfig(model="mlp", optimizer="sgd", batch_size=32, epochs=2, lr=0.05)


def test_train_runs_matches_compare_and_takes_a_config_per_seed(tiny, monkeypatch):
    monkeypatch.setenv("DLOPT_JOBS", "1")
    plain = compare({"a": SGD}, tiny, seeds=(0, 1), progress=False)
    results: dict = {}
    table = train_runs(over_seeds({"a": SGD}, (0, 1)), tiny, results=results)
    assert table.drop(columns="seconds").equals(plain.drop(columns="seconds"))
    per_seed = train_runs({("own lr", 0): SGD.replace(lr=0.01), ("own lr", 1): SGD.replace(lr=0.2, seed=7)}, tiny,
                          results=results, record_grad_norms=True)
    assert set(per_seed["seed"]) == {0, 1} and results[("own lr", 1)].config.seed == 1  # the key's seed wins
    assert results[("own lr", 1)].config.lr == 0.2 and "grad_norm" in results[("own lr", 0)].steps
    assert "grad_norm" not in results[("a", 0)].steps


def test_train_runs_quiet_silences_a_divergence_warning_only(tiny, monkeypatch, recwarn):
    monkeypatch.setenv("DLOPT_JOBS", "1")
    runs = {("huge lr", 0): SGD.replace(lr=10.0, epochs=1)}
    loud = train_runs(runs, tiny)
    assert any("diverged" in str(w.message) for w in recwarn.list)
    recwarn.clear()
    quiet = train_runs(runs, tiny, quiet=True)
    assert not recwarn.list and quiet["stop_reason"].iloc[0].startswith("diverged") == loud["stop_reason"].iloc[
        0].startswith("diverged")


def test_train_runs_in_two_processes_gives_the_same_numbers(tiny, monkeypatch):
    runs = over_seeds({"a": SGD.replace(epochs=1)}, (0, 1))
    monkeypatch.setenv("DLOPT_JOBS", "2")
    twice = train_runs(runs, tiny)
    monkeypatch.setenv("DLOPT_JOBS", "1")
    assert twice.drop(columns="seconds").equals(train_runs(runs, tiny).drop(columns="seconds"))


@pytest.mark.parametrize(("runs", "message"), [({}, "at least one"), ({"a": SGD}, r"keyed by \(arm, seed\)"),
                                               ({("a", 0): "sgd"}, "must be a RunConfig")])
def test_train_runs_refuses_bad_input(tiny, runs, message):
    with pytest.raises(ValueError, match=message):
        train_runs(runs, tiny)


def _finder(lrs, smoothed):
    return LRFinderResult(np.asarray(lrs), np.asarray(smoothed), np.asarray(smoothed),
                          {"steepest": lrs[1], "minimum": lrs[0], "valley": lrs[0]}, "steepest", True)


def test_upper_lr_is_the_lowest_smoothed_loss():
    assert upper_lr(_finder([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.5, 0.7, 3.0])) == pytest.approx(0.1)


def test_lowest_failing_lr_is_the_first_lr_above_the_best_that_drops():
    val = {0.03: 0.78, 0.1: 0.80, 0.3: 0.75, 1.0: 0.2}
    assert lowest_failing_lr(val, 0.1) == 1.0 and lowest_failing_lr(val, 0.1, drop=0.05) == 0.3
    assert lowest_failing_lr({0.1: 0.8, 0.3: 0.79}, 0.1) is None
    with pytest.raises(ValueError, match="best_lr=0.5 is not one of"):
        lowest_failing_lr(val, 0.5)


def test_lr_finder_plot_marks_the_sweeps_best_and_the_upper_lr():
    fig = plot_lr_finder(_finder([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.5, 0.7, 3.0]), best_lr=0.1,
                         marks={"upper lr: 0.1": 0.1})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "sweep's best lr: 0.1" in labels and "upper lr: 0.1" in labels


def test_panel_repeats_a_run_over_seeds(tiny):
    panel = efficient_panel(tiny, SGD)
    panel.run(seeds=2, epochs=1, grad_clip=1.0)
    row = panel.results_frame().iloc[0]
    assert len(panel.results) == 2 and row["seeds"] == 2 and "val_acc ±" in row.index
    assert row["clipped"] == pytest.approx(np.mean([r.steps["clipped"].mean() for r in panel.results]))


def test_more_seeds_extends_the_budgets_seeds_except_in_a_dry_run(monkeypatch):
    monkeypatch.delenv("DLOPT_DRY_RUN", raising=False)
    assert more_seeds((0, 1, 2), 6) == (0, 1, 2, 3, 4, 5)
    assert more_seeds([5, 2], 4) == (5, 2, 6, 7)
    assert more_seeds((0, 1, 2), 2) == (0, 1, 2)  # never fewer than given
    with pytest.raises(ValueError, match="repeat a seed"):
        more_seeds((0, 0), 3)
    with pytest.raises(ValueError, match="count=0 must be a whole number"):
        more_seeds((0,), 0)
    monkeypatch.setenv("DLOPT_DRY_RUN", "1")
    assert more_seeds((0, 1), 10) == (0, 1)
