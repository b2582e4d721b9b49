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


# the store's layout before per-example records were kept, verbatim
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, recipe TEXT NOT NULL,
    seed INTEGER NOT NULL, created TEXT NOT NULL, stop_reason TEXT, best_epoch INTEGER, test_loss REAL,
    test_acc REAL);
CREATE TABLE IF NOT EXISTS epochs (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, lr REAL, grad_norm REAL,
    seconds REAL, weight_norm REAL, near_zero REAL, PRIMARY KEY (run_id, epoch));
"""


def old_store(path, values: dict[str, dict[int, float]]) -> None:
    """A store file as the kit wrote it before per-example records: one epoch per run."""
    import json

    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        for name, by_seed in values.items():
            recipe = json.dumps(Recipe(name, CONFIG, dataset="digits", seeds=tuple(by_seed)).to_dict())
            for seed, acc in by_seed.items():
                run = db.execute("INSERT INTO runs (name, recipe, seed, created, stop_reason, best_epoch, test_loss, "
                                 "test_acc) VALUES (?, ?, ?, '2026-01-01', 'completed', 1, 0.5, ?)",
                                 (name, recipe, seed, acc)).lastrowid
                db.execute("INSERT INTO epochs (run_id, epoch, val_loss, val_acc, seconds) VALUES (?, 1, 0.5, ?, 1)",
                           (run, acc))


def test_a_store_made_before_per_example_records_loads_and_gives_seeds_only_verdicts(tmp_path):
    from dlopt_kit.sandbox.engine import verdicts

    path = tmp_path / "old.sqlite"
    old_store(path, {"base": {0: 0.80, 1: 0.82, 2: 0.81}, "new": {0: 0.85, 1: 0.86, 2: 0.86}})
    store = Store(path)  # the migration adds the columns; the old runs keep theirs
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    assert {"val_correct", "val_correct_n", "test_correct", "test_correct_n"} <= columns
    table = store.table()
    assert "val_correct" not in table.columns and store.examples("base", 0) is None
    lines = verdicts(table, "val_acc", at="best")
    assert len(lines) == 1 and lines[0].startswith("[primary, seeds only] new vs base: difference +0.047")
    assert Store(path).table().equals(table)  # opening it again migrates nothing twice


def test_per_example_records_round_trip_and_score_the_kept_model(tmp_path):
    import numpy as np

    from dlopt_kit.sandbox.engine import run_recipe
    from dlopt_kit.sandbox.store import pack, unpack

    flags = np.array([True, False, True, True, False, False, False, True, True], bool)
    assert unpack(*pack(flags)).tolist() == flags.tolist() and pack("no") == (None, None)
    recipe = Recipe("tiny", CONFIG, dataset="digits", train_per_class=20, eval_per_class=10, seeds=(0, 1))
    table = run_recipe(recipe)
    kept = table[table["epoch"] == table["best_epoch"]]
    for _, row in kept.iterrows():  # the records are the kept model's: they give the table's accuracies
        assert row["val_correct"].mean() == pytest.approx(row["val_acc"])
        assert row["test_correct"].mean() == pytest.approx(row["test_acc"]) and len(row["test_correct"]) == 100
    store = Store(tmp_path / "s.sqlite")
    store.add(recipe, table)
    store.add(Recipe("bare", CONFIG, seeds=(0,)), compare({"bare": CONFIG}, recipe_data_small(), [0], progress=False))
    back = store.table()
    for seed in (0, 1):
        run = kept[kept["seed"] == seed].iloc[0]
        found = store.examples("tiny", seed)
        assert found["val"].tolist() == run["val_correct"].tolist()
        assert found["test"].tolist() == run["test_correct"].tolist()
        ours = back[(back["config"] == "tiny") & (back["seed"] == seed)]["test_correct"].iloc[0]
        assert ours.tolist() == run["test_correct"].tolist()
    assert back.loc[back["config"] == "bare", "val_correct"].isna().all() and store.examples("bare", 0) is None
    with pytest.raises(KeyError, match="no run named 'tiny' with seed 7"):
        store.examples("tiny", 7)


def recipe_data_small():
    from dlopt_kit.sandbox.engine import recipe_data

    return recipe_data("digits", 20, 10)


def test_run_recipes_trains_every_run_at_once_with_the_same_numbers(monkeypatch):
    import numpy as np

    from dlopt_kit.core.processes import JOBS_ENV
    from dlopt_kit.sandbox.engine import run_recipe, run_recipes

    noisy = Recipe("noisy", CONFIG, dataset="digits", train_per_class=20, eval_per_class=10, seeds=(0, 1),
                   corruption=("label_noise", 0.3))
    plain = Recipe("plain", CONFIG, dataset="digits", train_per_class=20, eval_per_class=10, seeds=(0, 1))
    monkeypatch.setenv(JOBS_ENV, "2")  # two worker processes, as on a 2-core CPU
    together = run_recipes([plain, noisy])
    for recipe, table in zip((plain, noisy), together, strict=True):
        alone = run_recipe(recipe)
        assert table["config"].unique().tolist() == [recipe.name] and len(table) == len(alone)
        for column in ("val_acc", "test_acc", "best_epoch"):
            assert table[column].tolist() == alone[column].tolist()
        assert all(np.array_equal(a, b) for a, b in zip(table["test_correct"], alone["test_correct"], strict=True))
    assert together[1]["val_acc"].tolist() != together[0]["val_acc"].tolist()  # the corruption reached the runs
