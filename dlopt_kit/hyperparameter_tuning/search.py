"""Hyperparameter search with Optuna: one search space, one objective around ``fit``, every sampler and pruner.

- ``SearchSpace``: RunConfig fields with a range (``log``, ``float``, ``int``) or a list of ``choice`` values.
- ``Objective``: trains ``base.replace(**suggested)`` with ``fit``, reports the validation accuracy after every epoch
  (pruners act on it) and returns the best validation accuracy. It never reads the test split.
- ``make_sampler`` / ``make_pruner``: Optuna's grid, random, quasi-random (QMC), TPE and GP samplers; successive
  halving, Hyperband and median pruners.
- ``open_study``: a study stored by default in ``runs/<name>.db`` (SQLite, with heartbeats), so re-running resumes
  and a killed process loses no finished trial; ``run_study`` runs it up to a number of finished trials.
- ``trials_table`` / ``repeat_search``: tidy tables of trials, one search or many search seeds.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import torch
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

from dlopt_kit.core import checks, paths
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.callbacks import LambdaCallback, StopOnEvent, StopReason
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.training import evaluate, fit

METHODS = ("grid", "random", "qmc", "tpe", "gp")
PRUNERS = ("none", "median", "sha", "hyperband")
KINDS = ("log", "float", "int", "choice")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
STOPPED = StopReason.STOPPED.value  # the trials' stop_reason attr: a plain string in the storage


@dataclass(frozen=True)
class Param:
    """One dimension of a search space: a RunConfig field and its range or choices."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")

    def grid(self, points: int) -> list:
        """``points`` values at the centres of equal cells of the range (equal on a log scale for ``log``), as in
        Bergstra and Bengio's picture: not the ends, which are usually the worst values of a range; or every
        choice."""
        if self.kind == "choice":
            return list(self.choices)
        centres = (np.arange(points) + 0.5) / points
        if self.kind == "log":
            values = self.low * (self.high / self.low) ** centres
        else:
            values = self.low + (self.high - self.low) * centres
        if self.kind == "int":
            return sorted({int(round(v)) for v in values})
        return [float(f"{v:.4g}") for v in values]


class SearchSpace:
    """A validated search space over RunConfig fields.

    ``SearchSpace({"lr": ("log", 1e-3, 1.0), "batch_size": ("choice", [32, 64, 128]), "epochs": ("int", 2, 8)})``
    Every value a trial draws is checked by ``RunConfig`` like any other setting.
    """

    def __init__(self, spec: Mapping[str, Sequence]) -> None:
        if not isinstance(spec, Mapping) or not spec:
            raise ValueError(f"space must be a non-empty dict of field -> (kind, ...); got {spec!r}")
        fields = set(RunConfig().to_dict()) - {"seed"}
        self.params: dict[str, Param] = {}
        for name, dim in spec.items():
            if name not in fields:
                raise ValueError(f"space: {name!r} is not a RunConfig field; allowed: {', '.join(sorted(fields))}")
            self.params[name] = self._param(name, dim)

    @staticmethod
    def _param(name: str, dim: Sequence) -> Param:
        if not isinstance(dim, (tuple, list)) or not dim:
            raise ValueError(f"space[{name!r}]={dim!r} must be (kind, low, high) or ('choice', [values]), "
                             f"kind one of {', '.join(KINDS)}")
        kind = checks.choice(f"space[{name!r}] kind", dim[0], KINDS)
        if kind == "choice":
            if len(dim) != 2 or not isinstance(dim[1], (tuple, list)) or not dim[1]:
                raise ValueError(f"space[{name!r}]={tuple(dim)!r}: a choice needs a non-empty list of values")
            for value in dim[1]:
                RunConfig(**{name: value})  # each choice must be a valid setting
            return Param(name, kind, choices=tuple(dim[1]))
        if len(dim) != 3:
            raise ValueError(f"space[{name!r}]={tuple(dim)!r} must be ({kind!r}, low, high)")
        low, high = (checks.finite(f"space[{name!r}] {end}", v)
                     for end, v in zip(("low", "high"), dim[1:], strict=True))
        if not low < high:
            raise ValueError(f"space[{name!r}]: low={low:g} must be below high={high:g}")
        if kind == "log" and low <= 0:
            raise ValueError(f"space[{name!r}]: low={low:g} must be above 0 on a log scale")
        if kind == "int" and not (low.is_integer() and high.is_integer()):
            raise ValueError(f"space[{name!r}]=({kind!r}, {low:g}, {high:g}): an int range needs whole-number ends, "
                             f"e.g. ({kind!r}, {math.floor(low)}, {math.ceil(high)})")
        for value in (int(low), int(high)) if kind == "int" else (low, high):
            RunConfig(**{name: value})  # both ends must be valid settings
        return Param(name, kind, low, high)

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()!r})"

    def to_dict(self) -> dict[str, tuple]:
        return {p.name: ("choice", list(p.choices)) if p.kind == "choice" else (p.kind, p.low, p.high)
                for p in self.params.values()}

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        return {name: param.suggest(trial) for name, param in self.params.items()}

    def grid(self, points: int | Mapping[str, int] = 3) -> dict[str, list]:
        """The grid ``GridSampler`` walks: ``points`` values per range (a number, or one per field)."""
        per = points if isinstance(points, Mapping) else dict.fromkeys(self.params, points)
        return {name: param.grid(checks.whole(f"points[{name!r}]", per.get(name, 3), low=2))
                for name, param in self.params.items()}


