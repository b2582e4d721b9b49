"""The classroom: a PostgreSQL server on the class network, one shared Optuna study that every laptop joins, and the
leaderboard's data."""

from __future__ import annotations

from dlopt_kit.classroom.server import PgServer, PgServerError, lan_address, local_subnet, pg_bin
from dlopt_kit.classroom.study import (
    StorageError,
    connect,
    create_shared,
    join,
    leaderboard,
    objective_for,
    progress,
    redact,
    storage_url,
    study_names,
    work,
)

__all__ = [
    "connect", "create_shared", "join", "lan_address", "leaderboard", "local_subnet", "objective_for", "pg_bin",
    "PgServer", "PgServerError", "progress", "redact", "storage_url", "StorageError", "study_names", "work"
]
