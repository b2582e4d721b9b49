"""The training-loop benchmarks: ``overhead``, ``batching`` and ``augment`` (run by ``python -m dlopt_kit.bench``)."""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from dlopt_kit.core.batching import Batcher
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits, load_splits
from dlopt_kit.core.device import autocast, get_device
from dlopt_kit.core.models import build_model
from dlopt_kit.core.training import fit


def hand_written_fit(config: RunConfig, data: Splits, device: torch.device) -> torch.nn.Module:
    """The loop a careful person writes by hand: shuffle, step, and a validation pass each epoch."""
    torch.manual_seed(config.seed)
    model = build_model(config, data.input_shape, data.num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, foreach=True)  # as fit's
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


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
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
            equal = equal and same_weights(models["kit"], models["hand"])
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


BENCH_SPEC = dict(rotate=30.0, translate=0.15, scale=0.3, hflip=0.5, brightness=0.3, contrast=0.3, erase=0.5)


class _PerSample(torch.utils.data.Dataset):
    """The common recipe: a Dataset that applies torchvision transforms to one image at a time."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform) -> None:
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.transform(self.x[i]), self.y[i]


def augment(reps: int = 5, per_class: int = 1000, batch_size: int = 64) -> tuple[float, float]:
    from torchvision.transforms import v2

    from dlopt_kit.core.augment import Augmenter, AugmentSpec

    device = get_device()
    data = load_splits("fashion_mnist", train_per_class=per_class, eval_per_class=20)
    s = BENCH_SPEC
    recipe = v2.Compose([v2.RandomAffine(degrees=s["rotate"], translate=(s["translate"],) * 2,
                                         scale=(1 - s["scale"], 1 + s["scale"])),
                         v2.RandomHorizontalFlip(s["hflip"]),
                         v2.ColorJitter(brightness=s["brightness"], contrast=s["contrast"]),
                         v2.RandomErasing(p=s["erase"], scale=(0.02, 0.2))])
    loader = DataLoader(_PerSample(data.x_train, data.y_train, recipe), batch_size=batch_size, shuffle=True)
    spec = AugmentSpec(**s)
    augmenter = Augmenter(spec, check_range=False).to(device)  # as fit builds it
    x, y = data.x_train.to(device), data.y_train.to(device)

    def per_sample() -> int:
        return sum(len(xb.to(device)) for xb, _ in loader)

    def batched() -> int:
        return sum(len(augmenter(xb)) for xb, _ in Batcher(x, y, batch_size, seed=0))

    batched()  # warm-up
    ratios, kit_times = [], []
    for rep in range(reps):
        t_a, n_a = _timed(per_sample, device)
        t_b, n_b = _timed(batched, device)
        assert n_a == n_b == len(x)
        ratios.append(t_a / t_b)
        kit_times.append(t_b)
        print(f"rep {rep}: per-sample DataLoader {t_a:.3f}s, kit batched {t_b:.3f}s for {len(x)} images, "
              f"ratio {ratios[-1]:.1f}")
    config = RunConfig(model="cnn", batch_size=batch_size, epochs=1, augment=spec)
    t_fit, _ = _timed(lambda: fit(config, data, device=device, progress=False), device)
    share = statistics.median(kit_times) / t_fit
    print(f"one training epoch of the small CNN with augmentation: {t_fit:.2f}s, of which augmentation "
          f"{statistics.median(kit_times):.2f}s")
    return statistics.median(ratios), share