def lesson04_base(epochs: int = 6) -> RunConfig:
    """Lesson 04's network and starting point: an MLP with two hidden layers of 32 units, SGD (momentum 0.9) at
    lr 0.05, batch 128. The notebook, its panel and every shared-study worker use this one definition."""
    return RunConfig(model="mlp", hidden=32, optimizer="sgd", lr=0.05, batch_size=128, epochs=epochs)


#: lesson 04's search space: the lr (important) and weight decay (hardly), both on a log scale
LESSON04_SPACE = SearchSpace({"lr": ("log", 1e-3, 1.0), "weight_decay": ("log", 1e-6, 1e-3)})


def make_sampler(method: str, space: SearchSpace, seed: int = 0, grid_points: int | Mapping[str, int] = 3,
                 startup: int = 4) -> optuna.samplers.BaseSampler:
    """The Optuna sampler for ``method``: grid (``GridSampler`` over ``space.grid(grid_points)``, visited in a
    seeded random order), random, qmc (scrambled Sobol), tpe or gp (the Bayesian ones start with ``startup``
    random trials)."""
    method = checks.choice("method", method, METHODS)
    seed = None if seed is None else checks.whole("seed", seed, 0, 2**32 - 1)
    if method == "grid":
        return optuna.samplers.GridSampler(space.grid(grid_points), seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "qmc":
        with warnings.catch_warnings():  # experimental in Optuna 5: its interface may change, its results do not
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed,
                                              warn_independent_sampling=False)
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """none, median (after 2 finished trials), sha (successive halving: keep the top third at 1, 3, 9 ... epochs) or
    hyperband (brackets of successive halving from 1 to ``epochs``)."""
    name = checks.choice("pruner", name, PRUNERS)
    epochs = checks.whole("epochs", epochs, low=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)


class StudyStopped(Exception):
    """Raised inside a trial when the Stop button (or ``stop`` event) ends the study."""


