"""Lesson 01's package: corruptions plant what they say, the report finds it, the fixes repair it, the study measures
it, and a bad setting is named."""

import numpy as np
import pytest
import torch

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.corruptions import CORRUPTIONS, class_pairs, corrupt, detection, with_split
from dlopt_kit.core.kept_epochs import carried
from dlopt_kit.data_quality.fixes import deduplicate, drop, impute, oversample, relabel
from dlopt_kit.data_quality.report import (
    data_report,
    exact_duplicates,
    find_label_issues,
    missing_rows,
    near_duplicates,
    out_of_fold_probs,
    overlap,
)
from dlopt_kit.data_quality.study import CorruptionStudy, detect, train_ready

FAST = RunConfig(model="mlp", hidden=32, epochs=2, batch_size=64, lr=3e-3, monitor="val_acc")


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_every_corruption_is_a_seeded_copy(tiny, kind):
    before = tiny.x_train.clone(), tiny.y_train.clone(), tiny.x_test.clone()
    a, b = corrupt(tiny, kind, 0.3, seed=1), corrupt(tiny, kind, 0.3, seed=1)
    assert torch.equal(torch.nan_to_num(a.data.x_train), torch.nan_to_num(b.data.x_train))
    assert np.array_equal(a.planted, b.planted)
    assert torch.equal(tiny.x_train, before[0]) and torch.equal(tiny.y_train, before[1])  # the original is untouched
    assert torch.equal(tiny.x_test, before[2])
    assert kind in a.describe()


def test_what_each_corruption_plants(tiny):
    n = len(tiny.y_train)
    dup = corrupt(tiny, "duplicates", 0.2)
    assert len(dup.data.y_train) == n + 60 and list(dup.planted) == list(range(n, n + 60))
    assert torch.equal(dup.data.x_train[dup.planted], tiny.x_train[dup.details["copied_from"]])
    noisy = corrupt(tiny, "label_noise", 0.3)
    changed = np.flatnonzero((noisy.data.y_train != tiny.y_train).numpy())
    assert list(changed) == list(noisy.planted) and len(changed) == 90  # every planted label really changed
    pairs = corrupt(tiny, "pair_noise", 0.5)
    partner = {a: b for a, b in class_pairs(tiny)} | {b: a for a, b in class_pairs(tiny)}
    assert all(partner[int(tiny.y_train[i])] == int(pairs.data.y_train[i]) for i in pairs.planted)
    thin = corrupt(tiny, "thin_class", 0.8)
    shirt = tiny.classes.index("Shirt")
    assert thin.details == {"thinned": "Shirt", "removed": 24, "left": 6}
    assert int((thin.data.y_train == shirt).sum()) == 6
    missing = corrupt(tiny, "missing", 0.1)
    assert abs(torch.isnan(missing.data.x_train).float().mean().item() - 0.1) < 0.01
    leak = corrupt(tiny, "leak", 0.5, split="val")
    assert leak.split == "val" and len(leak.planted) == 50
    assert torch.equal(leak.data.y_val[leak.planted], tiny.y_train[leak.details["copied_from"]])
    assert torch.equal(leak.data.x_test, tiny.x_test)
    inverted = corrupt(tiny, "outliers", 0.1)
    assert torch.allclose(inverted.data.x_train[inverted.planted], 1 - tiny.x_train[inverted.planted])


def test_bad_settings_name_the_field(tiny):
    for call, message in [(lambda: corrupt(tiny, "typos", 0.1), "kind='typos' is not allowed"),
                          (lambda: corrupt(tiny, "missing", 1.5), "rate=1.5 is out of range"),
                          (lambda: corrupt(tiny, "leak", 0.1, split="train"), "split='train' is not allowed"),
                          (lambda: corrupt(tiny, "thin_class", 0.5, thinned="Hat"), "thinned='Hat' is not allowed"),
                          (lambda: impute(tiny, "median"), "method='median' is not allowed"),
                          (lambda: near_duplicates(tiny.x_train, near=-1), "near=-1 is out of range")]:
        with pytest.raises(ValueError, match=message):
            call()
    breast = __import__("dlopt_kit.core.data", fromlist=["load_splits"]).load_splits("breast_cancer")
    with pytest.raises(ValueError, match="outliers are inverted images"):
        corrupt(breast, "outliers", 0.1)
    with pytest.raises(ValueError, match="impute them"):
        out_of_fold_probs(corrupt(tiny, "missing", 0.1).data, FAST)


def test_detection_counts_precision_and_recall():
    assert detection([1, 2, 3, 4], [3, 4, 5]) == {"found": 4, "planted": 3, "hits": 2, "precision": 0.5,
                                                  "recall": 2 / 3}
    empty = detection([], [1])
    assert np.isnan(empty["precision"]) and empty["recall"] == 0


