import pytest
import torch
from matplotlib.figure import Figure

from dlopt_kit.augmentation import sample_photo
from dlopt_kit.augmentation.robustness import (
    confusion,
    moved,
    plot_augmented,
    plot_class_grid,
    plot_confusions,
    plot_robustness,
    plot_shifted_sets,
    predict_labels,
    robustness_summary,
    shift_accuracies,
    swap_rate,
)
from dlopt_kit.core.augment import LIMITS, SHIFT_NAMES, Augmenter, AugmentSpec, shifted
from dlopt_kit.core.compare import compare
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.training import fit
from dlopt_kit.panels.augmentation import AugmentGallery, augment_knobs, config_with_augment

EVERYTHING = AugmentSpec(rotate=30, translate=0.2, scale=0.3, hflip=0.5, vflip=0.5, brightness=0.3, contrast=0.3,
                         erase=0.5)


def test_strength_zero_is_exactly_the_identity(tiny):
    x = tiny.x_train[:32]
    out = Augmenter(AugmentSpec())(x)
    assert out is x
    assert not AugmentSpec() and repr(AugmentSpec()) == "none"
    zeroed = AugmentSpec(**{name: 0.0 for name in LIMITS})
    assert torch.equal(Augmenter(zeroed)(x), x)


def test_every_image_gets_its_own_parameters(tiny):
    x = tiny.x_train[:1].repeat(16, 1, 1, 1)
    out = Augmenter(AugmentSpec(rotate=45))(x)
    distinct = {tuple(img.flatten()[::7].tolist()) for img in out}
    assert len(distinct) == 16  # one draw shared by the batch would give a single distinct image


def test_same_seed_same_augmentation_and_range(tiny):
    x = tiny.x_train[:16]
    torch.manual_seed(1)
    a = Augmenter(EVERYTHING)(x)
    torch.manual_seed(1)
    b = Augmenter(EVERYTHING)(x)
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == x.dtype
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.equal(a, x)


@pytest.mark.parametrize(("name", "value", "allowed"), [("rotate", -5, "0 to 180"), ("rotate", 200, "0 to 180"),
                                                        ("translate", 0.6, "0 to 0.5"), ("scale", 1.0, "0 to 0.9"),
                                                        ("hflip", 1.5, "0 to 1"), ("hue", 0.7, "0 to 0.5"),
                                                        ("erase", float("nan"), "must be a number"),
                                                        ("brightness", "high", "must be a number")])
def test_bad_strength_names_the_transform(name, value, allowed):
    with pytest.raises(ValueError, match=f"augmentation {name}=") as info:
        AugmentSpec(**{name: value})
    assert allowed in str(info.value)


def test_unknown_transform_wrong_images_and_wrong_config_type(tiny):
    with pytest.raises(ValueError, match="unknown augmentation.*twist"):
        AugmentSpec.from_dict({"twist": 1.0})
    with pytest.raises(ValueError, match="saturation and hue need colour images"):
        Augmenter(AugmentSpec(saturation=0.5))(tiny.x_train[:4])
    with pytest.raises(ValueError, match="needs image batches"):
        Augmenter(AugmentSpec(rotate=10))(torch.rand(4, 30))
    with pytest.raises(ValueError, match="augment=.*must be an AugmentSpec"):
        RunConfig(augment={"rotate": 10})


def test_colour_photo_takes_colour_transforms():
    photo = sample_photo()
    assert photo.shape[0] == 3 and 0.0 <= float(photo.min()) and float(photo.max()) <= 1.0
    out = Augmenter(AugmentSpec(saturation=0.6, hue=0.1))(photo.unsqueeze(0).repeat(2, 1, 1, 1))
    assert out.shape == (2, *photo.shape)
    assert isinstance(plot_augmented(photo, AugmentSpec(hue=0.1), n=4), Figure)


def test_fit_with_augmentation_is_recorded_and_reproducible(tiny):
    config = RunConfig(model="cnn", epochs=2, batch_size=32, augment=AugmentSpec(rotate=20, hflip=0.5))
    a, b = fit(config, tiny, progress=False), fit(config, tiny, progress=False)
    assert a.config.augment.rotate == 20
    assert a.history[:, "train_loss"] == b.history[:, "train_loss"]
    plain = fit(config.replace(augment=AugmentSpec()), tiny, progress=False)
    assert plain.history[:, "train_loss"] != a.history[:, "train_loss"]


