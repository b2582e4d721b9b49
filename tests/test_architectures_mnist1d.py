"""Lesson 03's MNIST-1D: the dataset generated offline and checked, the authors' models, the study's table, the
position shuffle, the figures; and the section-2/3 helpers the notebook added (zero-shot, few-label steps, the
accuracy-against-members curve)."""

import random

import numpy as np
import pytest
import torch

import dlopt_kit.core.data as data
from dlopt_kit.architectures.ensembles import ensemble_study
from dlopt_kit.architectures.mnist1d import (
    ARMS,
    PUBLISHED,
    SignalCNN,
    SignalGRU,
    build_signal_model,
    fit_arm,
    mnist1d_configs,
    mnist1d_ensembles,
    mnist1d_study,
    plot_accuracy,
    plot_signals,
    shuffle_positions,
)
from dlopt_kit.architectures.plots import plot_ensemble_curve
from dlopt_kit.architectures.study import few_label_steps, zero_shot
from dlopt_kit.core.budget import BUDGETS, Budget
from dlopt_kit.core.claims import per_seed
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits, load_splits
from dlopt_kit.core.kept_epochs import from_table
from dlopt_kit.core.models import count_parameters
from dlopt_kit.core.training import fit


@pytest.fixture(scope="module")
def signals() -> Splits:
    return load_splits("mnist1d", train_per_class=20, eval_per_class=10)


def test_mnist1d_is_generated_offline_as_the_catalog_records_and_leaves_the_global_seeds_alone(monkeypatch):
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("MNIST-1D must be generated, never downloaded")

    monkeypatch.setattr(requests, "get", no_network)
    np.random.seed(7)
    random.seed(7)
    expected_numpy, expected_python = np.random.rand(), random.random()
    np.random.seed(7)
    random.seed(7)
    arrays = data._mnist1d_arrays()
    assert (np.random.rand(), random.random()) == (expected_numpy, expected_python)
    assert {k: list(v.shape) for k, v in arrays.items()} == data.load_catalog()["mnist1d"]["shapes"]
    assert arrays["x_train"].dtype == np.float32 and set(np.unique(arrays["y_train"])) == set(range(10))
    assert data.cache_status("mnist1d") == "ready"
    cached = data.load_arrays("mnist1d")
    assert all(np.array_equal(arrays[k], cached[k]) for k in arrays)


def test_the_splits_keep_the_official_test_set_and_carve_validation_from_training():
    whole = load_splits("mnist1d")
    assert whole.input_shape == (1, 40) and whole.num_classes == 10
    assert (len(whole.y_train), len(whole.y_val), len(whole.y_test)) == (3333, 667, 1000)
    assert abs(float(whole.x_train.mean())) < 0.1 and 0.9 < float(whole.x_train.std()) < 1.1


def test_the_models_have_the_authors_sizes_where_they_follow_them(signals):
    sizes = {arm: count_parameters(build_signal_model(arm, (1, 40), 10)) for arm in ARMS}
    assert sizes == {"linear": 410, "mlp": 15_210, "cnn": 5_210, "gru": 3_978}
    x = signals.x_train[:5]
    for arm in ARMS:
        assert build_signal_model(arm, (1, 40), 10)(x).shape == (5, 10)
    with pytest.raises(ValueError, match="signals of shape"):
        SignalCNN((1, 28, 28), 10)
    with pytest.raises(ValueError, match="divisible by patch=4"):
        SignalGRU((1, 42), 10)
    assert set(PUBLISHED) == set(ARMS)


def test_the_gru_reads_left_to_right_patch_by_patch():
    gru = SignalGRU((1, 8), 3, hidden=4, patch=4)
    x = torch.randn(2, 1, 8)
    late = x.clone()
    late[..., 4:] += 1.0  # only the last patch changes
    seen = []
    gru.gru.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    gru(x)
    assert seen[0].shape == (2, 2, 4) and torch.equal(seen[0][:, 0], x[:, 0, :4])
    assert not torch.equal(gru(x), gru(late))


def test_configs_come_from_the_budget_and_early_stopping_ends_the_runs():
    small, medium = mnist1d_configs(BUDGETS["small"]), mnist1d_configs(BUDGETS["medium"])
    assert small["cnn"].epochs == 36 and small["cnn"].patience == 3 and medium["cnn"].epochs == 60
    assert medium["cnn"].patience == 5 and small["gru"].lr == 2e-2 and small["mlp"].lr == 1e-2
    assert all(c.monitor == "val_acc" and c.batch_size == 100 for c in small.values())


def test_the_study_trains_every_arm_per_seed_and_its_table_feeds_the_claims(signals):
    tiny = Budget("tiny", 20, 10, epochs=1, seeds=(0, 1))
    table, summary = mnist1d_study(tiny, data=signals, arms=("linear", "cnn"))
    assert list(summary.index) == ["linear", "cnn"] and summary.loc["cnn", "parameters"] == 5_210
    assert summary.loc["cnn", "published test_acc"] == PUBLISHED["cnn"]
    assert summary["test_acc"].between(0, 1).all() and (summary["steps run"] >= summary["steps kept"]).all()
    assert summary.loc["linear", "steps run"] % 2 == 0  # 200 signals, batch 100: 2 steps per epoch
    scores = per_seed(table, "cnn", "test_acc", at="best")
    assert list(scores.index) == [0, 1]
    epochs = from_table(table, "cnn")
    assert epochs is not None and set(epochs.budget.values()) <= {1, 2, 3, 4, 5, 6}
    _, again = mnist1d_study(tiny, data=signals, arms=("cnn",))
    assert again.loc["cnn", "test_acc"] == summary.loc["cnn", "test_acc"]  # seeded: the same runs again
    with pytest.raises(ValueError, match="arm='transformer' is not allowed"):
        mnist1d_study(tiny, data=signals, arms=("transformer",))


