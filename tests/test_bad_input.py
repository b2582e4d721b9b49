"""Bad input anywhere gets the kit's ValueError naming the argument and what is allowed, before any work is done;
values from NumPy, pandas or a widget are accepted wherever the plain Python value is. Property tests (hypothesis)
throw arbitrary values at the validated objects; regression tests pin each class of failure found by hand."""

import html
import json
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import ANYTHING

from dlopt_kit.core import checks
from dlopt_kit.core.augment import LIMITS, Augmenter, AugmentSpec
from dlopt_kit.core.callbacks import EarlyStopping
from dlopt_kit.core.compare import compare
from dlopt_kit.core.config import RunConfig, field_names
from dlopt_kit.core.data import Splits
from dlopt_kit.core.schedules import KINDS, PARAMS
from dlopt_kit.core.training import fit
from dlopt_kit.evaluation_metrics.metrics import best_threshold, report_from_probs, threshold_metrics
from dlopt_kit.panels.augmentation import AugmentGallery
from dlopt_kit.panels.training import Control, TrainingPanel, control_value

FAST = RunConfig(model="mlp", epochs=1, batch_size=32)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(name=st.sampled_from([n for n in field_names() if n not in ("augment", "schedule")]), value=ANYTHING)
def test_any_runconfig_value_constructs_or_names_the_field(name, value):
    try:
        config = RunConfig(**{name: value})
    except ValueError as exc:
        assert str(exc).startswith(f"{name}=")
    else:
        stored = getattr(config, name)
        assert type(stored) in (int, float, str, bool, type(None))  # plain Python values, never NumPy's


@PROPERTY
@given(kind=st.sampled_from([*KINDS, "cosin"]), name=st.sampled_from(sorted({n for p in PARAMS.values() for n in p})),
       value=ANYTHING)
def test_any_schedule_parameter_constructs_or_names_the_parameter(kind, name, value):
    try:
        config = RunConfig(schedule={"kind": kind, name: value})
    except ValueError as exc:
        assert str(exc).startswith("schedule={") and (kind in str(exc) or name in str(exc))
    else:
        assert name in PARAMS[kind] and config.schedule.params[name] == value


@PROPERTY
@given(name=st.sampled_from(list(LIMITS)), value=ANYTHING)
def test_any_augment_strength_constructs_or_names_the_transform(name, value):
    try:
        spec = AugmentSpec(**{name: value})
    except ValueError as exc:
        assert str(exc).startswith(f"augmentation {name}=") and LIMITS[name][1] in str(exc)
    else:
        assert 0.0 <= getattr(spec, name) <= LIMITS[name][0] and type(getattr(spec, name)) is float


@PROPERTY
@given(kind=st.sampled_from(["choice", "int", "float", "bool"]), value=ANYTHING)
def test_any_panel_value_is_held_or_refused_by_name(kind, value):
    control = Control("knob", kind, None, options=("a", "b"))
    try:
        held = control_value(control, value)
    except ValueError as exc:
        assert str(exc).startswith("knob=")
    else:
        assert type(held) in {"choice": (str,), "int": (int,), "float": (float,), "bool": (bool,)}[kind]


@PROPERTY
@given(y=st.lists(st.integers(-1, 3), max_size=12), p=st.lists(st.floats(allow_nan=True), max_size=12))
def test_any_binary_scores_give_a_report_or_a_value_error(y, p):
    try:
        report_from_probs(np.array(y, dtype=np.int64), np.array(p, dtype=np.float64))
    except ValueError:
        pass


@PROPERTY
@given(y=st.lists(st.integers(-1, 2), max_size=10), s=st.lists(st.floats(allow_nan=True), max_size=10),
       t=st.floats(allow_nan=True))
def test_any_threshold_input_gives_numbers_or_a_value_error(y, s, t):
    try:
        out = threshold_metrics(y, s, t)
    except ValueError:
        return
    assert 0.0 <= out["recall"] <= 1.0 and 0.0 <= out["precision"] <= 1.0


