"""Lesson 09's sandbox: every strategy's knobs in one panel, configs queued and run one after another over N seeds,
overlaid curves with bands, what differs between the configs, paired verdicts, and every run kept in the sandbox's
SQLite store (so the results come back after a kernel restart). A panel's settings save to and load from a recipe.

Verdicts and the table read validation accuracy at each run's kept epoch: the sandbox is where you choose, so the
test split stays out of it (``python -m dlopt_kit compare`` and the lesson's worked question report test accuracy,
once, for the configs chosen).

The "data file" box (``SandboxPanel.data_box``) takes a ``.csv`` or ``.npz`` file of yours instead of the dataset
menu (empty: the menu's dataset); a relative path is read against the notebook's folder. The file is checked when the
settings are queued: a bad file, or a model that cannot read it (a CNN on features), is one line in the status and
nothing already shown changes.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as W
import pandas as pd
from matplotlib.figure import Figure

from dlopt_kit.core import checks
from dlopt_kit.core.augment import AugmentSpec
from dlopt_kit.core.callbacks import LambdaCallback, StopOnEvent, StopReason
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.own_data import is_data_file
from dlopt_kit.core.plots import figure_png, plot_comparison
from dlopt_kit.core.schedules import KINDS as SCHEDULES
from dlopt_kit.panels.base import Control, PanelControls, RunStopPanel, build_control, control_grid
from dlopt_kit.sandbox.engine import check_recipe, run_recipe, verdicts
from dlopt_kit.sandbox.recipes import CORRUPTIONS, Recipe, RecipeError, diff, load_recipe, recipe_from_dict
from dlopt_kit.sandbox.store import DEFAULT, Store

IMAGE_SETS = ("fashion_mnist", "mnist5k", "digits")
AUGMENT = ("rotate", "translate", "scale", "hflip", "brightness", "erase")
STOPPED = StopReason.STOPPED.value


def sandbox_spec(base: RunConfig) -> list[Control]:
    """The sandbox's knobs, by strategy: data and corruption, augmentation, model, regularisation, optimisation."""
    return [Control("dataset", "choice", "fashion_mnist", IMAGE_SETS),
            Control("train_per_class", "int", 100, label="train per class (0 = all)"),
            Control("corruption", "choice", "none", ("none", *CORRUPTIONS)),
            Control("corruption_rate", "float", 0.2, label="corruption rate"),
            *[Control(a, "float", 0.0, label=f"augment {a}") for a in AUGMENT],
            Control("model", "choice", base.model, ("mlp", "cnn", "linear", "rnn")),
            Control("hidden", "int", base.hidden),
            Control("batch_norm", "bool", base.batch_norm, label="batch norm"),
            Control("dropout", "float", base.dropout),
            Control("input_dropout", "float", base.input_dropout, label="input dropout"),
            Control("l2", "float", base.l2, label="L2 (in the loss)"),
            Control("weight_decay", "float", base.weight_decay, label="weight decay"),
            Control("label_smoothing", "float", base.label_smoothing, label="label smoothing"),
            Control("patience", "int", base.patience, label="early stopping patience (0 = off)"),
            Control("optimizer", "choice", base.optimizer, ("adam", "adamw", "sgd")),
            Control("lr", "float", base.lr),
            Control("momentum", "float", base.momentum, label="momentum (sgd)"),
            Control("schedule", "choice", base.schedule.kind, SCHEDULES),
            Control("grad_clip", "float", base.grad_clip or 0.0, label="clip grad norm (0 = off)"),
            Control("batch_size", "int", base.batch_size, label="batch size"),
            Control("epochs", "int", base.epochs),
            Control("seeds", "int", 3)]


