"""How many seeds a comparison needs: lesson 09's power estimate, from the variance a pair (or a recipe) showed.

A verdict of "no clear difference" says nothing about an effect the comparison could not have seen. ``power_table``
measures how much a pair's difference varies from seed to seed and from test example to test example, and
``seeds_needed`` turns that into the number of seeds that would detect an effect of 0.5, 1 and 2 accuracy points
on the same test images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from dlopt_kit.sandbox.statistics import ALPHA, SPLIT_OF, records, two_level

EFFECTS = (0.005, 0.01, 0.02)  # accuracy differences (0.5, 1 and 2 points)


MOST_SEEDS = 200  # the search's limit


def _power(seeds: int, effect: float, seed_var: float, image_var: float, examples: int, alpha: float) -> float:
    """The chance that a two-sided t-test at ``alpha`` (Welch-Satterthwaite degrees of freedom, as the verdicts use)
    detects ``effect`` with ``seeds`` seeds on ``examples`` fixed images (noncentral t)."""
    a, b = seed_var / seeds, image_var / examples
    if a + b == 0:
        return 1.0
    df = (a + b) ** 2 / (a**2 / (seeds - 1) + b**2 / max(examples - 1, 1))
    crit = stats.t.ppf(1 - alpha / 2, df)
    ncp = effect / math.sqrt(a + b)
    upper = stats.nct.sf(crit, df, ncp)
    if not math.isfinite(upper):  # scipy's noncentral t can fail far in its tail: the upper side from the cdf
        upper = 1 - stats.nct.cdf(crit, df, ncp)
    if not math.isfinite(upper):  # and, failing that, the normal shifted by ncp, at the t's critical value
        upper = stats.norm.sf(crit - ncp)
    lower = stats.nct.cdf(-crit, df, ncp)
    return float(upper + (lower if math.isfinite(lower) else stats.norm.cdf(-crit - ncp)))


def seeds_needed(seed_sd: float, example_sd: float, examples: int, effects: Sequence[float] = EFFECTS,
                 alpha: float = ALPHA, power: float = 0.8) -> pd.DataFrame:
    """Seeds per arm that detect each of ``effects`` (accuracy differences) with probability ``power`` in the
    verdicts' two-sided t-test at ``alpha``, on a fixed set of ``examples`` test images.

    With K seeds, the mean difference varies by seed_sd**2 / K (training noise, which more seeds average out) plus
    example_sd**2 / examples (the test images' own sampling error, the same images for every seed: more seeds do
    not shrink it); the test is Student's t with Welch-Satterthwaite's degrees of freedom for that sum, and its power
    for an effect d the noncentral t's. The answer is the least K from 2 (a verdict needs two seeds to measure the
    training noise) whose power reaches ``power``. When even many seeds (``MOST_SEEDS``) are not enough because the
    images' error alone is too large, ``seeds needed`` is <NA> and the note says more test examples are needed.
    ``seed_sd``: the standard deviation over seeds of one seed's difference in accuracy; ``example_sd``: the standard
    deviation over examples of an example's own difference, the seed-by-example churn removed
    (``statistics.two_level``'s ``image_var``: the churn averages out with more seeds, so it belongs to the seeds'
    part). Notebook 09 and ``python -m dlopt_kit compare`` print it."""
    seed_var, image_var = seed_sd**2, example_sd**2
    rows = []
    for effect in effects:
        found = next((k for k in range(2, MOST_SEEDS + 1)
                      if _power(k, effect, seed_var, image_var, examples, alpha) >= power), None)
        if found is not None:
            rows.append({"effect (points)": 100 * effect, "seeds needed": found, "note": ""})
            continue
        too_few = _power(MOST_SEEDS, effect, 0.0, image_var, examples, alpha) < power
        note = (f"more test examples needed: {examples:,} alone are too few for this effect" if too_few
                else f"more than {MOST_SEEDS} seeds")
        rows.append({"effect (points)": 100 * effect, "seeds needed": pd.NA, "note": note})
    return pd.DataFrame(rows).astype({"seeds needed": "Int64"})


def variance_parts(table: pd.DataFrame, a: str, b: str | None = None, metric: str = "test_acc",
                   at: str = "last") -> tuple[float, float, int]:
    """(seed_sd, example_sd, examples) for ``seeds_needed``, measured from the per-example records of ``a`` against
    ``b`` on their common seeds (``statistics.two_level``); with ``b`` None, from ``a``'s runs alone, for a
    difference between two arms that vary like it: seed_sd is sqrt(2) x its accuracy's sd over seeds, example_sd the
    sd over examples of the difference between two of its seeds (consecutive pairs, averaged in variance).
    ValueError without records or with fewer than 2 seeds."""
    split = SPLIT_OF.get((metric, at))
    ours = records(table, a, split) if split else None
    theirs = None if b is None or not split else records(table, b, split)
    if ours is None or (b is not None and theirs is None):
        raise ValueError(f"power needs per-example records of {metric} at={at!r} for {a!r}"
                         f"{'' if b is None else f' and {b!r}'} (runs from before they were kept have none)")
    seeds = sorted(set(ours) & set(theirs)) if theirs is not None else sorted(ours)
    if len(seeds) < 2:
        raise ValueError(f"power needs at least 2 seeds to measure the seed-to-seed variance; got {seeds}")
    if theirs is not None:
        parts = two_level({s: ours[s] for s in seeds}, {s: theirs[s] for s in seeds})
        return math.sqrt(parts.seed_var), math.sqrt(parts.image_var), parts.n
    runs = np.stack([ours[s].astype(float) for s in seeds])
    between = np.mean([(runs[i] - runs[i + 1]).var(ddof=1) for i in range(len(seeds) - 1)])
    return math.sqrt(2) * float(runs.mean(1).std(ddof=1)), math.sqrt(between), runs.shape[1]


def power_table(table: pd.DataFrame, a: str, b: str | None = None, metric: str = "test_acc", at: str = "last",
                effects: Sequence[float] = EFFECTS, alpha: float = ALPHA, power: float = 0.8) -> pd.DataFrame:
    """``seeds_needed`` with the variance ``a`` against ``b`` (or ``a`` alone) showed (see ``variance_parts``)."""
    return seeds_needed(*variance_parts(table, a, b, metric, at), effects, alpha, power)
