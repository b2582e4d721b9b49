"""Lesson 09, the sandbox: recipes (validated, versioned files), running them over seeds, paired verdicts, the SQLite
store of runs and compare's summary table."""

from __future__ import annotations

from dlopt_kit.core.paths import RECIPES
from dlopt_kit.sandbox.engine import choose, recipe_data, run_recipe, verdict, verdicts
from dlopt_kit.sandbox.recipes import Recipe, RecipeError, diff, load_recipe, recipe_from_dict, same_data
from dlopt_kit.sandbox.store import Store
from dlopt_kit.sandbox.summary import summary_table

__all__ = [
    "choose", "diff", "load_recipe", "Recipe", "recipe_data", "recipe_from_dict", "RecipeError", "RECIPES",
    "run_recipe", "same_data", "Store", "summary_table", "verdict", "verdicts"
]
