"""Lesson 08's experiment: a monitor's threshold chosen on validation streams, and policies compared over seeds on
streams of images no model has seen (accuracy after the drift, compute, retrains, and what the final model still
knows of the old data, on the test split)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import torch

from dlopt_kit.continuous_learning.monitors import SIGNALS, Monitor, Reference, watch
from dlopt_kit.continuous_learning.policies import Policy, serve
from dlopt_kit.continuous_learning.stream import DriftSpec, Stream, make_stream
from dlopt_kit.core import checks
from dlopt_kit.core import dry_run as dry
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import Splits
from dlopt_kit.core.processes import jobs, run_tasks
from dlopt_kit.core.training import evaluate, fit


def calibrate(model: torch.nn.Module, data: Splits, signal: str, batches: int = 60, batch_size: int = 100,
              streams: int = 3, factor: float = 1.25, seed: int = 1000) -> float:
    """An alarm threshold for ``signal`` chosen without drift and without test data: ``factor`` times the largest
    value it took over ``streams`` drift-free streams drawn from the **validation** split (so that it would have
    raised no false alarm there, with room to spare)."""
    checks.choice("signal", signal, SIGNALS)
    reference = Reference.of(model, data.x_val)
    peak = max(float(watch(model, make_stream(data, DriftSpec("none"), batches, batch_size, seed + k, split="val"),
                           reference)[signal].max()) for k in range(checks.whole("streams", streams, 1)))
    return factor * peak


def deployed(base: RunConfig, data: Splits, seeds: Sequence[int]) -> dict[int, torch.nn.Module]:
    """The model each seed deploys: ``base`` trained on the training split (best epoch by validation)."""
    return {seed: fit(base.replace(seed=seed), data, progress=False).model for seed in checks.seeds("seeds", seeds)}


def _serve_share(model: torch.nn.Module, stream: Stream, data: Splits,
                 share: Sequence[tuple[str, Policy, Monitor | None]], seed: int,
                 ) -> list[tuple[str, dict, pd.DataFrame]]:
    """Some of ``policy_study``'s policies on one seed's stream (one task of ``run_tasks``): each policy's row and
    per-batch frame."""
    start = stream.drift_point if stream.drift_point is not None else len(stream)
    out = []
    for name, policy, monitor in share:
        frame, registry = serve(model, stream, data, policy, monitor, seed)
        final = registry.rollback(copy.deepcopy(model), len(registry.versions) - 1)  # the served one stays
        out.append((name, {"policy": name, "seed": seed, "accuracy before": frame["accuracy"][:start].mean(),
                           "accuracy after": frame["accuracy"][start:].mean(),
                           "retrains": int(frame["retrained"].sum()), "compute": int(frame["compute"].iloc[-1]),
                           "old test_acc": evaluate(final, data.x_test, data.y_test)[1]}, frame))
    return out


def _shares(named: Sequence[tuple[str, Policy, Monitor | None]], batches: int,
            workers: int) -> list[list[tuple[str, Policy, Monitor | None]]]:
    """``named`` in at most ``workers`` shares of about equal work: the policies with the most retrains (a timer's
    ``batches / every``, replay doubling each; a trigger counted as two) go first, each to the lightest share."""
    def work(policy: Policy) -> float:
        retrains = {"never": 0, "periodic": batches / policy.every, "triggered": 2}[policy.kind]
        return 1 + retrains * (1 + policy.replay)

    shares: list[list] = [[] for _ in range(min(workers, len(named)))]
    load = [0.0] * len(shares)
    for item in sorted(named, key=lambda item: -work(item[1])):
        lightest = load.index(min(load))
        shares[lightest].append(item)
        load[lightest] += work(item[1])
    return shares


def policy_study(models: Mapping[int, torch.nn.Module], data: Splits, spec: DriftSpec,
                 policies: Mapping[str, tuple[Policy, Monitor | Callable[[int], Monitor] | None]],
                 pool: tuple[torch.Tensor, torch.Tensor], batches: int = 60, batch_size: int = 100,
                 delay: int = 1) -> tuple[pd.DataFrame, dict[str, list[pd.DataFrame]]]:
    """Every policy on the same stream per seed (the stream's seed is the model's), drawn without replacement from
    ``pool`` (images no model has seen: ``stream_pool``). A policy's monitor is a monitor or a function of
    the seed returning one (a threshold calibrated for that seed's model). Returns one row per (policy, seed)
    (accuracy before and after the drift starts, retrains, compute, and ``old test_acc``: the final model's accuracy
    on ``data``'s clean test split, which the stream never serves: what it still knows of the old data) and each
    policy's per-batch frames in seed order. Each seed's policies are served in ``jobs()`` shares at once
    (``core.processes.run_tasks``); every serve seeds its own retrains, so the numbers are those of one process."""
    workers = jobs()
    tasks = []
    for seed, model in models.items():
        stream = make_stream(pool, spec, batches, batch_size, seed, delay=delay, replace=False)
        named = [(name, policy, monitor(seed) if callable(monitor) and not hasattr(monitor, "alarm") else monitor)
                 for name, (policy, monitor) in policies.items()]
        tasks += [(model, stream, data, share, seed) for share in _shares(named, batches, workers)]
    served = {(name, row["seed"]): (row, frame) for result in run_tasks(_serve_share, tasks, workers)
              for name, row, frame in result}
    rows = [served[(name, seed)][0] for seed in models for name in policies]
    frames = {name: [served[(name, seed)][1] for seed in models] for name in policies}
    return pd.DataFrame(rows), frames


def arm(table: pd.DataFrame, policy: str, column: str) -> pd.Series:
    """``column`` of ``policy``'s rows indexed by seed: what ``assert_paired`` takes."""
    rows = table[table["policy"] == policy]
    if rows.empty:
        raise ValueError(f"policy {policy!r} is not in the table: choose one of {', '.join(pd.unique(table.policy))}")
    return rows.set_index("seed")[column]


def equal_compute(table: pd.DataFrame, policy: str, reference: str) -> pd.DataFrame:
    """An implementation check, not a claim: ``policy`` spent no more compute than ``reference`` in any seed, so that
    comparing their accuracy is a comparison at equal (or lower) cost. Prints both policies' compute per seed and
    returns them; raises AssertionError naming the seeds where ``policy`` spent more (in a dry run, whose capped
    streams prove nothing, it only prints)."""
    spent = pd.DataFrame({name: arm(table, name, "compute") for name in (policy, reference)})
    print(f"check (equal compute, not a claim): training examples processed per seed, {policy} and {reference}:",
          spent.to_dict("index"))
    over = spent.index[spent[policy] > spent[reference]].tolist()
    if over and not dry.dry_run():
        raise AssertionError(f"{policy} spent more compute than {reference} in seed(s) {over}: the comparison is not "
                             "at equal compute")
    return spent


def phase_mean(table: pd.DataFrame, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """``table`` with one more row per seed for each of ``groups`` (a new policy name -> the policies it averages):
    the mean of every numeric column over those policies, seed by seed. A timer's accuracy depends on where its
    retrains fall against a drift it cannot know of, so a timer compared with a trigger is read as the mean over its
    phases (``Policy(offset=...)``), not at one phase that happens to suit the drift."""
    rows = []
    for name, members in groups.items():
        missing = [m for m in members if m not in set(table["policy"])]
        if not members or missing:
            raise ValueError(f"groups[{name!r}] must name policies of the table; {missing or 'none'} are not in it: "
                             f"choose from {', '.join(pd.unique(table['policy']))}")
        part = table[table["policy"].isin(members)].groupby("seed", sort=True).mean(numeric_only=True)
        rows.append(part.reset_index().assign(policy=name))
    return pd.concat([table, *rows], ignore_index=True)
