"""Lesson 04's panel: run one Optuna study from the notebook, with a live best-so-far plot and a trials table.

Method, trial budget, the lr and weight-decay ranges, pruner and epochs are the knobs. The study is stored under
``runs/`` with a name made from those settings and the data, so Run with the same settings resumes it (and runs
only the missing trials), while changed settings or other data start a new one. Stop ends the study after the
current epoch: finished trials are kept, the interrupted one is marked failed. The table shows validation accuracy
only; a second table keeps one row per study run in the panel, to compare studies side by side. With "join class
study" ticked, Run adds ``trials`` trials to the class's shared study instead (its URL from the box or
``DLOPT_STORAGE``), each under "your name"; the class study's own method and pruner apply.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import optuna
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dlopt_kit.classroom.study import check_data, connect, join, objective_for, storage_url, work
from dlopt_kit.core.callbacks import StopReason
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.plots import figure_png
from dlopt_kit.hyperparameter_tuning.search import (
    LESSON04_SPACE,
    METHODS,
    PRUNERS,
    Objective,
    SearchSpace,
    finished,
    open_study,
    run_study,
    trials_table,
)
from dlopt_kit.panels.base import Control, PanelControls, RunStopPanel, build_control, control_grid

_LR, _WD = LESSON04_SPACE.params["lr"], LESSON04_SPACE.params["weight_decay"]
SPEC = (Control("method", "choice", "tpe", METHODS), Control("trials", "int", 9),
        Control("lr_low", "float", _LR.low, label="lr from"), Control("lr_high", "float", _LR.high, label="lr to"),
        Control("wd_low", "float", _WD.low, label="weight decay from"),
        Control("wd_high", "float", _WD.high, label="weight decay to"),
        Control("pruner", "choice", "none", PRUNERS), Control("epochs", "int", 6))


def plot_study(table: pd.DataFrame) -> Figure:
    """Each finished trial's validation accuracy and the best so far, over trials."""
    fig = Figure(figsize=(6, 2.8))
    ax = fig.subplots()
    done = table[table["state"] == "complete"]
    pruned = table[table["state"] == "pruned"]
    ax.scatter(done["trial"], done["value"], s=18, label="trial (completed)")
    if len(pruned):
        ax.scatter(pruned["trial"], pruned["last_report"], s=18, marker="x", color="grey",
                   label="trial (pruned: last report)")
    ax.step(table["trial"], table["best_so_far"], where="post", color="C3", label="best so far")
    ax.set(xlabel="trial", ylabel="validation accuracy", title="study progress")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def data_fingerprint(data: Splits) -> str:
    """The dataset's name, split sizes and a hash of its labels: a study trained on other data (another budget, another
    dataset) gets another name instead of being resumed."""
    labels = b"".join(t.cpu().numpy().tobytes() for t in (data.y_train, data.y_val, data.y_test))
    sizes = "/".join(str(len(t)) for t in (data.y_train, data.y_val, data.y_test))
    return f"{data.name}:{sizes}:{hashlib.sha1(labels).hexdigest()[:12]}"


