"""Lesson 05's temperature scaling: the fitted T minimises the validation cross-entropy, follows the logits' scale,
changes no prediction, and refuses mismatched inputs."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import fit
from dlopt_kit.regularization import fit_temperature, scaled_losses, scaled_test_loss
from dlopt_kit.regularization.temperature import logits_of


def _logits(seed: int = 0, n: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=generator)
    z = torch.randn(n, 10, generator=generator)
    z[torch.arange(n), y] += 2.0  # informative logits, neither too sure nor too unsure
    return z, y


def test_fitted_temperature_minimises_the_cross_entropy():
    z, y = _logits()
    t = fit_temperature(z, y)
    best = F.cross_entropy(z / t, y)
    for other in (t * 1.1, t / 1.1, 1.0):
        assert best <= F.cross_entropy(z / other, y) + 1e-6


def test_temperature_follows_the_scale_of_the_logits():
    z, y = _logits(1)
    assert fit_temperature(3 * z, y) == pytest.approx(3 * fit_temperature(z, y), rel=1e-3)


def test_overconfident_logits_get_a_temperature_above_one():
    z, y = _logits(2)
    wrong = torch.randperm(len(y), generator=torch.Generator().manual_seed(3))[:120]
    z[wrong] = z[wrong].roll(1, dims=1)  # a third of the examples confidently wrong
    assert fit_temperature(10 * z, y) > 1.0


def test_mismatched_logits_and_labels_are_refused():
    z, y = _logits()
    with pytest.raises(ValueError, match="one label per example"):
        fit_temperature(z, y[:-1])
    with pytest.raises(ValueError, match="one label per example"):
        fit_temperature(z[:, 0], y)


def test_scaled_test_loss_uses_validation_for_t_and_changes_no_prediction(tiny):
    model = fit(RunConfig(model="mlp", hidden=16, batch_size=32, epochs=3, lr=3e-3), tiny, progress=False).model
    t, loss = scaled_test_loss(model, tiny)
    assert t == pytest.approx(fit_temperature(logits_of(model, tiny.x_val), tiny.y_val))
    test_logits = logits_of(model, tiny.x_test)
    assert loss == pytest.approx(float(F.cross_entropy(test_logits / t, tiny.y_test)))
    assert torch.equal((test_logits / t).argmax(1), test_logits.argmax(1))
    assert model.training  # the model's mode is restored
    assert math.isfinite(loss) and t > 0


def test_scaled_per_seed_carries_the_arms_kept_epochs_into_a_claim(tiny):
    from dlopt_kit.core import kept_epochs
    from dlopt_kit.regularization import run_study, scaled_per_seed

    base = RunConfig(model="mlp", hidden=16, batch_size=32, epochs=3, lr=3e-3)
    models = {}
    table = run_study({"none": base, "dropout": base.replace(dropout=0.5)}, tiny, seeds=(0, 1), models=models)
    temps, losses = scaled_per_seed(table, "dropout", {s: models[("dropout", s)] for s in (0, 1)}, tiny)
    assert list(losses.index) == [0, 1] and (temps > 0).all()
    assert losses[1] == pytest.approx(scaled_test_loss(models[("dropout", 1)], tiny)[1])
    assert kept_epochs.carried(losses) == kept_epochs.from_table(table, "dropout")  # what a claim checks
    with pytest.raises(ValueError, match="no model for seed"):
        scaled_per_seed(table, "none", {0: models[("none", 0)]}, tiny)
    with pytest.raises(ValueError, match="not in the table"):
        scaled_per_seed(table, "L2", {}, tiny)


def test_scaled_losses_are_per_example_on_any_images_with_t_from_validation(tiny):
    from dlopt_kit.core.bootstrap import paired_bootstrap
    from dlopt_kit.regularization import run_study, scaled_per_example, scaled_per_seed

    base = RunConfig(model="mlp", hidden=16, batch_size=32, epochs=3, lr=3e-3)
    models = {}
    table = run_study({"none": base, "dropout": base.replace(dropout=0.5)}, tiny, seeds=(0, 1), models=models)
    model = models[("none", 0)]
    t, losses = scaled_losses(model, tiny, tiny.x_val, tiny.y_val)
    assert losses.shape == (len(tiny.y_val),)
    assert t == pytest.approx(scaled_test_loss(model, tiny)[0])  # T comes from validation whatever is scored
    assert losses.mean() == pytest.approx(float(F.cross_entropy(logits_of(model, tiny.x_val) / t, tiny.y_val)))
    assert scaled_losses(model, tiny)[1].mean() == pytest.approx(scaled_test_loss(model, tiny)[1])
    with pytest.raises(ValueError, match="together"):
        scaled_losses(model, tiny, tiny.x_val)
    by_seed = {arm: scaled_per_example(table, arm, {s: models[(arm, s)] for s in (0, 1)}, tiny, tiny.x_val,
                                       tiny.y_val)[1] for arm in ("none", "dropout")}
    means = scaled_per_seed(table, "none", {s: models[("none", s)] for s in (0, 1)}, tiny, tiny.x_val, tiny.y_val)[1]
    assert means.to_dict() == pytest.approx({s: v.mean() for s, v in by_seed["none"].items()})
    boot = paired_bootstrap(by_seed["none"], by_seed["dropout"], reps=200)  # none's loss minus dropout's
    gap = sum(by_seed["none"][s].mean() - by_seed["dropout"][s].mean() for s in (0, 1)) / 2
    assert boot.mean == pytest.approx(gap) and boot.low <= boot.mean <= boot.high
