"""Lesson 09, the sandbox: recipes (validated, versioned files), running them over seeds, verdicts over test
examples and seeds (one primary comparison, the others Holm-corrected), how many seeds a comparison needs, the
SQLite store of runs and compare's summary table."""

from __future__ import annotations

from dlopt_kit.core.paths import RECIPES, runs_dir
from dlopt_kit.sandbox.engine import choose, recipe_data, run_recipe, run_recipes, verdict, verdicts
from dlopt_kit.sandbox.power import power_table, seeds_needed, variance_parts
from dlopt_kit.sandbox.recipes import Recipe, RecipeError, diff, load_recipe, recipe_from_dict, same_data
from dlopt_kit.sandbox.statistics import compare_pair, holm, mcnemar, records, two_level
from dlopt_kit.sandbox.store import Store
from dlopt_kit.sandbox.summary import summary_table

__all__ = [
    "choose", "compare_pair", "diff", "holm", "load_recipe", "mcnemar", "power_table", "Recipe", "recipe_data",
    "recipe_from_dict", "RecipeError", "RECIPES", "records", "run_recipe", "run_recipes", "runs_dir", "same_data",
    "seeds_needed", "Store", "summary_table", "two_level", "variance_parts", "verdict", "verdicts"
]
