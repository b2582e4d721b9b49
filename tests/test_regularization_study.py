"""Lesson 05's experiment and pictures: the last epoch's and the kept weights' test scores, choices made on
validation only, early stopping's rule replayed from a run's validation losses, and the figures."""

import os

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.processes import JOBS_ENV
from dlopt_kit.core.training import evaluate, fit
from dlopt_kit.regularization import (
    ADAMW_ARMS,
    MLP_ARMS,
    arm_table,
    choose,
    converged,
    epochs_for,
    epochs_run,
    families,
    grid,
    heatmap_frame,
    label,
    lr_of,
    lr_position,
    outcome_table,
    plot_class_weights,
    plot_early_stopping,
    plot_heatmaps,
    run_study,
    stop_epoch,
    tune,
    validation_scores,
)
from dlopt_kit.regularization import study as study_module

BASE = RunConfig(model="mlp", hidden=32, batch_size=32, epochs=4, lr=3e-3)


@pytest.fixture(scope="module")
def study(tiny):
    models = {}
    configs = {"none | lr 0.003": BASE, "L2 0.01 | lr 0.003": BASE.replace(l2=0.01)}
    before = os.environ.get(JOBS_ENV)
    os.environ[JOBS_ENV] = "1"  # in this process: the same numbers as in workers (test_processes checks it), faster
    try:
        return run_study(configs, tiny, seeds=(0, 1), models=models), models
    finally:
        os.environ.pop(JOBS_ENV) if before is None else os.environ.__setitem__(JOBS_ENV, before)


def test_epochs_grow_with_the_budget():
    assert epochs_for("small") < epochs_for("medium") <= epochs_for("full")
    with pytest.raises(ValueError, match="not allowed"):
        epochs_for("huge")


def test_grid_names_every_setting_at_every_lr():
    configs = grid(BASE, {**MLP_ARMS, **ADAMW_ARMS}, (1e-3, 3e-3))
    assert label("L2 0.01", 1e-3) == "L2 0.01 | lr 0.001"
    assert configs["L2 0.01 | lr 0.001"] == BASE.replace(lr=1e-3, l2=0.01)
    assert configs["AdamW 1 | lr 0.003"].optimizer == "adamw" and configs["AdamW 1 | lr 0.003"].weight_decay == 1.0
    assert len(configs) == 2 * sum(len(s) for s in (*MLP_ARMS.values(), *ADAMW_ARMS.values()))
    assert "AdamW" not in MLP_ARMS  # the experiment's arms; AdamW is tuned on its own grid (ADAMW_ARMS)
    assert families(MLP_ARMS, (1e-3,))["L2"] == [f"L2 {s} | lr 0.001" for s in ("0.001", "0.003", "0.01", "0.03")]
    assert set(sum(families({**MLP_ARMS, **ADAMW_ARMS}, (1e-3, 3e-3)).values(), [])) == set(configs)


def test_run_study_scores_the_last_and_the_kept_weights(study, tiny):
    table, models = study
    assert {"last_test_loss", "last_test_acc", "test_loss", "test_acc", "best_epoch"} <= set(table.columns)
    assert set(models) == {(c, s) for c in ("none | lr 0.003", "L2 0.01 | lr 0.003") for s in (0, 1)}
    # the same run, trained here: its last weights' and its kept weights' test scores
    again = fit(BASE.replace(seed=1), tiny, progress=False, restore_best=False)
    rows = table[(table["config"] == "none | lr 0.003") & (table["seed"] == 1)]
    last_loss, last_acc = evaluate(again.model, tiny.x_test, tiny.y_test)
    assert rows["last_test_loss"].iloc[0] == pytest.approx(last_loss) and rows["last_test_acc"].iloc[0] == last_acc
    for kept, mine in zip(models[("none | lr 0.003", 1)].state_dict().values(), again.model.state_dict().values(),
                          strict=True):
        assert torch.equal(kept, mine)  # ``models`` holds the last epoch's weights
    again.restore_best()
    assert rows["test_loss"].iloc[0] == pytest.approx(evaluate(again.model, tiny.x_test, tiny.y_test)[0])
    assert rows["best_epoch"].iloc[0] == again.best_epoch


