"""The learning-rate range test (lesson 06): train a copy of the model for a few hundred steps while the lr grows
exponentially, and read a good lr off the smoothed loss curve (Smith 2017, "Cyclical learning rates"; fastai's
``lr_find``).

The ramp is PyTorch's ``ExponentialLR`` stepped after every batch. The loss is smoothed with a bias-corrected
exponential moving average (``beta=0.95``, torch-lr-finder's smoothing; fastai's 0.98 lags the falling loss by more
than a decade of lr over a 200-step ramp), and the test stops early once the smoothed loss is ``stop_factor``
times its lowest value (the lr is then far too large). Three suggestion rules are computed, and ``rule`` picks the
one reported:

- ``steepest`` (the default; Smith's and torch-lr-finder's): the lr where the smoothed loss falls fastest per
  decade of lr, searched below the lr of the lowest loss (past it the curve is blowing up, and its wiggles there are
  not descent).
- ``minimum``: a tenth of the lr of the lowest smoothed loss (fastai's ``lr_min``): one decade back from where the
  loss starts to rise.
- ``valley`` (fastai's default since 2021): the longest stretch over which the smoothed loss keeps going down, and
  the lr halfway along it. With a long ramp from a tiny lr the whole left side of the curve goes down slowly, and
  the valley's middle lands far below the other two: lesson 06 shows all three against a real sweep.

The model passed in is never trained: the test runs on a deep copy, so its weights, buffers and mode are as before.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import ExponentialLR

from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.device import as_device, autocast, get_device, seed_everything
from dlopt_kit.core.models import build_model, make_optimizer
from dlopt_kit.core.training import train_batcher

RULES = ("steepest", "minimum", "valley")


@dataclass
class LRFinderResult:
    """The range test's record: the lr and loss of every step, the smoothed loss, and every rule's suggestion."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict[str, float]   # rule -> suggested lr
    rule: str
    stopped_early: bool

    @property
    def suggestion(self) -> float:
        """The lr the chosen ``rule`` suggests."""
        return self.suggestions[self.rule]


def smooth(losses: np.ndarray, beta: float = 0.95) -> np.ndarray:
    """Bias-corrected exponential moving average: ``avg = beta*avg + (1-beta)*loss``, divided by ``1 - beta**k``,
    which is pandas' ``ewm(alpha=1 - beta, adjust=True)``."""
    return pd.Series(losses, dtype=float).ewm(alpha=1 - beta, adjust=True).mean().to_numpy()


def valley_index(smoothed: np.ndarray) -> int:
    """fastai's valley rule: the longest decreasing run of the curve (as a longest decreasing subsequence ending at
    each point), and the index halfway from its start to its end."""
    n = len(smoothed)
    longest = [1] * n
    start_of = list(range(n))
    best_end = 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and longest[j] + 1 > longest[i]:
                longest[i], start_of[i] = longest[j] + 1, start_of[j]
        if longest[i] > longest[best_end]:
            best_end = i
    start = start_of[best_end]
    return start + (best_end - start) // 2


def steepest_index(lrs: np.ndarray, smoothed: np.ndarray) -> int:
    """The index where the smoothed loss falls fastest against log10(lr), at or before the lowest loss."""
    lowest = int(np.argmin(smoothed))
    slope = np.gradient(smoothed, np.log10(lrs))
    return int(np.argmin(slope[:lowest + 1]))


def suggest(lrs: np.ndarray, smoothed: np.ndarray) -> dict[str, float]:
    """Every rule's suggested lr for a range test's ``lrs`` and smoothed losses (see the module docstring)."""
    return {"steepest": float(lrs[steepest_index(lrs, smoothed)]),
            "minimum": float(lrs[int(np.argmin(smoothed))] / 10),
            "valley": float(lrs[valley_index(smoothed)])}


def find_lr(config: RunConfig, data: Splits, model: nn.Module | None = None, start_lr: float = 1e-5,
            end_lr: float = 10.0, steps: int = 200, beta: float = 0.95, stop_factor: float = 4.0,
            rule: str = "steepest", device: torch.device | None = None) -> LRFinderResult:
    """Run the range test for ``config`` (its model, optimizer and batch size; its lr and schedule are replaced by
    the ramp from ``start_lr`` to ``end_lr`` over ``steps`` steps) on ``data``'s training split.

    ``model`` (trained or not) is copied and left untouched; without one, a fresh model is built from
    ``config.seed``. Used by lesson 06 and its panel. A dry run ramps over ``dry_run.RANGE_STEPS`` steps."""
    start_lr = checks.number("start_lr", start_lr, 0.0, 10.0, low_open=True)
    end_lr = checks.number("end_lr", end_lr, start_lr, 100.0, low_open=True)
    steps = dry.cap(checks.whole("steps", steps, 10, 100_000), dry.RANGE_STEPS)
    beta = checks.number("beta", beta, 0.0, 1.0, high_open=True)
    stop_factor = checks.number("stop_factor", stop_factor, 1.0, 1e6, low_open=True)
    rule = checks.choice("rule", rule, RULES)
    device = as_device(device) if device is not None else get_device()
    seed_everything(config.seed, device)
    if model is None:
        net = build_model(config, data.input_shape, data.num_classes).to(device)
    else:
        net = copy.deepcopy(model).to(device)
    net.train()
    optimizer = make_optimizer(config.replace(lr=start_lr), net)
    ramp = ExponentialLR(optimizer, gamma=(end_lr / start_lr) ** (1 / (steps - 1)))
    batcher = train_batcher(config, data, device)
    lrs, losses = [], []
    best, avg, stopped = math.inf, 0.0, False
    while len(lrs) < steps and not stopped:
        for xb, yb in batcher:
            with autocast(device):
                loss = F.cross_entropy(net(xb).float(), yb)
            value = loss.item()
            lrs.append(optimizer.param_groups[0]["lr"])
            losses.append(value)
            avg = beta * avg + (1 - beta) * value
            smoothed_now = avg / (1 - beta ** len(losses))
            if not math.isfinite(value) or smoothed_now > stop_factor * best:
                stopped = True
                break
            best = min(best, smoothed_now)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ramp.step()
            if len(lrs) == steps:
                break
    lrs_arr, losses_arr = np.array(lrs), np.array(losses)
    finite = np.isfinite(losses_arr)
    lrs_arr, losses_arr = lrs_arr[finite], losses_arr[finite]
    smoothed = smooth(losses_arr, beta)
    if len(smoothed) < 3:
        raise ValueError(f"the range test diverged within {len(smoothed)} steps of start_lr={start_lr:g}: "
                         "start lower")
    return LRFinderResult(lrs_arr, losses_arr, smoothed, suggest(lrs_arr, smoothed), rule=rule,
                          stopped_early=stopped)


def upper_lr(result: LRFinderResult) -> float:
    """The range test's upper lr: the lr at its lowest smoothed loss, past which the loss rises. Smith's one-cycle
    policy takes its peak near this upper bound (lesson 06 runs one-cycle there); fastai's recipe picks
    ``fit_one_cycle``'s ``lr_max`` lower, from ``lr_find``'s suggestion (about a tenth of this lr)."""
    return float(result.lrs[int(np.argmin(result.smoothed))])
