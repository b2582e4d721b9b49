"""A lesson's claim, checked the way the course's rigor rules ask: paired over seeds, with a margin.

Every experiment cell ends with ``assert_gain`` or ``assert_peak_inside`` (``compare`` tables), ``assert_paired``
(any two per-seed measurements, e.g. recall at two thresholds of the same runs) or ``assert_not_worse`` (a
non-inferiority claim: early stopping costs at most a stated amount) or ``assert_threshold`` (a measured value on the
right side of a stated limit in every seed). A gain holds when the mean gain reaches the margin **and** the gain is
positive in every seed; the printout shows the per-seed gains, the mean and a 95 % t-interval over seeds, and a
failure says which condition failed. A claim whose arms carry their epochs (any arm read from a ``compare`` table
by ``per_seed``) also fails when an arm was still improving at the end of its budget (see ``kept_epochs``), unless
the call names it in ``fixed_budget`` with the reason. Every claim appends a record to the lesson's ledger (see
``ledger``). In a dry run (``dry_run``) each claim is computed and printed with "dry run: not checked" appended,
records nothing and never raises: the capped work proves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from dlopt_kit.core import checks, kept_epochs, ledger
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.compare import best_rows, final_epochs
from dlopt_kit.core.kept_epochs import ArmEpochs


@dataclass(frozen=True)
class PairedGain:
    """Per-seed gains of one arm over another, their mean and a 95 % t-interval over seeds."""

    name: str
    seeds: tuple[int, ...]
    better: tuple[float, ...]
    over: tuple[float, ...]

    @property
    def gains(self) -> np.ndarray:
        return np.asarray(self.better) - np.asarray(self.over)

    @property
    def mean(self) -> float:
        return float(self.gains.mean())

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The t-interval of the mean gain over seeds (NaN with one seed, or with identical gains)."""
        n = len(self.gains)
        if n < 2:
            return (math.nan, math.nan)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * self.gains.std(ddof=1) / math.sqrt(n)
        return (self.mean - half, self.mean + half)

    def summary(self, word: str = "difference") -> str:
        """One line, claiming nothing: the mean ``word``, its 95 % interval and every seed's value."""
        low, high = self.interval()
        per_seed = ", ".join(f"{s}: {g:+.3f}" for s, g in zip(self.seeds, self.gains, strict=True))
        return (f"{self.name}: {word} {self.mean:+.3f} (95% CI {low:+.3f} to {high:+.3f}) over {len(self.seeds)} "
                f"seeds [{per_seed}]")

    def line(self, margin: float) -> str:
        return f"{self.summary('gain')}; claimed at least {margin:+.3f} in the mean and > 0 in every seed"


def paired(better: Mapping[int, float] | pd.Series, over: Mapping[int, float] | pd.Series,
           name: str = "gain") -> PairedGain:
    """``better`` and ``over`` (seed -> value) paired seed by seed, after checking that they hold the same seeds, at
    least two, and no NaN."""
    better, over = pd.Series(better, dtype=float), pd.Series(over, dtype=float)
    if set(better.index) != set(over.index):
        raise ValueError(f"a paired claim needs the same seeds in both arms; got {sorted(better.index)} and "
                         f"{sorted(over.index)}")
    if len(better) < 2:
        raise ValueError(f"a paired claim needs at least 2 seeds, got {len(better)}: one seed cannot tell an "
                         "effect from the seed's own noise")
    if better.isna().any() or over.isna().any():
        raise ValueError(f"{name}: a run has no value (NaN) for the claim's metric: {dict(better)} vs {dict(over)}")
    seeds = tuple(sorted(better.index))
    return PairedGain(name, seeds, tuple(better[list(seeds)]), tuple(over[list(seeds)]))


def _conclude(kind: str, name: str, line: str, failed: list[str], record: dict,
              epochs: list[ArmEpochs | None], fixed_budget: Mapping[str, str] | None) -> None:
    """Print ``line`` (with any fixed-budget statement), then, outside a dry run, add the under-trained arms to
    ``failed``, append the claim to the ledger and raise AssertionError if anything failed."""
    late, notes = kept_epochs.check(epochs, fixed_budget)
    print("; ".join([line, *notes]) + dry.suffix())
    if dry.dry_run():
        return
    failed = failed + late
    given = {e.arm: e.as_record() for e in epochs if e is not None}
    ledger.write({"name": name, "kind": kind, **record, "epochs": given or "not given",
                  "fixed_budget": dict(fixed_budget or {}),
                  "verdict": "holds" if not failed else "fails: " + "; ".join(failed)})
    if failed:
        raise AssertionError(f"the lesson's claim does not hold: {' and '.join(failed)}. {line}")


