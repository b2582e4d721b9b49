"""Lesson 01's feature engineering, the linear model, the XOR set, its plots and its panels."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import load_splits, make_synthetic
from dlopt_kit.core.models import build_model, count_parameters
from dlopt_kit.data_quality.features import FeatureMap, cost_table, engineer, feature_study, mean_features, pleomorphism
from dlopt_kit.data_quality.plots import (
    plot_decision_boundary,
    plot_detection,
    plot_effects,
    show_examples,
    show_fills,
    show_label_issues,
)
from dlopt_kit.panels import boundary_panel, data_quality_panel

LINEAR = RunConfig(model="linear", lr=0.05, epochs=4, batch_size=128, monitor="val_acc")


def test_xor_is_seeded_and_labelled_by_the_sign_of_the_product():
    x, y = make_synthetic("xor", n=400, noise=0.0, seed=2)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] > 0).astype(int))
    assert np.array_equal(make_synthetic("xor", n=400, seed=2)[0], make_synthetic("xor", n=400, seed=2)[0])


def test_linear_model_is_logistic_regression():
    model = build_model(RunConfig(model="linear"), (2,), 3)
    assert count_parameters(model) == 2 * 3 + 3
    assert model(torch.zeros(5, 2)).shape == (5, 3)


def test_feature_map_standardises_on_train_and_names_bad_features():
    data = load_splits("circles")
    engineered, fmap = engineer(data, ["x1^2", "x2^2", "radius"])
    assert engineered.input_shape == (3,)
    assert torch.allclose(engineered.x_train.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.equal(fmap(data.x_val.numpy()), engineered.x_val)
    assert "circles" in engineered.name and data.input_shape == (2,)  # the input is unchanged
    with pytest.raises(ValueError, match="'x3' not allowed; choose from"):
        FeatureMap(["x1", "x3"])
    with pytest.raises(ValueError, match="2-D points"):
        FeatureMap(["x1"]).fit(np.zeros((3, 4)))
    with pytest.raises(RuntimeError, match="fit"):
        FeatureMap(["x1"])(np.zeros((3, 2)))


def test_engineered_features_let_a_linear_model_separate_circles():
    models = {}
    table, raw, fmap = feature_study("circles", ["x1^2", "x2^2"], LINEAR, LINEAR.replace(model="mlp", hidden=16),
                                     seeds=(0, 1), models=models)
    last = table.groupby(["config", "seed"]).test_acc.last()
    assert (last["linear, engineered"] > last["linear, raw"] + 0.2).all()
    costs = cost_table(table, models, target=0.9)
    assert list(costs.index) == ["linear, raw", "linear, engineered", "mlp, raw"]
    assert costs.loc["linear, engineered", "parameters"] == 2 * 2 + 2
    assert costs.loc["mlp, raw", "parameters"] > 100 * costs.loc["linear, engineered", "parameters"] / 10
    reach = costs["epochs to val_acc 0.9"]
    assert float(reach["linear, engineered"]) >= 1  # every seed reached it: a plain number of epochs
    epochs = int(table["epoch"].max())
    assert cost_table(table, models, target=1.01)["epochs to val_acc 1.01"].eq(f"never (>{epochs})").all()
    ax = plot_decision_boundary(models[("linear, engineered", 0)], raw, fmap, ax=Figure().subplots())
    assert ax.get_xlabel() == "x1" and len(ax.collections) >= 2


def test_breast_cancer_domain_feature_is_computed_in_original_units():
    plain, extra = load_splits("breast_cancer", features=mean_features), load_splits("breast_cancer",
                                                                                     features=pleomorphism)
    assert plain.input_shape == (10,) and extra.input_shape == (11,)
    assert torch.equal(plain.y_test, extra.y_test)
    with pytest.raises(ValueError, match="holds images"):
        load_splits("digits", features=mean_features)


def test_study_plots_draw_every_corruption(tiny):
    from dlopt_kit.data_quality.study import CorruptionStudy

    study = CorruptionStudy(tiny, LINEAR.replace(model="mlp", hidden=16), seeds=(0, 1))
    study.run("pair_noise", 0.4)
    study.run("thin_class", 0.8)
    study.run("near_duplicates", 0.2, epochs=1)
    ax = plot_effects(study.table(), ax=Figure().subplots())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pair noise", "thin class", "near duplicates\n(epochs=1)"]
    ax = plot_detection(study.table(), ax=Figure().subplots())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pair noise", "near duplicates"]  # none for thin class
    planted = study.planted[("pair_noise", 0)]
    fig = show_label_issues(planted.data, study.issues[("pair_noise", 0)], planted.planted, tiny.y_train, count=4)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert len(titles) == 4 and all(t.startswith("given ") for t in titles)
    assert fig.get_size_inches()[1] > show_examples(tiny, [0], ["one line"]).get_size_inches()[1]  # 3-line captions


def test_quality_panel_runs_corrupts_fixes_and_keeps_its_table(tiny):
    base = RunConfig(model="mlp", hidden=16, epochs=2, batch_size=64, lr=3e-3, monitor="val_acc")
    panel = data_quality_panel(tiny, base)
    assert set(panel.controls) == {"corruption", "rate", "fix", "seed", "epochs"}
    leaked = panel.run(corruption="leak", rate=0.5, fix=False)
    fixed = panel.run(fix=True)
    assert leaked is not None and fixed is not None
    rows = panel.results_frame()
    assert rows["fix"].tolist() == [False, True] and (rows["recall"] == 1.0).all()
    assert not any("test" in c for c in rows.columns)
    balanced = panel.run(corruption="thin_class", rate=0.8, fix=True)
    assert balanced.config.class_weight == "balanced" and "Shirt recall (val)" in panel.results_frame()
    assert panel.run(corruption="missing", rate=1.5) is None
    assert "rate=1.5 is out of range" in panel.status.value and len(panel.results_frame()) == 3
    assert panel.run(rate="lots") is None and "must be a finite number" in panel.status.value


def test_boundary_panel_draws_the_boundary_live():
    panel = boundary_panel(LINEAR)
    result = panel.run(dataset="xor", engineered=True, epochs=2)
    assert result.model[1].in_features == 5  # raw plus three engineered features
    assert bytes(panel.plot.value).startswith(b"\x89PNG") and panel.model is result.model
    panel.run(model="mlp", engineered=False, hidden=8)
    assert panel.results_frame()["model"].tolist() == ["linear", "mlp"]
    assert panel.run(hidden=0) is None and "hidden=0" in panel.status.value


def test_show_fills_draws_every_image_whole_with_holes_and_each_fill(tiny):
    from dlopt_kit.core.corruptions import corrupt

    holes = corrupt(tiny, "missing", 0.5, seed=0).data
    fig = show_fills(tiny, holes, [0, 1], methods=("zero", "neighbours"))
    assert len(fig.axes) == 2 * 4
    assert [a.get_title() for a in fig.axes[:4]] == ["whole", "missing (red)", "zero fill", "neighbours fill"]
    shown = fig.axes[1].images[0].get_array()
    assert np.ma.isMaskedArray(shown) and shown.mask.any()  # the missing pixels, drawn in the 'bad' colour
    assert not np.ma.getmaskarray(fig.axes[3].images[0].get_array()).any()  # a fill leaves no hole


def test_show_copies_titles_each_copy_with_its_distance_and_verdict(tiny):
    from dlopt_kit.core.corruptions import corrupt
    from dlopt_kit.data_quality import show_copies

    leaked = corrupt(tiny, "leak", 0.5, seed=0)
    fig = show_copies(leaked, near=1.5, count=3)
    titles = [a.get_title() for a in fig.axes]
    assert titles[:3] == ["train image"] * 3
    assert all(t.startswith("test copy\nd=") and t.endswith(": found") for t in titles[3:6])  # within 1.5 by design
    moved = [float(t.split("d=")[1].split(":")[0]) for t in titles[6:9]]
    assert all(t.startswith("moved 1 px") for t in titles[6:9]) and min(moved) > 1.5  # one pixel: past the check


def test_plot_class_recall_draws_each_arm_per_class(tiny):
    from dlopt_kit.data_quality import plot_class_recall
    from dlopt_kit.data_quality.study import CorruptionStudy, class_recall

    study = CorruptionStudy(tiny, LINEAR.replace(model="mlp", hidden=16), seeds=(0, 1))
    study.run("thin_class", 0.8)
    ax = plot_class_recall(study, "thin_class", ax=Figure().subplots())
    bars = [p for p in ax.patches]
    assert len(bars) == 3 * tiny.num_classes and [t.get_text() for t in ax.get_xticklabels()] == tiny.classes
    fixed = [class_recall(study.fits[("thin_class", 0.8, s)]["fixed"].model, tiny, 0) for s in (0, 1)]
    assert bars[2 * tiny.num_classes].get_height() == pytest.approx(np.mean(fixed))  # the fixed arm's first class
    with pytest.raises(ValueError, match="'missing' has not been run"):
        plot_class_recall(study, "missing")
