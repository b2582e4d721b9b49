"""Lesson 01's pictures: damage and recovery per corruption, detection precision and recall, flagged examples, class
counts, each class's recall per arm, leaked copies against the overlap check, and the decision boundary of a model
on a 2-D set."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlopt_kit.core.corruptions import Corrupted
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import predict_proba
from dlopt_kit.data_quality.features import FeatureMap
from dlopt_kit.data_quality.report import LabelIssues
from dlopt_kit.data_quality.study import CorruptionStudy, class_recall


def figure_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=size)[1]


def plot_effects(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Per corruption, test-accuracy points paired by seed: the damage (corrupted - clean) and what the fix changed
    (fixed - corrupted); each seed a dot, the mean a bar from zero. A corruption run with changes to the base config
    (``epochs=6``) has them under its name."""
    ax = figure_axes(ax, (8, 3))
    kinds = list(pd.unique(table["corruption"]))
    changes = table.groupby("corruption", sort=False)["changes"].first() if "changes" in table else {}
    effects = {"damage (corrupted - clean)": table["corrupted"] - table["clean"],
               "fix (fixed - corrupted)": table["fixed"] - table["corrupted"]}
    width = 0.38
    for k, (label, values) in enumerate(effects.items()):
        colour = ("tab:red", "tab:green")[k]
        for i, kind in enumerate(kinds):
            points = values[table["corruption"] == kind].to_numpy()
            x = i + (k - 0.5) * width
            ax.bar(x, points.mean(), width * 0.9, color=colour, alpha=0.35, label=label if i == 0 else None)
            ax.scatter(np.full(len(points), x), points, color=colour, s=12, zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(kinds)), [_label(k, changes) for k in kinds], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy change")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def _label(kind: str, changes) -> str:
    extra = changes.get(kind, "") if len(changes) else ""
    return kind.replace("_", " ") + (f"\n({extra})" if extra else "")


