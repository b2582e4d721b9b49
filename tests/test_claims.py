"""Paired claims over seeds: the mean gain must reach the margin and every seed must gain."""

import pandas as pd
import pytest

from dlopt_kit.core.claims import (
    assert_gain,
    assert_not_worse,
    assert_paired,
    assert_peak_inside,
    gain_table,
    paired,
    per_seed,
)


def runs(values: dict[str, list[float]], metric: str = "test_acc", epochs: int = 2) -> pd.DataFrame:
    """A compare-shaped table: for each config, one run per seed (0, 1, ...) with ``epochs`` rows."""
    rows = []
    for config, per_seed_values in values.items():
        for seed, value in enumerate(per_seed_values):
            for epoch in range(1, epochs + 1):
                rows.append({"config": config, "seed": seed, "epoch": epoch, metric: value})
    return pd.DataFrame(rows)


def test_gain_holds_when_the_mean_reaches_the_margin_and_every_seed_gains(capsys):
    table = runs({"a": [0.80, 0.82, 0.81], "b": [0.75, 0.76, 0.78]})
    result = assert_gain(table, "a", "b", margin=0.02)
    assert result.gains.tolist() == pytest.approx([0.05, 0.06, 0.03])
    assert result.mean == pytest.approx(0.0466667, abs=1e-6)
    low, high = result.interval()
    assert low < result.mean < high
    printed = capsys.readouterr().out
    assert "0: +0.050" in printed and "95% CI" in printed and "+0.047" in printed


def test_mean_passes_but_one_seed_reverses():
    table = runs({"a": [0.90, 0.90, 0.70], "b": [0.70, 0.70, 0.72]})  # mean gain +0.127, seed 2 loses
    with pytest.raises(AssertionError, match=r"not positive in seed\(s\) 2") as info:
        assert_gain(table, "a", "b", margin=0.05)
    assert "below the margin" not in str(info.value)


def test_every_seed_gains_but_the_mean_is_below_the_margin():
    table = runs({"a": [0.71, 0.72, 0.73], "b": [0.70, 0.71, 0.72]})
    with pytest.raises(AssertionError, match=r"mean gain \+0.010 is below the margin \+0.050"):
        assert_gain(table, "a", "b", margin=0.05)


def test_both_conditions_failing_are_both_named():
    table = runs({"a": [0.70, 0.71], "b": [0.72, 0.70]})
    with pytest.raises(AssertionError, match="below the margin .* and the gain is not positive in seed"):
        assert_gain(table, "a", "b", margin=0.05)


def test_a_single_seed_is_refused():
    with pytest.raises(ValueError, match="at least 2 seeds, got 1"):
        assert_gain(runs({"a": [0.9], "b": [0.1]}), "a", "b")


def test_arms_must_share_their_seeds():
    with pytest.raises(ValueError, match="same seeds in both arms"):
        assert_paired({0: 0.9, 1: 0.8}, {0: 0.5, 2: 0.4})


def test_a_missing_value_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        assert_paired({0: 0.9, 1: float("nan")}, {0: 0.5, 1: 0.4})


def test_per_seed_reads_the_last_epoch_and_names_bad_input():
    table = runs({"a": [0.5, 0.6]})
    table.loc[(table["config"] == "a") & (table["epoch"] == 1), "test_acc"] = 0.0
    assert per_seed(table, "a", "test_acc").to_dict() == {0: 0.5, 1: 0.6}
    with pytest.raises(ValueError, match="config 'x' is not in the table"):
        per_seed(table, "x", "test_acc")
    with pytest.raises(ValueError, match="metric='f1'"):
        per_seed(table, "a", "f1")


def test_peak_inside_in_the_mean_and_in_most_seeds(capsys):
    table = runs({"none": [0.6, 0.6, 0.6], "mild": [0.7, 0.7, 0.65], "strong": [0.5, 0.5, 0.7]}, "score")
    assert assert_peak_inside(table, "score") == "mild"  # seed 2 peaks at the end, two of three inside
    assert "Peak per seed: 0: mild, 1: mild, 2: strong" in capsys.readouterr().out


def test_peak_at_an_end_of_the_mean_fails():
    table = runs({"none": [0.1, 0.1], "mild": [0.5, 0.5], "strong": [0.9, 0.9]}, "score")
    with pytest.raises(AssertionError, match="the mean peaks at an end of the sweep"):
        assert_peak_inside(table, "score")


def test_peak_inside_in_the_mean_but_inverted_in_most_seeds_fails():
    # the mean peaks at "mild" only because seed 0 is extreme; seeds 1 and 2 peak at the ends
    table = runs({"none": [0.1, 0.6, 0.1], "mild": [0.9, 0.5, 0.5], "strong": [0.1, 0.1, 0.6]}, "score")
    with pytest.raises(AssertionError, match="only 1 of 3 seeds peak inside"):
        assert_peak_inside(table, "score")


