"""The sandbox's local store: every run kept across kernel restarts in one SQLite file (``runs/sandbox.sqlite`` by
default, a git-ignored folder), with the recipe that made it and its per-epoch record.

Two tables: ``runs`` (one row per run: recipe name, the recipe itself as JSON, seed, when, how it ended, its best
epoch and the kept model's test accuracy) and ``epochs`` (one row per run and epoch, every recorded metric as a
column). ``Store.table()`` gives back the tidy table ``compare`` makes, so the kit's plots and verdicts read it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from dlopt_kit.core import paths
from dlopt_kit.sandbox.recipes import Recipe, recipe_from_dict

DEFAULT = paths.runs_dir() / "sandbox.sqlite"
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm", "seconds", "weight_norm",
           "near_zero")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, recipe TEXT NOT NULL,
    seed INTEGER NOT NULL, created TEXT NOT NULL, stop_reason TEXT, best_epoch INTEGER, test_loss REAL,
    test_acc REAL);
CREATE TABLE IF NOT EXISTS epochs (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, {", ".join(f"{m} REAL" for m in METRICS)}, PRIMARY KEY (run_id, epoch));
"""


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


class Store:
    """Runs kept in the SQLite file at ``path`` (its folder is made when missing)."""

    def __init__(self, path: str | Path = DEFAULT) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def add(self, recipe: Recipe, frame: pd.DataFrame) -> list[int]:
        """Keep the runs of ``frame`` (``compare``'s table for ``recipe``: one or more seeds) under the recipe's
        name; returns their ids."""
        ids = []
        with closing(self._connect()) as db, db:
            for seed, run in frame.groupby("seed", sort=True):
                last = run.iloc[-1]
                cursor = db.execute(
                    "INSERT INTO runs (name, recipe, seed, created, stop_reason, best_epoch, test_loss, test_acc) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (recipe.name, json.dumps(recipe.to_dict()), int(seed), datetime.now(UTC).isoformat(),
                     str(last.get("stop_reason", "")), _number(last.get("best_epoch")),
                     _number(last.get("test_loss")), _number(last.get("test_acc"))))
                run_id = int(cursor.lastrowid)
                db.executemany(
                    f"INSERT INTO epochs (run_id, epoch, {', '.join(METRICS)}) VALUES "
                    f"(?, ?, {', '.join('?' for _ in METRICS)})",
                    [(run_id, int(r["epoch"]), *(_number(r.get(m)) for m in METRICS)) for _, r in run.iterrows()])
                ids.append(run_id)
        return ids

    def runs(self) -> pd.DataFrame:
        """One row per kept run (without its epochs), oldest first."""
        with closing(self._connect()) as db:
            return pd.read_sql_query("SELECT id, name, seed, created, stop_reason, best_epoch, test_acc FROM runs "
                                     "ORDER BY id", db)

    def recipe(self, name: str) -> Recipe:
        """The recipe most recently kept under ``name`` (validated again, as a file would be)."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT recipe FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1", (name,)).fetchone()
        if row is None:
            raise KeyError(f"no run named {name!r} in {self.path}: it holds {', '.join(self.names()) or 'nothing'}")
        return recipe_from_dict(json.loads(row[0]), f"{self.path}:{name}")

    def free_name(self, name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
        """``name``, or ``name (2)``, ``name (3)``, ... when it is already in the store (or in ``taken``): a new run
        never joins or overwrites the runs kept under another config's name."""
        used = {*self.names(), *taken}
        if name not in used:
            return name
        k = 2
        while f"{name} ({k})" in used:
            k += 1
        return f"{name} ({k})"

    def names(self) -> list[str]:
        with closing(self._connect()) as db:
            return [r[0] for r in db.execute("SELECT DISTINCT name FROM runs ORDER BY id")]

    def table(self, names: list[str] | None = None) -> pd.DataFrame:
        """``compare``'s tidy table of the kept runs (``config`` is the recipe's name), for ``names`` or all."""
        query = (f"SELECT r.name AS config, r.seed, e.epoch, {', '.join('e.' + m for m in METRICS)}, r.test_loss, "
                 "r.test_acc, r.stop_reason, r.best_epoch FROM runs r JOIN epochs e ON e.run_id = r.id")
        with closing(self._connect()) as db:
            table = pd.read_sql_query(query + " ORDER BY r.id, e.epoch", db)
        if names is not None:
            table = table[table["config"].isin(names)]
        return table.dropna(axis=1, how="all").reset_index(drop=True)

    def remove(self, name: str) -> int:
        """Forget every run kept under ``name``; returns how many."""
        with closing(self._connect()) as db, db:
            return db.execute("DELETE FROM runs WHERE name = ?", (name,)).rowcount

    def clear(self) -> int:
        """Forget every run in the store; returns how many."""
        with closing(self._connect()) as db, db:
            return db.execute("DELETE FROM runs").rowcount
