"""Lesson 06's training panel: batch norm on/off, optimizer, lr, the schedule's kind and parameters with a live
preview of its lr at every step, gradient clipping and the seeds (1 to 3: a run repeated over seeds shows each
number's mean and spread); live curves of loss, accuracy and lr; a results table of
validation numbers that keeps every run.

The schedule's parameter boxes are those of the chosen kind only (they swap when the kind changes); each is named
``<kind>_<parameter>``, e.g. ``cosine_warmup_epochs``, so that ``panel.run(schedule="cosine",
cosine_warmup_epochs=2)`` sets it from code. A clip threshold of 0 means no clipping.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
from matplotlib.figure import Figure

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.plots import figure_png, plot_history
from dlopt_kit.core.schedules import KINDS, PARAMS, Schedule
from dlopt_kit.core.training import FitResult
from dlopt_kit.efficient_training.plots import plot_schedules
from dlopt_kit.panels.training import Control, TrainingPanel, config_from_values, control_grid

# short labels for the parameter boxes (the full units are in schedules.PARAMS and Schedule.help())
LABELS = {"step_size": "epochs per drop", "gamma": "gamma (lr factor)", "mode": "mode",
          "cycle_epochs": "epochs per cycle", "base_factor": "lowest lr / lr", "pct_start": "share of run rising",
          "div_factor": "lr / first lr", "final_div_factor": "first lr / last lr", "warmup_epochs": "warm-up epochs",
          "min_factor": "last lr / lr"}


def schedule_controls(base: Schedule) -> list[Control]:
    """One control per parameter of every schedule kind, named ``<kind>_<parameter>``, defaults from ``base`` for
    its own kind and from the kind's defaults otherwise."""
    controls = []
    for kind, params in PARAMS.items():
        for name, (default, low, _high, _unit) in params.items():
            value = base.params[name] if base.kind == kind else default
            label = LABELS[name]
            if isinstance(low, tuple):
                controls.append(Control(f"{kind}_{name}", "choice", value, low, label=label))
            else:
                kind_of = "int" if isinstance(default, int) else "float"
                controls.append(Control(f"{kind}_{name}", kind_of, value, label=label))
    return controls


def schedule_from_values(values: dict[str, Any]) -> Schedule:
    """The ``Schedule`` the panel's values describe: the chosen kind with its own parameter boxes."""
    kind = values["schedule"]
    if kind not in PARAMS:
        return Schedule(kind)  # refused there, with the kinds allowed
    return Schedule(kind, **{name: values[f"{kind}_{name}"] for name in PARAMS[kind]})


def efficient_config(base: RunConfig, values: dict[str, Any]) -> RunConfig:
    """``base`` with the panel's settings: a clip threshold of 0 is no clipping; the schedule from its kind and
    parameter boxes. A bad value raises ValueError naming it."""
    plain = {k: v for k, v in values.items() if k in RunConfig.__dataclass_fields__ and k != "schedule"}
    if plain.get("grad_clip") == 0:
        plain["grad_clip"] = None
    return config_from_values(base, plain).replace(schedule=schedule_from_values(values))


def efficient_metrics(result: FitResult, data: Splits, values: dict[str, Any]) -> dict[str, Any]:
    """The table's columns: validation loss and accuracy at the best epoch, the last lr, and the share of steps
    clipped over the run (empty without clipping)."""
    if not result.history:
        return {}
    best = result.history[(result.best_epoch or 1) - 1]
    clipped = result.steps["clipped"].mean() if "clipped" in result.steps else float("nan")  # blank in the table
    return {"val_loss": best["val_loss"], "val_acc": best["val_acc"], "last lr": result.history[-1]["lr"],
            "clipped": clipped}


def efficient_live_plot(history: Any) -> Figure:
    """Loss and accuracy per epoch, and the lr each epoch ended with."""
    fig = Figure(figsize=(10.5, 2.8))
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    plot_history(history, axes=(ax_loss, ax_acc))
    ax_lr.plot(history[:, "epoch"], history[:, "lr"], "-o", ms=3, color="C2")
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel("lr (last step of the epoch)")
    fig.tight_layout()
    return fig


class EfficientPanel(TrainingPanel):
    """``TrainingPanel`` with lesson 06's knobs and a preview of the schedule that redraws as they change."""

    def __init__(self, data: Splits, base: RunConfig) -> None:
        self.data = data
        main = [Control("batch_norm", "bool", base.batch_norm, label="batch norm"),
                Control("optimizer", "choice", base.optimizer, ("adam", "adamw", "sgd")),
                Control("lr", "float", base.lr, label="lr"),
                Control("epochs", "int", base.epochs),
                Control("batch_size", "int", base.batch_size, label="batch size"),
                Control("schedule", "choice", base.schedule.kind, KINDS),
                Control("grad_clip", "float", base.grad_clip or 0.0, label="clip threshold (0 = off)"),
                Control("clip_by", "choice", base.clip_by, ("norm", "value"), label="clip by"),
                Control("seeds", "int", 1)]
        super().__init__(data, base=base, spec=[*main, *schedule_controls(base.schedule)],
                         make_config=efficient_config, row_metrics=efficient_metrics,
                         live_plot=efficient_live_plot, table_values=self.table_values,
                         title="Lesson 06: batch norm, lr schedules and gradient clipping")
        self.main_names = [c.name for c in main]
        self.params_box = control_grid([])
        self.preview = W.Image(format="png", layout=W.Layout(max_width="420px"))
        self.preview_status = W.HTML()
        knobs = control_grid([self.controls[n] for n in self.main_names])
        title, _all_knobs, *rest = self.widget.children
        self.widget.children = [title, knobs, W.HTML("<i>schedule parameters</i>"), self.params_box,
                                self.preview_status, self.preview, *rest]
        watched = ["schedule", "lr", "epochs", "batch_size", *[c.name for c in schedule_controls(base.schedule)]]
        for name in watched:
            self.controls[name].observe(lambda change: self.update_preview(), names="value")
        self.update_preview()

    def table_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """The settings a results row shows: the main knobs, with the schedule written out with its parameters."""
        shown = {n: values[n] for n in self.main_names}
        try:
            shown["schedule"] = repr(schedule_from_values(values))
        except ValueError:
            pass
        return shown

    def update_preview(self) -> None:
        """Show the chosen kind's parameter boxes and redraw the lr curve; a bad value is named under the boxes and
        the last good preview stays."""
        values = self.values()
        kind = values["schedule"]
        self.params_box.children = [self.controls[f"{kind}_{n}"] for n in PARAMS.get(kind, {})]
        try:
            config = efficient_config(self.base, values)
            steps = -(-len(self.data.y_train) // config.batch_size)
            fig = plot_schedules([config.schedule], config.lr, config.epochs, steps,
                                 axes=[Figure(figsize=(4.2, 2.2)).subplots()])
        except ValueError as exc:
            self.preview_status.value = f'<span style="color:crimson">Preview: {html.escape(str(exc))}</span>'
            return
        self.preview.value = figure_png(fig)
        self.preview_status.value = (f"<span>lr at every step of a {config.epochs}-epoch run, {steps} steps per "
                                     f"epoch ({config.schedule.kind} steps per "
                                     f"{'batch' if config.schedule.per_batch else 'epoch'})</span>")


def efficient_panel(data: Splits, base: RunConfig) -> EfficientPanel:
    """Lesson 06's panel over ``data``, starting from ``base``."""
    return EfficientPanel(data, base)
