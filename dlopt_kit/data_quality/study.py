"""Lesson 01's experiment: plant a corruption, measure the damage, the detection and the fix, paired over seeds.

``CorruptionStudy(data, base, seeds).run(kind, rate)`` plants ``kind`` with each seed (the corruption's draw and the
training seed are the same number), trains ``base`` on the clean, the corrupted and the fixed training split, scores
each kept model once on the test split, and measures the matching check of the data report against what was
planted. Every arm picks its epoch on the clean validation split, unless a label-noise run asks for noisy
validation labels (``run(..., noisy_val=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from dlopt_kit.core import checks, kept_epochs
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.corruptions import CORRUPTIONS, Corrupted, corrupt, detection
from dlopt_kit.core.data import Splits
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import FitResult, evaluate, fit, fit_quietly, predict_proba
from dlopt_kit.data_quality.fixes import drop, impute
from dlopt_kit.data_quality.report import (
    NEAR,
    Finding,
    LabelIssues,
    exact_duplicates,
    find_label_issues,
    missing_rows,
    near_duplicates,
    outliers,
    overlap,
)

# the fix lesson 01 applies to each corruption
FIXES = {"duplicates": "drop the exact duplicates found", "near_duplicates": "drop the near duplicates found",
         "leak": "drop the test examples found in train", "missing": "fill each pixel from its neighbours",
         "label_noise": "drop the label issues found", "pair_noise": "drop the label issues found",
         "thin_class": "class_weight='balanced'", "outliers": "drop the outliers found"}
NAIVE = {"missing": "NaN filled with each pixel's training mean"}  # what the corrupted arm trains on where the raw
# data cannot be trained on: the tabular default (scikit-learn's SimpleImputer)


def class_recall(model: torch.nn.Module, data: Splits, cls: int, split: str = "test") -> float:
    """The share of ``split``'s examples of class ``cls`` that ``model`` assigns to it."""
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    predicted = predict_proba(model, x).argmax(1)
    members = y.cpu() == cls
    return float((predicted[members] == cls).float().mean())


def detect(planted: Corrupted, config: RunConfig, near: float = NEAR, folds: int = 3,
           seed: int = 0) -> tuple[Finding, LabelIssues | None]:
    """The data report's check that matches ``planted.kind``, run on the corrupted data (label issues train
    ``folds`` models of ``config``); thin_class has nothing to find (the report shows class counts instead)."""
    data, kind = planted.data, planted.kind
    if kind == "duplicates":
        return Finding("exact duplicates", "train", exact_duplicates(data.x_train)), None
    if kind == "near_duplicates":
        return Finding("near duplicates", "train", near_duplicates(data.x_train, near)), None
    if kind == "leak":
        where = planted.split
        return Finding(f"in train and {where}", where, overlap(data.x_train, getattr(data, f"x_{where}"), near)), None
    if kind == "missing":
        return Finding("missing values", "train", missing_rows(data.x_train)), None
    if kind in ("label_noise", "pair_noise"):
        issues = find_label_issues(data, config, folds, seed)
        return Finding("label issues", "train", issues.indices), issues
    if kind == "outliers":
        return Finding("outliers", "train", outliers(data.x_train, seed)), None
    return Finding("rare classes", "classes", np.array([], dtype=np.int64)), None


def train_ready(planted: Corrupted, found: Finding | None, fix: bool) -> tuple[Splits, dict]:
    """What a run trains (or, for ``leak``, is scored) on, and the config changes it needs: without the fix the
    corrupted data, its NaN filled with each pixel's training mean (the tabular default: nothing trains on NaN); with
    it, the data after the lesson's fix for the kind (``FIXES``)."""
    kind, data = planted.kind, planted.data
    if kind == "missing":
        return impute(data, "neighbours" if fix else "mean"), {}
    if not fix:
        return data, {}
    if kind == "thin_class":
        return data, {"class_weight": "balanced"}
    if found is None:
        raise ValueError(f"fixing {kind} needs what the report found: run detect() first")
    return drop(data, found.indices, planted.split), {}


def _score(result: FitResult, data: Splits) -> float:
    return evaluate(result.model, data.x_test, data.y_test)[1]


def _steps(config: RunConfig, clean: Splits, data: Splits, equal: bool) -> RunConfig:
    """``config`` with its epochs scaled by ``clean``'s training size / ``data``'s when ``equal``."""
    if not equal:
        return config
    return config.replace(epochs=max(1, round(config.epochs * len(clean.y_train) / len(data.y_train))))


