"""Lesson 05's package side: the penalties, weight decay per optimizer, early stopping from a config, exact
restoring of the best weights, and the per-epoch weight statistics."""

import math

import pytest
import torch
from torch import nn

from dlopt_kit.core.callbacks import LambdaCallback
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.models import MLP, SmallCNN, build_model, make_optimizer
from dlopt_kit.core.regularize import NEAR_ZERO, param_groups, penalty, weight_stats, weight_values, weights
from dlopt_kit.core.training import evaluate, fit

FAST = RunConfig(model="mlp", hidden=64, epochs=3, batch_size=32, lr=3e-3)


def linear(w: list[list[float]], b: list[float]) -> nn.Linear:
    layer = nn.Linear(len(w[0]), len(w))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(w))
        layer.bias.copy_(torch.tensor(b))
    return layer


def test_weights_are_matrices_and_kernels_not_biases_or_norm_parameters():
    mlp = MLP((1, 4, 4), 3, hidden=5, batch_norm=True)
    shapes = [tuple(p.shape) for p in weights(mlp)]
    assert shapes == [(5, 16), (5, 5), (3, 5)]  # the three Linear matrices; no bias, no BatchNorm scale or shift
    cnn = SmallCNN((1, 8, 8), 3, hidden=5, batch_norm=True)
    assert [p.ndim for p in weights(cnn)] == [4, 4, 2, 2]


def test_penalty_equals_the_hand_computed_value():
    layer = linear([[1.0, -2.0], [3.0, -4.0]], [10.0, -10.0])  # sum |w| = 10, sum w^2 = 30; the bias is left out
    assert penalty(weights(layer), l1=0.1).item() == pytest.approx(0.1 * 10)
    assert penalty(weights(layer), l2=0.2).item() == pytest.approx(0.2 / 2 * 30)
    assert penalty(weights(layer), l1=0.1, l2=0.2).item() == pytest.approx(1.0 + 3.0)
    assert penalty(weights(layer)).item() == 0.0


def test_fit_adds_the_penalty_to_the_loss_it_minimises(tiny):
    """One SGD step without momentum: the weights move by lr * (data gradient + l1 * sign(w) + l2 * w)."""
    config = FAST.replace(optimizer="sgd", momentum=0.0, lr=0.1, batch_size=len(tiny.y_train), epochs=1,
                          l1=0.01, l2=0.05)
    before = build_model(config, tiny.input_shape, tiny.num_classes)
    start = [p.detach().clone() for p in before.parameters()]
    loss = nn.functional.cross_entropy(before(tiny.x_train), tiny.y_train)
    grads = torch.autograd.grad(loss, list(before.parameters()))
    result = fit(config, tiny, model=before, progress=False, restore_best=False)
    for w0, g, w1 in zip(start, grads, result.model.parameters(), strict=True):
        extra = config.l1 * w0.sign() + config.l2 * w0 if w0.ndim >= 2 else 0.0
        torch.testing.assert_close(w1, w0 - config.lr * (g + extra), rtol=1e-5, atol=1e-6)
    assert result.history[0]["train_loss"] == pytest.approx(loss.item(), rel=1e-5)  # recorded without the penalty


def one_step(name: str, wd: float, lr: float = 0.1) -> tuple[nn.Linear, dict[str, torch.Tensor], dict]:
    """A step of ``name`` on a fixed linear model and batch; returns the model, the weights before, the gradients."""
    layer = linear([[0.5, -1.0, 2.0]], [0.3])
    before = {n: p.detach().clone() for n, p in layer.named_parameters()}
    opt = make_optimizer(RunConfig(optimizer=name, lr=lr, weight_decay=wd, momentum=0.9), layer)
    x, y = torch.tensor([[1.0, 2.0, -1.0], [0.5, -0.5, 1.0]]), torch.tensor([[1.0], [-1.0]])
    nn.functional.mse_loss(layer(x), y).backward()
    grads = {n: p.grad.detach().clone() for n, p in layer.named_parameters()}
    opt.step()
    return layer, before, grads


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_weight_decay_per_optimizer_as_pytorch_documents_it(wd):
    lr, eps = 0.1, 1e-8
    # sgd: coupled, the decay joins the gradient (the first step's momentum buffer is that gradient)
    layer, w, g = one_step("sgd", wd)
    torch.testing.assert_close(layer.weight.detach(), w["weight"] - lr * (g["weight"] + wd * w["weight"]))
    torch.testing.assert_close(layer.bias.detach(), w["bias"] - lr * g["bias"])  # biases are not decayed
    # adam: coupled, then rescaled; Adam's bias-corrected first step is lr * d / (|d| + eps) for d = g + wd * w
    layer, w, g = one_step("adam", wd)
    d = g["weight"] + wd * w["weight"]
    torch.testing.assert_close(layer.weight.detach(), w["weight"] - lr * d / (d.abs() + eps))
    torch.testing.assert_close(layer.bias.detach(), w["bias"] - lr * g["bias"] / (g["bias"].abs() + eps))
    # adamw: decoupled, the weights shrink by (1 - lr * wd) and the Adam step sees the data gradient only
    layer, w, g = one_step("adamw", wd)
    expected = w["weight"] * (1 - lr * wd) - lr * g["weight"] / (g["weight"].abs() + eps)
    torch.testing.assert_close(layer.weight.detach(), expected)
    torch.testing.assert_close(layer.bias.detach(), w["bias"] - lr * g["bias"] / (g["bias"].abs() + eps))


