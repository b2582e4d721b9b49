"""Seeded corruptions of a dataset, with a record of what was planted (lesson 01).

``corrupt(data, kind, rate, seed)`` returns a ``Corrupted``: a corrupted copy of ``data`` (the original is never
changed) and the indices of the planted problems, so that a detector's precision and recall can be measured.
Each corruption changes the training split only, except ``leak``, which is about the evaluation split it names.

| kind | what ``rate`` is the share of | planted (indices into) |
|---|---|---|
| ``duplicates`` | training examples copied again, exactly | the copies (train) |
| ``near_duplicates`` | training examples copied with a 5 % brightness change and slight noise | the copies (train) |
| ``leak`` | the test (or val) split replaced by near-copies of training examples and their labels | those (test/val) |
| ``missing`` | input values set to NaN | the rows with a missing value (train) |
| ``label_noise`` | training labels changed to another class, uniformly | the changed rows (train) |
| ``pair_noise`` | labels of the paired classes swapped with their partner (T-shirt <-> Shirt, ...) | the changed rows |
| ``thin_class`` | one class's training examples removed (sampling bias) | none: nothing left to find |
| ``outliers`` | training images replaced by their negative (a scanner's inverted frame), label kept | those rows |
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.data import Splits

CORRUPTIONS = ("duplicates", "near_duplicates", "leak", "missing", "label_noise", "pair_noise", "thin_class",
               "outliers")
# classes a tired annotator confuses: Fashion-MNIST's T-shirt/Shirt, Pullover/Coat, Sneaker/Ankle boot
CONFUSED_PAIRS = {"fashion_mnist": (("T-shirt/top", "Shirt"), ("Pullover", "Coat"), ("Sneaker", "Ankle boot"))}
THINNED = {"fashion_mnist": "Shirt"}


@dataclass
class Corrupted:
    """A corrupted copy of a dataset and what was planted in it: ``planted`` indexes ``split``."""

    data: Splits
    kind: str
    rate: float
    planted: np.ndarray
    split: str = "train"
    details: dict = field(default_factory=dict)

    def describe(self) -> str:
        return (f"{self.kind} at rate {self.rate:g}: {len(self.planted)} planted in the {self.split} split "
                f"of {self.data.describe()}")


def with_split(data: Splits, split: str, x: torch.Tensor, y: torch.Tensor, name: str | None = None) -> Splits:
    """A copy of ``data`` with the ``split`` ("train", "val" or "test") replaced by ``(x, y)``."""
    parts = {f"{a}_{s}": getattr(data, f"{a}_{s}") for a in "xy" for s in ("train", "val", "test")}
    parts[f"x_{split}"], parts[f"y_{split}"] = x, y
    return Splits(name or data.name, classes=list(data.classes), **parts)


def near_copy(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Copies of the rows of ``x`` as a re-encoded file looks: brightness changed by up to 5 %, noise of 0.02 added
    (then clipped to [0, 1] for images). Their distance to the original is about 0.5 to 1 on 28x28 images, where
    different images are rarely closer than 2."""
    scale = torch.from_numpy(rng.uniform(0.95, 1.05, (len(x),) + (1,) * (x.ndim - 1)).astype(np.float32))
    noisy = x * scale + torch.from_numpy(rng.normal(0.0, 0.02, tuple(x.shape)).astype(np.float32))
    return noisy.clamp(0.0, 1.0) if x.ndim == 4 else noisy


def _pick(rng: np.random.Generator, pool: np.ndarray, rate: float) -> np.ndarray:
    return np.sort(rng.choice(pool, int(round(rate * len(pool))), replace=False))


def class_pairs(data: Splits) -> list[tuple[int, int]]:
    """The confusable class pairs ``pair_noise`` swaps: named ones for Fashion-MNIST, else (0, 1), (2, 3), ..."""
    named = CONFUSED_PAIRS.get(data.name)
    if named:
        return [(data.classes.index(a), data.classes.index(b)) for a, b in named]
    return [(c, c + 1) for c in range(0, data.num_classes - 1, 2)]


def _relabel(data: Splits, kind: str, y: torch.Tensor, rate: float, rng: np.random.Generator,
             details: dict) -> np.ndarray:
    """Change ``rate`` of the labels ``y`` in place as ``kind`` (label_noise or pair_noise) does; return the changed
    rows."""
    if kind == "label_noise":
        planted = _pick(rng, np.arange(len(y)), rate)
        shift = torch.from_numpy(rng.integers(1, data.num_classes, len(planted)))
        y[planted] = (y[planted] + shift) % data.num_classes
        return planted
    partner = {}
    for a, b in class_pairs(data):
        partner[a], partner[b] = b, a
    pool = np.flatnonzero(np.isin(y.numpy(), list(partner)))
    planted = _pick(rng, pool, rate)
    y[planted] = torch.tensor([partner[int(v)] for v in y[planted]], dtype=y.dtype)
    details["pairs"] = [(data.classes[a], data.classes[b]) for a, b in class_pairs(data)]
    return planted


