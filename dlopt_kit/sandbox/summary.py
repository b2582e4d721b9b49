"""``summary_table``: one row per recipe, the table ``python -m dlopt_kit compare`` and notebook 09 print."""

from __future__ import annotations

import pandas as pd

from dlopt_kit.core.compare import best_rows


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per recipe: the kept epoch's validation accuracy (mean and std over seeds), the mean kept epoch (near the
    last one: the run was still improving), the kept model's test accuracy (mean and std) and seconds per run."""
    best = best_rows(table).groupby("config", sort=False)
    out = pd.DataFrame({"val_acc": best["val_acc"].mean(), "val_acc std": best["val_acc"].std(),
                        "best epoch": best["epoch"].mean(), "test_acc": best["test_acc"].mean(),
                        "test_acc std": best["test_acc"].std(),
                        "seconds per run": table.groupby(["config", "seed"], sort=False)["seconds"].sum()
                        .groupby("config", sort=False).mean()})
    return out.reindex(pd.unique(table["config"])).rename_axis("recipe")
