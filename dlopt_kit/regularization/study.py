"""Lesson 05's experiment: every arm trained long, read at its last epoch (no checkpoint selection) and at the epoch
early stopping keeps, each arm's lr and strength chosen on validation.

``run_study`` trains configs x seeds two at a time (``core.processes.run_tasks``) and returns ``compare``'s table with
two more columns, ``last_test_loss`` and ``last_test_acc``: the test scores of the **last epoch's** weights, beside
``test_loss``/``test_acc`` of the weights ``fit`` keeps (its best epoch by validation loss, what early stopping with a
long enough patience keeps). ``choose`` picks, on validation, the best of a family of configs (one arm at several
lrs and strengths) among the configs that converged (``converged``); ``tune`` extends an arm's lr grid while its
choice sits at an edge; ``arm_table`` renames the chosen ones to their arm's name for the claims. ``stop_epoch`` says
where early stopping with a given patience ends a run, from its validation losses.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import pandas as pd
import torch

from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.compare import best_rows, final_epochs, run_frame
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.kept_epochs import last_fifth
from dlopt_kit.core.processes import run_tasks
from dlopt_kit.core.training import FitResult, check_fit, evaluate, fit

LRS = (3e-4, 1e-3)  # Adam's starting lrs; `tune` adds the next lr of `LR_LADDER` where an arm's choice sits at an edge
# the lrs an arm's grid may be extended to (``tune``) when its choice sits at an edge of the lrs it has tried
LR_LADDER = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
# epochs per run at lr 1e-3, by budget: long enough that every arm there keeps an epoch before the last fifth; more
# images (medium: 150 per class) overfit later and need more; `tune` doubles them where a lower lr needs it
EPOCHS = {"small": 120, "medium": 200, "full": 200}
# the MLP's arms at the shared lr: each a family of settings; validation picks one per family
MLP_ARMS: dict[str, dict[str, dict]] = {
    "none": {"none": {}},
    "L2": {f"L2 {s:g}": {"l2": s} for s in (1e-3, 3e-3, 1e-2, 3e-2)},
    "dropout": {"dropout": {"dropout": 0.5, "input_dropout": 0.2}},
}
# AdamW's decoupled weight decay, tuned on its own lr x strength grid against Adam + L2 (lesson 05's exercise 2);
# half-decade strengths around the lowest validation loss at lr 3e-4 in a trial grid (PyTorch multiplies each weight
# by 1 - lr * weight_decay per step)
ADAMW_ARMS: dict[str, dict[str, dict]] = {
    "AdamW": {f"AdamW {s:g}": {"optimizer": "adamw", "weight_decay": s} for s in (0.3, 1.0, 3.0)},
}
# L1 against L2 on logistic regression under SGD: each penalty at three strengths, validation picks one
LINEAR_ARMS: dict[str, dict[str, dict]] = {
    "none": {"none": {}},
    "L1": {f"L1 {s:g}": {"l1": s} for s in (3e-5, 1e-4, 3e-4)},
    "L2": {f"L2 {s:g}": {"l2": s} for s in (1e-3, 3e-3, 1e-2)},
}


def epochs_for(budget: str) -> int:
    """Lesson 05's epochs per run at the budget named ``budget`` (``EPOCHS``)."""
    if budget not in EPOCHS:
        raise ValueError(f"budget {budget!r} is not allowed: choose one of {', '.join(EPOCHS)}")
    return EPOCHS[budget]


def label(setting: str, lr: float) -> str:
    """The config label of ``setting`` at ``lr``: ``"L2 0.01 | lr 0.001"``."""
    return f"{setting} | lr {lr:g}"


def grid(base: RunConfig, arms: Mapping[str, Mapping[str, dict]], lrs: Sequence[float]) -> dict[str, RunConfig]:
    """Every setting of every arm at every lr, as ``label -> RunConfig`` (``base`` with the setting's changes)."""
    return {label(setting, lr): base.replace(lr=lr, **changes)
            for settings in arms.values() for setting, changes in settings.items() for lr in lrs}


def families(arms: Mapping[str, Mapping[str, dict]], lrs: Sequence[float]) -> dict[str, list[str]]:
    """Each arm's config labels in ``grid`` (the candidates ``choose`` picks from)."""
    return {arm: [label(setting, lr) for setting in settings for lr in lrs] for arm, settings in arms.items()}