def _gain_record(result: PairedGain, arms: tuple[str, str], bound: dict, headroom: float | None) -> dict:
    return {"arms": list(arms), "values": {arms[0]: dict(zip(result.seeds, result.better, strict=True)),
                                           arms[1]: dict(zip(result.seeds, result.over, strict=True))},
            "per_seed": dict(zip(result.seeds, result.gains, strict=True)), "mean": result.mean,
            "interval": list(result.interval()), **bound, "headroom": headroom}


def _arm_names(better: object, over: object, arms: tuple[str, str] | None) -> tuple[str, str]:
    if arms is not None:
        return (str(arms[0]), str(arms[1]))
    named = [kept_epochs.carried(v) for v in (better, over)]
    return (named[0].arm if named[0] else "better", named[1].arm if named[1] else "over")


def assert_paired(better: Mapping[int, float] | pd.Series, over: Mapping[int, float] | pd.Series,
                  margin: float = 0.0, name: str = "gain", arms: tuple[str, str] | None = None,
                  fixed_budget: Mapping[str, str] | None = None) -> PairedGain:
    """Check that ``better`` beats ``over`` seed by seed: mean gain >= ``margin`` and every seed's gain > 0.

    ``better`` and ``over`` map seed -> value (a dict or a Series indexed by seed) and must hold the same seeds,
    at least two. Arms read by ``per_seed`` carry their kept epochs, and an arm still improving at the end of its
    budget fails the claim unless ``fixed_budget`` maps its name to the reason its budget is the point. ``arms``
    names the two arms in the ledger (default: the names they carry). Prints one line; raises AssertionError saying
    which condition failed. Used by every notebook.
    """
    result = paired(better, over, name)
    epochs = [kept_epochs.carried(better), kept_epochs.carried(over)]
    line = result.line(margin)
    failed = []
    if not result.mean >= margin:
        failed.append(f"the mean gain {result.mean:+.3f} is below the margin {margin:+.3f}")
    reversed_seeds = [s for s, g in zip(result.seeds, result.gains, strict=True) if not g > 0]
    if reversed_seeds:
        failed.append(f"the gain is not positive in seed(s) {', '.join(map(str, reversed_seeds))}")
    headroom = result.mean / margin if margin > 0 else None
    record = _gain_record(result, _arm_names(better, over, arms), {"margin": margin}, headroom)
    _conclude("gain", name, line, failed, record, epochs, fixed_budget)
    return result


def per_seed(table: pd.DataFrame, config: str, metric: str, at: str = "last", window: int = 1) -> pd.Series:
    """``metric`` of every run of ``config``, indexed by seed: at its last recorded epoch (``at="last"``; the test
    columns hold the best weights' scores at every epoch), or its mean over the last ``window`` epochs (a steadier
    reading of a quantity that wobbles from epoch to epoch), or at its best epoch by validation (``at="best"``).
    The Series carries the arm's kept epochs (see ``kept_epochs``) for the claim helpers."""
    if metric not in table.columns:
        raise ValueError(f"metric={metric!r} is not a column: choose one of {', '.join(table.columns)}")
    if at not in ("last", "best"):
        raise ValueError(f"at={at!r} is not allowed: choose 'last' (the last epoch) or 'best' (the best epoch)")
    window = checks.whole("window", window, 1)
    if window > 1 and at != "last":
        raise ValueError(f"window={window} averages the last epochs: use it with at='last', not at={at!r}")
    if window > 1:
        ordered = table.sort_values("epoch", kind="stable").groupby(["config", "seed"], sort=False).tail(window)
        runs = ordered.groupby(["config", "seed"], sort=False, as_index=False)[metric].mean()
    else:
        runs = final_epochs(table) if at == "last" else best_rows(table)
    configs = list(pd.unique(table["config"]))
    if config not in configs:
        raise ValueError(f"config {config!r} is not in the table: it has {', '.join(map(str, configs))}")
    chosen = runs[runs["config"] == config]
    if chosen["seed"].duplicated().any():
        raise ValueError(f"config {config!r} has more than one run per seed: pair runs by distinct seeds")
    return kept_epochs.attach(chosen.set_index("seed")[metric].copy(), kept_epochs.from_table(table, config))


