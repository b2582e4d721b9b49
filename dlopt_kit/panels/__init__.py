"""Every panel of the course, one module per lesson over the training-panel base.

- ``training``: ``TrainingPanel`` (Run, Stop, live plot, progress, results table), ``Control``, ``default_spec``;
  lesson 00, and the base of every lesson's training panel.
- ``architectures``: ``architecture_panel`` (model, transfer mode, labels per class, ensemble members); lesson 03.
- ``augment``: ``AugmentGallery`` and ``config_with_augment`` (the training panel's augmentation knobs); lesson 02.
- ``tuning``: ``TuningPanel`` (one stored Optuna study, live best-so-far plot, trials table, or a class's shared
  study joined under a name); lesson 04.
- ``leaderboard``: ``LeaderboardPanel`` (a shared study's best config per participant, refreshed live).
- ``regularization``: ``regularization_panel``; lesson 05.
- ``efficient``: ``efficient_panel`` (batch norm, schedule with a live preview, clipping); lesson 06.
- ``evaluation``: ``ThresholdPanel`` and ``imbalance_panel``; lesson 07.
- ``quality``: ``data_quality_panel`` (corruption, rate, fix) and ``boundary_panel`` (2-D sets, features); lesson 01.
- ``sandbox``: ``SandboxPanel`` (every strategy's knobs, a queue of configs, results kept in the SQLite store,
  recipes saved and loaded); lesson 09.
- ``stream``: ``StreamPanel`` (a drifting stream played live under a monitor and a retraining policy); lesson 08.
"""

from .architectures import architecture_panel
from .augment import AugmentGallery, config_with_augment
from .efficient import EfficientPanel, efficient_config, efficient_panel
from .evaluation import ThresholdPanel, imbalance_panel
from .leaderboard import LeaderboardPanel
from .quality import boundary_panel, data_quality_panel
from .regularization import regularization_metrics, regularization_panel
from .sandbox import SandboxPanel
from .stream import StreamPanel
from .training import Control, TrainingPanel, build_control, config_from_values, dataset_loader, default_spec
from .tuning import TuningPanel

__all__ = ["AugmentGallery", "Control", "EfficientPanel", "LeaderboardPanel", "SandboxPanel", "StreamPanel",
           "ThresholdPanel", "TrainingPanel", "TuningPanel", "architecture_panel",
           "boundary_panel", "build_control", "data_quality_panel",
           "config_from_values", "config_with_augment", "dataset_loader", "default_spec",
           "efficient_config", "efficient_panel", "imbalance_panel", "regularization_metrics", "regularization_panel"]