def _fit_both(config: RunConfig, data: Splits) -> tuple[FitResult, float, float, dict[str, torch.Tensor]]:
    """One run: the result (its model holding the kept weights), the last epoch's test loss and accuracy, and the
    last epoch's weights."""
    result = fit(config, data, progress=False, restore_best=False)
    last_loss, last_acc = evaluate(result.model, data.x_test, data.y_test)
    last_state = {k: v.detach().clone() for k, v in result.model.state_dict().items()}
    result.restore_best()
    return result, last_loss, last_acc, last_state


def _cost(config: RunConfig) -> float:
    """A run's time relative to the plain model's, roughly: dropout's masks about double it."""
    return 2.0 if config.dropout or config.input_dropout else 1.0


def run_study(configs: Mapping[str, RunConfig], data: Splits, seeds: Sequence[int],
              models: dict | None = None, kept_models: dict | None = None) -> pd.DataFrame:
    """Train every config with every seed (two runs at a time where the CPU has the cores) and return ``compare``'s
    table (one row per config, seed and epoch; ``test_loss``/``test_acc`` of the kept weights) with
    ``last_test_loss``/``last_test_acc``, the test scores of the last epoch's weights. With a dict as ``models`` it
    keeps every run's model with its **last epoch's** weights under ``(label, seed)``; with a dict as ``kept_models``, a
    copy with its kept weights (its best epoch by validation loss, what early stopping keeps). Used by lesson 05."""
    if not configs:
        raise ValueError("run_study needs at least one config")
    seeds = checks.seeds("seeds", seeds)
    for config in configs.values():
        check_fit(config, data)
    runs = [(name, seed) for name in configs for seed in seeds]
    # the costliest runs first (dropout draws a mask for every input pixel), so that no worker is left with one at the
    # end while the other waits; every run seeds itself, so the order changes no number
    order = sorted(range(len(runs)), key=lambda i: -_cost(configs[runs[i][0]]))
    done: list = [None] * len(runs)
    for i, result in zip(order, run_tasks(_fit_both, [(configs[runs[i][0]].replace(seed=runs[i][1]), data)
                                                       for i in order]), strict=True):
        done[i] = result
    frames = []
    for (name, seed), (result, last_loss, last_acc, last_state) in zip(runs, done, strict=True):
        frame = run_frame(name, seed, result, data)
        frame["last_test_loss"], frame["last_test_acc"] = last_loss, last_acc
        frames.append(frame)
        if kept_models is not None:
            kept_models[(name, seed)] = copy.deepcopy(result.model)
        if models is not None:
            result.model.load_state_dict(last_state)
            models[(name, seed)] = result.model
    return pd.concat(frames, ignore_index=True)


def validation_scores(table: pd.DataFrame, candidates: Sequence[str], metric: str = "val_loss",
                      at: str = "last") -> pd.Series:
    """``metric`` at the last epoch of each candidate config (with ``at="best"``: at its kept epoch, the best by
    validation loss, what early stopping keeps), the mean over seeds, in the candidates' order."""
    if at not in ("last", "best"):
        raise ValueError(f"at={at!r} is not allowed: choose 'last' (the last epoch) or 'best' (the kept epoch)")
    last = final_epochs(table) if at == "last" else best_rows(table.reset_index(drop=True))
    missing = [c for c in candidates if c not in set(last["config"])]
    if missing:
        raise ValueError(f"config(s) {missing} are not in the table")
    return last[last["config"].isin(candidates)].groupby("config")[metric].mean().reindex(list(candidates))


def converged(table: pd.DataFrame, candidates: Sequence[str]) -> pd.Series:
    """Whether each candidate config had stopped improving before its epochs ran out: its kept epoch (best validation
    loss) lies before the last fifth of its epochs in at least half of its seeds (the claims' kept-epoch check, which
    fails an arm whose kept epoch is in the last fifth in most seeds). A boolean Series in the candidates' order."""
    table = table.reset_index(drop=True)  # one row per label, whatever the table was concatenated from
    kept = best_rows(table).set_index(["config", "seed"])["epoch"]
    ran = table.groupby(["config", "seed"])["epoch"].max()
    out = {}
    for config in candidates:
        if config not in kept.index.get_level_values(0):
            raise ValueError(f"config {config!r} is not in the table")
        runs = ran.loc[config]
        late = [s for s, budget in runs.items() if kept.loc[(config, s)] > budget - last_fifth(int(budget))]
        out[config] = len(late) <= len(runs) / 2
    return pd.Series(out, name="converged").reindex(list(candidates))


