"""The sandbox's local store: every run kept across kernel restarts in one SQLite file (``runs/sandbox.sqlite`` by
default, a git-ignored folder), with the recipe that made it and its per-epoch record.

Two tables: ``runs`` (one row per run: recipe name, the recipe itself as JSON, seed, when, how it ended, its best
epoch, the kept model's test accuracy and its per-example correctness on validation and test, packed bits and a
length) and ``epochs`` (one row per run and epoch, every recorded metric as a column). ``Store.table()`` gives back
the tidy table ``run_recipe`` makes, so the kit's plots and verdicts read it. A store made before the per-example
columns existed gains them when opened (``ALTER TABLE``); its runs simply have none, and their verdicts are
"seeds only".
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dlopt_kit.core import paths
from dlopt_kit.sandbox.recipes import Recipe, recipe_from_dict
from dlopt_kit.sandbox.statistics import RECORD_COLUMNS

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
# added after the first layout: per split, the packed bits and how many examples they hold
ADDED = {column: kind for c in RECORD_COLUMNS.values() for column, kind in ((c, "BLOB"), (f"{c}_n", "INTEGER"))}


REQUIRED = ("id", "name", "recipe", "seed", "created")  # the columns that make a `runs` table this kit's


class StoreError(ValueError):
    """A store file that cannot be opened, read or written: the message names the file and what to do."""


def store_error(path: Path, exc: Exception) -> StoreError:
    """SQLite's own message (which names no file) as one line naming the store and the way out."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "execution failed on sql" in text.lower() and ": " in text:  # pandas' wrapper: keep SQLite's part
        text = text.rsplit(": ", 1)[-1]
    low = text.lower()
    if "not a database" in low:
        return StoreError(f"{path} is not a dlopt_kit store (SQLite cannot read it: {text}): choose another path for "
                          "the store, or, if it was a store, delete it to start a new one there (its stored runs "
                          "are lost)")
    if "malformed" in low or "corrupt" in low:
        return StoreError(f"store {path} is damaged ({text}): recover its runs with `sqlite3 {path} .recover | "
                          f"sqlite3 recovered.sqlite` and open that file, or delete {path} to start a new store "
                          "(its stored runs are lost)")
    if "locked" in low or "busy" in low:
        return StoreError(f"store {path} is in use by another program ({text}): close the other notebook or "
                          "compare that writes to it, then try again")
    if "readonly" in low or "read-only" in low:
        return StoreError(f"store {path} cannot be written ({text}): make the file and its folder writable, or "
                          "choose another path")
    if "unable to open" in low:
        return StoreError(f"store {path} cannot be opened ({text}): give the path of a file in a folder you can "
                          "write to, e.g. runs/sandbox.sqlite")
    return StoreError(f"store {path}: SQLite failed ({text}): check the file, or choose another path")


def pack(correct: object) -> tuple[bytes | None, int | None]:
    """A boolean array as (packed bits, length) for a BLOB column; (None, None) for anything else."""
    if not isinstance(correct, np.ndarray):
        return None, None
    return np.packbits(correct.astype(bool)).tobytes(), len(correct)


def unpack(bits: bytes | None, length: int | None) -> np.ndarray | None:
    """``pack``'s inverse (None stays None)."""
    if bits is None or length is None:
        return None
    return np.unpackbits(np.frombuffer(bits, np.uint8), count=int(length)).astype(bool)


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


