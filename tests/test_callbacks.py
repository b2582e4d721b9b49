"""The callbacks that make up ``fit`` (clipping, schedule, step trace, best weights, divergence guard, train eval), the
hook order they rely on, and the stop-reason vocabulary."""

import json
import math
import sqlite3

import pytest
import torch
from torch import nn

from dlopt_kit.core.callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    StopOnEvent,
    StopReason,
    TrainState,
    higher_is_better,
)
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.fit_callbacks import (
    GRAD_NORM_EVERY,
    BestWeights,
    DivergenceGuard,
    GradClip,
    LRSchedule,
    StepTrace,
    default_callbacks,
)
from dlopt_kit.core.models import build_model
from dlopt_kit.core.schedules import Schedule
from dlopt_kit.core.training import TrainEval, fit

SGD = RunConfig(model="mlp", optimizer="sgd", lr=0.1, epochs=2, batch_size=32)


def _state(config: RunConfig = SGD, steps_per_epoch: int = 3, scale: float = 10.0) -> TrainState:
    """A small linear model whose gradients are set (``scale`` sized), with its SGD optimizer."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 3))
    for p in model.parameters():
        p.grad = torch.randn_like(p) * scale
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    return TrainState(config, model, optimizer, steps_per_epoch=steps_per_epoch)


def _norm(model: nn.Module) -> float:
    return float(nn.utils.get_total_norm([p.grad for p in model.parameters()]))


# ------------------------------------------------------------------ GradClip
def test_grad_clip_caps_the_norm_and_reports_it_before_clipping():
    state = _state(SGD.replace(grad_clip=1.0))
    before = _norm(state.model)
    clip = GradClip(state.config)
    clip.on_fit_start(state=state)
    clip.on_after_backward(state=state)
    assert before > 1.0 and _norm(state.model) == pytest.approx(1.0, rel=1e-4)
    assert float(state.grad_norm) == pytest.approx(before) and bool(state.clipped)


def test_grad_clip_by_value_clamps_every_element():
    state = _state(SGD.replace(grad_clip=0.5, clip_by="value"))
    clip = GradClip(state.config)
    clip.on_fit_start(state=state)
    clip.on_after_backward(state=state)
    assert max(float(p.grad.abs().max()) for p in state.model.parameters()) <= 0.5 and bool(state.clipped)


def test_fit_with_clipping_marks_every_step(tiny):
    result = fit(SGD.replace(grad_clip=1e-3), tiny, progress=False)
    assert result.steps["clipped"].all() and (result.steps["grad_norm"] > 1e-3).all()
    assert [h["clipped"] for h in result.history] == [1.0, 1.0]


# ------------------------------------------------------------------ LRSchedule
def _run_schedule(callback: LRSchedule, batches: int = 3, epochs: int = 2) -> list[float]:
    """The optimizer's lr after each simulated batch and epoch."""
    state = _state(SGD.replace(epochs=epochs), steps_per_epoch=batches)
    hooks = CallbackList([callback])
    hooks("on_fit_start", state=state)
    lrs = []
    for _ in range(epochs):
        for _ in range(batches):
            state.optimizer.step()
            hooks("on_batch_end", state=state, loss=1.0)
            lrs.append(state.optimizer.param_groups[0]["lr"])
        hooks("on_epoch_end", state=state, record={})
        lrs.append(state.optimizer.param_groups[0]["lr"])
    return lrs


def test_schedule_steps_per_epoch_or_per_batch():
    halve = Schedule("step", step_size=1, gamma=0.5)
    per_epoch = _run_schedule(LRSchedule(halve))  # step's kind steps per epoch
    assert per_epoch == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025])
    per_batch = _run_schedule(LRSchedule(halve, step_every="batch"))
    assert per_batch == pytest.approx([0.05, 0.025, 0.0125, 0.0125, 0.00625, 0.003125, 0.0015625, 0.0015625])
    assert LRSchedule(Schedule("cosine")).step_every == "batch" and not LRSchedule(halve).wants_batches()
    with pytest.raises(ValueError, match="step_every='step'"):
        LRSchedule(halve, step_every="step")