class Objective:
    """``objective(trial)``: train ``base`` with the trial's values from ``space``; return the best validation
    accuracy. Epochs trained, the best epoch and the stop reason go into the trial's user attributes.

    With ``cache`` (a dict), a config trained before (same values, same seed: the same numbers on a CPU) is not
    trained again: its recorded history is replayed to the pruner, and its epochs count as spent all the same.
    """

    def __init__(self, base: RunConfig, data: Splits, space: SearchSpace, stop: threading.Event | None = None,
                 cache: dict | None = None, threads: int | None = None, device: torch.device | None = None,
                 on_epoch: Callable[[optuna.Trial, dict], None] | None = None) -> None:
        if not isinstance(base, RunConfig):
            raise ValueError(f"base must be a RunConfig; got {base!r}")
        self.base, self.data, self.space = base.replace(monitor="val_acc"), data, space
        self.stop, self.cache, self.device, self.on_epoch = stop, cache, device, on_epoch
        self.threads = threads or torch.get_num_threads()

    def config(self, values: Mapping[str, Any]) -> RunConfig:
        return self.base.replace(**values)

    def __call__(self, trial: optuna.Trial) -> float:
        torch.set_num_threads(self.threads)  # a sampler may have changed it while it fitted its model
        config = self.config(self.space.suggest(trial))
        key = repr(config.to_dict())
        history = self.cache.get(key) if self.cache is not None else None
        started = time.perf_counter()
        if history is None:
            # a diverged trial is an outcome of the search, kept in its stop_reason: no warning per trial
            result = fit(config, self.data, callbacks=self._callbacks(trial), progress=False, device=self.device,
                         warn_divergence=False)
            records = list(result.history)
            if result.stop_reason == STOPPED or self._stopped():  # Stop wins over a pruner's verdict
                trial.set_user_attr("stop_reason", STOPPED)
                trial.study.stop()
                raise StudyStopped(STOPPED)
            if self.cache is not None and not trial.user_attrs.get("pruned_at") and records:
                self.cache[key] = records
            if not records:  # diverged on its first step: the untrained model's score
                records = [{"epoch": 0, "val_acc": evaluate(result.model, self.data.x_val, self.data.y_val)[1]}]
            reason = result.stop_reason
        else:
            if self._stopped():
                trial.set_user_attr("stop_reason", STOPPED)
                trial.study.stop()
                raise StudyStopped(STOPPED)
            records, reason = self._replay(trial, history), f"{StopReason.COMPLETED} (cached)"
        trial.set_user_attr("seconds", time.perf_counter() - started)
        pruned_at = trial.user_attrs.get("pruned_at")
        spent = pruned_at or max(r["epoch"] for r in records)
        trial.set_user_attr("epochs", spent)
        if pruned_at:
            trial.set_user_attr("stop_reason", f"{StopReason.PRUNED} after epoch {pruned_at}")
            raise optuna.TrialPruned(f"pruned after epoch {pruned_at}")
        best = max(records, key=lambda r: r["val_acc"])
        trial.set_user_attr("best_epoch", best["epoch"])
        trial.set_user_attr("stop_reason", reason)
        return float(best["val_acc"])

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _report(self, trial: optuna.Trial, record: dict) -> bool:
        """Report one epoch; True when the pruner says stop. Nothing is reported once Stop is pressed: the epoch
        it cut short is not a result, and a pruner would record the trial as pruned on it."""
        if self._stopped():
            return False
        trial.report(float(record["val_acc"]), int(record["epoch"]))
        if self.on_epoch is not None:
            self.on_epoch(trial, record)
        if trial.should_prune():
            trial.set_user_attr("pruned_at", int(record["epoch"]))
            return True
        return False

    def _callbacks(self, trial: optuna.Trial) -> list:
        def on_epoch(state: Any, history: Any, **_: Any) -> None:
            if self._report(trial, history[-1]):
                state.stop_training, state.stop_reason = True, StopReason.PRUNED

        return [LambdaCallback(on_epoch=on_epoch), *([StopOnEvent(self.stop)] if self.stop is not None else [])]

    def _replay(self, trial: optuna.Trial, history: list[dict]) -> list[dict]:
        for i, record in enumerate(history):
            if self._report(trial, record):
                return history[:i + 1]
        return history


