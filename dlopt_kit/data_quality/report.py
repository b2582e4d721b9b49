"""A data report before any training (lesson 01): duplicates, train/test overlap, missing values, class balance,
outliers and label issues, each with a count and the indices of its examples.

Duplicates and overlap are found by distance between inputs (scikit-learn's ``NearestNeighbors``): exact when the
bytes are equal, near when the Euclidean distance is at most ``near``. Outliers come from an ``IsolationForest``.
Label issues come from cleanlab's ``find_label_issues`` on **out-of-fold** predicted probabilities: each training
example is scored by a model (the kit's own, trained by ``fit``) that never saw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits

NEAR = 1.5  # Euclidean distance on [0, 1] pixels of 28x28 images; different images are rarely closer than 2


@dataclass
class Finding:
    """One check of the report: how many examples it flags, which (indices into ``split``), and a note."""

    check: str
    split: str
    indices: np.ndarray
    note: str = ""

    @property
    def count(self) -> int:
        return len(self.indices)


@dataclass
class LabelIssues:
    """Training examples whose given label disagrees with out-of-fold predictions, most suspicious first."""

    indices: np.ndarray          # ranked by cleanlab's self-confidence (the given label's probability), lowest first
    pred_probs: np.ndarray       # out-of-fold probabilities, one row per training example
    given: np.ndarray            # the labels as given

    @property
    def suggested(self) -> np.ndarray:
        """The out-of-fold model's class for each flagged example (what ``relabel`` would write)."""
        return self.pred_probs[self.indices].argmax(1)


@dataclass
class DataReport:
    """Every check's finding, by name; ``table()`` is the one-screen summary."""

    name: str
    findings: dict[str, Finding] = field(default_factory=dict)
    label_issues: LabelIssues | None = None
    class_counts: pd.Series | None = None

    def __getitem__(self, check: str) -> Finding:
        if check not in self.findings:
            raise KeyError(f"no check {check!r} in this report: it has {', '.join(self.findings)}")
        return self.findings[check]

    def table(self, examples: int = 5) -> pd.DataFrame:
        rows = [{"check": f.check, "split": f.split, "flagged": f.count,
                 "examples": ", ".join(map(str, f.indices[:examples])) + (" ..." if f.count > examples else ""),
                 "note": f.note} for f in self.findings.values()]
        return pd.DataFrame(rows).set_index("check")


def _flat(x: torch.Tensor) -> np.ndarray:
    """``x`` as float32 rows with NaN as 0; in a dry run only its first ``dry_run.EXAMPLES`` rows (every search here
    reads its inputs through it, so a dry run searches a split's first rows and flags indices among them)."""
    (x,) = dry.head(x)
    return np.nan_to_num(x.detach().cpu().flatten(1).numpy().astype(np.float32), nan=0.0)


def exact_duplicates(x: torch.Tensor) -> np.ndarray:
    """Indices of rows equal, byte for byte, to an earlier row (the first of each group is kept)."""
    rows = _flat(x)
    seen: set[bytes] = set()
    flagged = []
    for i, row in enumerate(rows):
        key = row.tobytes()
        if key in seen:
            flagged.append(i)
        seen.add(key)
    return np.array(flagged, dtype=np.int64)


def near_duplicates(x: torch.Tensor, near: float = NEAR) -> np.ndarray:
    """Indices of rows within distance ``near`` of an earlier row but not equal to it: the later of each close pair
    is flagged, so that dropping the flagged rows keeps one of each."""
    from sklearn.neighbors import NearestNeighbors

    near = checks.number("near", near, 0.0, 1e6, low_open=True)
    rows = _flat(x)
    pairs = NearestNeighbors(radius=near).fit(rows).radius_neighbors_graph(rows, mode="distance").tocoo()
    later = (pairs.col < pairs.row) & (pairs.data > 0)  # another, earlier row, not an exact copy
    return np.unique(pairs.row[later]).astype(np.int64)


def overlap(x_train: torch.Tensor, x_eval: torch.Tensor, near: float = NEAR) -> np.ndarray:
    """Indices of evaluation rows within distance ``near`` of some training row (exact copies included): a score
    on them measures memory, not generalisation."""
    from sklearn.neighbors import NearestNeighbors

    near = checks.number("near", near, 0.0, 1e6, low_open=True)
    distance, _ = NearestNeighbors(n_neighbors=1).fit(_flat(x_train)).kneighbors(_flat(x_eval))
    return np.flatnonzero(distance[:, 0] <= near).astype(np.int64)


