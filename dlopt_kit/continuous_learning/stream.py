"""A seeded stream of batches over time, drawn from a pool of labelled images, with drift of a chosen kind and speed.

Kinds (``DRIFTS``):

- ``brightness`` (covariate shift): the images grow brighter, ``x + severity * strength``, clipped to [0, 1];
- ``rotation`` (covariate shift): the images turn by ``severity * strength`` degrees;
- ``label_shift``: the class proportions move from uniform towards ``strength`` of every batch from the first half of
  the classes (the images of a class do not change, how often it comes does);
- ``concept``: the labels of one pair of classes are swapped for a share ``severity * strength`` of their images
  (what the inputs mean changes, the inputs do not).

Speed: ``sudden`` (severity jumps from 0 to 1 at ``onset``) or ``gradual`` (it ramps linearly from 0 at ``onset``
to 1 at ``onset + ramp``). Labels can arrive ``delay`` batches late and for a share ``labelled`` of the batches
only (a feedback loop where someone checks some predictions): ``Stream.labels_known(t)`` says which batches' labels
are known at time ``t``.

The pool a lesson streams from holds images no deployed model trained on, from the training split, never the
validation or test split (``stream_pool``): at a budget that draws part of the training split (``small``,
``medium``) it is the rest of that split (``unused_training``); at one that trains on all of it (``full``) a fixed,
seeded ``POOL_PER_CLASS`` images of each class are held out of the training split for it, and the models train on
the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dlopt_kit.core import checks, data
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.corruptions import with_split
from dlopt_kit.core.data import Splits

DRIFTS = ("none", "brightness", "rotation", "label_shift", "concept")
SPEEDS = ("sudden", "gradual")
DEFAULT_STRENGTH = {"none": 0.0, "brightness": 0.5, "rotation": 45.0, "label_shift": 0.9, "concept": 1.0}
# images of each class ``stream_pool`` holds out of a training split used whole: lesson 08's streams (60 batches of
# 100 without repeats) take about 600 of a class, and up to about 920 of a favoured class under label shift
POOL_PER_CLASS = 1500
POOL_SEED = 8


@dataclass(frozen=True)
class DriftSpec:
    """What drifts, when and how fast. ``strength`` defaults to the kind's (``DEFAULT_STRENGTH``); ``pair`` is two
    different class labels from 0 (``make_stream`` refuses one the pool lacks, and an ``onset`` past its last
    batch)."""

    kind: str = "brightness"
    onset: int = 20
    speed: str = "sudden"
    ramp: int = 10
    strength: float | None = None
    pair: tuple[int, int] = (7, 5)  # concept drift swaps these classes' labels (Sneaker and Sandal in Fashion-MNIST)

    def __post_init__(self) -> None:
        # each field is checked, then kept as the plain Python value (the spec is frozen: object.__setattr__)
        plain = {"kind": checks.choice("kind", self.kind, DRIFTS), "onset": checks.whole("onset", self.onset, 0),
                 "speed": checks.choice("speed", self.speed, SPEEDS), "ramp": checks.whole("ramp", self.ramp, 1)}
        limit = {"brightness": 1.0, "rotation": 180.0, "label_shift": 1.0, "concept": 1.0, "none": 0.0}[self.kind]
        if self.strength is not None:
            plain["strength"] = checks.number("strength", self.strength, 0.0, limit)
        plain["pair"] = _class_pair(self.pair)
        for name, value in plain.items():
            object.__setattr__(self, name, value)

    @property
    def level(self) -> float:
        return DEFAULT_STRENGTH[self.kind] if self.strength is None else float(self.strength)

    def severity(self, t: int) -> float:
        """How far the drift has gone at batch ``t``: 0 before ``onset``, then 1 (sudden) or a linear ramp."""
        if self.kind == "none" or t < self.onset:
            return 0.0
        if self.speed == "sudden":
            return 1.0
        return min(1.0, (t - self.onset + 1) / self.ramp)


def _class_pair(pair: object) -> tuple[int, int]:
    """``DriftSpec.pair``: two different class labels, whole numbers from 0 (``make_stream`` checks them against the
    pool's classes)."""
    if isinstance(pair, (str, bytes, dict)) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise ValueError(f"pair={pair!r} must be two class labels, e.g. (7, 5): the classes whose labels concept "
                         "drift swaps")
    a, b = (checks.whole(f"pair[{i}]", v, 0) for i, v in enumerate(pair))
    if a == b:
        raise ValueError(f"pair={pair!r} names class {a} twice: concept drift swaps the labels of two different "
                         "classes")
    return a, b


@dataclass
class Stream:
    """``batches[t]`` is ``(x, y)`` at time ``t`` (``y`` the true labels, after any concept drift); ``severity[t]``
    how far the drift had gone; labels of batch ``t`` become known at ``t + delay`` when ``labelled_batches[t]``."""

    spec: DriftSpec
    batches: list[tuple[torch.Tensor, torch.Tensor]]
    severity: list[float]
    delay: int = 0
    labelled_batches: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def drift_point(self) -> int | None:
        """The first batch with any drift (None for ``none``)."""
        return next((t for t, s in enumerate(self.severity) if s > 0), None)

    def labels_known(self, t: int) -> list[int]:
        """The batches whose labels are known at time ``t`` (after ``delay``, and only the labelled ones)."""
        return [s for s in range(0, max(0, t - self.delay + 1)) if self.labelled_batches[s]]


def _apply(x: torch.Tensor, y: torch.Tensor, spec: DriftSpec, severity: float,
           rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    if severity == 0 or spec.kind in ("none", "label_shift"):
        return x, y
    if spec.kind == "brightness":
        return (x + severity * spec.level).clamp(0, 1), y
    if spec.kind == "rotation":
        from torchvision.transforms.functional import rotate

        return rotate(x, severity * spec.level), y
    a, b = spec.pair  # concept
    flip = torch.from_numpy(rng.random(len(y)) < severity * spec.level)
    swapped = y.clone()
    swapped[flip & (y == a)], swapped[flip & (y == b)] = b, a
    return x, swapped


def make_stream(pool: Splits | tuple[torch.Tensor, torch.Tensor], spec: DriftSpec, batches: int = 60,
                batch_size: int = 100, seed: int = 0, delay: int = 0, labelled: float = 1.0,
                split: str = "test", replace: bool = True) -> Stream:
    """``batches`` batches of ``batch_size`` images drawn (seeded) from ``pool`` (a ``Splits``' ``split``, ``test``
    or ``val``, or ``(x, y)``), drifting as ``spec`` says. ``delay`` and ``labelled`` set when labels arrive.
    ``replace=False`` never serves an image twice (a model that retrains on a batch is never scored on the same image
    later); the pool must then hold enough images of every class. Draw from ``val`` to choose a monitor's threshold,
    from a pool no model has seen (``stream_pool``) to report. A dry run draws a short stream: ``dry_run.BATCHES``
    batches, or as many as reach two batches past the drift's end (``onset + ramp + 2``) where that is more."""
    if not isinstance(spec, DriftSpec):
        raise ValueError(f"spec must be a DriftSpec, e.g. DriftSpec('brightness', onset=20); got {spec!r}")
    batches = checks.whole("batches", batches, 1)
    if spec.kind != "none" and spec.onset >= batches:
        raise ValueError(f"onset={spec.onset} is beyond the stream: batches={batches} are drawn (0 to {batches - 1}), "
                         f"so none would drift; choose onset from 0 to {batches - 1} or draw more batches")
    if dry.dry_run():
        batches = min(batches, max(dry.BATCHES, 0 if spec.kind == "none" else spec.onset + spec.ramp + 2))
    batch_size = checks.whole("batch_size", batch_size, 1)
    seed = checks.whole("seed", seed, 0, 2**32 - 1)
    delay = checks.whole("delay", delay, 0)
    labelled = checks.number("labelled", labelled, 0.0, 1.0)
    split = checks.choice("split", split, ("test", "val"))
    replace = checks.flag("replace", replace)
    if isinstance(pool, Splits):
        x_pool, y_pool = getattr(pool, f"x_{split}"), getattr(pool, f"y_{split}")
    elif isinstance(pool, (tuple, list)) and len(pool) == 2:
        x_pool, y_pool = pool
    else:
        raise ValueError(f"pool must be a Splits or (x, y), images and their labels (e.g. stream_pool's); got "
                         f"{type(pool).__name__}")
    x_pool = checks.tensor("pool's images", x_pool, floating=True)
    y_pool = checks.tensor("pool's labels", y_pool, ndim=1, floating=False)
    if len(x_pool) != len(y_pool):
        raise ValueError(f"pool has {len(x_pool)} images but {len(y_pool)} labels: they must match")
    if int(y_pool.min()) < 0:
        raise ValueError(f"pool's labels go down to {int(y_pool.min())}: class labels are whole numbers from 0")
    classes = int(y_pool.max()) + 1
    if spec.kind == "concept" and max(spec.pair) >= classes:
        raise ValueError(f"pair={spec.pair} names a class the pool lacks: it has classes 0 to {classes - 1}")
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(y_pool.numpy() == c)).tolist() for c in range(classes)]
    favoured = np.arange(classes) < (classes + 1) // 2
    out, severity = [], []
    for t in range(batches):
        s = spec.severity(t)
        weights = np.full(classes, 1 / classes)
        if spec.kind == "label_shift" and s > 0:
            share = 1 / 2 + s * (spec.level - 1 / 2)  # the favoured half's share of a batch: from 1/2 to strength
            weights = np.where(favoured, share / favoured.sum(), (1 - share) / (~favoured).sum())
        drawn = rng.choice(classes, batch_size, p=weights)
        if replace:
            idx = np.array([by_class[c][rng.integers(len(by_class[c]))] for c in drawn])
        else:
            short = [c for c in range(classes) if (drawn == c).sum() > len(by_class[c])]
            if short:
                raise ValueError(f"the pool has run out of class {short[0]} at batch {t}: draw fewer or smaller "
                                 "batches, or pass replace=True")
            idx = np.array([by_class[c].pop() for c in drawn])
        x, y = _apply(x_pool[idx], y_pool[idx], spec, s, rng)
        out.append((x, y))
        severity.append(s)
    return Stream(spec, out, severity, delay, (rng.random(batches) < labelled).tolist() if labelled < 1 else
                  [True] * batches)


