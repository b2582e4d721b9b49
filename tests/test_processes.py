"""Independent runs in worker processes give the numbers of one process, in the order of the tasks."""

import pytest
import torch

from dlopt_kit.core import processes
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.processes import jobs, run_tasks
from dlopt_kit.core.training import fit


def _train(config: RunConfig, data) -> list[float]:
    result = fit(config, data, progress=False)
    return [float(v) for v in result.history.to_frame()["val_loss"]] + [torch.get_num_threads()]


def test_workers_give_the_numbers_of_one_process_in_task_order(tiny):
    config = RunConfig(model="mlp", hidden=16, epochs=2, batch_size=64, lr=3e-3)
    tasks = [(config.replace(seed=seed), tiny) for seed in (3, 1, 2)]
    alone = run_tasks(_train, tasks, workers=1)
    together = run_tasks(_train, tasks, workers=2)
    assert together == alone  # bitwise: every run seeds itself, every worker uses the caller's thread count
    assert alone[0] != alone[1]  # and the tasks did differ


def test_jobs_reads_the_environment_and_names_a_bad_value(monkeypatch):
    monkeypatch.setenv(processes.JOBS_ENV, "3")
    assert jobs() == 3
    monkeypatch.setenv(processes.JOBS_ENV, "none")
    with pytest.raises(ValueError, match="DLOPT_JOBS='none' must be a whole number of at least 1"):
        jobs()
    monkeypatch.delenv(processes.JOBS_ENV)
    assert jobs() >= 1


def test_compare_in_parallel_gives_the_table_of_one_process(tiny):
    from dlopt_kit.core.compare import compare

    configs = {"slow": RunConfig(model="mlp", hidden=16, epochs=2, lr=1e-3), "fast": RunConfig(model="mlp", hidden=16,
                                                                                               epochs=2, lr=1e-2)}
    one = compare(configs, tiny, seeds=(0, 1), progress=False)
    models = {}
    many = compare(configs, tiny, seeds=(0, 1), progress=False, parallel=True, models=models)
    columns = [c for c in one.columns if c != "seconds"]  # wall-clock time is the one column that may differ
    assert one[columns].equals(many[columns]) and set(models) == {(k, s) for k in configs for s in (0, 1)}


def test_fit_quietly_is_fit_without_a_progress_bar_and_runs_in_a_worker(tiny, capsys):
    from dlopt_kit.core.training import fit_quietly

    config = RunConfig(model="mlp", hidden=16, epochs=2, batch_size=64, lr=3e-3, seed=4)
    quiet = fit_quietly(config, tiny)
    assert capsys.readouterr().err == ""  # no progress bar
    loud = fit(config, tiny, progress=False)
    assert torch.equal(quiet.model[1].weight, loud.model[1].weight)
    (in_worker,) = run_tasks(fit_quietly, [(config, tiny), (config.replace(seed=5), tiny)], workers=2)[:1]
    assert torch.equal(in_worker.model[1].weight, loud.model[1].weight)
