"""Lesson 01's panels: a corruption panel (type, rate, fix on/off; the table shows what the fix found and how well)
and a decision-boundary panel for the 2-D sets (raw or engineered features, a linear model or an MLP).

In the corruption panel ``leak`` copies training images into the **validation** split, because the panel's table
reports validation numbers: the leaked validation accuracy is what would mislead a choice of model.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from matplotlib.figure import Figure

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.corruptions import CORRUPTIONS, THINNED, corrupt, detection
from dlopt_kit.core.data import SYNTHETIC, Splits, load_splits
from dlopt_kit.core.plots import plot_history
from dlopt_kit.core.training import FitResult
from dlopt_kit.data_quality.features import ENGINEERED, engineer
from dlopt_kit.data_quality.plots import plot_decision_boundary
from dlopt_kit.data_quality.report import NEAR
from dlopt_kit.data_quality.study import class_recall, detect, train_ready
from dlopt_kit.panels.training import Control, TrainingPanel, best_epoch_metrics, config_from_values

KINDS = ("none", *CORRUPTIONS)
LABEL_KINDS = ("label_noise", "pair_noise")


def data_quality_panel(data: Splits, base: RunConfig, near: float = NEAR, folds: int = 3) -> TrainingPanel:
    """Lesson 01's corruption panel over ``data``: the corruption and its rate, the lesson's fix on or off, the
    seed (the corruption's draw and the training seed) and epochs. Each run's row shows the validation accuracy,
    what the report flagged and its precision and recall against what was planted (label issues are looked for
    only with the fix on: it trains ``folds`` extra models), and for ``thin_class`` the thinned class's validation
    recall."""
    found_by_run: dict[str, Any] = {}

    def prepare(values: dict[str, Any]) -> Splits:
        kind = values["corruption"]
        found_by_run.clear()
        if kind == "none":
            return data
        planted = corrupt(data, kind, values["rate"], values["seed"], split="val")
        found = None
        if kind != "thin_class" and (values["fix"] or kind not in LABEL_KINDS):
            found, _ = detect(planted, make_config(base, values), near, folds, values["seed"])
            found_by_run.update(detection(found.indices, planted.planted))
        if kind == "thin_class":
            found_by_run["thinned"] = data.classes.index(planted.details["thinned"])
        ready, _ = train_ready(planted, found, values["fix"])
        return ready

    def make_config(config: RunConfig, values: dict[str, Any]) -> RunConfig:
        balanced = values["corruption"] == "thin_class" and values["fix"]
        return config_from_values(config, {**values, "class_weight": "balanced" if balanced else config.class_weight})

    def metrics(result: FitResult, used: Splits, values: dict[str, Any]) -> dict[str, Any]:
        row = {"val_acc": best_epoch_metrics(result, used, values)["val_acc"]}
        if "found" in found_by_run:
            row.update({k: found_by_run[k] for k in ("found", "planted", "precision", "recall")})
        if "thinned" in found_by_run:
            row[f"{THINNED.get(data.name, 'thinned')} recall (val)"] = class_recall(
                result.model, used, found_by_run["thinned"], "val")
        return row

    spec = [Control("corruption", "choice", "pair_noise", KINDS),
            Control("rate", "float", 0.4),
            Control("fix", "bool", False, label="apply the fix"),
            Control("seed", "int", 0),
            Control("epochs", "int", base.epochs)]
    return TrainingPanel(prepare, base=base, spec=spec, make_config=make_config, row_metrics=metrics,
                         title="Lesson 01: corrupt the data, measure the damage, apply the fix")


@lru_cache(maxsize=8)
def _two_d(name: str) -> Splits:
    return load_splits(name)


def boundary_panel(base: RunConfig | None = None) -> TrainingPanel:
    """Lesson 01's decision-boundary panel: a 2-D set (circles, xor, moons, spirals), raw inputs or engineered
    features (raw plus x1^2, x2^2, x1*x2), a linear model or an MLP of ``hidden`` units, lr and epochs. The live
    figure shows the boundary the model draws after each epoch, next to its validation accuracy."""
    base = base or RunConfig(model="linear", lr=0.05, batch_size=128, epochs=15, monitor="val_acc")
    drawn: dict[str, Any] = {}

    def prepare(values: dict[str, Any]) -> Splits:
        raw = _two_d(values["dataset"]) if values["dataset"] in SYNTHETIC else load_splits(values["dataset"])
        drawn["raw"], drawn["fmap"] = raw, None
        if values["engineered"]:
            ready, drawn["fmap"] = engineer(raw, ENGINEERED)
            return ready
        return raw

    spec = [Control("dataset", "choice", "circles", ("circles", "xor", "moons", "spirals")),
            Control("engineered", "bool", False, label="engineered features"),
            Control("model", "choice", base.model, ("linear", "mlp")),
            Control("hidden", "int", 32, label="hidden units (mlp)"),
            Control("lr", "float", base.lr),
            Control("epochs", "int", base.epochs)]
    panel = TrainingPanel(prepare, base=base, spec=spec, title="Lesson 01: features and the decision boundary")

    def live(history: Any) -> Figure:
        fig = Figure(figsize=(10, 3))
        boundary, loss, acc = fig.subplots(1, 3)
        if panel.model is not None and "raw" in drawn:
            plot_decision_boundary(panel.model, drawn["raw"], drawn["fmap"], ax=boundary)
        return plot_history(history, axes=[loss, acc])

    panel.live_plot = live
    return panel
