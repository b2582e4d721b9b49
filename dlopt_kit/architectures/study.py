"""Lesson 03's transfer experiment: does a pretrained backbone beat training from scratch when labels are few, and
does the gap shrink as labels grow?

The target is scikit-learn's 8x8 handwritten digits (1,797 images, their own writers and scanner) put in MNIST's
framing (``mnist_framing``); the kit's source is a ``SmallCNN`` trained on the training split of ``mnist5k`` (MNIST
digits); the second source is EfficientNet-Lite0's ImageNet features. Every arm of one (size, seed) trains on the same
labelled draw (``few_labels``) for about the same number of optimiser steps, keeps its epoch by validation accuracy
and is scored once on the test split.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from dlopt_kit.architectures.transfer import (
    BackboneMissing,
    FeaturesDamaged,
    TransferNet,
    backbone_features,
    features_path,
    few_labels,
    imagenet_backbone,
    read_features,
    record_checksum,
)
from dlopt_kit.core import checks, kept_epochs, paths
from dlopt_kit.core.budget import Budget
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits, load_splits
from dlopt_kit.core.device import seed_everything
from dlopt_kit.core.kept_epochs import ArmEpochs
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import evaluate, fit

FEATURE_STORE = paths.datasets_dir() / "cache" / "features"  # git-ignored, filled by `make setup`
IMAGENET_SIZE = 64  # pixels the digits are resized to for EfficientNet-Lite0 (CPU-sized; ImageNet's are 224)


def mnist_framing(data: Splits) -> Splits:
    """``data``'s images (any size, one channel) resized to 20x20 and centred in 28x28, as MNIST's digits are: what a
    backbone trained on MNIST expects."""
    def frame(x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False).clamp(0, 1)
        return F.pad(x, (4, 4, 4, 4))

    return Splits(f"{data.name} (MNIST framing)", frame(data.x_train), data.y_train, frame(data.x_val), data.y_val,
                  frame(data.x_test), data.y_test, list(data.classes))


def digits_target() -> Splits:
    """The lesson's target task: scikit-learn's digits in MNIST's framing."""
    return mnist_framing(load_splits("digits"))


def imagenet_features(target: Splits | None = None, size: int = IMAGENET_SIZE) -> Splits:
    """EfficientNet-Lite0's ImageNet features of ``target`` (default ``digits_target()``), read from
    ``FEATURE_STORE`` when ``make setup`` has computed them (about 10 s on one CPU thread otherwise)."""
    return backbone_features(imagenet_backbone(size), digits_target() if target is None else target,
                             store=FEATURE_STORE)


def prepare_features() -> str:
    """Compute and store lesson 03's ImageNet features once (``python -m dlopt_kit prepare``, so ``make setup``,
    calls it). A stored file that fails its check (``read_features``: its recorded sha256, that it loads, that it
    holds the digits' labels) is deleted and computed again, saying so: the answer starts ``ready`` (verified),
    ``built`` (there was none) or ``rebuilt`` (it was damaged)."""
    try:
        backbone = imagenet_backbone(IMAGENET_SIZE)
    except BackboneMissing as exc:
        return f"skipped ({exc})"
    target = digits_target()
    path = features_path(backbone, target, FEATURE_STORE)
    done = "built"
    if path.is_file():
        try:
            read_features(path, target)
            done = "ready"
            if not path.with_suffix(".sha256").is_file():
                record_checksum(path)  # written before checksums were recorded: record it now it reads back
        except FeaturesDamaged as exc:
            path.unlink()
            path.with_suffix(".sha256").unlink(missing_ok=True)
            done = f"rebuilt, {path} was damaged ({exc.reason})"
    features = backbone_features(backbone, target, store=FEATURE_STORE)
    return f"{done} ({len(features.y_train)}/{len(features.y_val)}/{len(features.y_test)} images)"


