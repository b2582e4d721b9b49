"""Recipes and ``python -m dlopt_kit compare``: good recipes round-trip and run, bad ones are refused by name."""

import json
from pathlib import Path

import pytest

from dlopt_kit.cli import main
from dlopt_kit.core.augment import AugmentSpec
from dlopt_kit.core.config import RunConfig
from dlopt_kit.sandbox import RECIPES
from dlopt_kit.sandbox.recipes import Recipe, RecipeError, diff, load_recipe, recipe_from_dict, same_data

WORKED = sorted(RECIPES.glob("*.yaml"))
TINY = {"version": 1, "dataset": "fashion_mnist", "train_per_class": 8, "eval_per_class": 5, "seeds": [0, 1],
        "config": {"model": "mlp", "hidden": 16, "epochs": 1, "batch_size": 32, "lr": 0.003}}


def write(folder: Path, name: str, data, suffix: str = ".yaml") -> Path:
    import yaml

    path = folder / f"{name}{suffix}"
    path.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data))
    return path


def test_worked_recipes_load_and_share_their_data():
    recipes = [load_recipe(p) for p in WORKED]
    assert len(recipes) >= 3 and len({r.name for r in recipes}) == len(recipes)
    assert same_data(recipes) == ("fashion_mnist", 100)
    assert len({r.train_per_class for r in recipes}) == 2  # more labels is one of the worked questions


def test_diff_lists_only_the_fields_that_differ():
    worked = {r.name: r for r in (load_recipe(p) for p in WORKED)}
    baseline = recipe_from_dict({**TINY, "name": "baseline"})
    dropout = recipe_from_dict({**TINY, "name": "dropout", "config": {**TINY["config"], "dropout": 0.3}})
    seeds = recipe_from_dict({**TINY, "name": "more seeds", "seeds": [0, 1, 2]})
    table = diff([baseline, dropout, seeds])
    assert list(table.index) == ["seeds", "config.dropout"] and list(table.columns) == ["baseline", "dropout",
                                                                                         "more seeds"]
    assert table.loc["config.dropout"].tolist() == [0.0, 0.3, 0.0] and table.loc["seeds", "more seeds"] == [0, 1, 2]
    assert diff([baseline, recipe_from_dict({**TINY, "name": "copy"})]).empty
    assert len(diff(list(worked.values()))) >= 2  # the worked recipes differ in their regularisation
    with pytest.raises(RecipeError, match="at least one recipe"):
        diff([])


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_recipe_round_trips_through_its_file(tmp_path, suffix):
    recipe = Recipe("cosine", RunConfig(model="mlp", schedule="cosine", augment=AugmentSpec(rotate=10), epochs=3),
                    seeds=(1, 2))
    loaded = load_recipe(recipe.save(tmp_path / f"r{suffix}"))
    assert loaded == recipe and loaded.to_dict()["version"] == 1


@pytest.mark.parametrize("change, message", [
    ({"config": {"lr": -1}}, "config: lr=-1"),
    ({"config": {"dropuot": 0.3}}, "unknown config setting(s) dropuot: allowed are model"),
    ({"config": {"augment": {"rotate": 500}}}, "config.augment"),
    ({"colour": "red"}, "unknown recipe key(s) colour: allowed are version"),
    ({"version": 2}, "version 2 was written by a newer dlopt-kit"),
    ({"version": 0}, "version 0 is older than any layout"),
    ({"version": None}, "version is missing"),
    ({"dataset": "cifar"}, "dataset='cifar' is not allowed"),
    ({"seeds": [0, 0]}, "seeds"),
    ({"name": ""}, "name='' must be a short text"),
])
def test_a_bad_recipe_names_the_field_and_what_is_allowed(change, message):
    data = {**TINY, "name": "tiny", **change}
    if data.get("version") is None:
        data.pop("version")
    with pytest.raises(RecipeError, match=None) as info:
        recipe_from_dict(data, "r.yaml")
    assert str(info.value).startswith("r.yaml: ") and message in str(info.value)


def test_files_that_are_not_recipes_are_refused(tmp_path):
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(tmp_path / "broken.yaml")
    with pytest.raises(RecipeError, match="a recipe file ends in .yaml, .yml, .json"):
        load_recipe(tmp_path / "recipe.txt")
    with pytest.raises(RecipeError, match="cannot be read"):
        load_recipe(tmp_path / "missing.yaml")


