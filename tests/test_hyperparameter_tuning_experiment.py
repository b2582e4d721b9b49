"""Lesson 04's experiment: paired searches train with their search seed, equal-compute arms stay within their
epochs, any-time curves and the re-run of the finalists."""

import math

import pandas as pd
import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.hyperparameter_tuning.experiment import (
    Arm,
    anytime_best,
    best_by_epochs,
    best_of_k,
    check_pruning,
    importances,
    late_mean,
    mean_val,
    paired_searches,
    rerun,
    top_configs,
    within_epochs,
)
from dlopt_kit.hyperparameter_tuning.search import SearchSpace, epochs_spent

BASE = RunConfig(model="mlp", hidden=16, optimizer="sgd", batch_size=32, epochs=3)
SPACE = SearchSpace({"lr": ("log", 1e-3, 0.3), "weight_decay": ("log", 1e-6, 1e-3)})


def test_arms_are_checked():
    with pytest.raises(ValueError, match="method='bayes' is not allowed"):
        Arm("a", "bayes", 3)
    with pytest.raises(ValueError, match="epochs_of='later' must name an arm listed before it"):
        paired_searches(BASE, None, SPACE, [Arm("a", "random", 2, "sha", epochs_of="later")], (0,))
    with pytest.raises(ValueError, match="in its group"):
        paired_searches(BASE, None, SPACE, [Arm("a", "random", 2), Arm("b", "random", 2, epochs_of="a", group=1)],
                        (0,))
    with pytest.raises(ValueError, match="distinct names"):
        paired_searches(BASE, None, SPACE, [Arm("a", "random", 2), Arm("a", "grid", 2)], (0,))


def test_search_seed_is_the_training_seed_and_equal_epochs_stay_within_budget(tiny):
    arms = [Arm("grid", "grid", 4, group=1), Arm("tpe", "tpe", 3, startup=2, group=1), Arm("random", "random", 6),
            Arm("pruned", "random", 30, "sha", epochs_of="random")]
    studies: dict = {}
    tables = paired_searches(BASE, tiny, SPACE, arms, (0, 1), grid_points=2, studies=studies, workers=1)
    grid = tables["grid"]
    # the grid visits the same 4 points in both seeds, but trains them with seeds 0 and 1: the scores differ
    by_seed = grid.pivot_table(index=["lr", "weight_decay"], columns="search_seed", values="value")
    assert len(by_seed) == 4 and not by_seed[0].equals(by_seed[1])
    spent, budget = epochs_spent(tables["pruned"]), epochs_spent(tables["random"])
    assert (spent <= budget).all() and (tables["pruned"].groupby("search_seed").size() > 6).all()
    assert set(studies) == {(a.name, s) for a in arms for s in (0, 1)}
    assert len(studies[("random", 1)].trials) == 6
    assert set(grid.columns) >= {"method", "pruner", "search_seed", "value", "epochs", "best_so_far"}


def test_anytime_best_averages_the_best_so_far_over_epochs():
    table = pd.DataFrame({"search_seed": [0, 0, 1, 1], "epochs": [2, 2, 1, 3], "value": [0.5, 0.7, 0.6, math.nan],
                          "best_so_far": [0.5, 0.7, 0.6, 0.6], "epochs_so_far": [2, 4, 1, 4]})
    curves = best_by_epochs(table)
    assert curves[0].tolist()[1:] == [0.5, 0.5, 0.7] and math.isnan(curves[0].iloc[0])
    anytime = anytime_best(table, {0: 4, 1: 4})
    assert anytime[0] == pytest.approx((0 + 0.5 + 0.5 + 0.7) / 4) and anytime[1] == pytest.approx(0.6)
    assert anytime_best(table, {0: 4, 1: 4}, start=2)[0] == pytest.approx(1.7 / 3)
    with pytest.raises(ValueError, match="empty"):
        anytime_best(table, {0: 1, 1: 4}, start=2)
    assert within_epochs(table[table["search_seed"] == 0], 3)["value"].tolist() == [0.5]