def storage_url(name: str, folder: Path | str | None = None) -> str:
    """The SQLite file a study named ``name`` lives in: ``folder/<name>.db``, by default ``runs/<name>.db``
    (``paths.study_file``, which also brings along a study an earlier version kept elsewhere)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
        raise ValueError(f"study name={name!r} is not allowed: use letters, digits, '-' and '_' only")
    path = paths.study_file(name) if folder is None else Path(folder) / f"{name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


class HeartbeatStorage(optuna.storages.RDBStorage):
    """Optuna's ``RDBStorage`` whose heartbeats survive a short loss of the database server: a heartbeat that
    cannot be written is skipped (the next one, a heartbeat later, tries again) instead of ending the thread that
    writes them with a traceback. A trial whose heartbeats stop for longer than the grace period is failed and
    redone all the same."""

    def record_heartbeat(self, trial_id: int) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            super().record_heartbeat(trial_id)
        except SQLAlchemyError:
            self.remove_session()


def make_storage(url: str, heartbeat: int = 2, grace: int | None = None,
                 engine_kwargs: dict[str, Any] | None = None) -> optuna.storages.RDBStorage:
    """An ``RDBStorage`` with heartbeats: a trial whose process died is marked failed after ``grace`` seconds
    (3 heartbeats by default) and its parameters are queued again for the next trial (``RetryHeartbeatStaleTrial
    Callback``), so a killed worker loses nothing that had finished and its unfinished trial is redone."""
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5; the kill-and-resume test pins them
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return HeartbeatStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat, grace_period=grace or 3 * heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3))


def fail_stale(study: optuna.Study) -> list[int]:
    """Mark failed (and queue again) the running trials whose worker died: those whose heartbeat is older than the
    grace period (Optuna's ``fail_stale_trials``), and those that never wrote one (a worker killed between drawing
    the trial and its first heartbeat, which Optuna would leave running for ever): they get a heartbeat now and are
    failed once it is stale. Returns the numbers of the trials failed by this call. A no-op without heartbeats."""
    storage = getattr(study._storage, "_backend", study._storage)  # a study wraps its RDBStorage in a cache
    if not isinstance(storage, optuna.storages.RDBStorage) or storage.heartbeat_interval is None:
        return []
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    failed = [t.number for t in running
              if storage.get_trial(t._trial_id).state == TrialState.FAIL]
    silent = _without_heartbeat(storage, [t._trial_id for t in running if t.number not in failed])
    for trial_id in silent:
        storage.record_heartbeat(trial_id)
    return failed


def _without_heartbeat(storage: optuna.storages.RDBStorage, trial_ids: list[int]) -> list[int]:
    """The trials among ``trial_ids`` that have no heartbeat recorded."""
    if not trial_ids:
        return []
    from optuna.storages._rdb import models

    session = storage.scoped_session()
    try:
        beating = {row[0] for row in session.query(models.TrialHeartbeatModel.trial_id)
                   .filter(models.TrialHeartbeatModel.trial_id.in_(trial_ids)).all()}
    finally:
        storage.remove_session()
    return [i for i in trial_ids if i not in beating]


def open_study(name: str, method: str = "tpe", space: SearchSpace | None = None, pruner: str = "none",
               epochs: int = 6, seed: int = 0, storage: str | optuna.storages.BaseStorage | None = None,
               grid_points: int | Mapping[str, int] = 3) -> optuna.Study:
    """Create the study ``name`` or load it where it exists (stored in ``runs/<name>.db`` unless ``storage`` says
    otherwise; ``storage="memory"`` keeps it in memory). The sampler and pruner are not stored with the study:
    they come from ``method`` and ``pruner`` on every open."""
    if space is None:
        raise ValueError("open_study needs a SearchSpace")
    sampler = make_sampler(method, space, seed, grid_points)
    try:
        if storage is None:
            storage = make_storage(storage_url(name))
        elif storage == "memory":
            storage = optuna.storages.InMemoryStorage()
        elif isinstance(storage, str):
            storage = make_storage(storage)
    except SQLAlchemyError as exc:
        raise ValueError(_damaged(storage or storage_url(name), exc)) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                    pruner=make_pruner(pruner, epochs), direction="maximize", load_if_exists=True)
    except SQLAlchemyError as exc:
        raise ValueError(_damaged(storage, exc)) from None
    wanted = json.loads(json.dumps(space.to_dict()))
    stored = study.user_attrs.get(SPACE_ATTR)
    if stored is None:  # a new study (or one stored before the space was recorded): record it
        study.set_user_attr(SPACE_ATTR, wanted)
    elif stored != wanted:
        where = f" in {_where(storage)}" if _where(storage) else ""
        raise ValueError(f"study {name!r}{where} was searched over {stored}, not {wanted}: resuming it would mix the "
                         "two spaces; give the study another name (or delete its file to start again)")
    return study


def _damaged(storage: Any, exc: Exception) -> str:
    """One line for a study file SQLite cannot read: which file, the database's words, and the way out."""
    url = storage if isinstance(storage, str) else getattr(getattr(storage, "_backend", storage), "url", "")
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[:1] or [type(exc).__name__]
    if not url.startswith("sqlite:///"):
        return f"cannot open the study's storage: {reason[0]}"
    path = url.replace("sqlite:///", "", 1)
    return (f"the study file {path} cannot be read ({reason[0]}): it is damaged or not a study; delete it to start "
            "the study again (its trials are lost), or open it with another name")


