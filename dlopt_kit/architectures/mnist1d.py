"""Lesson 03's standard architecture result: a linear model, an MLP, a 1-D CNN and a GRU on MNIST-1D.

MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024, arXiv:2011.14439) turns ten
1-D digit templates into 5,000 signals of length 40 (padded, scaled, translated, sheared, with correlated noise):
small enough to train on a CPU in seconds, and built so that a linear model, an MLP and models with a spatial or
sequential bias end far apart. ``load_splits("mnist1d")`` holds the package's own signals (generated offline at
``make setup``), the authors' 4,000/1,000 split with a sixth of the training signals kept for validation.

The models follow the authors' ``notebooks/models.py`` (github.com/greydanus/mnist1d) where a CPU can afford it:
the same linear model (410 weights), an MLP of the same size (two hidden layers of 100, 15,210 weights; theirs adds a
skip connection), the same CNN (``SignalCNN``: three 1-D convolutions of 25 channels, stride 2, 5,210 weights). The
GRU differs (``SignalGRU``): theirs is bidirectional with 6 units and reads one sample per step (40 steps, about ten
times the CNN's time); ours is one-directional with 32 units and reads four samples per step (10 steps), which a
2-core CPU trains in a few seconds. Every arm trains with Adam at the authors' learning rate (1e-2) and batch size
(100), keeps its epoch by validation accuracy and stops early when it stalls (``mnist1d_configs``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from dlopt_kit.core import checks
from dlopt_kit.core.budget import Budget
from dlopt_kit.core.compare import best_rows, run_frame
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits, load_splits
from dlopt_kit.core.device import seed_everything
from dlopt_kit.core.models import MLP, Linear, count_parameters
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import FitResult, fit

ARMS = ("linear", "mlp", "cnn", "gru")
#: the authors' test accuracies on MNIST-1D (the table "Comparing MNIST and MNIST-1D" in the mnist1d package's
#: README, v0.0.2.post1, and the paper's benchmark figure), with the size of their model
PUBLISHED = {"linear": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}
PUBLISHED_PARAMETERS = {"linear": 410, "mlp": 15_210, "cnn": 5_210, "gru": 5_134}
PUBLISHED_STEPS = 6_000  # Adam, lr 1e-2, batch 100 (the authors' notebooks/mnist1d-classification.ipynb)
PUBLISHED_SOURCE = ("Greydanus & Kobak (2024), Scaling down deep learning with MNIST-1D, ICML (arXiv:2011.14439): "
                    "the table in the mnist1d package's README; models from the authors' notebooks/models.py, trained "
                    f"{PUBLISHED_STEPS:,} steps of batch 100 with Adam at lr 1e-2")
GRU_LR = 2e-2  # chosen on validation: at the authors' 1e-2 our GRU needed about 40 epochs to stop improving
LABELS = {"linear": "linear (logistic regression)", "mlp": "MLP", "cnn": "CNN (1-D)", "gru": "GRU"}


class SignalCNN(nn.Sequential):
    """The authors' ``ConvBase``: three 1-D convolutions of ``channels`` channels (kernels 5, 3, 3, stride 2, ReLU)
    and a linear classifier on the flattened feature map; signals of shape (1, length)."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, channels: int = 25) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"SignalCNN reads signals of shape (channels, length), got {input_shape}")
        c_in, length = input_shape
        for kernel in (5, 3, 3):  # each convolution (padding 1, stride 2) shortens the signal
            length = (length + 2 - kernel) // 2 + 1
        super().__init__(nn.Conv1d(c_in, channels, 5, stride=2, padding=1), nn.ReLU(),
                         nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(channels * length, num_classes))