def for_steps(config: RunConfig, data: Splits, steps: int, checkpoints: int = 10) -> tuple[RunConfig, Splits]:
    """``config`` and ``data`` set for about ``steps`` optimiser steps in ``checkpoints`` epochs, whatever the size of
    the training split: runs on 20 and on 1,000 examples get the same amount of training, and validation (which
    picks the epoch) runs ``checkpoints`` times rather than once per step. A split smaller than an epoch's steps is
    repeated (each pass draws a fresh order, as more epochs would)."""
    steps, checkpoints = checks.whole("steps", steps, 1), checks.whole("checkpoints", checkpoints, 1)
    per_epoch = max(1, steps // checkpoints)
    n = len(data.y_train)
    repeat = max(1, math.ceil(per_epoch * config.batch_size / n))
    if repeat > 1:
        data = Splits(data.name, data.x_train.repeat(repeat, *[1] * (data.x_train.dim() - 1)),
                      data.y_train.repeat(repeat), data.x_val, data.y_val, data.x_test, data.y_test, list(data.classes))
    epochs = math.ceil(steps / math.ceil(len(data.y_train) / config.batch_size))
    return config.replace(epochs=epochs), data


def _score(config: RunConfig, data: Splits, model: nn.Module | None) -> dict[str, float]:
    started = time.perf_counter()
    result = fit(config, data, progress=False, model=model)
    return {"val_acc": evaluate(result.model, data.x_val, data.y_val)[1],
            "test_acc": evaluate(result.model, data.x_test, data.y_test)[1],
            "best_epoch": result.best_epoch, "epochs": config.epochs, "seconds": time.perf_counter() - started}


def transfer_curve(target: Splits, backbone: nn.Module, config: RunConfig, sizes: Sequence[int],
                   seeds: Sequence[int] = (0, 1, 2), steps: int | Mapping[int, int] = 150,
                   modes: Sequence[str] = ("scratch", "probe", "full"), backbone_lr_scale: float = 0.1,
                   features: Splits | None = None, features_config: RunConfig | None = None) -> pd.DataFrame:
    """Train each mode of ``TransferNet(backbone)`` on ``few_labels(target, size, seed)`` for every size and seed; one
    row per (size, seed, arm) with ``val_acc``, ``test_acc``, the kept epoch, the epochs and ``seconds``. ``steps``
    is the optimiser steps of every run, or a steps count per size (more labels take more steps to fit; every arm of
    one size gets the same). ``full`` trains the backbone at ``backbone_lr_scale`` x the head's learning rate. With
    ``features`` (another backbone's features of ``target``, from ``backbone_features``) the arm ``features probe``
    adds a linear model on them (``features_config``), trained on the same labelled draw. The runs are independent
    and train in worker processes (``processes.run_tasks``), each seeded as it would be alone."""
    modes = [checks.choice("mode", m, ("scratch", "probe", "last", "full")) for m in modes]
    seeds = checks.seeds("seeds", seeds)
    if isinstance(steps, Mapping):
        missing = [size for size in sizes if size not in steps]
        if missing:
            raise ValueError(f"steps has no count for sizes {missing}: give one per size of {list(sizes)}")
    keys, tasks = [], []
    for size in sizes:
        count = steps[size] if isinstance(steps, Mapping) else steps
        for seed in seeds:
            run, data = for_steps(config.replace(seed=seed), few_labels(target, size, seed), count)
            for mode in modes:
                scale = backbone_lr_scale if mode in ("last", "full") else 1.0
                keys.append((size, seed, mode))
                tasks.append((run, data, seed, (backbone, target.num_classes, mode, scale)))
            if features is not None:
                linear = features_config or RunConfig(model="linear", lr=1e-2, batch_size=32, monitor="val_acc")
                linear, drawn = for_steps(linear.replace(seed=seed), few_labels(features, size, seed), count)
                keys.append((size, seed, "features probe"))
                tasks.append((linear, drawn, seed, None))
    scores = run_tasks(_transfer_run, tasks)
    return pd.DataFrame([{"size": size, "seed": seed, "arm": arm, **score}
                         for (size, seed, arm), score in zip(keys, scores, strict=True)])


def _transfer_run(config: RunConfig, data: Splits, seed: int, net: tuple | None) -> dict[str, float]:
    """One run of ``transfer_curve``: ``net`` is ``(backbone, classes, mode, backbone_lr_scale)`` for a
    ``TransferNet`` built after seeding with ``seed``, or None for a kit model built from ``config``."""
    seed_everything(seed)
    return _score(config, data, None if net is None else TransferNet(net[0], net[1], net[2], backbone_lr_scale=net[3]))


def arm_scores(curve: pd.DataFrame, size: int, metric: str = "test_acc") -> pd.DataFrame:
    """``metric`` at ``size``: a row per seed and a column per arm, ready for ``assert_paired``."""
    at = curve[curve["size"] == size]
    if at.empty:
        raise ValueError(f"size={size} is not in the curve: choose one of {sorted(curve['size'].unique())}")
    return at.pivot(index="seed", columns="arm", values=metric)


def arm_seeds(curve: pd.DataFrame, size: int, arm: str, metric: str = "test_acc") -> pd.Series:
    """``metric`` of ``arm`` at ``size``, indexed by seed and carrying the arm's kept epochs (each run's best epoch
    of its epochs), so that a claim on it checks that the arm had stopped improving (see ``kept_epochs``)."""
    at = curve[(curve["size"] == size) & (curve["arm"] == arm)].set_index("seed").sort_index()
    if at.empty:
        raise ValueError(f"no runs of arm={arm!r} at size={size}: the curve has arms {sorted(curve['arm'].unique())} "
                         f"and sizes {sorted(curve['size'].unique())}")
    seeds = [int(s) for s in at.index]
    epochs = ArmEpochs(f"{arm} at {size}/class", {s: int(at.loc[s, "best_epoch"]) for s in seeds},
                       {s: int(at.loc[s, "epochs"]) for s in seeds}, {s: False for s in seeds})
    return kept_epochs.attach(at[metric].astype(float).rename(arm), epochs)


def gap_table(curve: pd.DataFrame, better: str, over: str = "scratch", metric: str = "test_acc") -> pd.DataFrame:
    """``better - over`` on ``metric``, a row per size and a column per seed: the transfer gap as labels grow."""
    wide = curve.pivot_table(index=["size", "seed"], columns="arm", values=metric)
    return (wide[better] - wide[over]).unstack("seed")


def error_reduction(curve: pd.DataFrame, better: str, over: str = "scratch") -> pd.DataFrame:
    """The share of ``over``'s test errors that ``better`` removes, ``1 - error(better) / error(over)``, a row per
    size and a column per seed: a gain in points can shrink only because less error is left to remove."""
    wide = curve.pivot_table(index=["size", "seed"], columns="arm", values="test_acc")
    return (1 - (1 - wide[better]) / (1 - wide[over])).unstack("seed")


def few_label_ensembles(config: RunConfig, target: Splits, size: int, members: int = 5,
                        seeds: Sequence[int] = (0, 1, 2), steps: int = 150, curves: dict | None = None) -> pd.DataFrame:
    """``ensembles.ensemble_study`` on ``few_labels(target, size, seed)``, one ensemble seed per labelled draw (the
    draw varies with the seed, as in ``transfer_curve``), each member trained for about ``steps`` steps; ``curves``
    as in ``ensemble_study``."""
    from dlopt_kit.architectures.ensembles import ensemble_study

    parts = []
    for seed in checks.seeds("seeds", seeds):
        run, data = for_steps(config, few_labels(target, size, seed), steps)
        parts.append(ensemble_study(run, data, members, (seed,), curves=curves))
    return pd.concat(parts)


def few_label_steps(budget: Budget) -> int:
    """Optimiser steps per run in lesson 03's few-label experiments at 2 labels per class: about 17 per epoch of the
    budget, 100 at ``small`` and 170 at ``medium`` and ``full`` (lesson 03 gives 10 per class twice as many, since
    more labels take more steps to fit). The runs keep their best epoch by validation, and every arm of a comparison
    gets the same steps."""
    return 10 * round(budget.epochs * 5 / 3)


def zero_shot(source: nn.Module, target: Splits) -> float:
    """The test accuracy of ``source`` (a whole classifier, its own head included) on ``target``, with no target
    label used: the baseline a transfer from a source with the same classes has to beat."""
    if source_classes(source) != target.num_classes:
        raise ValueError(f"zero-shot needs a source with the target's {target.num_classes} classes; it has "
                         f"{source_classes(source)}")
    return evaluate(source, target.x_test, target.y_test)[1]


def source_classes(model: nn.Module) -> int:
    """How many classes ``model``'s last linear layer predicts."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError(f"{type(model).__name__} has no linear layer: not a classifier")
    return last[-1].out_features
