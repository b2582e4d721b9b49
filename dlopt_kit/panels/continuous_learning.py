"""Lesson 08's dashboard: a drifting stream plays live under a retraining policy; alarms and retrains appear as they
happen, and a table keeps every run so that policies compare side by side.

The stream is drawn without repeats from ``pool`` (images no model has seen, ``stream_pool``) when one is
given, else from the validation split with repeats; never from the test split. The deployed model is trained once
per seed on the training split, before the first batch. Retrains use the experiment's settings (3 epochs, batches
of 64, a cooldown of 4 batches after a triggered retrain).
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import ipywidgets as W
import pandas as pd
import torch
from matplotlib.figure import Figure

from dlopt_kit.continuous_learning.monitors import Detector, Threshold
from dlopt_kit.continuous_learning.policies import POLICIES, Policy, serve
from dlopt_kit.continuous_learning.stream import DRIFTS, SPEEDS, DriftSpec, make_stream
from dlopt_kit.core import checks
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.plots import figure_png
from dlopt_kit.core.training import fit
from dlopt_kit.panels.base import Control, PanelControls, RunStopPanel, build_control, control_grid

MONITORS = ("input_ks", "prediction_psi", "confidence", "adwin on correct")


def make_monitor(name: str, threshold: float) -> Threshold | Detector:
    """The monitor the panel's ``monitor`` and ``threshold`` controls name (``confidence`` alarms below it)."""
    checks.choice("monitor", name, MONITORS)
    if name == "adwin on correct":
        return Detector("adwin", "correct")
    threshold = checks.number("threshold", threshold, 0.0, 10.0)
    return Threshold(name, threshold, below=name == "confidence")


