"""The notebook the browser test opens: every panel of the kit on tiny data, one cell each.

Each panel's widget gets the CSS class ``dlopt-panel-<name>`` so the test finds it in the page. A new lesson's panel
joins ``PANELS`` in the change that adds the lesson.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

SETUP = """from dlopt_kit import RunConfig, load_splits
from dlopt_kit.core.augment import AugmentSpec
from dlopt_kit.panels import (AugmentGallery, Control, ThresholdPanel, TrainingPanel, boundary_panel,
                              config_with_augment, data_quality_panel, dataset_loader, default_spec, efficient_panel,
                              imbalance_panel, regularization_panel, LeaderboardPanel, StreamPanel, TuningPanel)

tiny = load_splits("fashion_mnist", train_per_class=30, eval_per_class=10)
base = RunConfig(model="mlp", lr=3e-3, batch_size=32, epochs=2)"""

# name -> (kind, code that builds it as `panel`); kind "training" gets Run/Stop/bad-value checks, "stream" the same
# with stream batches for epochs, "transfer" the same with steps per member for epochs, "study" the same for a
# search (rows are trials), "board" Watch/Stop/bad-value on the class study, "view" a slider one
PANELS: dict[str, tuple[str, str]] = {
    "lesson00-training": ("training", """datasets = ("fashion_mnist", "digits", "breast_cancer", "moons")
panel = TrainingPanel(dataset_loader(30, 10), base=base, spec=default_spec(base, datasets), title="Lesson 00")"""),
    "lesson01-quality": ("training", """panel = data_quality_panel(tiny, base.replace(monitor="val_acc"))"""),
    "lesson01-boundary": ("training", """panel = boundary_panel()"""),
    "lesson02-training": ("training", """knobs = [Control("model", "choice", "mlp", ("mlp", "cnn")),
         Control("rotate", "float", 10.0), Control("translate", "float", 0.1), Control("scale", "float", 0.0),
         Control("hflip", "float", 0.0),
         Control("brightness", "float", 0.0), Control("erase", "float", 0.0), Control("epochs", "int", 2),
         Control("batch_size", "int", 32, label="batch size")]
panel = TrainingPanel(tiny, base=base, spec=knobs, make_config=config_with_augment, title="Lesson 02")"""),
    "lesson02-gallery": ("view", """panel = AugmentGallery(tiny, spec=AugmentSpec(rotate=30))"""),
    "lesson03-architectures": ("transfer", """from dlopt_kit.panels import architecture_panel
from dlopt_kit.core.training import fit
from dlopt_kit.architectures.transfer import kit_backbone
from dlopt_kit.architectures.study import digits_target
small_cnn = base.replace(model="cnn", hidden=16, epochs=1, monitor="val_acc")
panel = architecture_panel(digits_target(), kit_backbone(fit(small_cnn, tiny, progress=False).model), small_cnn)
panel.set_values(steps=30)"""),
    "lesson04-tuning": ("study", """panel = TuningPanel(tiny, base.replace(optimizer="sgd"), storage="memory")"""),
    "class-leaderboard": ("board", """panel = LeaderboardPanel("browser-class", every=1)"""),
    "lesson05-regularization": ("training", """panel = regularization_panel(tiny, base.replace(hidden=64))"""),
    "lesson06-efficient": ("training", """panel = efficient_panel(tiny, base.replace(optimizer="sgd", lr=0.05))
panel.set_values(schedule="cosine")"""),
    "lesson07-imbalance": ("training", """data = load_splits("fashion_mnist", 100, 30)
panel = imbalance_panel(data, "Shirt", base, share=0.1)"""),
    "lesson08-stream": ("stream", """panel = StreamPanel(tiny, base.replace(monitor="val_acc"), batch_size=20)
panel.set_values(batches=12)"""),
    "lesson09-sandbox": ("training", """import tempfile
from dlopt_kit.panels import SandboxPanel
panel = SandboxPanel(store=tempfile.mkdtemp() + "/sandbox.sqlite")
panel.set_values(train_per_class=30, epochs=3, seeds=2)"""),
    "lesson07-threshold": ("view", """y = [0, 0, 1, 1, 1, 0, 1, 0]
panel = ThresholdPanel(y, [0.1, 0.6, 0.8, 0.4, 0.9, 0.3, 0.7, 0.2], ("benign", "malignant"))"""),
}


# the panels checked again in Jupyter Notebook 7 (its single-document page is laid out unlike JupyterLab's): one
# training panel and the sandbox, the panel with the most controls
NOTEBOOK7 = ("lesson00-training", "lesson09-sandbox")


def write_notebook(path: Path, names: tuple[str, ...] | None = None) -> Path:
    """The notebook at ``path``: the set-up cell, then one cell per panel in ``names`` (default: every panel)."""
    cells = [nbformat.v4.new_code_cell(SETUP)]
    for name in names or tuple(PANELS):
        _kind, build = PANELS[name]
        cells.append(nbformat.v4.new_code_cell(f"{build}\npanel.widget.add_class('dlopt-panel-{name}')\npanel"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "dlopt-kit", "display_name": "Python (dlopt-kit)", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