def test_compare_runs_recipes_prints_verdicts_and_writes_the_plot(tmp_path, capsys):
    a = write(tmp_path, "a", {**TINY, "name": "small lr", "config": {**TINY["config"], "lr": 0.0001}})
    b = write(tmp_path, "b", {**TINY, "name": "larger lr"}, ".json")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "[primary] larger lr vs small lr: difference" in out and "validation examples x 2 seeds, t with" in out
    assert "McNemar exact p" in out and "power of larger lr vs small lr" in out and "seeds needed" in out
    assert "what differs:\n" in out and "config.lr" in out and "0.0001" in out
    assert "validation accuracy at each run's kept epoch" in out and "test_acc" not in out  # choose on validation
    store = tmp_path / "runs.sqlite"
    assert main(["compare", str(a), str(b), "--test", "--store", str(store), "--out", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "test accuracy of the kept model" in out and "test_acc" in out and "test examples x 2 seeds" in out
    assert main(["compare", str(a), "--store", str(store), "--out", str(tmp_path / "t")]) == 0
    assert "kept as 'small lr (2)'" in capsys.readouterr().out  # runs already kept stay as they are
    from dlopt_kit.sandbox.store import Store

    assert Store(store).names() == ["small lr", "larger lr", "small lr (2)"]
    assert (tmp_path / "out" / "compare.png").stat().st_size > 1000
    assert main(["compare", str(a), "--seeds", "1", "--out", str(tmp_path / "one")]) == 0
    out = capsys.readouterr().out
    assert "| seeds: 0\n" in out and " vs " not in out  # one recipe, one seed: a table, no verdict
    assert main(["compare", str(a), str(b), "--seeds", "1", "--out", str(tmp_path / "two")]) == 2
    assert "comparing recipes needs at least 2 seeds" in capsys.readouterr().err  # refused before training


@pytest.mark.parametrize("case, message", [
    ("bad value", "config: lr=-1"), ("other data", "use different data"), ("same name", "share a name"),
    ("newer", "newer dlopt-kit")])
def test_compare_refuses_bad_recipes_with_one_line_and_exit_2(tmp_path, capsys, case, message):
    good = write(tmp_path, "good", {**TINY, "name": "good"})
    other = {"bad value": {**TINY, "name": "bad", "config": {"lr": -1}},
             "other data": {**TINY, "name": "other", "eval_per_class": 9},
             "same name": {**TINY, "name": "good"}, "newer": {**TINY, "name": "new", "version": 3}}[case]
    bad = write(tmp_path, "bad", other)
    assert main(["compare", str(good), str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "compare.png").exists()


def test_compare_names_the_primary_pair_and_corrects_the_rest(tmp_path, capsys):
    paths = [write(tmp_path, n, {**TINY, "name": n, "config": {**TINY["config"], "hidden": h}})
             for n, h in (("a", 8), ("b", 16), ("c", 32))]
    assert main(["compare", *map(str, paths), "--seeds", "2", "--primary", "c", "a", "--out", str(tmp_path)]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("[")]
    assert [line.split(":")[0] for line in lines] == [
        "[primary] c vs a", "[exploratory, Holm-corrected over 2 comparisons] b vs a",
        "[exploratory, Holm-corrected over 2 comparisons] c vs b"]
    assert all("x 2 seeds, t with" in line and "pooled over 2 seeds" in line for line in lines)


@pytest.mark.parametrize("primary, message", [
    (["a", "x"], "error: --primary 'x': not a recipe name; the recipes are a, b"),
    (["b", "b"], "error: --primary 'b' 'b': name two different recipes")])
def test_an_unknown_primary_is_refused_before_anything_trains(tmp_path, capsys, monkeypatch, primary, message):
    from dlopt_kit.sandbox import engine

    monkeypatch.setattr(engine, "run_recipe", lambda *a, **k: pytest.fail("trained before refusing"))
    paths = [write(tmp_path, n, {**TINY, "name": n}) for n in ("a", "b")]
    assert main(["compare", *map(str, paths), "--primary", *primary, "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == message and captured.out == "" and not (tmp_path / "out").exists()