def test_param_groups_decay_weights_only_and_one_group_without_decay():
    mlp = MLP((4,), 2, hidden=3, batch_norm=True)
    assert len(param_groups(mlp, 0.0)) == 1
    decayed, kept = param_groups(mlp, 0.1)
    assert decayed["weight_decay"] == 0.1 and {id(p) for p in decayed["params"]} == {id(p) for p in weights(mlp)}
    assert kept["weight_decay"] == 0.0 and all(p.ndim == 1 for p in kept["params"])
    assert len(decayed["params"]) + len(kept["params"]) == len(list(mlp.parameters()))


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_coupled_weight_decay_is_the_l2_penalty(tiny, name):
    """For sgd and adam, weight_decay=x and l2=x are the same update (up to float rounding); for adamw they differ."""
    base = FAST.replace(optimizer=name, epochs=2)
    a = fit(base.replace(weight_decay=0.01), tiny, progress=False, restore_best=False)
    b = fit(base.replace(l2=0.01), tiny, progress=False, restore_best=False)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    c = fit(base.replace(optimizer="adamw", weight_decay=0.01), tiny, progress=False, restore_best=False)
    assert not torch.allclose(weights(b.model)[0], weights(c.model)[0], atol=1e-5)


def test_weight_stats_by_hand():
    layer = linear([[1e-4, 2.0], [0.0, -3.0]], [0.0, 0.0])  # the zero biases are not weights
    stats = weight_stats(layer)
    assert stats["weight_norm"] == pytest.approx(math.sqrt(4 + 9 + 1e-8))
    assert stats["near_zero"] == 0.5 and NEAR_ZERO == 1e-3
    assert weight_stats(layer, threshold=3.5)["near_zero"] == 1.0
    assert sorted(weight_values(layer).tolist()) == pytest.approx([-3.0, 0.0, 1e-4, 2.0])


def early_stop_epoch(values: list[float], patience: int, min_delta: float, larger_is_better: bool) -> int | None:
    """The epoch at which the rule in the docstring of ``EarlyStopping`` stops, written out again from its words."""
    best, waited = None, 0
    for epoch, value in enumerate(values, start=1):
        score = value if larger_is_better else -value
        if best is None or score > best + min_delta:
            best, waited = score, 0
        else:
            waited += 1
            if waited == patience:
                return epoch
    return None


@pytest.mark.parametrize(("monitor", "patience", "min_delta"), [("val_loss", 2, 0.0), ("val_acc", 3, 0.01)])
def test_early_stopping_from_the_config_stops_where_the_rule_says(tiny, monitor, patience, min_delta):
    config = FAST.replace(epochs=60, lr=0.01, hidden=256, patience=patience, min_delta=min_delta, monitor=monitor)
    result = fit(config, tiny, progress=False)
    values = result.history[:, monitor]
    expected = early_stop_epoch(values, patience, min_delta, larger_is_better=monitor == "val_acc")
    assert expected is not None and len(result.history) == expected < 60
    assert result.stop_reason == f"early stopping: {monitor} did not improve for {patience} epochs"
    # the best epoch follows the monitored metric: the first epoch with the lowest loss / the highest accuracy
    best = values.index(min(values) if monitor == "val_loss" else max(values)) + 1
    assert result.best_epoch == best


def test_restoring_the_best_epoch_is_exact(tiny):
    snapshots = {}

    def keep(state, history):
        snapshots[history[-1]["epoch"]] = {k: v.detach().clone() for k, v in state.model.state_dict().items()}

    config = FAST.replace(epochs=12, lr=0.01, hidden=256, dropout=0.2, batch_norm=True, monitor="val_acc")
    result = fit(config, tiny, callbacks=[LambdaCallback(on_epoch=keep)], progress=False)
    assert result.best_epoch < len(result.history)  # the test means something only if later epochs changed weights
    restored = result.model.state_dict()
    assert restored.keys() == snapshots[result.best_epoch].keys()
    assert all(torch.equal(restored[k], snapshots[result.best_epoch][k]) for k in restored)  # bitwise, buffers too
    assert evaluate(result.model, tiny.x_val, tiny.y_val)[1] == result.history[result.best_epoch - 1]["val_acc"]


def test_measure_train_records_the_eval_mode_gap(tiny):
    config = FAST.replace(dropout=0.5, input_dropout=0.2, epochs=3)
    result = fit(config, tiny, progress=False, restore_best=False, measure_train=True)
    last = result.history[-1]
    loss, acc = evaluate(result.model, tiny.x_train, tiny.y_train)
    assert last["train_eval_acc"] == acc and last["train_eval_loss"] == pytest.approx(loss, rel=1e-6)
    assert last["gap"] == pytest.approx(acc - last["val_acc"])
    assert {"weight_norm", "near_zero"} <= set(last) and "gap" not in fit(FAST, tiny, progress=False).history[-1]
    assert last["weight_norm"] == pytest.approx(weight_stats(result.model)["weight_norm"])


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_input_dropout_sits_before_the_first_layer_in_both_models(model):
    net = build_model(RunConfig(model=model, input_dropout=0.2, dropout=0.5), (1, 8, 8), 3)
    modules = list(net)
    first = modules[1] if model == "mlp" else modules[0]  # the MLP flattens first
    assert isinstance(first, nn.Dropout) and first.p == 0.2
    assert [m.p for m in modules if isinstance(m, nn.Dropout)][1:] == [0.5] * (2 if model == "mlp" else 1)
    assert not any(isinstance(m, nn.Dropout) for m in build_model(RunConfig(model=model), (1, 8, 8), 3))
