"""Benchmarks: ratios measured side by side in one run (never timed unit tests).

``python -m dlopt_kit.bench overhead``: the kit's ``fit`` against a minimal hand-written PyTorch loop, same
model, data and seed, at least 500 steps, runs interleaved; prints the median time ratio kit/hand-written for
the small CNN and the MLP, and whether the final weights are bitwise equal.

``python -m dlopt_kit.bench batching``: one epoch through ``DataLoader(TensorDataset)`` against the kit's
``Batcher``; prints the median ratio DataLoader/kit.

Each prints its ratios on its last line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from .batching import Batcher
from .config import RunConfig
from .data import Splits, load_splits
from .device import autocast, configure_threads, device_name, get_device
from .models import build_model
from .training import fit


def hand_written_fit(config: RunConfig, data: Splits, device: torch.device) -> torch.nn.Module:
    """The loop a careful person writes by hand: shuffle, step, and a validation pass each epoch."""
    torch.manual_seed(config.seed)
    model = build_model(config, data.input_shape, data.num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    x, y = data.x_train.to(device), data.y_train.to(device)
    x_val, y_val = data.x_val.to(device), data.y_val.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    for _epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator).to(device)
        total = 0.0
        for lo in range(0, len(x), config.batch_size):
            idx = order[lo:lo + config.batch_size]
            with autocast(device):
                loss = F.cross_entropy(model(x[idx]).float(), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad(), autocast(device):
            _val_acc = (model(x_val).argmax(1) == y_val).float().mean().item()
    return model


def _timed(fn, device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, out


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def overhead(reps: int = 5, per_class: int = 200) -> dict[str, tuple[float, bool]]:
    device = get_device()
    data = load_splits("fashion_mnist", train_per_class=per_class, eval_per_class=100).to(device)
    out = {}
    for model in ("cnn", "mlp"):
        batch = 32
        steps_per_epoch = -(-len(data.y_train) // batch)
        config = RunConfig(model=model, optimizer="adam", lr=1e-3, batch_size=batch, seed=0,
                           epochs=max(1, -(-500 // steps_per_epoch)))
        ratios, equal = [], True
        fit(config.replace(epochs=1), data, device=device, progress=False)  # warm-up, not timed
        hand_written_fit(config.replace(epochs=1), data, device)
        for rep in range(reps):
            runs = [("kit", lambda c=config: fit(c, data, device=device, progress=False, restore_best=False).model),
                    ("hand", lambda c=config: hand_written_fit(c, data, device))]
            if rep % 2:
                runs.reverse()  # interleave, alternating who goes first
            times, models = {}, {}
            for name, fn in runs:
                times[name], models[name] = _timed(fn, device)
            equal = equal and _same_weights(models["kit"], models["hand"])
            ratios.append(times["kit"] / times["hand"])
            print(f"{model} rep {rep}: kit {times['kit']:.2f}s, hand-written {times['hand']:.2f}s, "
                  f"ratio {ratios[-1]:.3f} ({config.epochs * steps_per_epoch} steps)")
        out[model] = (statistics.median(ratios), equal)
    return out


def batching(reps: int = 5, batch_size: int = 64) -> float:
    device = get_device()
    data = load_splits("fashion_mnist")
    x, y = data.x_train.to(device), data.y_train.to(device)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    batcher = Batcher(x, y, batch_size, seed=0)

    def epoch(iterable) -> int:
        seen = 0
        for xb, _yb in iterable:
            seen += len(xb)
        return seen

    ratios = []
    for rep in range(reps):
        t_loader, n_loader = _timed(lambda: epoch(loader), device)
        t_kit, n_kit = _timed(lambda: epoch(batcher), device)
        assert n_loader == n_kit == len(x)
        ratios.append(t_loader / t_kit)
        print(f"rep {rep}: DataLoader {t_loader:.3f}s, kit {t_kit:.3f}s for {len(x)} examples, "
              f"ratio {ratios[-1]:.1f}")
    return statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlopt_kit.bench")
    parser.add_argument("which", choices=("overhead", "batching"))
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    configure_threads()
    print(f"device: {device_name(get_device())}, torch {torch.__version__}")
    if args.which == "overhead":
        res = overhead(args.reps)
        print(" | ".join(f"{m}: kit/hand-written {r:.3f} (goal <= {1.05 if m == 'cnn' else 1.15}), "
                         f"weights bitwise equal: {eq}" for m, (r, eq) in res.items()))
    else:
        ratio = batching(args.reps)
        print(f"batching: DataLoader/kit {ratio:.1f} (goal >= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
