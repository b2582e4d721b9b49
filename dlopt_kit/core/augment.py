"""Data augmentation as a batch operation on the device, with per-sample random parameters.

``AugmentSpec`` is the plain, validated description a panel edits and a ``RunConfig`` records: one strength per
transform, in the transform's own units. ``Augmenter(spec)`` applies it to whole batches with kornia's augmentation
modules, which draw a new random parameter for every image (``torchvision.transforms.v2`` draws one for the whole
batch when given a batch). A strength of 0 leaves that transform out, so an all-zero spec is exactly the identity.
``fit`` applies the run's augmenter to each training batch; validation and test data are never augmented.
Used by notebook 02; ``python -m dlopt_kit.bench augment`` measures it against the per-sample DataLoader recipe.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlopt_kit.core import checks

# transform -> (largest allowed strength, its unit)
LIMITS: dict[str, tuple[float, str]] = {
    "rotate": (180.0, "degrees, the largest rotation either way"),
    "translate": (0.5, "fraction of the width and height, the largest shift"),
    "crop": (8.0, "whole pixels: zero-pad each side, crop back at random (a shift of up to that many pixels)"),
    "scale": (0.9, "fraction, zoom drawn from [1 - s, 1 + s]"),
    "hflip": (1.0, "probability of a left-right flip"),
    "vflip": (1.0, "probability of an upside-down flip"),
    "brightness": (1.0, "fraction, the largest change of brightness"),
    "contrast": (1.0, "fraction, the largest change of contrast"),
    "saturation": (1.0, "fraction, the largest change of saturation (colour images)"),
    "hue": (0.5, "fraction of the colour wheel, the largest hue shift (colour images)"),
    "erase": (1.0, "probability of erasing a random rectangle"),
}
COLOUR_ONLY = ("saturation", "hue")
WHOLE = ("crop",)  # strengths that count pixels


@dataclass(frozen=True)
class AugmentSpec:
    """Strength of each transform (0 = off). Units: see ``LIMITS``; ``AugmentSpec.help()`` prints them."""

    rotate: float = 0.0
    translate: float = 0.0
    crop: float = 0.0
    scale: float = 0.0
    hflip: float = 0.0
    vflip: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    erase: float = 0.0

    def __new__(cls, *args: Any, **kwargs: Any) -> AugmentSpec:
        checks.known_names("augmentation(s)", kwargs, tuple(LIMITS))  # AugmentSpec(blur=1) names what exists
        return super().__new__(cls)

    def __post_init__(self) -> None:
        for name, (high, unit) in LIMITS.items():
            try:
                value = checks.number(f"augmentation {name}", getattr(self, name), 0.0, high)
                if name in WHOLE and not value.is_integer():
                    raise ValueError(f"augmentation {name}={getattr(self, name)!r} must be a whole number from 0 "
                                     f"to {high:g}")
            except ValueError as exc:
                raise ValueError(f"{exc} ({unit})") from None
            object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls, strengths: dict[str, float]) -> AugmentSpec:
        if not isinstance(strengths, dict):
            raise ValueError(f"strengths={strengths!r} must be a dict such as {{'rotate': 15}}")
        return cls(**strengths)

    @staticmethod
    def help() -> str:
        return "\n".join(f"{name:<11} 0 to {high:g}: {unit}" for name, (high, unit) in LIMITS.items())

    def active(self) -> dict[str, float]:
        """The transforms that are on, with their strengths."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) > 0}

    def replace(self, **changes: Any) -> AugmentSpec:
        return AugmentSpec.from_dict({**dataclasses.asdict(self), **changes})

    def __repr__(self) -> str:
        active = self.active()
        return "none" if not active else ", ".join(f"{k} {v:g}" for k, v in active.items())

    def __bool__(self) -> bool:
        return bool(self.active())


