"""Benchmarks: ratios measured side by side in one run (never timed unit tests).

``python -m dlopt_kit.bench overhead``: the kit's ``fit`` against a minimal hand-written PyTorch loop, same
model, data and seed, at least 500 steps, runs interleaved; prints the median time ratio kit/hand-written for
the small CNN and the MLP, and whether the final weights are bitwise equal.

``python -m dlopt_kit.bench batching``: one epoch through ``DataLoader(TensorDataset)`` against the kit's
``Batcher``; prints the median ratio DataLoader/kit.

``python -m dlopt_kit.bench augment``: one epoch of 28x28 images augmented (a) per sample through a DataLoader with
torchvision transforms and (b) by the kit's batched on-device ``Augmenter``; prints the median ratio a/b and the
augmentation's share of a training epoch's time.

``python -m dlopt_kit.bench search`` and ``... sweep``: the tuning benchmarks (``dlopt_kit.bench.tuning``);
``... workers``: trials per minute with 1, 2 and 4 worker processes on one shared study on PostgreSQL
(``dlopt_kit.bench.workers``).

Each prints its ratios on its last line.
"""

from __future__ import annotations

import argparse
import os
import statistics

import torch

from dlopt_kit.bench import loop
from dlopt_kit.core.device import configure_threads, device_name, get_device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlopt_kit.bench")
    parser.add_argument("which", choices=("overhead", "batching", "augment", "search", "sweep", "workers"))
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    configure_threads()
    print(f"device: {device_name(get_device())}, torch {torch.__version__}")
    if args.which == "overhead":
        res = loop.overhead(args.reps)
        print(" | ".join(f"{m}: kit/hand-written {r:.3f} (goal <= {1.05 if m == 'cnn' else 1.15}), "
                         f"weights bitwise equal: {eq}" for m, (r, eq) in res.items()))
    elif args.which == "batching":
        ratio = loop.batching(args.reps)
        print(f"batching: DataLoader/kit {ratio:.1f} (goal >= 1.3)")
    elif args.which == "search":
        from dlopt_kit.bench import tuning as bench_tuning

        res = bench_tuning.search()
        print(" | ".join(f"search: full grid / {name} {r['ratio']:.2f} (goal >= 3)" for name, r in res.items()))
    elif args.which == "sweep":
        from dlopt_kit.bench import tuning as bench_tuning

        res = bench_tuning.sweep(reps=args.reps)
        print("sweep: sequential/parallel " + ", ".join(f"N={n} {r:.2f}" for n, (r, _) in res.items())
              + f" (goal {bench_tuning.device_goal(get_device())}); results match: "
              + str(all(m for _, m in res.values())))
    elif args.which == "workers":
        from dlopt_kit.bench.workers import workers

        res = workers(reps=1 if args.reps == 5 else args.reps)
        one = res[1][0]
        print(f"workers: speed-up with 2 workers {res[2][0] / one:.2f}, with 4 workers {res[4][0] / one:.2f} "
              f"({os.cpu_count()} cores here; on 2 cores expect about 2 at 2 workers and no more at 4); storage "
              f"overhead {statistics.median(o for _, o in res.values()):.1%} of a trial")
    else:
        ratio, share = loop.augment(args.reps)
        print(f"augment: per-sample DataLoader/kit batched {ratio:.1f} (goal >= 5), "
              f"augmentation share of a training step {share:.0%} (goal <= 20%)")
    return 0