def choose(table: pd.DataFrame, candidates: Sequence[str], metric: str = "val_loss",
           converged_only: bool = True, at: str = "last") -> str:
    """The candidate config with the best ``metric`` at the last epoch, mean over seeds (the lowest for a loss, the
    highest for an accuracy): the choice made on validation, never on test. With ``converged_only`` (the default)
    only configs that had stopped improving before their epochs ran out (``converged``) are candidates (in a dry
    run, whose capped epochs converge nothing, every config is when none converged). With ``at="best"`` the choice
    reads each config at its kept epoch (``validation_scores``): the choice for an early-stopped reading."""
    if not str(metric).startswith("val_"):
        raise ValueError(f"metric={metric!r}: choose on a validation column (val_loss, val_acc), never on test")
    if converged_only:
        ok = converged(table, candidates)
        kept = [c for c in candidates if ok[c]]
        if not kept and not dry.dry_run():  # a dry run's capped epochs converge nothing: it only proves the code runs
            raise ValueError("no candidate config converged within its epochs: give the runs more epochs")
        candidates = kept or list(candidates)
    scores = validation_scores(table, candidates, metric, at)
    return str(scores.idxmin() if metric.endswith("loss") else scores.idxmax())


def lr_of(config: str) -> float:
    """The lr in a config label made by ``label``: ``"L2 0.01 | lr 0.001"`` -> 0.001."""
    if " | lr " not in config:
        raise ValueError(f"config {config!r} is not a label made by label(setting, lr)")
    return float(config.rsplit(" | lr ", 1)[1])


def lr_position(chosen: str, lrs: Sequence[float]) -> str:
    """Where ``chosen``'s lr sits in the sorted ``lrs`` an arm tried: ``"interior"``, ``"lowest"`` or
    ``"highest"``."""
    lrs = sorted(float(v) for v in lrs)
    lr = lr_of(chosen)
    if not any(abs(lr - v) <= 1e-12 * max(1.0, v) for v in lrs):
        raise ValueError(f"lr {lr:g} of {chosen!r} is not among the lrs {lrs}")
    return "lowest" if lr <= lrs[0] else "highest" if lr >= lrs[-1] else "interior"


def _longer(table: pd.DataFrame, labels: Sequence[str], longest: int) -> str | None:
    """The label of the config validation prefers among ``labels`` (converged or not), when it had not converged and
    doubling its epochs stays within ``longest``; otherwise None."""
    best = str(validation_scores(table, labels).idxmin())
    if converged(table, [best])[best] or 2 * epochs_run(table, best) > longest:
        return None
    return best


