"""Lesson 05's panel: its knobs reach the run, the table shows the regularisation numbers from validation and
training data, and a bad value is refused with the allowed range while earlier runs stay."""

import pytest

from dlopt_kit.core.config import RunConfig
from dlopt_kit.panels.regularization import regularization_metrics, regularization_panel

BASE = RunConfig(model="mlp", hidden=64, epochs=2, batch_size=32, lr=3e-3)


def test_knobs_reach_the_run_and_the_table_compares_runs(tiny):
    panel = regularization_panel(tiny, BASE)
    assert set(panel.controls) == {"optimizer", "lr", "l1", "l2", "weight_decay", "dropout", "input_dropout",
                                   "patience", "epochs", "seeds"}
    first = panel.run(l2=0.01, dropout=0.5, input_dropout=0.2, epochs=3)
    assert (first.config.l2, first.config.dropout, first.config.input_dropout) == (0.01, 0.5, 0.2)
    assert "gap" in first.history[-1]  # the panel measures the training split in eval mode
    second = panel.run(optimizer="adamw", lr=1e-3, weight_decay=0.1, l2=0.0, dropout=0.0, input_dropout=0.0,
                       patience=1, epochs=4)
    assert second.config.optimizer == "adamw" and second.config.patience == 1 and second.config.lr == 1e-3
    rows = panel.results_frame()
    assert rows["optimizer"].tolist() == ["adam", "adamw"]
    assert {"val_loss at end", "val_acc at end", "val_loss at best", "val_acc at best", "gap at best", "gap at end",
            "weight norm", "near zero"} <= set(rows.columns)
    assert not any("test" in c for c in rows.columns)  # validation numbers only
    expected = regularization_metrics(first, tiny, {})
    assert rows.loc[0, "gap at end"] == expected["gap at end"] == first.history[-1]["gap"]
    assert rows.loc[0, "val_loss at end"] == first.history[-1]["val_loss"]
    assert rows.loc[0, "val_acc at best"] == first.history[first.best_epoch - 1]["val_acc"]
    assert bytes(panel.plot.value).startswith(b"\x89PNG")


def test_seeds_setting_repeats_the_run_and_reports_the_spread(tiny):
    panel = regularization_panel(tiny, BASE)
    panel.run(dropout=0.5, epochs=2, seeds=2)
    assert [r.config.seed for r in panel.results] == [0, 1]
    row = panel.results_frame().iloc[-1]
    ends = [r.history[-1]["val_loss"] for r in panel.results]
    assert row["val_loss at end"] == pytest.approx(sum(ends) / 2)
    assert "val_loss at end ±" in row.index and row["best epoch"].count(",") == 1


def test_bad_value_names_the_field_and_keeps_the_table(tiny):
    panel = regularization_panel(tiny, BASE)
    panel.run(epochs=1)
    assert panel.run(l2=-0.1) is None
    assert "l2=-0.1 is out of range: allowed is 0 to 1" in panel.status.value
    assert panel.run(dropout=1.0, l2=0.0) is None and "dropout=1.0" in panel.status.value
    assert len(panel.results_frame()) == 1
