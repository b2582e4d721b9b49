"""Robustness to shifted test sets (notebook 02): accuracy of each run on clean and shifted copies of the test set."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure

from dlopt_kit.core.augment import SHIFT_NAMES, Augmenter, AugmentSpec, shifted
from dlopt_kit.core.data import Splits
from dlopt_kit.core.plots import figure_axes
from dlopt_kit.core.training import FitResult, evaluate

GEOMETRIC = ("rotated", "translated", "scaled")  # the shifts the geometric augmentations are meant for


def shift_accuracies(shifts: Sequence[str] = SHIFT_NAMES) -> Callable[[FitResult, Splits], dict[str, float]]:
    """An ``extra_metrics`` function for ``compare``: accuracy of the best weights on each shifted test set
    (``acc_clean``, ``acc_rotated``, ...) and ``acc_shifted``, the mean over the rotated, translated and scaled sets.

    The shifted sets are made once per dataset and reused for every run, so all runs see the same images.
    """
    cache: dict[int, dict[str, torch.Tensor]] = {}

    def measure(result: FitResult, data: Splits) -> dict[str, float]:
        sets = cache.setdefault(id(data), {s: shifted(data.x_test, s) for s in shifts})
        accs = {f"acc_{s}": evaluate(result.model, x, data.y_test)[1] for s, x in sets.items()}
        geometric = [accs[f"acc_{s}"] for s in GEOMETRIC if s in sets]
        if geometric:
            accs["acc_shifted"] = sum(geometric) / len(geometric)
        return accs

    return measure


def _per_run_accuracies(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (config, seed, test set) with that run's accuracy, from the ``acc_*`` columns."""
    columns = [c for c in table.columns if c.startswith("acc_")]
    if not columns:
        raise ValueError("the table has no acc_* columns: pass extra_metrics=shift_accuracies() to compare")
    runs = table.groupby(["config", "seed"], sort=False)[columns].first().reset_index()
    long = runs.melt(id_vars=["config", "seed"], value_vars=columns, var_name="test set", value_name="accuracy")
    long["test set"] = long["test set"].str.removeprefix("acc_").replace({"shifted": "geometric (mean)"})
    return long


def robustness_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of every ``acc_*`` column, one row per (config, test set); ``acc_shifted`` is shown
    as the test set ``geometric (mean)``."""
    long = _per_run_accuracies(table)
    return long.groupby(["config", "test set"], sort=False)["accuracy"].agg(["mean", "std"]).reset_index()


def plot_robustness(table: pd.DataFrame, ax: plt.Axes | None = None) -> Figure:
    """Bars of accuracy per test set, one colour per config, mean +/- std over seeds."""
    long = _per_run_accuracies(table)
    fig, (ax,) = figure_axes(ax, size=(7.0, 3.0))
    sns.barplot(data=long, x="test set", y="accuracy", hue="config", errorbar="sd", ax=ax)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("test accuracy")
    ax.set_xlabel("test set")
    n_seeds = long["seed"].nunique()
    ax.set_title(f"mean ± std over {n_seeds} seed{'s' if n_seeds > 1 else ''}", fontsize=9)
    ax.legend(frameon=False, fontsize=8, ncols=2)
    fig.tight_layout()
    return fig


def plot_augmented(image: torch.Tensor, spec: AugmentSpec, n: int = 16, seed: int = 0,
                   ax: plt.Axes | None = None) -> Figure:
    """``n`` augmentations of one image (C, H, W) in a grid; the original is the first."""
    from torchvision.utils import make_grid

    batch = image.unsqueeze(0).repeat(n, 1, 1, 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        batch[1:] = Augmenter(spec)(batch[1:])
    grey = image.shape[0] == 1
    grid = make_grid(batch, nrow=min(n, 8), padding=2, pad_value=0.0 if grey else 1.0)
    return _show_grid(grid, grey, ax, f"augment: {spec!r}")


def plot_class_grid(data: Splits, spec: AugmentSpec, per_class: int = 6, seed: int = 0,
                    ax: plt.Axes | None = None) -> Figure:
    """One row per class: that class's first training images, augmented."""
    from torchvision.utils import make_grid

    picks = torch.cat([(data.y_train == c).nonzero().flatten()[:per_class] for c in range(data.num_classes)])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        batch = Augmenter(spec)(data.x_train[picks].cpu())
    grey = data.input_shape[0] == 1
    grid = make_grid(batch, nrow=per_class, padding=2, pad_value=0.0 if grey else 1.0)
    fig = _show_grid(grid, grey, ax, f"augment: {spec!r}")
    height = data.input_shape[1] + 2
    fig.axes[0].set_yticks([height * c + height / 2 for c in range(data.num_classes)], data.classes, fontsize=7)
    return fig


def _show_grid(grid: torch.Tensor, grey: bool, ax: plt.Axes | None, title: str) -> Figure:
    """Show a ``make_grid`` picture: grey images dark on white (as in the other galleries), colour as it is."""
    fig, (ax,) = figure_axes(ax, size=(grid.shape[2] / 50 + 0.6, grid.shape[1] / 50 + 0.4))
    image = grid.permute(1, 2, 0).numpy()
    ax.imshow(image[..., 0] if grey else image, cmap="gray_r" if grey else None, interpolation="nearest",
              vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig



def plot_shifted_sets(x: torch.Tensor, shifts: Sequence[str] = SHIFT_NAMES, n: int = 8,
                      ax: plt.Axes | None = None) -> Figure:
    """The first ``n`` test images as each shifted test set holds them: one row per set, ``clean`` first."""
    from torchvision.utils import make_grid

    if x.ndim != 4:
        raise ValueError(f"plot_shifted_sets needs images (N, C, H, W); got shape {tuple(x.shape)}")
    rows = torch.cat([shifted(x.cpu(), s)[:n] for s in shifts])  # the very images of each set, not a redraw
    grey = x.shape[1] == 1
    grid = make_grid(rows, nrow=n, padding=2, pad_value=0.0 if grey else 1.0)
    fig = _show_grid(grid, grey, ax, "the test sets, one row each")
    height = x.shape[2] + 2
    fig.axes[0].set_yticks([height * r + height / 2 for r in range(len(shifts))], list(shifts), fontsize=7)
    return fig


def sample_photo(step: int = 6) -> torch.Tensor:
    """scikit-learn's bundled colour photo (``china.jpg``), downsampled by ``step``: a (3, H, W) tensor in [0, 1]."""
    from sklearn.datasets import load_sample_image

    image = load_sample_image("china.jpg")[::step, ::step]
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