class StreamPanel(PanelControls, RunStopPanel):
    """Run/Stop dashboard over ``policies.serve``: drift kind and speed, policy, monitor and its threshold (unused by
    ``adwin on correct``, which has none), retrain interval, replay share, the share of batches whose labels come
    back and how many batches late, stream length and seed. The drift starts a third of the way in and a gradual one
    ramps over a sixth of the stream; one seed per run. ``run(**values)`` does from code what choosing and clicking
    Run does."""

    def __init__(self, data: Splits, base: RunConfig, batch_size: int = 100, delay: int = 1,
                 pool: tuple[torch.Tensor, torch.Tensor] | None = None, threshold: float = 0.4,
                 title: str = "Lesson 08: a drifting stream, a monitor and a retraining policy") -> None:
        self.data, self.base, self.batch_size, self.pool = data, base, batch_size, pool
        self.spec = [Control("drift", "choice", "brightness", DRIFTS), Control("speed", "choice", "gradual", SPEEDS),
                     Control("policy", "choice", "triggered", POLICIES),
                     Control("monitor", "choice", "prediction_psi", MONITORS),
                     Control("threshold", "float", threshold),
                     Control("every", "int", 5, label="retrain every"), Control("replay", "float", 0.0),
                     Control("labelled", "float", 1.0, label="labelled share"),
                     Control("delay", "int", delay, label="label delay"),
                     Control("batches", "int", 40), Control("seed", "int", 0)]
        self.controls = {c.name: build_control(c) for c in self.spec}
        super().__init__()  # Run, Stop, the status line and the worker thread
        self.progress = W.IntProgress(value=0, min=0, max=1, description="idle")
        self.table = W.HTML()
        self.plot = W.Image(format="png", layout=W.Layout(max_width="640px", display="none"))
        self.frames: list[pd.DataFrame] = []
        self.rows: list[dict[str, Any]] = []
        self._models: dict[int, Any] = {}
        self.widget = W.VBox([W.HTML(f"<b>{html.escape(title)}</b>"), control_grid(list(self.controls.values())),
                              W.HBox([self.run_button, self.stop_button, self.progress]), self.status, self.plot,
                              self.table])

    def settings(self, values: dict[str, Any]) -> tuple[DriftSpec, Policy, Any, int, int]:
        """The drift, policy, monitor, batches and seed the values name (ValueError naming a bad one)."""
        checks.number("labelled", values["labelled"], 0.0, 1.0)
        checks.whole("delay", values["delay"], 0, 100)
        batches = checks.whole("batches", values["batches"], 2, 10_000)
        seed = checks.whole("seed", values["seed"], 0, 2**32 - 1)
        spec = DriftSpec(values["drift"], onset=batches // 3, speed=values["speed"], ramp=max(1, batches // 6))
        policy = Policy(values["policy"], every=values["every"], cooldown=4, replay=values["replay"],
                        config=self.base.replace(epochs=3, batch_size=64, monitor="val_acc"))
        monitor = make_monitor(values["monitor"], values["threshold"])
        return spec, policy, monitor, batches, seed

    # ------------------------------------------------------------ Run
    def start(self) -> Callable[[], object] | None:
        """The stream the controls describe, or None (said in the status line) when a setting is bad."""
        values = self.values()
        try:
            settings = self.settings(values)
        except ValueError as exc:  # a bad setting: say so, keep every earlier run
            return self._not_started(exc)
        self.progress.max, self.progress.value, self.progress.description = settings[3], 0, "streaming"
        self._say(f"Run {len(self.rows) + 1}: streaming {settings[3]} batches…", "black")
        return partial(self._serve, values, settings)

    def run(self, wait: bool = True, **values: Any) -> pd.DataFrame | None:
        """Set controls, click Run and (by default) wait; returns the run's per-batch frame (None if refused)."""
        before = len(self.frames)
        if not self._press_run(wait, values):
            return None
        return self.frames[-1] if len(self.frames) > before else None

    # ------------------------------------------------------------ the worker thread
    def _model(self, seed: int) -> Any:
        if seed not in self._models:
            self._models[seed] = fit(self.base.replace(seed=seed), self.data, progress=False).model
        return self._models[seed]

    def _serve(self, values: dict[str, Any], settings: tuple) -> None:
        spec, policy, monitor, batches, seed = settings
        started = time.perf_counter()
        # a failure is shown by RunStopPanel ("Run failed: ..."); earlier runs stay
        source = self.pool if self.pool is not None else self.data
        stream = make_stream(source, spec, batches, self.batch_size, seed, delay=values["delay"],
                             labelled=values["labelled"], split="val", replace=self.pool is None)
        model = self._model(seed)
        so_far: list[dict] = []

        def on_batch(t: int, row: dict) -> bool:
            so_far.append(row)
            self.progress.value = t + 1
            if t % 3 == 2 or t == batches - 1:
                self.plot.value = figure_png(live_plot(pd.DataFrame(so_far), stream.drift_point, batches))
                self.plot.layout.display = None
            return self._stop.is_set()

        frame, registry = serve(model, stream, self.data, policy, monitor, seed, on_batch)
        self.frames.append(frame)
        drifted = frame[frame["severity"] > 0]
        after = float(drifted["accuracy"].mean()) if len(drifted) else math.nan
        ended = frame.attrs["ended"]
        self.rows.append({"run": len(self.frames), **values, "batches run": len(frame),
                          "accuracy after drift": after, "alarms": int(frame["alarm"].sum()),
                          "false alarms": int(frame["alarm"][frame["severity"] == 0].sum()),
                          "retrains": int(frame["retrained"].sum()), "compute": int(frame["compute"].iloc[-1]),
                          "old data val_acc": registry.versions[-1].metrics["old_val_acc"],
                          "seconds": round(time.perf_counter() - started, 1), "ended": ended})
        self.table.value = self.results_frame().to_html(index=False, float_format="{:.3f}".format, na_rep="")
        shown = "no drifted batch yet" if math.isnan(after) else f"accuracy after the drift {after:.3f}"
        self._say(f"Run {len(self.frames)}: {ended}; {shown}, "
                  f"{self.rows[-1]['retrains']} retrain(s), compute {self.rows[-1]['compute']} examples.", "green")

    def on_done(self) -> None:
        self.progress.value, self.progress.description = self.progress.max, "idle"

    def results_frame(self) -> pd.DataFrame:
        """Every finished run, one row each (its stream drawn from the pool the panel was given, else from the
        validation split)."""
        return pd.DataFrame(self.rows)


def live_plot(frame: pd.DataFrame, drift_point: int | None, batches: int) -> Figure:
    """Accuracy per batch so far, the drift's start, alarms (ticks at the bottom) and retrains (dots)."""
    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.subplots()
    ax.plot(frame["batch"], frame["accuracy"], lw=1.2, color="tab:blue", label="accuracy")
    retrains = frame[frame["retrained"]]
    ax.scatter(retrains["batch"], retrains["accuracy"], color="tab:green", s=18, zorder=3, label="retrained")
    alarms = frame[frame["alarm"]]
    ax.scatter(alarms["batch"], [0.03] * len(alarms), marker="|", color="crimson", s=80, label="alarm")
    if drift_point is not None:
        ax.axvline(drift_point, color="black", ls="--", lw=1, label="drift starts")
    ax.set_xlim(0, min(batches, max(20, int(len(frame) * 1.25))))
    ax.set_ylim(0, 1)
    ax.set_xlabel("batch of the stream")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, ncol=4, loc="lower right")
    fig.tight_layout()
    return fig

