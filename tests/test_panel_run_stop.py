"""The Run/Stop lifecycle every panel shares (``RunStopPanel``): Ctrl-C while ``wait()`` blocks presses Stop, waits
for the run to end and returns, and what the run had finished is kept; in all five panels."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from dlopt_kit.classroom.study import connect, create_shared
from dlopt_kit.core.config import RunConfig
from dlopt_kit.panels import LeaderboardPanel, RunStopPanel, SandboxPanel, StreamPanel, TrainingPanel, TuningPanel

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

BASE = RunConfig(model="mlp", hidden=32, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")


def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.05)
    assert condition(), "the run did not get going in time"


def interrupt_wait(panel: RunStopPanel) -> list:
    """Ctrl-C during ``panel.wait()``: the worker's first ``join`` raises KeyboardInterrupt, later ones join."""
    thread, calls = panel._thread, []
    real = thread.join

    def join(timeout: float | None = None) -> None:
        calls.append(timeout)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real(timeout)

    thread.join = join
    panel.wait()  # returns: the interrupt is handled by pressing Stop
    assert not panel.running and panel._stop.is_set() and len(calls) >= 2
    assert not panel.run_button.disabled and panel.stop_button.disabled
    return calls


def test_training_panel(tiny):
    panel = TrainingPanel(tiny, base=BASE.replace(epochs=200, batch_size=8))
    panel.run(wait=False)
    until(lambda: panel.progress.value >= 20)
    interrupt_wait(panel)
    result = panel.results[-1]
    assert result.stop_reason == "stopped by the user" and 1 <= len(result.history) < 200
    assert panel.results_frame().loc[0, "ended"] == "stopped by the user"


def test_tuning_panel(tiny):
    panel = TuningPanel(tiny, BASE, storage="memory")
    panel.run(method="tpe", trials=50, epochs=40, wait=False)
    until(lambda: any(t.state.name == "COMPLETE" for t in panel.study.trials))
    interrupt_wait(panel)
    assert "stopped by the user" in panel.status.value
    assert "complete" in set(panel.trials()["state"]) and len(panel.trials()) < 50


def test_stream_panel(tiny):
    panel = StreamPanel(tiny, BASE, batch_size=20)
    panel.run(wait=False, drift="rotation", policy="periodic", every=2, batches=3000)
    until(lambda: panel.progress.value >= 3)
    interrupt_wait(panel)
    assert panel.rows[-1]["ended"] == "stopped by the user" and 3 <= panel.rows[-1]["batches run"] < 3000
    assert len(panel.frames) == 1


def test_sandbox_panel(tmp_path):
    panel = SandboxPanel(BASE, store=tmp_path / "sandbox.sqlite")
    panel.run(wait=False, name="long", dataset="digits", train_per_class=20, model="mlp", hidden=32, epochs=500,
              seeds=2)
    until(lambda: panel.progress.value >= 3)
    interrupt_wait(panel)
    row = panel.results_frame().iloc[0]
    assert row["config"] == "long" and row["ended"] == "stopped by the user"
    assert len(panel.store.table(["long"])) >= 3  # the epochs run before Ctrl-C are kept


def test_leaderboard_panel(tmp_path):
    url = f"sqlite:///{tmp_path / 'class.db'}"
    create_shared(connect(url), "class", method="random", pruner="none")
    board = LeaderboardPanel("class", url=url, every=1)
    shown = board.run()
    assert shown is not None and board.running
    kept = board.table.value
    interrupt_wait(board)
    assert "Stopped watching class" in board.status.value and board.table.value == kept