def test_per_seed_at_the_best_epoch_reads_the_kept_weights_epoch():
    table = runs({"a": [0.5, 0.6]}, metric="val_acc", epochs=3)
    table["val_acc"] = [0.1, 0.7, 0.2, 0.3, 0.4, 0.9]  # seed 0: epochs 1-3, seed 1: epochs 1-3
    table["best_epoch"] = [2, 2, 2, 3, 3, 3]
    assert per_seed(table, "a", "val_acc", at="best").to_dict() == {0: 0.7, 1: 0.9}
    assert per_seed(table, "a", "val_acc").to_dict() == {0: 0.2, 1: 0.9}
    with pytest.raises(ValueError, match="at='first' is not allowed"):
        per_seed(table, "a", "val_acc", at="first")
    with pytest.raises(AssertionError, match="not positive in seed"):
        assert_gain(pd.concat([table, table.assign(config="b")]), "b", "a", "val_acc", at="best")


def test_not_worse_allows_the_tolerance_and_names_the_seeds_below_it(capsys):
    result = assert_not_worse({0: 0.80, 1: 0.795, 2: 0.83}, {0: 0.80, 1: 0.80, 2: 0.82}, tolerance=0.01,
                              name="val_acc")
    assert result.gains.round(3).tolist() == [0.0, -0.005, 0.01]
    assert "claimed at least -0.010 in every seed" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"seed\(s\) 1 fall more than 0.01 below"):
        assert_not_worse({0: 0.80, 1: 0.78}, {0: 0.80, 1: 0.80}, tolerance=0.01)
    with pytest.raises(ValueError, match="tolerance=-0.1"):
        assert_not_worse({0: 1.0, 1: 1.0}, {0: 1.0, 1: 1.0}, tolerance=-0.1)
    with pytest.raises(ValueError, match="same seeds"):
        assert_not_worse({0: 1.0, 1: 1.0}, {0: 1.0, 2: 1.0}, tolerance=0.1)


def test_gain_table_reports_every_config_against_the_reference_without_asserting():
    table = runs({"none": [0.80, 0.82, 0.81], "up": [0.85, 0.86, 0.84], "mixed": [0.81, 0.80, 0.82]})
    gains = gain_table(table, over="none")
    assert list(gains.index) == ["up", "mixed"]
    assert gains.loc["up", "test_acc gain"] == pytest.approx(0.04)
    assert gains.loc["up", "min seed"] == pytest.approx(0.03) and gains.loc["up", "every seed gains"]
    assert not gains.loc["mixed", "every seed gains"]  # one seed lost: reported, not raised
    assert gains.loc["up", "95% CI low"] < 0.04 < gains.loc["up", "95% CI high"]


def test_window_averages_the_last_epochs_of_each_run():
    table = runs({"a": [0.0, 0.0]}, metric="gap", epochs=4)
    table["gap"] = [0.1, 0.2, 0.3, 0.5, 0.0, 0.0, 0.2, 0.4]
    assert per_seed(table, "a", "gap", window=2).round(6).to_dict() == {0: 0.4, 1: 0.3}
    assert per_seed(table, "a", "gap").to_dict() == {0: 0.5, 1: 0.4}
    with pytest.raises(ValueError, match="use it with at='last'"):
        per_seed(table, "a", "gap", at="best", window=2)
    with pytest.raises(ValueError, match="window=0"):
        per_seed(table, "a", "gap", window=0)


def test_peak_inside_of_a_loss_is_its_lowest_point(capsys):
    table = runs({"0": [0.61, 0.62, 0.60], "0.01": [0.57, 0.55, 0.57], "0.1": [1.0, 0.99, 1.0]}, metric="val_loss")
    assert assert_peak_inside(table, "val_loss", lowest=True) == "0.01"
    with pytest.raises(AssertionError, match="peaks at an end"):
        assert_peak_inside(table, "val_loss")  # the highest loss is at an end


def test_paired_summary_reports_every_seed_and_claims_nothing():
    gain = paired({0: 0.80, 1: 0.78, 2: 0.83}, {0: 0.79, 1: 0.80, 2: 0.80}, name="random over grid")
    line = gain.summary()
    assert line.startswith("random over grid: difference +0.007 (95% CI ")
    assert line.endswith("over 3 seeds [0: +0.010, 1: -0.020, 2: +0.030]") and "claimed" not in line
    assert gain.line(0.0).startswith("random over grid: gain +0.007")
