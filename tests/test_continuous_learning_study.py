"""Lesson 08's experiment helpers: the unseen pool, thresholds chosen on drift-free validation streams, the policy
study over seeds."""

import pandas as pd
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


def test_plot_compute_joins_the_timers_and_marks_the_other_policies():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from dlopt_kit.continuous_learning import plot_compute

    rows = [{"policy": p, "seed": s, "accuracy after": acc + 0.01 * s, "compute": c}
            for p, acc, c in (("never", 0.2, 0), ("every 10", 0.6, 600), ("every 5", 0.7, 1200),
                              ("triggered", 0.65, 300)) for s in (0, 1)]
    ax = plot_compute(pd.DataFrame(rows), timers=("every 5", "every 10"), colors={"triggered": "red"})
    (line,) = ax.get_lines()[:1]
    assert list(line.get_xdata()) == [600, 1200] and list(line.get_ydata()) == pytest.approx([0.605, 0.705])
    assert sorted(t.get_text() for t in ax.texts) == ["every 10", "every 5", "never", "triggered"]
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["never", "triggered"] and matplotlib.colors.to_hex(handles[1][0].get_color()) == "#ff0000"


def test_equal_compute_checks_that_a_policy_spent_no_more_than_its_reference(capsys, monkeypatch):
    import pandas as pd

    from dlopt_kit.continuous_learning import equal_compute
    from dlopt_kit.core.dry_run import DRY_RUN_ENV

    table = pd.DataFrame([{"policy": p, "seed": s, "compute": c} for p, s, c in
                          (("triggered", 0, 2400), ("triggered", 1, 3600), ("timer", 0, 2400), ("timer", 1, 2400))])
    with pytest.raises(AssertionError, match=r"triggered spent more compute than timer in seed\(s\) \[1\]"):
        equal_compute(table, "triggered", "timer")
    spent = equal_compute(table, "timer", "triggered")
    assert spent.loc[1].tolist() == [2400, 3600] and "check (equal compute, not a claim)" in capsys.readouterr().out
    monkeypatch.setenv(DRY_RUN_ENV, "1")
    assert equal_compute(table, "triggered", "timer").loc[1, "triggered"] == 3600  # printed, not raised


def test_phase_mean_averages_a_timer_over_its_phases_seed_by_seed():
    import pandas as pd

    from dlopt_kit.continuous_learning import phase_mean

    arms = (("every 30 +0", 0.6), ("every 30 +10", 0.3), ("triggered", 0.7))
    table = pd.DataFrame([{"policy": p, "seed": s, "accuracy after": a + s, "compute": 2400}
                          for p, a in arms for s in (0, 1)])
    out = phase_mean(table, {"every 30": ["every 30 +0", "every 30 +10"]})
    assert len(out) == 8 and arm(out, "every 30", "accuracy after").round(3).to_dict() == {0: 0.45, 1: 1.45}
    assert arm(out, "every 30", "compute").tolist() == [2400, 2400]
    with pytest.raises(ValueError, match=r"groups\['x'\] must name policies of the table; \['nope'\] are not in it"):
        phase_mean(table, {"x": ["nope"]})


def test_policy_study_gives_the_same_numbers_in_two_workers_as_in_one(tiny, monkeypatch):
    models = deployed(BASE, tiny, (0, 1))
    pool = unused_training("fashion_mnist", 30)
    retrain = BASE.replace(epochs=1)
    policies = {"never": (Policy("never", config=retrain), None),
                "periodic": (Policy("periodic", every=3, config=retrain), None),
                "replay": (Policy("periodic", every=4, replay=0.5, config=retrain), None)}
    spec = DriftSpec("brightness", onset=4)
    tables = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("DLOPT_JOBS", workers)
        tables[workers], frames = policy_study(models, tiny, spec, policies, pool, batches=10, batch_size=20)
        assert list(frames) == list(policies) and all(len(f) == 2 for f in frames.values())
    assert list(tables["2"]["policy"]) == ["never", "periodic", "replay"] * 2
    pd.testing.assert_frame_equal(tables["1"], tables["2"])
    assert (arm(tables["2"], "periodic", "retrains") >= 2).all()
