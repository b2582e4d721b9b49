"""Gradient-clipping diagnostics (lesson 06), following the Deep Learning Tuning Playbook's recipe: log the unclipped
gradient norm of every step, look at it over the steps and as a histogram, and start with a clipping threshold at
the 90th percentile of the observed norms. If more than half the steps end up clipped, the clipping is "extremely
aggressive": it acts as a smaller learning rate, and lowering the lr is the plainer fix.

``fit(..., record_grad_norms=True)`` records the norms (``result.steps["grad_norm"]``); ``RunConfig(grad_clip=...,
clip_by="norm")`` clips with ``torch.nn.utils.clip_grad_norm_`` and ``clip_by="value"`` with ``clip_grad_value_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dlopt_kit.core import checks

AGGRESSIVE = 0.5  # the playbook's line: clipping more than half of the steps is a disguised lr cut


def _norms(norms: Sequence[float] | np.ndarray) -> np.ndarray:
    values = np.asarray(norms, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("norms is empty: record them with fit(..., record_grad_norms=True)")
    if not np.isfinite(values).all():
        raise ValueError("norms contain NaN or infinite values: use the norms of a run that did not diverge")
    return values


def suggest_clip(norms: Sequence[float] | np.ndarray, percentile: float = 90.0) -> float:
    """The clipping threshold at ``percentile`` of the observed gradient norms (the playbook's starting point)."""
    percentile = checks.number("percentile", percentile, 0.0, 100.0, low_open=True)
    return float(np.percentile(_norms(norms), percentile))


def share_clipped(norms: Sequence[float] | np.ndarray, threshold: float) -> float:
    """The share of steps whose gradient norm exceeds ``threshold``: those clipping by norm would rescale."""
    threshold = checks.number("threshold", threshold, 0.0, 1e12, low_open=True)
    return float((_norms(norms) > threshold).mean())


def effective_lr(norms: Sequence[float] | np.ndarray, lr: float, threshold: float) -> float:
    """The mean lr a run clipped by norm at ``threshold`` effectively stepped with: ``lr`` times the mean over its
    steps of min(1, threshold / norm) (a clipped step is the unclipped one scaled by that factor). ``norms`` are the
    run's gradient norms before clipping. An unclipped run at this lr is the matched control for a clipped one: the
    same mean step size, without the trimming of the largest steps."""
    lr = checks.number("lr", lr, 0.0, 1e6, low_open=True)
    threshold = checks.number("threshold", threshold, 0.0, 1e12, low_open=True)
    values = _norms(norms)
    scale = np.minimum(1.0, threshold / np.maximum(values, np.finfo(float).tiny))
    return float(lr * scale.mean())


def lowest_failing_lr(val_by_lr: Mapping[float, float], best_lr: float, drop: float = 0.10) -> float | None:
    """The lowest lr above ``best_lr`` whose validation score ``val_by_lr[lr]`` is at least ``drop`` below the best
    lr's (the lr a run cannot use unaided), or None if every larger lr is within ``drop``. Lesson 06 clips there."""
    drop = checks.number("drop", drop, 0.0, 1.0, low_open=True)
    if best_lr not in val_by_lr:
        raise ValueError(f"best_lr={best_lr!r} is not one of the lrs {sorted(val_by_lr)}")
    failing = [lr for lr in sorted(val_by_lr) if lr > best_lr and val_by_lr[lr] <= val_by_lr[best_lr] - drop]
    return float(failing[0]) if failing else None
