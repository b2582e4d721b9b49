"""The playground: the sandbox panel plus "Show the code", whose recipe files and command reproduce what it shows."""

import html
import re
import shlex

import ipywidgets as W

from dlopt_kit.core.config import RunConfig
from dlopt_kit.panels import Playground, SandboxPanel
from dlopt_kit.sandbox.recipes import load_recipe

BASE = RunConfig(model="mlp", hidden=16, lr=3e-3, batch_size=32, epochs=2, monitor="val_acc")
QUICK = dict(dataset="digits", train_per_class=15, epochs=2, seeds=2)


def code(app: Playground, kind: str) -> str:
    return html.unescape(re.search(f"<pre class='dlopt-code-{kind}'>(.*?)</pre>", app.code_view.value, re.S)[1])


def test_show_the_code_writes_the_store_and_the_queue_as_recipes(tmp_path):
    app = Playground(BASE, store=tmp_path / "play.sqlite", folder=tmp_path / "code")
    assert app.sandbox.widget in app.widget.children and app.code_button in app.widget.children[-2].children
    app.code_button.click()  # nothing run or queued: the current settings
    assert [load_recipe(p).name for p in app.exported.files] == ["baseline"]
    app.sandbox.run(name="baseline", **QUICK)
    app.sandbox.set_values(dropout=0.3)
    app.sandbox.name_box.value = "dropout 0.3"
    app.sandbox.add()
    app.code_button.click()
    files = [p.name for p in app.exported.files]
    assert files == ["baseline.yaml", "dropout-0-3.yaml"] and "2 recipe file(s) written" in app.code_note.value
    loaded = [load_recipe(tmp_path / "code" / f) for f in files]
    assert loaded[0] == app.sandbox.store.recipe("baseline") and loaded[1].config.dropout == 0.3
    assert all(r.seeds == (0, 1) and r.dataset == "digits" for r in loaded)
    words = shlex.split(code(app, "command"))
    assert words[:4] == ["python", "-m", "dlopt_kit", "compare"] and words[4:6] == [str(p) for p in app.exported.files]
    assert str(tmp_path / "code" / "baseline.yaml") in code(app, "python")
    compile(code(app, "python"), "shown", "exec")


def test_a_bad_setting_is_named_and_the_code_shown_stays(tmp_path):
    app = Playground(BASE, store=tmp_path / "play.sqlite", folder=tmp_path / "code")
    app.code_button.click()
    shown = app.code_view.value
    app.sandbox.set_values(batch_size=0)
    app.code_button.click()
    assert "No code:" in app.code_note.value and "batch_size=0 is out of range" in app.code_note.value
    assert app.code_view.value == shown


def count(widget: W.Widget, part: W.Widget) -> int:
    return (widget is part) + sum(count(child, part) for child in getattr(widget, "children", ()))


def test_the_data_file_box_is_shown_once_whether_or_not_the_sandbox_places_it(tmp_path, monkeypatch):
    app = Playground(BASE, store=tmp_path / "a.sqlite")
    if hasattr(app.sandbox, "data_box"):
        assert count(app.widget, app.sandbox.data_box) == 1
    original = SandboxPanel.__init__

    def loose_box(self, *args, **kwargs):  # a data box the sandbox's own layout leaves out
        original(self, *args, **kwargs)
        self.data_box = W.Text(description="data file")

    monkeypatch.setattr(SandboxPanel, "__init__", loose_box)
    app = Playground(BASE, store=tmp_path / "b.sqlite")
    assert app.widget.children[0] is app.sandbox.data_box and count(app.widget, app.sandbox.data_box) == 1

    def no_box(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.__dict__.pop("data_box", None)

    monkeypatch.setattr(SandboxPanel, "__init__", no_box)
    app = Playground(BASE, store=tmp_path / "c.sqlite")
    assert not hasattr(app.sandbox, "data_box") and app.widget.children[0] is app.sandbox.widget