class SignalGRU(nn.Module):
    """A one-layer GRU of ``hidden`` units that reads a signal (1, length) ``patch`` samples per step, left to right,
    and a linear classifier on its last state. Reading several samples per step shortens the sequential loop (10
    steps instead of 40), which is what makes a GRU slow on a CPU."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: int = 32, patch: int = 4) -> None:
        super().__init__()
        if len(input_shape) != 2 or input_shape[1] % patch:
            raise ValueError(f"SignalGRU reads signals of shape (channels, length) with a length divisible by "
                             f"patch={patch}, got {input_shape}")
        self.patch = checks.whole("patch", patch, 1)
        self.gru = nn.GRU(input_shape[0] * patch, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[-1] // self.patch  # (N, C, L) -> (N, L / patch, C * patch): one step per patch
        _, last = self.gru(x.reshape(len(x), x.shape[1], steps, self.patch).permute(0, 2, 1, 3).flatten(2))
        return self.head(last[-1])


def build_signal_model(arm: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The network of ``arm`` (one of ``ARMS``) for signals of ``input_shape``."""
    arm = checks.choice("arm", arm, ARMS)
    if arm == "linear":
        return Linear(input_shape, num_classes)
    if arm == "mlp":
        return MLP(input_shape, num_classes, hidden=100)
    if arm == "cnn":
        return SignalCNN(input_shape, num_classes)
    return SignalGRU(input_shape, num_classes)