def test_fit_records_each_steps_lr_as_the_schedule_sets_it(tiny):
    result = fit(SGD.replace(schedule=Schedule("step", step_size=1, gamma=0.5)), tiny, progress=False)
    per_epoch = result.steps.groupby("epoch")["lr"].unique().tolist()
    assert [list(v) for v in per_epoch] == [[0.1], [0.05]]
    assert [h["lr"] for h in result.history] == [0.1, 0.05]


# ------------------------------------------------------------------ StepTrace
def test_step_trace_measures_the_norm_every_nth_step_unless_asked_for_every_step():
    for every_step, measured in ((False, [0, GRAD_NORM_EVERY]), (True, list(range(12)))):
        state = _state(steps_per_epoch=12)
        trace = StepTrace(every_step=every_step)
        trace.on_fit_start(state=state)
        trace.on_epoch_start(state=state)
        seen = []
        for step in range(12):
            state.epoch_step = step
            trace.on_after_backward(state=state)
            if state.grad_norm is not None:
                seen.append(step)
            trace.on_batch_end(state=state, loss=float(step))
            assert state.grad_norm is None  # cleared: the next step measures afresh
        assert seen == measured
        assert trace.losses == [float(s) for s in range(12)] and trace.lrs == [0.1] * 12
        assert trace.epoch_record() == {"lr": 0.1, "grad_norm": pytest.approx(_norm(state.model))}
        assert ("grad_norm" in trace.frame()) == every_step and trace.clipped_record() == {}


def test_step_trace_reads_the_lr_before_a_schedule_moves_it():
    state = _state()
    hooks = CallbackList([StepTrace(), LRSchedule(Schedule("step", step_size=1, gamma=0.5), step_every="batch")])
    hooks("on_fit_start", state=state)
    hooks("on_epoch_start", state=state)
    for _ in range(3):
        hooks("on_after_backward", state=state)
        state.optimizer.step()
        hooks("on_batch_end", state=state, loss=1.0)
    assert hooks.callbacks[0].lrs == pytest.approx([0.1, 0.05, 0.025])


# ------------------------------------------------------------------ DivergenceGuard
def test_divergence_guard_stops_with_the_message():
    state = _state()
    state.epoch, state.epoch_step = 2, 4
    guard = DivergenceGuard()
    guard.on_fit_start()
    guard.on_loss(state=state, loss=2.0)
    guard.on_loss(state=state, loss=199.0)  # under 100x the first loss
    assert not state.stop_training
    guard.on_loss(state=state, loss=201.0)
    assert state.stop_training and StopReason.of(state.stop_reason) is StopReason.DIVERGED
    assert state.stop_reason.startswith("diverged: the training loss exploded to 201") and "epoch 2, step 5" in (
        state.stop_reason)
    assert DivergenceGuard().diverged(math.nan)
    after_one = DivergenceGuard()
    assert not after_one.diverged(2.3) and after_one.diverged(math.inf)


def test_a_stop_on_the_loss_skips_the_step(tiny):
    class StopBeforeSecondStep(Callback):
        def on_loss(self, state, **kwargs):
            if state.step == 1:
                state.stop_training, state.stop_reason = True, "test"

    result = fit(SGD, tiny, callbacks=[StopBeforeSecondStep()], progress=False)
    assert len(result.steps) == 1 and len(result.history) == 1 and result.stop_reason == "test"


def test_after_backward_sees_the_gradients_before_the_step(tiny):
    class DropGradients(Callback):
        def on_after_backward(self, state, **kwargs):
            for p in state.model.parameters():
                p.grad = None  # the optimizer then skips every parameter

    model = build_model(SGD, tiny.input_shape, tiny.num_classes)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit(SGD, tiny, callbacks=[DropGradients()], progress=False, model=model, restore_best=False)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


# ------------------------------------------------------------------ BestWeights
def test_best_weights_keeps_the_best_epochs_weights():
    state = _state()
    best = BestWeights("val_loss")
    best.on_fit_start()
    layer = state.model[0]
    for epoch, loss in enumerate((1.0, 0.5, 0.8, math.nan), start=1):
        with torch.no_grad():
            layer.weight.fill_(epoch)
        best.on_epoch_end(state=state, record={"epoch": epoch, "val_loss": loss})
    assert best.best_epoch == 2 and torch.equal(best.best_state["0.weight"], torch.full_like(layer.weight, 2.0))
    by_acc = BestWeights("val_acc")
    for epoch, acc in enumerate((0.3, 0.6, 0.5), start=1):
        by_acc.on_epoch_end(state=state, record={"epoch": epoch, "val_acc": acc})
    assert by_acc.best_epoch == 2