def assert_gain(table: pd.DataFrame, better: str, over: str, metric: str = "test_acc",
                margin: float = 0.0, at: str = "last", window: int = 1,
                fixed_budget: Mapping[str, str] | None = None) -> PairedGain:
    """Check a lesson's claim on a ``compare`` table: config ``better`` beats ``over`` on ``metric`` by at least
    ``margin`` in the mean over seeds, and in every seed, and neither arm was still improving at the end of its
    budget (unless named in ``fixed_budget``). ``metric`` is read at each run's last epoch (or averaged
    over its last ``window`` epochs), or with ``at="best"`` at its best epoch by validation (see ``per_seed``). For a
    metric where lower is better (a loss, a gap), swap the arms: ``better`` is then the one with the larger value.
    See ``assert_paired``."""
    where = " at the best epoch" if at == "best" else (f", mean of the last {window} epochs" if window > 1 else "")
    return assert_paired(per_seed(table, better, metric, at, window), per_seed(table, over, metric, at, window),
                         margin, name=f"{metric}{where}, {better} over {over}", arms=(better, over),
                         fixed_budget=fixed_budget)


def assert_not_worse(candidate: Mapping[int, float] | pd.Series, reference: Mapping[int, float] | pd.Series,
                     tolerance: float, name: str = "value", arms: tuple[str, str] | None = None,
                     fixed_budget: Mapping[str, str] | None = None) -> PairedGain:
    """Check a non-inferiority claim seed by seed: ``candidate`` is at most ``tolerance`` below ``reference`` in
    every seed (e.g. early stopping keeps the validation accuracy of the full run to within 0.01). Prints the per-seed
    differences; raises AssertionError naming the seeds that fall short. Kept epochs as in ``assert_paired``."""
    if not tolerance >= 0:
        raise ValueError(f"tolerance={tolerance!r} must be a number >= 0")
    result = paired(candidate, reference, name)
    line = f"{result.summary()}; claimed at least {-tolerance:+.3f} in every seed"
    short = [s for s, d in zip(result.seeds, result.gains, strict=True) if not d >= -tolerance]
    failed = [f"seed(s) {', '.join(map(str, short))} fall more than {tolerance} below"] if short else []
    headroom = (result.mean + tolerance) / tolerance if tolerance > 0 else None
    record = _gain_record(result, _arm_names(candidate, reference, arms), {"tolerance": -tolerance}, headroom)
    _conclude("non-inferiority", name, line, failed,  record,
              [kept_epochs.carried(candidate), kept_epochs.carried(reference)], fixed_budget)
    return result


def assert_threshold(values: Mapping[object, float] | pd.Series, *, at_most: float | None = None,
                     at_least: float | None = None, name: str = "value") -> pd.Series:
    """Check a measured value against a stated limit in every case (seed, or any other key): each of ``values`` is at
    most ``at_most`` (or at least ``at_least``; give exactly one). E.g. pruning spends at most half the epochs in
    every search seed. Prints every value; raises AssertionError naming the cases past the limit. The ledger's
    headroom is the worst case's distance to the limit over the limit's size ((limit - value) / |limit| for
    ``at_most``)."""
    if (at_most is None) == (at_least is None):
        raise ValueError("assert_threshold needs exactly one of at_most= or at_least=")
    limit = checks.finite("at_most" if at_most is not None else "at_least", at_most if at_most is not None
                          else at_least)
    series = pd.Series(values, dtype=float)
    if series.empty:
        raise ValueError(f"{name}: a threshold claim needs at least one value")
    word = "at most" if at_most is not None else "at least"
    room = (limit - series) if at_most is not None else (series - limit)
    past = [k for k, r in room.items() if not r >= 0]  # a missing value (NaN: e.g. no alarm) is past any limit
    shown = ", ".join(f"{k}: {v:.4g}" for k, v in series.items())
    line = f"{name}: {shown}; claimed {word} {limit:g} in every case"
    low, high = PairedGain(name, tuple(range(len(series))), tuple(series), (0.0,) * len(series)).interval()
    worst = float(room.min()) if not room.isna().any() else math.nan
    record = {"arms": [name], "values": {name: series.to_dict()}, "mean": float(series.mean()),
              "interval": [low, high], "limit": limit, "direction": word,
              "headroom": worst / abs(limit) if limit != 0 and math.isfinite(worst) else None}
    failed = [f"{', '.join(map(str, past))} {'is' if len(past) == 1 else 'are'} past the limit"] if past else []
    _conclude("threshold", name, line, failed, record, [], None)
    return series


