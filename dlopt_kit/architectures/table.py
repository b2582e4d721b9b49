"""Architectures side by side: one call trains each config with every seed and returns what a practitioner weighs,
parameters, seconds per epoch and accuracy, next to the per-epoch table for the curves and the claims."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from dlopt_kit.core.compare import best_rows, compare
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.models import count_parameters


def architecture_table(configs: Mapping[str, RunConfig], data: Splits, seeds: Sequence[int] = (0, 1, 2),
                       progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every config of ``configs`` (label -> config) with every seed on ``data``. Returns ``compare``'s table
    and a summary per label: trainable parameters, seconds per epoch (mean over epochs and seeds: machine-dependent,
    compare within one table), the best validation accuracy and the kept model's test accuracy (mean and std over
    seeds)."""
    models: dict = {}
    table = compare(dict(configs), data, seeds, progress=progress, models=models)
    best = best_rows(table).groupby("config", sort=False)
    params = {label: count_parameters(model) for (label, _seed), model in models.items()}
    summary = pd.DataFrame({"parameters": pd.Series(params),
                            "seconds per epoch": table.groupby("config", sort=False)["seconds"].mean(),
                            "val_acc": best["val_acc"].mean(),
                            "test_acc": best["test_acc"].mean(), "test_acc std": best["test_acc"].std()})
    return table, summary.reindex(list(configs)).rename_axis("architecture")