class Store:
    """Runs kept in the SQLite file at ``path`` (its folder is made when missing; a new file becomes an empty
    store). A path that is a folder, a file that is not SQLite, an SQLite file of another program, or a damaged
    store is refused on opening with ``StoreError`` naming the file and what to do; SQLite's errors later on (a
    locked or read-only file) are ``StoreError`` too."""

    def __init__(self, path: str | Path = DEFAULT) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"store {self.path} is a folder: give the path of an SQLite file, e.g. "
                             f"{self.path / 'sandbox.sqlite'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            blocker = next((p for p in self.path.parents if p.exists() and not p.is_dir()), None)
            why = f"{blocker} is a file, not a folder" if blocker else exc.strerror or str(exc)
            raise StoreError(f"store {self.path}: its folder {self.path.parent} cannot be made ({why}): choose "
                             "another path") from None
        with self._db(write=True) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            missing = [c for c in REQUIRED if c not in have]
            if tables and missing:  # another program's database: keep out of it
                lacks = " without a `runs` table" if "runs" not in tables else f", its runs lack {', '.join(missing)}"
                raise StoreError(f"{self.path} is an SQLite database but not a dlopt_kit store (tables "
                                 f"{', '.join(sorted(tables))}{lacks}): choose another path for the store; nothing "
                                 "was written to it")
            db.executescript(SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            for column, kind in ADDED.items():  # the migration: stores made before these columns gain them
                if column not in have:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection, closed afterwards (committed when ``write``, rolled back on an error); SQLite's errors,
        which name no file, come out as ``StoreError`` naming this store and what to do."""
        try:
            db = self._connect()
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None
        try:
            if write:
                with db:
                    yield db
            else:
                yield db
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise store_error(self.path, exc) from None
        finally:
            db.close()

    def add(self, recipe: Recipe, frame: pd.DataFrame) -> list[int]:
        """Keep the runs of ``frame`` (``run_recipe``'s or ``compare``'s table for ``recipe``: one or more seeds)
        under the recipe's name, with their per-example records where ``frame`` has them; returns their ids."""
        ids = []
        with self._db(write=True) as db:
            for seed, run in frame.groupby("seed", sort=True):
                last = run.iloc[-1]
                bits = [x for c in RECORD_COLUMNS.values() for x in pack(last.get(c))]
                cursor = db.execute(
                    "INSERT INTO runs (name, recipe, seed, created, stop_reason, best_epoch, test_loss, test_acc, "
                    f"{', '.join(ADDED)}) VALUES ({', '.join('?' for _ in range(8 + len(ADDED)))})",
                    (recipe.name, json.dumps(recipe.to_dict()), int(seed), datetime.now(UTC).isoformat(),
                     str(last.get("stop_reason", "")), _number(last.get("best_epoch")),
                     _number(last.get("test_loss")), _number(last.get("test_acc")), *bits))
                run_id = int(cursor.lastrowid)
                db.executemany(
                    f"INSERT INTO epochs (run_id, epoch, {', '.join(METRICS)}) VALUES "
                    f"(?, ?, {', '.join('?' for _ in METRICS)})",
                    [(run_id, int(r["epoch"]), *(_number(r.get(m)) for m in METRICS)) for _, r in run.iterrows()])
                ids.append(run_id)
        return ids

    def runs(self) -> pd.DataFrame:
        """One row per kept run (without its epochs), oldest first."""
        with self._db() as db:
            return pd.read_sql_query("SELECT id, name, seed, created, stop_reason, best_epoch, test_acc FROM runs "
                                     "ORDER BY id", db)

    def recipe(self, name: str) -> Recipe:
        """The recipe most recently kept under ``name`` (validated again, as a file would be)."""
        with self._db() as db:
            row = db.execute("SELECT recipe FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1", (name,)).fetchone()
        if row is None:
            raise KeyError(f"no run named {name!r} in {self.path}: it holds {', '.join(self.names()) or 'nothing'}")
        try:
            data = json.loads(row[0])
        except (TypeError, ValueError) as exc:
            raise StoreError(f"store {self.path}: the recipe kept under {name!r} is not JSON ({exc}): the store was "
                             "edited by hand or damaged; remove that name (Store.remove) and run it again") from None
        return recipe_from_dict(data, f"{self.path}:{name}")

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
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT name FROM runs ORDER BY id")]

    def table(self, names: list[str] | None = None) -> pd.DataFrame:
        """``run_recipe``'s tidy table of the kept runs (``config`` is the recipe's name), for ``names`` or all;
        the per-example columns hold None for a run without records (and are left out when no run has any)."""
        query = (f"SELECT r.id AS run_id, r.name AS config, r.seed, e.epoch, {', '.join('e.' + m for m in METRICS)}, "
                 "r.test_loss, r.test_acc, r.stop_reason, r.best_epoch FROM runs r JOIN epochs e ON e.run_id = r.id")
        with self._db() as db:
            table = pd.read_sql_query(query + " ORDER BY r.id, e.epoch", db)
            kept = {row[0]: row[1:] for row in db.execute(f"SELECT id, {', '.join(ADDED)} FROM runs")}
        if names is not None:
            table = table[table["config"].isin(names)]
        for i, column in enumerate(RECORD_COLUMNS.values()):
            arrays = {run: unpack(*bits[2 * i: 2 * i + 2]) for run, bits in kept.items()}
            table[column] = pd.Series([arrays[r] for r in table["run_id"]], table.index, dtype=object)
        return table.drop(columns="run_id").dropna(axis=1, how="all").reset_index(drop=True)

    def examples(self, name: str, seed: int) -> dict[str, np.ndarray] | None:
        """The per-example correctness of the run most recently kept under ``name`` with ``seed``: split ("val",
        "test") -> boolean array, the kept model's; None when that run has no record (a store from before they
        were kept). KeyError when there is no such run."""
        with self._db() as db:
            row = db.execute(f"SELECT {', '.join(ADDED)} FROM runs WHERE name = ? AND seed = ? ORDER BY id DESC "
                             "LIMIT 1", (name, int(seed))).fetchone()
        if row is None:
            raise KeyError(f"no run named {name!r} with seed {seed} in {self.path}")
        found = {split: unpack(*row[2 * i: 2 * i + 2]) for i, split in enumerate(RECORD_COLUMNS)}
        return None if all(v is None for v in found.values()) else found

    def remove(self, name: str) -> int:
        """Forget every run kept under ``name``; returns how many."""
        with self._db(write=True) as db:
            return db.execute("DELETE FROM runs WHERE name = ?", (name,)).rowcount

    def clear(self) -> int:
        """Forget every run in the store; returns how many."""
        with self._db(write=True) as db:
            return db.execute("DELETE FROM runs").rowcount
