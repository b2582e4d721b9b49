"""How far a test-set average precision (AP) can move by the test set's own sampling (notebook 07).

All seeds of a lesson share one test set, so an interval over seeds leaves out the test examples' sampling error.
``resampled_ap`` computes sklearn's AP for many bootstrap resamples of the test examples at once (each resample as
a row of counts, one sort per score vector), and ``ap_difference_bootstrap`` uses it for a paired AP difference of
two arms: its standard error over test examples, the standard error of one AP, and a 95 % percentile interval that
resamples seeds and test examples together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlopt_kit.evaluation_metrics.metrics import check_binary


def resampled_ap(y_true, scores, counts: np.ndarray) -> np.ndarray:
    """The average precision (as ``sklearn.metrics.average_precision_score``, ties grouped) of ``scores`` against
    0/1 labels ``y_true`` in each resample: row ``b`` of ``counts`` (resamples x examples) says how often each
    example is drawn. A resample without a positive gives NaN."""
    y, s = check_binary(y_true, scores)
    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    if counts.shape[1] != len(y):
        raise ValueError(f"counts must have one column per example ({len(y)}); got shape {counts.shape}")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted, w = s[order], y[order].astype(np.float64), counts[:, order]
    hits = w * y_sorted
    tp, drawn = np.cumsum(hits, axis=1), np.cumsum(w, axis=1)
    # tied scores share one threshold: every member of a tie group gets the precision at the group's end
    new_group = np.r_[True, s_sorted[1:] != s_sorted[:-1]]
    ends = np.r_[np.flatnonzero(new_group)[1:] - 1, len(s) - 1][np.cumsum(new_group) - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp[:, ends] / np.maximum(drawn[:, ends], 1e-300)
        return (hits * precision).sum(axis=1) / tp[:, -1]


@dataclass(frozen=True)
class APDifferenceBootstrap:
    """A paired AP difference (candidate minus reference, averaged over seeds) and its bootstrap spreads."""

    name: str
    mean: float
    seeds_se: float
    examples_se: float
    one_ap_se: float
    combined_se: float
    combined: tuple[float, float]
    n_boot: int

    def summary(self) -> str:
        low, high = self.combined
        return (f"{self.name}: difference {self.mean:+.3f}; standard error over test examples {self.examples_se:.3f} "
                f"(of one AP {self.one_ap_se:.3f}), over seeds {self.seeds_se:.3f}, both together "
                f"{self.combined_se:.3f}; 95% interval over seeds and test examples {low:+.3f} to {high:+.3f} "
                f"({self.n_boot} resamples)")


def ap_difference_bootstrap(y_true, candidate: Mapping[int, np.ndarray], reference: Mapping[int, np.ndarray],
                            n_boot: int = 1000, seed: int = 0, name: str = "AP difference") -> APDifferenceBootstrap:
    """Bootstrap the seed-averaged AP difference of ``candidate`` over ``reference`` (seed -> test scores, the same
    seeds and test examples in both). Test examples are resampled with replacement, the same draw for every run
    (the arms are paired on examples as on seeds): ``examples_se`` is the spread of the all-seed mean over those
    draws, ``one_ap_se`` that of the first candidate run's AP. ``combined`` also resamples the seeds in each draw
    (a two-level bootstrap), so its 95 % percentile interval carries both sources of error."""
    if set(candidate) != set(reference) or len(candidate) < 2:
        raise ValueError(f"need the same seeds, at least 2, in both arms; got {sorted(candidate)} and "
                         f"{sorted(reference)}")
    y = np.asarray(y_true).astype(int)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(y), np.full(len(y), 1.0 / len(y)), size=n_boot)
    seeds = sorted(candidate)
    diffs = np.stack([resampled_ap(y, candidate[s], counts) - resampled_ap(y, reference[s], counts)
                      for s in seeds], axis=1)  # resamples x seeds
    one_ap = resampled_ap(y, candidate[seeds[0]], counts)
    full = np.ones((1, len(y)))
    per_seed = np.array([resampled_ap(y, candidate[s], full)[0] - resampled_ap(y, reference[s], full)[0]
                         for s in seeds])
    picks = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
    combined = np.take_along_axis(diffs, picks, axis=1).mean(axis=1)
    low, high = np.nanpercentile(combined, [2.5, 97.5])
    return APDifferenceBootstrap(name, float(per_seed.mean()), float(per_seed.std(ddof=1) / np.sqrt(len(seeds))),
                                 float(np.nanstd(diffs.mean(axis=1), ddof=1)), float(np.nanstd(one_ap, ddof=1)),
                                 float(np.nanstd(combined, ddof=1)), (float(low), float(high)), n_boot)