def test_shifted_test_sets_are_fixed(tiny):
    x = tiny.x_test[:20]
    assert shifted(x, "clean") is x
    assert torch.equal(shifted(x, "darker"), x * 0.5)
    for name in ("rotated", "translated", "scaled"):
        assert torch.equal(shifted(x, name), shifted(x, name)) and not torch.equal(shifted(x, name), x)
    before = torch.random.get_rng_state()
    shifted(x, "rotated")
    assert torch.equal(before, torch.random.get_rng_state())
    with pytest.raises(ValueError, match="shift='blurred' is not allowed"):
        shifted(x, "blurred")


def test_robustness_table_summary_and_plots(tiny):
    base = RunConfig(model="mlp", epochs=1, batch_size=32)
    table = compare({"none": base, "rot": base.replace(augment=AugmentSpec(rotate=30))}, tiny, seeds=(0, 1),
                    progress=False, extra_metrics=shift_accuracies())
    assert {f"acc_{s}" for s in SHIFT_NAMES} | {"acc_shifted"} <= set(table.columns)
    first = table.iloc[0]
    assert first["acc_shifted"] == pytest.approx((first["acc_rotated"] + first["acc_translated"]
                                                  + first["acc_scaled"]) / 3)
    summary = robustness_summary(table)
    assert len(summary) == 2 * (len(SHIFT_NAMES) + 1) and list(summary.columns) == ["config", "test set", "mean",
                                                                                      "std"]
    assert isinstance(plot_robustness(table), Figure)
    assert isinstance(plot_class_grid(tiny, AugmentSpec(rotate=10)), Figure)
    with pytest.raises(ValueError, match="no acc_\\* columns"):
        robustness_summary(table.drop(columns=[c for c in table.columns if c.startswith("acc_")]))


def test_panel_config_with_augment():
    config = config_with_augment(RunConfig(), {"rotate": 15.0, "hflip": 0.5, "epochs": 3, "lr": 0.01})
    assert config.augment == AugmentSpec(rotate=15, hflip=0.5) and config.epochs == 3 and config.lr == 0.01
    with pytest.raises(ValueError, match="augmentation rotate=500"):
        config_with_augment(RunConfig(), {"rotate": 500.0})


def test_gallery_follows_its_sliders(tiny):
    gallery = AugmentGallery(tiny)
    plain = bytes(gallery.grid.value)
    gallery.set_values(rotate=45, hflip=1.0)
    assert gallery.spec() == AugmentSpec(rotate=45, hflip=1.0)
    assert bytes(gallery.grid.value) != plain and "rotate 45" in gallery.status.value
    turned = bytes(gallery.single.value)
    gallery.resample_button.click()
    assert bytes(gallery.single.value) != turned
    shown = bytes(gallery.single.value)
    gallery.sliders["saturation"].value = 0.5  # grey images: refused, the pictures stay
    assert "saturation and hue need colour images" in gallery.status.value
    assert bytes(gallery.single.value) == shown
    with pytest.raises(ValueError, match="unknown augmentation.*spin"):
        gallery.set_values(spin=1.0)


def test_plot_shifted_sets_shows_the_very_images_of_each_set(tiny):
    from dlopt_kit.augmentation.robustness import plot_shifted_sets

    fig = plot_shifted_sets(tiny.x_test, shifts=("clean", "rotated"), n=4)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["clean", "rotated"]
    shown = torch.from_numpy(ax.images[0].get_array()[:, :, ...].copy())
    assert shown.shape[0] == 2 * 30 + 2 and shown.shape[1] == 4 * 30 + 2
    # the second row holds the first rotated test images exactly as the rotated test set holds them
    row = shown[32:60, 2:30]
    expected = shifted(tiny.x_test, "rotated")[0, 0]
    assert torch.allclose(row.float(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="needs images"):
        plot_shifted_sets(tiny.x_test.flatten(1))


# ---------------------------------------------------------------- pad-and-crop, moved images, swaps (notebook 02)

def test_crop_shifts_by_whole_pixels_within_its_range():
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, 4] = 1.0  # one bright pixel in the middle
    torch.manual_seed(0)
    out = Augmenter(AugmentSpec(crop=2))(x)
    assert out.shape == x.shape and torch.equal(out.sum((1, 2, 3)), torch.ones(64))  # moved, never blurred or lost
    where = torch.stack([(img[0] == 1).nonzero()[0] for img in out]) - 4
    assert int(where.abs().max()) <= 2 and len({tuple(w.tolist()) for w in where}) > 5  # per image, up to 2 px
    assert AugmentSpec(crop=3).crop == 3.0 and repr(AugmentSpec(hflip=0.5, crop=2)) == "crop 2, hflip 0.5"


