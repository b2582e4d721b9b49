"""Lesson 09's sandbox panel: runs and queues of configs, results from the store (back after a restart), the diff
and the verdicts, recipes saved and loaded, bad values refused by name, Stop keeping what finished."""

import time

import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.panels import SandboxPanel
from dlopt_kit.sandbox.engine import run_recipe, verdicts
from dlopt_kit.sandbox.recipes import load_recipe

BASE = RunConfig(model="mlp", hidden=32, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc", momentum=0.5)
QUICK = dict(dataset="digits", train_per_class=20, model="mlp", hidden=32, epochs=2, seeds=2)


@pytest.fixture
def panel(tmp_path):
    return SandboxPanel(BASE, store=tmp_path / "sandbox.sqlite")


def test_a_run_and_a_queue_fill_the_store_the_diff_and_the_verdicts(panel, tmp_path):
    results = panel.run(name="baseline", **QUICK)
    assert list(results["config"]) == ["baseline"] and results.loc[0, "seeds"] == 2
    assert "Run 1: completed" in panel.status.value and panel.plot.value and "<table" in panel.table.value
    panel.set_values(dropout=0.3)
    panel.name_box.value = "dropout"
    assert panel.add().name == "dropout"
    panel.set_values(dropout=0.0, weight_decay=0.05)
    panel.name_box.value = "decay"
    panel.add()
    assert "dropout, decay" in panel.queue_view.value
    panel.run_button.click()
    panel.wait()
    assert list(panel.results_frame()["config"]) == ["baseline", "dropout", "decay"] and not panel.queue
    assert "config.dropout" in panel.diff_view.value and "config.weight_decay" in panel.diff_view.value
    assert list(panel.diff_frame().index) == ["config.weight_decay", "config.dropout"]
    lines = panel.verdict_lines()
    assert len(lines) == 3 and lines[0].startswith("[primary] dropout vs baseline: difference")
    assert "validation examples x 2 seeds, t with" in lines[0] and "McNemar exact" in lines[0]
    assert all(line.startswith("[exploratory, Holm-corrected over 2 comparisons] ") for line in lines[1:])
    assert panel.verdict_lines(primary=("decay", "dropout"))[0].startswith("[primary] decay vs dropout")
    assert panel.verdict_view.value.count("<li>") == 3 and "[primary] dropout vs baseline" in panel.verdict_view.value
    again = SandboxPanel(BASE, store=tmp_path / "sandbox.sqlite")  # a new kernel: the results come back
    assert list(again.results_frame()["config"]) == ["baseline", "dropout", "decay"] and "<table" in again.table.value
    again.name_box.value = "dropout"
    assert again.add().name == "dropout (2)" and "was taken" in again.status.value  # kept results stay
    again.name_box.value = "dropout"
    assert again.add().name == "dropout (3)"


def test_recipes_save_and_load_with_the_settings_the_panel_does_not_show(panel, tmp_path):
    panel.set_values(dropout=0.2, corruption="label_noise", corruption_rate=0.3, rotate=10.0, **QUICK)
    panel.name_box.value = "noisy"
    path = panel.save(tmp_path / "noisy.yaml")
    recipe = load_recipe(path)
    text = path.read_text()
    assert "momentum: 0.5" in text and "rotate: 10.0" in text and "l1:" not in text and "hue:" not in text
    assert recipe == panel.recipe() and recipe.corruption == ("label_noise", 0.3)
    assert recipe.config.momentum == 0.5 and recipe.config.augment.rotate == 10.0 and recipe.seeds == (0, 1)
    fresh = SandboxPanel(store=tmp_path / "other.sqlite")
    assert fresh.diff_frame().empty and fresh.verdict_lines() == [] and fresh.results_frame().empty
    assert fresh.load(path) == recipe and fresh.recipe() == recipe and fresh.values()["corruption_rate"] == 0.3
    (tmp_path / "bad.yaml").write_text("version: 1\nname: bad\nconfig: {dropout: 2}\n")
    assert fresh.load(tmp_path / "bad.yaml") is None and "dropout=2" in fresh.error
    assert fresh.recipe() == recipe  # a bad file changes nothing
    assert fresh.save(tmp_path / "r.txt") is None and "ends in .yaml" in fresh.error
    before = path.read_text()
    assert fresh.save(path) is None and "already exists" in fresh.error and path.read_text() == before
    assert fresh.save(path, overwrite=True) == path


def test_corruption_is_drawn_with_each_seed_and_validation_stays_clean(panel):
    panel.set_values(corruption="label_noise", corruption_rate=0.5, **QUICK)
    panel.name_box.value = "half noise"
    table = run_recipe(panel.recipe())
    assert set(table["seed"]) == {0, 1} and table["val_acc"].between(0, 1).all()
    assert len(verdicts(table.assign(config="a"))) == 0


@pytest.mark.parametrize("bad, message", [
    (dict(batch_size=0), "batch_size=0 is out of range"), (dict(seeds=1), "seeds=1 is out of range"),
    (dict(corruption="label_noise", corruption_rate=1.5), "corruption.rate=1.5 is out of range"),
    (dict(lr="fast"), "lr='fast'")])
def test_a_bad_value_is_refused_by_name_and_keeps_every_result(panel, bad, message):
    panel.run(name="kept", **QUICK)
    assert panel.run(**bad) is None and message in panel.error
    assert list(panel.results_frame()["config"]) == ["kept"] and not panel.running


def test_stop_keeps_the_finished_seeds_and_the_history(panel):
    panel.run(wait=False, name="long", **{**QUICK, "epochs": 500})
    deadline = time.time() + 30
    while panel.progress.value < 3 and time.time() < deadline:
        time.sleep(0.05)
    panel.stop_button.click()
    panel.wait(20)
    row = panel.results_frame().iloc[0]
    assert not panel.running and row["ended"] == "stopped by the user" and "stopped by the user" in panel.status.value
    assert row["seeds"] == 0  # the stopped seed is not counted as a result
    assert len(panel.store.table(["long"])) >= 3  # the epochs run before Stop are kept


def test_choose_reads_validation_at_the_kept_epoch():
    import pandas as pd

    from dlopt_kit.sandbox.engine import choose

    rows = [("a", s, e, va, ta) for s in (0, 1) for e, va, ta in ((1, 0.5, 0.9), (2, 0.6, 0.1))]
    rows += [("b", s, e, va, ta) for s in (0, 1) for e, va, ta in ((1, 0.55, 0.2), (2, 0.58, 0.95))]
    table = pd.DataFrame(rows, columns=["config", "seed", "epoch", "val_acc", "test_acc"]).assign(best_epoch=2)
    assert choose(table, ["a", "b"]) == "a"  # 0.60 against 0.58 on validation, whatever the test split says
    assert choose(table, ["b"]) == "b"
    with pytest.raises(ValueError, match="choose from the table's configs"):
        choose(table, ["c"])


def test_a_loaded_recipe_saves_back_unchanged(panel, tmp_path):
    path = tmp_path / "full.yaml"
    path.write_text("version: 1\nname: everything\ndataset: digits\ntrain_per_class: null\neval_per_class: 200\n"
                    "seeds: [5, 6, 7]\ncorruption: {kind: pair_noise, rate: 0.1}\n"
                    "config: {model: mlp, hidden: 32, epochs: 2, optimizer: sgd, momentum: 0.5, class_weight: balanced,"
                    " schedule: {kind: step, step_size: 2, gamma: 0.5}, augment: {hflip: 0.5, vflip: 0.3}}\n")
    loaded = panel.load(path)
    assert loaded is not None and panel.values()["train_per_class"] == 0
    assert panel.recipe() == loaded  # nothing the panel has no knob for is lost
    again = load_recipe(panel.save(tmp_path / "again.yaml"))
    assert again == loaded
    panel.set_values(seeds=4, schedule="cosine")
    changed = panel.recipe()
    assert changed.seeds == (0, 1, 2, 3) and changed.config.schedule.kind == "cosine"
    assert changed.config.augment.vflip == 0.3 and changed.eval_per_class == 200


def test_stop_puts_the_configs_not_started_back_in_the_queue(panel):
    panel.set_values(**{**QUICK, "epochs": 500})
    for name in ("first", "second"):
        panel.name_box.value = name
        panel.add()
    panel.run_button.click()
    deadline = time.time() + 30
    while panel.progress.value < 3 and time.time() < deadline:
        time.sleep(0.05)
    panel.name_box.value = "first"
    assert panel.add().name == "first (2)"  # a name in flight is taken too
    panel.queue.pop()
    panel.stop_button.click()
    panel.wait(20)
    assert [r.name for r in panel.queue] == ["second"] and "second" in panel.queue_view.value
    assert list(panel.results_frame()["config"]) == ["first"]
    assert panel.verdict_lines() == []  # the stopped seed is not compared


def test_the_default_store_is_the_checkouts_runs_folder():
    from pathlib import Path

    from dlopt_kit.sandbox.store import DEFAULT

    assert DEFAULT.is_absolute() and DEFAULT == Path(__file__).resolve().parent.parent / "runs" / "sandbox.sqlite"


def test_a_store_from_before_per_example_records_gives_seeds_only_lines(tmp_path):
    from test_sandbox_store import old_store

    old_store(tmp_path / "old.sqlite", {"base": {0: 0.80, 1: 0.82}, "wider": {0: 0.81, 1: 0.80}})
    panel = SandboxPanel(BASE, store=tmp_path / "old.sqlite")
    assert panel.verdict_lines() == [panel.verdict_lines()[0]]
    assert panel.verdict_lines()[0].startswith("[primary, seeds only] wider vs base: difference -0.005")
    assert "seeds only" in panel.verdict_view.value and list(panel.results_frame()["config"]) == ["base", "wider"]
