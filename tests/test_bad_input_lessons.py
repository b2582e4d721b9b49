"""Bad input to the lessons' entry points (lesson 03's transfer and its stored features, lesson 07's one-vs-rest
task, lesson 08's streams and policies) gets one ValueError naming the argument, the value and what is allowed,
before any work is done. Regression tests pin each case found by hand; property tests (hypothesis, the pattern of
tests/test_bad_input.py) throw arbitrary values at each family. Small tensors only: nothing trains or downloads."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import ANYTHING
from torch import nn

from dlopt_kit.architectures import study, transfer
from dlopt_kit.architectures.transfer import (
    FeaturesDamaged,
    TransferNet,
    backbone_features,
    features_path,
    features_status,
    few_labels,
    kit_backbone,
    read_features,
)
from dlopt_kit.continuous_learning import stream
from dlopt_kit.continuous_learning.policies import Policy, serve
from dlopt_kit.continuous_learning.stream import DriftSpec, make_stream, stream_pool, unused_training
from dlopt_kit.core import data
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import DatasetError, Splits
from dlopt_kit.evaluation_metrics.imbalance import at_prevalence, one_vs_rest

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


def splits(train: int = 30, evaluate: int = 10, seed: int = 0) -> Splits:
    """Fashion-MNIST's shape in miniature: 10 classes, ``train``/``evaluate`` 4x4 images of each."""
    g = torch.Generator().manual_seed(seed)
    parts = []
    for n in (train, evaluate, evaluate):
        y = torch.arange(10).repeat(n)
        parts += [torch.rand(len(y), 1, 4, 4, generator=g), y]
    return Splits("tiny", *parts, classes=list(CLASSES))


def backbone() -> transfer.KitBackbone:
    torch.manual_seed(0)
    return kit_backbone(nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 10)))


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read of a dataset fails the test: bad input must be refused before the work starts."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("the dataset was read before the arguments were checked")

    monkeypatch.setattr(data, "_raw_splits", refuse)


# ---------------------------------------------------------------- 1. damaged stored features (lesson 03)

@pytest.fixture
def store(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """prepare_features on a tiny backbone and target, storing under tmp_path; a fresh in-memory cache."""
    bb, target = backbone(), splits(6, 2)
    monkeypatch.setattr(transfer, "_FEATURES", {})
    monkeypatch.setattr(study, "FEATURE_STORE", tmp_path)
    monkeypatch.setattr(study, "imagenet_backbone", lambda size: bb)
    monkeypatch.setattr(study, "digits_target", lambda: target)
    return bb, target, features_path(bb, target, tmp_path)


def test_a_truncated_features_file_raises_one_line_naming_it_and_make_setup_rebuilds_it(store):
    bb, target, path = store
    assert study.prepare_features().startswith("built")
    assert path.is_file() and path.with_suffix(".sha256").is_file()  # the checksum is recorded when written
    first = read_features(path, target)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    transfer._FEATURES.clear()  # a new session
    assert features_status(path, target) == "damaged"
    with pytest.raises(FeaturesDamaged) as exc:
        backbone_features(bb, target, store=path.parent)
    message = one_line(exc)
    assert message.startswith(f"the stored features {path} are damaged (") and "make setup" in message
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, DatasetError)
    done = study.prepare_features()  # what `make setup` runs: it notices and rebuilds
    assert done.startswith(f"rebuilt, {path} was damaged (")
    assert features_status(path, target) == "ready"
    assert torch.equal(read_features(path, target).x_train, first.x_train)
    assert study.prepare_features().startswith("ready")


def test_a_changed_byte_fails_the_recorded_checksum(store):
    bb, target, path = store
    study.prepare_features()
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, loads or not: the checksum says
    path.write_bytes(bytes(raw))
    with pytest.raises(FeaturesDamaged, match="sha256 .* recorded .* when written: truncated or changed"):
        read_features(path)
    assert study.prepare_features().startswith("rebuilt")


def test_features_of_other_data_are_refused(store):
    bb, target, path = store
    study.prepare_features()
    other = splits(6, 2, seed=1)
    other.y_train = other.y_train.flip(0)
    with pytest.raises(FeaturesDamaged, match="its labels or classes are not those of tiny"):
        read_features(path, other)