SPACE_ATTR = "search_space"  # the user attribute recording the space a study was searched over


def _where(storage: optuna.storages.BaseStorage) -> str:
    url = getattr(getattr(storage, "_backend", storage), "url", "")
    return url.replace("sqlite:///", "", 1) if url.startswith("sqlite:///") else ""


class _QuietStop(logging.Filter):
    """Drop Optuna's warning (with its traceback) for a trial that ended because Stop was pressed: the trial is
    marked failed with ``stop_reason`` "stopped" and queued again, which is all a user needs to know."""

    def __init__(self) -> None:
        super().__init__()
        self.trials: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        number = re.match(r"Trial (\d+) failed", record.getMessage())
        if number and record.exc_info and isinstance(record.exc_info[1], StudyStopped):
            self.trials.add(number.group(1))
        return not (number and number.group(1) in self.trials)


def optimize(study: optuna.Study, objective: Callable[[optuna.Trial], float], n_trials: int | None,
             callbacks: Sequence[Callable] = (), ran: list[int] | None = None) -> list[int]:
    """``study.optimize`` with Stop handled: a trial that Stop (the panel's button, Ctrl-C, SIGTERM) cut short
    ends failed with ``stop_reason`` "stopped", is never a pruned or finished result, and its parameters are
    queued again so that the next run (or another worker) redoes it; the study ends at once, quietly. Returns
    the numbers of the trials this call ran (also appended to ``ran`` as they start, which keeps them when the
    call raises)."""
    mine: list[int] = ran if ran is not None else []

    def counted(trial: optuna.Trial) -> float:
        mine.append(trial.number)
        return objective(trial)

    quiet = _QuietStop()
    logger = logging.getLogger("optuna.study._optimize")
    logger.addFilter(quiet)
    try:
        study.optimize(counted, n_trials=n_trials, catch=(StudyStopped,), callbacks=list(callbacks))
    finally:
        logger.removeFilter(quiet)
        requeue_stopped(study, mine)
    return mine


def requeue_stopped(study: optuna.Study, numbers: Sequence[int]) -> list[int]:
    """Queue again the parameters of the trials among ``numbers`` that Stop ended (failed, ``stop_reason``
    "stopped"), once each; returns the trials queued."""
    wanted = set(numbers)
    queued = {t.user_attrs.get("retry_of") for t in study.get_trials(deepcopy=False)}
    again = [t for t in study.get_trials(deepcopy=False) if t.number in wanted and t.state == TrialState.FAIL
             and t.user_attrs.get("stop_reason") == STOPPED and t.number not in queued]
    for trial in again:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
    return [t.number for t in again]


