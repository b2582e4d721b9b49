"""The claims ledger: every claim a notebook checks, kept as data, one JSON line each.

A notebook's ``setup(..., lesson="01_data_quality")`` opens the lesson's ledger file,
``build/claims/<budget>/<lesson>.jsonl`` (``DLOPT_LEDGER_DIR`` replaces ``build/claims``), and empties it; every
claim helper then appends one record (``write``). Without a lesson (unit tests, a script) and in a dry run nothing is
written. ``read`` loads the records of every lesson at every budget under a folder, for ``python -m dlopt_kit
claims``; ``benchmarks/claims/`` keeps the committed ones.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from dlopt_kit.core import dry_run as dry
from dlopt_kit.core import paths

LEDGER_ENV = "DLOPT_LEDGER_DIR"
LESSON = re.compile(r"^\d\d_[a-z][a-z_]*$")
KINDS = ("gain", "non-inferiority", "peak", "threshold")


@dataclass(frozen=True)
class Open:
    """The ledger a notebook writes to: its lesson, the budget and device it runs with, and the file."""

    lesson: str
    budget: str
    device: str
    file: Path


_current: Open | None = None


def ledger_dir() -> Path:
    """Where ledgers are written and read: ``DLOPT_LEDGER_DIR``, else ``build/claims`` (see ``paths.build_dir``)."""
    return Path(os.environ[LEDGER_ENV]).expanduser() if os.environ.get(LEDGER_ENV) else paths.build_dir() / "claims"


def open_lesson(lesson: str, budget: str, device: str) -> Path | None:
    """Start ``lesson``'s ledger at ``budget``: its file emptied, later claims appended to it. Nothing in a dry run
    (returns None). ``lesson`` is the notebook's stem, e.g. ``"01_data_quality"``."""
    global _current
    if not isinstance(lesson, str) or not LESSON.match(lesson):
        raise ValueError(f"lesson={lesson!r} is not allowed: give the notebook's name without .ipynb, "
                         "e.g. lesson='01_data_quality'")
    if dry.dry_run():
        _current = None
        return None
    file = ledger_dir() / budget / f"{lesson}.jsonl"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("")
    _current = Open(lesson, budget, device, file)
    return file


def close() -> None:
    """Stop writing: later claims are recorded nowhere (the state of a fresh process)."""
    global _current
    _current = None


def _plain(value: Any) -> Any:
    """``value`` with numpy numbers as Python ones and non-finite floats as None, for JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write(record: dict[str, Any]) -> dict[str, Any] | None:
    """Append one claim to the open lesson's ledger, with the lesson, budget, device, torch version and time added.
    Returns the record written, or None when no lesson is open (or in a dry run)."""
    if _current is None or dry.dry_run():
        return None
    if record.get("kind") not in KINDS:
        raise ValueError(f"kind={record.get('kind')!r} is not allowed: choose one of {', '.join(KINDS)}")
    full = {"notebook": _current.lesson, **record, "budget": _current.budget, "device": _current.device,
            "torch": torch.__version__, "time": datetime.now(UTC).isoformat(timespec="seconds")}
    full = _plain(full)
    with _current.file.open("a") as out:
        out.write(json.dumps(full, sort_keys=False) + "\n")
    return full


def read(root: Path) -> list[dict[str, Any]]:
    """Every record under ``root`` (``<budget>/<lesson>.jsonl``), budgets in the order small, medium, full (then any
    other), lessons in course order, claims in the order the notebook made them."""
    order = {"small": 0, "medium": 1, "full": 2}
    records = []
    for folder in sorted((p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else [],
                         key=lambda p: (order.get(p.name, 3), p.name)):
        for file in sorted(folder.glob("*.jsonl")):
            for number, line in enumerate(file.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{file}, line {number}: not a JSON record ({exc.msg})") from None
    return records
