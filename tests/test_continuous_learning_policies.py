"""Lesson 08's retraining policies: when each retrains, what it trains on, the compute it counts, model versions
and rollback."""

import pytest
import torch

from dlopt_kit.continuous_learning.monitors import Threshold
from dlopt_kit.continuous_learning.policies import ModelRegistry, Policy, _retrain_data, serve
from dlopt_kit.continuous_learning.stream import DriftSpec, make_stream
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import evaluate, fit

RETRAIN = RunConfig(model="mlp", hidden=32, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")


@pytest.fixture(scope="module")
def served(tiny):
    model = fit(RETRAIN, tiny, progress=False).model
    stream = make_stream(tiny, DriftSpec("brightness", onset=6), batches=12, batch_size=20, seed=0, delay=1)
    return model, stream


def test_never_keeps_the_first_model_and_spends_nothing(tiny, served):
    model, stream = served
    frame, registry = serve(model, stream, tiny, Policy("never", config=RETRAIN))
    assert frame["compute"].iloc[-1] == 0 and not frame["retrained"].any() and len(registry.versions) == 1
    assert frame.loc[:5, "accuracy"].mean() > frame.loc[6:, "accuracy"].mean()  # the drift hurts the old model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    serve(model, stream, tiny, Policy("periodic", every=4, config=RETRAIN))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # serves a copy


def test_periodic_retrains_on_schedule_with_the_labels_known_and_counts_compute(tiny, served):
    model, stream = served
    frame, registry = serve(model, stream, tiny, Policy("periodic", every=4, config=RETRAIN))
    assert frame.index[frame["retrained"]].tolist() == [3, 7, 11]
    shifted, _ = serve(model, stream, tiny, Policy("periodic", every=4, offset=2, config=RETRAIN))
    assert shifted.index[shifted["retrained"]].tolist() == [1, 5, 9]  # the same timer, two batches earlier
    with pytest.raises(ValueError, match="offset=4 is out of range: allowed is 0 to 3"):
        Policy("periodic", every=4, offset=4)
    assert frame["version"].tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    assert registry.table().loc[1, "batch"] == 3 and "old_val_acc" in registry.table()
    # at batch 3 the labels of batches 0-2 are known (delay 1): 2 train, 1 validates; 2 epochs at most
    assert 0 < frame.loc[3, "compute"] <= 2 * 20 * RETRAIN.epochs
    assert frame["compute"].is_monotonic_increasing


def test_replay_mixes_the_original_training_data_into_each_retrain(tiny, served):
    _, stream = served
    plain = _retrain_data(stream, [0, 1, 2], tiny, replay=0.0, seed=0)
    mixed = _retrain_data(stream, [0, 1, 2], tiny, replay=0.5, seed=0)
    assert len(plain.y_train) == 40 and len(mixed.y_train) == 80
    one = _retrain_data(stream, [4], tiny, replay=0.0, seed=0)  # one batch: half trains, half validates
    assert len(one.y_train) == len(one.y_val) == 10
    assert torch.equal(mixed.x_val, stream.batches[2][0])  # the newest labelled batch picks the epoch


def test_triggered_retrains_on_alarms_after_a_cooldown_and_needs_a_monitor(tiny, served):
    model, stream = served
    monitor = Threshold("input_ks", 0.5)
    frame, _ = serve(model, stream, tiny, Policy("triggered", cooldown=3, config=RETRAIN), monitor)
    retrains = frame.index[frame["retrained"]].tolist()
    assert retrains and retrains[0] >= 6 and not frame.loc[:5, "alarm"].any()
    assert all(b - a > 3 for a, b in zip(retrains, retrains[1:], strict=False))
    with pytest.raises(ValueError, match="kind='triggered' needs a monitor"):
        serve(model, stream, tiny, Policy("triggered"))
    with pytest.raises(ValueError, match="replay=0.95"):
        Policy(replay=0.95)


def test_triggered_learns_from_the_batches_served_from_the_alarm_on(tiny, served):
    model, stream = served
    waits = Policy("triggered", cooldown=3, after_alarm=2, config=RETRAIN)
    frame, registry = serve(model, stream, tiny, waits, Threshold("input_ks", 0.5))
    alarm = int(frame.index[frame["alarm"]][0])
    first = registry.table().loc[1]
    # labels come one batch late: batches alarm and alarm + 1 are both labelled at alarm + 2
    assert (first["batch"], first["first_batch"], first["last_batch"]) == (alarm + 2, alarm, alarm + 1)
    assert not frame.loc[:alarm + 1, "retrained"].any()
    frame, registry = serve(model, stream, tiny, Policy("triggered", cooldown=3, after_alarm=0, config=RETRAIN),
                            Threshold("input_ks", 0.5))
    first = registry.table().loc[1]  # at the alarm, on the newest labelled batches: from before it
    assert first["batch"] == alarm and first["last_batch"] == alarm - 1
    with pytest.raises(ValueError, match="after_alarm=6 is out of range: allowed is 0 to 5"):
        Policy(after_alarm=6)


def test_rollback_serves_an_earlier_version_again(tiny, served):
    model, stream = served
    frame, registry = serve(model, stream, tiny, Policy("periodic", every=4, config=RETRAIN))
    first = registry.rollback(fit(RETRAIN.replace(seed=5), tiny, progress=False).model, 0)
    assert evaluate(first, tiny.x_val, tiny.y_val)[1] == pytest.approx(registry.versions[0].metrics["old_val_acc"])
    with pytest.raises(ValueError, match="version=9 does not exist: choose 0 to 3"):
        registry.rollback(first, 9)
    assert ModelRegistry().versions == []
