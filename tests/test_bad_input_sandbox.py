"""Bad input to the sandbox's entry points (recipe files, ``python -m dlopt_kit compare``, the SQLite store, a
schedule against its run's length) gets one line naming the file or field, the value and what is allowed, before
anything trains, and nothing already computed is lost. Regression tests pin each case found by hand; property
tests (hypothesis) throw arbitrary values at every recipe field and arbitrary bytes at the recipe loader."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlopt_kit.cli import main
from dlopt_kit.core.config import RunConfig, field_names
from dlopt_kit.core.schedules import Schedule, lr_curve
from dlopt_kit.core.training import fit
from dlopt_kit.sandbox import engine
from dlopt_kit.sandbox.recipes import KEYS, Recipe, RecipeError, load_recipe, recipe_from_dict
from dlopt_kit.sandbox.store import Store, StoreError, store_error

TINY = {"version": 1, "dataset": "fashion_mnist", "train_per_class": 8, "eval_per_class": 5, "seeds": [0, 1],
        "config": {"model": "mlp", "hidden": 16, "epochs": 1, "batch_size": 32, "lr": 0.003}}
CONFIG = RunConfig(model="mlp", hidden=8, epochs=1, batch_size=32)


def write(folder: Path, name: str, data, suffix: str = ".yaml") -> Path:
    path = folder / f"{name}{suffix}"
    path.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data))
    return path


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything trains."""
    monkeypatch.setattr(engine, "run_recipe", lambda *a, **k: pytest.fail("trained before refusing"))


