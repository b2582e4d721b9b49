"""Lesson 02's panels: the live augmentation gallery, and the training panel's augmentation knobs.

The gallery has one slider per transform, and pictures that follow the sliders.

A thin view: the sliders build an ``AugmentSpec`` (their ranges are the spec's allowed ranges), and the pictures are
``plot_augmented`` (one image, many draws) and ``plot_class_grid`` (every class). A spec the images cannot take
(saturation or hue on grey images) shows a message and leaves the last pictures in place.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import torch
from matplotlib.figure import Figure

from dlopt_kit.augmentation.robustness import plot_augmented, plot_class_grid
from dlopt_kit.core.augment import LIMITS, WHOLE, AugmentSpec
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.plots import figure_png
from dlopt_kit.panels.base import Control
from dlopt_kit.panels.training import config_from_values, control_grid

# the training panel's transforms, the lesson's recipe (flip and pad-and-crop) first
PANEL_TRANSFORMS = ("hflip", "crop", "rotate", "translate", "scale", "vflip", "brightness", "contrast", "erase")


def config_with_augment(base: RunConfig, values: dict[str, Any]) -> RunConfig:
    """Like ``config_from_values``, and controls named after a transform (``rotate``, ``hflip``, ...) set the
    run's ``AugmentSpec`` (notebook 02's training panel)."""
    strengths = {k: v for k, v in values.items() if k in LIMITS}
    config = config_from_values(base, {k: v for k, v in values.items() if k not in LIMITS})
    return config.replace(augment=AugmentSpec.from_dict(strengths)) if strengths else config


def augment_knobs(base: RunConfig, transforms: tuple[str, ...] = PANEL_TRANSFORMS) -> list[Control]:
    """Notebook 02's training-panel knobs: the model (mlp or cnn), one box per transform (all off), the epochs, the
    early-stopping patience and the seeds, each starting from ``base``."""
    unknown = [t for t in transforms if t not in LIMITS]
    if unknown:
        raise ValueError(f"transforms {unknown} are not augmentations: choose from {', '.join(LIMITS)}")
    models = ("mlp", "cnn")
    return [Control("model", "choice", base.model if base.model in models else "cnn", models),
            *[Control(t, "int" if t in WHOLE else "float", 0 if t in WHOLE else 0.0) for t in transforms],
            Control("epochs", "int", base.epochs), Control("patience", "int", base.patience),
            Control("seeds", "int", 1)]


class AugmentGallery:
    """``data``: image splits for the class grid; ``image``: the single image (defaults to the first one)."""

    def __init__(self, data: Splits, image: torch.Tensor | None = None, spec: AugmentSpec | None = None) -> None:
        self.data = data
        self.image = image if image is not None else data.x_train[0]
        start = spec or AugmentSpec()
        self.sliders = {name: W.FloatSlider(value=getattr(start, name), min=0.0, max=high,
                                            step=1.0 if name in WHOLE else high / 36,
                                            description=name, readout_format=".2f", continuous_update=False,
                                            style={"description_width": "initial"})
                        for name, (high, _unit) in LIMITS.items()}
        self.seed = 0
        self.resample_button = W.Button(description="New draws", icon="refresh")
        self.status = W.HTML()
        self.single = W.Image(format="png")
        self.grid = W.Image(format="png")
        for slider in self.sliders.values():
            slider.observe(lambda change: self.update(), names="value")
        self.resample_button.on_click(self.resample)
        self.widget = W.VBox([control_grid(list(self.sliders.values()), min_width="280px"),
                              W.HBox([self.resample_button, self.status]), self.single, self.grid])
        self.update()

    def spec(self) -> AugmentSpec:
        return AugmentSpec(**{name: slider.value for name, slider in self.sliders.items()})

    def set_values(self, **strengths: float) -> None:
        """Move sliders by name; a strength outside a slider's range raises ValueError with the allowed range (a
        slider would silently clamp it)."""
        AugmentSpec(**{**{n: s.value for n, s in self.sliders.items()}, **strengths})  # names and ranges checked
        with self.widget.hold_trait_notifications():
            for name, value in strengths.items():
                self.sliders[name].value = value
        self.update()

    def resample(self, _button: Any = None) -> None:
        self.seed += 1
        self.update()

    def update(self) -> None:
        try:
            spec = self.spec()
            single = plot_augmented(self.image, spec, seed=self.seed, ax=Figure(figsize=(6, 1.8)).subplots())
            grid = plot_class_grid(self.data, spec, seed=self.seed, ax=Figure(figsize=(3.6, 5.0)).subplots())
        except ValueError as exc:  # e.g. hue on grey images: say so, keep the last pictures
            self.status.value = f'<span style="color:crimson">{html.escape(str(exc))}</span>'
            return
        self.status.value = f"augment: {spec!r}"
        self.single.value, self.grid.value = figure_png(single), figure_png(grid)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)