@pytest.mark.parametrize(("value", "message"), [(2.5, "must be a whole number from 0 to 8"),
                                                (9, "out of range: allowed is 0 to 8")])
def test_crop_takes_whole_pixels_only(value, message):
    with pytest.raises(ValueError, match=f"augmentation crop={value}.*{message}"):
        AugmentSpec(crop=value)


def test_moved_moves_every_image_by_exactly_its_pixels(tiny):
    x = torch.zeros(40, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    out = moved(x, 3)
    where = torch.stack([(img[0] == 1).nonzero()[0] for img in out]) - 4
    assert torch.equal(where.abs().sum(1), torch.full((40,), 3))  # exactly 3 px along one axis
    assert len({tuple(w.tolist()) for w in where}) == 4  # right, left, down, up
    assert torch.equal(moved(x, 3), out) and moved(x, 0) is x
    edge = torch.ones(4, 1, 8, 8)
    assert int((moved(edge, 2) == 0).sum()) == 4 * 2 * 8  # the space left behind is zero
    for bad in (-1, 8, 1.5):
        with pytest.raises(ValueError, match="pixels="):
            moved(x, bad)
    with pytest.raises(ValueError, match="needs images"):
        moved(torch.rand(4, 30), 1)


def test_shift_accuracies_on_moved_sets_and_on_validation(tiny):
    base = RunConfig(model="mlp", epochs=1, batch_size=32)
    table = compare({"none": base}, tiny, seeds=(0,), progress=False,
                    extra_metrics=shift_accuracies(("clean", "darker"), moves=(2,)))
    assert {"acc_clean", "acc_darker", "acc_moved_2"} <= set(table.columns) and "acc_shifted" not in table.columns
    assert table["acc_clean"].iloc[0] == pytest.approx(table["test_acc"].iloc[0])
    val = compare({"none": base}, tiny, seeds=(0,), progress=False,
                  extra_metrics=shift_accuracies(("clean", "rotated"), split="val"))
    assert val["val_acc_clean"].iloc[-1] == pytest.approx(val["val_acc"].iloc[-1])  # the kept epoch's validation acc
    assert "acc_rotated" not in val.columns and "val_acc_rotated" in val.columns
    with pytest.raises(ValueError, match="split='train'"):
        shift_accuracies(split="train")


def test_swap_rate_counts_a_read_as_b_and_confusions_sum_over_seeds(tiny):
    base = RunConfig(model="mlp", epochs=1, batch_size=32)
    models = {}
    table = compare({"none": base}, tiny, seeds=(0, 1), progress=False, models=models, extra_metrics=swap_rate(0, 1))
    run = table.iloc[-1]
    predicted = predict_labels(models[("none", 1)], tiny.x_test)
    y = tiny.y_test
    expected = (float(((y == 0) & (predicted == 1)).sum() / (y == 0).sum())
                + float(((y == 1) & (predicted == 0)).sum() / (y == 1).sum())) / 2
    assert run["swap_0_1"] == pytest.approx(expected) and 0.0 <= run["other_errors"] <= 1.0
    counts = confusion(models, tiny, "none")
    assert counts.shape == (tiny.num_classes, tiny.num_classes) and counts.sum() == 2 * len(y)
    assert isinstance(plot_confusions(models, tiny, ["none"]), Figure)
    assert isinstance(plot_shifted_sets(tiny.x_test, shifts=("clean",), moves=(1, 2), n=4), Figure)
    with pytest.raises(ValueError, match="config='cnn' has no models"):
        confusion(models, tiny, "cnn")


def test_augment_knobs_drive_the_panel_config():
    knobs = augment_knobs(RunConfig(model="cnn", epochs=7, patience=3))
    by_name = {k.name: k for k in knobs}
    assert [k.name for k in knobs][:3] == ["model", "hflip", "crop"] and by_name["crop"].kind == "int"
    assert by_name["epochs"].default == 7 and by_name["patience"].default == 3 and by_name["model"].default == "cnn"
    config = config_with_augment(RunConfig(), {"hflip": 0.5, "crop": 2, "patience": 4})
    assert config.augment == AugmentSpec(hflip=0.5, crop=2) and config.patience == 4
    with pytest.raises(ValueError, match="not augmentations"):
        augment_knobs(RunConfig(), ("twist",))


def test_gallery_crop_slider_moves_in_whole_pixels(tiny):
    gallery = AugmentGallery(tiny)
    assert gallery.sliders["crop"].step == 1.0 and gallery.sliders["crop"].max == 8.0
    gallery.set_values(crop=3)
    assert gallery.spec() == AugmentSpec(crop=3) and "crop 3" in gallery.status.value
