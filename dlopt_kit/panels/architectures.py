"""Lesson 03's panel: an architecture, how much of a pretrained source it reuses, how many labels it gets and how many
members vote, on the digits target; live curves of the member being trained, and a table of validation numbers
(the ensemble's validation accuracy is the average of its members' probabilities)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from dlopt_kit.architectures.ensembles import accuracy, ensemble_proba
from dlopt_kit.architectures.study import for_steps
from dlopt_kit.architectures.transfer import MODES, TransferNet, few_labels
from dlopt_kit.core import checks
from dlopt_kit.core.callbacks import Callback
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.models import count_parameters
from dlopt_kit.core.training import FitResult, fit
from dlopt_kit.panels.training import Control, TrainingPanel

MAX_MEMBERS = 7


def _settings(values: dict[str, Any], target: Splits) -> tuple[int, int, int]:
    """The labels per class, members and steps the values name (ValueError naming a bad one)."""
    per_class = checks.whole("labels per class", values["per_class"], 1, int(target.y_train.bincount().min()))
    members = checks.whole("members", values["members"], 1, MAX_MEMBERS)
    steps = checks.whole("steps", values["steps"], 10, 5000)
    if values["mode"] != "scratch" and values["model"] != "cnn":
        raise ValueError(f"mode={values['mode']!r} reuses the pretrained source, a cnn: choose model=cnn, or "
                         "mode=scratch for an mlp or an rnn")
    return per_class, members, steps


def architecture_panel(target: Splits, source: nn.Module, base: RunConfig,
                       title: str = "Lesson 03: architecture, transfer and ensembles with few labels") -> TrainingPanel:
    """A ``TrainingPanel`` over ``target`` (``architectures.digits_target()``): model (mlp, cnn, rnn), transfer
    mode (``scratch``, or ``probe``/``last``/``full`` from ``source``, a ``kit_backbone`` of a cnn), labels per
    class (the draw of seed 0), ensemble members (trained one after another, seeds 0, 1, ...), optimiser steps per
    member, learning rate and the backbone's learning-rate scale. Stop ends the member in training and keeps the
    members already trained."""
    spec: Sequence[Control] = [
        Control("model", "choice", "cnn", ("mlp", "cnn", "rnn")),
        Control("mode", "choice", "scratch", MODES, label="transfer mode"),
        Control("per_class", "int", 10, label="labels per class"),
        Control("members", "int", 1, label="ensemble members"),
        Control("steps", "int", 100, label="steps per member"),
        Control("lr", "float", base.lr),
        Control("backbone_lr_scale", "float", 0.1, label="backbone lr scale")]

    def make_config(base: RunConfig, values: dict[str, Any]) -> RunConfig:
        per_class, _members, steps = _settings(values, target)
        checks.number("backbone lr scale", values["backbone_lr_scale"], 0.0, 1.0, low_open=True)
        config = base.replace(model=values["model"], lr=values["lr"], monitor="val_acc")
        return for_steps(config, few_labels(target, per_class), steps)[0]

    members_of: dict[int, list[nn.Module]] = {}
    chosen: dict[str, Any] = {}  # the values Run was pressed with (the worker thread must not read the widgets)

    def data(values: dict[str, Any]) -> Splits:
        per_class, _members, steps = _settings(values, target)
        chosen.update(values)
        return for_steps(base, few_labels(target, per_class), steps)[1]

    def fit_members(config: RunConfig, data: Splits, progress: bool = False,
                    callbacks: Sequence[Callback] = ()) -> FitResult:
        values = dict(chosen)
        models, result = [], None
        for k in range(values["members"]):
            member = config.replace(seed=config.seed + k)
            if values["mode"] == "scratch":
                model = None
            else:
                model = TransferNet(source, target.num_classes, values["mode"],
                                    backbone_lr_scale=values["backbone_lr_scale"])
            result = fit(member, data, callbacks=callbacks, progress=False, model=model)
            models.append(result.model)
            if not result.completed:
                break
        members_of[id(result)] = models
        return result

    def row(result: FitResult, data: Splits, values: dict[str, Any]) -> dict[str, Any]:
        models = members_of.pop(id(result), [result.model])
        return {"members trained": len(models), "trainable parameters": count_parameters(models[0]),
                "first member val_acc": accuracy(ensemble_proba(models[:1], data.x_val).argmax(-1), data.y_val),
                "val_acc": accuracy(ensemble_proba(models, data.x_val).argmax(-1), data.y_val)}

    return TrainingPanel(data, base=base, spec=spec, make_config=make_config, fit_fn=fit_members, title=title,
                         row_metrics=row)
