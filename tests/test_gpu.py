"""GPU paths: run only where CUDA is present (the notebooks and benchmarks cover the rest there)."""

import pytest
import torch

from dlopt_kit.bench import loop as bench
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import evaluate, fit

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


@gpu
def test_fit_on_cuda_trains_in_bf16_and_keeps_best_weights(small):
    result = fit(RunConfig(model="cnn", epochs=3, batch_size=64, lr=3e-3), small, device=CUDA, progress=False)
    assert result.device == "cuda" and result.completed
    assert next(result.model.parameters()).device.type == "cuda"
    assert result.history[-1]["val_acc"] > 0.6
    val_loss, _ = evaluate(result.model, small.x_val, small.y_val)
    assert val_loss == pytest.approx(result.history[result.best_epoch - 1]["val_loss"], rel=1e-4)


@gpu
def test_hand_written_loop_matches_fit_on_cuda(tiny):
    config = RunConfig(model="mlp", epochs=2, batch_size=16, seed=3)
    kit = fit(config, tiny, device=CUDA, progress=False, restore_best=False).model
    hand = bench.hand_written_fit(config, tiny, CUDA)
    assert bench.same_weights(kit, hand)