class TuningPanel(PanelControls, RunStopPanel):
    """Run/Stop panel over one stored Optuna study (``runs/<name>.db``; ``storage="memory"`` keeps it in memory)."""

    busy_text = "A study is running: press Stop first."
    failed_text = "Study failed"

    def __init__(self, data: Splits, base: RunConfig, storage: str | None = None, prefix: str = "lesson04",
                 seed: int = 0, title: str = "Tune: one Optuna study") -> None:
        self.data, self.base, self.storage, self.prefix, self.seed = data, base, storage, prefix, seed
        self.spec = [c if c.name != "epochs" else Control("epochs", "int", base.epochs) for c in SPEC]
        self.controls = {c.name: build_control(c) for c in self.spec}
        super().__init__()  # Run, Stop, the status line and the worker thread
        self.progress = W.IntProgress(value=0, min=0, max=1, description="idle")
        self.plot = W.Image(format="png", layout=W.Layout(max_width="600px", display="none"))
        self.table = W.HTML()
        self.summary = W.HTML()  # one row per study this panel ran: compare runs across studies side by side
        self._studies: dict[str, dict[str, Any]] = {}
        self._current: dict[str, Any] = {}
        self.study: optuna.Study | None = None
        style = {"description_width": "initial"}
        self.class_controls = {
            "join": W.Checkbox(value=False, description="join class study", indent=False),
            "class_url": W.Password(description="class URL", placeholder="from your instructor (or DLOPT_STORAGE)",
                                    style=style),
            "your_name": W.Text(description="your name", placeholder="shown on the leaderboard", style=style),
            "class_study": W.Text(value="class", description="class study", style=style)}
        self.widget = W.VBox([W.HTML(f"<b>{html.escape(title)}</b>"), control_grid(list(self.controls.values())),
                              control_grid(list(self.class_controls.values())),
                              W.HBox([self.run_button, self.stop_button, self.progress]), self.status, self.plot,
                              self.summary, self.table])

    # ------------------------------------------------------------ settings
    def set_values(self, **values: Any) -> None:
        """Set the study's controls and the class-study boxes by name (ValueError naming a bad one)."""
        for name in values:
            if name not in self.controls and name not in self.class_controls:
                raise ValueError(f"control {name!r} does not exist; allowed: "
                                 f"{', '.join([*self.controls, *self.class_controls])}")
        joined = {n: values.pop(n) for n in [n for n in values if n in self.class_controls]}
        super().set_values(**values)  # first: a refused value changes no box
        for name, value in joined.items():
            self.class_controls[name].value = value

    def settings(self, values: dict[str, Any]) -> tuple[SearchSpace, RunConfig, str]:
        """The space, the base config and the study name for ``values`` (ValueError naming a bad one)."""
        trials = values["trials"]
        if not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials={trials!r} is out of range: allowed is a whole number, at least 1")
        base = self.base.replace(epochs=values["epochs"])
        space = SearchSpace({"lr": ("log", values["lr_low"], values["lr_high"]),
                             "weight_decay": ("log", values["wd_low"], values["wd_high"])})
        key = repr((values["method"], values["pruner"], space.to_dict(), base.to_dict(), self.seed,
                    data_fingerprint(self.data)))
        name = f"{self.prefix}-{values['method']}-{values['pruner']}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
        return space, base, name

    # ------------------------------------------------------------ Run
    def start(self) -> Callable[[], object] | None:
        """Open (or resume) the study the controls name, or join the class study; None when a setting is bad."""
        values = self.values()
        try:
            if self.class_controls["join"].value:
                study, runner = self._class_study(values["trials"])
                self._current = {"method": "class study", "pruner": "(the class's)"}
            else:
                space, base, name = self.settings(values)
                study = open_study(name, values["method"], space, values["pruner"], base.epochs, seed=self.seed,
                                   storage=self.storage)
                objective = Objective(base, self.data, space, stop=self._stop)
                runner = lambda after: run_study(study, objective, values["trials"], callbacks=[after])  # noqa: E731
                self._current = {"method": values["method"], "pruner": values["pruner"],
                                 "lr": f"{values['lr_low']:g} to {values['lr_high']:g}",
                                 "weight_decay": f"{values['wd_low']:g} to {values['wd_high']:g}",
                                 "epochs": base.epochs}
        except (ValueError, RuntimeError) as exc:  # a bad setting: say so, keep the table as it was
            return self._not_started(exc)
        self.study = study
        self.progress.max = values["trials"] + (finished(study) if self.class_controls["join"].value else 0)
        self.progress.value = finished(study)
        self.progress.description = "trials"
        resumed = f" (resumed: {finished(study)} finished before)" if finished(study) else ""
        self._say(f"Study {html.escape(study.study_name)}: running{resumed}…", "black")
        self._show(study)
        return lambda: self._search(study, runner)

    def _class_study(self, trials: Any) -> tuple[optuna.Study, Any]:
        """The class's shared study and a runner adding ``trials`` trials under this learner's name."""
        if not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials={trials!r} is out of range: allowed is a whole number, at least 1")
        name = self.class_controls["your_name"].value.strip()
        if len(name) > 40:
            raise ValueError(f"your name={name[:50]!r} is too long: at most 40 characters")
        url = self.class_controls["class_url"].value.strip() or storage_url()
        study = join(connect(url), self.class_controls["class_study"].value.strip())
        check_data(study, self.data)
        objective = objective_for(study, self.data, name, stop=self._stop)
        return study, lambda after: work(study, objective, add=trials, on_trial=lambda t: after(study, t))

    def run(self, wait: bool = True, **values: Any) -> pd.DataFrame | None:
        """Set controls, click Run and (by default) wait; returns the trials table (None when a value was refused)."""
        if not self._press_run(wait, values):
            return None
        return self.trials() if self.error is None else None

    # ------------------------------------------------------------ the worker thread
    def _search(self, study: optuna.Study, runner: Any) -> None:
        def after_trial(study: optuna.Study, _trial: Any) -> None:
            self.progress.value = min(finished(study), self.progress.max)
            self._show(study)

        # a failure is shown by RunStopPanel ("Study failed: ..."); finished trials stay in the study
        ran = runner(after_trial)
        self._show(study)
        stopped = self._stop.is_set()
        best = f"; best validation accuracy {study.best_value:.3f}" if finished(study) and any(
            t.state.name == "COMPLETE" for t in study.trials) else ""
        colour = "orange" if stopped else "green"
        ended = StopReason.STOPPED if stopped else StopReason.COMPLETED
        self._say(f"Study {html.escape(study.study_name)}: {ended}, {finished(study)} trial(s) finished "
                  f"({ran} run now){best}.", colour)

    def on_done(self) -> None:
        self.progress.description = "idle"

    def _show(self, study: optuna.Study) -> None:
        table = trials_table(study)
        if table.empty:
            return
        self.plot.value = figure_png(plot_study(table))
        self.plot.layout.display = None
        columns = [c for c in ("trial", "name", "state", "value", "lr", "weight_decay", "epochs", "stop_reason")
                   if c in table]
        shown = table[columns].rename(columns={"value": "val_acc"})
        self.table.value = shown.to_html(index=False, float_format="{:.4g}".format, na_rep="")
        lrs = table["lr"].round(8).nunique() if "lr" in table else 0
        self._studies[study.study_name] = {
            "study": study.study_name, **self._current, "trials": finished(study),
            "best val_acc": table["value"].max(), "distinct lr": lrs, "epochs spent": int(table["epochs"].sum())}
        self.summary.value = ("<b>Every study run in this panel</b>"
                              + self.studies().to_html(index=False, float_format="{:.4g}".format, na_rep=""))

    # ------------------------------------------------------------ results
    def studies(self) -> pd.DataFrame:
        """One row per study this panel ran (its settings, finished trials, best validation accuracy, distinct lrs,
        epochs spent), kept across Runs so that studies can be compared side by side."""
        return pd.DataFrame(list(self._studies.values()))

    def trials(self) -> pd.DataFrame:
        """The current study's trials table (validation accuracy only)."""
        return trials_table(self.study) if self.study is not None else pd.DataFrame()
