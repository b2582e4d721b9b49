"""Parallel sweeps with torch.func: the same numbers as sequential fit runs, and sweep's choice between the two."""

import pytest
import torch

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.parallel import fit_many, measure_speedup, sweep, why_not_parallel
from dlopt_kit.core.training import fit

BASE = RunConfig(model="mlp", hidden=16, batch_size=32, epochs=3)


@pytest.mark.parametrize("optimizer,lrs", [("sgd", (0.01, 0.05)), ("adam", (1e-3, 3e-3)), ("adamw", (1e-3, 3e-3))])
def test_fit_many_matches_sequential_fit(tiny, optimizer, lrs):
    configs = [BASE.replace(optimizer=optimizer, lr=lr, weight_decay=wd) for lr in lrs for wd in (0.0, 0.01)]
    together = fit_many(configs, tiny)
    for config, par in zip(configs, together, strict=True):
        seq = fit(config, tiny, progress=False)
        a, b = seq.history.to_frame(), par.history.to_frame()
        for column in ("train_loss", "train_acc", "val_loss", "val_acc", "weight_norm"):
            assert a[column].tolist() == pytest.approx(b[column].tolist(), abs=1e-5), (config, column)
        assert seq.best_epoch == par.best_epoch and par.stop_reason == "completed"
        for (name, p), q in zip(seq.model.state_dict().items(), par.model.state_dict().values(), strict=True):
            assert torch.allclose(p, q, atol=1e-5), (config, name)


def test_weight_decay_reaches_the_weights_only(tiny):
    one = fit_many([BASE.replace(optimizer="sgd", lr=0.05, weight_decay=0.0),
                    BASE.replace(optimizer="sgd", lr=0.05, weight_decay=0.5)], tiny)
    assert one[1].history[-1]["weight_norm"] < one[0].history[-1]["weight_norm"]
    seq = fit(BASE.replace(optimizer="sgd", lr=0.05, weight_decay=0.5), tiny, progress=False)
    assert torch.allclose(seq.model[-1].bias, one[1].model[-1].bias, atol=1e-5)  # biases: no decay, as in fit


def test_a_diverging_config_stops_alone_with_fits_reason(tiny):
    configs = [BASE.replace(optimizer="sgd", lr=0.05), BASE.replace(optimizer="sgd", lr=10.0)]
    with pytest.warns(RuntimeWarning):
        seq = fit(configs[1], tiny, progress=False)
    good, bad = fit_many(configs, tiny)
    assert bad.stop_reason == seq.stop_reason and bad.stop_reason.startswith("diverged")
    assert len(bad.history) == len(seq.history) and good.stop_reason == "completed" and len(good.history) == 3
    assert good.history.to_frame().val_loss.tolist() == pytest.approx(
        fit(configs[0], tiny, progress=False).history.to_frame().val_loss.tolist(), abs=1e-5)


def test_what_cannot_train_together_is_named(tiny):
    assert why_not_parallel([BASE, BASE.replace(lr=0.1)]) is None
    assert "hidden" in why_not_parallel([BASE, BASE.replace(hidden=32)])
    assert "dropout" in why_not_parallel([BASE.replace(dropout=0.2)])
    assert "model" in why_not_parallel([BASE.replace(model="cnn")])
    assert "constant" in why_not_parallel([BASE.replace(schedule="cosine")])
    with pytest.raises(ValueError, match="differ in hidden"):
        fit_many([BASE, BASE.replace(hidden=32)], tiny)


def test_sweep_gives_compares_table_either_way(tiny):
    configs = {f"lr={lr}": BASE.replace(optimizer="sgd", lr=lr) for lr in (0.01, 0.05)}
    together = sweep(configs, tiny, seeds=(0, 1), parallel=True, progress=False)
    apart = sweep(configs, tiny, seeds=(0, 1), parallel=False, progress=False)
    assert together.attrs["parallel"].startswith("parallel") and apart.attrs["parallel"].startswith("sequential")
    assert list(together.columns) == list(apart.columns)
    assert together["test_acc"].tolist() == pytest.approx(apart["test_acc"].tolist(), abs=1e-6)
    assert together["val_loss"].tolist() == pytest.approx(apart["val_loss"].tolist(), abs=1e-5)
    auto = sweep(configs, tiny, seeds=(0,), progress=False)
    assert auto.attrs["parallel"].split(":")[0] in ("parallel", "sequential")
    with pytest.raises(ValueError, match="parallel='maybe' is not allowed"):
        sweep(configs, tiny, parallel="maybe")
    with pytest.raises(ValueError, match="cannot train together: dropout"):
        sweep([BASE.replace(dropout=0.1), BASE.replace(dropout=0.1, lr=0.1)], tiny, parallel=True)


def test_measure_speedup_is_a_positive_ratio(tiny):
    ratio = measure_speedup([BASE.replace(lr=lr) for lr in (1e-3, 2e-3, 3e-3, 4e-3)], tiny, steps=3)
    assert 0 < ratio < 100
