"""What every lesson stands on: config and checks, device and budget, paths, datasets and splits, batching,
models, augmentation, schedules, regularisers, corruptions, the training loop and its callbacks, history, comparison
tables, claims, plots and parallel training. It imports no lesson, no widgets and no command line; the public names
are re-exported by ``dlopt_kit`` itself."""
