"""Shared studies on a real PostgreSQL server on loopback: workers as real processes (three at once, one killed,
one interrupted), bad input from the command line, and the leaderboard."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest

from dlopt_kit.classroom.study import (
    ENV,
    SETTINGS,
    StorageError,
    connect,
    create_shared,
    join,
    leaderboard,
    progress,
    redact,
    storage_url,
    study_names,
)

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def cli(*args: str, url: str | None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if url is not None:
        env[ENV] = url
    return subprocess.run([sys.executable, "-m", "dlopt_kit", "tune", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def worker(url: str, study: str, trials: int, name: str = "", heartbeat: int = 1) -> subprocess.Popen:
    env = {**os.environ, ENV: url}
    return subprocess.Popen([sys.executable, "-m", "dlopt_kit", "tune", "worker", "--study", study, "--trials",
                             str(trials), "--name", name, "--heartbeat", str(heartbeat)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def reported(output: str) -> dict[int, float | None]:
    """trial number -> value, from a worker's lines ``trial N: complete, val_acc X`` / ``trial N: pruned, ...``."""
    out = {}
    for number, state, value in re.findall(r"^trial (\d+): (complete|pruned), (?:val_acc ([\d.]+)|.*)$", output,
                                           re.M):
        assert int(number) not in out, f"trial {number} reported twice by one worker"
        out[int(number)] = float(value) if state == "complete" else None
    return out


def fresh_name() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_urls_are_checked_and_passwords_never_shown():
    assert redact("postgresql+psycopg://student:s3cret@10.0.0.5:5432/dlopt") == \
        "postgresql+psycopg://student:***@10.0.0.5:5432/dlopt"
    with pytest.raises(StorageError, match=f"{ENV} is not set: export {ENV}="):
        storage_url({})
    with pytest.raises(StorageError, match="scheme 'mysql', which is not supported") as info:
        connect("mysql://root:s3cret@db/x")
    assert "s3cret" not in str(info.value)
    with pytest.raises(StorageError, match="is not a database URL"):
        connect("s3cret-but-no-scheme")
    at = "postgresql+psycopg://student:s3cr@t-word@10.0.0.5:5432/dlopt"
    assert redact(at) == "postgresql+psycopg://student:***@10.0.0.5:5432/dlopt"
    with pytest.raises(StorageError, match="an '@' in the password must be written %40") as info:
        connect(at)
    assert "t-word" not in str(info.value) and "s3cr" not in str(info.value)
    assert redact("sqlite:///runs/a@b.db").endswith("b.db")  # a file name may hold an @


def test_bad_input_gives_one_line_and_creates_nothing(pg_server):
    url = pg_server.url()
    storage = connect(url)
    before = study_names(storage)
    wrong = url.replace(url.split(":")[2].split("@")[0], "not-the-password")
    unreachable = re.sub(r":\d+/", ":1/", url)
    cases = {"wrong password": (wrong, "refused user 'student': wrong password"),
             "unreachable": (unreachable, "cannot reach a database server at 127.0.0.1:1"),
             "scheme": ("mysql://student:x@127.0.0.1/dlopt", "scheme 'mysql', which is not supported"),
             "no such study": (url, "study 'nobody-made-this' does not exist there")}
    for case, (bad, message) in cases.items():
        done = cli("worker", "--study", "nobody-made-this", "--trials", "2", url=bad)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and message in lines[0], (case, done.stderr)
        assert "Traceback" not in done.stderr and "not-the-password" not in done.stderr + done.stdout
        assert pg_server._secrets()["student"] not in done.stderr + done.stdout
    done = cli("create", "--study", "half", "--method", "bayes", url=url)
    assert done.returncode == 2 and "method='bayes' is not allowed" in done.stderr
    assert study_names(storage) == before  # nothing half-created by any of them