def test_a_truncated_copy_of_lesson_03s_features_is_detected(tmp_path):
    stored = sorted(study.FEATURE_STORE.glob("*.pt"))
    if not stored:
        pytest.skip("lesson 03's features are not prepared here (make setup stores them)")
    copy = tmp_path / stored[0].name
    raw = stored[0].read_bytes()
    copy.write_bytes(raw[: len(raw) // 2])
    assert features_status(copy) == "damaged"  # the rebuild path: prepare_features deletes and computes it again
    with pytest.raises(FeaturesDamaged) as exc:
        read_features(copy)
    assert str(copy) in one_line(exc) and "torch.load failed" in str(exc.value)


def test_a_damaged_prepared_dataset_file_names_itself(tmp_path):
    path = tmp_path / "x_train.npy"
    np.save(path, np.arange(1000))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError) as exc:
        data._load_npy("digits", path)
    assert str(path) in one_line(exc) and "make setup" in str(exc.value)


# ---------------------------------------------------------------- 2, 3. drift specs and streams (lesson 08)

def pool() -> tuple[torch.Tensor, torch.Tensor]:
    s = splits(20)
    return s.x_train, s.y_train


@pytest.mark.parametrize(("pair", "message"), [
    ((-1, 5), "pair[0]=-1 is out of range: allowed is at least 0"),
    ((7, 7), "pair=(7, 7) names class 7 twice"),
    ((7,), "pair=(7,) must be two class labels"),
    ((7.5, 5), "pair[0]=7.5 must be a whole number"),
    ("75", "pair='75' must be two class labels"),
])
def test_concept_drift_refuses_labels_that_are_not_two_classes(pair, message):
    with pytest.raises(ValueError) as exc:
        DriftSpec("concept", pair=pair)
    assert one_line(exc).startswith(message)


def test_concept_drift_refuses_a_class_the_pool_lacks():
    with pytest.raises(ValueError, match=r"pair=\(12, 5\) names a class the pool lacks: it has classes 0 to 9"):
        make_stream(pool(), DriftSpec("concept", onset=0, pair=(12, 5)), batches=2, batch_size=10)
    assert DriftSpec("concept", pair=[np.int64(3), 4]).pair == (3, 4)  # plain values, as a tuple


def test_an_onset_beyond_the_stream_is_refused():
    with pytest.raises(ValueError) as exc:
        make_stream(pool(), DriftSpec("brightness", onset=60), batches=60, batch_size=10)
    assert one_line(exc).startswith("onset=60 is beyond the stream: batches=60 are drawn (0 to 59)")
    assert make_stream(pool(), DriftSpec("brightness", onset=59), batches=60, batch_size=2).drift_point == 59
    assert make_stream(pool(), DriftSpec("none", onset=60), batches=3, batch_size=2).drift_point is None


def test_an_onset_beyond_the_stream_is_refused_in_a_dry_run_too(monkeypatch: pytest.MonkeyPatch):
    from dlopt_kit.core import dry_run

    monkeypatch.setenv(dry_run.DRY_RUN_ENV, "1")
    with pytest.raises(ValueError, match="onset=40 is beyond the stream: batches=30"):
        make_stream(pool(), DriftSpec("brightness", onset=40), batches=30, batch_size=10)


def test_make_stream_refuses_what_is_not_a_pool_or_a_spec():
    with pytest.raises(ValueError, match="spec must be a DriftSpec"):
        make_stream(pool(), "brightness")
    with pytest.raises(ValueError, match="pool must be a Splits or \\(x, y\\)"):
        make_stream(pool()[0], DriftSpec("none"))
    with pytest.raises(ValueError, match="pool has 200 images but 10 labels"):
        make_stream((pool()[0], pool()[1][:10]), DriftSpec("none"))
    with pytest.raises(ValueError, match="replace=0 must be True or False"):
        make_stream(pool(), DriftSpec("none"), replace=0)


# ---------------------------------------------------------------- 4. unused training data

@pytest.mark.parametrize("value", [-5, 0, 2.5, True, "30"])
def test_unused_training_refuses_a_per_class_count_before_reading_the_data(no_data, value):
    with pytest.raises(ValueError) as exc:
        unused_training("fashion_mnist", value)
    assert one_line(exc).startswith(f"train_per_class={value!r}") and exc.match("or None for all")
    with pytest.raises(ValueError, match=f"train_per_class={value!r}"):
        stream_pool(splits(), value)
    with pytest.raises(ValueError, match=f"train_per_class={value!r}"):
        data.train_indices("fashion_mnist", value)


def test_unused_training_refuses_an_unknown_dataset(no_data):
    with pytest.raises(ValueError, match="dataset 'fashion' is not allowed here: choose one of fashion_mnist"):
        unused_training("fashion", 30)


# ---------------------------------------------------------------- 5. policies

def test_a_policy_takes_a_runconfig_not_a_dict():
    with pytest.raises(ValueError) as exc:
        Policy("periodic", config={"epochs": 3, "lr": 1e-3})
    assert one_line(exc).startswith("config={'epochs': 3, 'lr': 0.001} is a dict, not a RunConfig: pass the "
                                    "retraining settings as RunConfig(...)")
    assert Policy("periodic", config=RunConfig(**{"epochs": 3, "lr": 1e-3})).config.epochs == 3


def test_serve_refuses_bad_arguments_before_serving():
    s = splits(4, 2)
    drawn = make_stream(pool(), DriftSpec("none"), batches=2, batch_size=4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 10))
    for kwargs, message in (({"seed": -1}, "seed=-1 is out of range"),
                            ({"policy": "never"}, "policy must be a Policy"),
                            ({"stream": [1]}, "stream must be a Stream"),
                            ({"original": (s.x_train, s.y_train)}, "original must be the Splits")):
        arguments = {"model": model, "stream": drawn, "original": s, "policy": Policy("never"), **kwargs}
        with pytest.raises(ValueError, match=message):
            serve(**arguments)


