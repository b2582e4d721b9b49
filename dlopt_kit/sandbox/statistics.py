"""Lesson 09's comparison statistics: two recipes scored on the same images, compared over test examples and seeds.

A run's table carries its per-example correctness on validation and test (``val_correct``, ``test_correct``: one
boolean array per run, the kept model's, on every row of the run). ``compare_pair`` reads two configs' records as a
seeds x examples table of differences and splits its variance in two-way analysis-of-variance fashion
(``two_level``): training noise (how the seeds' mean differences spread) and the images' own sampling error (how
the images' differences spread, the seed-by-image churn removed). The mean difference's standard error combines
both, and its interval and p-value use Student's t with Welch-Satterthwaite's degrees of freedom, so that three
seeds get the wide quantile three seeds deserve (a bootstrap over so few seeds is too narrow); McNemar's exact test
on the discordant examples is printed alongside. A pair with a run that has no record (a store from before they
were kept, or a metric other than accuracy) falls back to the seed-only rule: a paired t over seeds, and a gain of
the same sign in every seed. ``holm`` adjusts the exploratory pairs' p-values. ``engine.verdicts`` writes the lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from dlopt_kit.core.claims import per_seed

RECORD_COLUMNS = {"val": "val_correct", "test": "test_correct"}
# the (metric, at) readings the records score: the kept model's validation and test accuracy
SPLIT_OF = {("val_acc", "best"): "val", ("test_acc", "last"): "test", ("test_acc", "best"): "test"}
SPLIT_WORDS = {"val": "validation", "test": "test"}
ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    """``better`` minus ``over``: the mean difference, its 95 % interval and two-sided p-value (unadjusted), on
    ``basis`` "examples and seeds" (with ``detail`` naming the counts and McNemar's test) or "seeds only"."""

    better: str
    over: str
    mean: float
    low: float
    high: float
    p: float
    basis: str
    detail: str
    same_sign: bool = True  # every seed's gain has the mean's sign (the seed-only rule asks for it)

    def supports(self, p: float | None = None, alpha: float = ALPHA) -> str:
        """What the comparison supports at ``alpha`` with p-value ``p`` (default: its own, unadjusted)."""
        p = self.p if p is None else p
        if p < alpha and self.same_sign and self.low > 0:
            return f"{self.better} beats {self.over}"
        if p < alpha and self.same_sign and self.high < 0:
            return f"{self.over} beats {self.better}"
        return "no clear difference (this is not evidence of no difference; see power)"


def records(table: pd.DataFrame, config: str, split: str) -> dict[int, np.ndarray] | None:
    """``config``'s per-example correctness on ``split`` ("val" or "test"), seed -> boolean array; None when any of
    its runs has none."""
    column = RECORD_COLUMNS[split]
    if column not in table.columns:
        return None
    runs = table[table["config"] == config].drop_duplicates("seed")
    found = {int(s): v for s, v in zip(runs["seed"], runs[column], strict=True)}
    return found if found and all(isinstance(v, np.ndarray) for v in found.values()) else None


@dataclass(frozen=True)
class TwoLevel:
    """A seeds x examples table of paired differences, split in two-way ANOVA fashion: ``mean`` difference, its
    standard error ``se`` and Welch-Satterthwaite degrees of freedom ``df``; ``seed_var`` (the variance over seeds of
    a seed's mean difference: training noise, which more seeds average out), ``image_var`` (the variance of an
    image's own difference, seed-by-image churn removed: the images' sampling error, which more seeds cannot
    remove), ``k`` seeds and ``n`` examples."""

    mean: float
    se: float
    df: float
    seed_var: float
    image_var: float
    k: int
    n: int

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        half = stats.t.ppf(1 - alpha / 2, self.df) * self.se if self.se > 0 else 0.0
        return self.mean - half, self.mean + half

    @property
    def p(self) -> float:
        """Two-sided p-value of "no difference" (Student's t at ``df``)."""
        if self.se == 0:
            return 1.0 if self.mean == 0 else 0.0
        return float(2 * stats.t.sf(abs(self.mean) / self.se, self.df))


def two_level(better: Mapping[int, np.ndarray], over: Mapping[int, np.ndarray]) -> TwoLevel:
    """``better`` minus ``over``, each seed -> a per-example score (1/0) on the same examples, as a ``TwoLevel``.

    With d[s, i] the difference on example i in seed s (k seeds, n examples), the mean squares of seeds, examples
    and residual are MS_s = n var_s(mean_i d), MS_e = k var_i(mean_s d) and MS_r (the interaction). The mean's
    variance is (MS_s + MS_e - MS_r) / (n k) = seed_var / k + image_var / n + churn / (n k), and its degrees of
    freedom Satterthwaite's for that sum; with one seed it is a paired t over the examples (MS_e / n, n - 1)."""
    if set(better) != set(over) or not better:
        raise ValueError(f"a paired comparison needs the same seeds in both arms, at least one; got {sorted(better)} "
                         f"and {sorted(over)}")
    seeds = sorted(better)
    d = np.stack([np.asarray(better[s], float) - np.asarray(over[s], float) for s in seeds])
    if d.ndim != 2 or np.isnan(d).any():
        raise ValueError("every seed needs one finite score per example, the same examples in both arms")
    k, n = d.shape
    if n < 2:
        raise ValueError(f"a comparison over examples needs at least 2 examples; got {n}")
    mean = float(d.mean())
    by_seed, by_image = d.mean(1), d.mean(0)
    ms_image = k * float(by_image.var(ddof=1))
    if k == 1:
        return TwoLevel(mean, math.sqrt(ms_image / n), n - 1, 0.0, ms_image, 1, n)
    ms_seed = n * float(by_seed.var(ddof=1))
    residual = d - by_seed[:, None] - by_image[None, :] + mean
    ms_res = float((residual**2).sum()) / ((k - 1) * (n - 1))
    total = max(ms_seed + ms_image - ms_res, ms_res, 0.0)
    parts = (ms_seed**2 / (k - 1) + ms_image**2 / (n - 1) + ms_res**2 / ((k - 1) * (n - 1)))
    df = total**2 / parts if parts > 0 else float(k - 1)
    return TwoLevel(mean, math.sqrt(total / (n * k)), max(float(k - 1), min(df, float(k * n - 1))),
                    ms_seed / n, max(0.0, (ms_image - ms_res) / k), k, n)


def mcnemar(better: Mapping[int, np.ndarray], over: Mapping[int, np.ndarray]) -> tuple[int, int, float]:
    """McNemar's exact test on the discordant examples pooled over the seeds: (examples only ``better`` got right,
    examples only ``over`` got right, two-sided binomial p-value at 1/2). Pooling treats every (seed, example) as
    independent, which overstates the evidence with several seeds: it is reported, ``two_level``'s t decides."""
    ours = {s: np.asarray(better[s], bool) for s in better}
    theirs = {s: np.asarray(over[s], bool) for s in better}
    only_better = sum(int((ours[s] & ~theirs[s]).sum()) for s in ours)
    only_over = sum(int((~ours[s] & theirs[s]).sum()) for s in ours)
    total = only_better + only_over
    p = 1.0 if total == 0 else float(stats.binomtest(only_better, total, 0.5).pvalue)
    return only_better, only_over, p


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (same order back; NaN counts as 1): the i-th smallest is multiplied
    by (m - i + 1), and the adjusted values are made non-decreasing in that order, capped at 1."""
    p = np.nan_to_num(np.asarray(pvalues, float), nan=1.0)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order]))
    adjusted = np.empty_like(p)
    adjusted[order] = stepped
    return adjusted.tolist()


def _seeds_only(table: pd.DataFrame, a: str, b: str, metric: str, at: str, common: list[int]) -> Comparison:
    gains = (per_seed(table, a, metric, at=at)[common] - per_seed(table, b, metric, at=at)[common]).to_numpy(float)
    mean, sd, k = float(gains.mean()), float(gains.std(ddof=1)), len(gains)
    if sd == 0:
        p, low, high = (1.0 if mean == 0 else 0.0), mean, mean
    else:
        t = mean / (sd / math.sqrt(k))
        p = float(2 * stats.t.sf(abs(t), k - 1))
        half = stats.t.ppf(1 - ALPHA / 2, k - 1) * sd / math.sqrt(k)
        low, high = mean - half, mean + half
    per = ", ".join(f"{s}: {g:+.3f}" for s, g in zip(common, gains, strict=True))
    same = bool((gains > 0).all() or (gains < 0).all())
    return Comparison(a, b, mean, low, high, p, "seeds only", f"over {k} seeds [{per}], paired t", same)


def compare_pair(table: pd.DataFrame, a: str, b: str, metric: str = "test_acc", at: str = "last"
                 ) -> Comparison | str:
    """``a`` against ``b`` on ``metric`` over their common seeds: over examples and seeds where both have
    per-example records on the same images, else seeds only; a sentence instead when they share fewer than two
    seeds (one seed cannot show how much training varies, so an interval from it would be too narrow)."""
    seeds = {c: set(table.loc[table["config"] == c, "seed"]) for c in (a, b)}
    common = sorted(int(s) for s in seeds[a] & seeds[b])
    split = SPLIT_OF.get((metric, at))
    ours, theirs = (records(table, c, split) if split else None for c in (a, b))
    if len(common) < 2:  # one seed measures the images' error but no training noise: no verdict from it
        return (f"{a} vs {b}: not compared, they share {len(common)} seed(s), and a verdict needs 2 to measure the "
                "training noise")
    if ours is not None and theirs is not None and len({len(ours[s]) for s in common} |
                                                       {len(theirs[s]) for s in common}) == 1:
        ours, theirs = {s: ours[s] for s in common}, {s: theirs[s] for s in common}
        parts = two_level(ours, theirs)
        low, high = parts.interval()
        only_a, only_b, p_mcnemar = mcnemar(ours, theirs)
        detail = (f"over {parts.n:,} {SPLIT_WORDS[split]} examples x {parts.k} seeds, "
                  f"t with {parts.df:.0f} df; McNemar exact {format_p(p_mcnemar, 0.001)} on {only_a} vs {only_b} "
                  f"discordant examples pooled over {parts.k} seeds")
        return Comparison(a, b, parts.mean, low, high, parts.p, "examples and seeds", detail)
    return _seeds_only(table, a, b, metric, at, common)


def format_p(p: float, floor: float = 1e-4) -> str:
    """``p=0.012``, ``p=0.0003`` under 0.001, or ``p<=0.0001`` at or below ``floor``."""
    if p <= floor:
        return f"p<={floor:.2g}"
    return f"p={p:.3f}" if p >= 0.001 else f"p={p:.1g}"


def verdict_line(result: Comparison | str, label: str, adjusted: float | None = None) -> str:
    """One line: ``[label] a vs b: difference, interval, p-value(s), ...: what it supports``; ``adjusted`` (a
    Holm-adjusted p-value) decides when given. A "seeds only" comparison says so in the label."""
    if isinstance(result, str):
        return f"[{label}] {result}"
    tag = f"{label}, seeds only" if result.basis == "seeds only" else label
    head, tail = result.detail.split("; ", 1) if "; " in result.detail else (result.detail, "")
    p_text = format_p(result.p) + ("" if adjusted is None else f", Holm-adjusted {format_p(adjusted)}")
    return (f"[{tag}] {result.better} vs {result.over}: difference {result.mean:+.3f} (95% CI {result.low:+.3f} to "
            f"{result.high:+.3f}) {head}, {p_text}{'; ' + tail if tail else ''}: {result.supports(adjusted)}")
