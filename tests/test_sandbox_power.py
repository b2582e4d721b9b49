"""How many seeds a comparison needs: the normal approximation against a hand computation, and the variance it
reads from a pair's (or one recipe's) per-example records."""

import math

import numpy as np
import pandas as pd
import pytest

from dlopt_kit.sandbox.power import power_table, seeds_needed, variance_parts
from dlopt_kit.sandbox.statistics import two_level


def test_seeds_needed_matches_a_hand_computation():
    z = 1.959964 + 0.841621  # z(0.975) + z(0.80)
    table = seeds_needed(0.01, 0.2, 1000)
    assert table["effect (points)"].tolist() == [0.5, 1.0, 2.0]
    # 2 points: 0.01**2 / ((0.02 / z)**2 - 0.2**2 / 1000) = 1e-4 / 1.0963e-5 = 9.12 -> 10 seeds
    assert 1e-4 / ((0.02 / z) ** 2 - 0.04 / 1000) == pytest.approx(9.12, abs=0.01)
    assert table["seeds needed"].iloc[2] == 10
    # 0.5 and 1 point: the 1,000 test images alone vary by 0.2 / sqrt(1000) = 0.0063, too much: no number of seeds
    assert table["seeds needed"].iloc[:2].isna().all() and "more test examples needed" in table["note"].iloc[0]
    # without test-set error the textbook formula: 1e-4 * z**2 / 0.02**2 = 1.96 -> 2 seeds; never fewer than 1
    assert seeds_needed(0.01, 0.0, 1000, [0.02])["seeds needed"].iloc[0] == math.ceil(1e-4 * z**2 / 4e-4) == 2
    assert seeds_needed(0.0, 0.0, 1000, [0.02])["seeds needed"].iloc[0] == 1


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
