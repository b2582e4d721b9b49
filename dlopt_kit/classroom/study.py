"""One Optuna study shared by many workers: lesson 04's search on a database that every worker reaches.

- The storage URL comes from the environment (``DLOPT_STORAGE``), never from code or a command line, and is shown
  only without its password (``redact``).
- ``create_shared`` makes a study with lesson 04's space and objective (``tuning.LESSON04_SPACE``,
  ``tuning.lesson04_base``) and records its method, pruner and budget; ``join`` opens it from any machine.
- ``work`` runs trials until the study holds a number of finished ones, with heartbeats: a worker killed mid-trial
  has its trial marked failed and queued again for another worker; Ctrl-C or SIGTERM ends a worker cleanly, its
  interrupted trial queued again the same way.
- ``leaderboard`` / ``progress``: every participant's best trial, and the study's trials by state.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from dlopt_kit.core import checks
from dlopt_kit.core.budget import BUDGETS
from dlopt_kit.hyperparameter_tuning.search import (
    FINISHED,
    LESSON04_SPACE,
    METHODS,
    PRUNERS,
    Objective,
    fail_stale,
    lesson04_base,
    make_pruner,
    make_sampler,
    make_storage,
    optimize,
)

ENV = "DLOPT_STORAGE"
SCHEMES = ("postgresql", "postgresql+psycopg", "sqlite")
SETTINGS = "dlopt_settings"  # the study's user attribute holding method, pruner and budget


class StorageError(ValueError):
    """A storage or study problem a user can fix; the message is one line and never holds a password."""


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme, _, rest = url.partition("://")
    if _unescaped_at(url):  # the parser would read the end of the password as the host: show neither
        return f"{scheme}://{rest.split(':', 1)[0]}:***@{rest.rsplit('@', 1)[1]}"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(an unreadable URL)"


def _unescaped_at(url: str) -> bool:
    """Whether a server URL has more than one '@' before its database name (an '@' in the password, unescaped)."""
    scheme, _, rest = url.partition("://")
    return not scheme.startswith("sqlite") and rest.count("@") > 1


def storage_url(env: Mapping[str, str] | None = None) -> str:
    """The storage URL from ``DLOPT_STORAGE`` (StorageError saying how to set it when it is missing)."""
    url = (env if env is not None else os.environ).get(ENV, "").strip()
    if not url:
        raise StorageError(f"{ENV} is not set: export {ENV}='postgresql+psycopg://student:PASSWORD@HOST:5432/dlopt' "
                           "(the URL your instructor shared), or a local file: sqlite:///runs/shared.db")
    return url


def connect(url: str, heartbeat: int = 5, grace: int | None = None) -> optuna.storages.RDBStorage:
    """The RDB storage at ``url`` with heartbeats, or StorageError naming what is wrong (scheme, address,
    password) in one line."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    if _unescaped_at(url):
        raise StorageError(f"{ENV} holds more than one '@' ({redact(url)}): an '@' in the password must be written "
                           "%40 (URL-encoded), e.g. pa%40ss for pa@ss")
    try:
        scheme = make_url(url).drivername
    except (ArgumentError, ValueError):
        raise StorageError(f"{ENV} is not a database URL: {redact(url)}; expected postgresql+psycopg://USER:"
                           "PASSWORD@HOST:PORT/DATABASE or sqlite:///PATH") from None
    if scheme not in SCHEMES:
        raise StorageError(f"{ENV} uses the scheme {scheme!r}, which is not supported: use one of "
                           f"{', '.join(SCHEMES)} (PostgreSQL for a shared study, SQLite for one machine)")
    engine = None
    if scheme.startswith("postgresql"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)  # the driver this kit installs
        engine = {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    try:
        return make_storage(url, heartbeat=heartbeat, grace=grace, engine_kwargs=engine)
    except SQLAlchemyError as exc:
        raise StorageError(_explain(exc, url)) from None


def _explain(exc: Exception, url: str) -> str:
    """One line for a failed connection: unreachable, refused login, or the driver's own first line."""
    from sqlalchemy.engine import make_url

    where = redact(url)
    parsed = make_url(url)
    text = str(getattr(exc, "orig", exc) or exc).strip()
    if "password authentication failed" in text:
        return f"the server refused user {parsed.username!r}: wrong password ({where})"
    if any(s in text for s in ("Connection refused", "could not connect", "timeout expired", "No route to host",
                               "Name or service not known", "could not translate host name")):
        return (f"cannot reach a database server at {parsed.host}:{parsed.port or 5432} ({where}): is it started, "
                "and are the address and port right?")
    if "no pg_hba.conf entry" in text:
        return f"the server does not accept connections from this machine ({where}): ask for the class subnet"
    return f"cannot open the storage {where}: {text.splitlines()[0] if text else type(exc).__name__}"


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]


