import shutil

import numpy as np
import pytest
import torch

import dlopt_kit.core.data as data
from dlopt_kit.core.data import DatasetError, load_splits, make_synthetic
from dlopt_kit.evaluation_metrics import one_vs_rest


@pytest.mark.parametrize("name", data.STORED)
def test_prepared_files_match_the_catalog(name):
    assert data.cache_status(name) == "ready"
    arrays = data.load_arrays(name)
    shapes = data.load_catalog()[name]["shapes"]
    assert {k: list(v.shape) for k, v in arrays.items()} == shapes


def test_fashion_sources_are_the_published_files():
    folder = data.fashion_source_dir()
    assert folder is not None
    for fname, digest in data.load_catalog()["fashion_mnist"]["sources"].items():
        assert data.sha256(folder / fname) == digest


@pytest.fixture
def scratch_cache(tmp_path, monkeypatch):
    """A copy of the digits cache in a scratch ROOT, so a test may damage it."""
    shutil.copytree(data.ROOT / "cache" / "digits", tmp_path / "cache" / "digits")
    monkeypatch.setattr(data, "ROOT", tmp_path)
    monkeypatch.setattr(data, "_VERIFIED", set())
    return tmp_path / "cache" / "digits"


def test_truncated_cache_is_reported_and_rebuilt(scratch_cache):
    target = scratch_cache / "x.npy"
    target.write_bytes(target.read_bytes()[:100])
    assert data.cache_status("digits") == "corrupt"
    with pytest.raises(DatasetError, match="fail their sha256 check.*make setup"):
        data.load_arrays("digits")
    assert data.prepare("digits") == "built"
    assert data.cache_status("digits") == "ready"
    assert data.prepare("digits") == "ready"


def test_missing_cache_names_the_fix(scratch_cache):
    shutil.rmtree(scratch_cache)
    with pytest.raises(DatasetError, match="not prepared.*make setup"):
        data.load_arrays("digits")


def test_missing_fashion_source_offline_names_both_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "ROOT", tmp_path)
    monkeypatch.setattr(data, "DEBIAN_FASHION", tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="dataset-fashion-mnist.*torchvision"):
        data.prepare("fashion_mnist", allow_download=False)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="dataset 'cifar' is not allowed: choose one of fashion_mnist"):
        load_splits("cifar")


def test_fashion_splits_shapes_scale_and_sizes():
    s = load_splits("fashion_mnist")
    assert s.x_train.shape == (50000, 1, 28, 28) and s.x_train.dtype == torch.float32
    assert len(s.y_val) == 10000 and len(s.y_test) == 10000
    assert 0.0 <= float(s.x_train.min()) and float(s.x_train.max()) <= 1.0
    assert s.num_classes == 10 and s.classes[0] == "T-shirt/top"


def test_per_class_subsets_are_stratified_and_fixed():
    a = load_splits("fashion_mnist", train_per_class=50, eval_per_class=20)
    b = load_splits("fashion_mnist", train_per_class=50, eval_per_class=20)
    assert torch.bincount(a.y_train).tolist() == [50] * 10
    assert torch.bincount(a.y_test).tolist() == [20] * 10
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    bigger = load_splits("fashion_mnist", train_per_class=100)
    assert len(bigger.y_train) == 1000


def test_splits_do_not_share_examples():
    s = load_splits("digits")
    rows = {tuple(x.flatten().tolist()) for x in s.x_train}
    leaked = sum(tuple(x.flatten().tolist()) in rows for x in s.x_test)
    assert leaked <= 2  # sklearn's digits has a couple of exact duplicate images of its own
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == 1797


@pytest.mark.parametrize(("name", "shape", "classes"), [("mnist5k", (1, 28, 28), 10), ("digits", (1, 8, 8), 10),
                                                        ("breast_cancer", (30,), 2), ("moons", (2,), 2),
                                                        ("spirals", (2,), 3)])
def test_other_datasets(name, shape, classes):
    s = load_splits(name)
    assert s.input_shape == shape and s.num_classes == classes
    assert set(torch.unique(s.y_train).tolist()) == set(range(classes))


def test_breast_cancer_is_standardised_with_training_statistics():
    s = load_splits("breast_cancer")
    assert torch.allclose(s.x_train.mean(0), torch.zeros(30), atol=1e-4)
    assert torch.allclose(s.x_train.std(0), torch.ones(30), atol=1e-3)


def test_device_option_moves_tensors():
    s = load_splits("digits", device="cpu")
    assert s.x_val.device.type == "cpu"


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_bad_per_class(bad):
    with pytest.raises(ValueError, match=f"train_per_class={bad!r}"):
        load_splits("digits", train_per_class=bad)


def test_synthetic_sets_are_seeded():
    for kind in ("moons", "circles", "spirals"):
        x1, y1 = make_synthetic(kind, n=200, seed=4)
        x2, y2 = make_synthetic(kind, n=200, seed=4)
        assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and x1.shape == (200, 2)
        assert not np.array_equal(x1, make_synthetic(kind, n=200, seed=5)[0])
    with pytest.raises(ValueError, match="kind='blobs' is not allowed: choose one of moons"):
        make_synthetic("blobs")


def test_one_vs_rest_with_imbalance():
    base = load_splits("fashion_mnist", train_per_class=100, eval_per_class=50)
    task = one_vs_rest(base, "Shirt", share=0.05)
    assert task.classes == ["not Shirt", "Shirt"] and task.num_classes == 2
    for y in (task.y_train, task.y_test):
        assert set(y.unique().tolist()) == {0, 1}
        assert float(y.float().mean()) == pytest.approx(0.05, abs=0.005)
    balanced = one_vs_rest(base, "Shirt")
    assert int(balanced.y_train.sum()) == 100 and len(balanced.y_train) == 1000
    with pytest.raises(ValueError, match="positive='Shoe' is not a class"):
        one_vs_rest(base, "Shoe")
    with pytest.raises(ValueError, match="share=1.0 is out of range"):
        one_vs_rest(base, "Shirt", share=1.0)
