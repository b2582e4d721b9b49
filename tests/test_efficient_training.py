"""The LR range test, gradient clipping with its diagnostics, batch norm's eval mode and the comparison helpers of
lesson 06."""

import math

import numpy as np
import pytest
import torch

from dlopt_kit.core.compare import best_rows, compare, epochs_to_reach
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.fit_callbacks import clip_gradients
from dlopt_kit.core.models import build_model
from dlopt_kit.core.training import fit
from dlopt_kit.efficient_training.clipping import effective_lr, share_clipped, suggest_clip
from dlopt_kit.efficient_training.lr_finder import find_lr, smooth, steepest_index, valley_index

SGD = RunConfig(model="mlp", optimizer="sgd", batch_size=32, epochs=2)


def test_range_test_leaves_the_model_untouched_and_ramps_exponentially(tiny):
    model = build_model(SGD, tiny.input_shape, tiny.num_classes).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = find_lr(SGD, tiny, model=model, start_lr=1e-4, end_lr=1.0, steps=60)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and not model.training
    ratios = result.lrs[1:] / result.lrs[:-1]
    assert np.allclose(ratios, (1.0 / 1e-4) ** (1 / 59)) and result.lrs[0] == pytest.approx(1e-4)
    assert set(result.suggestions) == {"steepest", "minimum", "valley"} and result.suggestion == result.suggestions[
        "steepest"]
    assert all(result.lrs[0] <= lr <= result.lrs[-1] for name, lr in result.suggestions.items() if name != "minimum")


def test_range_test_stops_once_the_loss_blows_up(tiny):
    result = find_lr(SGD, tiny, start_lr=1e-3, end_lr=100.0, steps=200)
    assert result.stopped_early and len(result.lrs) < 200 and result.lrs[-1] < 100


@pytest.mark.filterwarnings("ignore:diverged")  # lr=1 diverges: that is part of the sweep
def test_suggestion_lands_within_10x_of_a_real_sweeps_best_lr(small):
    """The check lesson 06 makes on its own data, here on a smaller split: a short sweep's best lr by validation."""
    config = SGD.replace(batch_size=64, epochs=3)
    lrs = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    table = compare({lr: config.replace(lr=lr) for lr in lrs}, small, seeds=(0,), progress=False)
    best_lr = float(best_rows(table).set_index("config")["val_acc"].idxmax())
    suggestion = find_lr(config, small).suggestion
    assert best_lr / 10 <= suggestion <= best_lr * 10, (suggestion, best_lr)


def test_suggestion_rules_on_known_curves():
    lrs = np.logspace(-4, 0, 41)
    loss = 2.0 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 2) * 4))  # falls fastest at 1e-2, flat at both ends
    loss[-5:] += np.linspace(0.5, 3.0, 5)                        # then blows up
    assert lrs[steepest_index(lrs, loss)] == pytest.approx(1e-2)
    assert steepest_index(lrs, loss) <= int(np.argmin(loss))
    assert valley_index(np.array([3.0, 2.0, 2.5, 1.0, 0.5, 0.4, 2.0])) == 2  # longest fall: 0..5, halfway
    assert smooth(np.array([2.0, 2.0, 2.0]), 0.9).tolist() == pytest.approx([2.0, 2.0, 2.0])  # bias-corrected


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start_lr": 0}, "start_lr=0 is out of range"), ({"end_lr": 1e-6}, "end_lr=1e-06 is out of range"),
    ({"steps": 5}, "steps=5 is out of range"), ({"rule": "fastest"}, "rule='fastest' is not allowed"),
])
def test_range_test_refuses_bad_settings(tiny, kwargs, message):
    with pytest.raises(ValueError, match=message):
        find_lr(SGD, tiny, **kwargs)


def _model_with_grads(scale: float) -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    for p in net.parameters():
        p.grad = torch.randn_like(p) * scale
    return net


def test_clip_by_norm_rescales_to_the_threshold_and_reports_the_norm_before():
    net = _model_with_grads(10.0)
    before = torch.nn.utils.get_total_norm([p.grad for p in net.parameters()])
    norm, clipped = clip_gradients(list(net.parameters()), SGD.replace(grad_clip=1.0), measure=False)
    assert norm == pytest.approx(before.item()) and bool(clipped)
    assert torch.nn.utils.get_total_norm([p.grad for p in net.parameters()]) == pytest.approx(1.0, rel=1e-4)


def test_clip_by_value_clamps_each_element():
    net = _model_with_grads(1.0)
    largest = max(p.grad.abs().max() for p in net.parameters())
    norm, clipped = clip_gradients(list(net.parameters()), SGD.replace(grad_clip=0.5, clip_by="value"), measure=True)
    assert bool(clipped) and largest > 0.5 and norm is not None
    assert max(p.grad.abs().max() for p in net.parameters()) <= 0.5
    _, never = clip_gradients(list(net.parameters()), SGD.replace(grad_clip=0.5, clip_by="value"), measure=False)
    assert not bool(never)  # already inside the bound: not clipped again


