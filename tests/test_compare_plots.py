import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from dlopt_kit.core.compare import compare, label_configs, summarize
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.plots import figure_png, plot_comparison, plot_history, plot_summary
from dlopt_kit.core.training import fit

BASE = RunConfig(model="mlp", epochs=2, batch_size=32)


@pytest.fixture(scope="module")
def table(tiny):
    return compare([BASE, BASE.replace(lr=1e-2)], tiny, seeds=(0, 1), progress=False)


def test_compare_is_tidy(table):
    assert len(table) == 2 * 2 * 2
    assert {"config", "seed", "epoch", "val_acc", "test_acc", "stop_reason"} <= set(table.columns)
    assert sorted(table["config"].unique()) == ["lr=0.001", "lr=0.01"]
    per_run = table.groupby(["config", "seed"])["test_acc"].nunique()
    assert (per_run == 1).all()


def test_compare_repeats_exactly(tiny, table):
    again = compare([BASE, BASE.replace(lr=1e-2)], tiny, seeds=(0, 1), progress=False)
    assert again["val_loss"].tolist() == table["val_loss"].tolist()


def test_summarize(table):
    summary = summarize(table)
    assert list(summary.columns) == ["config", "mean", "std", "min", "max"]
    assert (summary["min"] <= summary["mean"]).all() and (summary["mean"] <= summary["max"]).all()
    with pytest.raises(ValueError, match="metric='f1'"):
        summarize(table, "f1")


def test_mapping_labels_and_bad_input(tiny):
    table = compare({"small lr": BASE, "large lr": BASE.replace(lr=0.01)}, tiny, seeds=(0,), progress=False,
                    fit_fn=fit)
    assert list(table["config"].unique()) == ["small lr", "large lr"]
    with pytest.raises(ValueError, match="differ in something other than seed"):
        compare([BASE, BASE.replace(seed=3)], tiny, seeds=(0,))
    with pytest.raises(ValueError, match="at least one config"):
        compare([], tiny)
    with pytest.raises(ValueError, match="at least one seed"):
        compare([BASE], tiny, seeds=())
    assert label_configs([BASE, BASE.replace(model="cnn", lr=0.1)]) == ["model=mlp, lr=0.001", "model=cnn, lr=0.1"]


def test_plots_return_figures_and_use_given_axes(table, tiny):
    fig = plot_comparison(table, "val_acc")
    assert isinstance(fig, Figure)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["lr=0.001", "lr=0.01"]
    assert "2 seeds" in fig.axes[0].get_title()
    fig2, ax = plt.subplots()
    assert plot_comparison(table, "train_loss", ax=ax) is fig2
    assert isinstance(plot_summary(table), Figure)
    with pytest.raises(ValueError, match="metric='bogus'"):
        plot_comparison(table, "bogus")
    history_fig = plot_history(fit(BASE, tiny, progress=False).history)
    assert len(history_fig.axes) == 2 and history_fig.axes[0].get_ylabel() == "loss"
    assert figure_png(history_fig).startswith(b"\x89PNG")


def test_summarize_keeps_the_order_of_the_configs(tiny):
    configs = {"c": BASE, "a": BASE.replace(lr=1e-2), "b": BASE.replace(lr=3e-2)}
    table = compare(configs, tiny, seeds=(0,), progress=False)
    assert summarize(table)["config"].tolist() == ["c", "a", "b"]


def test_compare_refuses_repeated_seeds_before_training(tiny):
    calls = []

    def counting_fit(*args, **kwargs):
        calls.append(1)
        return fit(*args, **kwargs)

    with pytest.raises(ValueError, match="repeats a seed"):
        compare([BASE], tiny, seeds=(0, 0), fit_fn=counting_fit)
    assert calls == []


def test_plot_summary_draws_one_line_per_seed_and_the_mean(table):
    fig = plot_summary(table, "test_acc")
    ax = fig.axes[0]
    assert len(ax.lines) >= 2  # one line per seed joining its runs
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lr=0.001", "lr=0.01"]
    with pytest.raises(ValueError, match="metric='nope'"):
        plot_summary(table, "nope")
    plt.close(fig)
    best = plot_summary(table, "val_loss", at="best").axes[0]  # each seed's dots sit at its lowest val_loss
    lowest = table.groupby(["config", "seed"])["val_loss"].min()
    for line, seed in zip(best.lines[:2], sorted(table["seed"].unique()), strict=True):
        assert list(line.get_ydata()) == [lowest[(c, seed)] for c in ["lr=0.001", "lr=0.01"]]
    with pytest.raises(ValueError, match="at='first'"):
        plot_summary(table, "val_loss", at="first")


def test_plot_examples_one_row_per_class(tiny):
    from dlopt_kit.core.plots import plot_examples

    fig = plot_examples(tiny, per_class=4)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == tiny.classes
    assert fig.axes[0].images[0].get_array().shape[:2] == (10 * 30 + 2, 4 * 30 + 2)
    with pytest.raises(ValueError, match="needs image data"):
        from dlopt_kit.core.data import load_splits

        plot_examples(load_splits("breast_cancer"))


def test_best_epochs_are_those_of_the_lowest_validation_loss(table):
    from dlopt_kit.core.compare import best_epochs

    best = best_epochs(table)
    assert list(best.index) == ["lr=0.001", "lr=0.01"] and list(best.columns) == [0, 1]
    for (config, seed), run in table.groupby(["config", "seed"]):
        assert best.loc[config, seed] == run.loc[run["val_loss"].idxmin(), "epoch"]


def test_compare_keeps_models_and_best_rows_follow_the_monitor(tiny):
    from dlopt_kit.core.compare import best_rows
    from dlopt_kit.core.training import evaluate

    models = {}
    config = BASE.replace(monitor="val_acc", epochs=3)
    table = compare({"acc": config}, tiny, seeds=(0, 1), progress=False, models=models)
    assert set(models) == {("acc", 0), ("acc", 1)}
    best = best_rows(table)
    assert len(best) == 2 and (best["epoch"] == best["best_epoch"]).all()
    for _, row in best.iterrows():  # the kept model is the best epoch's: first epoch with the highest val_acc
        run = table[table["seed"] == row["seed"]]
        assert row["epoch"] == run.loc[run["val_acc"].idxmax(), "epoch"]
        assert evaluate(models[("acc", row["seed"])], tiny.x_val, tiny.y_val)[1] == row["val_acc"]


def test_regularization_plots(tiny):
    import matplotlib.pyplot as plt

    from dlopt_kit.regularization.plots import plot_regularization, plot_weight_histograms

    result = fit(BASE.replace(l1=1e-3), tiny, progress=False, measure_train=True)
    fig = plot_regularization(result.history)
    acc, loss, norm = fig.axes
    assert acc.get_legend_handles_labels()[1] == ["train (eval mode)", "val", "gap"]
    assert list(norm.lines[0].get_ydata()) == result.history[:, "weight_norm"]
    plt.close(fig)
    plain = fit(BASE, tiny, progress=False).model
    fig = plot_weight_histograms({"none": plain, "L1": result.model})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels[0].startswith("none: ") and "|w| < 0.001" in labels[1]
    assert fig.axes[0].get_yscale() == "log"
    plt.close(fig)
