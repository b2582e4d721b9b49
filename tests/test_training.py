import math
import threading

import pytest
import torch

from dlopt_kit.core.callbacks import Callback, EarlyStopping, LambdaCallback, ProgressBar, StopOnEvent, TrainState
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.history import COLUMNS, History
from dlopt_kit.core.training import evaluate, fit, predict_proba

FAST = RunConfig(model="mlp", epochs=3, batch_size=32, lr=3e-3)


def test_fit_learns_and_records_every_column(small):
    result = fit(FAST.replace(epochs=4), small, progress=False)
    assert result.completed and len(result.history) == 4
    assert list(result.history[0]) == list(COLUMNS)
    losses = result.history[:, "train_loss"]
    assert losses[-1] < losses[0] * 0.7
    assert result.history[-1]["val_acc"] > 0.6  # 10 classes: chance is 0.1
    assert all(h["grad_norm"] > 0 and h["seconds"] > 0 and h["lr"] == 3e-3 for h in result.history)


def test_best_weights_are_those_of_the_best_epoch(small):
    result = fit(FAST.replace(epochs=4), small, progress=False)
    best = min(result.history, key=lambda h: h["val_loss"])
    assert result.best_epoch == best["epoch"]
    val_loss, val_acc = evaluate(result.model, small.x_val, small.y_val)  # restored at the end
    assert val_loss == pytest.approx(best["val_loss"], rel=1e-5) and val_acc == best["val_acc"]


def test_same_seed_same_numbers_on_cpu(tiny):
    config = RunConfig(model="cnn", epochs=2, batch_size=16, dropout=0.3, seed=7)
    a, b = fit(config, tiny, progress=False), fit(config, tiny, progress=False)
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]
    assert a.history[:, "val_acc"] == b.history[:, "val_acc"]
    pairs = zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    assert all(torch.equal(p, q) for p, q in pairs)
    c = fit(config.replace(seed=8), tiny, progress=False)
    assert c.history[:, "train_loss"] != a.history[:, "train_loss"]


def test_divergence_stops_with_an_explanation(tiny):
    config = RunConfig(model="mlp", optimizer="sgd", lr=10.0, batch_size=8, hidden=512, epochs=3)
    with pytest.warns(RuntimeWarning, match="diverged"):
        result = fit(config, tiny, progress=False)
    # SGD at lr=10 explodes before it reaches NaN: caught as soon as the loss passes 100x its first value
    assert result.stop_reason.startswith("diverged: the training loss exploded to")
    assert "over 100x its first value" in result.stop_reason
    assert "lr=10" in result.stop_reason and "grad_clip" in result.stop_reason
    assert len(result.history) == 1  # the partial epoch is kept


def test_divergence_after_good_epochs_keeps_the_best_weights(small):
    def blow_up(state, history):
        if state.epoch == 2:
            for group in state.optimizer.param_groups:
                group["lr"] = 1e4

    config = FAST.replace(optimizer="sgd", lr=0.05, epochs=6, batch_size=8, hidden=512)
    with pytest.warns(RuntimeWarning):
        result = fit(config, small, callbacks=[LambdaCallback(on_epoch=blow_up)], progress=False)
    assert result.stop_reason.startswith("diverged")
    assert result.best_epoch in (1, 2) and result.best_state is not None
    val_loss, _ = evaluate(result.model, small.x_val, small.y_val)
    assert math.isfinite(val_loss)
    assert val_loss == pytest.approx(result.history[result.best_epoch - 1]["val_loss"], rel=1e-5)


class Interrupt(Callback):
    def __init__(self, at_epoch):
        self.at_epoch = at_epoch

    def on_batch_end(self, state, **kwargs):
        if state.epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_history_and_best_weights(tiny):
    result = fit(FAST, tiny, callbacks=[Interrupt(at_epoch=2)], progress=False)
    assert result.stop_reason == "interrupted"
    assert len(result.history) == 1 and result.best_epoch == 1 and result.best_state is not None


def test_stop_event_ends_the_run_cleanly(tiny):
    event = threading.Event()
    stopper = LambdaCallback(on_step=lambda state: event.set() if state.epoch == 2 else None, every=1)
    result = fit(FAST.replace(epochs=5), tiny, callbacks=[stopper, StopOnEvent(event)], progress=False)
    assert result.stop_reason == "stopped by the user"
    assert len(result.history) == 2  # the epoch in progress is evaluated and recorded


def test_early_stopping_rule():
    stopper = EarlyStopping(patience=2, monitor="val_loss")
    state = TrainState(config=None, model=None, optimizer=None, steps_per_epoch=1)
    stopper.on_fit_start()
    for loss in (1.0, 0.8, 0.9, 0.85):
        stopper.on_epoch_end(state=state, record={"val_loss": loss})
    assert state.stop_training and "did not improve for 2 epochs" in state.stop_reason
    with pytest.raises(ValueError, match="patience=0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="monitor='accuracy'"):
        EarlyStopping(monitor="accuracy")


def test_early_stopping_in_fit(tiny):
    result = fit(FAST.replace(epochs=40, lr=0.01), tiny, callbacks=[EarlyStopping(patience=2)], progress=False)
    assert result.stop_reason.startswith("early stopping") and len(result.history) < 40
    assert result.best_epoch == len(result.history) - 2


def test_gradient_clipping_records_the_norm_before_clipping(tiny):
    result = fit(FAST.replace(grad_clip=0.01), tiny, progress=False)
    assert min(result.history[:, "grad_norm"]) > 0.01
    assert result.completed


def test_progress_bar_counts_epochs(tiny):
    bar = ProgressBar()
    fit(FAST, tiny, callbacks=[bar], progress=False)
    assert bar.bar.n == FAST.epochs


def test_history_slicing_and_frame():
    history = History([{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}])
    assert history[:, "val_loss"] == [2.0, 1.0]
    assert history[-1, "epoch"] == 2 and history[0]["val_loss"] == 2.0
    assert history.to_frame().shape == (2, 2)
    assert list(History().to_frame().columns) == list(COLUMNS)


def test_evaluate_and_predict_proba(tiny):
    result = fit(FAST, tiny, progress=False)
    probs = predict_proba(result.model, tiny.x_test)
    assert probs.shape == (len(tiny.y_test), 10)
    assert torch.allclose(probs.sum(1), torch.ones(len(probs)), atol=1e-5)
    _, acc = evaluate(result.model, tiny.x_test, tiny.y_test, batch_size=7)
    assert acc == pytest.approx((probs.argmax(1) == tiny.y_test).float().mean().item())
    with pytest.raises(ValueError, match="empty split"):
        evaluate(result.model, tiny.x_test[:0], tiny.y_test[:0])
