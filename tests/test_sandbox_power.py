"""How many seeds a comparison needs: the t-test's power against a hand computation, and the variance it
reads from a pair's (or one recipe's) per-example records."""

import math

import numpy as np
import pandas as pd
import pytest

from dlopt_kit.sandbox.power import power_table, seeds_needed, variance_parts
from dlopt_kit.sandbox.statistics import two_level


def test_seeds_needed_is_the_least_count_whose_t_test_reaches_the_power():
    from scipy import stats

    def power(k, d, seed_var, image_var, n):  # by hand: Welch-Satterthwaite df, noncentral t
        a, b = seed_var / k, image_var / n
        df = (a + b) ** 2 / (a**2 / (k - 1) + b**2 / (n - 1))
        crit, ncp = stats.t.ppf(0.975, df), d / math.sqrt(a + b)
        return stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)

    table = seeds_needed(0.01, 0.2, 1000)
    assert table["effect (points)"].tolist() == [0.5, 1.0, 2.0]
    k = int(table["seeds needed"].iloc[2])
    assert power(k, 0.02, 1e-4, 0.04, 1000) >= 0.8 > power(k - 1, 0.02, 1e-4, 0.04, 1000)
    # 0.5 and 1 point: the 1,000 test images alone vary by 0.2 / sqrt(1000) = 0.0063, too much: no number of seeds
    assert table["seeds needed"].iloc[:2].isna().all() and "more test examples needed" in table["note"].iloc[0]
    # never fewer than 2: a verdict needs two seeds to measure the training noise
    assert seeds_needed(0.0, 0.0, 1000, [0.02])["seeds needed"].iloc[0] == 2
    z = 1.959964 + 0.841621  # the normal approximation would say ceil(1e-4 * z**2 / 0.02**2) = 2 seeds
    assert seeds_needed(0.01, 0.0, 1000, [0.02])["seeds needed"].iloc[0] > math.ceil(1e-4 * z**2 / 4e-4) == 2


def records_table(correct: dict[str, dict[int, np.ndarray]]) -> pd.DataFrame:
    return pd.DataFrame([{"config": c, "seed": s, "epoch": 1, "best_epoch": 1, "test_acc": a.mean(),
                          "val_acc": a.mean(), "test_correct": a, "val_correct": a}
                         for c, by_seed in correct.items() for s, a in by_seed.items()])


def test_power_reads_the_seed_and_example_variance_of_a_pair_and_of_one_recipe():
    rng = np.random.default_rng(0)
    a = {s: rng.random(300) < 0.7 for s in range(3)}
    b = {s: rng.random(300) < 0.6 for s in range(3)}
    table = records_table({"a": a, "b": b})
    diff = np.stack([a[s].astype(float) - b[s] for s in range(3)])
    seed_sd, example_sd, n = variance_parts(table, "a", "b")
    parts = two_level(a, b)  # the example part without the seed-by-example churn, which more seeds average out
    assert (seed_sd, example_sd, n) == pytest.approx((diff.mean(1).std(ddof=1), math.sqrt(parts.image_var), 300))
    assert example_sd < diff.mean(0).std(ddof=1)
    assert power_table(table, "a", "b").equals(seeds_needed(seed_sd, example_sd, 300))
    runs = np.stack([a[s].astype(float) for s in range(3)])
    alone = variance_parts(table, "a")
    between = np.mean([(runs[0] - runs[1]).var(ddof=1), (runs[1] - runs[2]).var(ddof=1)])
    assert alone == pytest.approx((math.sqrt(2) * runs.mean(1).std(ddof=1), math.sqrt(between), 300))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        variance_parts(records_table({"a": {0: a[0]}, "b": {0: b[0]}}), "a", "b")
    with pytest.raises(ValueError, match="power needs per-example records"):
        variance_parts(table.drop(columns=["test_correct"]), "a", "b")


def test_a_larger_effect_never_needs_more_seeds_even_far_in_the_t_tail():
    # training noise only, few seeds: the noncentral t's tail, where scipy can return NaN, must still count
    needed = seeds_needed(0.00425, 0.0, 2000, [0.005, 0.01, 0.02, 0.05])["seeds needed"].tolist()
    assert needed == sorted(needed, reverse=True) and needed[-1] == 2
