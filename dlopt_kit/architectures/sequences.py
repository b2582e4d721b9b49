"""A sequence task where recurrence is the natural fit: the temporal order problem (Hochreiter & Schmidhuber, 1997).

Each sequence has ``length`` steps, one symbol per step as a one-hot vector: distractor symbols everywhere but at
two random positions, which hold the markers A or B. The class is the markers' order: AA, AB, BA or BB. Counting the
markers tells AA and BB apart from the rest; telling AB from BA needs to know which came first. A GRU carries what
it saw in its state as it reads; an MLP on the flattened sequence sees each (position, symbol) as an unrelated input
and has to learn the order for every pair of positions separately.
"""

from __future__ import annotations

import numpy as np
import torch

from dlopt_kit.core import checks
from dlopt_kit.core.data import Splits

CLASSES = ["AA", "AB", "BA", "BB"]
DISTRACTORS = 4  # symbols 0-3 are distractors, 4 is A, 5 is B


def order_arrays(n: int, length: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` seeded sequences of the temporal order task: inputs (n, length, 6) one-hot float32, labels 0-3."""
    n = checks.whole("n", n, 1, 10_000_000)
    length = checks.whole("length", length, 2, 10_000)
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, DISTRACTORS, (n, length))
    positions = np.sort(np.stack([rng.choice(length, 2, replace=False) for _ in range(n)]), axis=1)
    markers = rng.integers(0, 2, (n, 2))  # 0 = A, 1 = B
    rows = np.arange(n)
    symbols[rows, positions[:, 0]] = DISTRACTORS + markers[:, 0]
    symbols[rows, positions[:, 1]] = DISTRACTORS + markers[:, 1]
    x = np.eye(DISTRACTORS + 2, dtype=np.float32)[symbols]
    return x, (2 * markers[:, 0] + markers[:, 1]).astype(np.int64)


def order_splits(train: int = 2000, evaluate: int = 1000, length: int = 30, seed: int = 0) -> Splits:
    """Train/val/test splits of the temporal order task (``train`` sequences, ``evaluate`` each for validation and
    test), drawn from one seeded stream: the same arguments always give the same sequences."""
    train, evaluate = checks.whole("train", train, 1), checks.whole("evaluate", evaluate, 1)
    x, y = order_arrays(train + 2 * evaluate, length, seed)
    cut = (train, train + evaluate)
    parts = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in
             ((x[:cut[0]], y[:cut[0]]), (x[cut[0]:cut[1]], y[cut[0]:cut[1]]), (x[cut[1]:], y[cut[1]:]))]
    return Splits("temporal_order", *parts[0], *parts[1], *parts[2], classes=list(CLASSES))
