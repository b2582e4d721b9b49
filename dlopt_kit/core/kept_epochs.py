"""Kept epochs: whether an arm of a claim had stopped improving before its epoch budget ran out.

An arm's kept epoch is its best-validation epoch (the weights ``fit`` keeps), whatever epoch a claim reads. If it
lies in the last fifth of the arm's epochs (its last ``round(E / 5)`` epochs of ``E``, at least the last one: 6 of 6,
7-8 of 8, 9-10 of 10, 25-30 of 30) in most seeds, the arm was still improving when its budget ended, and a
comparison with it measures who converges first rather than the technique: the claim fails and says "give it more
epochs". A run that early stopping ended had stopped improving, whatever its kept epoch. Where equal compute is the
point (an annealed schedule against a constant lr), the claim names the arm in ``fixed_budget`` with the reason,
which is printed next to the result and kept in the ledger.

``per_seed`` (``claims``) attaches an arm's ``ArmEpochs`` to the Series it returns, so any claim read from a
``compare`` table carries its epochs; a Series computed from it (a difference, a ratio) does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from dlopt_kit.core.callbacks import StopReason
from dlopt_kit.core.compare import best_rows, final_epochs
from dlopt_kit.core.training import FitResult

ATTR = "kept_epochs"
ENDED_EARLY = (StopReason.EARLY_STOPPING, StopReason.DIVERGED)


def last_fifth(budget: int) -> int:
    """How many of a budget's epochs make its last fifth: ``round(budget / 5)``, at least one."""
    return max(1, round(budget / 5))


@dataclass(frozen=True)
class ArmEpochs:
    """One arm's kept epoch and epoch budget per seed, and whether each run ended before its budget for a reason that
    says it had stopped improving (early stopping, or divergence)."""

    arm: str
    kept: dict[int, int]
    budget: dict[int, int]
    ended_early: dict[int, bool]

    def late_seeds(self) -> list[int]:
        """Seeds whose kept epoch is in the last fifth of the budget, of runs that ran to their budget."""
        return [s for s, k in self.kept.items()
                if not self.ended_early.get(s, False) and k > self.budget[s] - last_fifth(self.budget[s])]

    def under_trained(self) -> bool:
        """Still improving at the end of its budget in most seeds (more than half)."""
        return len(self.late_seeds()) > len(self.kept) / 2

    def epochs_text(self) -> str:
        """``"epochs 28, 29, 30 of 30"``: the kept epochs per seed (``*``: ended early) over the budget."""
        budgets = sorted(set(self.budget.values()))
        of = str(budgets[0]) if len(budgets) == 1 else "/".join(str(self.budget[s]) for s in self.kept)
        kept = ", ".join(f"{k}{'*' if self.ended_early.get(s) else ''}" for s, k in self.kept.items())
        return f"epochs {kept} of {of}"

    def describe(self) -> str:
        """``"L2 kept epochs 28, 29, 30 of 30"``."""
        return f"{self.arm} kept {self.epochs_text()}"

    def as_record(self) -> dict:
        return {"kept": self.kept, "budget": self.budget, "ended_early": self.ended_early}


def from_table(table: pd.DataFrame, config: str) -> ArmEpochs | None:
    """``config``'s kept epochs in a ``compare`` table (None for a table without an ``epoch`` column)."""
    if "epoch" not in table.columns or ("best_epoch" not in table.columns and "val_loss" not in table.columns):
        return None
    runs = table[table["config"] == config]
    kept = best_rows(runs).set_index("seed")["epoch"]
    last = final_epochs(runs).set_index("seed")
    stopped = (last["stop_reason"].map(lambda r: StopReason.of(str(r)) in ENDED_EARLY)
               if "stop_reason" in last.columns else pd.Series(False, index=last.index))
    seeds = sorted(int(s) for s in kept.index)
    return ArmEpochs(str(config), {s: int(kept[s]) for s in seeds}, {s: int(last.loc[s, "epoch"]) for s in seeds},
                     {s: bool(stopped[s]) for s in seeds})


def from_results(arm: str, results: Mapping[int, FitResult]) -> ArmEpochs:
    """The kept epochs of ``arm``'s runs, seed -> ``FitResult`` (for claims read from runs outside ``compare``)."""
    seeds = sorted(results)
    return ArmEpochs(arm, {s: int(results[s].best_epoch or 0) for s in seeds},
                     {s: len(results[s].history) for s in seeds},
                     {s: StopReason.of(results[s].stop_reason) in ENDED_EARLY for s in seeds})


def attach(values: pd.Series, epochs: ArmEpochs | None) -> pd.Series:
    """``values`` carrying ``epochs``, with a fingerprint of the values so that a Series computed from it, which
    pandas may hand the same attributes, is not taken for the arm itself."""
    if epochs is not None:
        values.attrs[ATTR] = (epochs, tuple(sorted(values.items())))
    return values


def carried(values: object) -> ArmEpochs | None:
    """The ``ArmEpochs`` that ``values`` carries (see ``attach``), or None."""
    if not isinstance(values, pd.Series) or ATTR not in values.attrs:
        return None
    epochs, fingerprint = values.attrs[ATTR]
    items = tuple(sorted(values.items()))
    return epochs if set(items) <= set(fingerprint) else None


def check(arms: list[ArmEpochs | None], fixed_budget: Mapping[str, str] | None) -> tuple[list[str], list[str]]:
    """The failures (under-trained arms not named in ``fixed_budget``) and the fixed-budget statements to print.
    ``fixed_budget`` maps an arm to the reason its budget is the point; naming an arm the claim lacks is an error."""
    fixed = dict(fixed_budget or {})
    names = {a.arm for a in arms if a is not None}
    unknown = [arm for arm in fixed if arm not in names]
    if unknown:
        raise ValueError(f"fixed_budget names {', '.join(map(repr, unknown))}, not an arm of this claim with its "
                         f"epochs: the arms are {', '.join(map(repr, sorted(names))) or 'none with epochs'}")
    failures, notes = [], []
    for arm in arms:
        if arm is None:
            continue
        if arm.arm in fixed:
            notes.append(f"fixed budget for {arm.arm} (kept {arm.epochs_text()}): {fixed[arm.arm]}")
        elif arm.under_trained():
            failures.append(f"{arm.describe()}: its best epoch is in the last fifth of its budget in "
                            f"{len(arm.late_seeds())} of {len(arm.kept)} seeds, so it was still improving; give it "
                            "more epochs (or, where equal compute is the point, name it in fixed_budget with the "
                            "reason)")
    return failures, notes
