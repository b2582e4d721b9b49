"""Every panel of the course: ``dlopt_kit/panels/<stem>.py`` serves ``notebooks/NN_<stem>.ipynb``.

- ``base``: ``RunStopPanel`` (the Run/Stop lifecycle of a background worker: thread, Stop event, buttons, status
  line, ``wait``) and the controls every panel builds from a spec; the base of every panel below.
- ``training``: ``TrainingPanel`` (Run, Stop, live plot, progress, results table), ``Control``, ``default_spec``;
  lesson 00, and the base of every lesson's training panel.
- ``data_quality``: ``data_quality_panel`` (corruption, rate, fix) and ``boundary_panel`` (2-D sets, features);
  lesson 01.
- ``augmentation``: ``AugmentGallery`` and ``config_with_augment`` (the training panel's augmentation knobs);
  lesson 02.
- ``architectures``: ``architecture_panel`` (model, transfer mode, labels per class, ensemble members); lesson 03.
- ``hyperparameter_tuning``: ``TuningPanel`` (one stored Optuna study, live best-so-far plot, trials table, or a
  class's shared study joined under a name); lesson 04.
- ``leaderboard``: ``LeaderboardPanel`` (a shared study's best config per participant, refreshed live).
- ``regularization``: ``regularization_panel``; lesson 05.
- ``efficient_training``: ``efficient_panel`` (batch norm, schedule with a live preview, clipping); lesson 06.
- ``evaluation_metrics``: ``ThresholdPanel`` and ``imbalance_panel``; lesson 07.
- ``continuous_learning``: ``StreamPanel`` (a drifting stream played live under a monitor and a retraining
  policy); lesson 08.
- ``sandbox``: ``SandboxPanel`` (every strategy's knobs, a queue of configs, results kept in the SQLite store,
  recipes saved and loaded); lesson 09.
- ``playground``: ``Playground`` (the sandbox as a standalone app with "Show the code"); ``make playground``.

Names load lazily (PEP 562): ``from dlopt_kit.panels import TrainingPanel`` imports only the training panel, not
Optuna or the other lessons.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Control": "base", "TrainingPanel": "training", "build_control": "base",
    "config_from_values": "training", "dataset_loader": "training", "default_spec": "training",
    "RunStopPanel": "base",
    "boundary_panel": "data_quality", "data_quality_panel": "data_quality",
    "AugmentGallery": "augmentation", "config_with_augment": "augmentation",
    "architecture_panel": "architectures",
    "TuningPanel": "hyperparameter_tuning",
    "LeaderboardPanel": "leaderboard",
    "regularization_metrics": "regularization", "regularization_panel": "regularization",
    "EfficientPanel": "efficient_training", "efficient_config": "efficient_training",
    "efficient_panel": "efficient_training",
    "ThresholdPanel": "evaluation_metrics", "imbalance_panel": "evaluation_metrics",
    "StreamPanel": "continuous_learning",
    "SandboxPanel": "sandbox",
    "Playground": "playground",
}

__all__ = sorted(_WHERE, key=str.lower)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'dlopt_kit.panels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dlopt_kit.panels.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