def run_seed(data: Splits, config: RunConfig, label_config: RunConfig, near: float, folds: int, kind: str,
             rate: float, seed: int, noisy_val: bool, equal_steps: bool,
             clean: FitResult) -> tuple[dict, Corrupted, LabelIssues | None, dict[str, FitResult]]:
    """One seed of ``CorruptionStudy.run``: plant, detect, train the corrupted and the fixed arm and score all three
    on the test split. Returns the row, the planted copy, the label issues (or None) and the three runs."""
    label = f"{kind} (noisy val)" if noisy_val else kind
    planted = corrupt(data, kind, rate, seed, noisy_val=noisy_val)
    found, issues = detect(planted, label_config, near, folds, seed)
    row = {"corruption": label, "rate": rate, "seed": seed, "fix": FIXES[kind], "changes": "",
           "clean": _score(clean, data)}
    naive, _ = train_ready(planted, found, fix=False)
    fixed, fix_changes = train_ready(planted, found, fix=True)
    if kind == "leak":  # the same clean model, scored on the leaked and on the deduplicated test split
        row["corrupted"], row["fixed"] = _score(clean, naive), _score(clean, fixed)
        runs = {"clean": clean, "corrupted": clean, "fixed": clean}
    else:
        corrupted = fit(_steps(config, data, naive, equal_steps).replace(seed=seed), naive, progress=False)
        repaired = fit(_steps(config, data, fixed, equal_steps).replace(seed=seed, **fix_changes), fixed,
                       progress=False)
        row["corrupted"], row["fixed"] = _score(corrupted, data), _score(repaired, data)
        runs = {"clean": clean, "corrupted": corrupted, "fixed": repaired}
        if kind == "thin_class":
            cls = data.classes.index(planted.details["thinned"])
            row.update({f"{arm} recall": class_recall(r.model, data, cls) for arm, r in runs.items()})
    if kind != "thin_class":
        row.update(detection(found.indices, planted.planted))
    return row, planted, issues, runs