def assert_peak_inside(table: pd.DataFrame, metric: str, majority: float = 0.5, at: str = "last",
                       lowest: bool = False, fixed_budget: Mapping[str, str] | None = None) -> str:
    """Check that ``metric``, read in the order the configs were given, rises then falls (with ``lowest``: falls
    then rises, for a loss): the mean over seeds peaks at neither end, and so does each seed's own curve in more than
    ``majority`` of the seeds, and no config was still improving at the end of its budget (unless named in
    ``fixed_budget``). ``at`` reads each run's last or best epoch (see ``per_seed``).
    Prints the mean curve and each seed's peak; returns the config at the mean's peak. The ledger keeps the peak's
    paired gain over the better end of the sweep as the claim's mean and interval."""
    configs = list(pd.unique(table["config"]))
    columns = {c: per_seed(table, c, metric, at) for c in configs}
    runs = pd.DataFrame(columns)
    sign = -1.0 if lowest else 1.0
    mean = runs.mean()
    points = ", ".join(f"{c} {m:.3f}" for c, m in mean.items())
    peak = int(np.argmax(sign * mean.to_numpy()))
    seed_peaks = {int(s): configs[int(np.argmax(sign * row.to_numpy()))] for s, row in runs.iterrows()}
    inside = [s for s, c in seed_peaks.items() if c not in (configs[0], configs[-1])]
    line = (f"{metric} by config (mean over seeds): {points}; peak at {configs[peak]}. Peak per seed: "
            + ", ".join(f"{s}: {c}" for s, c in seed_peaks.items()))
    failed = []
    if not 0 < peak < len(configs) - 1:
        failed.append(f"the mean peaks at an end of the sweep ({configs[peak]})")
    if not len(inside) > majority * len(seed_peaks):
        failed.append(f"only {len(inside)} of {len(seed_peaks)} seeds peak inside the sweep")
    end = max((configs[0], configs[-1]), key=lambda c: sign * mean[c])
    gain = paired(sign * runs[configs[peak]], sign * runs[end], f"{configs[peak]} over {end}")
    record = {"arms": configs, "values": {c: runs[c].to_dict() for c in configs},
              "per_seed": dict(zip(gain.seeds, gain.gains, strict=True)), "mean": gain.mean,
              "interval": list(gain.interval()), "peak": configs[peak], "compared_with": end,
              "seed_peaks": seed_peaks, "headroom": None}
    _conclude("peak", f"{metric}: peak inside the sweep", line, failed, record,
              [kept_epochs.carried(columns[c]) for c in configs], fixed_budget)
    return configs[peak]


def gain_table(table: pd.DataFrame, over: str, metric: str = "test_acc", at: str = "last",
               configs: list[str] | None = None) -> pd.DataFrame:
    """The paired gain over ``over`` on ``metric`` (see ``per_seed`` for ``at``) of each of ``configs`` (default:
    every other config), one row each, indexed by config: the mean over seeds, its 95 % t-interval, the smallest and
    largest seed's gain, and whether every seed gained. Measured, not asserted: for reporting effects a lesson does
    not claim."""
    rows = []
    reference = per_seed(table, over, metric, at)
    for config in configs if configs is not None else pd.unique(table["config"]):
        if config == over:
            continue
        gain = paired(per_seed(table, config, metric, at), reference, str(config))
        low, high = gain.interval()
        rows.append({"config": config, f"{metric} gain": gain.mean, "95% CI low": low, "95% CI high": high,
                     "min seed": gain.gains.min(), "max seed": gain.gains.max(),
                     "every seed gains": bool((gain.gains > 0).all())})
    return pd.DataFrame(rows).set_index("config")