class Augmenter(nn.Module):
    """Apply an ``AugmentSpec`` to a batch ``(N, C, H, W)`` in [0, 1] on its own device, per-sample parameters."""

    def __init__(self, spec: AugmentSpec, check_range: bool = True) -> None:
        import kornia.augmentation as K  # imported here: lessons without augmentation need not load it

        super().__init__()
        if not isinstance(spec, AugmentSpec):
            raise ValueError(f"spec={spec!r} must be an AugmentSpec, e.g. AugmentSpec(rotate=15)")
        self.spec = spec
        # values outside [0, 1] would be clamped without a word; fit checks its images once and turns this off,
        # since a per-batch check costs a device sync on every step
        self.check_range = check_range
        s = spec
        steps: list[nn.Module] = []
        if s.rotate or s.translate or s.scale:
            steps.append(K.RandomAffine(degrees=s.rotate, translate=(s.translate, s.translate) if s.translate else None,
                                        scale=(1 - s.scale, 1 + s.scale) if s.scale else None, padding_mode="zeros",
                                        p=1.0))
        if s.crop:
            steps.append(_PadCrop(int(s.crop)))
        if s.hflip:
            steps.append(K.RandomHorizontalFlip(p=s.hflip))
        if s.vflip:
            steps.append(K.RandomVerticalFlip(p=s.vflip))
        if s.brightness or s.contrast or s.saturation or s.hue:
            # ColorJiggle adds its brightness factor (ColorJitter would multiply): fine for images in [0, 1]
            steps.append(K.ColorJiggle(brightness=s.brightness, contrast=s.contrast, saturation=s.saturation,
                                       hue=s.hue, p=1.0))
        if s.erase:
            steps.append(K.RandomErasing(p=s.erase, scale=(0.02, 0.2), value=0.0))
        self.steps = nn.Sequential(*steps)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.steps):
            return x  # strength 0 everywhere: exactly the identity, no copy
        if x.ndim != 4:
            raise ValueError(f"augmentation needs image batches (N, C, H, W); got shape {tuple(x.shape)}: "
                             "turn augmentation off for tabular or 2-D data")
        if not x.is_floating_point():
            raise ValueError(f"augmentation needs float images with values in [0, 1]; got dtype {x.dtype}: "
                             "convert with x.float() / 255")
        if self.check_range and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
            raise ValueError(f"augmentation needs images with values in [0, 1]; these range from {float(x.min()):g} "
                             f"to {float(x.max()):g}: divide 0-255 images by 255")
        if x.shape[1] != 3 and (self.spec.saturation or self.spec.hue):
            raise ValueError(f"saturation and hue need colour images (3 channels); these have {x.shape[1]}")
        return self.steps(x).clamp_(0.0, 1.0)


class _PadCrop(nn.Module):
    """Pad-and-crop, the CIFAR recipe's shift (He et al. 2016, with a random left-right flip): zero-pad
    ``pixels`` on each side and crop a random window of the original size, per image (kornia's ``RandomCrop``, built
    for the first batch's size). Whole-pixel shifts: no interpolation blurs the image, unlike ``translate``."""

    def __init__(self, pixels: int) -> None:
        super().__init__()
        self.pixels = pixels
        self.crops: dict[tuple[int, int], nn.Module] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import kornia.augmentation as K

        size = (int(x.shape[-2]), int(x.shape[-1]))
        if size not in self.crops:
            self.crops[size] = K.RandomCrop(size, padding=self.pixels, fill=0.0, padding_mode="constant", p=1.0)
        return self.crops[size](x)


# ---------------------------------------------------------------- shifted test sets

SHIFTS: dict[str, AugmentSpec] = {
    "rotated": AugmentSpec(rotate=30),
    "translated": AugmentSpec(translate=0.15),
    "scaled": AugmentSpec(scale=0.3),
}
SHIFT_NAMES = ("clean", *SHIFTS, "darker")


def shifted(x: torch.Tensor, shift: str, seed: int = 0) -> torch.Tensor:
    """A fixed, seeded shifted copy of test images: ``clean``, ``rotated`` (up to 30°), ``translated`` (up to 15 %),
    ``scaled`` (0.7-1.3x) or ``darker`` (pixel values x 0.5). The same seed always gives the same images."""
    if shift == "clean":
        return x
    if shift == "darker":
        return x * 0.5
    if shift not in SHIFTS:
        raise ValueError(f"shift={shift!r} is not allowed: choose one of {', '.join(SHIFT_NAMES)}")
    with torch.random.fork_rng(devices=[]):  # a fixed draw that leaves the caller's random state alone
        torch.manual_seed(seed)
        return Augmenter(SHIFTS[shift])(x)