def refused(capsys, argv: list[str], after_progress: bool = False) -> str:
    """Run the CLI, expect exit 2 and one ``error:`` line on stderr (after the progress bar where training had
    started), and no traceback; return the line."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    if after_progress:
        err = err.splitlines()[-1]
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err


def fake_runs(name: str, seeds=(0, 1)) -> pd.DataFrame:
    """A ``run_recipe``-shaped table without training (two epochs per seed)."""
    rows = [{"config": name, "seed": s, "epoch": e, "val_acc": 0.5 + 0.01 * e, "val_loss": 1.0, "train_loss": 1.0,
             "train_acc": 0.5, "lr": 1e-3, "seconds": 0.1, "test_acc": 0.5, "test_loss": 1.0, "best_epoch": 2,
             "stop_reason": "completed"} for s in seeds for e in (1, 2)]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- 1. a recipe file that is not UTF-8

def test_a_recipe_that_is_not_utf8_is_named_in_one_line(tmp_path, capsys, no_training):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\nname: café\n".encode("latin-1"))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value) == (f"{path}: not UTF-8 text (byte 0xe9 at position 20): a recipe is a YAML text file; "
                               "save it as UTF-8")
    good = write(tmp_path, "good", {**TINY, "name": "good"})
    err = refused(capsys, ["compare", str(good), str(path), "--out", str(tmp_path / "out")])
    assert str(path) in err and "not UTF-8" in err and not (tmp_path / "out").exists()
    bom = tmp_path / "bom.json"  # a byte-order mark, as some editors write, is still UTF-8
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({**TINY, "name": "bom"}).encode())
    assert load_recipe(bom).name == "bom"


# ---------------------------------------------------------------- 2. --out

@pytest.mark.parametrize("case", ["existing file", "image name", "under a file", "plot is a folder"])
def test_a_bad_out_is_refused_before_any_training(tmp_path, capsys, no_training, case):
    good = write(tmp_path, "good", {**TINY, "name": "good"})
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me")
    out, message = {"existing file": (blocker, f"--out {blocker} is a file: --out names the folder compare.png is "
                                               f"written to; give a folder (made when missing), e.g. --out "
                                               f"{tmp_path / 'notes'}"),
                    "image name": (tmp_path / "result.png", "--out names a folder, and compare.png is written inside"),
                    "under a file": (blocker / "plots", f"{blocker} is a file, so the folder cannot be made"),
                    "plot is a folder": (tmp_path / "plots", "compare.png is a folder")}[case]
    if case == "plot is a folder":
        (out / "compare.png").mkdir(parents=True)
    err = refused(capsys, ["compare", str(good), "--out", str(out)])
    assert message in err
    assert blocker.read_text() == "keep me"


# ---------------------------------------------------------------- 3. --store and Store(path)

def test_a_store_that_is_not_sqlite_or_a_folder_is_refused_before_any_training(tmp_path, capsys, no_training):
    good = write(tmp_path, "good", {**TINY, "name": "good"})
    text = tmp_path / "notes.sqlite"
    text.write_text("these are my notes, not a database\n" * 40)
    err = refused(capsys, ["compare", str(good), "--store", str(text), "--out", str(tmp_path / "out")])
    assert err == (f"error: {text} is not a dlopt_kit store (SQLite cannot read it: file is not a database): choose "
                   "another path for the store, or, if it was a store, delete it to start a new one there (its "
                   "stored runs are lost)")
    assert text.read_text().startswith("these are my notes")  # left as it was
    err = refused(capsys, ["compare", str(good), "--store", str(tmp_path), "--out", str(tmp_path / "out")])
    assert f"store {tmp_path} is a folder: give the path of an SQLite file" in err
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE users (id INTEGER, email TEXT)")
    err = refused(capsys, ["compare", str(good), "--store", str(other), "--out", str(tmp_path / "out")])
    assert f"{other} is an SQLite database but not a dlopt_kit store (tables users without a `runs` table)" in err
    with sqlite3.connect(other) as db:  # nothing was added to another program's database
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["users"]
    assert not (tmp_path / "out").exists()


def _kept_store(path: Path) -> Store:
    store = Store(path)
    for i in range(30):  # enough rows for several pages
        store.add(Recipe(f"recipe {i}", CONFIG, seeds=(0, 1)), fake_runs(f"recipe {i}"))
    return store


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_a_damaged_store_names_the_file_and_how_to_recover_or_start_again(tmp_path, damage):
    path = tmp_path / "sandbox.sqlite"
    _kept_store(path)
    raw = bytearray(path.read_bytes())
    if damage == "header":
        raw[:16] = b"not sqlite here!"
    else:
        raw[4096:] = b"\xff" * (len(raw) - 4096)  # every page after the first
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreError) as info:
        Store(path).table()
    message = str(info.value)
    assert str(path) in message and len(message.splitlines()) == 1
    assert "delete" in message and "stored runs are lost" in message
    if damage == "pages":
        assert "is damaged (database disk image is malformed)" in message and ".recover" in message


def test_sqlite_errors_later_on_name_the_store(tmp_path):
    path = tmp_path / "s.sqlite"
    for raw, message in ((sqlite3.OperationalError("database is locked"), "is in use by another program"),
                         (sqlite3.OperationalError("attempt to write a readonly database"), "cannot be written"),
                         (pd.errors.DatabaseError("Execution failed on sql 'SELECT 1': disk I/O error"),
                          "SQLite failed (disk I/O error)")):
        found = store_error(path, raw)
        assert isinstance(found, ValueError) and str(found).startswith(f"store {path}") and message in str(found)
    store = Store(path)
    with sqlite3.connect(path) as db:  # a row edited by hand
        db.execute("INSERT INTO runs (name, recipe, seed, created) VALUES ('hand', '{oops', 0, 'now')")
    with pytest.raises(StoreError, match=r"the recipe kept under 'hand' is not JSON .*remove that name"):
        store.recipe("hand")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=f"{blocker} is a file, not a folder"):
        Store(blocker / "sub" / "s.sqlite")


# ---------------------------------------------------------------- 4. weak messages made clear

@pytest.mark.parametrize(("text", "message"), [
    ("", "the recipe is empty: expected a mapping with version, name"),
    ("# just a comment\n", "the recipe holds no value (only comments or null): expected a mapping with version"),
])
def test_an_empty_recipe_says_what_it_should_hold(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "NoneType" not in str(info.value)
    (tmp_path / "r.json").write_text(text)
    with pytest.raises(RecipeError, match="the recipe is empty|not valid JSON"):
        load_recipe(tmp_path / "r.json")


@pytest.mark.parametrize(("text", "suffix", "message"), [
    ("version: 1\nname: a\nname: b\n", ".yaml",
     "key 'name' appears twice in one mapping (at line 2 column 1 and line 3 column 1)"),
    ("version: 1\nname: a\nconfig: {lr: 0.1, epochs: 2, lr: 0.01}\n", ".yaml",
     "key 'lr' appears twice in one mapping (at line 3 column 10 and line 3 column 30)"),
    ('{"version": 1, "name": "a", "config": {"lr": 0.1, "lr": 0.01}}', ".json",
     "key 'lr' appears twice in one object: JSON would silently keep the last value; keep one"),
])
def test_a_key_written_twice_is_refused_not_silently_overwritten(tmp_path, capsys, no_training, text, suffix,
                                                                 message):
    path = tmp_path / f"twice{suffix}"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert message in refused(capsys, ["compare", str(path), "--out", str(tmp_path / "out")])


def test_yaml_merge_keys_may_still_be_overridden():
    from dlopt_kit.sandbox.recipes import _yaml_loader

    data = yaml.load("base: &b {lr: 0.1, epochs: 2}\nconfig: {<<: *b, lr: 0.01}\n", Loader=_yaml_loader())  # noqa: S506
    assert data["config"] == {"lr": 0.01, "epochs": 2}


def test_negative_or_repeated_seeds_are_named_before_any_training(monkeypatch):
    monkeypatch.setattr(engine, "compare", lambda *a, **k: pytest.fail("trained before refusing"))
    monkeypatch.setattr(engine, "run_tasks", lambda *a, **k: pytest.fail("trained before refusing"))
    noisy = Recipe("noisy", CONFIG, "digits", 5, 5, seeds=(0, -1), corruption=("label_noise", 0.2))
    for call in (lambda: engine.run_recipe(noisy), lambda: engine.run_recipes([noisy])):
        with pytest.raises(RecipeError, match=r"^recipe 'noisy': seeds\[1\]=-1 is out of range: allowed is 0 to "
                                              "4294967295$"):
            call()
    plain = Recipe("plain", CONFIG, "digits", 5, 5)
    with pytest.raises(RecipeError, match=r"recipe 'plain': seeds=\[3, 3\] repeats a seed"):
        engine.run_recipe(plain, [3, 3])
    with pytest.raises(RecipeError, match=r"recipe 'plain': seeds\[0\]=4294967296 is out of range"):
        engine.run_recipes([plain], [2**32])
    with pytest.raises(RecipeError, match=r"r.yaml: seeds\[0\]=-3 is out of range"):
        recipe_from_dict({**TINY, "name": "r", "seeds": [-3]}, "r.yaml")


@pytest.mark.parametrize(("schedule", "epochs", "steps", "message"), [
    ({"kind": "cosine", "warmup_epochs": 5}, 5, 500,
     "schedule cosine warmup_epochs=5 fills the run (5 epochs x 500 steps = 2500 steps): the lr would creep up"),
    ({"kind": "cosine"}, 1, 10, "schedule cosine warmup_epochs=1 fills the run (1 epoch x 10 steps = 10 steps)"),
    ({"kind": "step", "step_size": 4}, 3, 10,
     "schedule step step_size=4 is longer than the run (3 epochs x 10 steps = 30 steps): the lr would never drop"),
    ({"kind": "cyclic", "cycle_epochs": 8}, 3, 10,
     "schedule cyclic cycle_epochs=8 is too long for the run (3 epochs x 10 steps = 30 steps): the lr rises for "
     "half a cycle (4 epochs) and would never reach lr"),
    ({"kind": "onecycle"}, 1, 3, "schedule onecycle pct_start=0.3 gives a warm-up of 0.9 steps in the run (1 epoch "
                                 "x 3 steps = 3 steps): one-cycle needs a warm-up of more than one step"),
    ({"kind": "onecycle", "pct_start": 0.5}, 1, 2, "gives a warm-up of 1 step"),  # PyTorch: ZeroDivisionError
    ({"kind": "onecycle"}, 1, 1, "train more epochs or use a smaller batch_size"),
])
def test_a_schedule_the_run_cannot_carry_out_is_refused_by_name(tiny, schedule, epochs, steps, message):
    config = RunConfig(schedule=schedule, epochs=epochs, lr=1e-3)  # the spec alone is fine
    with pytest.raises(ValueError) as info:
        lr_curve(config.schedule, config.lr, epochs, steps)
    assert message in str(info.value) and len(str(info.value).splitlines()) == 1
    if steps > 5:  # the epochs alone tell: a recipe refuses it when it is loaded
        with pytest.raises(RecipeError, match=f"r.yaml: config: {message.split(' (')[0]}"):
            recipe_from_dict({**TINY, "name": "r", "config": {**TINY["config"], "schedule": schedule,
                                                                "epochs": epochs}}, "r.yaml")
    if epochs == 1:  # fit refuses it before the first step
        with pytest.raises(ValueError, match=message.split(" (")[0]):
            fit(config.replace(model="mlp", batch_size=max(1, len(tiny.y_train) // steps + 1)), tiny, progress=False)


def test_schedules_that_fit_their_run_are_still_fine():
    for schedule, epochs, steps in ((Schedule("step", step_size=3), 3, 4), (Schedule("cosine", warmup_epochs=0.5), 1,
                                                                            10),
                                    (Schedule("cosine", warmup_epochs=0), 1, 1), (Schedule("cyclic"), 2, 5),
                                    (Schedule("onecycle"), 1, 4), (Schedule("exponential"), 1, 1)):
        assert len(lr_curve(schedule, 0.1, epochs, steps)) == epochs * steps
    assert recipe_from_dict({**TINY, "name": "r", "config": {**TINY["config"], "epochs": 2,
                                                             "schedule": {"kind": "step", "step_size": 2}}})


def test_a_onecycle_recipe_too_short_in_steps_is_refused_before_any_training(tmp_path, capsys, no_training):
    # 8 images per class x 10 classes in batches of 32: 3 steps, one epoch; a 0.3 warm-up is 0.9 steps
    short = write(tmp_path, "short", {**TINY, "name": "short", "config": {**TINY["config"], "schedule": "onecycle"}})
    err = refused(capsys, ["compare", str(short), "--out", str(tmp_path / "out")])
    assert err.startswith("error: recipe 'short': config: schedule onecycle pct_start=0.3 gives a warm-up of 0.9 "
                          "steps in the run (1 epoch x 3 steps = 3 steps)")


def test_a_value_error_while_training_is_one_line_and_keeps_the_recipes_already_run(tmp_path, capsys, monkeypatch):
    def run(recipe, seeds):
        if recipe.name == "second":
            raise ValueError("something found only while training")
        return fake_runs(recipe.name, seeds)

    monkeypatch.setattr(engine, "run_recipe", run)
    paths = [write(tmp_path, n, {**TINY, "name": n}) for n in ("first", "second")]
    store = tmp_path / "s.sqlite"
    err = refused(capsys, ["compare", *map(str, paths), "--store", str(store), "--out", str(tmp_path / "out")],
                  after_progress=True)
    assert err == f"error: something found only while training (the runs of 'first' are kept in {store})"
    assert Store(store).names() == ["first"] and len(Store(store).runs()) == 2


def test_odd_keys_keep_messages_on_one_line(tmp_path):
    path = tmp_path / "odd.yaml"
    path.write_text('version: 1\nname: odd\n1: 2\n"a\\nb": 3\n"": 4\n')
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert "unknown recipe key(s) '', 'a\\nb', 1: allowed are version" in str(info.value)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(RecipeError, match=r"name='two\\nlines' must be a short text naming the recipe, on one line"):
        recipe_from_dict({**TINY, "name": "two\nlines"}, "r.yaml")
    with pytest.raises(RecipeError, match="corruption.rate=1e\\+400|corruption.rate=1000"):
        recipe_from_dict({**TINY, "name": "r", "corruption": {"kind": "label_noise", "rate": 10**400}}, "r.yaml")


# ---------------------------------------------------------------- 5. property tests

ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.integers(10**300, 10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.lists(st.integers(), max_size=3),
    st.lists(st.floats(allow_nan=True), max_size=3), st.dictionaries(st.text(max_size=3), st.integers()),
    st.dictionaries(st.sampled_from(["kind", "rate", "lr", "epochs", "model"]), st.one_of(st.text(max_size=5),
                                                                                          st.floats())),
    st.integers(-1000, 1000).map(np.int64), st.floats(-1e6, 1e6, width=32).map(np.float32),
    st.booleans().map(np.bool_),
)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE = {**TINY, "name": "base"}


@PROPERTY
@given(field=st.sampled_from(KEYS), value=ANYTHING)
def test_any_recipe_field_value_constructs_or_names_the_field(field, value):
    try:
        recipe = recipe_from_dict({**BASE, field: value}, "r.yaml")
    except RecipeError as exc:
        message = str(exc)
        assert message.startswith("r.yaml: ") and field in message and len(message.splitlines()) == 1, message
    else:
        assert isinstance(recipe, Recipe)


@PROPERTY
@given(name=st.sampled_from(field_names()), value=ANYTHING)
def test_any_config_value_in_a_recipe_constructs_or_names_the_setting(name, value):
    try:
        recipe = recipe_from_dict({**BASE, "config": {**BASE["config"], name: value}}, "r.yaml")
    except RecipeError as exc:
        message = str(exc)
        assert message.startswith("r.yaml: config") and name in message and len(message.splitlines()) == 1, message
    else:
        assert isinstance(recipe.config, RunConfig)


VALID = yaml.safe_dump(BASE).encode()


@st.composite
def recipe_bytes(draw) -> bytes:
    """Arbitrary bytes, or a valid recipe with a slice replaced by arbitrary bytes (to reach the fields)."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    start = draw(st.integers(0, len(VALID)))
    end = draw(st.integers(start, min(len(VALID), start + 12)))
    return VALID[:start] + draw(st.binary(max_size=8)) + VALID[end:]


@PROPERTY
@given(raw=recipe_bytes(), suffix=st.sampled_from([".yaml", ".json"]))
def test_any_bytes_as_a_recipe_file_load_or_give_one_line(tmp_path_factory, raw, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"recipe{suffix}"
    path.write_bytes(raw)
    try:
        recipe = load_recipe(path)
    except RecipeError as exc:  # never another exception type
        message = str(exc)
        assert message.startswith(f"{path}: ") and len(message.splitlines()) == 1 and "\r" not in message, message
    else:
        assert isinstance(recipe, Recipe)