# ---------------------------------------------------------------- 6. transfer nets

@pytest.mark.parametrize("classes", [0, 1, -3, 2.0, None, True])
def test_a_transfer_net_needs_at_least_two_classes(classes):
    with pytest.raises(ValueError) as exc:
        TransferNet(backbone(), classes)
    assert one_line(exc).startswith(f"num_classes={classes!r}")
    assert TransferNet(backbone(), np.int64(2)).head.out_features == 2


def test_a_transfer_net_needs_a_backbone():
    with pytest.raises(ValueError, match=r"backbone must be kit_backbone\(model\) or imagenet_backbone\(\).*Linear"):
        TransferNet(nn.Linear(4, 4), 3)
    with pytest.raises(ValueError, match="backbone must be"):
        backbone_features("resnet", splits(2, 1))
    with pytest.raises(ValueError, match="batch_size=0 is out of range"):
        backbone_features(backbone(), splits(2, 1), batch_size=0)


# ---------------------------------------------------------------- 7. one-vs-rest shares (lesson 07)

def share_of(task: Splits) -> list[float]:
    return [float(getattr(task, f"y_{s}").float().mean()) for s in ("train", "val", "test")]


def test_one_vs_rest_reaches_a_share_above_the_natural_one_by_dropping_negatives():
    # Bag is 10 % of each split; 0.5 keeps every bag and as many others
    task = one_vs_rest(splits(), "Bag", share=0.5)
    assert share_of(task) == [0.5, 0.5, 0.5] and len(task.y_train) == 60
    assert share_of(one_vs_rest(splits(), "Bag", share=0.05)) == pytest.approx([0.05, 0.05, 0.05], abs=0.005)
    assert share_of(one_vs_rest(splits(), "Bag")) == pytest.approx([0.1, 0.1, 0.1])


@pytest.mark.parametrize(("share", "message"), [
    (0.99, "share=0.99 cannot be reached (the val split's 10 positives with one negative are at most 0.9091): "
           "allowed is 0.011 to 0.909 here"),
    (0.001, "share=0.001 cannot be reached (one positive among the 90 negatives of the val split is already "
            "0.01099): allowed is 0.011 to 0.909 here"),
    (1.0, "share=1.0 is out of range: allowed is (0, 1)"),
    ("0.5", "share='0.5' must be a finite number in (0, 1)"),
])
def test_one_vs_rest_refuses_a_share_it_cannot_reach(share, message):
    with pytest.raises(ValueError) as exc:
        one_vs_rest(splits(), "Bag", share=share)
    assert one_line(exc) == message


def test_one_vs_rest_refuses_a_class_missing_from_a_split():
    s = splits()
    s.y_test = s.y_test[s.y_test != 8]
    s.x_test = s.x_test[: len(s.y_test)]
    with pytest.raises(ValueError, match="share=0.2 cannot be reached: the test split has no image of Bag"):
        one_vs_rest(s, "Bag", share=0.2)


