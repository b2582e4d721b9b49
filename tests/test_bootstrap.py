"""The paired bootstrap over test examples and seeds, and ``summarize`` at the kept epoch."""

import numpy as np
import pandas as pd
import pytest
import torch

from dlopt_kit.core import kept_epochs
from dlopt_kit.core.bootstrap import (
    correct,
    example_bootstrap,
    example_losses,
    paired_bootstrap,
    seed_accuracy,
    seed_loss,
)
from dlopt_kit.core.compare import summarize


def scores(rate: float, n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(float)


def test_a_clear_gain_on_many_examples_has_an_interval_above_zero():
    better = {s: scores(0.90, 4000, s) for s in range(3)}
    over = {s: scores(0.80, 4000, 10 + s) for s in range(3)}
    result = paired_bootstrap(better, over, reps=500)
    assert 0.08 < result.mean < 0.12 and 0 < result.low < result.mean < result.high
    line = result.summary()
    assert "95% interval over test examples and seeds" in line and "4,000 examples x 3 seeds" in line


def test_a_one_point_gain_on_few_examples_is_within_the_sampling_error():
    over = {s: scores(0.80, 300, s) for s in range(3)}
    better = {s: np.where(np.arange(300) < 3, 1.0, over[s]) for s in range(3)}  # at most 3 more right of 300
    result = paired_bootstrap(better, over, reps=500)
    assert result.low <= 0 < result.mean, "seeds alone would call this gain certain: every seed gains"


def test_the_same_seed_gives_the_same_interval_and_bad_input_is_named():
    a, b = {0: scores(0.9, 100, 0)}, {0: scores(0.8, 100, 1)}
    assert paired_bootstrap(a, b, reps=200, seed=3) == paired_bootstrap(a, b, reps=200, seed=3)
    with pytest.raises(ValueError, match="same seeds in both arms"):
        paired_bootstrap(a, {1: b[0]})
    with pytest.raises(ValueError, match="reps=5 is out of range"):
        paired_bootstrap(a, b, reps=5)


def test_example_bootstrap_reads_the_kept_models():
    x = torch.eye(4).repeat(5, 1)
    y = torch.arange(4).repeat(5)
    right = torch.nn.Linear(4, 4)
    with torch.no_grad():
        right.weight.copy_(torch.eye(4)), right.bias.zero_()
    wrong = torch.nn.Linear(4, 4)
    with torch.no_grad():
        wrong.weight.copy_(torch.eye(4).roll(1, 0)), wrong.bias.zero_()
    assert correct(right, x, y).all() and not correct(wrong, x, y).any()
    models = {("a", 0): right, ("a", 1): right, ("b", 0): wrong, ("b", 1): wrong}
    result = example_bootstrap(models, "a", "b", x, y, reps=200)
    assert result.mean == 1.0 and result.low == 1.0
    with pytest.raises(ValueError, match="config 'c' has no kept models"):
        example_bootstrap(models, "c", "b", x, y)


def test_seed_accuracy_per_seed_carries_the_kept_epochs():
    x = torch.eye(4).repeat(5, 1)
    y = torch.arange(4).repeat(5)
    right = torch.nn.Linear(4, 4)
    with torch.no_grad():
        right.weight.copy_(torch.eye(4)), right.bias.zero_()
    half = torch.nn.Linear(4, 4)
    with torch.no_grad():  # right on classes 0 and 1, wrong on 2 and 3 (they score class 0)
        half.weight.copy_(torch.tensor([[1.0, 0, 1, 1], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])), half.bias.zero_()
    models = {("a", 0): right, ("a", 1): half}
    table = pd.DataFrame({"config": ["a"] * 4, "seed": [0, 0, 1, 1], "epoch": [1, 2, 1, 2],
                          "best_epoch": [2, 2, 1, 1], "val_acc": [0.5, 0.9, 0.6, 0.4]})
    accuracy = seed_accuracy(models, "a", x, y, table=table)
    assert accuracy.to_dict() == {0: 1.0, 1: 0.5} and accuracy.name == "a"
    epochs = kept_epochs.carried(accuracy)
    assert epochs is not None and epochs.kept == {0: 2, 1: 1} and epochs.budget == {0: 2, 1: 2}
    assert kept_epochs.carried(seed_accuracy(models, "a", x, y)) is None
    with pytest.raises(ValueError, match="config 'b' has no kept models: the models hold a"):
        seed_accuracy(models, "b", x, y)


def test_example_losses_and_seed_loss_are_the_cross_entropy_per_example_and_per_seed():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    y = torch.arange(50) % 4
    models = {("a", 0): torch.nn.Linear(4, 4), ("a", 1): torch.nn.Linear(4, 4)}
    losses = example_losses(models[("a", 0)], x, y)
    assert losses.shape == (50,)
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(models[("a", 0)](x), y, reduction="none").numpy()
    assert losses == pytest.approx(expected, rel=1e-5)
    table = pd.DataFrame({"config": ["a"] * 4, "seed": [0, 0, 1, 1], "epoch": [1, 2, 1, 2],
                          "best_epoch": [2, 2, 1, 1], "val_acc": [0.5, 0.9, 0.6, 0.4]})
    means = seed_loss(models, "a", x, y, table=table)
    assert means[0] == pytest.approx(float(losses.mean())) and means.name == "a"
    assert kept_epochs.carried(means).kept == {0: 2, 1: 1}
    with pytest.raises(ValueError, match="no kept models"):
        seed_loss(models, "b", x, y)


def test_summarize_at_the_kept_epoch():
    table = pd.DataFrame({"config": ["a"] * 4, "seed": [0, 0, 1, 1], "epoch": [1, 2, 1, 2], "best_epoch": [1, 1, 2, 2],
                          "val_acc": [0.9, 0.5, 0.6, 0.7]})
    assert summarize(table, "val_acc", at="best")["mean"].item() == pytest.approx(0.8)
    assert summarize(table, "val_acc")["mean"].item() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="at='first' is not allowed"):
        summarize(table, "val_acc", at="first")
