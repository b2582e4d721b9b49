"""``python -m dlopt_kit.bench workers``: one shared study on a PostgreSQL server on loopback, run by 1, 2 and 4
worker processes (``python -m dlopt_kit tune worker``), each time on a fresh study with the same trial budget.

Throughput is finished trials per minute while every worker is running trials (from the last worker's first
trial to the first worker's last), read from the study itself, so process start-up (importing torch, loading data)
and the stragglers at the end are not counted. Storage overhead is the share of
a trial's time spent outside training (the sampler, the pruner and every database write: reports, attributes,
heartbeats): the trial's duration in the database minus the training time the objective recorded.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import optuna

from dlopt_kit.classroom.server import INSTALL_HINT, PgServer, free_port, pg_bin
from dlopt_kit.classroom.study import ENV, connect, create_shared


def run_workers(url: str, study: str, workers: int, trials: int) -> tuple[float, float]:
    """Start ``workers`` worker processes on a fresh ``study``; returns (trials per minute, overhead share)."""
    storage = connect(url)
    create_shared(storage, study, method="random", pruner="none")
    env = {**os.environ, ENV: url, "DLOPT_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "dlopt_kit", "tune", "worker", "--study", study, "--trials",
                               str(trials), "--name", f"bench-{i}"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for i in range(workers)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"a worker failed: {err.strip().splitlines()[-1:]}")
    done = optuna.load_study(study_name=study, storage=storage).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    # the steady state: from the moment every worker had started its first trial to the moment the first one ended
    by_worker: dict[str, list] = {}
    for t in done:
        by_worker.setdefault(t.user_attrs["worker"], []).append(t)
    begin = max(min(t.datetime_start for t in ts) for ts in by_worker.values())
    end = min(max(t.datetime_complete for t in ts) for ts in by_worker.values())
    inside = [t for t in done if begin <= t.datetime_complete <= end]
    span = (end - begin).total_seconds()
    if span < 2 or len(inside) < 2 * workers:  # too short to measure: the whole run instead
        inside = done
        span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    wall = [(t.datetime_complete - t.datetime_start).total_seconds() for t in done]
    overhead = sum(w - t.user_attrs["seconds"] for w, t in zip(wall, done, strict=True)) / sum(wall)
    return len(inside) / span * 60, overhead


def workers(counts: tuple[int, ...] = (1, 2, 4), trials: int = 60, reps: int = 1) -> dict[int, tuple[float, float]]:
    """Trials per minute and storage overhead with each worker count (median over ``reps``)."""
    if pg_bin() is None:
        raise SystemExit(f"the workers benchmark needs PostgreSQL: {INSTALL_HINT}")
    folder = tempfile.mkdtemp(prefix="dlopt-bench-pg-")
    server = PgServer(folder, port=free_port()).start()
    out = {}
    try:
        for n in counts:
            runs = [run_workers(server.url(), f"bench-{n}-{r}", n, trials) for r in range(reps)]
            rate, overhead = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            out[n] = (rate, overhead)
            print(f"{n} worker(s): {rate:.1f} trials/min, storage and sampler overhead {overhead:.1%} of a trial")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return out