# ---------------------------------------------------------------- 8. seeds

def test_negative_seeds_are_refused_by_name():
    with pytest.raises(ValueError, match="seed=-1 is out of range"):
        make_stream(pool(), DriftSpec("none"), batches=2, batch_size=2, seed=-1)
    with pytest.raises(ValueError, match="seed=-1 is out of range"):
        few_labels(splits(), 2, seed=-1)
    with pytest.raises(ValueError, match="seed=-1 is out of range"):
        one_vs_rest(splits(), "Bag", share=0.2, seed=-1)
    with pytest.raises(ValueError, match="seed=-1 is out of range"):
        at_prevalence([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], 0.5, seed=-1)
    with pytest.raises(ValueError, match=r"seed=2.0 must be a whole number"):
        make_stream(pool(), DriftSpec("none"), batches=2, batch_size=2, seed=2.0)


# ---------------------------------------------------------------- 9. properties

@PROPERTY
@given(kind=st.sampled_from(stream.DRIFTS), name=st.sampled_from(["kind", "onset", "speed", "ramp", "strength",
                                                                  "pair"]), value=ANYTHING)
def test_any_drift_spec_value_constructs_or_names_the_field(kind, name, value):
    try:
        spec = DriftSpec(**{"kind": kind, name: value})
    except ValueError as exc:
        assert str(exc).startswith(name) and "\n" not in str(exc)
    else:
        for field in ("kind", "onset", "speed", "ramp", "strength"):
            assert type(getattr(spec, field)) in (int, float, str, type(None))  # plain Python values
        assert type(spec.pair) is tuple and all(type(v) is int for v in spec.pair)


@PROPERTY
@given(kind=st.sampled_from(["brightness", "label_shift", "concept", "none"]), onset=st.integers(-2, 12),
       batches=st.integers(-1, 10), pair=st.tuples(st.integers(-2, 12), st.integers(-2, 12)))
def test_any_stream_length_and_onset_draw_a_stream_that_drifts_or_name_the_argument(kind, onset, batches, pair):
    try:
        drawn = make_stream(pool(), DriftSpec(kind, onset=onset, pair=pair), batches=batches, batch_size=3)
    except ValueError as exc:
        assert str(exc).split("=")[0] in ("onset", "batches", "pair", "pair[0]", "pair[1]"), str(exc)
    else:
        assert len(drawn) == batches and (kind == "none" or drawn.drift_point == onset)


@PROPERTY
@given(name=st.sampled_from(["kind", "every", "cooldown", "replay", "window", "after_alarm", "offset", "config"]),
       value=ANYTHING)
def test_any_policy_value_constructs_or_names_the_field(name, value):
    try:
        policy = Policy(**{name: value})
    except ValueError as exc:
        # a window below the default after_alarm (5) is refused on after_alarm, the field it bounds
        assert str(exc).startswith(f"{name}=") or (name == "window" and str(exc).startswith("after_alarm=")), exc
    else:
        assert isinstance(policy.config, RunConfig)
        assert all(type(getattr(policy, f)) in (int, float, str) for f in ("kind", "every", "replay", "offset"))


@PROPERTY
@given(share=st.one_of(ANYTHING, st.floats(0.0, 1.0)), seed=st.integers(0, 3))
def test_any_share_reaches_itself_or_is_refused_by_name(share, seed):
    try:
        task = one_vs_rest(splits(), "Bag", share=share, seed=seed)
    except ValueError as exc:
        assert str(exc).startswith("share=") and "\n" not in str(exc)
    else:
        if share is None:
            assert share_of(task) == pytest.approx([0.1, 0.1, 0.1])
        else:
            assert share_of(task) == pytest.approx([float(share)] * 3, abs=0.05)


@PROPERTY
@given(name=st.sampled_from(["num_classes", "mode", "backbone_lr_scale"]), value=ANYTHING)
def test_any_transfer_net_value_constructs_or_names_the_field(name, value):
    arguments = {"num_classes": 3, "mode": "probe", "backbone_lr_scale": 1.0, name: value}
    try:
        net = TransferNet(BACKBONE, **arguments)
    except ValueError as exc:
        assert str(exc).startswith(f"{name}=") and "\n" not in str(exc)
    else:
        assert net.head.out_features == int(arguments["num_classes"]) >= 2 and not math.isnan(net.backbone_lr_scale)


BACKBONE = backbone()