def missing_rows(x: torch.Tensor) -> np.ndarray:
    """Indices of rows with at least one NaN."""
    return np.flatnonzero(torch.isnan(x.flatten(1)).any(1).cpu().numpy()).astype(np.int64)


def outliers(x: torch.Tensor, seed: int = 0) -> np.ndarray:
    """Indices of rows an ``IsolationForest`` (scikit-learn, 100 trees, its automatic threshold) isolates in few
    splits: inputs unlike the rest."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(random_state=seed).fit(_flat(x))
    return np.flatnonzero(forest.predict(_flat(x)) == -1).astype(np.int64)


def out_of_fold_probs(data: Splits, config: RunConfig, folds: int = 3, seed: int = 0) -> np.ndarray:
    """Predicted class probabilities for every training example from a model that never saw it: the training
    split is cut into ``folds`` stratified parts and ``config`` is trained (by ``fit``, best epoch on the
    validation split) on all parts but one, then scores that one."""
    from sklearn.model_selection import StratifiedKFold

    from dlopt_kit.core.corruptions import with_split
    from dlopt_kit.core.training import fit, predict_proba

    folds = checks.whole("folds", folds, 2, 20)
    if torch.isnan(data.x_train).any():
        raise ValueError(f"{data.name}'s training inputs hold NaN values: impute them (fixes.impute) before looking "
                         "for label issues")
    y = data.y_train.cpu().numpy()
    probs = np.zeros((len(y), data.num_classes), dtype=np.float32)
    for part, (train, held) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y)):
        fold = with_split(data, "train", data.x_train[train], data.y_train[train])
        model = fit(config.replace(seed=seed + part), fold, progress=False).model
        probs[held] = predict_proba(model, data.x_train[held]).numpy()
    return probs


def find_label_issues(data: Splits, config: RunConfig, folds: int = 3, seed: int = 0) -> LabelIssues:
    """Training examples whose label is probably wrong: cleanlab's ``find_label_issues`` (confident learning,
    Northcutt et al. 2021) on ``out_of_fold_probs``, ranked by self-confidence."""
    from cleanlab.filter import find_label_issues as cleanlab_issues

    if dry.dry_run():  # a dry run looks at the training split's first examples only
        from dlopt_kit.core.corruptions import with_split

        data = with_split(data, "train", *dry.head(data.x_train, data.y_train))
    probs = out_of_fold_probs(data, config, folds, seed)
    given = data.y_train.cpu().numpy()
    ranked = cleanlab_issues(given, probs, return_indices_ranked_by="self_confidence", n_jobs=1)  # no nested pool
    return LabelIssues(np.asarray(ranked, dtype=np.int64), probs, given)


def data_report(data: Splits, near: float = NEAR, label_config: RunConfig | None = None, folds: int = 3,
                seed: int = 0, split: str = "test") -> DataReport:
    """Run every check on ``data``: exact and near duplicates in the training split, training examples repeated in
    ``split`` (test or val), rows with missing values, the class balance, outliers and, when ``label_config`` is
    given (it trains ``folds`` models), label issues. Nothing is changed: ``fixes`` acts on what it finds."""
    split = checks.choice("split", split, ("test", "val"))
    report = DataReport(data.name)
    x = data.x_train

    def add(check: str, where: str, indices: np.ndarray, note: str = "") -> None:
        report.findings[check] = Finding(check, where, indices, note)

    add("exact duplicates", "train", exact_duplicates(x), "byte-equal to an earlier example")
    add("near duplicates", "train", near_duplicates(x, near), f"within distance {near:g} of an earlier example")
    add(f"in train and {split}", split, overlap(x, getattr(data, f"x_{split}"), near),
        f"within distance {near:g} of a training example")
    add("missing values", "train", missing_rows(x), f"{int(torch.isnan(x).sum())} NaN values")
    counts = pd.Series(np.bincount(data.y_train.cpu().numpy(), minlength=data.num_classes), index=data.classes)
    report.class_counts = counts
    rare = np.flatnonzero(counts.to_numpy() < 0.5 * counts.max())
    add("rare classes", "classes", rare.astype(np.int64),
        f"classes with under half the largest class's {counts.max()} examples" + (
            f": {', '.join(data.classes[c] for c in rare)}" if len(rare) else ""))
    add("outliers", "train", outliers(x, seed), "isolated by an IsolationForest")
    if label_config is not None:
        issues = find_label_issues(data, label_config, folds, seed)
        report.label_issues = issues
        add("label issues", "train", issues.indices, f"cleanlab on {folds}-fold out-of-fold probabilities")
    return report