@pytest.mark.parametrize("clip_by", ["norm", "value"])
def test_fit_records_every_steps_norm_and_the_share_clipped(tiny, clip_by):
    threshold = 1.0 if clip_by == "norm" else 0.01
    result = fit(SGD.replace(lr=0.1, grad_clip=threshold, clip_by=clip_by), tiny, progress=False)
    steps = result.steps
    assert len(steps) == 2 * math.ceil(len(tiny.y_train) / 32) and steps["step"].tolist() == list(range(1, 21))
    if clip_by == "norm":
        assert steps["clipped"].tolist() == (steps["grad_norm"] > threshold).tolist()
    for epoch, record in enumerate(result.history, start=1):
        assert record["clipped"] == pytest.approx(steps[steps["epoch"] == epoch]["clipped"].mean())
        assert record["grad_norm"] == pytest.approx(steps[steps["epoch"] == epoch]["grad_norm"].mean(), rel=1e-5)


def test_norms_every_step_only_when_asked(tiny):
    plain = fit(SGD, tiny, progress=False)
    assert "grad_norm" not in plain.steps and "clipped" not in plain.history[0]
    recorded = fit(SGD, tiny, progress=False, record_grad_norms=True)
    assert recorded.steps["grad_norm"].notna().all() and len(recorded.steps) == 20
    assert torch.equal(next(plain.model.parameters()), next(recorded.model.parameters()))  # measuring changes nothing


def test_clipping_diagnostics():
    norms = np.arange(1, 101, dtype=float)
    assert suggest_clip(norms) == pytest.approx(np.percentile(norms, 90))
    assert share_clipped(norms, suggest_clip(norms)) == pytest.approx(0.10)
    assert share_clipped(norms, 200) == 0.0
    with pytest.raises(ValueError, match="norms is empty: record them with fit"):
        suggest_clip([])
    with pytest.raises(ValueError, match="NaN or infinite"):
        share_clipped([1.0, math.nan], 1.0)
    with pytest.raises(ValueError, match="percentile=0 is out of range"):
        suggest_clip(norms, 0)


def test_effective_lr_is_the_mean_step_scale_of_clipping_by_norm():
    # norms 1, 2, 4 clipped at 2: scales 1, 1, 0.5, mean 5/6
    assert effective_lr([1.0, 2.0, 4.0], lr=0.3, threshold=2.0) == pytest.approx(0.3 * 5 / 6)
    assert effective_lr([0.5, 1.0], lr=0.1, threshold=10.0) == pytest.approx(0.1)  # nothing clipped
    with pytest.raises(ValueError, match="lr=0 is out of range"):
        effective_lr([1.0], lr=0, threshold=1.0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        effective_lr([math.inf], lr=0.1, threshold=1.0)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_batch_norm_uses_running_statistics_in_eval_mode(tiny, model):
    config = RunConfig(model=model, batch_norm=True, epochs=1, batch_size=32)
    net = fit(config, tiny, progress=False).model.eval()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(m.num_batches_tracked > 0 and not torch.all(m.running_mean == 0) for m in norms)
    x = tiny.x_val[:16]
    with torch.no_grad():
        together = net(x)
        alone = torch.cat([net(x[i:i + 1]) for i in range(len(x))])  # a batch of one: batch stats would fail
        assert torch.allclose(together, alone, atol=1e-5)
        first = norms[0]
        first.eval()
        probe = torch.randn(8, first.num_features) if model == "mlp" else torch.randn(8, first.num_features, 4, 4)
        shape = (1, -1) if model == "mlp" else (1, -1, 1, 1)
        expected = ((probe - first.running_mean.view(shape)) / torch.sqrt(first.running_var.view(shape) + first.eps)
                    * first.weight.view(shape) + first.bias.view(shape))
        assert torch.allclose(first(probe), expected, atol=1e-5)
        net.train()
        assert not torch.allclose(net(x), together, atol=1e-3)  # training mode uses the batch's own statistics


def test_compare_keeps_results_and_counts_epochs_to_a_target(tiny):
    results = {}
    table = compare({"slow": SGD.replace(lr=0.001, epochs=3), "fast": SGD.replace(lr=0.05, epochs=3)}, tiny,
                    seeds=(0, 1), progress=False, results=results)
    assert set(results) == {(a, s) for a in ("slow", "fast") for s in (0, 1)}
    assert results[("fast", 1)].config.seed == 1 and len(results[("fast", 1)].steps) > 0
    target = float(table[table["config"] == "fast"]["val_acc"].min())
    counts = epochs_to_reach(table, target)
    assert counts.loc["fast"].tolist() == [1, 1] or counts.loc["fast"].min() >= 1
    for (config, seed), run in table.groupby(["config", "seed"]):
        reached = run[run["val_acc"] >= target]["epoch"]
        assert counts.loc[config, seed] == (reached.min() if len(reached) else 4)
    cut = table[~((table["config"] == "slow") & (table["seed"] == 0) & (table["epoch"] > 1))]  # as if it diverged
    assert epochs_to_reach(cut, 2.0).loc["slow", 0] == 4  # never reached: the longest run + 1, not its own
    assert epochs_to_reach(table, 2.0).to_numpy().tolist() == [[4, 4], [4, 4]]  # never: epochs + 1
    assert (epochs_to_reach(table, 10.0, metric="val_loss") == 1).all().all()