def test_mnist1d_ensembles_train_the_section_1_network_per_member(signals):
    tiny = Budget("tiny", 20, 10, epochs=1, seeds=(0, 1))
    curves: dict = {}
    table = mnist1d_ensembles(tiny, data=signals, arm="cnn", members=2, curves=curves)
    assert list(table.index) == [0, 1] and sorted(curves) == [0, 1]
    assert table["epochs run"].le(6).all()  # the section-1 config: at most six times the budget's epochs
    first = fit_arm("cnn", mnist1d_configs(tiny)["cnn"].replace(seed=0), signals).model  # ensemble 0's first member
    predicted = first.eval()(signals.x_test).argmax(-1)
    assert curves[0][0] == pytest.approx(float((predicted == signals.y_test).float().mean()))
    with pytest.raises(ValueError, match="arm='transformer' is not allowed"):
        mnist1d_ensembles(tiny, data=signals, arm="transformer")


def test_shuffling_positions_is_one_permutation_for_every_signal(signals):
    shuffled = shuffle_positions(signals, seed=3)
    assert torch.equal(shuffled.y_train, signals.y_train) and shuffled.input_shape == signals.input_shape
    assert not torch.equal(shuffled.x_train, signals.x_train)
    perm = torch.from_numpy(np.random.default_rng(3).permutation(40))
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(shuffled, f"x_{split}"), getattr(signals, f"x_{split}")[..., perm])


def test_the_figures_have_labelled_axes_and_bars_from_zero(signals):
    fig = plot_signals(signals)
    assert len(fig.axes[0].lines) == 10 and fig.axes[0].get_xlabel()
    import pandas as pd

    summary = pd.DataFrame({"test_acc": [0.3, 0.6], "test_acc std": [0.01, 0.02],
                            "published test_acc": [0.32, 0.68]}, index=["linear", "mlp"])
    ax = plot_accuracy(summary).axes[0]
    assert ax.get_ylim()[0] == 0 and ax.get_ylabel() == "test accuracy" and len(ax.patches) == 4


def test_few_label_steps_follow_the_budget():
    assert few_label_steps(BUDGETS["small"]) == 100
    assert few_label_steps(BUDGETS["medium"]) == few_label_steps(BUDGETS["full"]) == 170


def test_zero_shot_applies_the_source_head_and_refuses_other_classes(tiny):
    model = fit(RunConfig(model="mlp", hidden=16, epochs=1), tiny, progress=False).model
    assert 0 <= zero_shot(model, tiny) <= 1
    from dlopt_kit.architectures.transfer import subset_classes

    five = subset_classes(tiny, tiny.classes[:5])
    with pytest.raises(ValueError, match="the target's 5 classes; it has 10"):
        zero_shot(model, five)


def test_the_ensemble_curve_ends_at_the_whole_ensemble(tiny):
    curves: dict = {}
    table = ensemble_study(RunConfig(model="mlp", hidden=16, epochs=1), tiny, size=3, seeds=(0, 1), curves=curves)
    assert sorted(curves) == [0, 1] and all(len(c) == 3 for c in curves.values())
    assert curves[0][-1] == pytest.approx(table.loc[0, "average"])
    fig = plot_ensemble_curve(curves, table["mean member"])
    assert fig.axes[0].get_xlabel().startswith("members") and len(fig.axes[0].lines) == 2 + 1 + 1


def test_arm_seeds_carry_kept_epochs_so_a_claim_checks_convergence():
    import pandas as pd

    from dlopt_kit.architectures.study import arm_seeds
    from dlopt_kit.core.claims import assert_paired
    from dlopt_kit.core.kept_epochs import carried

    curve = pd.DataFrame({"size": [2] * 6, "seed": [0, 1, 2] * 2, "arm": ["full"] * 3 + ["scratch"] * 3,
                          "test_acc": [0.8, 0.7, 0.75, 0.6, 0.5, 0.55], "best_epoch": [3, 4, 5, 10, 9, 4],
                          "epochs": [10] * 6})
    scratch = arm_seeds(curve, 2, "scratch")
    assert scratch.to_dict() == {0: 0.6, 1: 0.5, 2: 0.55}
    epochs = carried(scratch)
    assert epochs is not None and epochs.kept == {0: 10, 1: 9, 2: 4} and epochs.under_trained()
    with pytest.raises(AssertionError, match="still improving"):
        assert_paired(arm_seeds(curve, 2, "full"), scratch, margin=0.05, name="test")
    with pytest.raises(ValueError, match="no runs of arm='probe'"):
        arm_seeds(curve, 2, "probe")
