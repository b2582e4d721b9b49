"""Write the example data file and its recipe pair under ``datasets/examples/``: a tabular three-class problem of
your own kind (``make_classification``, a fixed seed), and two recipes comparing an MLP without and with dropout on
it. ``python tools/make_example_data.py`` (re)writes them; ``tests/test_own_data.py`` checks the committed files
equal what it writes.

    python -m dlopt_kit compare datasets/examples/none.yaml datasets/examples/dropout.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "datasets" / "examples"
NAME = "tabular3"
SEED = 0
ROWS = 450
FEATURES = 8

RECIPE = """# {comment}
version: 1
name: {name}
dataset: {csv}   # next to this file; the label is the column named `label`
train_per_class: null   # all of the training split
eval_per_class: null
seeds: [0, 1, 2]
config: {{model: mlp, hidden: 128, lr: 0.003, batch_size: 32, epochs: 30, monitor: val_acc{extra}}}
"""


def table() -> str:
    """The CSV's text: a header (x1..x8, label), one row per example, 4 decimals."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=ROWS, n_features=FEATURES, n_informative=5, n_redundant=2,
                               n_classes=3, n_clusters_per_class=2, class_sep=0.8, flip_y=0.03, random_state=SEED)
    header = ",".join([*(f"x{i + 1}" for i in range(FEATURES)), "label"])
    rows = [",".join([*(f"{v:.4f}" for v in row), str(int(label))]) for row, label in zip(x, y, strict=True)]
    return "\n".join([header, *rows]) + "\n"


def files() -> dict[Path, str]:
    """Every file this script writes, with its text."""
    csv = f"{NAME}.csv"
    return {FOLDER / csv: table(),
            FOLDER / "none.yaml": RECIPE.format(comment="An MLP on the example table, no regularisation.",
                                                name="no dropout", csv=csv, extra=""),
            FOLDER / "dropout.yaml": RECIPE.format(comment="The same MLP with dropout 0.3 after its hidden layers.",
                                                   name="dropout 0.3", csv=csv, extra=", dropout: 0.3")}


def main() -> int:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for path, text in files().items():
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path.relative_to(ROOT)} ({len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
