"""Compare two executed copies of the notebooks output by output, after nbval's sanitize masks.

    .venv/bin/python tools/compare_outputs.py REFERENCE_DIR NEW_DIR [--sanitize notebooks/sanitize.cfg]

For every notebook in REFERENCE_DIR, each code cell's outputs in NEW_DIR must equal the reference's: the text of its
streams (joined, since the kernel may flush one print in one chunk or two), and every rich output (HTML, text,
PNG bytes) in order, with the sanitize masks applied to text. Prints each differing line or image, then a line per
notebook and a total. Wall-clock numbers that the masks do not catch (a table's seconds column, Optuna's timeline)
show up as differences: read them before calling a change a regression.
"""

from __future__ import annotations

import argparse
import configparser
import re
from pathlib import Path

import nbformat

Mask = tuple[re.Pattern, str]


def masks(cfg: Path) -> list[Mask]:
    parser = configparser.ConfigParser()
    parser.read(cfg)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def outputs(cell: nbformat.NotebookNode, rules: list[Mask]) -> list[tuple[str, str]]:
    """(kind, content) for a cell's outputs: its streams joined, then each rich output, texts masked."""
    def mask(text: str) -> str:
        for pattern, replace in rules:
            text = pattern.sub(replace, text)
        return text

    found = [("stream", mask("".join(o.text for o in cell.outputs if o.output_type == "stream")))]
    for output in cell.outputs:
        if output.output_type == "error":
            found.append(("error", mask(f"{output.ename}: {output.evalue}")))
        for kind, value in output.get("data", {}).items():
            value = value if isinstance(value, str) else "".join(value)
            found.append((kind, value if kind.startswith("image/") else mask(value)))
    return found


def compare(reference: Path, new: Path, rules: list[Mask]) -> tuple[int, int]:
    """Print the differences between two executed copies of one notebook; return (equal cells, code cells)."""
    old_cells = [c for c in nbformat.read(reference, as_version=4).cells if c.cell_type == "code"]
    new_cells = [c for c in nbformat.read(new, as_version=4).cells if c.cell_type == "code"]
    if len(old_cells) != len(new_cells):
        print(f"{reference.name}: {len(old_cells)} code cells against {len(new_cells)}")
        return 0, len(old_cells)
    differing = []
    for index, (old, now) in enumerate(zip(old_cells, new_cells, strict=True)):
        a, b = outputs(old, rules), outputs(now, rules)
        if a == b:
            continue
        differing.append(index)
        if len(a) != len(b):
            print(f"  cell {index}: {len(a)} outputs against {len(b)}")
        for (kind, x), (_, y) in zip(a, b, strict=False):
            if x == y:
                continue
            if kind.startswith("image/"):
                print(f"  cell {index}: {kind} differs")
                continue
            for u, w in zip(x.splitlines(), y.splitlines(), strict=False):
                if u != w:
                    print(f"  cell {index} [{kind}]\n    - {u[:150]}\n    + {w[:150]}")
    print(f"{reference.name}: {len(old_cells) - len(differing)}/{len(old_cells)} code cells equal; "
          f"differing: {differing or 'none'}")
    return len(old_cells) - len(differing), len(old_cells)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--sanitize", type=Path, default=Path(__file__).resolve().parents[1] / "notebooks" /
                        "sanitize.cfg")
    args = parser.parse_args()
    rules = masks(args.sanitize)
    equal = total = 0
    for notebook in sorted(args.reference.glob("*.ipynb")):
        e, t = compare(notebook, args.new / notebook.name, rules)
        equal, total = equal + e, total + t
    print(f"total: {equal}/{total} code cells with equal outputs after the sanitize masks")