def test_three_workers_record_every_trial_exactly_once(pg_server):
    url, name = pg_server.url(), fresh_name()
    assert cli("create", "--study", name, "--method", "tpe", "--pruner", "sha", url=url).returncode == 0
    workers = [worker(url, name, 12, name=f"w{i}") for i in range(3)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err[-2000:] for _, err in outputs]
    per_worker = [reported(out) for out, _ in outputs]
    study = join(connect(url), name)
    finished = {t.number: t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")}
    claimed = [n for r in per_worker for n in r]
    assert len(claimed) == len(set(claimed)), "a trial was run by two workers"
    assert set(claimed) == set(finished), "a finished trial is missing, or a reported one was not recorded"
    for r in per_worker:
        for number, value in r.items():
            if finished[number].state.name == "COMPLETE":
                assert value == pytest.approx(finished[number].value, abs=1e-4)
            else:
                assert value is None
    assert 12 <= len(finished) <= 12 + 2  # every worker stops once the study holds 12; at most 2 overshoot
    assert study.best_value == max(t.value for t in finished.values() if t.state.name == "COMPLETE")
    board = leaderboard(study)
    assert set(board["name"]) <= {"w0", "w1", "w2"} and board["finished"].sum() == len(finished)
    assert all(t.user_attrs["name"] in {"w0", "w1", "w2"} for t in finished.values())


def test_a_killed_worker_is_retried_and_the_study_resumes(pg_server):
    url, name = pg_server.url(), fresh_name()
    create_shared(connect(url), name, method="random", pruner="none", budget="medium")  # slow trials: a kill lands
    storage = connect(url)
    victim, other = worker(url, name, 6, name="victim"), worker(url, name, 6, name="other")
    host_pid = f":{victim.pid}"
    deadline, target = time.time() + 180, None
    while time.time() < deadline and target is None:
        running = optuna.load_study(study_name=name, storage=storage).get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        target = next((t for t in running if t.user_attrs.get("worker", "").endswith(host_pid)), None)
        time.sleep(0.1)
    assert target is not None, "the victim never started a trial"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    out, err = other.communicate(timeout=300)
    assert other.returncode == 0, err[-2000:]
    resumed = subprocess.run([sys.executable, "-m", "dlopt_kit", "tune", "worker", "--study", name, "--trials", "8",
                              "--heartbeat", "1"], capture_output=True, text=True, env={**os.environ, ENV: url},
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    study = join(connect(url), name)
    killed = next(t for t in study.trials if t.number == target.number)
    assert killed.state.name == "FAIL"  # its heartbeat went stale: marked failed by a live worker
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert retries and retries[0].params == killed.params
    assert progress(study)["complete"] >= 8 and progress(study)["running"] == 0


def test_sigterm_ends_a_worker_cleanly_and_queues_its_trial_again(pg_server):
    url, name = pg_server.url(), fresh_name()
    create_shared(connect(url), name, method="random", pruner="none", budget="medium")
    storage = connect(url)
    proc = worker(url, name, 50)
    deadline = time.time() + 180
    while time.time() < deadline and not optuna.load_study(study_name=name, storage=storage).get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and not err, err
    study = optuna.load_study(study_name=name, storage=storage)
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    waiting = [t for t in study.trials if t.state.name == "WAITING"]
    assert len(failed) == 1 and len(waiting) == 1 and waiting[0].system_attrs["fixed_params"] == failed[0].params
    assert waiting[0].user_attrs["retry_of"] == failed[0].number
    assert out.strip().splitlines()[-1].startswith(
        f"worker stopped by SIGTERM: trial {failed[0].number} stopped and queued again for another worker")


def test_ctrl_c_under_a_pruner_stops_the_worker_and_adds_no_junk_trial(pg_server):
    url, name = pg_server.url(), fresh_name()
    create_shared(connect(url), name, method="random", pruner="sha", budget="medium")
    storage = connect(url)

    def finished() -> list:
        return optuna.load_study(study_name=name, storage=storage).get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))

    proc = worker(url, name, 200)
    deadline = time.time() + 240
    while time.time() < deadline and len(finished()) < 2:  # the pruner has had its say on a few trials
        time.sleep(0.1)
    at_signal = len(finished())
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and not err, err  # no traceback, no Optuna warning
    study = optuna.load_study(study_name=name, storage=storage)
    assert at_signal <= len(finished()) <= at_signal + 1  # no trial after Ctrl-C recorded as pruned or finished
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert len(failed) == 1 and failed[0].user_attrs["stop_reason"] == "stopped by the user"
    waiting = [t for t in study.trials if t.state.name == "WAITING"]
    assert len(waiting) == 1 and waiting[0].user_attrs["retry_of"] == failed[0].number
    lines = out.strip().splitlines()
    assert lines[-1].startswith(f"worker stopped by SIGINT: trial {failed[0].number} stopped and queued again")
    assert all(line.startswith(("device:", "worker joined", "trial ")) for line in lines[:-1]), out


