"""Build the course website (``make site``): the README as the front page, then one page per lesson, from the
stored notebooks (nothing executed), with Sphinx and myst-nb, offline.

The notebooks are copied to a staging folder and transformed there (``notebooks/`` is never written): a solution
cell (tag ``solution``) becomes one collapsed "Solution" toggle, and each panel output (an ipywidgets view, which
needs a kernel) becomes its screenshot ``docs/panels/<panel-name>.png``, where one exists, and a line saying how to
run it live. A panel's name is a key of ``PANELS`` in tests/browser/panels.py: the lesson's key whose constructor
the cell calls, else the lesson's next unused key.

    .venv/bin/python docs/build.py [--out build/site] [--panels docs/panels]
"""

from __future__ import annotations

import argparse
import ast
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
PANELS_FILE = ROOT / "tests" / "browser" / "panels.py"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# what a panel's widget leaves as text when its view is not stored: its repr
WIDGET_REPR = re.compile(r"^(VBox|HBox|GridBox|Box|Tab|Accordion|Stack)\(children=")
LESSON = re.compile(r"^(\d\d)_\w+\.ipynb$")
SOLUTION_PROMPTS = {"code_prompt_show": "Solution", "code_prompt_hide": "Hide the solution"}
CSS = """figure.panel-screenshot { margin: 0.5em 0; }
figure.panel-screenshot img { max-width: 100%; height: auto; border: 1px solid var(--color-background-border); }
.panel-live { font-style: italic; }
"""


def lessons(folder: Path = NOTEBOOKS) -> list[Path]:
    """The lesson notebooks ``NN_<stem>.ipynb`` in course order."""
    return sorted(p for p in folder.glob("*.ipynb") if LESSON.match(p.name))


def panel_constructors(path: Path = PANELS_FILE) -> dict[str, str]:
    """Each panel name of ``PANELS`` -> the name its code calls to build ``panel`` (read, not imported)."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(
            node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "PANELS" and node.value is not None:
            panels = ast.literal_eval(node.value)
            break
    else:
        raise ValueError(f"PANELS: no such dict in {path}; expected PANELS = {{name: (kind, code)}}")
    found = {}
    for name, (_kind, code) in panels.items():
        call = re.search(r"^panel\s*=\s*([A-Za-z_]\w*)\s*\(", code, re.M)
        found[name] = call.group(1) if call else ""
    return found


def is_panel_output(output: dict) -> bool:
    """A widget view (or the text a widget view leaves when only its repr was stored)."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return False
    data = output.get("data", {})
    if WIDGET_MIME in data:
        return True
    return set(data) == {"text/plain"} and bool(WIDGET_REPR.match("".join(data["text/plain"])))


def panel_html(name: str | None, notebook: str, shots: Path) -> str:
    how = (f'<p class="panel-live">This panel runs live in JupyterLab: <code>make lab</code>, then open '
           f"<code>notebooks/{html.escape(notebook)}</code> and run its cells.</p>")
    if name and (shots / f"{name}.png").is_file():
        return (f'<figure class="panel-screenshot"><img src="_static/panels/{html.escape(name)}.png" '
                f'alt="the panel {html.escape(name)}"><figcaption>{how}</figcaption></figure>')
    return how


def transform(nb: dict, notebook: str, constructors: dict[str, str], shots: Path) -> tuple[dict, list[str | None]]:
    """The notebook as the site shows it, and the panel name given to each panel output, in order."""
    prefix = f"lesson{notebook[:2]}-"
    unused = [name for name in constructors if name.startswith(prefix)]
    placed: list[str | None] = []
    for cell in nb["cells"]:
        meta = cell.setdefault("metadata", {})
        if "solution" in meta.get("tags", []):
            meta["tags"] = [*meta["tags"], "hide-cell"]
            meta["mystnb"] = {**meta.get("mystnb", {}), **SOLUTION_PROMPTS}
        source = "".join(cell.get("source", ""))
        for i, output in enumerate(cell.get("outputs", [])):
            if not is_panel_output(output):
                continue
            called = [n for n in unused if constructors[n] and re.search(rf"\b{constructors[n]}\s*\(", source)]
            name = (called or unused or [None])[0]
            if name is not None:
                unused.remove(name)
            placed.append(name)
            cell["outputs"][i] = {"output_type": "display_data", "metadata": {},
                                  "data": {"text/html": panel_html(name, notebook, shots),
                                           "text/plain": f"panel {name or ''}".strip()}}
    return nb, placed


def front_page(readme: str, names: list[str]) -> str:
    """The README, its course table's notebook names linked to their pages, and the table of contents."""
    for name in names:
        readme = readme.replace(f"| `{name}` |", f"| [`{name}`]({name}.ipynb) |")
    toc = "\n".join(names)
    return f"{readme.rstrip()}\n\n```{{toctree}}\n:caption: Lessons\n:maxdepth: 1\n\n{toc}\n```\n"


def stage(staging: Path, shots: Path) -> list[str]:
    """Copy and transform everything the site is built from into ``staging``; return the lesson names."""
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "_static" / "panels").mkdir(parents=True)
    shutil.copy(DOCS / "conf.py", staging / "conf.py")
    (staging / "_static" / "site.css").write_text(CSS)
    for png in sorted(shots.glob("*.png")) if shots.is_dir() else []:
        shutil.copy(png, staging / "_static" / "panels" / png.name)
    constructors = panel_constructors()
    names = []
    for path in lessons():
        nb, _ = transform(json.loads(path.read_text()), path.name, constructors, shots)
        (staging / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False))
        names.append(path.stem)
    (staging / "index.md").write_text(front_page((ROOT / "README.md").read_text(), names))
    return names


def build(out: Path, shots: Path, staging: Path | None = None) -> Path:
    """Stage and build the site into ``out`` (emptied first); return ``out``."""
    out, shots = Path(out).resolve(), Path(shots).resolve()
    staging = Path(staging) if staging else out.parent / f"{out.name}-src"
    stage(staging, shots)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(staging / ".doctrees"), str(staging), str(out)]
    subprocess.run(cmd, check=True, cwd=staging)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site", help="the site's folder")
    parser.add_argument("--panels", type=Path, default=DOCS / "panels", help="the panels' screenshots")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = build(args.out, args.panels)
    except subprocess.CalledProcessError as err:
        print(f"site: sphinx failed with exit status {err.returncode}", file=sys.stderr)
        return 1
    print(f"site: {out / 'index.html'} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
