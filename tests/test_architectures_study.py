"""Lesson 03's experiments: the MNIST framing, runs of equal steps, the transfer curve and its gaps, few-label
ensembles, features stored on disk, the figure and the panel."""

import time

import pytest
import torch

from dlopt_kit.architectures.plots import plot_transfer_curve
from dlopt_kit.architectures.study import (
    arm_scores,
    digits_target,
    error_reduction,
    few_label_ensembles,
    for_steps,
    gap_table,
    mnist_framing,
    transfer_curve,
)
from dlopt_kit.architectures.transfer import _FEATURES, backbone_features, few_labels, kit_backbone
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import fit
from dlopt_kit.panels import architecture_panel

CNN = RunConfig(model="cnn", hidden=16, lr=3e-3, batch_size=16, epochs=1, monitor="val_acc")


@pytest.fixture(scope="module")
def target():
    return digits_target()


@pytest.fixture(scope="module")
def source(tiny):
    return kit_backbone(fit(CNN, tiny, progress=False).model)


def test_mnist_framing_centres_a_20_pixel_digit_in_28(target):
    assert target.input_shape == (1, 28, 28) and target.num_classes == 10
    border = torch.cat([target.x_train[:, :, :4].flatten(), target.x_train[:, :, -4:].flatten(),
                        target.x_train[:, :, :, :4].flatten(), target.x_train[:, :, :, -4:].flatten()])
    assert float(border.abs().max()) == 0.0 and float(target.x_train[:, :, 4:24, 4:24].max()) > 0.9
    assert len(target.y_train) == 1257 and float(target.x_train.max()) <= 1.0
    assert mnist_framing(target).input_shape == (1, 28, 28)  # framing a 28x28 image again keeps its size