def test_duplicate_checks_find_exact_and_near_copies(tiny):
    dup = corrupt(tiny, "duplicates", 0.1)
    assert list(exact_duplicates(dup.data.x_train)) == list(dup.planted)
    near = corrupt(tiny, "near_duplicates", 0.1, seed=3)
    found = near_duplicates(near.data.x_train)
    assert detection(found, near.planted)["recall"] == 1.0
    assert not set(found) & set(exact_duplicates(near.data.x_train))  # near excludes byte-equal copies
    leak = corrupt(tiny, "leak", 0.3)
    assert set(leak.planted) <= set(overlap(leak.data.x_train, leak.data.x_test))


def test_report_table_and_the_fixes_it_drives(tiny):
    dup = corrupt(tiny, "near_duplicates", 0.2)
    leaked = corrupt(dup.data, "leak", 0.2).data
    report = data_report(leaked)
    table = report.table()
    assert {"exact duplicates", "near duplicates", "in train and test", "missing values", "rare classes",
            "outliers"} <= set(table.index)
    assert report["near duplicates"].count >= 60 and report["in train and test"].count >= 20
    with pytest.raises(KeyError, match="no check 'typos'"):
        report["typos"]
    clean = deduplicate(leaked, report)
    assert len(clean.y_train) == len(leaked.y_train) - len(np.union1d(report["exact duplicates"].indices,
                                                                      report["near duplicates"].indices))
    assert len(overlap(clean.x_train, clean.x_test)) == 0 and len(near_duplicates(clean.x_train)) == 0
    assert report.class_counts.sum() == len(leaked.y_train)


