"""The code behind a sandbox comparison: recipe files, the Python snippet and the compare command, which give the
same numbers as training the recipes directly."""

import contextlib
import io
import shlex

import pandas as pd
import pytest

from dlopt_kit.cli import main
from dlopt_kit.core.config import RunConfig
from dlopt_kit.sandbox.engine import run_recipe
from dlopt_kit.sandbox.export import cli_command, export, file_names, python_snippet
from dlopt_kit.sandbox.recipes import Recipe, RecipeError, load_recipe
from dlopt_kit.sandbox.summary import summary_table

TINY = RunConfig(model="mlp", hidden=16, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")


def recipe(name: str, **config) -> Recipe:
    return Recipe(name, TINY.replace(**config), dataset="digits", train_per_class=15, eval_per_class=20,
                  seeds=(5, 6, 7))


def test_file_names_come_from_the_recipe_names_and_are_distinct():
    names = file_names([recipe("dropout 0.3"), recipe("Dropout-0.3"), recipe("!!"), recipe("dropout 0.3 ")])
    assert names == ["dropout-0-3.yaml", "dropout-0-3-2.yaml", "recipe.yaml", "dropout-0-3-3.yaml"]


def test_export_writes_every_recipe_with_the_seeds_and_names_the_files(tmp_path):
    recipes = [recipe("baseline"), recipe("dropout", dropout=0.3)]
    out = export(recipes, [0, 1], tmp_path / "code")
    assert [p.name for p in out.files] == ["baseline.yaml", "dropout.yaml"]
    loaded = [load_recipe(p) for p in out.files]
    assert [r.seeds for r in loaded] == [(0, 1), (0, 1)] and loaded[1].config.dropout == 0.3
    words = shlex.split(out.command)
    assert words[:4] == ["python", "-m", "dlopt_kit", "compare"]
    assert words[4:6] == [str(p) for p in out.files] and words[6:] == ["--out", str((tmp_path / "code").resolve())]
    assert "--seeds" not in words and all(str(p) in out.python for p in out.files)
    assert "run_recipe(recipe, [0, 1])" in out.python and "verdicts(table" in out.python
    compile(out.python, "snippet", "exec")


def test_a_path_with_spaces_is_quoted():
    command = cli_command(["/tmp/my recipes/a b.yaml"], out="/tmp/my recipes", python="/x/python")
    assert shlex.split(command) == ["/x/python", "-m", "dlopt_kit", "compare", "/tmp/my recipes/a b.yaml", "--out",
                                    "/tmp/my recipes"]
    assert "'/tmp/my recipes/a b.yaml'" in python_snippet(["/tmp/my recipes/a b.yaml"], [0])


@pytest.mark.parametrize(("recipes", "seeds", "message"), [
    ([], [0], r"recipes=\[\]: give at least one recipe"),
    ([recipe("a"), recipe("a")], [0], "two recipes share a name"),
    ([recipe("a"), Recipe("b", TINY, dataset="fashion_mnist")], [0], "use different data"),
    ([recipe("a")], [0, 0], "repeats a seed"),
    ([recipe("a")], [], "seeds is empty"),
])
def test_bad_input_is_refused_by_name_and_nothing_is_written(tmp_path, recipes, seeds, message):
    with pytest.raises(RecipeError, match=message):
        export(recipes, seeds, tmp_path / "code")
    assert not (tmp_path / "code").exists()


def test_a_file_for_the_folder_is_refused(tmp_path):
    (tmp_path / "code").write_text("")
    with pytest.raises(RecipeError, match="is a file: give a folder"):
        export([recipe("a")], [0], tmp_path / "code")


def test_the_snippet_and_the_command_give_the_numbers_of_the_recipes_run_directly(tmp_path):
    recipes = [recipe("baseline"), recipe("wider", hidden=32)]
    out = export(recipes, [0, 1], tmp_path)
    direct = summary_table(pd.concat([run_recipe(r, [0, 1]) for r in recipes], ignore_index=True))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(out.python, {})  # noqa: S102 - the snippet the playground shows
    text = printed.getvalue()
    assert "[primary] wider vs baseline" in text
    with contextlib.redirect_stdout(printed := io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(shlex.split(out.command)[3:]) == 0
    command = printed.getvalue()
    assert (tmp_path / "compare.png").is_file()
    for name in ("baseline", "wider"):
        acc = f"{direct.loc[name, 'val_acc']:.3f}"
        for shown in (text, command):
            row = next(line for line in shown.splitlines() if line.startswith(name))
            assert row.split()[1] == acc, (name, row, acc)