class SandboxPanel(PanelControls, RunStopPanel):
    """The sandbox. ``recipe()`` is what the controls and the name box say (with, from the last recipe loaded, its
    seeds while their number is unchanged, its validation/test size, its schedule's parameters while the kind is
    unchanged and the augmentations and settings that have no knob here); Add queues it (under ``name (2)``, ...
    when the name is already in the store or the queue: kept results are never overwritten), Run runs the queue (or
    the current settings when the queue is empty), Stop ends the run in progress and keeps what finished (a stopped
    config keeps its finished seeds and the stopped seed's history, which the verdicts leave out; the configs not
    started go back to the queue). Every run goes into ``store`` (default ``runs/sandbox.sqlite``), and the
    results (table, curves, diff, verdicts) are drawn from the store: a new panel on the same file shows them again.
    ``save(path)`` / ``load(path)`` write and read a recipe; a recipe's settings that have no control here (class
    weights, say) are kept and travel with it. ``run(**values)`` does from code what setting the controls and Run do.
    ``data_box`` (a text box) names a data file of yours, ``.csv`` or ``.npz``, used instead of the dataset menu when
    it is not empty; it is checked when queued."""

    def __init__(self, base: RunConfig | None = None, store: Store | str | Path = DEFAULT,
                 title: str = "Lesson 09: the sandbox") -> None:
        self.base = base or RunConfig(model="mlp", hidden=128, lr=1e-3, batch_size=64, epochs=8, monitor="val_acc")
        self.store = store if isinstance(store, Store) else Store(store)
        self.spec = sandbox_spec(self.base)
        self.controls = {c.name: build_control(c) for c in self.spec}
        self.name_box = W.Text(value="baseline", description="name", style={"description_width": "initial"})
        self.path_box = W.Text(value="recipe.yaml", description="recipe file", style={"description_width": "initial"})
        self.data_box = W.Text(value="", description="data file", placeholder="empty = the dataset menu; .csv or .npz",
                               style={"description_width": "initial"})
        self.add_button = W.Button(description="Add to queue", icon="plus")
        self.clear_button = W.Button(description="Clear queue", icon="trash")
        super().__init__()  # Run, Stop, the status line and the worker thread
        self.save_button = W.Button(description="Save recipe", icon="save")
        self.load_button = W.Button(description="Load recipe", icon="folder-open")
        self.progress = W.IntProgress(value=0, min=0, max=1, description="idle")
        self.queue_view, self.table, self.diff_view, self.verdict_view = (W.HTML() for _ in range(4))
        self.plot = W.Image(format="png", layout=W.Layout(max_width="640px", display="none"))
        self.queue: list[Recipe] = []
        self._in_flight: set[str] = set()  # names of the configs the worker thread is running
        self.template: Recipe | None = None  # the last recipe loaded: what the panel has no knob for comes from it
        self.finished = 0  # configs run by this panel
        self.add_button.on_click(lambda _b: self.add())
        self.clear_button.on_click(lambda _b: self.clear())
        self.save_button.on_click(lambda _b: self.save(self.path_box.value))
        self.load_button.on_click(lambda _b: self.load(self.path_box.value))
        self.widget = W.VBox([
            W.HTML(f"<b>{html.escape(title)}</b>"),
            control_grid([self.name_box, self.data_box, *self.controls.values()]),
            W.HBox([self.add_button, self.clear_button, self.run_button, self.stop_button, self.progress]),
            W.HBox([self.path_box, self.save_button, self.load_button]), self.status, self.queue_view, self.plot,
            self.table, self.diff_view, self.verdict_view])
        self.refresh()

    # ------------------------------------------------------------ settings <-> recipes
    def recipe(self) -> Recipe:
        """The recipe the controls describe (RecipeError naming a bad field)."""
        v = self.values()
        name = self.name_box.value.strip()
        n_seeds = checks.whole("seeds", v["seeds"], 2, 20)
        t = self.template
        seeds = list(t.seeds) if t is not None and len(t.seeds) == n_seeds else list(range(n_seeds))
        config = {k: v[k] for k in ("model", "hidden", "batch_norm", "dropout", "input_dropout", "l2",
                                    "weight_decay", "label_smoothing", "patience", "optimizer", "lr", "momentum",
                                    "batch_size", "epochs")}
        # the base's schedule keeps its parameters while the kind is unchanged; augmentations without a knob stay
        base = self.base.to_dict()
        config["schedule"] = base["schedule"] if base["schedule"]["kind"] == v["schedule"] else {"kind": v["schedule"]}
        config["grad_clip"] = None if v["grad_clip"] == 0 else v["grad_clip"]
        config["augment"] = {k: x for k, x in {**base["augment"], **{a: v[a] for a in AUGMENT}}.items() if x}
        kept = {k: val for k, val in base.items() if k not in config and k != "seed"}
        corruption = None if v["corruption"] == "none" else {"kind": v["corruption"], "rate": v["corruption_rate"]}
        train = checks.whole("train per class", v["train_per_class"], 0)
        data_file = self.data_box.value.strip()
        if data_file and not is_data_file(data_file):
            raise RecipeError(f"data file {data_file!r}: give a file ending in .csv or .npz, or leave the box empty "
                              "for the dataset menu")
        label_column = t.label_column if t is not None and t.dataset == data_file else None
        return recipe_from_dict({"version": 1, "name": name, "dataset": data_file or v["dataset"],
                                 "label_column": label_column,
                                 "train_per_class": train or None,
                                 "eval_per_class": t.eval_per_class if t is not None else 100,
                                 "seeds": seeds, "corruption": corruption,
                                 "config": {**kept, **config}}, "settings")

    def show(self, recipe: Recipe) -> None:
        """Set the controls and the name box from ``recipe``; its other settings become the panel's base."""
        c = recipe.config
        values = {"dataset": recipe.dataset, "train_per_class": recipe.train_per_class or 0,
                  "corruption": recipe.corruption[0] if recipe.corruption else "none",
                  "corruption_rate": recipe.corruption[1] if recipe.corruption else 0.2,
                  **{a: getattr(c.augment, a) for a in AUGMENT},
                  "model": c.model, "hidden": c.hidden, "batch_norm": c.batch_norm, "dropout": c.dropout,
                  "input_dropout": c.input_dropout, "l2": c.l2, "weight_decay": c.weight_decay,
                  "label_smoothing": c.label_smoothing, "patience": c.patience, "optimizer": c.optimizer,
                  "lr": c.lr, "momentum": c.momentum, "schedule": c.schedule.kind, "grad_clip": c.grad_clip or 0.0,
                  "batch_size": c.batch_size, "epochs": c.epochs, "seeds": len(recipe.seeds)}
        if is_data_file(recipe.dataset):
            values.pop("dataset")
        elif recipe.dataset not in IMAGE_SETS:
            raise RecipeError(f"{recipe.name}: dataset={recipe.dataset!r}: the sandbox panel runs "
                              f"{', '.join(IMAGE_SETS)}; compare it with python -m dlopt_kit compare instead")
        self.set_values(**values)
        self.data_box.value = recipe.dataset if is_data_file(recipe.dataset) else ""
        self.name_box.value = recipe.name
        self.base, self.template = c, recipe

    def save(self, path: str | Path, overwrite: bool = False) -> Path | None:
        """Write the current settings as a recipe file (YAML or JSON by suffix); a bad setting is named instead, and
        an existing file is kept unless ``overwrite`` (the Save button never overwrites)."""
        try:
            if Path(path).exists() and not overwrite:
                raise RecipeError(f"{path} already exists: give the recipe file another name (nothing was written)")
            written = self.recipe().save(path)
        except (ValueError, OSError) as exc:
            return self._refuse(f"Not saved: {exc}")
        self._say(f"Saved recipe {html.escape(self.name_box.value)} to {html.escape(str(written))}.", "green")
        return written

    def load(self, path: str | Path) -> Recipe | None:
        """Read and check a recipe file and show it in the controls; a bad file is named and nothing changes."""
        try:
            recipe = load_recipe(path)
            self.show(recipe)
        except (ValueError, OSError) as exc:
            return self._refuse(f"Not loaded: {exc}")
        self._say(f"Loaded recipe {html.escape(recipe.name)} from {html.escape(str(path))}.", "green")
        return recipe

    # ------------------------------------------------------------ the queue
    def add(self) -> Recipe | None:
        """Queue the current settings (a bad setting is named and nothing is queued)."""
        try:
            recipe = self.recipe()
            if is_data_file(recipe.dataset):  # read and checked now: a bad file is refused before anything runs
                check_recipe(recipe)
        except ValueError as exc:
            return self._refuse(f"Not queued: {exc}")
        free = self.store.free_name(recipe.name, {r.name for r in self.queue} | self._in_flight)
        note = ""
        if free != recipe.name:  # never join or overwrite kept results: the new config gets a name of its own
            note = f" (the name {recipe.name!r} was taken)"
            recipe = replace(recipe, name=free)
        self.queue.append(recipe)
        self.error = None
        self._show_queue()
        self._say(f"Queued {html.escape(recipe.name)}{html.escape(note)} ({len(self.queue)} in the queue).", "black")
        return recipe

    def clear(self) -> None:
        self.queue.clear()
        self._show_queue()

    def _show_queue(self) -> None:
        names = ", ".join(html.escape(r.name) for r in self.queue)
        self.queue_view.value = f"<b>queue:</b> {names}" if self.queue else ""

    # ------------------------------------------------------------ running
    def start(self) -> Callable[[], object] | None:
        """Take the queue (or queue the current settings when it is empty); None when a setting is bad."""
        if not self.queue and self.add() is None:
            return None
        queue, self.queue = list(self.queue), []
        self._in_flight = {r.name for r in queue}
        self._show_queue()
        self.progress.max = sum(len(r.seeds) * r.config.epochs for r in queue)
        self.progress.value, self.progress.description = 0, "training"
        return partial(self._run_queue, queue)

    def _run_queue(self, queue: list[Recipe]) -> None:
        # a failure is shown by RunStopPanel ("Run failed: ..."); the store keeps what finished
        for position, recipe in enumerate(queue):
            if self._stop.is_set():  # the configs not started go back to the queue
                self.queue = queue[position:] + self.queue
                self._show_queue()
                break
            self._say(f"Run {self.finished + 1}: training {html.escape(recipe.name)} over "
                      f"{len(recipe.seeds)} seeds…", "black")
            started = time.perf_counter()

            def on_epoch(history: Any, state: Any = None, name: str = recipe.name, **_: Any) -> None:
                self.progress.value = min(self.progress.value + 1, self.progress.max)
                so_far = pd.DataFrame(list(history)).assign(config=name, seed=0)
                axes = Figure(figsize=(6, 3)).subplots()
                self.plot.value = figure_png(plot_comparison(so_far, "val_acc", ax=axes))
                self.plot.layout.display = None

            table = run_recipe(recipe, callbacks=[StopOnEvent(self._stop), LambdaCallback(on_epoch)],
                               should_stop=self._stop.is_set)
            if table.empty:
                break
            kept = self.store.free_name(recipe.name)  # another process may have used the name meanwhile
            if kept != recipe.name:
                recipe, table = replace(recipe, name=kept), table.assign(config=kept)
            self.store.add(recipe, table)
            self.finished += 1
            ended = STOPPED if self._stop.is_set() else StopReason.COMPLETED.value
            self._say(f"Run {self.finished}: {ended}; {html.escape(recipe.name)}, {table['seed'].nunique()} "
                      f"seed(s) in {time.perf_counter() - started:.0f} s.", "green")
            self.refresh()

    def on_done(self) -> None:
        self._in_flight = set()
        self.progress.value, self.progress.description = self.progress.max, "idle"

    def run(self, wait: bool = True, name: str | None = None, **values: Any) -> pd.DataFrame | None:
        """Set controls (and the name), press Run and (by default) wait; returns the store's results (None if
        refused)."""
        if not self._set_or_refuse(values):
            return None
        if name is not None:
            self.name_box.value = name
        before = self.finished
        self.run_button.click()
        if wait:
            self.wait()
        return self.results_frame() if self.finished > before else None

    # ------------------------------------------------------------ results, from the store
    def results_frame(self, table: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per config in the store: its finished seeds, validation accuracy at the kept epoch (mean and std
        over those seeds), the mean kept epoch, and how its last run ended (a seed stopped by the user is counted
        in none of these, as in the verdicts). ``table``: the store's, when the caller has already read it."""
        table = self.store.table() if table is None else table
        if table.empty:
            return pd.DataFrame()
        names = list(pd.unique(table["config"]))
        ended = table.groupby("config", sort=False)["stop_reason"].agg(
            lambda s: STOPPED if (s == STOPPED).any() else StopReason.head(s.iloc[-1]))
        done = table[table["stop_reason"] != STOPPED]
        best = done[done["epoch"] == done["best_epoch"]].groupby("config", sort=False)
        frame = pd.DataFrame({"seeds": best["seed"].nunique(), "val_acc": best["val_acc"].mean(),
                              "val_acc std": best["val_acc"].std(), "best epoch": best["epoch"].mean()})
        frame = frame.reindex(names).assign(ended=ended)
        frame["seeds"] = frame["seeds"].fillna(0).astype(int)
        return frame.rename_axis("config").reset_index()

    def refresh(self) -> None:
        """Redraw the table, curves, diff and verdicts from the store."""
        table = self.store.table()
        if table.empty:
            return
        self.plot.value = figure_png(plot_comparison(table, "val_acc", ax=Figure(figsize=(6, 3)).subplots()))
        self.plot.layout.display = None
        differs = self.diff_frame()
        self.diff_view.value = ("" if differs.empty else
                                f"<b>what differs</b><pre>{html.escape(differs.to_string())}</pre>")
        lines = self.verdict_lines(table)
        self.verdict_view.value = ("" if not lines else "<b>paired verdicts (validation accuracy at the kept epoch; "
                                   "primary: the second config against the first)</b><ul>"
                                   + "".join(f"<li>{html.escape(v)}</li>" for v in lines) + "</ul>")
        # the table last: a new row means everything else about the run is already shown
        self.table.value = self.results_frame(table).to_html(index=False, float_format="{:.3f}".format, na_rep="")

    def diff_frame(self) -> pd.DataFrame:
        """What differs between the configs in the store, field by field (``recipes.diff``)."""
        names = self.store.names()
        return diff([self.store.recipe(n) for n in names]) if len(names) > 1 else pd.DataFrame()

    def verdict_lines(self, table: pd.DataFrame | None = None,
                      primary: tuple[str, str] | None = None) -> list[str]:
        """A verdict for every two configs in the store, on validation accuracy at the kept epoch (``verdicts``):
        ``primary`` (default: the second config in the store's order against the first) at alpha 0.05, every other
        pair exploratory and Holm-corrected; over the validation images and the seeds, or "seeds only" for runs
        kept before the store had per-example records. A seed stopped by the user is left out (its history stays
        in the store)."""
        table = self.store.table() if table is None else table
        if not table.empty:
            table = table[table["stop_reason"] != STOPPED]
        if table.empty or table["config"].nunique() < 2:
            return []
        return verdicts(table, "val_acc", at="best", primary=primary)

    def _refuse(self, message: str) -> None:
        self.error = message.split(": ", 1)[1]
        self._say(html.escape(message), "crimson")


__all__ = ["AugmentSpec", "SandboxPanel", "sandbox_spec"]