def test_label_issues_use_out_of_fold_models_and_find_planted_noise(small):
    noisy = corrupt(small, "pair_noise", 0.4, seed=0)
    probs = out_of_fold_probs(noisy.data, FAST.replace(epochs=4), folds=3)
    assert probs.shape == (len(small.y_train), 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
    issues = find_label_issues(noisy.data, FAST.replace(epochs=4), folds=3)
    score = detection(issues.indices, noisy.planted)
    chance = len(noisy.planted) / len(small.y_train)
    assert score["precision"] > 1.5 * chance  # far better than flagging at random
    given = issues.pred_probs[issues.indices, issues.given[issues.indices]]
    assert np.all(np.diff(given) >= -1e-6) or len(given) < 2  # ranked: lowest self-confidence first
    fixed = relabel(noisy.data, issues)
    assert torch.equal(fixed.y_train[issues.indices], torch.from_numpy(issues.suggested))


def test_impute_fills_every_nan_and_neighbours_beat_zero_on_images(tiny):
    holes = corrupt(tiny, "missing", 0.3).data
    errors = {}
    for method in ("zero", "mean", "neighbours"):
        filled = impute(holes, method)
        assert not torch.isnan(filled.x_train).any()
        errors[method] = float((filled.x_train - tiny.x_train).abs().mean())
    assert errors["neighbours"] < errors["zero"] and errors["neighbours"] < errors["mean"]
    assert list(missing_rows(holes.x_train)) == list(range(len(tiny.y_train)))
    from dlopt_kit.core.data import load_splits
    from dlopt_kit.data_quality.features import mean_features

    table = load_splits("breast_cancer", features=mean_features)
    x = table.x_train.clone()
    x[0, 0] = float("nan")
    repaired = impute(with_split(table, "train", x, table.y_train), "neighbours")  # tabular: KNNImputer
    assert torch.isfinite(repaired.x_train).all()


def test_drop_and_oversample(tiny):
    fewer = drop(tiny, [0, 1, 2])
    assert len(fewer.y_train) == len(tiny.y_train) - 3 and torch.equal(fewer.x_train[0], tiny.x_train[3])
    thin = corrupt(tiny, "thin_class", 0.8).data
    even = oversample(thin)
    assert len(set(np.bincount(even.y_train.numpy()).tolist())) == 1


def test_study_measures_damage_detection_and_fix(tiny):
    study = CorruptionStudy(tiny, FAST, seeds=(0, 1))
    leak = study.run("leak", 0.5)
    assert list(leak["seed"]) == [0, 1] and (leak["recall"] == 1.0).all()
    assert (leak["clean"] == study.arm("leak", "clean").to_numpy()).all()
    thin = study.run("thin_class", 0.8)
    assert {"clean recall", "corrupted recall", "fixed recall"} <= set(thin.columns)
    epochs = carried(study.arm("thin_class", "fixed recall"))  # trained arms carry their kept epochs for claims
    fixed = {s: study.fits[("thin_class", 0.8, s)]["fixed"] for s in (0, 1)}
    assert epochs.arm == "thin_class: fixed" and epochs.kept == {s: fixed[s].best_epoch for s in (0, 1)}
    assert epochs.budget == {s: len(fixed[s].history) for s in (0, 1)}
    assert carried(study.arm("leak", "recall")) is None
    summary = study.summary()
    assert list(summary.index.get_level_values("corruption")) == ["leak", "thin_class"]
    assert np.allclose(summary["corrupted - clean"], summary["corrupted"] - summary["clean"])
    assert np.allclose(summary["fixed - corrupted"], summary["fixed"] - summary["corrupted"])
    with pytest.raises(ValueError, match="has not been run"):
        study.arm("missing", "fixed")
    with pytest.raises(ValueError, match="'precision' is not measured for thin_class"):
        study.arm("thin_class", "precision")
    with pytest.raises(ValueError, match="epochs=0 is out of range"):
        study.run("missing", 0.1, epochs=0)
    assert len(study.table()) == 4  # the refused run added nothing
    study.run("leak", 0.2)
    with pytest.raises(ValueError, match=r"leak ran at rates \[0.2, 0.5\]: pass rate="):
        study.arm("leak", "corrupted")
    assert list(study.arm("leak", "corrupted", rate=0.2).index) == [0, 1]


def test_train_ready_applies_the_lessons_fix(tiny):
    thin = corrupt(tiny, "thin_class", 0.5)
    assert train_ready(thin, None, fix=True)[1] == {"class_weight": "balanced"}
    holes = corrupt(tiny, "missing", 0.2)
    assert not torch.isnan(train_ready(holes, None, fix=False)[0].x_train).any()
    noisy = corrupt(tiny, "label_noise", 0.2)
    with pytest.raises(ValueError, match="run detect"):
        train_ready(noisy, None, fix=True)
    found, issues = detect(corrupt(tiny, "outliers", 0.1), FAST)
    assert issues is None and found.check == "outliers"


@pytest.mark.parametrize("kind", ["label_noise", "pair_noise"])
def test_noisy_val_changes_validation_labels_as_training_labels(tiny, kind):
    plain, noisy = corrupt(tiny, kind, 0.4, seed=2), corrupt(tiny, kind, 0.4, seed=2, noisy_val=True)
    assert torch.equal(plain.data.y_train, noisy.data.y_train)  # the same training labels either way
    assert torch.equal(plain.data.y_val, tiny.y_val)  # plain leaves validation alone
    changed = np.flatnonzero((noisy.data.y_val != tiny.y_val).numpy())
    assert changed.tolist() == sorted(noisy.details["val_planted"].tolist()) and len(changed) > 0
    assert torch.equal(noisy.data.y_test, tiny.y_test)  # the test split stays clean
    with pytest.raises(ValueError, match="noisy_val=True applies to label_noise and pair_noise only"):
        corrupt(tiny, "missing", 0.1, noisy_val=True)


def test_study_files_noisy_validation_runs_apart_and_uses_its_label_config(tiny):
    folds = FAST.replace(epochs=1)
    study = CorruptionStudy(tiny, FAST, seeds=(0,), label_config=folds)
    study.run("pair_noise", 0.4)
    study.run("pair_noise", 0.4, noisy_val=True)
    assert study.table()["corruption"].tolist() == ["pair_noise", "pair_noise (noisy val)"]
    clean, noisy = study.fits[("pair_noise", 0.4, 0)], study.fits[("pair_noise (noisy val)", 0.4, 0)]
    assert clean["clean"] is noisy["clean"]  # the clean arm keeps the clean validation split
    assert not torch.equal(study.planted[("pair_noise (noisy val)", 0)].data.y_val, tiny.y_val)
    assert carried(study.arm("pair_noise (noisy val)", "corrupted")).arm == "pair_noise (noisy val): corrupted"
    # the same training labels, and fold models of one epoch (validation cannot change the epoch they keep), find the
    # same label issues: label_config is what the folds train
    flagged = [study.issues[(kind, 0)].indices.tolist() for kind in ("pair_noise", "pair_noise (noisy val)")]
    assert flagged[0] == flagged[1]


def test_equal_steps_scales_each_arms_epochs_by_its_training_size(tiny):
    study = CorruptionStudy(tiny, FAST.replace(epochs=4), seeds=(0,))
    study.run("near_duplicates", 0.5, equal_steps=True)
    runs = study.fits[("near_duplicates", 0.5, 0)]
    with_copies = len(study.planted[("near_duplicates", 0)].data.y_train)
    assert len(runs["clean"].history) == 4
    assert runs["corrupted"].config.epochs == max(1, round(4 * len(tiny.y_train) / with_copies))  # fewer epochs
    assert runs["corrupted"].config.epochs < 4
    study.run("outliers", 0.3)  # without it every arm keeps the config's epochs
    assert study.fits[("outliers", 0.3, 0)]["fixed"].config.epochs == 4


def test_study_trains_seeds_in_workers_with_the_numbers_of_one_process(tiny):
    plan = [("pair_noise", 0.4), ("missing", 0.3)]
    alone = CorruptionStudy(tiny, FAST, seeds=(0, 1), jobs=1)
    together = CorruptionStudy(tiny, FAST, seeds=(0, 1), jobs=2)
    first, second = alone.run_all(plan), together.run_all(plan)
    assert first.equals(second) and list(second["corruption"]) == ["pair_noise"] * 2 + ["missing"] * 2
    assert carried(alone.arm("missing", "fixed")).kept == carried(together.arm("missing", "fixed")).kept
    assert together.issues[("pair_noise", 1)].indices.tolist() == alone.issues[("pair_noise", 1)].indices.tolist()
