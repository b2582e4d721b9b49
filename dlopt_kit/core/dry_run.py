"""The dry run: ``DLOPT_DRY_RUN=1`` runs every notebook at any budget as a crash test, with the work capped.

The splits, pools and streams are built exactly as the budget in force builds them; what is done on them is capped
here, in one place, and applied where the work happens (``fit`` and ``fit_many`` themselves, the loops that do not
go through them, the evaluations and searches): a few optimiser steps per epoch, at most ``EPOCHS`` epochs, the
first ``SEEDS`` seeds, a few trials, short streams, and evaluations and searches on a split's first ``EXAMPLES``
examples. Claims are computed and printed with "dry run: not checked" and never raise. It tests that the code runs
at every budget, nothing more: it is never the default and never a lesson's validation. Nothing outside ``core``
reads the environment variable; lessons and notebooks ask ``dry_run()``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

DRY_RUN_ENV = "DLOPT_DRY_RUN"
STEPS = 3          # optimiser steps per epoch
EPOCHS = 2         # epochs per run, whatever the config says
SEEDS = 2          # the first two seeds
TRIALS = 3         # trials per search
BATCHES = 8        # batches per stream
EXAMPLES = 2000    # examples an evaluation or a search reads from a split
RANGE_STEPS = 20   # steps of the LR range test (lesson 06): enough for a curve and its suggestion
NOT_CHECKED = "dry run: not checked"

T = TypeVar("T")


def dry_run() -> bool:
    """Whether ``DLOPT_DRY_RUN`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(DRY_RUN_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def cap(value: int, limit: int) -> int:
    """``value``, or at most ``limit`` in a dry run."""
    return min(value, limit) if dry_run() else value


def epochs(value: int) -> int:
    return cap(value, EPOCHS)


def steps(value: int) -> int:
    return cap(value, STEPS)


def trials(value: int) -> int:
    return cap(value, TRIALS)


def batches(value: int) -> int:
    return cap(value, BATCHES)


def examples(value: int) -> int:
    return cap(value, EXAMPLES)


def seeds(values: Sequence[T]) -> list[T]:
    """``values`` as a list, or its first ``SEEDS`` in a dry run."""
    values = list(values)
    return values[:SEEDS] if dry_run() else values


def head(*tensors: T) -> tuple[T, ...]:
    """The tensors (or arrays), each cut to its first ``EXAMPLES`` rows in a dry run; unchanged otherwise."""
    return tuple(t[:EXAMPLES] for t in tensors) if dry_run() else tensors


def suffix() -> str:
    """``" (dry run: not checked)"``, appended to a claim's printed line in a dry run; ``""`` otherwise."""
    return f" ({NOT_CHECKED})" if dry_run() else ""
