"""One validation vocabulary for every public entry point: a bad value raises ``ValueError`` naming the argument, the
value and what is allowed, before any work is done.

Values that come from NumPy, pandas, Optuna or a widget are accepted wherever the plain Python value would be
(``np.int64(3)`` is a whole number, ``np.float32(0.01)`` a number); ``True``/``False`` are never numbers. Each check
returns the value as a plain Python ``int``/``float``/``str``, so configs hold plain values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from dlopt_kit.core import dry_run


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_finite(value: Any) -> bool:
    """Whether a number is finite (a whole number too large for a float, such as 10**400 from a file, is not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _shown(name: Any) -> str:
    """A name as a message shows it: as written when it is printable text, else quoted (an empty, multi-line or
    non-text key from a file keeps the message one line)."""
    return name if isinstance(name, str) and name and name.isprintable() else repr(name)


def whole(name: str, value: Any, low: int, high: int | None = None) -> int:
    """A whole number from ``low`` to ``high`` (no upper bound when None)."""
    allowed = f"{low} to {high}" if high is not None else f"at least {low}"
    if not _is_number(value) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} must be a whole number {'from ' if high is not None else ''}{allowed}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name}={value!r} is out of range: allowed is {allowed}")
    return value


def finite(name: str, value: Any) -> float:
    """Any finite number (a number box; the config says the range)."""
    if not _is_number(value) or not _is_finite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return float(value)


def integer(name: str, value: Any) -> int:
    """Any whole number (a whole-number box; the config says the range)."""
    if not _is_number(value) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} must be a whole number")
    return int(value)


def number(name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> float:
    """A finite number in the interval from ``low`` to ``high`` (open ends where said)."""
    if low_open or high_open:
        allowed = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        expected = f"a finite number in {allowed}"
    else:
        allowed = f"{low:g} to {high:g}"
        expected = f"a number from {allowed}"
    if not _is_number(value) or not _is_finite(value):
        raise ValueError(f"{name}={value!r} must be {expected}")
    plain = float(value)
    if (plain <= low if low_open else plain < low) or (plain >= high if high_open else plain > high):
        raise ValueError(f"{name}={value!r} is out of range: allowed is {allowed}")
    return plain


def choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """One of ``allowed`` (strings)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed: choose one of {', '.join(map(str, allowed))}")
    return str(value)


def flag(name: str, value: Any) -> bool:
    """True or False (NumPy's booleans too); never 0/1 or a string."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name}={value!r} must be True or False")


def known_names(what: str, given: Iterable[str], allowed: Sequence[str]) -> None:
    """Refuse names that are not among ``allowed`` (unknown keyword arguments, misspelt settings)."""
    unknown = sorted({_shown(n) for n in set(given) - set(allowed)})
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}: allowed are {', '.join(allowed)}")


def seeds(name: str, values: Any) -> list[int]:
    """A non-empty sequence of distinct whole-number seeds (a NumPy array or range is fine); in a dry run, its first
    two (every comparison, study and search checks its seeds here)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name}={values!r} must be a sequence of whole numbers, e.g. (0, 1, 2)")
    out = [whole(f"{name}[{i}]", v, 0, 2**32 - 1) for i, v in enumerate(values)]
    if not out:
        raise ValueError(f"{name} is empty: give at least one seed, e.g. (0, 1, 2)")
    if len(set(out)) != len(out):
        raise ValueError(f"{name}={out!r} repeats a seed: a repeated seed repeats the same run; give distinct seeds")
    return dry_run.seeds(out)  # the first two in a dry run


def tensor(name: str, value: Any, *, ndim: int | tuple[int, ...] | None = None, floating: bool | None = None,
           nonempty: bool = True) -> torch.Tensor:
    """A torch tensor with ``ndim`` dimensions, floating point (or integer, with ``floating=False``), not empty."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor; got {type(value).__name__}")
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and value.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions; got shape {tuple(value.shape)}")
    if floating is True and not value.is_floating_point():
        raise ValueError(f"{name} must hold floating-point values (float32); got dtype {value.dtype}")
    if floating is False and (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool):
        raise ValueError(f"{name} must hold integer class labels; got dtype {value.dtype}")
    if nonempty and value.numel() == 0:
        raise ValueError(f"{name} is empty: it needs at least one example")
    return value
