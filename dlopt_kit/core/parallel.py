"""Parallel sweeps: several configs of a small MLP trained at once on one device with ``torch.func``.

The configs' parameters are stacked (``stack_module_state``), one forward and backward pass runs for all of them
(``vmap`` over ``functional_call``) on the same batches, and SGD, Adam or AdamW steps every config with its own lr
and weight decay. What ``fit`` would do for each config alone, ``fit_many`` does for all of them together: the same
initial weights (the configs share a seed), the same batch order, the same update rules (weight decay on the weights
only), the best epoch kept by ``config.monitor``, a diverging config stopped on its own. The results match
sequential ``fit`` runs within float tolerance (a test checks it).

It pays where one config's step is mostly fixed overhead (small layers, small batches), which is common on a CPU;
``sweep`` measures a few steps both ways and trains in parallel only where that was faster.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.callbacks import StopReason
from dlopt_kit.core.compare import compare, label_configs, run_frame
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.device import as_device, get_device, seed_everything
from dlopt_kit.core.fit_callbacks import GRAD_NORM_EVERY, BestWeights, DivergenceGuard, divergence_message
from dlopt_kit.core.history import History
from dlopt_kit.core.models import build_model
from dlopt_kit.core.regularize import weight_stats
from dlopt_kit.core.training import FitResult, check_fit, evaluate, fit, train_batcher

#: the fields that may differ between the configs of one parallel run
VARYING = ("lr", "weight_decay", "seed")
_ADAM_BETAS, _ADAM_EPS = (0.9, 0.999), 1e-8


def why_not_parallel(configs: Sequence[RunConfig]) -> str | None:
    """None when ``fit_many`` can train ``configs`` together, else the reason in one sentence."""
    if not configs:
        return "there are no configs"
    first = configs[0]
    plain = {"model": "mlp", "batch_norm": False, "dropout": 0.0, "input_dropout": 0.0, "grad_clip": None,
             "l1": 0.0, "l2": 0.0, "patience": 0, "class_weight": "none", "label_smoothing": 0.0}
    for field, allowed in plain.items():
        if getattr(first, field) != allowed:
            return f"{field}={getattr(first, field)!r}: parallel runs need {field}={allowed!r}"
    if first.augment:
        return "augment is on: parallel runs need no augmentation"
    if first.schedule.kind != "constant":
        return f"schedule={first.schedule.kind!r}: parallel runs need a constant lr"
    base = {k: v for k, v in first.to_dict().items() if k not in VARYING}
    for config in configs[1:]:
        other = {k: v for k, v in config.to_dict().items() if k not in VARYING}
        differ = sorted(k for k in base if base[k] != other[k])
        if differ:
            return f"the configs differ in {', '.join(differ)}: parallel runs may differ only in {', '.join(VARYING)}"
    return None


def _flatten(stacked: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One (configs, parameters) tensor holding every stacked parameter, and the parameters as views into it: the
    optimizer then updates all of a config's parameters with a handful of operations per step."""
    flat = torch.cat([v.detach().flatten(1) for v in stacked.values()], 1).contiguous()
    views, offset = {}, 0
    for name, value in stacked.items():
        size = value[0].numel()
        views[name] = flat[:, offset:offset + size].view(value.shape)
        offset += size
    return flat, views


