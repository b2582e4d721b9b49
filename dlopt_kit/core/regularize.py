"""Regularisation (lesson 05): which parameters are penalised, the L1/L2 penalties, and what the history records.

The **weights** are the parameters with two or more dimensions: the matrices of linear layers and the kernels of
convolutions. Biases and batch-norm scales and shifts (one dimension) are left alone by the L1 and L2 penalties and by
the optimizer's ``weight_decay``, as in most modern training code (nanoGPT, timm, the tuning playbook): shrinking a
bias or a norm scale towards zero does not make the model simpler, it only moves its outputs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

# A weight counts as near zero when its magnitude is below this. Adam moves every weight by up to about ``lr`` per
# step whatever its gradient's size, so the weights a penalty drives to zero keep jittering around zero by about the
# learning rate instead of landing on it: the threshold is the size of the kit's default lr (1e-3). At PyTorch's
# default initialisation of lesson 05's MLP (weights uniform in +-1/sqrt(fan_in): +-0.036 and +-0.0625) about 2% of
# the weights are below it.
NEAR_ZERO = 1e-3


def weights(model: nn.Module) -> list[nn.Parameter]:
    """The trainable parameters with two or more dimensions (see the module docstring), in ``model`` order."""
    return [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]


def penalty(params: list[torch.Tensor], l1: float = 0.0, l2: float = 0.0) -> torch.Tensor:
    """``l1 * sum(|w|) + l2 / 2 * sum(w**2)`` over ``params``: the term ``fit`` adds to the training loss.

    With the factor 1/2 the L2 term's gradient is ``l2 * w``, the same as ``weight_decay=l2`` adds to SGD's and
    Adam's gradient, so ``l2`` and ``weight_decay`` are the same number on the same scale.
    """
    total = params[0].new_zeros(()) if params else torch.zeros(())
    if l1:
        total = total + l1 * sum(p.abs().sum() for p in params)
    if l2:
        total = total + (l2 / 2) * sum(p.pow(2).sum() for p in params)
    return total


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Optimizer parameter groups: the weights with ``weight_decay``, biases and norm parameters without.
    With no decay, one group of every trainable parameter (what a hand-written loop passes)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not weight_decay:
        return [{"params": trainable}]
    decayed = {id(p) for p in weights(model)}
    return [{"params": [p for p in trainable if id(p) in decayed], "weight_decay": weight_decay},
            {"params": [p for p in trainable if id(p) not in decayed], "weight_decay": 0.0}]


@torch.no_grad()
def weight_stats(model: nn.Module, threshold: float = NEAR_ZERO) -> dict[str, float]:
    """``weight_norm``: the L2 norm of all the weights together; ``near_zero``: the share of weights whose magnitude
    is below ``threshold`` (``NEAR_ZERO`` by default). ``fit`` records both after every epoch."""
    params = weights(model)
    if not params:
        return {"weight_norm": math.nan, "near_zero": math.nan}
    squares = torch.stack([p.float().pow(2).sum() for p in params]).sum()
    small = sum(int((p.abs() < threshold).sum()) for p in params)
    return {"weight_norm": float(squares.sqrt()), "near_zero": small / sum(p.numel() for p in params)}


def weight_values(model: nn.Module) -> np.ndarray:
    """Every weight of ``model`` as one flat float array (for histograms)."""
    return torch.cat([p.detach().float().flatten().cpu() for p in weights(model)]).numpy()
