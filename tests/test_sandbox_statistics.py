"""Lesson 09's comparison statistics: a t over examples and seeds (two_level), McNemar, Holm, the primary comparison and
the "seeds only" fallback, checked on hand-made records."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dlopt_kit.sandbox.engine import verdict, verdicts
from dlopt_kit.sandbox.statistics import (
    Comparison,
    compare_pair,
    format_p,
    holm,
    mcnemar,
    records,
    two_level,
    verdict_line,
)

NO_CLEAR = "no clear difference (this is not evidence of no difference; see power)"


def runs(config: str, correct: dict[int, np.ndarray], with_records: bool = True) -> pd.DataFrame:
    """A two-epoch table of ``config``'s runs whose kept model (epoch 2) scores ``correct`` on val and test."""
    rows = []
    for seed, c in correct.items():
        for epoch in (1, 2):
            row = {"config": config, "seed": seed, "epoch": epoch, "val_acc": c.mean() - (epoch == 1) * 0.1,
                   "val_loss": 1.0, "test_acc": c.mean(), "best_epoch": 2, "stop_reason": "completed"}
            if with_records:
                row |= {"val_correct": c, "test_correct": c}
            rows.append(row)
    return pd.DataFrame(rows)


def draw(accuracy: float, seeds=(0, 1, 2), n: int = 400, offset: int = 0) -> dict[int, np.ndarray]:
    return {s: np.random.default_rng(100 * s + offset).random(n) < accuracy for s in seeds}


def test_holm_matches_a_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> made non-decreasing: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([0.02]) == [0.02] and holm([]) == []
    assert holm([float("nan"), 0.01]) == pytest.approx([1.0, 0.02])


def test_two_level_matches_a_hand_computed_two_way_anova():
    better = {0: np.array([1, 1, 0, 1], float), 1: np.array([1, 0, 0, 1], float), 2: np.array([1, 1, 1, 1], float)}
    over = {s: np.zeros(4) for s in better}
    d = np.stack([better[s] for s in (0, 1, 2)])  # 3 seeds x 4 examples
    k, n, mean = 3, 4, d.mean()
    ms_seed = n * d.mean(1).var(ddof=1)
    ms_image = k * d.mean(0).var(ddof=1)
    ms_res = ((d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True) + mean) ** 2).sum() / ((k - 1) * (n - 1))
    total = ms_seed + ms_image - ms_res
    df = total**2 / (ms_seed**2 / 2 + ms_image**2 / 3 + ms_res**2 / 6)
    parts = two_level(better, over)
    assert parts.mean == pytest.approx(mean) and parts.se == pytest.approx(np.sqrt(total / (n * k)))
    assert parts.df == pytest.approx(max(2, df)) and parts.seed_var == pytest.approx(ms_seed / n)
    assert parts.image_var == pytest.approx(max(0, (ms_image - ms_res) / k))
    low, high = parts.interval()
    half = stats.t.ppf(0.975, parts.df) * parts.se
    assert (low, high) == pytest.approx((mean - half, mean + half))
    one = two_level({0: better[0]}, {0: over[0]})  # one seed: a paired t over the examples
    assert one.df == 3 and one.se == pytest.approx(better[0].std(ddof=1) / 2)
    same = draw(0.7)
    assert two_level(same, same).p == 1.0 and two_level(draw(0.9), draw(0.5, offset=7)).p < 1e-6
    assert format_p(0.00005) == "p<=0.0001" and format_p(0.0123) == "p=0.012" and format_p(0.00031) == "p=0.0003"
    with pytest.raises(ValueError, match="same seeds in both arms"):
        two_level({0: same[0]}, {1: same[0]})


def test_with_three_seeds_and_training_noise_a_null_difference_is_rarely_called():
    # two identical recipes whose seeds move every example's chance of being right together (training noise
    # larger than the images' error): a t over 3 seeds must not call "beats" much more often than 5 % of the time
    rng = np.random.default_rng(0)
    calls = 0
    for _ in range(200):
        hard = rng.random(2000)  # how hard each image is, shared by both recipes
        shift = {arm: rng.normal(0, 0.02, 3) for arm in "ab"}  # each run's own luck
        arms = {arm: {s: hard < 0.8 + shift[arm][s] for s in range(3)} for arm in "ab"}
        if two_level(arms["a"], arms["b"]).p < 0.05:
            calls += 1
    assert calls / 200 <= 0.1


