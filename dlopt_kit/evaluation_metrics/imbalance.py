"""Imbalanced binary tasks (notebook 07): class weighting, thresholds chosen on validation, honest reports.

``imbalance_metrics(objective, split)`` is a ``compare`` ``extra_metrics`` function (and a panel's row metrics):
it chooses the decision threshold on the **validation** split by ``objective`` and reports recall, precision, F1
and accuracy of the positive class on ``split``, both at the usual 0.5 and at the chosen threshold, plus the
threshold-free ROC AUC and average precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import stats
from sklearn import metrics as skm

from dlopt_kit.core import checks
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import FitResult, predict_proba
from dlopt_kit.evaluation_metrics.metrics import AVERAGES, best_threshold, threshold_metrics

# how the threshold is chosen, all on the validation split: name -> (best_threshold objective, recall floor)
OBJECTIVES: dict[str, tuple[str, float] | None] = {
    "fixed 0.5": None,
    "best F1 (val)": ("f1", 0.0),
    "recall >= 0.9 (val)": ("recall_floor", 0.9),
}
SPLITS = ("val", "test")


def positive_scores(result: FitResult, x) -> np.ndarray:
    """The probability of class 1 for each row of ``x``, from the run's model (its best weights)."""
    return predict_proba(result.model, x)[:, 1].numpy()


def choose_threshold(result: FitResult, data: Splits, objective: str) -> float:
    """The decision threshold ``objective`` picks, chosen on ``data``'s validation split (0.5 for ``fixed 0.5``)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"threshold objective {objective!r} is not allowed: choose one of {', '.join(OBJECTIVES)}")
    rule = OBJECTIVES[objective]
    if rule is None:
        return 0.5
    return best_threshold(data.y_val, positive_scores(result, data.x_val), *rule)


def imbalance_metrics(objective: str = "best F1 (val)", split: str = "test",
                      average: str = "binary") -> Callable[[FitResult, Splits], dict[str, float]]:
    """Metrics of a binary run on ``split``: ``{split}_recall``, ``_precision``, ``_f1``, ``_accuracy`` at 0.5, the
    same with ``_tuned`` at the threshold ``objective`` chooses on validation, ``threshold``, ``{split}_roc_auc`` and
    ``{split}_ap``. ``average`` (``binary``: the positive class; or macro, micro, weighted over both classes) is how
    recall, precision and F1 are averaged; the threshold is always chosen for the positive class's F1 or recall."""
    if average not in AVERAGES:
        raise ValueError(f"average={average!r} is not allowed: choose one of {', '.join(AVERAGES)}")
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not allowed: choose val or test")
    if objective not in OBJECTIVES:
        raise ValueError(f"threshold objective {objective!r} is not allowed: choose one of {', '.join(OBJECTIVES)}")

    def measure(result: FitResult, data: Splits) -> dict[str, float]:
        if data.num_classes != 2:
            raise ValueError(f"imbalance metrics need a binary task; {data.name} has {data.num_classes} classes")
        y = getattr(data, f"y_{split}").numpy()
        scores = positive_scores(result, getattr(data, f"x_{split}"))
        threshold = choose_threshold(result, data, objective)
        out: dict[str, float] = {"threshold": threshold}
        for suffix, at in (("", 0.5), ("_tuned", threshold)):
            m = threshold_metrics(y, scores, at, average)
            for name in ("recall", "precision", "f1", "accuracy"):
                out[f"{split}_{name}{suffix}"] = m[name]
        out[f"{split}_roc_auc"] = float(skm.roc_auc_score(y, scores))
        out[f"{split}_ap"] = float(skm.average_precision_score(y, scores))
        return out

    return measure


def recall_interval(found: int, positives: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a recall of ``found`` out of ``positives``: how far a recall measured on
    few positives may be from the true one (``found=32, positives=32`` gives about 0.89 to 1)."""
    if positives < 1 or not 0 <= found <= positives:
        raise ValueError(f"found={found!r}, positives={positives!r}: need 0 <= found <= positives and positives >= 1")
    ci = stats.binomtest(found, positives).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def at_prevalence(y_true, scores, share: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same labelled scores resampled so that positives make up ``share`` of them: keep every positive and
    subsample the negatives, or the reverse when there are too few negatives. Notebook 07 uses it to show that ROC
    AUC barely moves with the share of positives while average precision falls with it."""
    share = checks.number("share", share, 0.0, 1.0, low_open=True, high_open=True)
    seed = checks.whole("seed", seed, 0, 2**32 - 1)
    y, s = np.asarray(y_true).astype(int), np.asarray(scores, dtype=np.float64)
    if len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} labels but scores has {len(s)}: they must match")
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("at_prevalence needs both positive (1) and negative (0) labels")
    rng = np.random.default_rng(seed)
    n_neg = round(len(pos) * (1 - share) / share)
    if n_neg <= len(neg):
        neg = rng.choice(neg, n_neg, replace=False)
    else:
        pos = rng.choice(pos, max(1, round(len(neg) * share / (1 - share))), replace=False)
    keep = np.sort(np.concatenate([pos, neg]))
    return y[keep], s[keep]


