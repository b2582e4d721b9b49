"""Lesson 06's panel: its knobs (batch norm, schedule kind and parameters, clipping) reach the run, the preview redraws
as they change and shows only the chosen kind's parameters, and a bad value is named while earlier runs stay."""

import threading

import numpy as np

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.schedules import Schedule, lr_curve
from dlopt_kit.panels.efficient_training import efficient_config, efficient_panel, schedule_from_values

BASE = RunConfig(model="mlp", optimizer="sgd", lr=0.05, epochs=2, batch_size=32)


def test_knobs_reach_the_run_and_the_table_compares_runs(tiny):
    panel = efficient_panel(tiny, BASE)
    first = panel.run(batch_norm=True, schedule="cosine", cosine_warmup_epochs=0.5, grad_clip=1.0, epochs=3)
    assert first.config.batch_norm and first.config.schedule == Schedule("cosine", warmup_epochs=0.5)
    assert first.config.grad_clip == 1.0 and "clipped" in first.steps
    second = panel.run(batch_norm=False, schedule="step", step_gamma=0.5, step_step_size=1, grad_clip=0.0,
                       clip_by="value", epochs=2)
    assert second.config.grad_clip is None and second.config.schedule == Schedule("step", step_size=1, gamma=0.5)
    assert second.history[:, "lr"] == [0.05, 0.025]
    rows = panel.results_frame()
    assert rows["schedule"].tolist() == [repr(first.config.schedule), repr(second.config.schedule)]
    assert not any(c.startswith(("cosine_", "step_")) or "test" in c for c in rows.columns)  # settings shown once
    assert rows.loc[0, "clipped"] == first.steps["clipped"].mean() and np.isnan(rows.loc[1, "clipped"])
    assert bytes(panel.plot.value).startswith(b"\x89PNG")


def test_preview_follows_the_knobs_before_any_training(tiny):
    panel = efficient_panel(tiny, BASE)
    assert panel.params_box.children == () and "constant steps per epoch" in panel.preview_status.value
    first = bytes(panel.preview.value)
    panel.set_values(schedule="onecycle")
    assert [w.description for w in panel.params_box.children] == ["share of run rising", "lr / first lr",
                                                                  "first lr / last lr"]
    assert bytes(panel.preview.value) != first and "onecycle steps per batch" in panel.preview_status.value
    shown = bytes(panel.preview.value)
    panel.set_values(onecycle_pct_start=0.6)
    assert bytes(panel.preview.value) != shown and not panel.results
    panel.set_values(onecycle_pct_start=1.5)  # refused by name; the last good preview stays
    assert "schedule onecycle pct_start=1.5 is out of range: allowed is (0, 1)" in panel.preview_status.value
    assert panel.preview.value


def test_bad_value_names_the_field_and_keeps_the_table(tiny):
    panel = efficient_panel(tiny, BASE)
    panel.run(epochs=1)
    assert panel.run(schedule="exponential", exponential_gamma=1.5) is None
    assert "schedule exponential gamma=1.5 is out of range: allowed is (0, 1]" in panel.status.value
    assert panel.run(exponential_gamma=0.5, grad_clip=-1.0) is None and "grad_clip=-1.0" in panel.status.value
    assert panel.run(lr=-1.0, grad_clip=0.0) is None and "lr=-1.0 is out of range" in panel.status.value
    assert len(panel.results_frame()) == 1


def test_stop_keeps_the_history_and_the_row(tiny):
    panel = efficient_panel(tiny, BASE.replace(epochs=200))
    started = threading.Event()
    original = panel.fit_fn

    def slow_fit(*args, **kwargs):
        started.set()
        return original(*args, **kwargs)

    panel.fit_fn = slow_fit
    panel.run(wait=False)
    started.wait(10)
    panel.stop_button.click()
    panel.wait(60)
    assert panel.results[-1].stop_reason == "stopped by the user" and len(panel.results[-1].history) < 200
    assert panel.results_frame().loc[0, "ended"] == "stopped by the user"


def test_config_helpers_match_the_preview():
    values = {"schedule": "cyclic", "cyclic_mode": "triangular2", "cyclic_cycle_epochs": 1.0,
              "cyclic_base_factor": 0.5, "lr": 0.2, "grad_clip": 0.0, "batch_norm": True}
    config = efficient_config(BASE, values)
    assert config.schedule == schedule_from_values(values) and config.lr == 0.2 and config.grad_clip is None
    assert np.allclose(lr_curve(config.schedule, 0.2, 2, 4), [0.1, 0.15, 0.2, 0.15, 0.1, 0.125, 0.15, 0.125])
