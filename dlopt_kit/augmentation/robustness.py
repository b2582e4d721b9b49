"""Robustness to shifted test sets (notebook 02): accuracy of each run on clean and shifted copies of the test (or
validation) split, images moved by whole pixels, and the share of one class read as another (a 6 as a 9)."""

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
from dlopt_kit.core.training import FitResult, evaluate, predict_proba

GEOMETRIC = ("rotated", "translated", "scaled")  # the shifts the geometric augmentations are meant for


def moved(x: torch.Tensor, pixels: int, seed: int = 0) -> torch.Tensor:
    """Every image moved by exactly ``pixels`` whole pixels, right, left, down or up (one direction drawn per image,
    seeded), the space it leaves filled with zeros: a fixed shift of a size that pad-and-crop by fewer pixels never
    draws. ``pixels=0`` returns ``x`` itself."""
    if not isinstance(pixels, int) or pixels < 0 or (x.ndim == 4 and pixels >= min(x.shape[-2:])):
        raise ValueError(f"pixels={pixels!r} must be a whole number from 0 to less than the image's size")
    if x.ndim != 4:
        raise ValueError(f"moved needs images (N, C, H, W); got shape {tuple(x.shape)}")
    if pixels == 0:
        return x
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randint(0, 4, (len(x),), generator=generator)
    out = torch.zeros_like(x)
    p = pixels
    for d, (rows_to, rows_from, cols_to, cols_from) in enumerate((
            (slice(None), slice(None), slice(p, None), slice(None, -p)),     # right
            (slice(None), slice(None), slice(None, -p), slice(p, None)),     # left
            (slice(p, None), slice(None, -p), slice(None), slice(None)),     # down
            (slice(None, -p), slice(p, None), slice(None), slice(None)))):   # up
        pick = (direction == d).to(x.device)
        out[pick, :, rows_to, cols_to] = x[pick][:, :, rows_from, cols_from]
    return out


def shift_accuracies(shifts: Sequence[str] = SHIFT_NAMES, moves: Sequence[int] = (),
                     split: str = "test") -> Callable[[FitResult, Splits], dict[str, float]]:
    """An ``extra_metrics`` function for ``compare``: accuracy of the best weights on each shifted copy of the test
    split (``acc_clean``, ``acc_rotated``, ...; ``acc_moved_3`` for every image moved by 3 pixels, one per entry of
    ``moves``) and ``acc_shifted``, the mean over the rotated, translated and scaled sets when all three are asked.
    ``split="val"`` scores shifted copies of the validation split instead (``val_acc_rotated``, ...), for choices
    that must not read the test split.

    The shifted sets are made once per dataset and reused for every run, so all runs see the same images.
    """
    if split not in ("test", "val"):
        raise ValueError(f"split={split!r} is not allowed: choose 'test' or 'val'")
    prefix = "acc_" if split == "test" else "val_acc_"
    cache: dict[int, dict[str, torch.Tensor]] = {}

    def measure(result: FitResult, data: Splits) -> dict[str, float]:
        x, y = (data.x_test, data.y_test) if split == "test" else (data.x_val, data.y_val)
        sets = cache.setdefault(id(data), {**{s: shifted(x, s) for s in shifts},
                                           **{f"moved_{p}": moved(x, p) for p in moves}})
        accs = {f"{prefix}{s}": evaluate(result.model, images, y)[1] for s, images in sets.items()}
        if all(s in shifts for s in GEOMETRIC):
            accs[f"{prefix}shifted"] = sum(accs[f"{prefix}{s}"] for s in GEOMETRIC) / len(GEOMETRIC)
        return accs

    return measure