def tune(base: RunConfig, arms: Mapping[str, Mapping[str, dict]], data: Splits, seeds: Sequence[int],
         lrs: Sequence[float] = LRS, ladder: Sequence[float] = LR_LADDER, models: dict | None = None,
         done: pd.DataFrame | None = None, kept_models: dict | None = None,
         longest: int | None = None) -> tuple[pd.DataFrame, dict[str, str], dict[str, list[float]]]:
    """Every arm's settings at every lr in ``lrs`` (``run_study``; a config whose label is already in ``done``, a
    table of runs made with ``base``'s settings, is taken from it, with the epochs it ran, rather than trained
    again), then two rules, applied until neither changes anything:

    - **enough epochs**: when the config an arm's validation loss prefers (converged or not) was still improving when
      its epochs ran out (``converged``), it is trained again with twice its epochs, up to ``longest`` (by default
      twice ``base.epochs``), and its new runs replace the old (with the same seed, a constant lr and no early
      stopping, the first epochs of the longer run are the shorter run, step for step);
    - **an interior lr**: while an arm's choice (``choose``: the best among its converged configs) sits at the lowest
      or highest lr it has tried, its settings are also trained at the next lr of ``ladder`` in that direction,
      until the choice is interior or the ladder ends.

    ``models`` and ``kept_models`` collect the runs' models as in ``run_study``. Returns the table of every run, each
    arm's chosen config and the lrs each arm tried (sorted)."""
    ladder = sorted(float(v) for v in ladder)
    longest = 2 * base.epochs if longest is None else checks.whole("longest", longest, base.epochs)
    tried = {arm: sorted(float(v) for v in lrs) for arm in arms}
    configs = grid(base, arms, lrs)
    reused = done[done["config"].isin(list(configs))] if done is not None else None
    fresh = {name: cfg for name, cfg in configs.items() if reused is None or name not in set(reused["config"])}
    trained = run_study(fresh, data, seeds, models, kept_models) if fresh else None
    table = pd.concat([t for t in (reused, trained) if t is not None], ignore_index=True)
    while True:
        if not dry.dry_run():  # a dry run's capped epochs converge nothing: it only proves the code runs
            longer = [name for arm in arms
                      if (name := _longer(table, families({arm: arms[arm]}, tried[arm])[arm], longest)) is not None]
            if longer:  # a run taken from ``done`` may already be longer than ``base``'s: its table says how long
                again = {name: configs[name].replace(epochs=2 * epochs_run(table, name)) for name in longer}
                longer_runs = run_study(again, data, seeds, models, kept_models)
                table = pd.concat([table[~table["config"].isin(longer)], longer_runs], ignore_index=True)
                continue
        chosen = {arm: choose(table, families({arm: arms[arm]}, tried[arm])[arm]) for arm in arms}
        more: dict[float, dict[str, dict[str, dict]]] = {}
        for arm, config in chosen.items():
            where = lr_position(config, tried[arm])
            edge = tried[arm][0] if where == "lowest" else tried[arm][-1] if where == "highest" else None
            beyond = ([v for v in ladder if v < edge * (1 - 1e-9)][-1:] if where == "lowest" else
                      [v for v in ladder if v > edge * (1 + 1e-9)][:1]) if edge is not None else []
            if beyond:
                more.setdefault(beyond[0], {})[arm] = arms[arm]
                tried[arm] = sorted([*tried[arm], beyond[0]])
        if not more:
            return table, chosen, tried
        extra = {name: cfg for lr, part in more.items() for name, cfg in grid(base, part, (lr,)).items()}
        configs.update(extra)
        table = pd.concat([table, run_study(extra, data, seeds, models, kept_models)], ignore_index=True)


def epochs_run(table: pd.DataFrame, config: str) -> int:
    """How many epochs ``config``'s runs in ``table`` trained (the most over its seeds): ``tune`` doubles them where
    validation preferred a config still improving."""
    rows = table.loc[table["config"] == config, "epoch"]
    if rows.empty:
        raise ValueError(f"config {config!r} is not in the table")
    return int(rows.max())


def arm_table(table: pd.DataFrame, chosen: Mapping[str, str]) -> pd.DataFrame:
    """The rows of the ``chosen`` configs (arm name -> config label), relabelled with the arm's name, arms in the
    given order: the table the claims compare."""
    parts = []
    for arm, config in chosen.items():
        rows = table[table["config"] == config]
        if rows.empty:
            raise ValueError(f"config {config!r} (arm {arm!r}) is not in the table")
        parts.append(rows.assign(config=arm))
    return pd.concat(parts, ignore_index=True)


def stop_epoch(val_loss: Sequence[float], patience: int) -> tuple[int, int]:
    """Where early stopping on ``val_loss`` (epoch 1 first) with ``patience`` ends a run: ``(kept, stopped)``, the
    best epoch so far and the epoch it stops after (the last epoch when it never stops). The same rule as
    ``EarlyStopping`` with ``min_delta=0``: stop once the loss has not improved for ``patience`` epochs."""
    patience = checks.whole("patience", patience, 1)
    values = [float(v) for v in val_loss]
    if not values:
        raise ValueError("stop_epoch needs at least one epoch's validation loss")
    best, kept = values[0], 1
    for epoch, value in enumerate(values[1:], start=2):
        if value < best:
            best, kept = value, epoch
        elif epoch - kept >= patience:
            return kept, epoch
    return kept, len(values)