def test_choose_reads_validation_at_the_last_epoch(study):
    table, _ = study
    candidates = ["none | lr 0.003", "L2 0.01 | lr 0.003"]
    scores = validation_scores(table, candidates)
    last = table[table["epoch"] == table["epoch"].max()].groupby("config")["val_loss"].mean()
    assert scores.to_dict() == pytest.approx(last.to_dict())
    # 4 epochs: the tiny runs are still improving, so every config counts here (converged_only=False)
    assert choose(table, candidates, converged_only=False) == scores.idxmin()
    assert (choose(table, candidates, "val_acc", converged_only=False)
            == validation_scores(table, candidates, "val_acc").idxmax())
    with pytest.raises(ValueError, match="never on test"):
        choose(table, candidates, "test_loss")
    with pytest.raises(ValueError, match="not in the table"):
        validation_scores(table, ["dropout | lr 0.003"])


def test_arm_table_renames_the_chosen_configs(study):
    table, _ = study
    arms = arm_table(table, {"none": "none | lr 0.003", "L2": "L2 0.01 | lr 0.003"})
    assert list(pd.unique(arms["config"])) == ["none", "L2"]
    assert len(arms) == len(table)
    with pytest.raises(ValueError, match="not in the table"):
        arm_table(table, {"x": "nothing"})
    outcomes = outcome_table(arms)
    assert list(pd.unique(outcomes["config"])) == ["none", "none, early-stopped", "L2"]
    early = outcomes[outcomes["config"] == "none, early-stopped"].set_index("seed")["test_loss"]
    kept = arms[arms["config"] == "none"].groupby("seed")["test_loss"].first()
    assert early.to_dict() == pytest.approx(kept.to_dict())


def test_stop_epoch_is_early_stoppings_rule(tiny):
    assert stop_epoch([1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.76], 2) == (2, 4)
    assert stop_epoch([1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.76], 3) == (5, 7)
    assert stop_epoch([1.0, 0.9, 0.8], 5) == (3, 3)  # never stops: the last epoch
    with pytest.raises(ValueError):
        stop_epoch([], 2)
    with pytest.raises(ValueError):
        stop_epoch([1.0], 0)
    config = BASE.replace(epochs=12, lr=1e-2)
    full = fit(config, tiny, progress=False).history.to_frame()
    stopped = fit(config.replace(patience=2), tiny, progress=False)
    kept, stop = stop_epoch(full["val_loss"], 2)
    assert (kept, stop) == (stopped.best_epoch, len(stopped.history))


def test_pictures(study, tiny):
    table, models = study
    frame = heatmap_frame(table, {"none": 0.0, "L2 0.01": 0.01}, (3e-3,))
    assert frame.shape == (1, 2) and frame.index.name == "lr"
    assert isinstance(plot_heatmaps({"a": frame, "b": frame}, chosen={"a": (3e-3, 0.01)}), Figure)
    fig = plot_heatmaps({"a": frame}, excluded={"a": [(3e-3, 0.0)]})
    assert any(p.get_hatch() == "//" for p in fig.axes[0].patches)
    run = table[(table["config"] == "none | lr 0.003") & (table["seed"] == 0)]
    assert isinstance(plot_early_stopping(run, 2), Figure)
    linear = fit(RunConfig(model="linear", epochs=1), tiny, progress=False).model
    fig = plot_class_weights({"linear": linear, "again": linear}, (28, 28), classes=[0, 3], class_names=tiny.classes)
    assert len(fig.axes) == 4


def curve(config: str, best: int, floor: float, epochs: int = 10, seeds=(0, 1)) -> pd.DataFrame:
    """A fake run table: validation loss falling to ``floor`` at epoch ``best``, then rising by 0.01 an epoch."""
    rows = [{"config": config, "seed": s, "epoch": e, "val_loss": floor + 0.05 * abs(e - best) * (e < best)
             + 0.01 * max(0, e - best), "val_acc": 0.5} for s in seeds for e in range(1, epochs + 1)]
    return pd.DataFrame(rows)


def test_converged_needs_the_kept_epoch_before_the_last_fifth():
    table = pd.concat([curve("early", 5, 0.5), curve("late", 10, 0.3), curve("edge", 8, 0.4)])
    ok = converged(table, ["late", "early", "edge"])
    assert list(ok.index) == ["late", "early", "edge"]
    assert ok.to_dict() == {"late": False, "early": True, "edge": True}  # 10 epochs: the last fifth is 9-10
    mixed = pd.concat([curve("mixed", 10, 0.3, seeds=(0,)), curve("mixed", 4, 0.3, seeds=(1, 2))])
    assert converged(mixed, ["mixed"])["mixed"]  # late in one seed of three: not most seeds
    with pytest.raises(ValueError, match="not in the table"):
        converged(table, ["missing"])