def swap_rate(a: int, b: int) -> Callable[[FitResult, Splits], dict[str, float]]:
    """An ``extra_metrics`` function for ``compare``: ``swap_a_b``, the share of test images of class ``a`` predicted
    as ``b`` and of ``b`` predicted as ``a`` (the mean of the two shares), and ``other_errors``, the share of the
    other test images predicted wrong. A 6 read as a 9 is what an upside-down augmentation teaches."""

    def measure(result: FitResult, data: Splits) -> dict[str, float]:
        predicted = predict_labels(result.model, data.x_test)
        y = data.y_test.to(predicted.device)
        shares = [float(((y == c) & (predicted == other)).sum() / (y == c).sum().clamp_min(1))
                  for c, other in ((a, b), (b, a))]
        rest = (y != a) & (y != b)
        return {f"swap_{a}_{b}": sum(shares) / 2,
                "other_errors": float((predicted[rest] != y[rest]).float().mean()) if rest.any() else 0.0}

    return measure


def predict_labels(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's predicted class per image (eval mode, no gradients), on the CPU."""
    return predict_proba(model, x).argmax(1).cpu()


def confusion(models: dict, data: Splits, config: str) -> np.ndarray:
    """The test confusion counts (rows: true class, columns: predicted) of ``config``'s kept models, summed over
    the seeds of a ``compare(models=...)`` dict keyed ``(config, seed)``."""
    from sklearn.metrics import confusion_matrix

    runs = [m for (label, _seed), m in models.items() if label == config]
    if not runs:
        raise ValueError(f"config={config!r} has no models: choose one of {sorted({k[0] for k in models})}")
    labels = list(range(data.num_classes))
    return sum(confusion_matrix(data.y_test.cpu().numpy(), predict_labels(m, data.x_test).numpy(), labels=labels)
               for m in runs)


def plot_confusions(models: dict, data: Splits, configs: Sequence[str], ax: plt.Axes | None = None) -> Figure:
    """One confusion matrix per config (rows: true class, as shares of that class; summed over seeds), side by
    side."""
    fig, axes = figure_axes(ax, ncols=len(configs), size=(3.4, 3.2))
    for axis, config in zip(axes, configs, strict=True):
        counts = confusion(models, data, config)
        shares = counts / counts.sum(1, keepdims=True).clip(min=1)
        sns.heatmap(shares, vmin=0.0, vmax=1.0, cmap="Blues", annot=counts, fmt="d", annot_kws={"fontsize": 6},
                    cbar=False, square=True, xticklabels=data.classes, yticklabels=data.classes, ax=axis)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(config, fontsize=9)
    fig.tight_layout()
    return fig


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



def plot_shifted_sets(x: torch.Tensor, shifts: Sequence[str] = SHIFT_NAMES, n: int = 8, moves: Sequence[int] = (),
                      ax: plt.Axes | None = None) -> Figure:
    """The first ``n`` test images as each shifted test set holds them: one row per set, ``clean`` first, then one
    row per entry of ``moves`` (every image moved by that many pixels, ``moved``)."""
    from torchvision.utils import make_grid

    if x.ndim != 4:
        raise ValueError(f"plot_shifted_sets needs images (N, C, H, W); got shape {tuple(x.shape)}")
    x = x.cpu()
    sets = [shifted(x, s) for s in shifts] + [moved(x, p) for p in moves]  # the very images of each set
    names = [*shifts, *[f"moved {p} px" for p in moves]]
    rows = torch.cat([images[:n] for images in sets])
    grey = x.shape[1] == 1
    grid = make_grid(rows, nrow=n, padding=2, pad_value=0.0 if grey else 1.0)
    fig = _show_grid(grid, grey, ax, "the test sets, one row each")
    height = x.shape[2] + 2
    fig.axes[0].set_yticks([height * r + height / 2 for r in range(len(names))], names, fontsize=7)
    return fig


def sample_photo(step: int = 6) -> torch.Tensor:
    """scikit-learn's bundled colour photo (``china.jpg``), downsampled by ``step``: a (3, H, W) tensor in [0, 1]."""
    from sklearn.datasets import load_sample_image

    image = load_sample_image("china.jpg")[::step, ::step]
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
