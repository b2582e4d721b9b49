"""``History``: a list of per-epoch dicts, sliceable by key as in skorch (``history[:, "val_loss"]``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm", "seconds", "weight_norm",
           "near_zero")


class History(list):
    """Per-epoch records; ``history[:, "val_acc"]`` is that column, ``history[-1]`` the last record."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            rows, column = key
            picked = super().__getitem__(rows)
            if isinstance(picked, dict):
                return picked[column]
            return [row[column] for row in picked]
        return super().__getitem__(key)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self), columns=list(COLUMNS) if not self else None)