def create_shared(storage: optuna.storages.BaseStorage, name: str, method: str = "tpe", pruner: str = "sha",
                  budget: str = "small") -> optuna.Study:
    """Create the study ``name`` (lesson 04's space and objective) or return it where it exists with the same
    settings. Every setting is checked before anything is written, so a refused one leaves no study behind."""
    checks.choice("method", method, METHODS)
    checks.choice("pruner", pruner, PRUNERS)
    checks.choice("budget", budget, tuple(BUDGETS))
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise StorageError(f"study name={name!r} is not allowed: 1 to 64 characters")
    settings = {"method": method, "pruner": pruner, "budget": budget}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if name in study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage)
        if study.user_attrs.get(SETTINGS) != settings:
            raise StorageError(f"study {name!r} exists with other settings {study.user_attrs.get(SETTINGS)}; "
                               f"asked for {settings}: choose another name")
        return study
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    try:
        study.set_user_attr(SETTINGS, settings)
    except BaseException:  # the connection dropped in between: leave no study without its settings
        optuna.delete_study(study_name=name, storage=storage)
        raise
    return study


def join(storage: optuna.storages.BaseStorage, name: str, seed: int | None = None) -> optuna.Study:
    """Open the shared study ``name`` with the sampler and pruner its settings name (StorageError when there is
    no such study). ``seed=None``: each worker draws its own points (the same seed everywhere would draw the
    same ones); TPE runs with ``constant_liar`` so that workers do not all pile onto one promising point."""
    names = study_names(storage)
    if name not in names:
        listed = ", ".join(names[:10]) or "none"
        raise StorageError(f"study {name!r} does not exist there (studies: {listed}); the instructor creates it "
                           f"with: python -m dlopt_kit tune create --study {name}")
    settings = optuna.load_study(study_name=name, storage=storage).user_attrs.get(SETTINGS)
    if not settings:
        raise StorageError(f"study {name!r} was not created by dlopt_kit (it has no {SETTINGS}); use another name")
    base = lesson04_base(BUDGETS[settings["budget"]].epochs)
    sampler = make_sampler(settings["method"], LESSON04_SPACE, seed)
    if isinstance(sampler, optuna.samplers.TPESampler):
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4, constant_liar=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                             pruner=make_pruner(settings["pruner"], base.epochs))


def check_data(study: optuna.Study, data: Any) -> None:
    """StorageError when ``data`` is not what the study's budget trains on (scores would not be comparable)."""
    budget = BUDGETS[study.user_attrs[SETTINGS]["budget"]]
    expected = None if budget.train_per_class is None else budget.train_per_class * data.num_classes
    if data.name != "fashion_mnist" or (expected is not None and len(data.y_train) != expected):
        raise StorageError(f"study {study.study_name!r} trains on fashion_mnist at the {budget.name} budget; this "
                           f"data is {data.name} with {len(data.y_train)} training images: restart the notebook "
                           f"with DLOPT_BUDGET={budget.name}")


