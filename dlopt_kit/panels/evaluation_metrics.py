"""Lesson 07's panels: the threshold panel, and a training panel for an imbalanced binary task.

The threshold panel is a thin view over ``metrics.threshold_metrics`` and ``metrics.best_threshold``: the slider
sets the threshold, the numbers and the picture (confusion counts, ROC and PR with the operating point) update; a
control picks what to optimise (F1, or the most precise threshold that keeps recall above a floor) and moves the
slider there. Give it validation scores: a threshold chosen on the test split would make the test report a
self-fulfilling prophecy.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import pandas as pd

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.plots import figure_png
from dlopt_kit.evaluation_metrics.imbalance import OBJECTIVES, imbalance_metrics, one_vs_rest
from dlopt_kit.evaluation_metrics.metrics import AVERAGES, best_threshold, report_from_probs, threshold_metrics
from dlopt_kit.evaluation_metrics.plots import plot_threshold_view
from dlopt_kit.panels.training import Control, TrainingPanel

SHOWN = ("precision", "recall", "f1", "accuracy", "tp", "fp", "fn", "tn")


class ThresholdPanel:
    """``scores`` are the positive class's probabilities for the examples whose labels are ``y_true`` (0 or 1):
    validation examples, so that the threshold chosen here can be reported on the test split afterwards."""

    def __init__(self, y_true, scores, classes: tuple[str, str] = ("negative", "positive"),
                 threshold: float = 0.5, split: str = "validation") -> None:
        self.split = split
        self.report = report_from_probs(y_true, scores, list(classes))
        self.y_true, self.scores = self.report.y_true, self.report.probs[:, 1]
        self.threshold = W.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.01, description="threshold",
                                       readout_format=".2f", continuous_update=True)
        self.objective = W.Dropdown(options=[("maximise F1", "f1"), ("keep recall at least the floor", "recall_floor")],
                                    value="f1", description="optimise")
        self.recall_floor = W.FloatText(value=0.95, description="recall floor")
        self.average = W.Dropdown(options=list(AVERAGES), value="binary", description="averaging")
        self.optimise_button = W.Button(description="Move the threshold there", icon="bullseye")
        self.numbers = W.HTML()
        self.status = W.HTML()
        self.plot = W.Image(format="png", layout=W.Layout(max_width="820px"))
        self.threshold.observe(lambda change: self.update(), names="value")
        self.average.observe(lambda change: self.update(), names="value")
        self.optimise_button.on_click(self.optimise)
        # wrapped: the five controls are wider than a narrow notebook
        self.widget = W.VBox([W.HBox([self.threshold, self.average, self.objective, self.recall_floor,
                                      self.optimise_button], layout=W.Layout(flex_flow="row wrap")),
                              self.status, self.numbers, self.plot])
        self.update()

    def metrics(self) -> dict[str, float]:
        """The numbers shown now (precision, recall and F1 averaged as the averaging control says)."""
        return threshold_metrics(self.y_true, self.scores, self.threshold.value, self.average.value)

    def update(self) -> None:
        at = self.metrics()
        frame = pd.DataFrame([{"split": self.split, "averaging": self.average.value, **{k: at[k] for k in SHOWN}}])
        self.numbers.value = frame.to_html(index=False, float_format="{:.3f}".format)
        # the curves are the positive class's, so the operating point drawn on them is too, whatever the averaging
        point = at if self.average.value == "binary" else threshold_metrics(self.y_true, self.scores,
                                                                            self.threshold.value)
        self.plot.value = figure_png(plot_threshold_view(self.report, point))

    def optimise(self, _button: Any = None) -> float | None:
        """Move the slider to the threshold that best meets the chosen objective; returns it (None if refused)."""
        try:
            best = best_threshold(self.y_true, self.scores, self.objective.value, self.recall_floor.value)
        except ValueError as exc:
            self.status.value = f'<span style="color:crimson">{html.escape(str(exc))}</span>'
            return None
        self.status.value = ""
        self.threshold.value = best
        return best

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)


IMBALANCE_CLASS_WEIGHTS = ("none", "balanced")


def imbalance_panel(data: Splits, positive: str, base: RunConfig, share: float = 0.05,
                    threshold: str = "fixed 0.5") -> TrainingPanel:
    """Lesson 07's training panel: a minority class (``positive`` at first) against the rest of ``data``, with the
    minority at ``share`` of every split, and the knobs that matter there: the minority class and share, class
    weighting, how the threshold is chosen (on validation) and how recall, precision and F1 are averaged (binary:
    the minority class; macro, micro or weighted over both). Its table shows validation recall, precision, F1 and
    accuracy at 0.5 and at that threshold (``_tuned``: fitted on the same validation split, so optimistic)."""
    tasks: dict[tuple[str, float], Splits] = {}

    def task(values: dict) -> Splits:
        key = (values["positive"], values["share"])
        if key not in tasks:
            tasks[key] = one_vs_rest(data, key[0], share=key[1])
        return tasks[key]

    def metrics(result, splits: Splits, values: dict) -> dict:
        return imbalance_metrics(values["threshold_by"], split="val", average=values["average"])(result, splits)

    spec = [Control("positive", "choice", positive, tuple(data.classes), label="minority class"),
            Control("share", "float", share, label="minority share"),
            Control("class_weight", "choice", base.class_weight, IMBALANCE_CLASS_WEIGHTS, label="class weight"),
            Control("threshold_by", "choice", threshold, tuple(OBJECTIVES), label="threshold"),
            Control("average", "choice", "binary", AVERAGES, label="averaging"),
            Control("model", "choice", base.model, ("cnn", "mlp")),
            Control("lr", "float", base.lr),
            Control("epochs", "int", base.epochs)]
    return TrainingPanel(task, base=base, spec=spec, row_metrics=metrics,
                         title=f"Lesson 07: {positive} against the rest, imbalanced")
