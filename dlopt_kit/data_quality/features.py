"""Feature engineering (lesson 01): computed inputs that let a small model draw a boundary it cannot draw alone.

On the 2-D sets, ``engineer(data, ["x1^2", "x2^2"])`` gives a linear model circles it can separate (a circle is a
line in (x1^2, x2^2)); ``x1*x2`` does the same for XOR. On breast_cancer, ``pleomorphism`` adds the feature a
pathologist reads first: how much larger the largest nuclei are than the average one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.corruptions import with_split
from dlopt_kit.core.data import Splits

FEATURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "x1": lambda x: x[:, 0],
    "x2": lambda x: x[:, 1],
    "x1^2": lambda x: x[:, 0] ** 2,
    "x2^2": lambda x: x[:, 1] ** 2,
    "x1*x2": lambda x: x[:, 0] * x[:, 1],
    "sin x1": lambda x: np.sin(np.pi * x[:, 0]),
    "sin x2": lambda x: np.sin(np.pi * x[:, 1]),
    "radius": lambda x: np.hypot(x[:, 0], x[:, 1]),
    "angle": lambda x: np.arctan2(x[:, 1], x[:, 0]),
}
ENGINEERED = ("x1", "x2", "x1^2", "x2^2", "x1*x2")  # the panel's "engineered features on": raw plus these


class FeatureMap:
    """Computed features of 2-D points, standardised with the training split's mean and spread (``fit``)."""

    def __init__(self, names: Sequence[str]) -> None:
        unknown = [n for n in names if n not in FEATURES]
        if unknown or not names:
            raise ValueError(f"features={list(names)!r}: {', '.join(map(repr, unknown)) or 'none given'} not "
                             f"allowed; choose from {', '.join(FEATURES)}")
        self.names = list(names)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def raw(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"feature engineering takes 2-D points (N, 2); got shape {x.shape}")
        return np.stack([FEATURES[n](x) for n in self.names], axis=1)

    def fit(self, x: np.ndarray | torch.Tensor) -> FeatureMap:
        computed = self.raw(x)
        self.mean, self.std = computed.mean(0), np.maximum(computed.std(0), 1e-6)
        return self

    def __call__(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        if self.mean is None:
            raise RuntimeError("FeatureMap.fit(x_train) first")
        return torch.from_numpy(((self.raw(x) - self.mean) / self.std).astype(np.float32))


def engineer(data: Splits, names: Sequence[str]) -> tuple[Splits, FeatureMap]:
    """``data`` (a 2-D set) with its inputs replaced by the features ``names`` (raw ``x1``, ``x2`` only if listed),
    standardised on the training split; and the fitted map, which ``plot_decision_boundary`` applies to its grid."""
    fmap = FeatureMap(names).fit(data.x_train.numpy())
    out = data
    for split in ("train", "val", "test"):
        out = with_split(out, split, fmap(getattr(data, f"x_{split}").numpy()), getattr(data, f"y_{split}"))
    out.name = f"{data.name} [{', '.join(names)}]"
    return out, fmap


# breast_cancer's 30 columns: 10 measurements of the cell nuclei, as their mean (0-9), standard error (10-19) and
# "worst" value, the mean of the three largest (20-29); measurement 3 is the area
MEAN_COLUMNS = slice(0, 10)
MEAN_AREA, WORST_AREA = 3, 23


def mean_features(x: np.ndarray) -> np.ndarray:
    """breast_cancer's 10 mean measurements of the nuclei (radius, texture, ..., fractal dimension)."""
    return x[:, MEAN_COLUMNS]


def pleomorphism(x: np.ndarray) -> np.ndarray:
    """The 10 mean measurements plus worst area / mean area: how far the largest nuclei outgrow the average one
    (nuclear pleomorphism, a sign of malignancy a pathologist grades)."""
    return np.concatenate([mean_features(x), (x[:, WORST_AREA] / x[:, MEAN_AREA])[:, None]], axis=1)


def feature_study(name: str, names: Sequence[str], linear: RunConfig, bigger: RunConfig,
                  seeds: Sequence[int] = (0, 1, 2),
                  models: dict | None = None) -> tuple[pd.DataFrame, Splits, FeatureMap]:
    """Three arms on the 2-D set ``name``, trained with every seed: ``linear`` on the raw (x1, x2), ``linear`` on the
    engineered features ``names``, and ``bigger`` (an MLP) on the raw inputs. Returns ``compare``'s table (configs
    ``linear, raw``, ``linear, engineered``, ``mlp, raw``), the raw splits and the fitted feature map; ``models``
    receives every run's model under ``(config, seed)``."""
    from dlopt_kit.core.compare import compare
    from dlopt_kit.core.data import load_splits

    raw = load_splits(name)
    engineered, fmap = engineer(raw, names)
    table = pd.concat([compare({"linear, raw": linear}, raw, seeds, progress=False, models=models),
                       compare({"linear, engineered": linear}, engineered, seeds, progress=False, models=models),
                       compare({"mlp, raw": bigger}, raw, seeds, progress=False, models=models)], ignore_index=True)
    return table, raw, fmap


def cost_table(table: pd.DataFrame, models: dict, target: float) -> pd.DataFrame:
    """Per arm of ``feature_study``: trainable parameters, epochs until the validation accuracy first reached
    ``target`` (mean over the seeds that reached it, as text: ``never (>15)`` when no seed did in the 15 epochs run,
    ``4.0 (2 of 3 seeds)`` when some did), seconds per epoch and the kept model's test accuracy (mean over seeds)."""
    from dlopt_kit.core.compare import epochs_to_reach, final_epochs
    from dlopt_kit.core.models import count_parameters

    last = final_epochs(table).groupby("config", sort=False)
    ran = int(table["epoch"].max())
    reach = epochs_to_reach(table, target)

    def text(epochs: pd.Series) -> str:
        reached = epochs[epochs <= ran]
        if reached.empty:
            return f"never (>{ran})"
        some = "" if len(reached) == len(epochs) else f" ({len(reached)} of {len(epochs)} seeds)"
        return f"{reached.mean():.1f}{some}"

    params = {config: count_parameters(model) for (config, _seed), model in models.items()}
    out = pd.DataFrame({"parameters": pd.Series(params),
                        f"epochs to val_acc {target:g}": reach.apply(text, axis=1),
                        "seconds per epoch": table.groupby("config", sort=False)["seconds"].mean(),
                        "test_acc": last["test_acc"].mean()})
    return out.reindex(pd.unique(table["config"])).rename_axis("config")
