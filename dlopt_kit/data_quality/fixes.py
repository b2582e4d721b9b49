"""Fixes for what the data report finds (lesson 01): drop, deduplicate, impute, relabel, resample.

Each returns a new ``Splits`` and leaves its input unchanged. Reweighting classes is a training setting rather than
a change of the data: ``RunConfig(class_weight="balanced")``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.corruptions import with_split
from dlopt_kit.core.data import Splits
from dlopt_kit.data_quality.report import DataReport, LabelIssues

IMPUTE = ("zero", "mean", "neighbours")


def drop(data: Splits, indices: np.ndarray | list[int], split: str = "train") -> Splits:
    """``data`` without the rows ``indices`` of ``split``."""
    split = checks.choice("split", split, ("train", "val", "test"))
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    keep = np.setdiff1d(np.arange(len(y)), np.asarray(indices, dtype=np.int64))
    return with_split(data, split, x[keep], y[keep])


def deduplicate(data: Splits, report: DataReport) -> Splits:
    """``data`` without the training examples the report found duplicated (exact or near; one of each group is
    kept) and without the evaluation examples it found in the training split."""
    dupes = np.union1d(report["exact duplicates"].indices, report["near duplicates"].indices)
    out = drop(data, dupes, "train")
    for check, finding in report.findings.items():
        if check.startswith("in train and "):
            out = drop(out, finding.indices, finding.split)
    return out


def _neighbour_fill(x: torch.Tensor, rounds: int = 4) -> torch.Tensor:
    """Fill each missing pixel with the mean of its observed 3x3 neighbours (normalised convolution), repeating
    so that holes wider than a pixel fill from their edges; pixels with no observed neighbour after ``rounds`` get
    0."""
    observed = (~torch.isnan(x)).float()
    filled = torch.nan_to_num(x, nan=0.0)
    kernel = torch.ones(x.shape[1], 1, 3, 3, dtype=x.dtype)
    for _ in range(rounds):
        total = F.conv2d(filled * observed, kernel, padding=1, groups=x.shape[1])
        count = F.conv2d(observed, kernel, padding=1, groups=x.shape[1])
        fill = total / count.clamp_min(1.0)
        filled = torch.where(observed.bool(), filled, torch.where(count > 0, fill, filled))
        observed = torch.maximum(observed, (count > 0).float())
    return filled


def impute(data: Splits, method: str = "neighbours") -> Splits:
    """``data`` with every NaN input filled in every split: ``zero`` (0, the naive fill), ``mean`` (each feature's
    training mean, scikit-learn's ``SimpleImputer``) or ``neighbours`` (images: the mean of the observed 3x3
    neighbouring pixels; tabular data: scikit-learn's ``KNNImputer`` over the 5 nearest training rows). In a dry run a
    split that needs filling keeps only its first ``dry_run.EXAMPLES`` examples (the fill is work on every row)."""
    from sklearn.impute import KNNImputer, SimpleImputer

    method = checks.choice("method", method, IMPUTE)
    images = data.x_train.ndim == 4
    fitted = None
    if method == "mean" or (method == "neighbours" and not images):
        imputer = SimpleImputer(strategy="mean", keep_empty_features=True) if method == "mean" else KNNImputer()
        fitted = imputer.fit(data.x_train.flatten(1).numpy())
    out = data
    for split in ("train", "val", "test"):
        x = getattr(data, f"x_{split}")
        if not torch.isnan(x).any():
            continue
        x, y = dry.head(x, getattr(data, f"y_{split}"))
        if method == "zero":
            filled = torch.nan_to_num(x, nan=0.0)
        elif fitted is not None:
            filled = torch.from_numpy(fitted.transform(x.flatten(1).numpy()).astype(np.float32)).view(x.shape)
        else:
            filled = _neighbour_fill(x)
        out = with_split(out, split, filled, y)
    return out


def relabel(data: Splits, issues: LabelIssues) -> Splits:
    """``data`` with each flagged training label replaced by the out-of-fold model's class."""
    y = data.y_train.clone()
    y[torch.from_numpy(issues.indices)] = torch.from_numpy(issues.suggested).to(y.dtype)
    return with_split(data, "train", data.x_train, y)


def oversample(data: Splits, seed: int = 0) -> Splits:
    """``data`` with every class of the training split resampled (with replacement, scikit-learn's ``resample``) up
    to the largest class's count."""
    from sklearn.utils import resample

    y = data.y_train.cpu().numpy()
    counts = np.bincount(y, minlength=data.num_classes)
    picked = [resample(np.flatnonzero(y == c), n_samples=int(counts.max()), random_state=seed + c)
              if 0 < counts[c] < counts.max() else np.flatnonzero(y == c) for c in range(data.num_classes)]
    order = np.sort(np.concatenate(picked))
    return with_split(data, "train", data.x_train[order], data.y_train[order])
