import dataclasses
import math

import pytest

from dlopt_kit.core.config import RunConfig, describe, differing_fields, field_names

BAD = [
    ("model", "resnet", "mlp, cnn"),
    ("model", None, "mlp, cnn"),
    ("optimizer", "rmsprop", "sgd, adam, adamw"),
    ("optimizer", "", "sgd, adam, adamw"),
    ("lr", 0.0, "(0, 10]"),
    ("lr", -0.1, "(0, 10]"),
    ("lr", 11.0, "(0, 10]"),
    ("lr", math.nan, "finite"),
    ("lr", math.inf, "finite"),
    ("lr", "0.01", "finite number"),
    ("lr", True, "finite number"),
    ("batch_size", 0, "1 to 65536"),
    ("batch_size", -32, "1 to 65536"),
    ("batch_size", 32.0, "whole number"),
    ("batch_size", True, "whole number"),
    ("batch_size", 100_000, "1 to 65536"),
    ("epochs", 0, "1 to 1000"),
    ("epochs", 2.5, "whole number"),
    ("epochs", 5000, "1 to 1000"),
    ("weight_decay", -1e-4, "0 to 100"),
    ("weight_decay", 200.0, "0 to 100"),
    ("l1", -1e-5, "0 to 1"),
    ("l1", math.nan, "a number from 0 to 1"),
    ("l2", 1.5, "0 to 1"),
    ("l2", "0.01", "a number from 0 to 1"),
    ("input_dropout", 1.0, "[0, 1)"),
    ("patience", -1, "0 to 1000"),
    ("patience", 2.5, "whole number"),
    ("min_delta", -0.01, "0 to 1e+06"),
    ("monitor", "val_accuracy", "val_loss, val_acc"),
    ("monitor", "train_loss", "val_loss, val_acc"),
    ("momentum", 1.0, "[0, 1)"),
    ("momentum", -0.5, "[0, 1)"),
    ("hidden", 0, "1 to 8192"),
    ("dropout", 1.0, "[0, 1)"),
    ("dropout", -0.1, "[0, 1)"),
    ("batch_norm", "yes", "True or False"),
    ("batch_norm", 1, "True or False"),
    ("grad_clip", 0.0, "(0, 1e+06]"),
    ("grad_clip", -1.0, "(0, 1e+06]"),
    ("label_smoothing", 1.0, "[0, 1)"),
    ("seed", -1, "0 to 4294967295"),
    ("seed", 1.5, "whole number"),
]


@pytest.mark.parametrize(("field", "value", "allowed"), BAD, ids=[f"{f}={v!r}" for f, v, _ in BAD])
def test_bad_value_names_field_value_and_what_is_allowed(field, value, allowed):
    with pytest.raises(ValueError) as info:
        RunConfig(**{field: value})
    message = str(info.value)
    assert message.startswith(f"{field}={value!r}")
    assert allowed in message


def test_defaults_are_valid_and_frozen():
    config = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 1.0  # type: ignore[misc]


def test_replace_validates_and_rejects_unknown_fields():
    config = RunConfig()
    assert config.replace(lr=0.01).lr == 0.01
    assert config.lr == 1e-3
    with pytest.raises(ValueError, match="lr=-1"):
        config.replace(lr=-1)
    with pytest.raises(ValueError, match="unknown setting.*learning_rate"):
        config.replace(learning_rate=0.1)


def test_grad_clip_none_and_edges_allowed():
    assert RunConfig(grad_clip=None).grad_clip is None
    assert RunConfig(lr=10.0, weight_decay=1.0, momentum=0.0, dropout=0.0).lr == 10.0


def test_differing_fields_and_describe():
    a, b = RunConfig(model="cnn", seed=1), RunConfig(model="mlp", seed=2)
    assert differing_fields([a, b]) == ["model"]
    assert describe(a, ["model", "lr"]) == "model=cnn, lr=0.001"
    assert describe(a, []) == "default"
    assert field_names()[0] == "model" and "seed" in field_names()
    assert a.to_dict()["model"] == "cnn"