def objective_for(study: optuna.Study, data: Any, participant: str = "", stop: threading.Event | None = None,
                  device: Any = None) -> Callable[[optuna.Trial], float]:
    """Lesson 04's objective at the study's budget; each trial records who ran it (``name``) and where
    (``worker``: host and process)."""
    settings = study.user_attrs[SETTINGS]
    objective = Objective(lesson04_base(BUDGETS[settings["budget"]].epochs), data, LESSON04_SPACE, stop=stop,
                          device=device)
    worker = f"{socket.gethostname()}:{os.getpid()}"

    def run(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        if participant:
            trial.set_user_attr("name", participant)
        return objective(trial)

    return run


def work(study: optuna.Study, objective: Callable[[optuna.Trial], float], trials: int | None = None,
         add: int | None = None, on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
         retry_for: float = 300, say: Callable[[str], None] | None = None) -> int:
    """Run trials until the study holds ``trials`` finished ones (every worker on the study shares that budget), or
    ``add`` more trials from this worker. A trial stopped by ``stop`` (Ctrl-C, SIGTERM, the Stop button) ends
    failed and its parameters are queued again, so another worker redoes it. Returns the trials this call ran.

    When the database server goes away (restarted, or the network dropped), the worker waits with a growing pause
    (1, 2, 4 ... 30 s), says so in one line through ``say``, and carries on once the server answers; after
    ``retry_for`` seconds without it, StorageError. The trial it had running is failed by its stale heartbeat and
    redone, like a killed worker's."""
    if (trials is None) == (add is None):
        raise ValueError("give exactly one of trials= (the study's total) or add= (this worker's share)")
    retry_for = checks.number("retry_for", retry_for, 0, 86400)
    callbacks = []
    if trials is not None:
        trials = checks.whole("trials", trials, low=1)
        if len(study.get_trials(deepcopy=False, states=FINISHED)) >= trials:
            return 0
        callbacks.append(optuna.study.MaxTrialsCallback(trials, states=FINISHED))
    else:
        add = checks.whole("trials", add, low=1)
    if on_trial is not None:
        callbacks.append(lambda _study, trial: on_trial(trial))
    mine: list[int] = []
    lost_at, pause = None, 1.0
    while True:
        try:
            left = None if add is None else add - len(mine)
            if left is not None and left <= 0:
                return len(mine)
            if lost_at is not None:
                fail_stale(study)  # the server is back: the trial we lost is stale once its grace has passed
                _say(say, "the database server is back: carrying on")
                lost_at, pause = None, 1.0
            optimize(study, objective, n_trials=left, callbacks=callbacks, ran=mine)
            return len(mine)
        except Exception as exc:
            reason = lost_server(exc)
            if reason is None:
                raise
            now = time.monotonic()
            lost_at = lost_at if lost_at is not None else now
            if now - lost_at + pause > retry_for:
                raise StorageError(f"lost the database server for {now - lost_at:.0f} s ({reason}); gave up after "
                                   f"retry_for={retry_for:g} s: start it again, then rerun this worker") from None
            _say(say, f"lost the database server ({reason}): trying again in {pause:.0f} s")
            time.sleep(pause)
            pause = min(2 * pause, 30.0)


def lost_server(exc: BaseException) -> str | None:
    """The first line of the database error behind ``exc`` when the connection to the server failed (anywhere in
    its chain: Optuna may raise something else while handling it), else None."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return text[0] if text else type(exc).__name__
        exc = exc.__cause__ or exc.__context__
    return None


def _say(say: Callable[[str], None] | None, line: str) -> None:
    if say is not None:
        say(line)


def progress(study: optuna.Study) -> dict[str, int]:
    """The study's trials counted by state (complete, pruned, running, waiting, fail)."""
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] += 1
    return counts


def leaderboard(study: optuna.Study) -> pd.DataFrame:
    """One row per participant (``name``; "(unnamed)" for workers without one), best first: their best
    validation accuracy, its trial and parameters, and how many trials they finished."""
    rows = []
    for trial in study.get_trials(deepcopy=False, states=FINISHED):
        rows.append({"name": trial.user_attrs.get("name") or "(unnamed)", "trial": trial.number,
                     "value": trial.value if trial.state == TrialState.COMPLETE else None, **trial.params})
    if not rows:
        return pd.DataFrame(columns=["name", "best val_acc", "trial", "finished"])
    table = pd.DataFrame(rows)
    finished = table.groupby("name").size().rename("finished")
    best = table.dropna(subset=["value"]).sort_values("value", ascending=False).drop_duplicates("name")
    board = best.set_index("name").join(finished, how="outer").reset_index()
    board = board.rename(columns={"value": "best val_acc"}).sort_values("best val_acc", ascending=False,
                                                                        na_position="last")
    first = ["name", "best val_acc", "trial"]
    return board[first + [c for c in board.columns if c not in first]].reset_index(drop=True)
