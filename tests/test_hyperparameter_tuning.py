"""Hyperparameter search on Optuna: the space, the objective, samplers, pruners, stored studies, Stop, resuming
after a killed worker process, and training threads restored after a sampler that changes them."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import optuna
import pytest
import torch

from dlopt_kit.core.config import RunConfig
from dlopt_kit.hyperparameter_tuning.search import (
    Objective,
    SearchSpace,
    best_config,
    best_found,
    epochs_spent,
    fail_stale,
    finished,
    make_pruner,
    make_sampler,
    make_storage,
    open_study,
    repeat_search,
    run_study,
    storage_url,
    trials_table,
)

BASE = RunConfig(model="mlp", hidden=16, optimizer="sgd", batch_size=32, epochs=3)
SPACE = SearchSpace({"lr": ("log", 1e-3, 0.3), "weight_decay": ("log", 1e-6, 1e-3)})


def test_space_checks_every_dimension():
    with pytest.raises(ValueError, match="'learning_rate' is not a RunConfig field"):
        SearchSpace({"learning_rate": ("log", 1e-3, 1)})
    with pytest.raises(ValueError, match="kind='logarithmic' is not allowed: choose one of"):
        SearchSpace({"lr": ("logarithmic", 1e-3, 1)})
    with pytest.raises(ValueError, match="low=1 must be below high=0.001"):
        SearchSpace({"lr": ("log", 1, 1e-3)})
    with pytest.raises(ValueError, match="low=0 must be above 0 on a log scale"):
        SearchSpace({"weight_decay": ("log", 0, 1e-3)})
    with pytest.raises(ValueError, match="batch_size=0 is out of range"):
        SearchSpace({"batch_size": ("choice", [0, 32])})
    with pytest.raises(ValueError, match="lr=50.0 is out of range"):
        SearchSpace({"lr": ("float", 0.1, 50)})
    space = SearchSpace({"lr": ("log", 1e-3, 1e-1), "epochs": ("int", 2, 6), "model": ("choice", ["mlp", "cnn"])})
    grid = space.grid(3)
    assert grid == {"lr": [0.002154, 0.01, 0.04642], "epochs": [3, 4, 5], "model": ["mlp", "cnn"]}  # cell centres


def test_unknown_method_and_pruner_are_named():
    with pytest.raises(ValueError, match="method='bayes' is not allowed: choose one of grid, random, qmc, tpe, gp"):
        make_sampler("bayes", SPACE)
    with pytest.raises(ValueError, match="pruner='asha' is not allowed: choose one of none, median, sha, hyperband"):
        make_pruner("asha", 6)
    for name in ("grid", "random", "qmc", "tpe", "gp"):
        assert isinstance(make_sampler(name, SPACE), optuna.samplers.BaseSampler)


def test_objective_reports_every_epoch_and_returns_the_best_val_acc(tiny):
    study = open_study("t", "random", SPACE, storage="memory")
    run_study(study, Objective(BASE, tiny, SPACE), 2)
    for t in study.trials:
        assert sorted(t.intermediate_values) == [1, 2, 3] and t.user_attrs["epochs"] == 3
        assert t.value == max(t.intermediate_values.values())
        assert t.intermediate_values[t.user_attrs["best_epoch"]] == t.value
    table = trials_table(study)
    assert table["epochs_so_far"].tolist() == [3, 6] and table["best_so_far"].iloc[-1] == table["value"].max()


def test_a_diverged_trial_is_an_outcome_kept_in_its_stop_reason_not_a_warning(tiny):
    """A search samples lrs that diverge: the trial ends with its best value and says why in ``stop_reason`` (the
    trials table, the worker's line), without a RuntimeWarning per trial on stderr."""
    import warnings

    study = open_study("t", "random", SearchSpace({"lr": ("log", 5.0, 10.0)}), storage="memory")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_study(study, Objective(BASE, tiny,
                                   SearchSpace({"lr": ("log", 5.0, 10.0)})), 1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.COMPLETE, trial.state
    assert trial.user_attrs["stop_reason"].startswith("diverged: the training loss"), trial.user_attrs


def test_grid_visits_every_point_once_and_stops(tiny):
    study = open_study("g", "grid", SPACE, storage="memory", grid_points=2)
    ran = run_study(study, Objective(BASE.replace(epochs=1), tiny, SPACE), 10)
    assert ran == 4 and finished(study) == 4
    lrs, wds = SPACE.grid(2)["lr"], SPACE.grid(2)["weight_decay"]
    assert sorted((t.params["lr"], t.params["weight_decay"]) for t in study.trials) == [
        (lr, wd) for lr in lrs for wd in wds]


def test_pruning_stops_weak_trials_early_and_counts_their_epochs(tiny):
    table = repeat_search(BASE.replace(epochs=9), tiny, SearchSpace({"lr": ("log", 1e-4, 0.5)}), "random", 12,
                          search_seeds=(0,), pruner="sha", progress=False)
    pruned = table[table["state"] == "pruned"]
    assert (pruned["epochs"] < 9).sum() >= 3 and pruned["value"].isna().all()
    assert (table.loc[table["state"] == "complete", "epochs"] == 9).all()
    assert epochs_spent(table).iloc[0] == table["epochs"].sum() < 12 * 9


def test_cache_replays_runs_with_the_same_numbers(tiny, monkeypatch):
    cache: dict = {}
    first = repeat_search(BASE, tiny, SPACE, "random", 3, search_seeds=(0,), cache=cache, progress=False)
    import dlopt_kit.hyperparameter_tuning.search as tuning

    monkeypatch.setattr(tuning, "fit", lambda *a, **k: pytest.fail("a cached config was trained again"))
    again = repeat_search(BASE, tiny, SPACE, "random", 3, search_seeds=(0,), cache=cache, progress=False)
    assert again["value"].tolist() == first["value"].tolist() and (again["epochs"] == 3).all()
    assert best_found(again).iloc[0] == first["value"].max()


def test_stop_ends_the_study_and_keeps_finished_trials(tiny, tmp_path):
    stop = threading.Event()

    def press_stop(trial, record):
        if trial.number == 1 and record["epoch"] == 1:
            stop.set()

    study = open_study("s", "random", SPACE, storage=storage_url("s", tmp_path))
    objective = Objective(BASE.replace(epochs=50), tiny, SPACE, stop=stop, on_epoch=press_stop)
    objective.base = objective.base.replace(epochs=2)
    run_study(study, objective, 5)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    assert study.trials[1].user_attrs["stop_reason"] == "stopped by the user" and "pruned_at" not in \
        study.trials[1].user_attrs and study.trials[2].user_attrs["retry_of"] == 1  # queued again, never pruned
    stop.clear()  # Run again: the study resumes, the stopped trial first, and only the missing trials run
    again = open_study("s", "random", SPACE, storage=storage_url("s", tmp_path))
    assert run_study(again, Objective(BASE.replace(epochs=2), tiny, SPACE), 3) == 2 and finished(again) == 3
    assert again.trials[0].value == study.trials[0].value and again.trials[2].params == study.trials[1].params


def test_training_threads_are_restored_after_the_gp_sampler(tiny):
    seen = []
    torch.set_num_threads(2)
    study = optuna.create_study(direction="maximize", sampler=make_sampler("gp", SPACE, startup=2))
    objective = Objective(BASE.replace(epochs=1), tiny, SPACE, on_epoch=lambda t, r: seen.append(
        torch.get_num_threads()))
    run_study(study, objective, 5)
    assert seen == [2] * 5 and torch.get_num_threads() == 2


def test_study_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match="study name='../x' is not allowed"):
        storage_url("../x", tmp_path)
    assert storage_url("lesson-04", tmp_path).endswith("lesson-04.db")


WORKER = """
import sys, torch
torch.set_num_threads(1)
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import load_splits
from dlopt_kit.hyperparameter_tuning.search import Objective, SearchSpace, make_storage, open_study, run_study
space = SearchSpace({"lr": ("log", 1e-3, 0.3)})
data = load_splits("fashion_mnist", train_per_class=30, eval_per_class=10)
study = open_study("killed", "random", space, storage=make_storage(sys.argv[1], heartbeat=1, grace=2))
run_study(study, Objective(RunConfig(model="mlp", hidden=16, optimizer="sgd", batch_size=32, epochs=60), data,
                           space), 6)
"""


def _wait_for(read, ready, what: str, seconds: float = 300):
    """Poll ``read()`` until ``ready(value)``; fail naming ``what`` after ``seconds`` (a bound, never the wait)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            value = read()
        except KeyError:  # the study is not created yet
            value = None
        if value is not None and ready(value):
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_a_killed_worker_loses_no_finished_trial_and_the_study_resumes(tiny, tmp_path):
    url = storage_url("killed", tmp_path)
    worker = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WORKER), url], env=os.environ.copy())
    storage = make_storage(url, heartbeat=1, grace=2)

    def trials():
        return optuna.load_study(study_name="killed", storage=storage).get_trials(deepcopy=False)

    try:  # kill only once one trial has finished and the next is running with its parameters drawn
        _wait_for(trials, lambda ts: [t.state.name for t in ts][:2] == ["COMPLETE", "RUNNING"] and "lr" in ts[1].params,
                  "the worker's second trial to start with its parameters")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        worker.kill()
    before = trials()  # read after the kill: what the dead worker left behind
    done = {t.number: t.value for t in before if t.state.name == "COMPLETE"}
    killed = next(t for t in before if t.state.name == "RUNNING")
    study = open_study("killed", "random", SearchSpace({"lr": ("log", 1e-3, 0.3)}),
                       storage=make_storage(url, heartbeat=1, grace=2))

    def failed_by_heartbeat():  # its heartbeat goes stale after the grace period (or it never wrote one, when the
        fail_stale(study)       # kill came before its first): the check marks it failed
        return study.get_trials(deepcopy=False)[killed.number]

    _wait_for(failed_by_heartbeat, lambda t: t.state.name == "FAIL", "the killed trial to be marked failed")
    run_study(study, Objective(BASE.replace(epochs=2), tiny, SearchSpace({"lr": ("log", 1e-3, 0.3)})), 3)
    after = study.get_trials(deepcopy=False)
    assert {t.number: t.value for t in after if t.number in done} == done  # nothing finished was lost
    retried = [t for t in after if t.system_attrs.get("failed_trial") == killed.number]
    assert retried and retried[0].params == killed.params and retried[0].state.name == "COMPLETE"
    assert finished(study) == 3


def test_a_trial_that_never_wrote_a_heartbeat_is_failed_and_queued_again(tmp_path):
    storage = make_storage(storage_url("silent", tmp_path), heartbeat=1, grace=1)
    study = open_study("silent", "random", SPACE, storage=storage)
    lost = study.ask()  # drawn, then its worker died before the first heartbeat: Optuna alone never fails it
    lost.suggest_float("lr", 1e-3, 0.3, log=True)
    assert optuna.storages.RDBStorage._get_stale_trial_ids(storage, study._study_id) == []
    _wait_for(lambda: fail_stale(study), lambda failed: failed == [lost.number], "the silent trial to be failed")
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert states == ["FAIL", "WAITING"] and study.trials[1].params == {"lr": lost.params["lr"]}


def test_a_resumed_study_must_keep_its_space_and_bad_ranges_are_refused(tmp_path):
    url = storage_url("spaced", tmp_path)
    open_study("spaced", "random", SPACE, storage=url)
    assert open_study("spaced", "random", SPACE, storage=url).user_attrs["search_space"]  # same space: resumes
    other = SearchSpace({"lr": ("log", 1e-4, 1e-1)})
    with pytest.raises(ValueError, match=r"study 'spaced' in .*spaced.db was searched over .* not .*: resuming it "
                                         "would mix the two spaces"):
        open_study("spaced", "random", other, storage=url)
    with pytest.raises(ValueError, match=r"an int range needs whole-number ends, e.g. \('int', 1, 2\)"):
        SearchSpace({"epochs": ("int", 1.5, 1.9)})
    with pytest.raises(ValueError, match="epochs=0 is out of range"):
        make_pruner("hyperband", epochs=0)


def test_a_damaged_study_file_an_empty_study_and_a_negative_seed_get_one_line(tmp_path):
    damaged = tmp_path / "broken.db"
    damaged.write_bytes(b"this is not an SQLite file at all" * 40)
    with pytest.raises(ValueError, match=f"the study file {damaged} cannot be read .*delete it to start the study "
                                         "again"):
        open_study("broken", "random", SPACE, storage=f"sqlite:///{damaged}")
    empty = open_study("empty", "random", SPACE, storage="memory")
    with pytest.raises(ValueError, match="the study has no completed trial yet"):
        best_config(empty, BASE, SPACE)
    with pytest.raises(ValueError, match="seed=-1 is out of range"):
        open_study("neg", "random", SPACE, storage="memory", seed=-1)


def test_best_config_takes_the_best_validation_trial(tiny):
    study = open_study("b", "random", SPACE, storage="memory")
    run_study(study, Objective(BASE, tiny, SPACE), 3)
    best = best_config(study, BASE, SPACE)
    assert best.lr == study.best_trial.params["lr"] and best.weight_decay == study.best_trial.params["weight_decay"]
