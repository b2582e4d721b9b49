import subprocess
import sys

import pytest
import torch

import dlopt_kit.core.data as data
from dlopt_kit import setup
from dlopt_kit.bench import loop as bench
from dlopt_kit.bench import main as bench_main
from dlopt_kit.cli import doctor
from dlopt_kit.cli import main as cli
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import fit


def test_doctor_reports_versions_device_budget_and_data(capsys):
    assert doctor.main() == 0
    out = capsys.readouterr().out
    for expected in ("torch", "ipywidgets", "device", "cpu threads", "budget", "fashion_mnist: ready", "all good"):
        assert expected in out


def test_doctor_fails_with_a_fix_when_data_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "ROOT", tmp_path)
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "dataset fashion_mnist is missing: run `make setup`" in out


def test_doctor_as_a_module():
    done = subprocess.run([sys.executable, "-m", "dlopt_kit", "doctor"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "budget" in done.stdout


def test_prepare_command_is_quick_when_ready(capsys):
    assert cli(["prepare", "--offline"]) == 0
    out = capsys.readouterr().out
    assert sum(f"{name}: ready" in out for name in data.STORED) == len(data.STORED)
    assert "lesson 03 ImageNet features: ready (1257/270/270 images)" in out  # read from the store, not recomputed


def test_setup_prints_one_line(capsys, monkeypatch):
    monkeypatch.setenv("DLOPT_BUDGET", "small")
    session = setup("digits")
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and line.startswith("device: ") and "budget: small" in line and "digits" in line
    assert session.data.name == "digits" and session.budget.name == "small"


def test_hand_written_loop_and_fit_give_bitwise_equal_weights(tiny):
    """What the overhead benchmark relies on: the kit's loop does exactly the hand-written loop's arithmetic."""
    config = RunConfig(model="cnn", epochs=2, batch_size=16, seed=3)
    kit = fit(config, tiny, device=torch.device("cpu"), progress=False, restore_best=False).model
    hand = bench.hand_written_fit(config, tiny, torch.device("cpu"))
    assert bench.same_weights(kit, hand)


def test_bench_cli_rejects_an_unknown_benchmark():
    with pytest.raises(SystemExit):
        bench_main(["speed"])


def test_doctor_treats_lab_and_nbval_as_optional(monkeypatch):
    real = doctor.md.version

    def version(name):
        if name in ("jupyterlab", "ipywidgets"):
            raise doctor.md.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(doctor.md, "version", version)
    lines, problems = doctor.check()
    assert "jupyterlab    not installed (only `make lab` needs it)" in lines
    assert problems == ["ipywidgets is not installed: run `make setup` (or pip install -r requirements.txt)"]


def test_setup_few_shot_uses_the_budget_few_shot_sizes(capsys, monkeypatch):
    monkeypatch.setenv("DLOPT_BUDGET", "small")
    session = setup("fashion_mnist", few_shot=True)
    budget = session.budget
    assert torch.bincount(session.data.y_train).tolist() == [budget.few_shot_per_class] * 10
    assert len(session.data.y_val) == 300 and len(session.data.y_test) == 10 * budget.few_shot_eval_per_class
    assert "600/300/1000" in capsys.readouterr().out


def test_doctor_advises_an_installed_kit_with_its_own_commands(monkeypatch):
    from dlopt_kit.core import paths

    assert "make setup" in doctor.advice()["install"]  # this checkout
    monkeypatch.setattr(paths, "checkout", lambda: None)
    fix = doctor.advice()
    assert "dlopt-kit[course]" in fix["install"] and "dlopt-kit prepare" in fix["prepare"]
    assert "make" not in " ".join(fix.values())
