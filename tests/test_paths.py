"""Every folder the kit reads or writes comes from ``dlopt_kit.core.paths``: the checkout's folders in a checkout,
a user folder for an installed kit, ``DLOPT_HOME`` and ``DLOPT_DATA_DIR`` over both."""

from __future__ import annotations

import re
from pathlib import Path

from dlopt_kit.core import paths

ROOT = Path(__file__).resolve().parents[1]


def test_a_checkout_keeps_everything_inside_it(monkeypatch):
    for name in ("DLOPT_HOME", "DLOPT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert paths.checkout() == ROOT and paths.home() == ROOT
    assert paths.datasets_dir() == ROOT / "datasets" and paths.runs_dir() == ROOT / "runs"
    assert paths.build_dir() == ROOT / "build"
    assert paths.CATALOG.is_file() and sorted(paths.RECIPES.glob("*.yaml"))  # shipped inside the package


def test_an_installed_kit_uses_the_users_data_folder(monkeypatch, tmp_path):
    site = tmp_path / "site-packages"  # a package with no pyproject.toml or datasets/ beside it
    (site / "dlopt_kit").mkdir(parents=True)
    monkeypatch.setattr(paths, "PACKAGE", site / "dlopt_kit")
    for name in ("DLOPT_HOME", "DLOPT_DATA_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.checkout() is None
    assert paths.home() == tmp_path / "home" / ".local" / "share" / "dlopt-kit"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.runs_dir() == tmp_path / "xdg" / "dlopt-kit" / "runs"
    assert not str(paths.datasets_dir()).startswith(str(site))


def test_environment_variables_move_the_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("DLOPT_HOME", str(tmp_path / "kit"))
    monkeypatch.delenv("DLOPT_DATA_DIR", raising=False)
    assert paths.runs_dir() == tmp_path / "kit" / "runs" and paths.datasets_dir() == tmp_path / "kit" / "datasets"
    monkeypatch.setenv("DLOPT_DATA_DIR", str(tmp_path / "data"))
    assert paths.datasets_dir() == tmp_path / "data" and paths.build_dir() == tmp_path / "kit" / "build"


def test_no_other_module_builds_a_path_of_its_own():
    own = re.compile(r"__file__|Path\(\s*['\"](runs|build|datasets)\b")
    found = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "dlopt_kit").rglob("*.py")) if p.name != "paths.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if own.search(line)]
    assert not found, f"resolve these in dlopt_kit/core/paths.py: {found}"


def test_a_study_stored_under_the_old_working_folder_moves_once_and_resumes(monkeypatch, tmp_path):
    monkeypatch.setenv("DLOPT_HOME", str(tmp_path / "kit"))
    old = tmp_path / "notebooks" / "runs" / "lesson04-tpe-none-abc.db"  # where a notebook's panel used to keep it
    old.parent.mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks")
    old.write_bytes(b"a stored study")
    moved = paths.study_file("lesson04-tpe-none-abc")
    assert moved == tmp_path / "kit" / "runs" / "lesson04-tpe-none-abc.db" and moved.read_bytes() == b"a stored study"
    assert not old.exists()
    old.write_bytes(b"another")  # a file left there later never replaces the study already moved
    assert paths.study_file("lesson04-tpe-none-abc").read_bytes() == b"a stored study"