def corrupt(data: Splits, kind: str, rate: float, seed: int = 0, split: str = "test",
            thinned: str | None = None, noisy_val: bool = False) -> Corrupted:
    """A corrupted copy of ``data`` (see the module's table); ``split`` is where ``leak`` plants its copies
    ("test" or "val"), ``thinned`` the class ``thin_class`` removes (default: Shirt for Fashion-MNIST, else the
    first class). The same ``seed`` plants the same corruption. In a dry run the corrupted copy's training split is
    the first ``dry_run.EXAMPLES`` examples of ``data``'s (copying and corrupting every row is work), except for
    ``leak``, whose copies come from the whole training split. ``noisy_val`` (label_noise and pair_noise only) changes
    the validation labels the same way and at the same rate, as when one team labelled both splits; the changed
    validation rows are ``details["val_planted"]``."""
    kind = checks.choice("kind", kind, CORRUPTIONS)
    rate = checks.number("rate", rate, 0.0, 1.0, high_open=kind != "thin_class")
    split = checks.choice("split", split, ("test", "val"))
    rng = np.random.default_rng(checks.whole("seed", seed, 0, 2**32 - 1))
    if noisy_val and kind not in ("label_noise", "pair_noise"):
        raise ValueError(f"noisy_val=True applies to label_noise and pair_noise only, not kind={kind!r}")
    train = (data.x_train, data.y_train) if kind == "leak" else dry.head(data.x_train, data.y_train)  # leak: all
    x, y = (t.clone() for t in train)
    n = len(y)
    every = np.arange(n)
    details: dict = {}
    if kind in ("duplicates", "near_duplicates"):
        source = _pick(rng, every, rate)
        copies = x[source] if kind == "duplicates" else near_copy(x[source], rng)
        x, y = torch.cat([x, copies]), torch.cat([y, y[source]])
        planted = np.arange(n, n + len(source))
        details["copied_from"] = source
    elif kind == "leak":
        x_eval, y_eval = getattr(data, f"x_{split}").clone(), getattr(data, f"y_{split}").clone()
        planted = _pick(rng, np.arange(len(y_eval)), rate)
        source = rng.choice(n, len(planted), replace=False)
        x_eval[planted], y_eval[planted] = near_copy(x[source], rng), y[source]
        details["copied_from"] = source
        leaked = with_split(data, split, x_eval, y_eval)
        return Corrupted(leaked, kind, rate, planted, split, details)
    elif kind == "missing":
        mask = torch.from_numpy(rng.random(tuple(x.shape)) < rate)
        x[mask] = float("nan")
        planted = np.flatnonzero(mask.flatten(1).any(1).numpy())
        details["missing_values"] = int(mask.sum())
    elif kind in ("label_noise", "pair_noise"):
        planted = _relabel(data, kind, y, rate, rng, details)
        if noisy_val:
            y_val = data.y_val.clone()
            details["val_planted"] = _relabel(data, kind, y_val, rate, rng, details)
            data = with_split(data, "val", data.x_val, y_val)
    elif kind == "thin_class":
        name = thinned or THINNED.get(data.name, data.classes[0])
        checks.choice("thinned", name, data.classes)
        c = data.classes.index(name)
        removed = _pick(rng, np.flatnonzero(y.numpy() == c), rate)
        keep = np.setdiff1d(every, removed)
        x, y = x[keep], y[keep]
        planted = np.array([], dtype=np.int64)
        details.update(thinned=name, removed=len(removed), left=int((y == c).sum()))
    else:  # outliers
        if x.ndim != 4:
            raise ValueError(f"outliers are inverted images; {data.name} has no images: choose another kind")
        planted = _pick(rng, every, rate)
        x[planted] = 1.0 - x[planted]
    return Corrupted(with_split(data, "train", x, y), kind, rate, planted, "train", details)


def detection(found: np.ndarray | list[int], planted: np.ndarray | list[int]) -> dict[str, float]:
    """Precision (the share of flags that are planted problems) and recall (the share of planted problems flagged)
    of a detector's ``found`` indices; precision is NaN when nothing was flagged, recall NaN when nothing was
    planted."""
    found, planted = set(np.asarray(found).tolist()), set(np.asarray(planted).tolist())
    hits = len(found & planted)
    return {"found": len(found), "planted": len(planted), "hits": hits,
            "precision": hits / len(found) if found else float("nan"),
            "recall": hits / len(planted) if planted else float("nan")}