def test_choose_at_the_kept_epoch_reads_each_config_at_its_best():
    # "early" bottoms out at 0.5 (epoch 5) and ends at 0.55; "late" bottoms out at 0.52 (epoch 3) and ends at 0.59
    table = pd.concat([curve("early", 5, 0.5), curve("late", 3, 0.52)])
    assert validation_scores(table, ["early", "late"], at="best").to_dict() == pytest.approx({"early": 0.5,
                                                                                             "late": 0.52})
    assert choose(table, ["early", "late"], at="best") == "early"
    table = pd.concat([curve("a", 2, 0.40), curve("b", 8, 0.45)])  # a: lowest at its best, b: lowest at the end
    assert choose(table, ["a", "b"], at="best") == "a" and choose(table, ["a", "b"]) == "b"
    with pytest.raises(ValueError, match="'last'"):
        validation_scores(table, ["a"], at="middle")


def test_choose_skips_configs_that_had_not_converged():
    table = pd.concat([curve("early", 5, 0.5), curve("late", 10, 0.3)])
    assert choose(table, ["early", "late"]) == "early"
    assert choose(table, ["early", "late"], converged_only=False) == "late"
    with pytest.raises(ValueError, match="converged"):
        choose(table, ["late"])


def test_choose_in_a_dry_run_takes_every_config_when_none_converged(monkeypatch):
    monkeypatch.setenv("DLOPT_DRY_RUN", "1")  # capped epochs converge nothing: the run only proves the code runs
    table = pd.concat([curve("early", 5, 0.5), curve("late", 10, 0.3)])
    assert choose(table, ["late"]) == "late"
    assert choose(table, ["early", "late"]) == "early"  # a converged config still wins the choice


def test_lr_of_and_lr_position():
    assert lr_of(label("L2 0.01", 3e-4)) == 3e-4
    with pytest.raises(ValueError, match="label"):
        lr_of("L2 0.01")
    lrs = (1e-3, 3e-4, 3e-3)
    assert lr_position(label("none", 3e-4), lrs) == "lowest"
    assert lr_position(label("none", 1e-3), lrs) == "interior"
    assert lr_position(label("none", 3e-3), lrs) == "highest"
    with pytest.raises(ValueError, match="not among"):
        lr_position(label("none", 1e-2), lrs)


def test_tune_extends_an_arms_grid_while_its_choice_is_at_an_edge(monkeypatch):
    # a fake study: the validation loss is lowest at lr 1e-4 for "none" (which converges there) and at 1e-3 for "L2";
    # at lr 3e-5 nothing converges
    def fake(configs, data, seeds, models=None, kept_models=None):
        parts = []
        for name, config in configs.items():
            target = 1e-4 if name.startswith("none") else 1e-3
            distance = abs(torch.log10(torch.tensor(config.lr / target)).item())
            parts.append(curve(name, 10 if config.lr < 5e-5 else 5, 0.5 + distance))
        return pd.concat(parts, ignore_index=True)

    monkeypatch.setattr(study_module, "run_study", fake)
    arms = {"none": {"none": {}}, "L2": {"L2 0.01": {"l2": 0.01}}}
    table, chosen, tried = tune(BASE, arms, None, (0, 1), lrs=(3e-4, 1e-3, 3e-3), ladder=(3e-5, 1e-4, 3e-4, 1e-3, 3e-3))
    assert chosen == {"none": "none | lr 0.0001", "L2": "L2 0.01 | lr 0.001"}
    assert tried == {"none": [3e-5, 1e-4, 3e-4, 1e-3, 3e-3], "L2": [3e-4, 1e-3, 3e-3]}
    assert {lr_position(chosen[a], tried[a]) for a in arms} == {"interior"}
    assert set(table["config"]) == {label(s, lr) for a in arms for s in arms[a] for lr in tried[a]}


def test_run_study_trains_the_costliest_runs_first_and_keeps_the_configs_order(tiny, monkeypatch):
    sent = []

    def recording(fn, tasks):
        sent.extend(config for config, _ in tasks)
        return [fn(*task) for task in tasks]

    monkeypatch.setattr(study_module, "run_tasks", recording)
    configs = {"none": BASE.replace(epochs=2), "dropout": BASE.replace(epochs=2, dropout=0.5, input_dropout=0.2)}
    table = run_study(configs, tiny, seeds=(0, 1))
    assert [(c.dropout, c.seed) for c in sent] == [(0.5, 0), (0.5, 1), (0.0, 0), (0.0, 1)]
    assert list(dict.fromkeys(table["config"])) == ["none", "dropout"]  # rows in the configs' order
    alone = fit(configs["dropout"].replace(seed=1), tiny, progress=False)
    rows = table[(table["config"] == "dropout") & (table["seed"] == 1)]
    assert rows["val_loss"].tolist() == alone.history[:, "val_loss"]  # the same numbers, bit for bit


