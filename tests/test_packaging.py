"""The kit installs as a package: pyproject declares what it imports, requirements.txt is exactly pyproject's
dependencies plus its extras, and the wheel holds the whole package (every subpackage, the dataset catalog,
lesson 09's recipes), the console scripts and the declared requirements, and nothing else."""

from __future__ import annotations

import ast
import configparser
import importlib
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dlopt_kit"
SCRIPTS = {"dlopt-kit": "dlopt_kit.cli:main", "dlopt-doctor": "dlopt_kit.cli.doctor:main"}
# what .gitignore keeps out of the source tree: never copied into the build
IGNORED = {".venv", ".git", "build", "runs", "__pycache__", ".ruff_cache", ".pytest_cache", ".ipynb_checkpoints",
           ".whl", ".gl"}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def key(req: Requirement, extra: str | None = None) -> tuple[str, tuple[str, ...], str, str]:
    """A requirement as (PEP 503 name, extras, specifier, extra it belongs to); comparable across spellings."""
    return canonicalize_name(req.name), tuple(sorted(req.extras)), str(req.specifier), extra or ""


def declared() -> dict[str | None, list[Requirement]]:
    """pyproject's requirements: None for the runtime dependencies, else the extra's name."""
    proj = project()
    groups = {None: [Requirement(r) for r in proj["dependencies"]]}
    for extra, reqs in proj.get("optional-dependencies", {}).items():
        groups[extra] = [Requirement(r) for r in reqs]
    return groups


def requirements_txt() -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def imported_modules() -> dict[str, set[str]]:
    """Every third-party top-level module imported anywhere in dlopt_kit/ (function-local imports too),
    with the files that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "dlopt_kit":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_requirements_txt_is_dependencies_plus_extras():
    groups = declared()
    assert set(groups) >= {None, "course", "test"}
    union = [key(r) for reqs in groups.values() for r in reqs]
    pinned = [key(r) for r in requirements_txt()]
    assert len(set(pinned)) == len(pinned), "requirements.txt names a package twice"
    assert len(set(union)) == len(union), "pyproject declares a package in two places"
    assert sorted(pinned) == sorted(union)
    runtime = {key(r) for r in groups[None]}
    assert {("torch", (), "==2.14.1", ""), ("torchvision", (), "==0.29.1", "")} <= runtime


def test_every_imported_module_is_a_runtime_dependency():
    runtime = {canonicalize_name(r.name) for r in declared()[None]}
    dists = md.packages_distributions()
    missing = {}
    for module, files in imported_modules().items():
        names = {canonicalize_name(d) for d in dists.get(module, [])}
        if not names & runtime:
            missing[module] = (sorted(names) or ["not installed"], sorted(files))
    assert not missing, f"imported by dlopt_kit but not in [project] dependencies: {missing}"
    # ipywidgets is imported by the panels, and optional-looking imports are found too
    assert {"ipywidgets", "optuna_dashboard", "sqlalchemy", "yaml"} <= set(imported_modules())


def test_console_scripts_point_at_functions():
    assert project()["scripts"] == SCRIPTS
    for target in SCRIPTS.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))


def _copy_ignored(folder: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in IGNORED or n.endswith(".egg-info")}
    if Path(folder).name == "datasets":
        skip |= {"cache", "raw"}
    return skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, Path]:
    """The wheel built from a copy of the checkout (so stale build/ or egg-info output cannot leak in, and the
    shared working tree is not written to), and that copy."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "checkout"
    shutil.copytree(ROOT, src, ignore=_copy_ignored)
    out = tmp / "dist"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "-q", "-w", str(out), "."],
                          cwd=src, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = list(out.glob("dlopt_kit-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0], src


def test_setuptools_is_there_to_build_without_isolation():
    assert md.version("setuptools")
    assert "setuptools" in {canonicalize_name(r.name) for r in declared()["test"]}


def test_wheel_holds_the_package_and_nothing_else(wheel):
    path, src = wheel
    with zipfile.ZipFile(path) as zf:
        names = {n for n in zf.namelist() if ".dist-info/" not in n}
    expected = {p.relative_to(src).as_posix() for p in (src / "dlopt_kit").rglob("*.py")
                if "__pycache__" not in p.parts}
    expected.add("dlopt_kit/core/catalog.json")
    expected |= {p.relative_to(src).as_posix() for p in (src / "dlopt_kit" / "sandbox" / "recipes").glob("*.yaml")}
    assert len(expected) > 50 and "dlopt_kit/sandbox/recipes/baseline.yaml" in expected
    assert sorted(names - expected) == [] and sorted(expected - names) == []
    assert not {n for n in names if n.split("/")[0] in {"tests", "notebooks", "datasets"}}
    assert {n.split("/")[1] for n in names if n.count("/") >= 2} >= {
        "core", "data_quality", "augmentation", "architectures", "hyperparameter_tuning", "regularization",
        "efficient_training", "evaluation_metrics", "continuous_learning", "sandbox", "classroom", "cli", "bench",
        "panels"}


def _dist_info(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as zf:
        (member,) = [n for n in zf.namelist() if re.fullmatch(r"dlopt_kit-[^/]+\.dist-info/" + name, n)]
        return zf.read(member).decode()


def test_wheel_entry_points(wheel):
    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(wheel[0], "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == SCRIPTS


def test_wheel_requires_dist_matches_pyproject(wheel):
    text = _dist_info(wheel[0], "METADATA")
    headers = text.split("\n\n", 1)[0].splitlines()
    requires = [Requirement(h.split(":", 1)[1].strip()) for h in headers if h.startswith("Requires-Dist:")]
    extras = {h.split(":", 1)[1].strip() for h in headers if h.startswith("Provides-Extra:")}
    got = set()
    for req in requires:
        marker = str(req.marker) if req.marker else ""
        found = re.fullmatch(r'extra == "([^"]+)"', marker)
        assert marker == "" or found, f"unexpected marker on {req}"
        got.add(key(req, found.group(1) if found else None))
    groups = declared()
    want = {key(r, extra) for extra, reqs in groups.items() for r in reqs}
    assert got == want
    assert extras == {e for e in groups if e is not None}
