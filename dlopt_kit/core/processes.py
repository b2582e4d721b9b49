"""Independent runs in worker processes, so that a 2-core CPU trains two runs at once.

A training run here uses one thread (``device.default_threads``: all cores but one), so on a small CPU a second
core sits idle while a lesson trains its arms one after another. ``run_tasks(fn, tasks)`` calls ``fn(*task)`` for
every task in ``jobs()`` worker processes (joblib's loky backend, which scikit-learn uses; the workers are reused
from call to call) and returns the results in the order of the tasks. Each worker uses the caller's thread count,
and every run seeds itself, so the numbers are the same as in one process, whatever the number of workers (a test
checks it). On a GPU, in a dry run, or with ``DLOPT_JOBS=1`` the tasks run one after another in this process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

from dlopt_kit.core import dry_run as dry

JOBS_ENV = "DLOPT_JOBS"


def jobs() -> int:
    """Worker processes for independent runs: ``DLOPT_JOBS`` if set, else 1 on a GPU or in a dry run, else the CPU's
    cores divided by the threads one run uses."""
    raw = os.environ.get(JOBS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{JOBS_ENV}={raw!r} must be a whole number of at least 1")
        return int(raw)
    if torch.cuda.is_available() or dry.dry_run():
        return 1
    return max(1, (os.cpu_count() or 1) // max(1, torch.get_num_threads()))


def _call(fn: Callable[..., Any], threads: int, task: Sequence[Any]) -> Any:
    torch.set_num_threads(threads)
    return fn(*task)


def run_tasks(fn: Callable[..., Any], tasks: Sequence[Sequence[Any]], workers: int | None = None) -> list[Any]:
    """``[fn(*task) for task in tasks]``, computed in ``workers`` processes (default ``jobs()``); ``fn`` must be
    importable (a module-level function) and its arguments and result picklable."""
    workers = jobs() if workers is None else workers
    if workers <= 1 or len(tasks) <= 1:
        return [fn(*task) for task in tasks]
    from joblib import Parallel, delayed

    threads = torch.get_num_threads()
    return Parallel(n_jobs=min(workers, len(tasks)), backend="loky")(
        delayed(_call)(fn, threads, task) for task in tasks)