def test_mcnemar_is_the_exact_binomial_test_on_the_pooled_discordant_examples():
    a = {0: np.array([1, 1, 1, 1, 1, 0, 0, 1], bool), 1: np.array([1, 1, 1, 0, 1, 1, 0, 0], bool)}
    b = {0: np.array([0, 0, 0, 1, 0, 0, 1, 1], bool), 1: np.array([0, 0, 1, 0, 1, 0, 0, 0], bool)}
    only_a, only_b, p = mcnemar(a, b)
    assert (only_a, only_b) == (4 + 3, 1 + 0)
    assert p == pytest.approx(2 * (1 + 8) / 2**8)  # 2 x P(X <= 1), X ~ Binomial(8, 1/2)
    assert p == pytest.approx(stats.binomtest(7, 8, 0.5).pvalue)
    assert mcnemar(a, a)[2] == 1.0  # no discordant example


def test_verdicts_give_one_primary_and_holm_corrected_exploratory_pairs():
    table = pd.concat([runs("base", draw(0.6)), runs("better", draw(0.9, offset=1)),
                       runs("twin", draw(0.6, offset=2))], ignore_index=True)
    lines = verdicts(table)
    assert len(lines) == 3
    assert lines[0].startswith("[primary] better vs base: difference +0.3")
    assert lines[0].endswith(": better beats base")
    assert "over 400 test examples x 3 seeds, t with 130 df, p<=0.0001" in lines[0]
    assert "McNemar exact p<=0.001 on " in lines[0] and "pooled over 3 seeds" in lines[0]
    label = "[exploratory, Holm-corrected over 2 comparisons]"
    assert lines[1].startswith(f"{label} twin vs base") and lines[1].endswith(NO_CLEAR)
    assert lines[2].startswith(f"{label} twin vs better") and lines[2].endswith("better beats twin")
    raw = [compare_pair(table, a, b).p for a, b in (("twin", "base"), ("twin", "better"))]
    assert f"Holm-adjusted {format_p(holm(raw)[0])}" in lines[1]
    chosen = verdicts(table, "val_acc", at="best", primary=("twin", "base"))
    assert chosen[0].startswith("[primary] twin vs base") and "validation examples" in chosen[0]
    assert [line.split("] ")[1].split(":")[0] for line in chosen[1:]] == ["better vs base", "twin vs better"]
    assert verdict("better", "base", table).startswith("[primary] better vs base")
    with pytest.raises(ValueError, match="name two different configs of the table: base, better, twin"):
        verdicts(table, primary=("better", "nope"))
    assert verdicts(runs("alone", draw(0.5))) == []


def test_a_held_out_p_decides_and_an_interval_touching_zero_is_no_clear_difference():
    result = Comparison("a", "b", 0.02, 0.001, 0.04, 0.01, "examples and seeds", "over 10 test examples x 1 seed")
    assert result.supports() == "a beats b" and result.supports(0.2) == NO_CLEAR
    assert Comparison("a", "b", -0.02, -0.04, -0.001, 0.01, "x", "y").supports() == "b beats a"
    assert Comparison("a", "b", 0.02, 0.0, 0.04, 0.01, "x", "y").supports() == NO_CLEAR
    assert verdict_line("a vs b: not compared", "exploratory") == "[exploratory] a vs b: not compared"


def test_runs_without_records_fall_back_to_seeds_only():
    table = pd.concat([runs("base", draw(0.6)), runs("other", draw(0.9, offset=1), with_records=False)])
    assert records(table, "base", "test") is not None and records(table, "other", "test") is None
    line = verdicts(table)[0]
    gains = [draw(0.9, offset=1)[s].mean() - draw(0.6)[s].mean() for s in (0, 1, 2)]
    p = stats.ttest_rel([draw(0.9, offset=1)[s].mean() for s in (0, 1, 2)], [draw(0.6)[s].mean() for s in (0, 1, 2)])
    assert line.startswith(f"[primary, seeds only] other vs base: difference {np.mean(gains):+.3f}")
    assert f"paired t, {format_p(p.pvalue)}" in line and "over 3 seeds [0: " in line and "McNemar" not in line
    no_columns = table.drop(columns=["val_correct", "test_correct"])
    assert verdicts(no_columns, "val_acc", at="best")[0].startswith("[primary, seeds only]")
    assert "seeds only" in verdicts(pd.concat([runs("a", draw(0.5)), runs("b", draw(0.6))]), "val_loss", "best")[0]


def test_one_shared_seed_gives_no_verdict_with_records_or_without():
    # one seed shows the images' error but not how much training varies: an interval from it would be too narrow
    a = draw(0.6, seeds=(0,))
    b = {0: a[0].copy()}
    b[0][:50] = True  # clearly better on these images
    one = pd.concat([runs("a", a), runs("b", b)])
    expected = ("[primary] b vs a: not compared, they share 1 seed(s), and a verdict needs 2 to measure the training "
                "noise")
    assert verdicts(one)[0] == expected
    assert verdicts(one.drop(columns=["val_correct", "test_correct"]))[0] == expected