def test_for_steps_gives_every_size_the_same_steps_and_few_checkpoints(target):
    for per_class in (2, 50):
        config, data = for_steps(CNN.replace(batch_size=32), few_labels(target, per_class), steps=100)
        per_epoch = -(-len(data.y_train) // config.batch_size)
        assert 100 <= config.epochs * per_epoch < 100 + per_epoch and config.epochs <= 12
        assert torch.equal(data.y_train.bincount(), torch.full((10,), data.y_train.bincount()[0].item()))
    small = few_labels(target, 2)
    _, repeated = for_steps(CNN.replace(batch_size=32), small, steps=100)
    assert len(repeated.y_train) % len(small.y_train) == 0 and torch.equal(repeated.x_val, small.x_val)
    with pytest.raises(ValueError, match="steps=0"):
        for_steps(CNN, small, steps=0)


def test_transfer_curve_pairs_every_arm_on_one_draw_and_reports_gaps(target, source):
    features = backbone_features(source, target)
    curve = transfer_curve(target, source, CNN, sizes=(2, 5), seeds=(0, 1), steps=20,
                           modes=("scratch", "probe", "full"), features=features)
    assert len(curve) == 2 * 2 * 4 and set(curve["arm"]) == {"scratch", "probe", "full", "features probe"}
    assert curve["test_acc"].between(0, 1).all() and (curve["seconds"] > 0).all()
    scores = arm_scores(curve, 5)
    assert list(scores.index) == [0, 1] and scores.shape == (2, 4)
    gaps = gap_table(curve, "full")
    assert gaps.loc[2, 0] == pytest.approx(arm_scores(curve, 2).loc[0, "full"] - arm_scores(curve, 2).loc[0, "scratch"])
    with pytest.raises(ValueError, match="size=7 is not in the curve"):
        arm_scores(curve, 7)
    with pytest.raises(ValueError, match="mode='frozen' is not allowed"):
        transfer_curve(target, source, CNN, sizes=(2,), modes=("frozen",))
    share = error_reduction(curve, "full")
    wide = arm_scores(curve, 5)
    assert share.loc[5, 1] == pytest.approx(1 - (1 - wide.loc[1, "full"]) / (1 - wide.loc[1, "scratch"]))
    assert (curve["best_epoch"] <= curve["epochs"]).all()
    fig = plot_transfer_curve(curve)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4


def test_transfer_curve_is_reproducible(target, source):
    runs = [transfer_curve(target, source, CNN, sizes=(3,), seeds=(1, 2), steps=15, modes=("scratch", "full"))
            for _ in range(2)]
    assert runs[0][["val_acc", "test_acc"]].equals(runs[1][["val_acc", "test_acc"]])


def test_transfer_curve_takes_steps_per_size_and_gives_the_numbers_of_one_process(target, source):
    from dlopt_kit.core.processes import run_tasks

    modes = ("scratch", "full")
    both = transfer_curve(target, source, CNN, sizes=(2, 4), seeds=(0,), steps={2: 10, 4: 30}, modes=modes)
    from dlopt_kit.architectures.transfer import few_labels

    expected = {n: for_steps(CNN, few_labels(target, n, 0), steps)[0].epochs for n, steps in ((2, 10), (4, 30))}
    assert both.groupby("size")["epochs"].first().to_dict() == expected
    alone = transfer_curve(target, source, CNN, sizes=(4,), seeds=(0,), steps=30, modes=modes)
    assert both[both["size"] == 4].reset_index(drop=True)[["val_acc", "test_acc"]].equals(
        alone[["val_acc", "test_acc"]])
    in_workers = run_tasks(transfer_curve, [(target, source, CNN, (4,), (0,), 30, modes)], workers=2)
    assert in_workers[0][["val_acc", "test_acc"]].equals(alone[["val_acc", "test_acc"]])
    with pytest.raises(ValueError, match=r"steps has no count for sizes \[4\]"):
        transfer_curve(target, source, CNN, sizes=(2, 4), steps={2: 10}, modes=modes)


def test_few_label_ensembles_draw_per_seed_and_score_the_average(target):
    table = few_label_ensembles(RunConfig(model="mlp", hidden=32, lr=3e-3, batch_size=32, monitor="val_acc"),
                                target, size=5, members=3, seeds=(0, 1), steps=30)
    assert list(table.index) == [0, 1] and (table["members"] == 3).all()
    assert table[["best member", "mean member", "average", "vote"]].stack().between(0, 1).all()


def test_features_are_stored_once_and_read_back(target, source, tmp_path):
    first = backbone_features(source, target, store=tmp_path)
    stored = list(tmp_path.glob("*.pt"))
    assert len(stored) == 1
    _FEATURES.clear()  # a new session: the memory cache is empty, the file is read
    second = backbone_features(source, target, store=tmp_path)
    assert torch.equal(first.x_train, second.x_train) and second.classes == target.classes


def test_the_panel_trains_members_stops_and_refuses_bad_values_by_name(target, source):
    panel = architecture_panel(target, source, CNN)
    result = panel.run(mode="full", per_class=3, members=2, steps=20)
    row = panel.results_frame().iloc[-1]
    assert result is not None and row["members trained"] == 2 and 0 <= row["val_acc"] <= 1
    assert "by validation accuracy" in panel.status.value
    panel.run(mode="probe", members=1)
    assert panel.results_frame().iloc[-1]["trainable parameters"] == 16 * 10 + 10
    for bad, message in ((dict(model="mlp", mode="probe"), "mode='probe' reuses the pretrained source"),
                         (dict(model="cnn", per_class=500), "labels per class=500 is out of range"),
                         (dict(per_class=3, members=0), "members=0 is out of range"),
                         (dict(members=1, backbone_lr_scale=2.0), "backbone lr scale=2.0 is out of range")):
        assert panel.run(**bad) is None and message in panel.error and len(panel.rows) == 2
    panel.run(wait=False, mode="scratch", backbone_lr_scale=0.1, members=5, steps=5000)
    deadline = time.time() + 30
    while panel.progress.value < 3 and time.time() < deadline:
        time.sleep(0.05)
    panel.stop_button.click()
    panel.wait(20)
    assert not panel.running and panel.rows[-1]["ended"] == "stopped by the user"
    assert panel.rows[-1]["members trained"] == 1 and len(panel.rows) == 3


def test_imagenet_features_come_from_the_store_that_setup_fills(monkeypatch):
    from dlopt_kit.architectures import study as transfer_study
    from dlopt_kit.architectures.transfer import BackboneMissing

    _FEATURES.clear()
    assert transfer_study.prepare_features().startswith("ready (1257/270/270 images)")  # make setup ran it
    assert len(list(transfer_study.FEATURE_STORE.glob("*.pt"))) >= 1
    _FEATURES.clear()

    def no_forward(self, x):
        raise AssertionError("the features were recomputed instead of read from the store")

    monkeypatch.setattr(transfer_study.imagenet_backbone(64).__class__, "forward", no_forward)
    features = transfer_study.imagenet_features()
    assert features.x_train.shape == (1257, 1280)

    def missing(size):
        raise BackboneMissing("the ImageNet weights are not installed: run `make setup`")

    monkeypatch.setattr(transfer_study, "imagenet_backbone", missing)
    assert transfer_study.prepare_features().startswith("skipped (the ImageNet weights are not installed")
