"""Under-trained arms: a claim fails when an arm's kept epoch lies in the last fifth of its budget in most seeds."""

import pandas as pd
import pytest

from dlopt_kit.core.claims import assert_gain, assert_paired, per_seed
from dlopt_kit.core.kept_epochs import carried, from_table, last_fifth


def table(kept: dict[str, list[int]], epochs: int = 10, stop: dict[str, str] | None = None) -> pd.DataFrame:
    """A compare-shaped table whose runs keep the given epoch per seed; ``a`` scores 0.1 above ``b`` in each."""
    rows = []
    for config, per_seed_kept in kept.items():
        for seed, best in enumerate(per_seed_kept):
            for epoch in range(1, epochs + 1):
                rows.append({"config": config, "seed": seed, "epoch": epoch, "val_loss": abs(epoch - best) + 1.0,
                             "test_acc": (0.8 if config == "a" else 0.7) + 0.01 * seed, "best_epoch": best,
                             "stop_reason": (stop or {}).get(config, "completed")})
    return pd.DataFrame(rows)


def test_per_seed_carries_the_arms_kept_epochs_and_a_computed_series_does_not():
    runs = table({"a": [3, 4, 5], "b": [9, 10, 2]})
    a = per_seed(runs, "a", "test_acc")
    assert carried(a).kept == {0: 3, 1: 4, 2: 5} and carried(a).budget == {0: 10, 1: 10, 2: 10}
    assert carried(a - per_seed(runs, "b", "test_acc")) is None
    assert carried(a * 2) is None and carried(a.loc[[0, 1]]).arm == "a"


def test_an_arm_still_improving_in_most_seeds_fails_the_claim_and_is_named(capsys):
    runs = table({"a": [3, 4, 5], "b": [9, 10, 2]})  # b keeps epoch 9 and 10 of 10 in two of three seeds
    with pytest.raises(AssertionError, match=r"b kept epochs 9, 10, 2 of 10: .* 2 of 3 seeds.*give it more epochs"):
        assert_gain(runs, "a", "b", margin=0.05)
    assert from_table(runs, "a").under_trained() is False


def test_one_late_seed_of_three_passes():
    assert_gain(table({"a": [3, 4, 5], "b": [9, 4, 2]}), "a", "b", margin=0.05)


def test_the_last_fifth_boundary():
    arm = from_table(table({"a": [8, 8, 9]}), "a")  # 8 of 10 is not in the last fifth (9, 10 are)
    assert arm.late_seeds() == [2] and not arm.under_trained()
    assert [last_fifth(e) for e in (2, 6, 8, 10, 30)] == [1, 1, 2, 2, 6]
    assert from_table(table({"a": [5, 6, 5]}, epochs=6), "a").late_seeds() == [1]


def test_ended_early_runs_had_stopped_improving():
    runs = table({"a": [3, 4, 5], "b": [10, 10, 10]}, stop={"b": "early stopping: val_loss did not improve"})
    assert_gain(runs, "a", "b", margin=0.05)


def test_a_fixed_budget_is_stated_and_the_other_arm_still_checked(capsys):
    runs = table({"a": [10, 10, 9], "b": [10, 9, 10]})
    with pytest.raises(AssertionError, match="b kept epochs"):
        assert_gain(runs, "a", "b", margin=0.05, fixed_budget={"a": "annealing to zero is the point"})
    assert_gain(runs, "a", "b", margin=0.05, fixed_budget={"a": "annealing is the point", "b": "equal epochs"})
    assert "fixed budget for a (kept epochs 10, 10, 9 of 10): annealing is the point" in capsys.readouterr().out


def test_a_fixed_budget_naming_no_arm_is_refused():
    with pytest.raises(ValueError, match="fixed_budget names 'c', not an arm"):
        assert_gain(table({"a": [3, 4, 5], "b": [3, 4, 5]}), "a", "b", fixed_budget={"c": "why"})


def test_arms_without_epochs_are_not_checked():
    assert_paired({0: 0.9, 1: 0.8}, {0: 0.5, 1: 0.4}, margin=0.1)