def mnist1d_configs(budget: Budget) -> dict[str, RunConfig]:
    """Each arm's training: Adam at lr 1e-2 (the GRU at ``GRU_LR``) and batch 100 (the authors'), at most six times the
    budget's epochs (36 at ``small``, 60 at ``medium`` and ``full``: 1,224 and 2,040 steps of the 3,333 training
    signals), stopped when validation accuracy has not improved for half the budget's epochs (at least 3: 3, then 5),
    the best epoch kept. The linear
    and MLP arms are the kit's models; ``config.model`` is what ``fit`` checks the data against, the network itself
    comes from ``build_signal_model``."""
    epochs, patience = 6 * budget.epochs, max(3, budget.epochs // 2)
    base = RunConfig(lr=1e-2, batch_size=100, epochs=epochs, patience=patience, monitor="val_acc")
    configs = {arm: base.replace(model="linear" if arm == "linear" else "mlp") for arm in ARMS}
    configs["gru"] = configs["gru"].replace(lr=GRU_LR)
    return configs


def fit_arm(arm: str, config: RunConfig, data: Splits) -> FitResult:
    """``fit`` on ``arm``'s network, built after seeding with ``config.seed`` (its initial weights follow the seed,
    as a kit model's do)."""
    seed_everything(config.seed)
    return fit(config, data, progress=False, model=build_signal_model(arm, data.input_shape, data.num_classes))


def mnist1d_study(budget: Budget, seeds: Sequence[int] | None = None, data: Splits | None = None,
                  arms: Sequence[str] = ARMS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train every arm of ``arms`` with every seed (default the budget's) on ``data`` (default the whole of
    ``load_splits("mnist1d")``). Returns the per-epoch table (``compare``'s layout, for ``per_seed`` and the claims)
    and a summary per arm: parameters, the steps to the kept epoch and in all (mean over seeds), seconds per epoch
    (this machine's), the kept model's validation and test accuracy (mean and std over seeds) and the authors'
    published test accuracy. Used by notebook 03."""
    data = load_splits("mnist1d") if data is None else data
    seeds = checks.seeds("seeds", budget.seeds if seeds is None else seeds)
    configs = mnist1d_configs(budget)
    arms = [checks.choice("arm", a, ARMS) for a in arms]
    frames, params = [], {}
    runs = [(arm, seed) for arm in arms for seed in seeds]  # independent runs: two at a time on a 2-core CPU
    results = run_tasks(fit_arm, [(arm, configs[arm].replace(seed=seed), data) for arm, seed in runs])
    for (arm, seed), result in zip(runs, results, strict=True):
        params[arm] = count_parameters(result.model)
        frames.append(run_frame(arm, seed, result, data))
    table = pd.concat(frames, ignore_index=True)
    per_epoch = math.ceil(len(data.y_train) / configs[arms[0]].batch_size)
    best = best_rows(table).groupby("config", sort=False)
    ran = table.groupby(["config", "seed"], sort=False)["epoch"].max().groupby("config", sort=False)
    summary = pd.DataFrame({
        "parameters": pd.Series(params),
        "steps kept": best["epoch"].mean() * per_epoch, "steps run": ran.mean() * per_epoch,
        "seconds per epoch": table.groupby("config", sort=False)["seconds"].mean(),
        "val_acc": best["val_acc"].mean(), "test_acc": best["test_acc"].mean(), "test_acc std": best["test_acc"].std(),
        "published test_acc": pd.Series(PUBLISHED)})
    return table, summary.reindex(arms).rename_axis("architecture")


def mnist1d_ensembles(budget: Budget, data: Splits | None = None, arm: str = "mlp", members: int = 5,
                      seeds: Sequence[int] | None = None, curves: dict | None = None) -> pd.DataFrame:
    """``ensemble_study`` of ``members`` networks of ``arm`` on MNIST-1D (``data``, default the whole of
    ``load_splits("mnist1d")``), each trained as in ``mnist1d_study`` (its config, early stopping, kept epoch), one
    ensemble per seed of ``seeds`` (default the budget's), its members seeded apart from every other ensemble's."""
    from dlopt_kit.architectures.ensembles import ensemble_study

    data = load_splits("mnist1d") if data is None else data
    arm = checks.choice("arm", arm, ARMS)
    seeds = checks.seeds("seeds", budget.seeds if seeds is None else seeds)
    return ensemble_study(mnist1d_configs(budget)[arm], data, members, seeds, curves=curves,
                          fit_member=partial(fit_arm, arm))


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size)
    return fig, fig.subplots()


def shuffle_positions(data: Splits, seed: int = 0) -> Splits:
    """``data`` with the positions of every signal permuted by one seeded permutation, the same for every signal
    and split (the authors' "shuffle" row): an MLP, which treats positions as unrelated inputs, loses nothing; a
    model that assumes neighbouring samples belong together loses its advantage."""
    order = torch.from_numpy(np.random.default_rng(seed).permutation(data.x_train.shape[-1]))
    return Splits(f"{data.name} (positions shuffled)", data.x_train[..., order], data.y_train, data.x_val[..., order],
                  data.y_val, data.x_test[..., order], data.y_test, list(data.classes))


def plot_signals(data: Splits, ax: Axes | None = None) -> Figure:
    """One training signal of each class, stacked and offset, labelled by its digit: what the models read."""
    fig, ax = _axes(ax, (6.4, 3.6))
    x, y = data.x_train.numpy(), data.y_train.numpy()
    for k in range(data.num_classes):
        signal = x[np.flatnonzero(y == k)[0]].reshape(-1)
        ax.plot(np.arange(len(signal)), signal + 3 * k, color=f"C{k % 10}", lw=1.5)
        ax.text(len(signal) + 0.5, 3 * k, data.classes[k], va="center", fontsize=9)
    ax.set_yticks([])
    ax.set_xlabel("position in the signal (40 samples)")
    ax.set_ylabel("one example per class (offset)")
    ax.set_title("MNIST-1D: a digit's 1-D template, shifted, scaled, sheared and noised", fontsize=10)
    return fig


def plot_accuracy(summary: pd.DataFrame, ax: Axes | None = None) -> Figure:
    """Test accuracy per arm, ours (mean over seeds, with its std as an error bar) beside the published one; the
    bars start at zero."""
    fig, ax = _axes(ax, (6.4, 3.0))
    at = np.arange(len(summary))
    ax.bar(at - 0.2, summary["test_acc"], 0.4, yerr=summary["test_acc std"], capsize=3, label="this run (test)",
           color="tab:blue")
    ax.bar(at + 0.2, summary["published test_acc"], 0.4, label="published (Greydanus & Kobak)", color="tab:grey")
    ax.set_xticks(at, [LABELS.get(a, a) for a in summary.index], fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy")
    ax.axhline(0.1, color="black", lw=0.8, ls=":")
    ax.text(len(summary) - 0.5, 0.11, "chance", fontsize=8, ha="right")
    ax.legend(fontsize=8, loc="upper left")
    return fig
