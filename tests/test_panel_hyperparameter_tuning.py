"""Lesson 04's tuning panel, driven as a learner would: set values, click Run, Stop, a bad value, Run again."""

import time

import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.hyperparameter_tuning.search import STOPPED
from dlopt_kit.panels import TuningPanel

BASE = RunConfig(model="mlp", hidden=16, optimizer="sgd", batch_size=32)


def test_run_fills_the_table_and_plot_and_run_again_resumes(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("DLOPT_HOME", str(tmp_path))  # the study file goes to runs/ under the kit's home
    panel = TuningPanel(tiny, BASE)
    table = panel.run(method="random", trials=3, epochs=2)
    assert list(table["state"]) == ["complete"] * 3 and (table["epochs"] == 2).all()
    assert "3 trial(s) finished" in panel.status.value and panel.plot.value and "val_acc" in panel.table.value
    assert "test" not in panel.table.value
    assert list((tmp_path / "runs").glob("lesson04-random-none-*.db"))
    second = TuningPanel(tiny, BASE)  # a new session, same settings: resumes, runs only the missing trial
    again = second.run(method="random", trials=4, epochs=2)
    assert len(again) == 4 and again["value"].iloc[:3].tolist() == table["value"].tolist()
    assert "4 trial(s) finished (1 run now)" in second.status.value


def test_stop_keeps_finished_trials_and_a_bad_value_keeps_the_table(tiny):
    panel = TuningPanel(tiny, BASE, storage="memory")
    panel.run(method="tpe", trials=50, epochs=40, wait=False)
    deadline = time.time() + 60
    while time.time() < deadline and not any(t.state.name == "COMPLETE" for t in panel.study.trials):
        time.sleep(0.05)
    panel.stop_button.click()
    panel.wait(10)
    assert not panel.running and "stopped by the user" in panel.status.value
    table = panel.trials()
    assert "complete" in set(table["state"]) and list(table["state"].iloc[-2:]) == ["fail", "waiting"]
    before = panel.table.value
    assert panel.run(trials=0) is None and "trials=0 is out of range" in panel.status.value
    assert panel.run(trials=5, lr_low=-1.0) is None and "low=-1 must be above 0" in panel.status.value
    assert panel.table.value == before and not panel.running
    with pytest.raises(ValueError, match="control 'budget' does not exist"):
        panel.set_values(budget=3)


def test_stop_under_a_pruner_ends_the_study_and_queues_the_stopped_trial_again(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("DLOPT_HOME", str(tmp_path))  # a study on disk: Run again resumes it
    panel = TuningPanel(tiny, BASE)
    panel.run(method="random", pruner="sha", trials=60, epochs=9, wait=False)
    deadline = time.time() + 60
    while time.time() < deadline and len([t for t in panel.study.trials if t.state.name in ("COMPLETE", "PRUNED")]) < 2:
        time.sleep(0.05)
    at_stop = len([t for t in panel.study.trials if t.state.name in ("COMPLETE", "PRUNED")])
    panel.stop_button.click()
    panel.wait(30)
    assert not panel.running and "stopped by the user" in panel.status.value
    trials = panel.study.trials
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert at_stop <= len(finished) <= at_stop + 1  # nothing after Stop is recorded as a pruned or finished result
    stopped = [t for t in trials if t.state.name == "FAIL"]
    assert len(stopped) == 1 and stopped[0].user_attrs["stop_reason"] == STOPPED
    assert [t.state.name for t in trials[-2:]] == ["FAIL", "WAITING"] and trials[-1].user_attrs["retry_of"] == \
        stopped[0].number and trials[-1].system_attrs["fixed_params"] == stopped[0].params
    again = panel.run(trials=len(finished) + 1)  # Run again: the stopped trial is redone first, with its values
    redone = next(t for t in panel.study.trials if t.user_attrs.get("retry_of") == stopped[0].number)
    assert redone.state.name in ("COMPLETE", "PRUNED") and redone.params == stopped[0].params and len(again) >= 1


def test_other_data_starts_a_new_study_and_epochs_default_to_the_base(tiny, small, tmp_path, monkeypatch):
    monkeypatch.setenv("DLOPT_HOME", str(tmp_path))
    panel = TuningPanel(tiny, BASE.replace(epochs=2))
    assert panel.values()["epochs"] == 2
    panel.run(method="random", trials=2)
    other = TuningPanel(small, BASE.replace(epochs=2))  # same settings, another budget's data: not resumed
    assert other.settings(other.values())[2] != panel.settings(panel.values())[2]
    table = other.run(method="random", trials=2)
    assert len(table) == 2 and "resumed" not in other.status.value
    assert len(list((tmp_path / "runs").glob("lesson04-random-none-*.db"))) == 2


def test_the_summary_keeps_every_study_side_by_side(tiny):
    panel = TuningPanel(tiny, BASE, storage="memory")
    panel.run(method="grid", trials=4, epochs=1)
    panel.run(method="random", trials=4, epochs=1, pruner="sha")
    studies = panel.studies()
    assert list(studies["method"]) == ["grid", "random"] and list(studies["pruner"]) == ["none", "sha"]
    assert studies["distinct lr"].tolist()[1] == 4 and (studies["trials"] == 4).all()
    assert "Every study run in this panel" in panel.summary.value and "test" not in panel.summary.value
