"""Device, precision, threads and seeding, decided in one place.

Nothing else in the package mentions ``cuda``. Notebooks call ``get_device()`` and ``autocast(device)``
and never branch on the device themselves.
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

THREADS_ENV = "DLOPT_THREADS"
DEVICE_ENV = "DLOPT_DEVICE"


def get_device() -> torch.device:
    """CUDA, then Apple MPS, then CPU; ``DLOPT_DEVICE`` (``cpu``, ``cuda``, ``mps``) overrides."""
    wanted = os.environ.get(DEVICE_ENV, "").strip().lower()
    if wanted:
        if wanted not in ("cpu", "cuda", "mps"):
            raise ValueError(f"{DEVICE_ENV}={wanted!r} is not allowed: use cpu, cuda or mps")
        if wanted == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{DEVICE_ENV}=cuda but no CUDA device is visible: unset it to use the CPU")
        if wanted == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"{DEVICE_ENV}=mps but MPS is not available: unset it to use the CPU")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def as_device(device: torch.device | str) -> torch.device:
    """``device`` as a ``torch.device`` (``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"`` are fine), or ValueError."""
    if isinstance(device, torch.device):
        return device
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a device: use 'cpu', 'cuda' or 'mps' (or leave it out)") from None


def device_name(device: torch.device) -> str:
    """A readable name: the GPU's model on CUDA, ``cpu (N threads)`` on the CPU."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"
    return device.type


def default_threads(cores: int | None = None) -> int:
    """CPU threads for training: all cores but one, at least one, at most eight.

    Measured on a 2-core machine: two threads ran a small CNN 1.4-1.8x faster than one on an idle machine,
    but 4-10x *slower* while another process held a core (JupyterLab, a browser, a test runner). Leaving a
    core free trades a modest best case for never falling off that cliff. ``DLOPT_THREADS`` overrides.
    """
    cores = cores if cores is not None else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                              else (os.cpu_count() or 1))
    return max(1, min(cores - 1, 8))


def configure_threads() -> int:
    """Apply the thread count (``DLOPT_THREADS`` or ``default_threads()``) and return it."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{THREADS_ENV}={raw!r} must be a whole number of at least 1")
        threads = int(raw)
        cores = os.cpu_count() or 1
        if threads > 4 * cores:  # far more threads than cores only thrashes
            raise ValueError(f"{THREADS_ENV}={raw!r} is more than 4x the {cores} cores here: use 1 to {cores}")
    else:
        threads = default_threads()
    torch.set_num_threads(threads)
    return threads


def seed_everything(seed: int, device: torch.device | None = None) -> None:
    """Seed Python, NumPy and torch; on the CPU also ask for deterministic algorithms.

    Same seed, same numbers on the CPU. On a GPU some kernels stay non-deterministic for speed.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(device is None or device.type == "cpu", warn_only=True)
    # Deterministic mode also fills every new tensor with NaN to expose reads of uninitialised memory: a debugging
    # aid that cost the small CNN about 15% of its CPU step. Results do not depend on it.
    torch.utils.deterministic.fill_uninitialized_memory = False


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, nothing elsewhere (CPU bf16 is slower than fp32 for small models)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()