def plot_detection(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Precision and recall of the report's matching check against what was planted, mean over seeds with each
    seed as a dot; bars from 0 to 1."""
    ax = figure_axes(ax, (8, 3))
    rows = table.dropna(subset=["precision", "recall"])
    kinds = list(pd.unique(rows["corruption"]))
    width = 0.38
    for k, metric in enumerate(("precision", "recall")):
        colour = ("tab:blue", "tab:orange")[k]
        for i, kind in enumerate(kinds):
            points = rows.loc[rows["corruption"] == kind, metric].to_numpy()
            x = i + (k - 0.5) * width
            ax.bar(x, points.mean(), width * 0.9, color=colour, alpha=0.4, label=metric if i == 0 else None)
            ax.scatter(np.full(len(points), x), points, color=colour, s=12, zorder=3)
    ax.set_ylim(0, 1.05)
    ax.set_xticks(range(len(kinds)), [k.replace("_", " ") for k in kinds], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("precision / recall")
    ax.legend(fontsize=8, loc="lower left")
    return ax


def show_examples(data: Splits, indices: Sequence[int], titles: Sequence[str], columns: int = 8,
                  split: str = "train", size: float = 1.1) -> Figure:
    """A gallery of ``split``'s images at ``indices`` with a title under each."""
    x = getattr(data, f"x_{split}")
    rows = max(1, -(-len(indices) // columns))
    lines = max((str(t).count("\n") + 1 for t in titles), default=1)  # room for every caption line
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * (size + 0.15 * lines + 0.1)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i, title in zip(axes.flat, indices, titles, strict=False):
        ax.imshow(x[int(i), 0].cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=6.5)
    fig.tight_layout(pad=0.3)
    return fig


def show_label_issues(data: Splits, issues: LabelIssues, planted: Sequence[int] | None = None,
                      original: torch.Tensor | None = None, count: int = 16, columns: int = 8) -> Figure:
    """The ``count`` most suspicious training images: the label given, the out-of-fold model's class and, when the
    noise was planted, whether the flag is right (and the true label)."""
    shown = issues.indices[:count]
    planted = set(np.asarray(planted).tolist()) if planted is not None else None
    names = data.classes
    titles = []
    for i, suggested in zip(shown, issues.suggested[:count], strict=True):
        title = f"given {names[issues.given[i]]}\nmodel {names[suggested]}"
        if planted is not None:
            title += "\n" + (f"planted (was {names[int(original[i])]})" if original is not None and i in planted
                             else ("planted" if i in planted else "not planted"))
        titles.append(title)
    return show_examples(data, shown, titles, columns)


def plot_class_counts(counts: pd.Series, ax: Axes | None = None) -> Axes:
    """Training examples per class, bars from zero."""
    ax = figure_axes(ax, (7, 2.5))
    ax.bar(range(len(counts)), counts.to_numpy(), color="tab:gray")
    ax.set_xticks(range(len(counts)), counts.index, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("training examples")
    return ax


def plot_decision_boundary(model: torch.nn.Module, raw: Splits, fmap: FeatureMap | None = None,
                           ax: Axes | None = None, split: str = "val", resolution: int = 120) -> Axes:
    """The class ``model`` predicts over the plane of a 2-D set, with ``split``'s points on top; ``fmap`` turns the
    plane's points into the model's inputs when it was trained on engineered features."""
    ax = figure_axes(ax, (3.2, 3.2))
    x, y = getattr(raw, f"x_{split}").cpu().numpy(), getattr(raw, f"y_{split}").cpu().numpy()
    low, high = x.min(0) - 0.3, x.max(0) + 0.3
    g1, g2 = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    grid = np.stack([g1.ravel(), g2.ravel()], axis=1).astype(np.float32)
    inputs = fmap(grid) if fmap is not None else torch.from_numpy(grid)
    predicted = predict_proba(model, inputs).argmax(1).numpy().reshape(g1.shape)
    ax.contourf(g1, g2, predicted, levels=np.arange(raw.num_classes + 1) - 0.5, cmap="coolwarm", alpha=0.3)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=4, edgecolors="none")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return ax


def show_fills(clean: Splits, holes: Splits, indices: Sequence[int], methods: Sequence[str] = ("zero", "neighbours",
                                                                                                "mean")) -> Figure:
    """Training images at ``indices``: whole (``clean``), with their missing pixels (``holes``, NaN, drawn in red),
    and filled by each of ``methods`` (see ``fixes.impute``), one row per image. Only the training split is filled
    (``holes``'s other splits are whole)."""
    from dlopt_kit.data_quality.fixes import impute

    filled = {m: impute(holes, m).x_train for m in methods}
    columns = ["whole", "missing (red)", *(f"{m} fill" for m in methods)]
    fig, axes = plt.subplots(len(indices), len(columns), figsize=(1.25 * len(columns), 1.3 * len(indices)),
                             squeeze=False)
    cmap = plt.get_cmap("gray_r").with_extremes(bad="red")
    for row, i in zip(axes, indices, strict=True):
        pictures = [clean.x_train[int(i), 0], holes.x_train[int(i), 0], *(filled[m][int(i), 0] for m in methods)]
        for ax, picture, title in zip(row, pictures, columns, strict=True):
            ax.imshow(np.ma.masked_invalid(picture.cpu().numpy()), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if i == indices[0]:
                ax.set_title(title, fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def show_copies(leaked: Corrupted, near: float, count: int = 4, shift: int = 1) -> Figure:
    """For the first ``count`` planted copies of a ``leak``: the training image, its copy in the evaluation split and
    the same copy moved ``shift`` pixels to the right, each copy titled with its pixel distance to the original,
    against the overlap check's threshold ``near``."""
    split = leaked.split
    x_train, x_eval = leaked.data.x_train, getattr(leaked.data, f"x_{split}")
    fig, axes = plt.subplots(3, count, figsize=(1.5 * count, 4.8))
    axes = np.asarray(axes).reshape(3, count)
    for j in range(count):
        original = x_train[int(leaked.details["copied_from"][j])]
        copy = x_eval[int(leaked.planted[j])]
        moved = torch.zeros_like(copy)
        moved[..., shift:] = copy[..., :-shift]
        images = [(original, "train image"), (copy, f"{split} copy"), (moved, f"moved {shift} px")]
        for i, (image, title) in enumerate(images):
            ax = axes[i, j]
            ax.imshow(image[0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            if i:
                distance = float((image - original).flatten().norm())
                verdict = "found" if distance <= near else "missed"
                title = f"{title}\nd={distance:.2f}: {verdict}"
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.suptitle(f"pixel distance to the training image; the overlap check flags d <= {near:g}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_class_recall(study: CorruptionStudy, kind: str = "thin_class", rate: float | None = None,
                      ax: Axes | None = None) -> Axes:
    """Each class's test recall in ``kind``'s clean, corrupted and fixed arms (mean over seeds, a dot per seed):
    where a thinned class's recall went, and which classes paid for bringing it back."""
    ax = figure_axes(ax, (9, 3))
    data = study.data
    keys = [key for key in study.fits if key[0] == kind and (rate is None or key[1] == rate)]
    if not keys:
        raise ValueError(f"corruption {kind!r} has not been run: run(kind, rate) first")
    arms = {"clean": "tab:blue", "corrupted": "tab:red", "fixed": "tab:green"}
    width = 0.27
    for k, (arm, colour) in enumerate(arms.items()):
        recalls = np.array([[class_recall(study.fits[key][arm].model, data, c) for c in range(data.num_classes)]
                            for key in keys])
        x = np.arange(data.num_classes) + (k - 1) * width
        ax.bar(x, recalls.mean(0), width * 0.9, color=colour, alpha=0.45, label=arm)
        for row in recalls:
            ax.plot(x, row, ".", color=colour, markersize=3)
    ax.set_xticks(np.arange(data.num_classes), data.classes, rotation=30, fontsize=8, ha="right")
    ax.set_ylabel("test recall")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncols=3, loc="lower right")
    return ax