class _Optimizer:
    """SGD (with momentum), Adam or AdamW over the flat parameters of every config, each with its own lr and weight
    decay, following the update rules that ``torch.optim`` documents; decay applies to the weights only (ndim >= 2
    per config), as ``models.make_optimizer`` sets it."""

    def __init__(self, configs: Sequence[RunConfig], flat: torch.Tensor, views: dict[str, torch.Tensor]) -> None:
        self.kind, self.momentum = configs[0].optimizer, configs[0].momentum
        column = {"dtype": flat.dtype, "device": flat.device}
        self.lr = torch.tensor([c.lr for c in configs], **column).unsqueeze(1)
        is_weight = torch.cat([torch.full((v[0].numel(),), float(v.ndim >= 3), **column) for v in views.values()])
        self.decay = torch.tensor([c.weight_decay for c in configs], **column).unsqueeze(1) * is_weight
        self.state: dict[str, torch.Tensor] = {}
        self.steps = 0

    @torch.no_grad()
    def step(self, flat: torch.Tensor, grad: torch.Tensor, active: torch.Tensor) -> None:
        """Update ``flat`` in place from ``grad`` (same shape); configs where ``active`` is False keep their values."""
        self.steps += 1
        flat.copy_(torch.where(active.unsqueeze(1), self._update(flat, grad), flat))

    def _update(self, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        lr, decay, state = self.lr, self.decay, self.state
        if self.kind == "sgd":
            g = g + decay * p
            if self.momentum:
                buf = state.get("buf")
                g = state["buf"] = g.clone() if buf is None else buf.mul_(self.momentum).add_(g)
            return p - lr * g
        if self.kind == "adamw":
            p = p * (1 - lr * decay)
        else:
            g = g + decay * p
        (b1, b2), t = _ADAM_BETAS, self.steps
        m = state["m"] = state.get("m", torch.zeros_like(p)).lerp_(g, 1 - b1)
        v = state["v"] = state.get("v", torch.zeros_like(p)).mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(_ADAM_EPS)
        return p - (lr / (1 - b1**t)) * m / denom


def fit_many(configs: Sequence[RunConfig], data: Splits, device: torch.device | None = None) -> list[FitResult]:
    """Train ``configs`` (one MLP each, differing only in lr, weight decay and seed) at once; one ``FitResult`` per
    config, as ``fit(config, data, progress=False)`` returns it (history, best weights restored, stop reason).

    Each config's seed draws its own initial weights, as ``fit`` would; the batches come in the first config's order
    for all of them (one stream of batches feeds every model). Configs with different seeds are thus independently
    initialised members sharing a data order: an ensemble (``ensembles.train_members``). A dry run caps it as it
    caps ``fit``."""
    configs = list(configs)
    reason = why_not_parallel(configs)
    if reason:
        raise ValueError(f"fit_many cannot train these configs together: {reason}. Use compare() or fit() instead.")
    check_fit(configs[0], data)  # the others differ only in lr and weight decay, which RunConfig has checked
    device = as_device(device) if device is not None else get_device()
    first, n = configs[0], len(configs)
    templates: dict[int, torch.nn.Module] = {}
    for config in configs:  # each seed's initial weights, drawn as fit draws them
        if config.seed not in templates:
            seed_everything(config.seed, device)
            templates[config.seed] = build_model(config, data.input_shape, data.num_classes).to(device)
    seed_everything(first.seed, device)  # the batch order of the first config
    template = templates[first.seed]
    stacked, _ = stack_module_state([templates[c.seed] for c in configs])
    flat, params = _flatten(stacked)
    base = copy.deepcopy(template).to("meta")

    def loss_and_logits(p: dict[str, torch.Tensor], xb: torch.Tensor, yb: torch.Tensor):
        logits = functional_call(base, p, (xb,))
        return F.cross_entropy(logits, yb), logits

    step_fn = vmap(grad_and_value(loss_and_logits, has_aux=True), in_dims=(0, None, None))
    probe = copy.deepcopy(template)  # one config's weights at a time, for fit's evaluate, weight_stats, best weights
    optimizer = _Optimizer(configs, flat, params)
    batcher = train_batcher(first, data, device)
    x_val, y_val = data.x_val.to(device, torch.float32), data.y_val.to(device)
    active = [True] * n
    stopped_in = [0] * n  # the epoch in which a config diverged
    reasons = [""] * n
    guards = [DivergenceGuard() for _ in range(n)]  # fit's rules, per config
    bests = [BestWeights(first.monitor) for _ in range(n)]
    histories = [History() for _ in range(n)]
    steps_cap = dry.steps(len(batcher))  # every batch, unless a dry run caps them
    for epoch in range(1, dry.epochs(first.epochs) + 1):
        started = time.perf_counter()
        loss_sum, correct, seen, steps = [0.0] * n, [0] * n, [0] * n, [0] * n
        norms: list[torch.Tensor] = []
        for xb, yb in batcher:
            grads, (loss, logits) = step_fn(params, xb, yb)
            values = loss.tolist()  # the one sync per step
            for i, value in enumerate(values):
                if not active[i]:
                    continue
                if guards[i].diverged(value):
                    active[i], stopped_in[i] = False, epoch
                    reasons[i] = divergence_message(configs[i], epoch, steps[i] + 1, value, guards[i].first)
            if not any(active):
                break
            grad = torch.cat([g.flatten(1) for g in grads.values()], 1)
            if max(steps) % GRAD_NORM_EVERY == 0:  # as often as fit measures it
                norms.append(grad.norm(dim=1))
            optimizer.step(flat, grad, torch.tensor(active, device=device))
            hits = (logits.argmax(-1) == yb).sum(1).tolist()
            for i in range(n):
                if active[i]:
                    loss_sum[i] += values[i] * len(yb)
                    correct[i] += hits[i]
                    seen[i] += len(yb)
                    steps[i] += 1
            if max(steps) == steps_cap:
                break
        seconds = (time.perf_counter() - started) / n
        recorded = [i for i in range(n) if steps[i] and (active[i] or stopped_in[i] == epoch)]
        mean_norm = torch.stack(norms).mean(0).tolist() if recorded else []
        for i in recorded:
            probe.load_state_dict({k: v[i] for k, v in params.items()})
            val_loss, val_acc = evaluate(probe, x_val, y_val)
            record = {"epoch": epoch, "train_loss": loss_sum[i] / seen[i], "train_acc": correct[i] / seen[i],
                      "val_loss": val_loss, "val_acc": val_acc, "lr": configs[i].lr, "grad_norm": mean_norm[i],
                      "seconds": seconds, **weight_stats(probe)}
            histories[i].append(record)
            bests[i].update(record, probe)
        if not any(active):
            break
    results = []
    for i, config in enumerate(configs):
        model = copy.deepcopy(template)
        model.load_state_dict({k: v[i] for k, v in params.items()})
        result = FitResult(config, histories[i], model, bests[i].best_state, bests[i].best_epoch,
                           reasons[i] or StopReason.COMPLETED.value, device=device.type)
        result.restore_best()
        results.append(result)
    return results


def _probe_splits(data: Splits, rows: int) -> Splits:
    """The first ``rows`` training examples (and as many validation ones): a cheap stand-in for timing a step."""
    cut = {k: getattr(data, k)[:rows] for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
    return Splits(data.name, classes=data.classes, **cut)


def measure_speedup(configs: Sequence[RunConfig], data: Splits, steps: int = 6,
                    device: torch.device | None = None) -> float:
    """Time of ``len(configs)`` sequential runs / time of one parallel run, each over ``steps`` training steps of
    one epoch on a slice of ``data`` (about a tenth of a second on a CPU). ``sweep`` trains in parallel when it is
    above 1.2; ``python -m dlopt_kit.bench sweep`` measures whole runs instead."""
    probe = _probe_splits(data, steps * configs[0].batch_size)
    short = [c.replace(epochs=1) for c in configs]
    fit(short[0], probe, progress=False, device=device)  # warm-up: first calls allocate
    fit_many(short[:2], probe, device=device)
    started = time.perf_counter()
    fit(short[0], probe, progress=False, device=device)
    one = time.perf_counter() - started
    started = time.perf_counter()
    fit_many(short, probe, device=device)
    together = time.perf_counter() - started
    return len(configs) * one / together


def sweep(configs: Sequence[RunConfig] | Mapping[str, RunConfig], data: Splits, seeds: Sequence[int] = (0, 1, 2),
          parallel: bool | str = "auto", progress: bool = True, device: torch.device | None = None) -> pd.DataFrame:
    """``compare``'s table for ``configs`` over ``seeds``, trained in parallel (``fit_many``, one group per seed)
    where that is possible and, with ``parallel="auto"``, measured to be faster here; sequentially otherwise.

    The table's ``attrs["parallel"]`` says which way it ran and why."""
    if parallel not in (True, False, "auto"):
        raise ValueError(f"parallel={parallel!r} is not allowed: use True, False or 'auto'")
    labels = [str(k) for k in configs] if isinstance(configs, Mapping) else label_configs(list(configs))
    configs = list(configs.values()) if isinstance(configs, Mapping) else list(configs)
    reason = why_not_parallel(configs) if len(configs) > 1 else "there is only one config"
    if parallel is True and reason:
        raise ValueError(f"parallel=True, but these configs cannot train together: {reason}")
    if parallel == "auto" and not reason:
        ratio = measure_speedup(configs, data, device=device)
        reason = None if ratio > 1.2 else f"a parallel step measured only {ratio:.2f}x faster here"
    if parallel is False or reason:
        table = compare(dict(zip(labels, configs, strict=True)), data, seeds, progress=progress, device=device)
        table.attrs["parallel"] = f"sequential: {reason or 'parallel=False'}"
        return table
    frames, seeds = {}, checks.seeds("seeds", seeds)
    for seed in seeds:
        results = fit_many([c.replace(seed=seed) for c in configs], data, device=device)
        for label, result in zip(labels, results, strict=True):
            frames[label, seed] = run_frame(label, seed, result, data)
    table = pd.concat([frames[label, seed] for label in labels for seed in seeds], ignore_index=True)  # compare's order
    table.attrs["parallel"] = f"parallel: {len(configs)} configs at once per seed"
    return table