class CorruptionStudy:
    """Runs corruptions over ``seeds`` with ``base`` and keeps every result: ``table`` has one row per (corruption,
    seed), ``issues`` the label issues found, ``planted`` the corrupted copies. ``label_config`` is the config of the
    out-of-fold models that find label issues (default: the run's own); they need good probabilities, not the best
    model, so a shorter run does. ``jobs`` is the number of worker processes that train seeds at once (default:
    ``core.processes.jobs()``; the numbers do not depend on it)."""

    def __init__(self, data: Splits, base: RunConfig, seeds: Sequence[int] = (0, 1, 2), near: float = NEAR,
                 folds: int = 3, label_config: RunConfig | None = None, jobs: int | None = None) -> None:
        self.data, self.base, self.near, self.folds, self.jobs = data, base, near, folds, jobs
        self.label_config = label_config  # the fold models that find label issues (default: each run's config)
        self.seeds = checks.seeds("seeds", seeds)
        self._clean: dict[RunConfig, FitResult] = {}
        self.rows: list[dict] = []
        self.issues: dict[tuple[str, int], LabelIssues] = {}
        self.planted: dict[tuple[str, int], Corrupted] = {}
        self.fits: dict[tuple[str, float, int], dict[str, FitResult]] = {}  # (kind, rate, seed) -> arm -> run

    def clean(self, seed: int, config: RunConfig | None = None) -> FitResult:
        """The run of ``config`` (default: the base config) on the clean training split with ``seed``, trained once
        and then reused."""
        key = (config or self.base).replace(seed=seed)
        if key not in self._clean:
            self._clean[key] = fit_quietly(key, self.data)
        return self._clean[key]

    def run(self, kind: str, rate: float, noisy_val: bool = False, equal_steps: bool = False,
            **changes) -> pd.DataFrame:
        """Plant ``kind`` at ``rate`` with every seed; return (and keep) one row per seed: the test accuracy of the
        clean, corrupted and fixed arms, the detection's found / planted / hits / precision / recall and, for
        ``thin_class``, the thinned class's test recall in each arm. ``changes`` (``epochs=20``) apply to the base
        config of every arm of this run. With ``noisy_val`` (label noise only) the validation labels the corrupted
        and fixed arms choose their epoch on are as noisy as the training labels; the clean arm keeps the clean
        split, and the rows are filed under ``"<kind> (noisy val)"`` (what ``arm`` then takes). With ``equal_steps``
        an arm whose training split is smaller or larger than the clean one trains proportionally more or fewer epochs,
        so that every arm takes about as many optimiser steps (for runs with a fixed number of epochs)."""
        return self.run_all([(kind, rate)], noisy_val=noisy_val, equal_steps=equal_steps, **changes)

    def run_all(self, plan: Sequence[tuple[str, float]], noisy_val: bool = False, equal_steps: bool = False,
                **changes) -> pd.DataFrame:
        """``run`` for every ``(kind, rate)`` of ``plan``, with all their seeds trained at once in worker processes
        where the CPU has cores to spare (``core.processes``; the numbers are those of one process). Returns the new
        rows, in the order of ``plan`` and then of the seeds."""
        plan = [(checks.choice("kind", kind, CORRUPTIONS), rate) for kind, rate in plan]
        config = self.base.replace(**changes)  # a bad setting is named before anything trains
        missing = [config.replace(seed=seed) for seed in self.seeds if config.replace(seed=seed) not in self._clean]
        trained = run_tasks(fit_quietly, [(key, self.data) for key in missing], self.jobs)
        self._clean.update(zip(missing, trained, strict=True))
        tasks = [(self.data, config, self.label_config or config, self.near, self.folds, kind, rate, seed, noisy_val,
                  equal_steps, self._clean[config.replace(seed=seed)]) for kind, rate in plan for seed in self.seeds]
        rows = []
        for row, planted, issues, runs in run_tasks(run_seed, tasks, self.jobs):
            label, rate, seed = row["corruption"], row["rate"], row["seed"]
            row["changes"] = ", ".join(f"{k}={v}" for k, v in changes.items())
            self.planted[(label, seed)] = planted
            if issues is not None:
                self.issues[(label, seed)] = issues
            self.fits[(label, rate, seed)] = runs
            rows.append(row)
        self.rows.extend(rows)
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """Every run so far, one row per (corruption, seed)."""
        return pd.DataFrame(self.rows)

    def arm(self, kind: str, column: str, rate: float | None = None) -> pd.Series:
        """``column`` (``clean``, ``corrupted``, ``fixed``, ``precision``, ...) of ``kind``'s runs at ``rate`` (needed
        only when ``kind`` ran at several rates), indexed by seed: what ``claims.paired`` and ``assert_paired``
        take. A trained arm's column (``clean``, ``corrupted``, ``fixed`` and their recalls) carries the runs' kept
        epochs for the claim helpers (see ``kept_epochs``)."""
        table = self.table()
        if table.empty or kind not in set(table["corruption"]):
            raise ValueError(f"corruption {kind!r} has not been run: run(kind, rate) first")
        rows = table[table["corruption"] == kind]
        rates = sorted(set(rows["rate"]))
        if rate is None and len(rates) > 1:
            raise ValueError(f"{kind} ran at rates {rates}: pass rate= to choose one")
        if rate is not None:
            if rate not in rates:
                raise ValueError(f"{kind} has not run at rate={rate!r}: it ran at {rates}")
            rows = rows[rows["rate"] == rate]
        if column not in rows.columns or rows[column].isna().all():
            raise ValueError(f"column {column!r} is not measured for {kind}: choose one of "
                             f"{', '.join(c for c in rows.columns if rows[c].notna().any())}")
        values = rows.set_index("seed")[column].copy()
        trained = column.removesuffix(" recall")
        if trained in ("clean", "corrupted", "fixed"):
            runs = {int(r.seed): self.fits[(kind, r.rate, int(r.seed))][trained] for r in rows.itertuples()}
            kept_epochs.attach(values, kept_epochs.from_results(f"{kind}: {trained}", runs))
        return values

    def summary(self) -> pd.DataFrame:
        """Mean over seeds per corruption: test accuracy of each arm, the corruption's effect (corrupted - clean:
        negative is damage, positive an inflated score), the fix's (fixed - corrupted), and the detection's precision
        and recall. The signs are those of ``data_quality.plots.plot_effects``."""
        table = self.table()
        columns = [c for c in ("clean", "corrupted", "fixed", "precision", "recall") if c in table.columns]
        out = table.groupby(["corruption", "rate", "fix", "changes"], sort=False)[columns].mean()
        out.insert(3, "corrupted - clean", out["corrupted"] - out["clean"])
        out.insert(4, "fixed - corrupted", out["fixed"] - out["corrupted"])
        return out.reset_index(level=["fix", "changes"])

