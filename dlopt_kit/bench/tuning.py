"""The tuning benchmarks behind ``python -m dlopt_kit.bench search`` and ``... sweep``.

``search``: a 27-config grid (9 learning rates x 3 weight decays, 9 epochs each) trained in full, against pruned
searches on the same problem: the grid in a seeded random order with successive halving, and TPE with Hyperband
over the continuous ranges. For each search seed, the epochs a search spends until one of its completed trials is
within 0.3 points of the full grid's best validation accuracy; the ratio full grid / pruned search, median over
search seeds (a search that never gets there scores a ratio of 0).

``sweep``: N sequential ``fit`` runs against one ``fit_many`` run of the same N configs (a small MLP, per-config
lr and weight decay), N = 8 and 32, runs interleaved, median over repetitions; and whether the results match.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import load_splits
from dlopt_kit.core.parallel import fit_many
from dlopt_kit.core.training import fit
from dlopt_kit.hyperparameter_tuning.search import SearchSpace, repeat_search

SEARCH_BASE = RunConfig(model="mlp", hidden=32, optimizer="sgd", epochs=9)
SEARCH_SPACE = SearchSpace({"lr": ("log", 1e-3, 1.0), "weight_decay": ("log", 1e-6, 1e-2)})
WITHIN = 0.003  # 0.3 points of accuracy


def _epochs_to_reach(table, target: float) -> tuple[int, bool]:
    reached = table[table["value"] >= target]
    if reached.empty:
        return int(table["epochs"].sum()), False
    return int(table.loc[reached.index[0], "epochs_so_far"]), True


def search(search_seeds: int = 5, per_class: int = 300) -> dict[str, dict]:
    data = load_splits("fashion_mnist", train_per_class=per_class, eval_per_class=200)
    cache: dict = {}
    grid_points = {"lr": 9, "weight_decay": 3}
    full = repeat_search(SEARCH_BASE, data, SEARCH_SPACE, "grid", 27, (0,), cache=cache, grid_points=grid_points,
                         progress=False)
    best, full_epochs = float(full["value"].max()), int(full["epochs"].sum())
    print(f"full grid: 27 configs, {full_epochs} epochs, best val_acc {best:.4f}; target {best - WITHIN:.4f}")
    out = {}
    for name, method, pruner, trials in (("grid + successive halving", "grid", "sha", 27),
                                         ("TPE + Hyperband", "tpe", "hyperband", 27)):
        table = repeat_search(SEARCH_BASE, data, SEARCH_SPACE, method, trials, range(search_seeds), pruner=pruner,
                              cache=cache, grid_points=grid_points, progress=False)
        spent, hits = zip(*(_epochs_to_reach(t, best - WITHIN) for _, t in table.groupby("search_seed")), strict=True)
        ratios = [full_epochs / s if hit else 0.0 for s, hit in zip(spent, hits, strict=True)]  # never: fails
        out[name] = {"ratio": statistics.median(ratios), "epochs": list(spent), "reached": list(hits)}
        print(f"{name}: epochs to within 0.3 points per search seed {list(spent)} (reached: {list(hits)}); "
              f"full grid / pruned median {statistics.median(ratios):.2f}")
    return out


def sweep(sizes: tuple[int, ...] = (8, 32), reps: int = 3, per_class: int = 300) -> dict[int, tuple[float, bool]]:
    data = load_splits("fashion_mnist", train_per_class=per_class, eval_per_class=200)
    out = {}
    for n in sizes:
        lrs = np.geomspace(1e-3, 0.1, n // 2).tolist()
        configs = [RunConfig(model="mlp", hidden=32, optimizer="sgd", lr=float(f"{lr:.4g}"), weight_decay=wd,
                             epochs=3) for lr in lrs for wd in (0.0, 1e-3)]
        fit(configs[0], data, progress=False)  # warm-up
        fit_many(configs[:2], data)
        seq_times, par_times = [], []
        for _ in range(reps):
            started = time.perf_counter()
            sequential = [fit(c, data, progress=False) for c in configs]
            seq_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            together = fit_many(configs, data)
            par_times.append(time.perf_counter() - started)
        match = all(np.allclose(a.history.to_frame()["val_loss"], b.history.to_frame()["val_loss"], atol=1e-4)
                    for a, b in zip(sequential, together, strict=True))
        ratio = statistics.median(seq_times) / statistics.median(par_times)
        out[n] = (ratio, match)
        print(f"N={n}: sequential {statistics.median(seq_times):.2f} s, parallel {statistics.median(par_times):.2f} s,"
              f" ratio {ratio:.2f}, results match (val_loss within 1e-4): {match}")
    return out


def device_goal(device: torch.device) -> str:
    return ">= 10 at 32" if device.type == "cuda" else ">= 2 at 8, >= 3.5 at 32"
