"""The sandbox's store: runs kept in a SQLite file survive a restart and come back as compare's table."""

import sqlite3

import pytest

from dlopt_kit.cli import main
from dlopt_kit.core.compare import compare
from dlopt_kit.core.config import RunConfig
from dlopt_kit.sandbox.recipes import Recipe
from dlopt_kit.sandbox.store import Store

CONFIG = RunConfig(model="mlp", hidden=16, epochs=2, batch_size=32, lr=3e-3)


def test_runs_survive_a_restart_and_come_back_as_compares_table(tiny, tmp_path):
    recipe = Recipe("small mlp", CONFIG, train_per_class=30, eval_per_class=10, seeds=(0, 1))
    table = compare({recipe.name: recipe.config}, tiny, recipe.seeds, progress=False)
    ids = Store(tmp_path / "s.sqlite").add(recipe, table)
    assert len(ids) == 2
    again = Store(tmp_path / "s.sqlite")  # a new kernel: a new object over the same file
    kept = again.table()
    assert len(kept) == len(table) and set(kept["config"]) == {"small mlp"}
    assert kept["val_acc"].tolist() == pytest.approx(table["val_acc"].tolist())
    assert kept.groupby("seed")["test_acc"].first().tolist() == pytest.approx(
        table.groupby("seed")["test_acc"].first().tolist())
    assert again.recipe("small mlp") == recipe and again.names() == ["small mlp"]
    assert again.runs()["seed"].tolist() == [0, 1]
    with sqlite3.connect(tmp_path / "s.sqlite") as db:  # a real database a user can open with any SQLite tool
        assert db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == len(table)
    assert again.free_name("small mlp") == "small mlp (2)" and again.free_name("new") == "new"
    assert again.free_name("new", {"new", "new (2)"}) == "new (3)"
    again.add(Recipe("other mlp", CONFIG, seeds=(0,)), table[table["seed"] == 0])
    assert again.remove("small mlp") == 2 and again.names() == ["other mlp"]
    assert again.clear() == 1 and again.table().empty
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        db.execute("PRAGMA foreign_keys = ON")
        assert db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == 0  # the epochs went with their runs
    with pytest.raises(KeyError, match="no run named 'other'"):
        again.recipe("other")


def test_compare_keeps_its_runs_in_the_store(tmp_path, capsys):
    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "tiny", "train_per_class": 8, "eval_per_class": 5,
                                    "seeds": [0], "config": {"model": "mlp", "hidden": 8, "epochs": 1}}))
    assert main(["compare", str(path), "--out", str(tmp_path), "--store", str(tmp_path / "s.sqlite")]) == 0
    assert "kept in:" in capsys.readouterr().out
    assert Store(tmp_path / "s.sqlite").names() == ["tiny"]
