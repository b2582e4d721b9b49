import contextlib

import pytest
import torch

from dlopt_kit.core.budget import BUDGETS, get_budget
from dlopt_kit.core.device import (
    autocast,
    configure_threads,
    default_threads,
    device_name,
    get_device,
    seed_everything,
)


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (4, 3), (8, 7), (64, 8)])
def test_default_threads_leaves_a_core_free(cores, threads):
    assert default_threads(cores) == threads


def test_threads_env_override_and_bad_value(monkeypatch):
    monkeypatch.setenv("DLOPT_THREADS", "2")
    try:
        assert configure_threads() == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    monkeypatch.setenv("DLOPT_THREADS", "zero")
    with pytest.raises(ValueError, match="DLOPT_THREADS='zero'"):
        configure_threads()


def test_device_on_this_machine_and_override(monkeypatch):
    monkeypatch.delenv("DLOPT_DEVICE", raising=False)
    device = get_device()
    assert device.type in ("cpu", "cuda", "mps")
    monkeypatch.setenv("DLOPT_DEVICE", "cpu")
    assert get_device().type == "cpu"
    assert device_name(torch.device("cpu")).startswith("cpu (")
    monkeypatch.setenv("DLOPT_DEVICE", "tpu")
    with pytest.raises(ValueError, match="DLOPT_DEVICE='tpu'"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_override_without_gpu_is_explained(monkeypatch):
    monkeypatch.setenv("DLOPT_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        get_device()


def test_seed_everything_repeats_draws():
    seed_everything(3)
    a = torch.rand(5)
    seed_everything(3)
    assert torch.equal(a, torch.rand(5))
    assert torch.are_deterministic_algorithms_enabled()


def test_autocast_is_a_no_op_on_cpu():
    assert isinstance(autocast(torch.device("cpu")), contextlib.nullcontext)


def test_budget_defaults_env_and_bad_name(monkeypatch):
    monkeypatch.delenv("DLOPT_BUDGET", raising=False)
    assert get_budget(device=torch.device("cpu")).name == "small"
    assert get_budget(device=torch.device("cuda")).name == "full"
    monkeypatch.setenv("DLOPT_BUDGET", "medium")
    assert get_budget(device=torch.device("cpu")) is BUDGETS["medium"]
    assert get_budget("full").train_per_class is None
    with pytest.raises(ValueError, match="budget 'huge' is not allowed: choose one of small, medium, full"):
        get_budget("huge")
    assert "3 seeds" in BUDGETS["small"].describe()


def test_budget_describes_the_sizes_a_lesson_trains_with():
    from dlopt_kit.core.budget import BUDGETS

    assert BUDGETS["small"].describe() == "small (300/class, 6 epochs, 3 seeds)"
    few = BUDGETS["small"]
    assert few.describe(few_shot=True) == f"small (few-shot: {few.few_shot_per_class}/class, " \
                                          f"{few.few_shot_epochs} epochs, 3 seeds)"
