"""The class study's leaderboard: every participant's best config and score, and the study's progress, refreshed
live. Watch starts the refreshing, Stop ends it; names are shown as text (HTML in a name is escaped)."""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import partial
from typing import Any

import ipywidgets as W
import optuna
import pandas as pd

from dlopt_kit.classroom.study import StorageError, connect, join, leaderboard, progress, storage_url
from dlopt_kit.panels.base import RunStopPanel, control_grid


class LeaderboardPanel(RunStopPanel):
    """Watch the shared study ``study`` at ``url`` (default: ``DLOPT_STORAGE``), refreshing every ``every`` s.
    Watch is the Run button (``watch_button`` is ``run_button``)."""

    busy_text = None  # Watch while watching: nothing to say, the board is already refreshing

    def __init__(self, study: str = "class", url: str | None = None, every: float = 5.0,
                 title: str = "Class leaderboard") -> None:
        self.url = url
        self.study_box = W.Text(value=study, description="class study", style={"description_width": "initial"})
        self.every_box = W.FloatText(value=every, description="refresh every (s)",
                                     style={"description_width": "initial"})
        super().__init__("Watch")  # Watch, Stop, the status line and the refreshing thread
        self.watch_button = self.run_button
        self.progress, self.table = W.HTML(), W.HTML()
        self.board = pd.DataFrame()
        self.widget = W.VBox([W.HTML(f"<b>{html.escape(title)}</b>"), control_grid([self.study_box, self.every_box]),
                              W.HBox([self.watch_button, self.stop_button]), self.status, self.progress, self.table])

    def start(self) -> Callable[[], object] | None:
        """Join the study the box names and show it once; None (said in the status line) when a value is bad."""
        every = self.every_box.value
        try:
            if not 1 <= every <= 3600:
                raise ValueError(f"refresh every={every!r} s is out of range: allowed is 1 to 3600 seconds")
            study = join(connect(self.url or storage_url()), self.study_box.value.strip())
        except (ValueError, StorageError) as exc:  # a bad value: say so, keep the last board shown
            return self._not_started(exc, "Not watching")
        self.refresh(study)
        return partial(self._loop, study, every)

    def on_watch(self, _button: Any = None) -> None:
        """The Watch button (the Run button of ``RunStopPanel``)."""
        self.on_run()

    def on_stop(self, _button: Any = None) -> None:
        """Stop refreshing, wait for the thread (at most 10 s) and say so: the board keeps the last refresh."""
        super().on_stop()
        if self._thread is not None:
            self._thread.join(10)
        self.watch_button.disabled, self.stop_button.disabled = False, True
        self._say(f"Stopped watching {html.escape(self.study_box.value)}; the board shows the last refresh.", "orange")

    def refresh(self, study: optuna.Study) -> pd.DataFrame:
        """Read the study once and redraw the board; returns the leaderboard table."""
        counts = progress(study)
        self.board = leaderboard(study)
        done = counts["complete"] + counts["pruned"]
        best = ""
        if len(self.board) and pd.notna(self.board["best val_acc"].iloc[0]):
            top = self.board.iloc[0]
            best = f"; best {top['best val_acc']:.4f} by {html.escape(str(top['name']))}"
        self.progress.value = (f"{done} trials finished ({counts['complete']} complete, {counts['pruned']} pruned), "
                               f"{counts['running']} running, {counts['waiting']} waiting, {counts['fail']} failed"
                               f"{best}")
        self.table.value = self.board.to_html(index=False, escape=True, float_format="{:.4g}".format, na_rep="")
        self._say(f"Watching {html.escape(study.study_name)}: refreshed ({len(self.board)} participant(s)).", "green")
        return self.board

    def _loop(self, study: optuna.Study, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.refresh(study)
            except Exception as exc:  # noqa: BLE001 - a lost connection: say so, keep watching
                self._say(f"Refresh failed ({html.escape(type(exc).__name__)}); retrying.", "orange")

    def run(self, **values: Any) -> pd.DataFrame | None:
        """Set ``study`` / ``every`` and click Watch (a headless click); returns the board, None when refused."""
        unknown = set(values) - {"study", "every"}
        if unknown:
            raise ValueError(f"control {sorted(unknown)[0]!r} does not exist; allowed: study, every")
        if "study" in values:
            self.study_box.value = values["study"]
        if "every" in values:
            self.every_box.value = values["every"]
        self.watch_button.click()
        return None if self.error else self.board