# ---------------------------------------------------------------- valid values refused (numpy, pandas, sliders)

def test_numpy_and_pandas_values_are_accepted(tiny):
    import pandas as pd

    config = RunConfig(seed=np.int64(3), lr=np.float32(0.01), epochs=np.int32(2), batch_norm=np.bool_(True))
    assert (config.seed, config.epochs, config.batch_norm) == (3, 2, True) and type(config.seed) is int
    assert config == RunConfig(seed=3, lr=float(np.float32(0.01)), epochs=2, batch_norm=True)
    assert AugmentSpec(rotate=np.float64(10)).rotate == 10.0
    assert checks.seeds("seeds", np.arange(3)) == [0, 1, 2]
    assert checks.seeds("seeds", pd.Series([4, 5])) == [4, 5]
    table = compare([FAST, FAST.replace(lr=np.float64(0.01))], tiny, seeds=np.arange(2), progress=False)
    assert sorted(table["seed"].unique()) == [0, 1]


# ---------------------------------------------------------------- library errors leaking

@pytest.mark.parametrize(("make", "message"), [
    (lambda: RunConfig(learning_rate=0.1), "unknown setting(s) learning_rate: allowed are model, optimizer, lr"),
    (lambda: AugmentSpec(blur=1), "unknown augmentation(s) blur: allowed are rotate"),
    (lambda: RunConfig().replace(lr_max=1), "unknown setting(s) lr_max"),
    (lambda: AugmentSpec.from_dict([("rotate", 1)]), "must be a dict"),
    (lambda: RunConfig(augment={"rotate": 15}), "must be an AugmentSpec"),
    (lambda: RunConfig(epochs=2.7), "epochs=2.7 must be a whole number from 1 to 1000"),
    (lambda: RunConfig(batch_norm=1), "batch_norm=1 must be True or False"),
    (lambda: EarlyStopping(min_delta=-0.1), "min_delta=-0.1 is out of range"),
    (lambda: EarlyStopping(min_delta=float("nan")), "min_delta=nan must be a number"),
    (lambda: EarlyStopping(patience=True), "patience=True must be a whole number"),
    (lambda: checks.seeds("seeds", (0, 0)), "repeats a seed"),
    (lambda: checks.seeds("seeds", 3), "must be a sequence of whole numbers"),
    (lambda: best_threshold([0, 0], [0.2, 0.4]), "at least one positive label"),
])
def test_bad_input_is_named_with_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=None) as info:
        make()
    assert message in str(info.value)


def test_wrong_containers_and_data_are_refused_before_training(tiny):
    with pytest.raises(ValueError, match="configs must be a list of RunConfig"):
        compare(FAST, tiny)
    with pytest.raises(ValueError, match=r"configs\[1\] must be a RunConfig"):
        compare([FAST, {"lr": 0.1}], tiny)
    with pytest.raises(ValueError, match="data must be a Splits"):
        fit(FAST, (tiny.x_train, tiny.y_train))
    with pytest.raises(ValueError, match="config must be a RunConfig"):
        fit({"lr": 0.1}, tiny)


def _with(tiny, **changes):
    return Splits(**{**tiny.__dict__, **changes})


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: {"x_train": t.x_train.double()}, None),  # float64 data is fine: it is floating point
    (lambda t: {"x_train": (t.x_train * 255).to(torch.uint8)}, "must hold floating-point values"),
    (lambda t: {"y_train": t.y_train.float()}, "must hold integer class labels"),
    (lambda t: {"y_train": t.y_train + 10}, "holds labels from 10 to 19, but there are 10 classes"),
    (lambda t: {"y_val": t.y_val[:-1]}, "x_val has 100 examples but y_val has 99 labels"),
    (lambda t: {"x_val": t.x_val[:0], "y_val": t.y_val[:0]}, "x_val is empty"),
    (lambda t: {"x_train": t.x_train[:0], "y_train": t.y_train[:0]}, "x_train is empty"),
])
def test_bad_splits_are_refused_before_the_first_step(tiny, change, message):
    data = _with(tiny, **change(tiny))
    if message is None:
        assert fit(FAST, data, progress=False).completed
        return
    with pytest.raises(ValueError) as info:
        fit(FAST, data, progress=False)
    assert message in str(info.value)