def test_tune_reuses_done_runs_and_doubles_the_epochs_of_a_preferred_config_still_improving(monkeypatch):
    # "none" at lr 1e-4 is the lowest validation loss but still improving at 10 epochs; given 20 it turns at epoch 12
    # and is lower still. "L2" at 1e-3 converges in 10. A done table already holds "none" at lr 1e-3.
    calls = []

    def fake(configs, data, seeds, models=None, kept_models=None):
        calls.append({name: config.epochs for name, config in configs.items()})
        parts = []
        for name, config in configs.items():
            if name == "none | lr 0.0001":
                parts.append(curve(name, 12 if config.epochs >= 20 else config.epochs, 0.3, epochs=config.epochs))
            else:
                parts.append(curve(name, 5, 0.6 if config.lr != 1e-3 else 0.5, epochs=config.epochs))
        return pd.concat(parts, ignore_index=True)

    monkeypatch.setattr(study_module, "run_study", fake)
    base = BASE.replace(epochs=10)
    done = curve("none | lr 0.001", 5, 0.5)
    arms = {"none": {"none": {}}, "L2": {"L2 0.01": {"l2": 0.01}}}
    table, chosen, tried = tune(base, arms, None, (0, 1), lrs=(1e-4, 1e-3), ladder=(3e-5, 1e-4, 1e-3, 3e-3),
                                done=done)
    assert "none | lr 0.001" not in calls[0]  # taken from ``done``, not trained again
    assert {"none | lr 0.0001": 20} in calls  # the preferred, unconverged config trained again with twice the epochs
    assert epochs_run(table, "none | lr 0.0001") == 20 and epochs_run(table, "L2 0.01 | lr 0.001") == 10
    assert len(table[table["config"] == "none | lr 0.0001"]) == 2 * 20  # the longer runs replaced the shorter
    assert chosen["none"] == "none | lr 0.0001" and chosen["L2"] == "L2 0.01 | lr 0.001"
    assert tried["none"] == [3e-5, 1e-4, 1e-3]  # lowest lr chosen: the ladder's next lr below was tried too
    with pytest.raises(ValueError, match="not in the table"):
        epochs_run(table, "dropout | lr 0.001")


def test_tune_stops_doubling_at_its_longest(monkeypatch):
    def fake(configs, data, seeds, models=None, kept_models=None):  # always improving at its last epoch
        return pd.concat([curve(name, config.epochs, 0.3, epochs=config.epochs) for name, config in configs.items()],
                         ignore_index=True)

    monkeypatch.setattr(study_module, "run_study", fake)
    arms = {"none": {"none": {}}, "L2": {"L2 0.01": {"l2": 0.01}}}
    with pytest.raises(ValueError, match="converged"):  # no converged candidate once the epochs reach ``longest``
        tune(BASE.replace(epochs=10), arms, None, (0, 1), lrs=(1e-3,), ladder=(1e-3,), longest=40)
    with pytest.raises(ValueError, match="longest"):
        tune(BASE.replace(epochs=10), arms, None, (0, 1), lrs=(1e-3,), longest=5)


def test_run_study_keeps_the_best_epochs_model_apart_from_the_last(tiny):
    models, kept = {}, {}
    config = BASE.replace(epochs=6, lr=3e-2)  # a high lr: the best epoch is not the last in every run
    table = run_study({"none": config}, tiny, seeds=(0, 1), models=models, kept_models=kept)
    assert set(kept) == set(models) == {("none", 0), ("none", 1)}
    for seed in (0, 1):
        rows = table[(table["config"] == "none") & (table["seed"] == seed)]
        assert evaluate(kept[("none", seed)], tiny.x_test, tiny.y_test)[0] == pytest.approx(rows["test_loss"].iloc[0])
        assert (evaluate(models[("none", seed)], tiny.x_test, tiny.y_test)[0]
                == pytest.approx(rows["last_test_loss"].iloc[0]))
        assert kept[("none", seed)] is not models[("none", seed)]
