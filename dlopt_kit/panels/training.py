"""The training panel every lesson reuses: controls from a spec, Run and Stop, a live plot, a progress bar and a
results table that keeps every run (validation metrics only: the test split is for the experiment cell).

Training runs in a background thread so the kernel stays responsive and Stop works. The panel is a thin view:
``values()`` reads the controls, ``make_config`` turns them into a validated ``RunConfig``, ``fit`` trains.
A test (or the cell after the panel) drives it with ``panel.run(lr=0.01)``, which sets the controls, clicks
Run and waits.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import ipywidgets as W
import pandas as pd
from matplotlib.figure import Figure

from dlopt_kit.core import checks
from dlopt_kit.core.callbacks import LambdaCallback, StopOnEvent, StopReason
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.plots import figure_png, plot_comparison, plot_history
from dlopt_kit.core.training import FitResult, fit

# ``x as x``: re-exported, lessons and tests import them from here, where they were first written
from dlopt_kit.panels.base import CONTROL_MIN_WIDTH as CONTROL_MIN_WIDTH
from dlopt_kit.panels.base import Control, PanelControls, RunStopPanel, build_control, control_grid
from dlopt_kit.panels.base import control_value as control_value

MAX_SEEDS = 3


def default_spec(base: RunConfig, datasets: Sequence[str] = ("fashion_mnist",)) -> list[Control]:
    """The first lesson's knobs: dataset, model, optimizer, lr, epochs, batch size, and seeds (1 to 3)."""
    return [Control("dataset", "choice", datasets[0], tuple(datasets)),
            Control("model", "choice", base.model, ("cnn", "mlp")),
            Control("optimizer", "choice", base.optimizer, ("adam", "adamw", "sgd")),
            Control("lr", "float", base.lr),
            Control("epochs", "int", base.epochs),
            Control("batch_size", "int", base.batch_size, label="batch size"),
            Control("seeds", "int", 1)]


def seed_band_plot(histories: Sequence[Any]) -> Figure:
    """The live figure of a run repeated over seeds: validation loss and accuracy per epoch, the mean over the seeds
    trained so far with a band of one std (``plot_comparison``)."""
    frames = [h.to_frame().assign(seed=i, config=f"{len(histories)} seed{'s' if len(histories) > 1 else ''}")
              for i, h in enumerate(histories)]
    table = pd.concat(frames, ignore_index=True)
    fig = Figure(figsize=(8, 3))
    for ax, metric in zip(fig.subplots(1, 2), ("val_loss", "val_acc"), strict=True):
        plot_comparison(table, metric, ax=ax)
    fig.tight_layout()
    return fig


def seed_count(values: dict[str, Any]) -> int:
    """How many seeds a run repeats over: the ``seeds`` control (1 to 3), or 1 for a panel without one."""
    return checks.whole("seeds", values.get("seeds", 1), 1, MAX_SEEDS)