def test_compare_fails_on_a_bad_run_before_training_any(tiny):
    calls = []

    def counting_fit(*args, **kwargs):
        calls.append(1)
        return fit(*args, **kwargs)

    images_only = FAST.replace(model="cnn")
    tabular = Splits("table", tiny.x_train.flatten(1), tiny.y_train, tiny.x_val.flatten(1), tiny.y_val,
                     tiny.x_test.flatten(1), tiny.y_test, tiny.classes)
    with pytest.raises(ValueError, match="cnn model needs images"):
        compare([FAST, images_only], tabular, fit_fn=counting_fit, progress=False)
    with pytest.raises(ValueError, match=r"seeds\[1\]=-1 is out of range"):
        compare([FAST], tiny, seeds=(0, -1), fit_fn=counting_fit, progress=False)
    assert calls == []


# ---------------------------------------------------------------- wrong explanations

def test_nan_in_the_data_is_blamed_on_the_data_not_the_learning_rate(tiny):
    x = tiny.x_train.clone()
    x[3, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="x_train holds 1 NaN or infinite value.*the data, not the training"):
        fit(FAST, _with(tiny, x_train=x), progress=False)


def test_infinities_are_counted_and_huge_finite_values_whose_sum_overflows_pass(tiny):
    x = tiny.x_val.clone()
    x[0, 0, 0, :2] = float("inf")
    x[1, 0, 0, 0] = float("-inf")
    with pytest.raises(ValueError, match="x_val holds 3 NaN or infinite value"):
        _with(tiny, x_val=x).validate()
    big = torch.full_like(tiny.x_test, 3e38)  # finite, but their float32 sum is inf: the exact count finds none
    assert not torch.isfinite(big.sum()) and _with(tiny, x_test=big).validate() is not None


