"""``DLOPT_DRY_RUN``: the caps in ``fit`` and ``fit_many``, claims that print "dry run: not checked" and never raise,
the set-up line, and nothing changed when the switch is off."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from dlopt_kit import (
    RunConfig,
    assert_gain,
    assert_not_worse,
    assert_paired,
    assert_peak_inside,
    dry_run,
    evaluate,
    fit,
    get_budget,
    setup,
)
from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.parallel import fit_many
from dlopt_kit.hyperparameter_tuning.search import run_study


@pytest.fixture
def dry_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dry.DRY_RUN_ENV, "1")


@pytest.fixture
def dry_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dry.DRY_RUN_ENV, raising=False)


def test_switch_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in (("1", True), ("true", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv(dry.DRY_RUN_ENV, value)
        assert dry_run() is expected
    monkeypatch.delenv(dry.DRY_RUN_ENV)
    assert not dry_run()


def test_fit_is_capped(dry_on, small) -> None:
    config = RunConfig(model="mlp", lr=1e-3, batch_size=32, epochs=6)  # 1000 examples: 32 steps an epoch
    result = fit(config, small, progress=False)
    assert len(result.history) == dry.EPOCHS
    assert len(result.steps) == dry.EPOCHS * dry.STEPS
    assert result.steps.groupby("epoch").size().tolist() == [dry.STEPS] * dry.EPOCHS
    assert result.completed


def test_fit_many_is_capped(dry_on, small) -> None:
    configs = [RunConfig(model="mlp", lr=lr, batch_size=32, epochs=6) for lr in (1e-3, 3e-3)]
    results = fit_many(configs, small)
    assert [len(r.history) for r in results] == [dry.EPOCHS, dry.EPOCHS]


def test_fit_uncapped_without_the_switch(dry_off, tiny) -> None:
    result = fit(RunConfig(model="mlp", lr=1e-3, batch_size=32, epochs=3), tiny, progress=False)
    assert len(result.history) == 3
    assert len(result.steps) == 3 * -(-len(tiny.y_train) // 32)


def test_seeds_trials_and_evaluation_are_capped(dry_on, small) -> None:
    assert checks.seeds("seeds", (0, 1, 2, 3)) == [0, 1]
    assert get_budget("medium").seeds == (0, 1)
    assert get_budget("full").train_per_class is None  # the data are the budget's: only the work is capped
    model = fit(RunConfig(model="mlp", epochs=1), small, progress=False).model
    x = torch.cat([small.x_train] * 3)  # 3000 examples: only the first 2000 are read
    y = torch.cat([small.y_train] * 3)
    y[dry.EXAMPLES:] = (y[dry.EXAMPLES:] + 1) % small.num_classes  # wrong labels past the cap
    assert evaluate(model, x, y) == evaluate(model, x[:dry.EXAMPLES], y[:dry.EXAMPLES])

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    assert run_study(study, lambda trial: trial.suggest_float("x", 0, 1), 10) == dry.TRIALS


def test_nothing_capped_without_the_switch(dry_off) -> None:
    assert checks.seeds("seeds", (0, 1, 2, 3)) == [0, 1, 2, 3]
    assert get_budget("medium").seeds == (0, 1, 2)
    assert dry.head(torch.arange(5000))[0].shape == (5000,)
    assert dry.suffix() == ""


def failing_table() -> pd.DataFrame:
    """A compare-like table where ``b`` loses to ``a`` in every seed, and the accuracy peaks at an end."""
    rows = [{"config": c, "seed": s, "epoch": 1, "test_acc": acc + 0.01 * s}
            for c, acc in (("a", 0.9), ("b", 0.5), ("c", 0.4)) for s in (0, 1)]
    return pd.DataFrame(rows)


def test_claims_do_not_raise_in_a_dry_run(dry_on, capsys: pytest.CaptureFixture) -> None:
    table = failing_table()
    gain = assert_gain(table, better="b", over="a", margin=0.1)
    assert gain.mean < 0
    assert_paired({0: 0.1, 1: 0.2}, {0: 0.5, 1: 0.6}, margin=0.1)
    assert_not_worse({0: 0.1, 1: 0.2}, {0: 0.5, 1: 0.6}, tolerance=0.01)
    assert assert_peak_inside(table, "test_acc") == "a"
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert all(line.endswith("(dry run: not checked)") for line in lines), lines


def test_claims_still_raise_without_the_switch(dry_off, capsys: pytest.CaptureFixture) -> None:
    table = failing_table()
    with pytest.raises(AssertionError, match="does not hold"):
        assert_gain(table, better="b", over="a", margin=0.1)
    with pytest.raises(AssertionError, match="does not hold"):
        assert_not_worse({0: 0.1, 1: 0.2}, {0: 0.5, 1: 0.6}, tolerance=0.01)
    with pytest.raises(AssertionError, match="does not hold"):
        assert_peak_inside(table, "test_acc")
    assert "dry run" not in capsys.readouterr().out


def test_setup_line_says_dry_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv(dry.DRY_RUN_ENV, "1")
    session = setup(None, budget="full")
    line = capsys.readouterr().out.strip()
    assert line.endswith("| dry run: work capped, claims not checked"), line
    assert "full (all, 10 epochs, 2 seeds)" in line
    assert session.budget.seeds == (0, 1)
    monkeypatch.delenv(dry.DRY_RUN_ENV)
    setup(None, budget="small")
    assert "dry run" not in capsys.readouterr().out


def test_setup_line_names_data_that_comes_from_elsewhere(capsys: pytest.CaptureFixture) -> None:
    setup(None, budget="small", data_note="fashion_mnist from the recipes")
    line = capsys.readouterr().out.strip()
    assert line.endswith("| data: fashion_mnist from the recipes") and "\n" not in line
    setup(None, budget="small")
    assert capsys.readouterr().out.strip().endswith("| data: none")
