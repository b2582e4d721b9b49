"""Lesson 07's bootstrap of a test-set AP: sklearn's AP per resample, and the paired difference's spreads."""

import numpy as np
import pytest
from sklearn import metrics as skm

from dlopt_kit.evaluation_metrics.bootstrap import ap_difference_bootstrap, resampled_ap


def test_resampled_ap_is_sklearns_on_each_resample_ties_included():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.1).astype(int)
    s = np.round(rng.random(300) * 0.5 + 0.4 * y, 1)  # coarse: many ties
    counts = rng.multinomial(300, np.full(300, 1 / 300), size=20)
    got = resampled_ap(y, s, counts)
    want = [skm.average_precision_score(np.repeat(y, c), np.repeat(s, c)) for c in counts]
    assert got == pytest.approx(want)
    assert resampled_ap(y, s, np.ones(300))[0] == pytest.approx(skm.average_precision_score(y, s))
    with pytest.raises(ValueError, match="one column per example"):
        resampled_ap(y, s, np.ones((2, 5)))


def test_ap_difference_bootstrap_sees_the_test_sets_noise_and_the_seeds():
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.05).astype(int)
    base = rng.normal(size=2000) + 1.8 * y
    prob = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    better = {s: prob(base + 0.3 * rng.normal(size=2000) + 0.3 * y) for s in range(6)}
    worse = {s: prob(base + 0.3 * rng.normal(size=2000)) for s in range(6)}
    result = ap_difference_bootstrap(y, better, worse, n_boot=300, name="toy")
    truth = np.mean([skm.average_precision_score(y, better[s]) - skm.average_precision_score(y, worse[s])
                     for s in range(6)])
    assert result.mean == pytest.approx(truth)
    low, high = result.combined
    assert low < result.mean < high and result.combined_se >= result.examples_se * 0.9
    assert 0.01 < result.one_ap_se < 0.1  # about 100 positives: an AP moves by a few hundredths
    assert "95% interval over seeds and test examples" in result.summary()
    with pytest.raises(ValueError, match="same seeds"):
        ap_difference_bootstrap(y, better, {0: worse[0]})
