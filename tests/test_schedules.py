"""Learning-rate schedules: the spec refuses what PyTorch would misuse, the curves have their documented shapes, and
``fit`` uses exactly the lr ``lr_curve`` previews."""

import json

import numpy as np
import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.schedules import KINDS, PARAMS, Schedule, lr_curve
from dlopt_kit.core.training import fit


def test_onecycle_peaks_at_pct_start_and_starts_and_ends_where_its_factors_say():
    curve = lr_curve(Schedule("onecycle", pct_start=0.25, div_factor=10, final_div_factor=100), 0.5, 4, 50)
    assert int(np.argmax(curve)) == round(0.25 * 200) - 1 and curve.max() == pytest.approx(0.5)
    assert curve[0] == pytest.approx(0.05) and curve[-1] == pytest.approx(0.05 / 100, rel=1e-3)
    assert np.all(np.diff(curve[:49]) > 0) and np.all(np.diff(curve[49:]) < 0)


@pytest.mark.parametrize("mode", ["triangular", "triangular2"])
def test_cyclic_repeats_with_its_period_between_base_and_peak(mode):
    curve = lr_curve(Schedule("cyclic", mode=mode, cycle_epochs=2, base_factor=0.2), 1.0, 6, 10)  # period 20 steps
    assert curve[0] == pytest.approx(0.2) and curve[10] == pytest.approx(1.0) and curve[20] == pytest.approx(0.2)
    peaks = curve[10::20]
    if mode == "triangular":
        assert np.allclose(curve[:20], curve[20:40]) and np.allclose(peaks, 1.0)
    else:  # each cycle's height above the base is half the one before
        assert np.allclose(peaks - 0.2, [0.8, 0.4, 0.2])


def test_cosine_warms_up_linearly_then_ends_at_its_minimum():
    curve = lr_curve(Schedule("cosine", warmup_epochs=1, min_factor=0.1), 0.2, 5, 10)
    assert np.allclose(np.diff(curve[:10]), np.diff(curve[:10])[0])  # linear ramp
    assert curve[10] == pytest.approx(0.2) and curve.max() == pytest.approx(0.2)
    assert curve[-1] == pytest.approx(0.02) and np.all(np.diff(curve[10:]) < 0)


def test_step_and_exponential_change_once_per_epoch():
    step = lr_curve(Schedule("step", step_size=2, gamma=0.5), 1.0, 5, 4)
    assert step.tolist() == [1.0] * 8 + [0.5] * 8 + [0.25] * 4
    exp = lr_curve(Schedule("exponential", gamma=0.5), 1.0, 3, 4)
    assert exp.tolist() == [1.0] * 4 + [0.5] * 4 + [0.25] * 4
    assert lr_curve("constant", 0.3, 2, 3).tolist() == [0.3] * 6


@pytest.mark.parametrize("kind", KINDS)
def test_fit_uses_the_lr_the_preview_shows(tiny, kind):
    config = RunConfig(model="mlp", optimizer="sgd", lr=0.05, epochs=3, batch_size=64, schedule=kind)
    result = fit(config, tiny, progress=False)
    steps = -(-len(tiny.y_train) // 64)
    assert np.allclose(result.steps["lr"], lr_curve(kind, 0.05, 3, steps))
    assert result.history[:, "lr"] == result.steps.groupby("epoch")["lr"].last().tolist()  # the epoch's last step


def test_schedule_spec_is_validated_comparable_and_parsed():
    assert Schedule("cosine") == Schedule("cosine", warmup_epochs=1.0, min_factor=0.0)
    assert hash(Schedule("step", gamma=0.5)) == hash(Schedule.parse({"kind": "step", "gamma": 0.5}))
    assert RunConfig(schedule="onecycle").schedule == Schedule("onecycle")
    assert Schedule("step").replace(gamma=0.1).params == {"step_size": 3, "gamma": 0.1}
    assert repr(Schedule("cyclic", mode="triangular2")) == "cyclic(mode=triangular2, cycle_epochs=2, base_factor=0.1)"
    assert all(kind in Schedule.help() for kind in KINDS)
    with pytest.raises(AttributeError):
        Schedule("step").kind = "cosine"
    config = RunConfig(schedule=Schedule("cyclic", mode="triangular2"))
    plain = config.to_dict()["schedule"]
    assert json.dumps(plain) and RunConfig(schedule=plain).schedule == config.schedule


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Schedule("cosin"), "schedule='cosin' is not allowed: choose one of constant, step"),
    (lambda: Schedule("step", warmup_epochs=1), "unknown parameter(s) for the step schedule warmup_epochs: allowed "
                                                "are step_size, gamma"),
    (lambda: Schedule("onecycle", pct_start=1.0), "schedule onecycle pct_start=1.0 is out of range: allowed is "
                                                  "(0, 1) (fraction of the run spent raising the lr to its peak)"),
    (lambda: Schedule("step", step_size=1.5), "schedule step step_size=1.5 must be a whole number from 1 to 1000"),
    (lambda: Schedule("cyclic", mode="triangle"), "schedule cyclic mode='triangle' is not allowed: choose one of "
                                                  "triangular, triangular2"),
    (lambda: RunConfig(schedule={"kind": "exponential", "gamma": 0}), "schedule={'kind': 'exponential', 'gamma': 0}"
                                                                      " is not allowed: schedule exponential gamma=0"),
    (lambda: RunConfig(schedule=3), "schedule=3 must be a Schedule, a kind"),
    (lambda: lr_curve("cosine", 0.1, 0, 10), "epochs=0 is out of range"),
])
def test_bad_schedules_name_the_parameter_and_what_is_allowed(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_every_parameter_has_a_default_inside_its_range():
    for kind, params in PARAMS.items():
        assert Schedule(kind).params == {name: spec[0] for name, spec in params.items()}
