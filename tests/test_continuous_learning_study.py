"""Lesson 08's experiment helpers: the unseen pool, thresholds chosen on drift-free validation streams, the policy
study over seeds."""

import pytest
import torch

from dlopt_kit.continuous_learning import unused_training
from dlopt_kit.continuous_learning.monitors import Threshold
from dlopt_kit.continuous_learning.policies import Policy
from dlopt_kit.continuous_learning.stream import DriftSpec, make_stream
from dlopt_kit.continuous_learning.study import arm, calibrate, deployed, policy_study
from dlopt_kit.core.config import RunConfig

BASE = RunConfig(model="mlp", hidden=32, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")


def test_the_unused_pool_leaves_out_the_budgets_training_images(tiny):
    x, y = unused_training("fashion_mnist", 30)
    assert len(y) == 50_000 - 300 and torch.bincount(y).tolist() == [4970] * 10
    seen = {row.numpy().tobytes() for row in tiny.x_train}
    assert not any(row.numpy().tobytes() in seen for row in x[:3000])
    stream = make_stream((x[:1000], y[:1000]), DriftSpec("none"), batches=3, batch_size=100, replace=False)
    served = torch.cat([b[0] for b in stream.batches]).flatten(1)
    assert len({r.numpy().tobytes() for r in served}) == 300  # no image twice
    with pytest.raises(ValueError, match="the pool has run out of class"):
        make_stream((x[:50], y[:50]), DriftSpec("none"), batches=10, batch_size=20, replace=False)


def test_calibrated_thresholds_sit_above_every_drift_free_value(tiny):
    model = deployed(BASE, tiny, (0,))[0]
    level = calibrate(model, tiny, "input_ks", batches=8, batch_size=20, streams=2, factor=1.0)
    assert 0 < level <= 1
    with pytest.raises(ValueError, match="signal='loss' is not allowed"):
        calibrate(model, tiny, "loss")


def test_policy_study_has_a_row_per_policy_and_seed_and_scores_old_data_on_test(tiny):
    models = deployed(BASE, tiny, (0, 1))
    pool = unused_training("fashion_mnist", 30)
    retrain = BASE.replace(epochs=1)
    policies = {"never": (Policy("never", config=retrain), None),
                "triggered": (Policy("triggered", cooldown=2, config=retrain),
                              lambda seed: Threshold("input_ks", 0.3))}
    table, frames = policy_study(models, tiny, DriftSpec("brightness", onset=4), policies, pool, batches=10,
                                 batch_size=20)
    assert len(table) == 4 and [len(f) for f in frames["never"]] == [10, 10]
    assert (arm(table, "never", "compute") == 0).all() and (arm(table, "triggered", "retrains") >= 1).all()
    assert arm(table, "never", "accuracy after").lt(arm(table, "never", "accuracy before")).all()
    with pytest.raises(ValueError, match="policy 'sometimes' is not in the table"):
        arm(table, "sometimes", "compute")
