"""Lesson 08's pool (``stream_pool``): training images no deployed model trains on, at every budget."""

from __future__ import annotations

import pytest
import torch

from dlopt_kit.continuous_learning import stream_pool, unused_training
from dlopt_kit.core.data import load_splits


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x.flatten(1)}


def test_a_budget_that_leaves_images_out_keeps_todays_pool() -> None:
    data = load_splits("fashion_mnist", 30, 10)
    trained, (x, y) = stream_pool(data, 30, per_class=100)
    expected = unused_training("fashion_mnist", 30)
    assert trained is data
    assert torch.equal(x, expected[0]) and torch.equal(y, expected[1])


def test_a_budget_that_uses_the_whole_split_holds_a_pool_out() -> None:
    data = load_splits("mnist5k")  # the whole training split, as `full` loads it
    assert len(unused_training("mnist5k", None)[1]) == 0
    trained, (x, y) = stream_pool(data, None, per_class=50)
    assert torch.bincount(y, minlength=10).tolist() == [50] * 10
    assert len(trained.y_train) == len(data.y_train) - 500
    assert not rows(x) & rows(trained.x_train)  # the deployed models never train on the pool
    assert not rows(x) & (rows(data.x_val) | rows(data.x_test))
    assert torch.equal(trained.x_val, data.x_val) and torch.equal(trained.x_test, data.x_test)
    again = stream_pool(data, None, per_class=50)[1]
    assert torch.equal(again[0], x)  # seeded: the same pool every time


def test_a_pool_larger_than_a_class_is_refused() -> None:
    with pytest.raises(ValueError, match="too few images"):
        stream_pool(load_splits("mnist5k"), None, per_class=10_000)