def test_fit_restores_the_best_weights_only_when_asked(tiny):
    kept = fit(SGD.replace(epochs=3), tiny, progress=False, restore_best=False)
    last = {k: v.clone() for k, v in kept.model.state_dict().items()}
    kept.restore_best()
    assert all(torch.equal(v, kept.best_state[k]) for k, v in kept.model.state_dict().items())
    if kept.best_epoch != 3:
        assert not all(torch.equal(v, kept.best_state[k]) for k, v in last.items())


# ------------------------------------------------------------------ TrainEval, defaults, CallbackList
def test_train_eval_adds_the_gap_to_the_record(tiny):
    state = _state()
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    record = {"val_acc": 0.25}
    TrainEval(x, y).on_epoch_end(state=state, record=record)
    assert list(record) == ["val_acc", "train_eval_loss", "train_eval_acc", "gap"]
    assert record["gap"] == pytest.approx(record["train_eval_acc"] - 0.25)
    result = fit(SGD, tiny, progress=False, measure_train=True)
    assert list(result.history[0])[-3:] == ["train_eval_loss", "train_eval_acc", "gap"]


def test_default_callbacks_follow_the_config():
    kinds = [type(cb) for cb in default_callbacks(SGD)]
    assert kinds == [StepTrace, LRSchedule, DivergenceGuard, BestWeights]
    full = default_callbacks(SGD.replace(grad_clip=1.0, patience=2), record_grad_norms=False)
    assert [type(cb) for cb in full] == [GradClip, StepTrace, LRSchedule, DivergenceGuard, BestWeights,
                                         EarlyStopping]
    assert full[1].every_step  # clipping measures every step
    assert default_callbacks(SGD, record_grad_norms=True)[0].every_step


def test_callback_list_calls_only_the_hooks_a_callback_overrides():
    calls = []

    class Loud(Callback):
        def on_loss(self, **kwargs):
            calls.append("loss")

    hooks = CallbackList([Loud(), Callback()])
    hooks("on_loss", loss=1.0)
    hooks("on_batch_end", loss=1.0)
    assert calls == ["loss"] and hooks._targets["on_batch_end"] == [] and len(hooks._targets["on_loss"]) == 1


# ------------------------------------------------------------------ StopReason and higher_is_better
def test_stop_reasons_are_the_stored_strings():
    assert StopReason.COMPLETED == "completed" and StopReason.STOPPED == "stopped by the user"
    assert StopReason.INTERRUPTED == "interrupted" and f"{StopReason.STOPPED}" == "stopped by the user"
    assert StopReason.of("early stopping: val_loss did not improve for 3 epochs") is StopReason.EARLY_STOPPING
    assert StopReason.of("completed") is StopReason.COMPLETED and StopReason.of("completed (cached)") is None
    assert StopReason.DIVERGED.detail("x") == "diverged: x"
    assert json.dumps(StopReason.STOPPED) == '"stopped by the user"'
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE runs (stop_reason TEXT)")
    db.execute("INSERT INTO runs VALUES (?)", (StopReason.STOPPED,))
    assert db.execute("SELECT stop_reason FROM runs").fetchone() == ("stopped by the user",)


def test_fit_returns_plain_string_reasons(tiny):
    import threading

    event = threading.Event()
    event.set()
    result = fit(SGD, tiny, callbacks=[StopOnEvent(event)], progress=False)
    assert result.stop_reason == "stopped by the user" and type(result.stop_reason) is str
    assert type(fit(SGD, tiny, progress=False).stop_reason) is str


def test_higher_is_better():
    assert higher_is_better("val_acc") and higher_is_better("train_acc")
    assert not higher_is_better("val_loss") and not higher_is_better("train_loss")


def test_stop_reason_head_drops_the_detail_and_keeps_other_text():
    assert StopReason.head("early stopping: val_loss did not improve for 3 epochs") == "early stopping"
    assert StopReason.head("stopped by the user") == "stopped by the user"
    assert StopReason.head("completed (cached)") == "completed (cached)"