def test_top_configs_are_distinct_and_rerun_reads_validation_only(tiny):
    table = pd.DataFrame({"value": [0.8, 0.8, 0.7, math.nan, 0.6], "lr": [0.1, 0.1, 0.01, 0.2, 0.05],
                          "weight_decay": [1e-5, 1e-5, 1e-4, 1e-4, 1e-6]})
    top = top_configs(table, BASE, SPACE, k=2)
    assert list(top) == ["lr=0.1, weight_decay=1e-05", "lr=0.01, weight_decay=0.0001"]
    assert top["lr=0.01, weight_decay=0.0001"].lr == 0.01 and top["lr=0.1, weight_decay=1e-05"].epochs == 3
    with pytest.raises(ValueError, match="no completed trial"):
        top_configs(table.iloc[[3]], BASE, SPACE)
    results = rerun({"a": BASE.replace(epochs=1), "b": BASE.replace(epochs=1, lr=0.01)}, tiny, (0, 1), workers=1)
    assert set(results) == {("a", 0), ("a", 1), ("b", 0), ("b", 1)} and results[("a", 1)].config.seed == 1
    val = mean_val(results)
    assert list(val.columns) == [0, 1, "mean"] and val.loc["a", "mean"] == pytest.approx(val.loc["a", [0, 1]].mean())
    assert "test_acc" not in results[("a", 0)].history[0]


def test_late_mean_and_importances(tiny):
    table = pd.DataFrame({"search_seed": [0, 0, 0, 1, 1, 1], "trial": [0, 1, 2, 0, 1, 2],
                          "value": [0.1, 0.5, 0.7, 0.2, 0.4, 0.6]})
    assert late_mean(table, 1).tolist() == pytest.approx([0.6, 0.5])
    studies: dict = {}
    paired_searches(BASE.replace(epochs=1), tiny, SPACE, [Arm("random", "random", 5)], (0, 1), studies=studies,
                    workers=1)
    found = importances(studies, "random")
    assert list(found.index) == [0, 1] and set(found.columns) == {"lr", "weight_decay"}
    assert found.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    assert found.equals(importances(studies, "random", (0, 1)))  # seeded


def test_check_pruning_raises_only_with_enough_trials(capsys):
    def table(epochs: list[int]) -> pd.DataFrame:
        return pd.DataFrame({"search_seed": [0] * len(epochs), "epochs": epochs})

    assert check_pruning(table([6] + [1] * 9), table([6] * 10))[0] == pytest.approx(0.25)
    assert "not a claim" in capsys.readouterr().out
    assert check_pruning(table([6, 6, 6]), table([6, 6, 6]))[0] == 1.0  # 3 trials: the warm-up passes them all
    with pytest.raises(AssertionError, match="not stopping trials early"):
        check_pruning(table([6] * 9), table([6] * 9))


def test_best_of_k_bootstraps_each_seeds_pool():
    table = pd.DataFrame({"search_seed": [0, 0, 0, 1, 1], "value": [0.1, 0.5, 0.9, 0.3, math.nan]})
    boot = best_of_k(table, [1, 3, 50], draws=400)
    assert list(boot.columns) == ["search_seed", "k", "best"] and len(boot) == 2 * 3 * 400
    mean = boot.groupby(["search_seed", "k"])["best"].mean()
    assert mean[(0, 1)] == pytest.approx(0.5, abs=0.05)  # one draw: the pool's mean
    assert mean[(0, 1)] < mean[(0, 3)] < mean[(0, 50)] == pytest.approx(0.9)  # more trials, a better best
    assert (boot.loc[boot["search_seed"] == 1, "best"] == 0.3).all()  # a trial without a value is not drawn
    assert boot.equals(best_of_k(table, [1, 3, 50], draws=400))  # seeded
    with pytest.raises(ValueError, match="no finished trial"):
        best_of_k(table.assign(value=math.nan), [1])
    with pytest.raises(ValueError, match="k"):
        best_of_k(table, [0])


def test_an_arm_can_search_its_own_space(tiny):
    wide = SearchSpace({"lr": ("log", 1e-3, 0.3), "weight_decay": ("log", 0.05, 0.1)})
    tables = paired_searches(BASE, tiny, SPACE, [Arm("a", "random", 3), Arm("b", "random", 3, space=wide)], (0,),
                             workers=1)
    assert (tables["a"]["weight_decay"] <= 1e-3).all() and (tables["b"]["weight_decay"] >= 0.05).all()
