"""Every folder the kit reads or writes, resolved in one place.

In a source checkout (the package sits beside ``pyproject.toml`` and ``datasets/``) everything stays in the
checkout: ``datasets/`` (the prepared cache), ``runs/`` (stored studies, the sandbox's store, compare's figures,
the class server) and ``build/`` (test and site outputs), all git-ignored. An installed kit, with no checkout
around it, keeps them under the user's data directory, ``$XDG_DATA_HOME/dlopt-kit`` (by default
``~/.local/share/dlopt-kit``), never inside site-packages. ``DLOPT_HOME`` moves all three; ``DLOPT_DATA_DIR``
moves the datasets only. What ships inside the package (the dataset catalog, the worked recipes) is read from it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
CATALOG = PACKAGE / "core" / "catalog.json"  # committed: every dataset's files and checksums
RECIPES = PACKAGE / "sandbox" / "recipes"  # lesson 09's worked recipes


def checkout() -> Path | None:
    """The source checkout the package runs from, or ``None`` for an installed kit."""
    root = PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and (root / "datasets").is_dir() else None


def home() -> Path:
    """The folder that holds ``datasets/``, ``runs/`` and ``build/``."""
    if os.environ.get("DLOPT_HOME"):
        return Path(os.environ["DLOPT_HOME"]).expanduser()
    root = checkout()
    if root is not None:
        return root
    base = Path(os.environ["XDG_DATA_HOME"]) if os.environ.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "dlopt-kit"


def datasets_dir() -> Path:
    """Where prepared datasets (and torchvision's one-off download) live."""
    return Path(os.environ["DLOPT_DATA_DIR"]).expanduser() if os.environ.get("DLOPT_DATA_DIR") else home() / "datasets"


def runs_dir() -> Path:
    """Where runs are kept: Optuna studies, the sandbox's store, compare's figures, the class server's data."""
    return home() / "runs"


def build_dir() -> Path:
    """Where generated outputs go (browser-test screenshots, the course site)."""
    return home() / "build"


def study_file(name: str) -> Path:
    """Where the stored study ``name`` lives: ``runs/<name>.db``. Earlier versions of the kit kept studies in a
    ``runs/`` folder under the working directory (``notebooks/runs/`` for lesson 04's panel): a study found there
    and not yet here is moved here once, saying so, so that it resumes."""
    path = runs_dir() / f"{name}.db"
    earlier = Path.cwd() / "runs" / f"{name}.db"
    if not path.exists() and earlier.is_file() and earlier.resolve() != path.resolve():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(earlier, path)
        print(f"moved the stored study {name} from {earlier.parent} to {path.parent}")
    return path

