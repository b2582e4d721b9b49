"""Device-resident batching: the data stays one tensor, batches are ``randperm`` slices.

For data that fits in memory this replaces ``DataLoader(TensorDataset(...))``, which collates every batch
from single examples in Python (``python -m dlopt_kit.bench batching`` measures the difference).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class Batcher:
    """Iterate ``(x, y)`` batches of in-memory tensors; shuffled with its own seeded generator.

    Each pass draws a fresh permutation, so epoch ``k`` of a run with seed ``s`` always sees the same order.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}: they must match")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a whole number of at least 1")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)  # CPU generator: same order on every device

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
        for i in range(len(self)):
            lo, hi = i * self.batch_size, min((i + 1) * self.batch_size, n)
            if self.shuffle:
                idx = order[lo:hi]  # index_select: the same rows as x[idx], several times faster on a CPU
                yield self.x.index_select(0, idx), self.y.index_select(0, idx)
            else:
                yield self.x[lo:hi], self.y[lo:hi]