def seed_row(results: Sequence[FitResult], metrics: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The results row of a run repeated over seeds: each metric's mean over the seeds, with its std in a
    ``<metric> ±`` column; epochs run and best epochs listed per seed. One seed gives the plain row."""
    if len(results) == 1:
        return {"epochs run": len(results[0].history), "best epoch": results[0].best_epoch, **metrics[0]}
    row: dict[str, Any] = {"epochs run": ", ".join(str(len(r.history)) for r in results),
                           "best epoch": ", ".join(str(r.best_epoch) for r in results)}
    for key in metrics[0]:
        values = [m[key] for m in metrics]
        if all(isinstance(v, (int, float)) and v is not None for v in values):
            row[key] = float(pd.Series(values, dtype=float).mean())
            row[f"{key} ±"] = float(pd.Series(values, dtype=float).std())
        else:
            row[key] = values[-1]
    return row


def config_from_values(base: RunConfig, values: dict[str, Any]) -> RunConfig:
    """``base`` with every value whose name is a RunConfig field (raises ValueError naming a bad one)."""
    fields = set(RunConfig.__dataclass_fields__)
    return base.replace(**{k: v for k, v in values.items() if k in fields})


def best_epoch_metrics(result: FitResult, data: Splits, values: dict[str, Any]) -> dict[str, Any]:
    """The default columns of a panel's results table: the validation loss and accuracy of the best epoch."""
    best = next((r for r in result.history if r["epoch"] == result.best_epoch), None)
    return {"val_loss": best["val_loss"] if best else None, "val_acc": best["val_acc"] if best else None}


def default_live_plot(history: Any) -> Figure:
    """The panel's figure after each epoch: ``plot_history``'s loss and accuracy curves."""
    return plot_history(history, axes=Figure(figsize=(8, 3)).subplots(1, 2))


class TrainingPanel(PanelControls, RunStopPanel):
    """Run/Stop panel over ``fit``. ``data`` is a ``Splits`` or a function of the control values returning one.

    ``row_metrics(result, data, values)`` gives the columns each finished run adds to the results table (default:
    the best epoch's validation loss and accuracy); ``live_plot(history)`` draws the figure shown after each epoch
    (default: ``plot_history``'s loss and accuracy curves) on a ``matplotlib.figure.Figure``, not pyplot (the model
    being trained is ``panel.model`` then);
    ``table_values(values)`` picks the settings each results row shows (default: every control's value). A panel
    reads validation data only: the test split is kept for the experiment cell that checks the lesson's claim.
    """

    def __init__(self, data: Splits | Callable[[dict], Splits], base: RunConfig | None = None,
                 spec: Sequence[Control] | None = None,
                 make_config: Callable[[RunConfig, dict], RunConfig] = config_from_values,
                 fit_fn: Callable[..., FitResult] = fit, title: str = "Train a model",
                 row_metrics: Callable[[FitResult, Splits, dict], dict[str, Any]] = best_epoch_metrics,
                 live_plot: Callable[[Any], Figure] | None = None,
                 table_values: Callable[[dict], dict] | None = None) -> None:
        self.base = base or RunConfig()
        self.table_values = table_values or (lambda values: values)
        self.live_plot = live_plot or default_live_plot
        self.row_metrics = row_metrics
        self.spec = list(spec) if spec is not None else default_spec(self.base)
        self.data_fn = data if callable(data) else (lambda values: data)
        self.make_config, self.fit_fn = make_config, fit_fn
        self.controls = {c.name: build_control(c) for c in self.spec}
        super().__init__()  # Run, Stop, the status line and the worker thread
        self.progress = W.IntProgress(value=0, min=0, max=1, description="idle")
        # hidden until the first epoch has drawn it: an empty image shows as a broken-image icon
        self.plot = W.Image(format="png", layout=W.Layout(max_width="640px", display="none"))
        self.table = W.HTML()
        self.results: list[FitResult] = []
        self.model: Any = None  # the model being trained, as of the last finished epoch
        self.rows: list[dict[str, Any]] = []
        knobs = control_grid(list(self.controls.values()))
        self.widget = W.VBox([W.HTML(f"<b>{html.escape(title)}</b>"), knobs,
                              W.HBox([self.run_button, self.stop_button, self.progress]), self.status,
                              self.plot, self.table])

    # ------------------------------------------------------------ Run
    def start(self) -> Callable[[], object] | None:
        """The config and data the controls name, or None (said in the status line) when a setting is bad."""
        values = self.values()
        try:
            seeds = seed_count(values)
            config = self.make_config(self.base, values)
            data = self.data_fn(values)
        except (ValueError, RuntimeError) as exc:  # a bad setting: say so, keep every earlier result
            return self._not_started(exc)
        self.progress.max = max(1, seeds * config.epochs * -(-len(data.y_train) // config.batch_size))
        self.progress.value, self.progress.description = 0, "training"
        over = f" over {seeds} seeds" if seeds > 1 else ""
        self._say(f"Run {len(self.rows) + 1}: training {config.model} on {data.name}{over}…", "black")
        return partial(self._train, config, data, values)

    def run(self, wait: bool = True, **values: Any) -> FitResult | None:
        """Set controls, click Run and (by default) wait: what a learner does, from code. A value the panel cannot
        take is shown in its status line, like a bad value typed in, and nothing runs (returns None)."""
        before = len(self.results)
        if not self._press_run(wait, values):
            return None
        return self.results[-1] if len(self.results) > before else None

    # ------------------------------------------------------------ the worker thread
    def _train(self, config: RunConfig, data: Splits, values: dict[str, Any]) -> None:
        started = time.perf_counter()
        seeds = seed_count(values)
        done: list[FitResult] = []
        steps_before = 0

        def on_epoch(history: Any, state: Any = None, **_: Any) -> None:
            self.model = state.model if state is not None else None  # a live plot may draw from it (lesson 01)
            figure = self.live_plot(history) if seeds == 1 else seed_band_plot([r.history for r in done] + [history])
            self.plot.value = figure_png(figure)  # a Figure, not pyplot: this is not the main thread
            self.plot.layout.display = None

        def on_step(state: Any, **_: Any) -> None:
            self.progress.value = min(steps_before + state.step, self.progress.max)

        for seed in range(config.seed, config.seed + seeds):  # a failure is shown by RunStopPanel; results stay
            result = self.fit_fn(config.replace(seed=seed), data, progress=False,
                                 callbacks=[StopOnEvent(self._stop), LambdaCallback(on_epoch, on_step, every=5)])
            done.append(result)
            steps_before = self.progress.value
            if StopReason.of(result.stop_reason) in (StopReason.STOPPED, StopReason.INTERRUPTED):
                break  # Stop ends the whole run: the seeds trained so far make its row
        metrics = [self.row_metrics(r, data, values) for r in done]
        self.results.extend(done)
        result = done[-1]
        self.rows.append({"run": len(self.rows) + 1, **self.table_values(values), **seed_row(done, metrics),
                          "seconds": round(time.perf_counter() - started, 1),
                          "ended": StopReason.head(result.stop_reason)})
        self.table.value = self.results_frame().to_html(index=False, float_format="{:.3f}".format, na_rep="")
        colour = "crimson" if StopReason.of(result.stop_reason) is StopReason.DIVERGED else "green"
        row = self.rows[-1]
        shown = ", ".join(f"{k} {row[k]:.3f}" + (f" ± {row[k + ' ±']:.3f}" if k + " ±" in row else "")
                          for k, v in metrics[-1].items() if isinstance(v, float) and not math.isnan(row[k]))
        by = "validation accuracy" if config.monitor == "val_acc" else "validation loss"
        over = f" (mean over {len(done)} seeds)" if len(done) > 1 else ""
        self._say(f"Run {len(self.rows)}: {html.escape(result.stop_reason)}; best epoch "
                  f"{row['best epoch']} (by {by}){over}{': ' + shown if shown else ''}.", colour)

    def on_done(self) -> None:
        self.progress.value = self.progress.max
        self.progress.description = "idle"

    # ------------------------------------------------------------ results
    def results_frame(self) -> pd.DataFrame:
        """Every finished run of this panel, one row each, for side-by-side comparison."""
        return pd.DataFrame(self.rows)


def dataset_loader(budget_train: int | None, budget_eval: int | None) -> Callable[[dict], Splits]:
    """A panel data function: the dataset named by the ``dataset`` control, at the budget's size, loaded once."""
    from functools import lru_cache

    from dlopt_kit.core.data import load_splits

    @lru_cache(maxsize=4)
    def load(name: str) -> Splits:
        return load_splits(name, budget_train, budget_eval)

    return lambda values: load(values.get("dataset", "fashion_mnist"))