def test_create_keeps_settings_and_refuses_to_change_them(pg_server):
    storage, name = connect(pg_server.url()), fresh_name()
    study = create_shared(storage, name, method="grid", pruner="none")
    assert study.user_attrs[SETTINGS] == {"method": "grid", "pruner": "none", "budget": "small"}
    assert create_shared(storage, name, method="grid", pruner="none").study_name == name  # idempotent
    with pytest.raises(StorageError, match="exists with other settings"):
        create_shared(storage, name, method="tpe")
    optuna.create_study(study_name=name + "-plain", storage=storage)
    with pytest.raises(StorageError, match="was not created by dlopt_kit"):
        join(storage, name + "-plain")


def test_the_dashboard_command_serves_the_shared_study(pg_server):
    import json
    import urllib.request

    from dlopt_kit.classroom.server import free_port

    url, name, port = pg_server.url(), fresh_name(), free_port()
    create_shared(connect(url), name)
    proc = subprocess.Popen([sys.executable, "-m", "dlopt_kit", "tune", "dashboard", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, ENV: url})
    try:
        deadline, studies = time.time() + 90, None
        while time.time() < deadline and studies is None and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as response:
                    studies = json.load(response)["study_summaries"]
            except OSError:
                time.sleep(0.5)
        assert studies is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert name in {s["study_name"] for s in studies}
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert pg_server._secrets()["student"] not in out + err


def test_a_server_restart_mid_study_is_survived_by_the_worker(pg_server):
    import threading

    from dlopt_kit.hyperparameter_tuning.search import fail_stale

    url, name = pg_server.url(), fresh_name()
    create_shared(connect(url), name, method="random", pruner="none", budget="medium")
    storage = connect(url)
    proc = subprocess.Popen([sys.executable, "-m", "dlopt_kit", "tune", "worker", "--study", name, "--trials", "4",
                             "--heartbeat", "1", "--retry-for", "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, ENV: url})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()

    def wait_for(ready, what: str, seconds: float = 240) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline and not ready():
            time.sleep(0.1)
        assert ready(), f"timed out waiting for {what}: {lines}"

    wait_for(lambda: any(line.startswith("trial ") for line in lines), "a first trial")
    wait_for(lambda: optuna.load_study(study_name=name, storage=storage).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)), "a trial to be running")
    pg_server.stop()
    try:
        wait_for(lambda: any(line.startswith("lost the database server") for line in lines), "the worker to notice")
    finally:
        pg_server.start()
    proc.wait(timeout=300)
    reader.join(10)
    err = proc.stderr.read()
    assert proc.returncode == 0 and not err, err[-3000:]
    assert "the database server is back: carrying on\n" in lines and lines[-1].startswith("worker done"), lines
    study = optuna.load_study(study_name=name, storage=connect(url, heartbeat=1))
    assert progress(study)["complete"] >= 4
    deadline = time.time() + 60  # the trial the restart cut short: failed once its heartbeat is stale, and redone
    while time.time() < deadline and progress(study)["running"]:
        fail_stale(study)
        time.sleep(0.5)
    lost = [t for t in study.trials if t.state.name == "FAIL"]
    assert progress(study)["running"] == 0 and lost
    assert all(any(t.system_attrs.get("failed_trial") == f.number or t.user_attrs.get("retry_of") == f.number
                   for t in study.trials) for f in lost)