def test_an_exploding_but_finite_loss_is_divergence(tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = fit(FAST.replace(optimizer="sgd", lr=10.0, epochs=3), tiny, progress=False)
    assert result.stop_reason.startswith("diverged: the training loss exploded to")
    assert "lr=10" in result.stop_reason
    first = float(result.stop_reason.split("first value (")[1].split(")")[0])
    assert math.isfinite(first) and first < 10


def test_a_healthy_run_is_not_called_divergent(tiny):
    assert fit(FAST.replace(epochs=3, lr=1e-2), tiny, progress=False).completed


# ---------------------------------------------------------------- augmenter input

def test_augmenter_refuses_integer_images_and_fit_refuses_0_255_floats(tiny):
    with pytest.raises(ValueError, match="float images with values in \\[0, 1\\]; got dtype torch.uint8"):
        Augmenter(AugmentSpec(rotate=10))((tiny.x_train[:4] * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="augmentation needs images .* with values in \\[0, 1\\]"):
        fit(FAST.replace(augment=AugmentSpec(rotate=10)), _with(tiny, x_train=tiny.x_train * 255), progress=False)


# ---------------------------------------------------------------- panels

def test_panel_refuses_what_its_controls_cannot_hold_and_keeps_rows(tiny):
    panel = TrainingPanel(tiny, base=FAST)
    panel.run()
    for values, message in (({"epochs": 2.7}, "epochs=2.7 must be a whole number"),
                            ({"lr": "fast"}, "lr='fast' must be a finite number"),
                            ({"batch_size": True}, "batch_size=True must be a whole number"),
                            ({"model": "resnet"}, "model='resnet' is not allowed: choose one of cnn, mlp")):
        before = panel.values()
        assert panel.run(**values) is None
        assert message in html.unescape(panel.status.value) and panel.values() == before
        assert len(panel.results) == 1


def test_gallery_refuses_a_strength_beyond_its_slider(tiny):
    gallery = AugmentGallery(tiny)
    with pytest.raises(ValueError, match="augmentation rotate=500 is out of range: allowed is 0 to 180"):
        gallery.set_values(rotate=500)
    assert gallery.sliders["rotate"].value == 0.0


# ---------------------------------------------------------------- the catalog and doctor

@pytest.mark.parametrize("damage", ["missing", "truncated", "edited"])
def test_a_damaged_catalog_is_reported_by_doctor_with_the_fix(monkeypatch, tmp_path, capsys, damage):
    from dlopt_kit.cli import doctor
    from dlopt_kit.core import data

    broken = tmp_path / "catalog.json"
    text = data.CATALOG.read_text()
    if damage == "truncated":
        broken.write_text(text[: len(text) // 2])
    elif damage == "edited":
        catalog = json.loads(text)
        del catalog["digits"]["files"]
        broken.write_text(json.dumps(catalog))
    monkeypatch.setattr(data, "CATALOG", broken)
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "dataset catalog" in out and "git checkout -- dlopt_kit/core/catalog.json" in out


def test_a_fraction_typed_into_a_whole_number_box_is_refused_not_truncated(tiny):
    panel = TrainingPanel(tiny, base=FAST)
    panel.controls["epochs"].value = 2.7  # what the browser sends when 2.7 is typed
    panel.run_button.click()
    assert "epochs=2.7 must be a whole number from 1 to 1000" in html.unescape(panel.status.value)
    assert not panel.results and not panel.running
    panel.controls["epochs"].value = 1.0
    assert panel.values()["epochs"] == 1 and type(panel.values()["epochs"]) is int


def test_more_entry_points_name_their_arguments(monkeypatch):
    from dlopt_kit.core.data import load_splits, make_synthetic
    from dlopt_kit.core.device import as_device, configure_threads

    assert len(load_splits("digits", train_per_class=np.int64(5), eval_per_class=2).y_train) == 50
    for call, message in (
        (lambda: load_splits("digits", train_per_class=0), "train_per_class=0 is out of range"),
        (lambda: load_splits("cifar"), "dataset 'cifar' is not allowed"),
        (lambda: make_synthetic("moons", n=-5), "n=-5 is out of range"),
        (lambda: make_synthetic("moons", noise="lots"), "noise='lots' must be a number"),
        (lambda: as_device("gpu0"), "device='gpu0' is not a device"),
        (lambda: threshold_metrics([0, 1], [[0.2, 0.8], [0.6, 0.4]], 0.5), "must be 1-D"),
        (lambda: threshold_metrics([0, 1], [0.2, float("nan")], 0.5), "a NaN would be counted as a negative"),
        (lambda: threshold_metrics([], [], 0.5), "must match and not be empty"),
        (lambda: threshold_metrics([0, 2], [0.1, 0.9], 0.5), "must hold 0 (negative) and 1 (positive)"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert message in str(info.value)
    monkeypatch.setenv("DLOPT_THREADS", "100000")
    with pytest.raises(ValueError, match="more than 4x the"):
        configure_threads()


def test_string_device_and_a_last_batch_of_one_with_batch_norm(tiny):
    data = _with(tiny, x_train=tiny.x_train[:33], y_train=tiny.y_train[:33])  # 33 = one batch of 32 and one of 1
    result = fit(FAST.replace(batch_norm=True), data, device="cpu", progress=False)
    assert result.completed and result.device == "cpu"
    with pytest.raises(ValueError, match="needs at least 2 training examples"):
        fit(FAST.replace(batch_norm=True), _with(tiny, x_train=tiny.x_train[:1], y_train=tiny.y_train[:1]))


def test_augmenter_refuses_0_255_floats_instead_of_clamping_them(tiny):
    with pytest.raises(ValueError, match="range from 0 to 255: divide 0-255 images by 255"):
        Augmenter(AugmentSpec(rotate=10))(tiny.x_train[:4] * 255)
    with pytest.raises(ValueError, match="must be an AugmentSpec"):
        Augmenter({"rotate": 10})
