import time

import ipywidgets as W
import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import load_splits
from dlopt_kit.panels.training import Control, TrainingPanel, build_control, default_spec

BASE = RunConfig(model="mlp", epochs=2, batch_size=32)


@pytest.fixture
def panel(tiny):
    return TrainingPanel(tiny, base=BASE)


def test_run_with_set_values_adds_a_row(panel):
    assert panel.plot.layout.display == "none"  # no empty image before the first epoch
    result = panel.run(lr=0.01, epochs=3)
    assert panel.plot.layout.display is None
    assert result is not None and result.config.lr == 0.01 and len(result.history) == 3
    rows = panel.results_frame()
    assert len(rows) == 1 and rows.loc[0, "lr"] == 0.01 and rows.loc[0, "ended"] == "completed"
    assert bytes(panel.plot.value).startswith(b"\x89PNG")
    assert "<table" in panel.table.value and "Run 1" in panel.status.value
    assert panel.progress.value == panel.progress.max and not panel.run_button.disabled
    panel.run(model="cnn", epochs=1)
    assert panel.results_frame()["model"].tolist() == ["mlp", "cnn"]


def test_bad_value_shows_a_message_and_keeps_results(panel):
    panel.run()
    panel.set_values(batch_size=0)
    panel.run_button.click()
    assert not panel.running
    assert "batch_size=0 is out of range: allowed is 1 to 65536" in panel.status.value
    assert panel.error.startswith("batch_size=0")
    assert len(panel.results) == 1 and "<table" in panel.table.value
    panel.run(batch_size=16, lr=-1.0)
    assert "lr=-1.0" in panel.status.value and len(panel.results) == 1


def test_stop_button_keeps_history(tiny):
    panel = TrainingPanel(tiny, base=BASE.replace(epochs=200, batch_size=8))
    panel.run(wait=False)
    deadline = time.time() + 30
    while panel.progress.value < 20 and time.time() < deadline:
        time.sleep(0.01)
    panel.stop_button.click()
    panel.wait(timeout=60)
    result = panel.results[-1]
    assert result.stop_reason == "stopped by the user"
    assert 1 <= len(result.history) < 200 and result.best_state is not None
    assert panel.results_frame().loc[0, "ended"] == "stopped by the user"


def test_seeds_repeat_a_run_and_its_row_shows_the_mean_and_spread(tiny):
    panel = TrainingPanel(tiny, base=BASE, spec=default_spec(BASE))
    panel.run(epochs=2)
    assert "val_acc ±" not in panel.results_frame().columns  # one seed: the plain row
    result = panel.run(seeds=3, epochs=2)
    assert [r.config.seed for r in panel.results[1:]] == [0, 1, 2] and result is panel.results[-1]
    row = panel.results_frame().iloc[-1]
    accs = [next(h["val_acc"] for h in r.history if h["epoch"] == r.best_epoch) for r in panel.results[1:]]
    assert row["run"] == 2 and row["seeds"] == 3 and row["val_acc"] == pytest.approx(sum(accs) / 3)
    assert row["val_acc ±"] >= 0 and row["best epoch"].count(",") == 2
    assert "mean over 3 seeds" in panel.status.value and "±" in panel.status.value
    assert panel.progress.value == panel.progress.max


def test_a_bad_seed_count_is_refused_and_stop_ends_every_seed(tiny):
    panel = TrainingPanel(tiny, base=BASE.replace(epochs=200, batch_size=8), spec=default_spec(BASE))
    panel.run(seeds=5)
    assert "seeds=5 is out of range: allowed is 1 to 3" in panel.status.value and panel.results == []
    panel.run(wait=False, seeds=3, epochs=200)
    deadline = time.time() + 30
    while panel.progress.value < 20 and time.time() < deadline:
        time.sleep(0.01)
    panel.stop_button.click()
    panel.wait(timeout=60)
    assert len(panel.results) == 1 and panel.results[0].stop_reason == "stopped by the user"
    assert panel.results_frame().loc[0, "ended"] == "stopped by the user"


def test_run_is_refused_while_running(tiny):
    panel = TrainingPanel(tiny, base=BASE.replace(epochs=200, batch_size=8))
    panel.run(wait=False)
    panel.on_run()
    assert "in progress" in panel.status.value
    panel.on_stop()
    panel.wait()


def test_failure_in_training_is_shown_not_raised():
    def data_for(values):
        return load_splits(values["dataset"])

    spec = default_spec(BASE, datasets=("digits", "breast_cancer"))
    panel = TrainingPanel(data_for, base=BASE, spec=spec)
    panel.run(dataset="digits", model="mlp")
    panel.run(dataset="breast_cancer", model="cnn")
    assert "cnn model needs images" in panel.status.value
    assert len(panel.results) == 1


def test_unknown_control_and_bad_kind(panel):
    with pytest.raises(ValueError, match="unknown control.*momentum"):
        panel.set_values(momentum=0.5)
    with pytest.raises(ValueError, match="control kind 'slider'"):
        build_control(Control("lr", "slider", 0.1))


def test_controls_from_spec():
    assert isinstance(build_control(Control("m", "choice", "a", ("a", "b"))), W.Dropdown)
    assert isinstance(build_control(Control("n", "int", 3)), W.FloatText)  # so that 2.7 is not truncated
    assert isinstance(build_control(Control("x", "float", 0.5)), W.FloatText)
    assert isinstance(build_control(Control("b", "bool", True)), W.Checkbox)
    names = [c.name for c in default_spec(BASE)]
    assert names == ["dataset", "model", "optimizer", "lr", "epochs", "batch_size", "seeds"]


def test_panel_renders_as_a_widget(panel):
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_dataset_loader_loads_each_dataset_once_at_the_budget_size():
    from dlopt_kit.panels.training import dataset_loader

    load = dataset_loader(20, 5)
    first = load({"dataset": "digits"})
    assert len(first.y_train) == 200 and load({"dataset": "digits"}) is first
    assert load({}).name == "fashion_mnist"


def test_results_table_shows_validation_metrics_of_the_best_epoch_only(panel):
    result = panel.run(epochs=3)
    row = panel.results_frame().iloc[0]
    best = result.history[result.best_epoch - 1]
    assert row["val_acc"] == best["val_acc"] and row["val_loss"] == best["val_loss"]
    assert not any("test" in column for column in panel.results_frame().columns)
    assert "best epoch" in panel.status.value and "test" not in panel.status.value


def test_controls_fill_grid_columns_wide_enough_for_label_and_box(panel):
    from dlopt_kit.panels.training import CONTROL_MIN_WIDTH

    grid = panel.widget.children[1]
    assert f"minmax({CONTROL_MIN_WIDTH}, 1fr)" in grid.layout.grid_template_columns
    assert "auto-fill" in grid.layout.grid_template_columns  # columns wrap instead of overflowing
    for control in panel.controls.values():
        assert control.layout.width == "100%" and control.style.description_width == "initial"
