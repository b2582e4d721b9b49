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


def seeds_needed(seed_sd: float, example_sd: float, examples: int, effects: Sequence[float] = EFFECTS,
                 alpha: float = ALPHA, power: float = 0.8) -> pd.DataFrame:
    """Seeds per arm that detect each of ``effects`` (accuracy differences) with probability ``power`` in a
    two-sided test at ``alpha``, on a fixed set of ``examples`` test images (normal approximation).

    With K seeds, the mean difference varies by seed_sd**2 / K (training noise, which more seeds average out) plus
    example_sd**2 / examples (the test images' own sampling error, the same images for every seed: more seeds do
    not shrink it). An effect d is detected with the given power when d / sqrt(that variance) >= z(1 - alpha/2) +
    z(power), so K = ceil(seed_sd**2 / ((d / (z(1 - alpha/2) + z(power)))**2 - example_sd**2 / examples)), at least
    1. When the bracket is <= 0 no number of seeds is enough: ``seeds needed`` is <NA> and the note says more test
    examples are needed. ``seed_sd``: the standard deviation over seeds of one seed's difference in accuracy;
    ``example_sd``: the standard deviation over examples of an example's own difference, the seed-by-example churn
    removed (``statistics.two_level``'s ``image_var``: the churn averages out with more seeds, so it belongs to the
    seeds' part). A normal approximation: with few seeds the t-quantile a verdict uses is larger, so read the numbers
    as a lower bound.
    Notebook 09 and ``python -m dlopt_kit compare`` print it."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    floor = example_sd**2 / examples
    rows = []
    for effect in effects:
        room = (effect / z) ** 2 - floor
        seeds = max(1, math.ceil(seed_sd**2 / room)) if room > 0 else pd.NA
        note = "" if room > 0 else f"more test examples needed: {examples:,} alone are too few for this effect"
        rows.append({"effect (points)": 100 * effect, "seeds needed": seeds, "note": note})
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
