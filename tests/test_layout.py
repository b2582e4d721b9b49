"""The package reads like the course, and its imports run downward only.

``notebooks/NN_<stem>.ipynb`` is served by ``dlopt_kit/<stem>/`` and ``dlopt_kit/panels/<stem>.py`` over
``dlopt_kit/core/``. Layers, lowest first: the core; one subpackage per lesson; the classroom; the panels (the
only place ipywidgets is imported); the command line; the benchmarks. Every import is read with ``ast``,
function-local ones included.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dlopt_kit"
LESSONS = ("data_quality", "augmentation", "architectures", "hyperparameter_tuning", "regularization",
           "efficient_training", "evaluation_metrics", "continuous_learning", "sandbox")
# what each part of the package must not import (besides ipywidgets outside panels/)
FORBIDDEN = {
    "core": {*LESSONS, "classroom", "panels", "cli", "bench"},
    **{lesson: {*(set(LESSONS) - {lesson}), "classroom", "panels", "cli", "bench"} for lesson in LESSONS},
    "classroom": {"panels", "cli", "bench"},
    "panels": {"cli", "bench"},
    "cli": {"panels", "bench"},
    "bench": {"panels", "cli"},
}


def part(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def targets(module: str, names: list[str]) -> set[str]:
    """The top-level parts of dlopt_kit that an import reaches (``from dlopt_kit import x`` reaches x's part)."""
    parts = module.split(".")
    if parts[0] != "dlopt_kit":
        return set()
    if len(parts) > 1:
        return {parts[1]}
    return {name for name in names if (PACKAGE / name).is_dir()} or {"__init__"}


def test_every_import_runs_downward():
    wrong = []
    for path in modules():
        if path.parent == PACKAGE:
            continue  # the four top-level modules may import anything
        where = part(path)
        for line, module, names in imports(path):
            reached = targets(module, names)
            if "__init__" in reached:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports the top-level dlopt_kit (import the module)")
            for target in reached & FORBIDDEN[where]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({where}) imports {module} ({target})")
            if module.split(".")[0] == "ipywidgets" and where != "panels":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports ipywidgets outside dlopt_kit/panels/")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_another_modules_private_name():
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {name} from {module}"
             for path in modules() for line, module, names in imports(path)
             if module.startswith("dlopt_kit") for name in names if name.startswith("_")]
    assert not wrong, "\n".join(wrong)


def test_the_layout_reads_like_the_course():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 4, top
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        stem = notebook.stem[3:]
        if stem == "start_here":  # lesson 00 uses the core and the training panel only
            assert (PACKAGE / "panels" / "training.py").is_file()
            continue
        assert (PACKAGE / stem / "__init__.py").is_file(), f"{notebook.name} has no dlopt_kit/{stem}/"
        assert (PACKAGE / "panels" / f"{stem}.py").is_file(), f"{notebook.name} has no dlopt_kit/panels/{stem}.py"


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_lesson_lists_its_public_names(lesson):
    import importlib

    package = importlib.import_module(f"dlopt_kit.{lesson}")
    assert package.__all__ and all(hasattr(package, name) for name in package.__all__)


def notebook_imports(notebook: Path) -> list[tuple[str, list[str]]]:
    cells = json.loads(notebook.read_text())["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    path = notebook.with_suffix(".py")  # resolves nothing relative: notebooks import absolutely
    return [(module, names) for _, module, names in imports_of(source, path)]


def imports_of(source: str, path: Path) -> list[tuple[int, str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or "", [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_import_only_public_names(notebook):
    import importlib

    stem = notebook.stem[3:]
    allowed = {"dlopt_kit", "dlopt_kit.panels", "dlopt_kit.cli", f"dlopt_kit.{stem}"}
    for module, names in notebook_imports(notebook):
        if not module.startswith("dlopt_kit"):
            continue
        assert module in allowed, f"{notebook.name} imports {module}: use dlopt_kit, dlopt_kit.{stem}, panels or cli"
        public = importlib.import_module(module).__all__
        assert set(names) <= set(public), f"{notebook.name} imports {set(names) - set(public)} from {module}"


def test_lesson_00s_panel_loads_without_the_other_lessons():
    import subprocess
    import sys

    code = ("import sys; from dlopt_kit.panels import TrainingPanel; from dlopt_kit.cli import main; "
            "print(sorted(m for m in ('optuna', 'cleanlab', 'river', 'dlopt_kit.hyperparameter_tuning', "
            "'dlopt_kit.panels.sandbox') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_fit_reads_top_to_bottom_in_at_most_80_lines():
    tree = ast.parse((PACKAGE / "core" / "training.py").read_text())
    fit = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "fit")
    assert fit.end_lineno - fit.lineno + 1 <= 80, "move what fit does optionally into a callback (core/fit_callbacks)"