def _reachable(splits: Splits, c: int, share: float) -> None:
    """Refuse a ``share`` that ``one_vs_rest`` cannot reach in some non-empty split: it keeps at least one positive
    (the lowest share is ``1 / (negatives + 1)``) and at least one negative (the highest ``positives / (positives +
    1)``)."""
    low, high, where = 0.0, 1.0, {}
    for split in ("train", "val", "test"):
        y = getattr(splits, f"y_{split}")
        if len(y) == 0:
            continue
        positives = int((y == c).sum())
        negatives = len(y) - positives
        if positives == 0 or negatives == 0:
            what = "image of" if positives == 0 else "image that is not"
            raise ValueError(f"share={share!r} cannot be reached: the {split} split has no {what} "
                             f"{splits.classes[c]}; choose a positive class every split holds, or share=None")
        if 1 / (negatives + 1) > low:
            low, where["low"] = 1 / (negatives + 1), (split, negatives)
        if positives / (positives + 1) < high:
            high, where["high"] = positives / (positives + 1), (split, positives)
    if share < low or share > high:
        lowest, highest = math.ceil(low * 1e4) / 1e4, math.floor(high * 1e4) / 1e4
        split, count = where["low"] if share < low else where["high"]
        why = (f"one positive among the {count} negatives of the {split} split is already {low:.4g}" if share < low
               else f"the {split} split's {count} positives with one negative are at most {high:.4g}")
        raise ValueError(f"share={share!r} cannot be reached ({why}): allowed is {lowest:g} to {highest:g} here")


def one_vs_rest(splits: Splits, positive: str, share: float | None = None, seed: int = 0) -> Splits:
    """A binary task from a multi-class one: ``positive`` (label 1) against every other class (label 0).

    With ``share`` each split is resampled (seeded) so that positives make up that fraction of it: below the
    class's natural share the positives are subsampled (``share=0.05`` gives the 95/5 imbalance of notebook 07),
    above it the negatives are, so that every share in (0, 1) is reached, not capped at the natural one. Both ends
    are bounded by the counts: at least one positive and one negative stay in each split, so a share below
    ``1 / (negatives + 1)`` or above ``positives / (positives + 1)`` of some split cannot be reached and is refused
    (naming the range that can).
    """
    if not isinstance(splits, Splits):
        raise ValueError(f"splits must be a Splits (load_splits' result); got {type(splits).__name__}")
    if not isinstance(positive, str) or positive not in splits.classes:
        raise ValueError(f"positive={positive!r} is not a class of {splits.name}: choose one of "
                         f"{', '.join(splits.classes)}")
    if share is not None:
        share = checks.number("share", share, 0.0, 1.0, low_open=True, high_open=True)
    seed = checks.whole("seed", seed, 0, 2**32 - 1)
    c = splits.classes.index(positive)
    if share is not None:
        _reachable(splits, c, share)
    generator = torch.Generator().manual_seed(seed)
    parts = {}
    for split in ("train", "val", "test"):
        x, y = getattr(splits, f"x_{split}"), getattr(splits, f"y_{split}")
        pos, neg = (y == c).nonzero().flatten().cpu(), (y != c).nonzero().flatten().cpu()
        if share is not None:
            keep = max(1, round(share / (1 - share) * len(neg)))
            if keep <= len(pos):
                pos = pos[torch.randperm(len(pos), generator=generator)[:keep]]
            else:  # more positives than the class has: keep them all and drop negatives instead
                keep = max(1, round((1 - share) / share * len(pos)))
                neg = neg[torch.randperm(len(neg), generator=generator)[:keep]]
        idx = torch.cat([neg, pos]).sort().values.to(y.device)
        parts[f"x_{split}"], parts[f"y_{split}"] = x[idx], (y[idx] == c).long()
    return Splits(f"{splits.name}: {positive} vs rest", classes=[f"not {positive}", positive], **parts)
