"""Your own data (``core.own_data``): .npz and .csv files checked, split with the kit's fixed splits and cached by
checksum; recipes that name a file, ``python -m dlopt_kit compare`` on the shipped example, and the sandbox panel's
data file box."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlopt_kit.core import own_data
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.own_data import OwnDataError, file_splits
from dlopt_kit.sandbox.engine import check_recipe, recipe_data
from dlopt_kit.sandbox.recipes import Recipe, RecipeError, load_recipe, same_data

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "datasets" / "examples"
RNG = np.random.default_rng(0)


def table_csv(path: Path, rows: int = 60, label: str = "label") -> Path:
    x = np.random.default_rng(1).normal(size=(rows, 3))
    lines = [f"a,b,c,{label}", *(f"{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},{i % 3}" for i, r in enumerate(x))]
    path.write_text("\n".join(lines) + "\n")
    return path


def same(a, b) -> bool:
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("x_train", "y_train", "x_val", "y_val", "x_test",
                                                                    "y_test"))


# ---------------------------------------------------------------- good files

def test_npz_images_load_scaled_with_a_channel_and_split_reproducibly(tmp_path):
    x = RNG.integers(0, 256, (120, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "grey.npz", x=x, y=np.repeat([3, 7], 60))
    splits = file_splits(tmp_path / "grey.npz", train_per_class=30, eval_per_class=10)
    assert splits.input_shape == (1, 8, 8) and splits.classes == ["3", "7"] and splits.name == "grey"
    assert float(splits.x_train.max()) <= 1.0 and splits.x_train.dtype == torch.float32
    assert [len(splits.y_train), len(splits.y_val), len(splits.y_test)] == [60, 18, 18]
    assert sorted(splits.y_train.unique().tolist()) == [0, 1]
    np.savez(tmp_path / "copy.npz", x=x, y=np.repeat([3, 7], 60))  # the same content elsewhere: the same examples
    assert same(splits, file_splits(tmp_path / "copy.npz", train_per_class=30, eval_per_class=10))
    colour = RNG.random((60, 3, 6, 6)).astype(np.float32)
    np.savez(tmp_path / "colour.npz", x=colour, y=np.arange(60) % 2)
    assert file_splits(tmp_path / "colour.npz").input_shape == (3, 6, 6)


def test_npz_features_and_csv_load_standardised_and_split_reproducibly(tmp_path):
    np.savez(tmp_path / "f.npz", x=RNG.normal(5, 3, (100, 4)), y=np.arange(100) % 2)
    features = file_splits(tmp_path / "f.npz")
    assert features.input_shape == (4,) and abs(float(features.x_train.mean())) < 1e-5
    csv = file_splits(table_csv(tmp_path / "t.csv"), eval_per_class=3)
    assert csv.input_shape == (3,) and csv.classes == ["0", "1", "2"] and len(csv.y_val) == len(csv.y_test) == 9
    table_csv(tmp_path / "u.csv", label="outcome")
    assert same(csv, file_splits(tmp_path / "u.csv", eval_per_class=3, label_column="outcome"))


def test_splits_are_cached_by_checksum(tmp_path, monkeypatch):
    path = table_csv(tmp_path / "t.csv")
    first = file_splits(path)
    reads = []
    monkeypatch.setattr(own_data, "read_file", lambda *a: reads.append(a) or pytest.fail("read again"))
    assert file_splits(path) is first and not reads  # unchanged: neither hashed nor read again
    monkeypatch.undo()
    table_csv(path, rows=90)  # changed: new splits
    assert len(file_splits(path).y_train) > len(first.y_train)


# ---------------------------------------------------------------- bad files

def npz(**arrays):
    return lambda path: np.savez(path, **arrays)


BAD = {
    "wrong shape": ("x.npz", npz(x=np.ones(40), y=np.arange(40) % 2), ["x has shape (40,)", "(N, D)"]),
    "tiny images": ("x.npz", npz(x=np.ones((40, 2, 2)), y=np.arange(40) % 2), ["height and width", "at least 4"]),
    "NaN": ("x.npz", npz(x=np.full((40, 3), np.nan), y=np.arange(40) % 2), ["x holds 120 NaN", "fill or drop"]),
    "NaN in a CSV": ("x.csv", lambda p: p.write_text("a,label\n" + "".join(f"{'' if i == 5 else i},{i % 2}\n"
                                                                               for i in range(40))),
                     ["column(s) a", "NaN"]),
    "float labels": ("x.npz", npz(x=np.ones((40, 3)), y=np.arange(40) % 2 + 0.5), ["y holds floats", "whole numbers"]),
    "float labels in a CSV": ("x.csv", lambda p: p.write_text("a,label\n" + "".join(f"{i},{i % 2}.5\n"
                                                                                    for i in range(40))),
                              ["label column 'label' holds floats", "whole numbers"]),
    "one class": ("x.npz", npz(x=np.ones((40, 3)), y=np.zeros(40, int)), ["only class 0", "at least 2 classes"]),
    "too few per class": ("x.npz", npz(x=np.ones((40, 3)), y=(np.arange(40) < 3).astype(int)),
                          ["class 1 has 3 example(s)", "at least 10"]),
    "no label column": ("x.csv", lambda p: p.write_text("a,b\n1,2\n"), ["no label column 'label'", "label_column"]),
    "no y": ("x.npz", npz(x=np.ones((40, 3))), ["no array named y", "x (inputs) and y (labels)"]),
    "not an npz": ("x.npz", lambda p: p.write_text("a,label\n1,0\n"), ["not an .npz file", "numpy.savez"]),
    "not a CSV": ("x.csv", lambda p: p.write_text('a,label\n1,0\n2,1,3,4\n"'), ["not a valid CSV", "header row"]),
    "neither": ("x.txt", lambda p: p.write_text("a,label\n"), ["ends in .csv or .npz", "not .txt"]),
    "not UTF-8": ("x.csv", lambda p: p.write_bytes(b"a,label\n\xff\xfe,1\n"), ["not UTF-8", "byte 0xff"]),
    "missing": ("x.csv", lambda p: None, ["does not exist"]),
    "text features": ("x.csv", lambda p: p.write_text("a,label\n" + "".join(f"v{i},{i % 2}\n" for i in range(40))),
                      ["column(s) a hold text", "numbers"]),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_file_is_one_line_naming_the_file_the_field_and_what_is_allowed(case, tmp_path):
    name, write, expected = BAD[case]
    path = tmp_path / name
    write(path)
    with pytest.raises(OwnDataError) as info:
        file_splits(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and len(message.splitlines()) == 1, message
    assert all(part in message for part in expected), message


# ---------------------------------------------------------------- recipes and compare

def test_a_recipe_reads_its_file_against_its_folder_and_refuses_a_cnn_on_features(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    table_csv(folder / "t.csv")
    (folder / "r.yaml").write_text("version: 1\nname: r\ndataset: t.csv\nconfig: {model: mlp}\n")
    recipe = load_recipe(folder / "r.yaml")
    assert recipe.dataset == str((folder / "t.csv").resolve()) and recipe.data_key[-1] is None
    assert recipe_data(*recipe.data_key).input_shape == (3,)
    saved = Recipe("s", recipe.config, dataset=recipe.dataset).save(folder / "s.yaml")
    assert "dataset: t.csv" in saved.read_text() and load_recipe(saved).dataset == recipe.dataset
    with pytest.raises(RecipeError, match=r"^recipe 'cnn': config.model='cnn' needs images .* holds features of "
                                          r"shape \(3,\): use model mlp or linear$"):
        check_recipe(Recipe("cnn", RunConfig(model="cnn"), dataset=recipe.dataset, seeds=(0,)))
    other = table_csv(folder / "other.csv")
    with pytest.raises(RecipeError, match="same dataset"):
        same_data([recipe, Recipe("o", recipe.config, dataset=str(other))])
    with pytest.raises(RecipeError, match=r"^r.yaml: label_column=3 must be a CSV column's name"):
        from dlopt_kit.sandbox.recipes import recipe_from_dict

        recipe_from_dict({"version": 1, "name": "x", "dataset": "t.csv", "label_column": 3}, "r.yaml")


def test_the_shipped_example_is_what_the_script_writes_and_is_small():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_example_data
    finally:
        sys.path.remove(str(ROOT / "tools"))
    written = make_example_data.files()
    assert {p.name for p in written} == {"tabular3.csv", "none.yaml", "dropout.yaml"}
    for path, text in written.items():
        assert path.read_text(encoding="utf-8") == text, f"{path} differs: run python tools/make_example_data.py"
    assert (EXAMPLES / "tabular3.csv").stat().st_size < 50_000


def run_compare(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DLOPT_DRY_RUN": "1", "DLOPT_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "dlopt_kit", "compare", *args, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_compare_runs_the_example_recipes_and_prints_a_table(tmp_path):
    done = run_compare(str(EXAMPLES / "none.yaml"), str(EXAMPLES / "dropout.yaml"), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "data: tabular3.csv (sha256 " in out and "8 features, 3 classes" in out
    assert "config.dropout" in out and "val_acc" in out and "[primary] dropout 0.3 vs no dropout" in out
    assert (tmp_path / "out" / "compare.png").is_file()


def test_compare_refuses_a_bad_file_and_a_cnn_on_features_in_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    (tmp_path / "bad.yaml").write_text("version: 1\nname: bad\ndataset: bad.csv\nconfig: {model: mlp}\n")
    done = run_compare(str(tmp_path / "bad.yaml"), tmp_path=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'bad.csv'}: no label column 'label' (the columns are a, b): name the label column "
        "'label', or set label_column in the recipe"]
    (tmp_path / "cnn.yaml").write_text(f"version: 1\nname: cnn\ndataset: {EXAMPLES / 'tabular3.csv'}\n"
                                       "config: {model: cnn}\n")
    done = run_compare(str(tmp_path / "cnn.yaml"), tmp_path=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "config.model='cnn' needs images" in done.stderr and "use model mlp" in done.stderr


# ---------------------------------------------------------------- the sandbox panel

def test_the_panel_runs_a_data_file_and_a_bad_file_keeps_the_table(tmp_path):
    from dlopt_kit.panels import SandboxPanel

    base = RunConfig(model="mlp", hidden=16, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")
    panel = SandboxPanel(base, store=tmp_path / "sandbox.sqlite")
    panel.data_box.value = str(EXAMPLES / "tabular3.csv")
    results = panel.run(name="mine", train_per_class=30, seeds=2)
    assert results is not None and list(results["config"]) == ["mine"] and results.loc[0, "seeds"] == 2
    assert "Run 1: completed" in panel.status.value
    assert panel.store.recipe("mine").dataset == str((EXAMPLES / "tabular3.csv").resolve())
    shown = panel.table.value
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    for bad, expected in ((str(tmp_path / "bad.csv"), "no label column &#x27;label&#x27;"),
                          (str(tmp_path / "nowhere.npz"), "does not exist"), ("table.xlsx", "ending in .csv or .npz")):
        panel.data_box.value = bad
        assert panel.run(name="bad") is None
        assert "Not queued:" in panel.status.value and expected in panel.status.value, panel.status.value
        assert "\n" not in panel.status.value and panel.table.value == shown and not panel.queue
    panel.data_box.value = str(EXAMPLES / "tabular3.csv")
    assert panel.run(name="cnn", model="cnn", wait=False) is None
    assert "needs images" in panel.status.value and panel.table.value == shown
    assert panel.load(EXAMPLES / "dropout.yaml") is not None
    assert panel.data_box.value == str((EXAMPLES / "tabular3.csv").resolve()) and panel.controls["dropout"].value == 0.3