def finished(study: optuna.Study) -> int:
    """Trials that ended with a value or were pruned (failed and running ones are not counted)."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def run_study(study: optuna.Study, objective: Objective, n_trials: int,
              callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = ()) -> int:
    """Run trials until the study holds ``n_trials`` finished ones (a resumed study runs only what is missing),
    the grid is exhausted or Stop is pressed. Returns how many trials this call ran. A dry run caps ``n_trials`` at
    ``dry_run.TRIALS``."""
    n_trials = dry.trials(checks.whole("trials", n_trials, low=1))
    missing = n_trials - finished(study)
    if missing <= 0:
        return 0
    limit = optuna.study.MaxTrialsCallback(n_trials, states=FINISHED)
    threads = torch.get_num_threads()
    ran: list[int] = []
    try:
        optimize(study, objective, n_trials=None if _shared(study) else missing, callbacks=[limit, *callbacks],
                 ran=ran)
    finally:
        torch.set_num_threads(threads)
    return len(ran)


def _shared(study: optuna.Study) -> bool:
    """Whether other processes may add trials too (a database), so that only the finished count can stop us."""
    return not isinstance(study._storage, optuna.storages.InMemoryStorage)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, value (best validation accuracy; empty unless the trial completed),
    last_report (the last epoch's validation accuracy it reported), the parameters, epochs spent, best epoch, stop
    reason, seconds; and ``best_so_far`` and ``epochs_so_far`` in trial order."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        last = max(t.intermediate_values.items())[1] if t.intermediate_values else math.nan
        value = t.value if t.state == TrialState.COMPLETE else math.nan
        rows.append({"trial": t.number, "state": t.state.name.lower(), "value": value, "last_report": last, **t.params,
                     "epochs": attrs.get("epochs", 0), "best_epoch": attrs.get("best_epoch"),
                     "stop_reason": attrs.get("stop_reason", ""), "seconds": attrs.get("seconds", math.nan),
                     **({"name": attrs["name"]} if "name" in attrs else {})})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["trial", "state", "value", "epochs", "best_so_far", "epochs_so_far"])
    table["best_so_far"] = table["value"].cummax().ffill()  # cummax leaves a pruned trial's NaN in place
    table["epochs_so_far"] = table["epochs"].cumsum()
    return table


def repeat_search(base: RunConfig, data: Splits, space: SearchSpace, method: str, n_trials: int,
                  search_seeds: Sequence[int] = (0, 1, 2), pruner: str = "none", cache: dict | None = None,
                  grid_points: int | Mapping[str, int] = 3, startup: int = 4,
                  progress: bool = True, studies: dict | None = None) -> pd.DataFrame:
    """The same search (``method``, ``pruner``, ``n_trials``) once per search seed, each in a fresh in-memory study
    (a comparison must not resume an older run); the training seed stays ``base.seed``, so only the search differs.
    Returns the trials tables stacked, with ``method``, ``pruner`` and ``search_seed`` columns; pass a dict as
    ``studies`` to keep each Optuna study in it under its search seed (for Optuna's plots)."""
    from tqdm.auto import tqdm

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    frames = []
    for seed in tqdm(checks.seeds("search_seeds", search_seeds), desc=f"{method} searches", disable=not progress):
        study = optuna.create_study(direction="maximize", sampler=make_sampler(method, space, seed, grid_points,
                                                                               startup),
                                    pruner=make_pruner(pruner, base.epochs))
        run_study(study, Objective(base, data, space, cache=cache), n_trials)
        if studies is not None:
            studies[seed] = study
        table = trials_table(study)
        table.insert(0, "search_seed", seed)
        table.insert(0, "pruner", pruner)
        table.insert(0, "method", method)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def best_found(table: pd.DataFrame, within: int | None = None) -> pd.Series:
    """Per search seed: the best validation accuracy found (in the first ``within`` trials if given)."""
    rows = table if within is None else table[table["trial"] < within]
    return rows.groupby("search_seed")["value"].max()


def epochs_spent(table: pd.DataFrame) -> pd.Series:
    """Per search seed: the epochs every trial trained, summed."""
    return table.groupby("search_seed")["epochs"].sum()


def best_config(study_or_table: optuna.Study | pd.DataFrame, base: RunConfig, space: SearchSpace) -> RunConfig:
    """``base`` with the parameters of the trial with the best validation accuracy."""
    table = trials_table(study_or_table) if isinstance(study_or_table, optuna.Study) else study_or_table
    if "value" not in table or table["value"].isna().all():
        raise ValueError("the study has no completed trial yet, so no best config: run it first (run_study), or "
                         "check that its trials did not all fail or get pruned")
    row = table.loc[table["value"].idxmax()]
    return base.replace(**{name: _plain(row[name]) for name in space.params})


def _plain(value: Any) -> Any:
    """A pandas/numpy scalar as the Python number RunConfig expects."""
    return value.item() if hasattr(value, "item") else value