def unused_training(name: str, train_per_class: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training split's examples that ``load_splits(name, train_per_class)`` leaves out (``None``: none left),
    as tensors: a pool of data the budget's models never saw, distinct from its validation and test splits. Empty
    where the budget uses the whole training split (``full``): ``stream_pool`` then holds a pool out instead."""
    if name not in data.STORED:
        raise ValueError(f"dataset {name!r} is not allowed here: choose one of {', '.join(data.STORED)}")
    train_per_class = data.per_class_count("train_per_class", train_per_class)
    left = np.setdiff1d(np.arange(len(data.raw_labels(name))), data.train_indices(name, train_per_class))
    return data.training_examples(name, left)


def stream_pool(splits: Splits, train_per_class: int | None,
                per_class: int = POOL_PER_CLASS) -> tuple[Splits, tuple[torch.Tensor, torch.Tensor]]:
    """The splits the deployed models train on and the pool lesson 08's streams draw from, at any budget: images of
    the **training** split (never validation or test) that no deployed model trains on.

    ``splits`` is ``load_splits(splits.name, train_per_class, ...)``. Where the budget's draw leaves at least
    ``per_class`` images of every class out of the training split (``small``, ``medium``), the pool is all of them
    (``unused_training``) and ``splits`` comes back unchanged. Where it does not (``full`` uses the whole split), a
    seeded draw of ``per_class`` images of each class is held out of ``splits``' training split as the pool, and the
    splits come back without them (validation and test unchanged)."""
    if not isinstance(splits, Splits):
        raise ValueError(f"splits must be a Splits (load_splits' result); got {type(splits).__name__}")
    train_per_class = data.per_class_count("train_per_class", train_per_class)
    per_class = checks.whole("per_class", per_class, 1)
    x_pool, y_pool = unused_training(splits.name, train_per_class)
    if np.bincount(y_pool.numpy(), minlength=splits.num_classes).min() >= per_class:
        return splits, (x_pool, y_pool)
    y = splits.y_train.cpu().numpy()
    if np.bincount(y, minlength=splits.num_classes).min() <= per_class:
        raise ValueError(f"{splits.name}'s training split has too few images of some class to hold {per_class} "
                         "per class out for the stream: pass a smaller per_class")
    rng = np.random.default_rng(POOL_SEED)
    held = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class]
                                   for c in range(splits.num_classes)]))
    keep = torch.from_numpy(np.setdiff1d(np.arange(len(y)), held))
    held = torch.from_numpy(held)
    trained = with_split(splits, "train", splits.x_train[keep], splits.y_train[keep])
    return trained, (splits.x_train[held].cpu(), splits.y_train[held].cpu())
