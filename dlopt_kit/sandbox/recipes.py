"""Recipes: one experiment's settings in a small, readable YAML or JSON file that an instructor hands out, and that
``python -m dlopt_kit compare`` or a notebook runs.

A recipe names its data (dataset and how many images per class), its seeds, optionally a corruption planted in the
training split with each seed (``corruption: {kind: label_noise, rate: 0.2}``, one of ``CORRUPTIONS``) and one
training config (any ``RunConfig`` field; ``schedule`` and ``augment`` as mappings)::

    version: 1
    name: dropout 0.3
    dataset: fashion_mnist
    train_per_class: 300
    eval_per_class: 200
    seeds: [0, 1, 2]
    config: {model: mlp, hidden: 256, dropout: 0.3, epochs: 10}

``dataset`` is one of the kit's datasets or a data file of yours, ``.csv`` or ``.npz`` (``core.own_data`` says
what each holds): a relative path is read against the folder of the recipe file (against the current folder for a
recipe built in code or by the sandbox panel), and the loaded recipe holds the absolute path; ``save`` writes it
relative to the folder it saves into when it lies below it. ``label_column`` names a CSV's label column (default
``label``)::

    dataset: my_table.csv       # next to this recipe file
    label_column: outcome

The file itself is read and checked when the recipe's data is loaded (``engine.recipe_data``), not on reading the
recipe, so a stored recipe whose file has since moved still loads.

Loading validates it like a config: a bad value names the file, the field and what is allowed. ``version`` says
which layout wrote it; this kit reads version 1 and says why it cannot read any other.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from dlopt_kit.core import checks
from dlopt_kit.core.augment import AugmentSpec
from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.data import STORED, SYNTHETIC
from dlopt_kit.core.own_data import is_data_file, resolve

VERSION = 1
KEYS = ("version", "name", "dataset", "train_per_class", "eval_per_class", "seeds", "corruption", "config",
        "label_column")
ALWAYS = ("model", "optimizer", "lr", "batch_size", "epochs", "monitor")  # config settings a saved recipe always shows
# what a recipe may do to its training split (lesson 01's kinds that leave validation and test alone and train as is)
CORRUPTIONS = ("label_noise", "pair_noise", "duplicates", "near_duplicates", "thin_class", "outliers")
SUFFIXES = (".yaml", ".yml", ".json")


class RecipeError(ValueError):
    """A recipe that cannot be read or run: the message names the file and the field."""


class _DuplicateKey(Exception):
    """A key written twice in one mapping of a recipe file (YAML and JSON would keep the last value silently)."""


@dataclass(frozen=True)
class Recipe:
    """One experiment: a name, its data, its seeds and its training config (``config.seed`` is replaced by each
    seed)."""

    name: str
    config: RunConfig
    dataset: str = "fashion_mnist"
    train_per_class: int | None = 300
    eval_per_class: int | None = 200
    seeds: tuple[int, ...] = (0, 1, 2)
    corruption: tuple[str, float] | None = None  # (kind, rate) planted in the training split, drawn with each seed
    label_column: str | None = None  # a CSV data file's label column (None: the column named ``label``)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain values, in the file's layout: the config's model, optimiser, lr, batch size, epochs
        and monitor, and every other setting that is not ``RunConfig``'s default (augmentations that are on, a
        schedule other than constant), so that a saved file reads like a hand-written one. The config's seed is left
        out: ``seeds`` decide it."""
        defaults = RunConfig().to_dict()
        config = {k: v for k, v in self.config.to_dict().items()
                  if k != "seed" and (k in ALWAYS or v != defaults[k])}
        if "augment" in config:
            config["augment"] = {k: v for k, v in config["augment"].items() if v}
        corruption = None if self.corruption is None else {"kind": self.corruption[0], "rate": self.corruption[1]}
        data = {"version": VERSION, "name": self.name, "dataset": self.dataset,
                "train_per_class": self.train_per_class, "eval_per_class": self.eval_per_class,
                "seeds": list(self.seeds), "corruption": corruption, "config": config}
        if self.label_column is not None:
            data["label_column"] = self.label_column
        return data

    def save(self, path: str | Path) -> Path:
        """Write the recipe as YAML (``.yaml``, ``.yml``) or JSON (``.json``)."""
        path = Path(path)
        if path.suffix not in SUFFIXES:
            raise RecipeError(f"{path}: a recipe file ends in {', '.join(SUFFIXES)}")
        data = self.to_dict()
        if is_data_file(self.dataset):  # relative to the recipe's folder when the file lies below it
            relative = os.path.relpath(self.dataset, path.resolve().parent)
            data["dataset"] = relative if not relative.startswith("..") else self.dataset
        if path.suffix == ".json":
            path.write_text(json.dumps(data, indent=2) + "\n")
        else:
            import yaml

            path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120))
        return path

    @property
    def data_key(self) -> tuple:
        return self.dataset, self.train_per_class, self.eval_per_class, self.label_column


def _config(fields: Any, where: str) -> RunConfig:
    if not isinstance(fields, Mapping):
        raise RecipeError(f"{where}: config must be a mapping of RunConfig settings, e.g. {{model: mlp, lr: 0.001}}")
    fields = dict(fields)
    if "augment" in fields and isinstance(fields["augment"], Mapping):
        try:
            fields["augment"] = AugmentSpec(**fields["augment"])
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"{where}: config.augment: {exc}") from None
    try:
        checks.known_names("config setting(s)", fields, list(RunConfig.__dataclass_fields__))
        config = RunConfig(**fields)
        config.schedule.check_run(config.epochs)  # a schedule longer than the run, refused before anything trains
        return config
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{where}: config: {exc}") from None


def recipe_from_dict(data: Any, where: str = "recipe", folder: str | Path | None = None) -> Recipe:
    """A ``Recipe`` from the file's mapping, validated; ``where`` (the path) starts every message. A relative data
    file path in ``dataset`` is read against ``folder`` (the current folder when None)."""
    if not isinstance(data, Mapping):
        got = "nothing (null)" if data is None else f"{type(data).__name__} {_short(data)}"
        raise RecipeError(f"{where}: a recipe is a mapping of {', '.join(KEYS)}; got {got}")
    version = data.get("version")
    if version is None:
        raise RecipeError(f"{where}: version is missing: add `version: {VERSION}` (the layout this kit reads)")
    if not isinstance(version, numbers.Integral) or isinstance(version, bool):
        raise RecipeError(f"{where}: version={version!r} must be a whole number; this kit reads version {VERSION}")
    version = int(version)
    if version > VERSION:
        raise RecipeError(f"{where}: version {version} was written by a newer dlopt-kit; this one reads version "
                          f"{VERSION}: update the kit (git pull, make setup) or ask for a version-{VERSION} recipe")
    if version < VERSION:
        raise RecipeError(f"{where}: version {version} is older than any layout this kit wrote (version {VERSION} "
                          f"is the first); rewrite it in version {VERSION}'s layout: {', '.join(KEYS)}")
    try:
        checks.known_names("recipe key(s)", data, KEYS)
    except ValueError as exc:
        raise RecipeError(f"{where}: {exc}") from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or not name.strip().isprintable():
        raise RecipeError(f"{where}: name={name!r} must be a short text naming the recipe, on one line, e.g. "
                          "`name: dropout 0.3`")
    dataset = data.get("dataset", "fashion_mnist")
    try:
        dataset, label_column = _dataset(dataset, data.get("label_column"), folder)
        sizes = {k: None if data.get(k, d) is None else checks.whole(k, data.get(k, d), 1)
                 for k, d in (("train_per_class", 300), ("eval_per_class", 200))}
        seeds = tuple(checks.seeds("seeds", data.get("seeds", [0, 1, 2])))
        corruption = _corruption(data.get("corruption"))
    except ValueError as exc:
        raise RecipeError(f"{where}: {exc}") from None
    return Recipe(name.strip(), _config(data.get("config", {}), where), dataset, sizes["train_per_class"],
                  sizes["eval_per_class"], seeds, corruption, label_column)


def _dataset(dataset: Any, label_column: Any, folder: str | Path | None) -> tuple[str, str | None]:
    """The checked ``dataset`` (a kit dataset's name, or a data file's absolute path) and ``label_column``."""
    if is_data_file(dataset):
        if not dataset.strip() or not dataset.isprintable():
            raise ValueError(f"dataset={dataset!r}: a data file's path is one line of printable text")
        dataset = resolve(dataset, folder)
    else:
        try:
            checks.choice("dataset", dataset, (*STORED, *SYNTHETIC))
        except ValueError as exc:
            raise ValueError(f"{exc}, or a data file ending in .csv or .npz") from None
    if label_column is None:
        return dataset, None
    if not isinstance(label_column, str) or not label_column.strip() or not label_column.isprintable():
        raise ValueError(f"label_column={_short(label_column)} must be a CSV column's name, on one line, or left out "
                         "(the column named label)")
    if not dataset.lower().endswith(".csv"):
        raise ValueError(f"label_column={label_column!r} applies to a .csv dataset file, not dataset={dataset!r}")
    return dataset, label_column


def _corruption(value: Any) -> tuple[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"kind", "rate"}:
        raise ValueError(f"corruption={value!r} must be a mapping with kind and rate, e.g. "
                         "{kind: label_noise, rate: 0.2}, or left out")
    kind = checks.choice("corruption.kind", value["kind"], CORRUPTIONS)
    return kind, checks.number("corruption.rate", value["rate"], 0.0, 1.0, high_open=kind != "thin_class")


def _short(value: Any, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


@lru_cache(maxsize=1)
def _yaml_loader() -> type:
    """``yaml.SafeLoader`` that refuses a key written twice in one mapping (merge keys, ``<<: *base``, may still
    be overridden)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            seen: dict[Any, str] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # a complex key is left to SafeLoader, which refuses unhashable ones
                key = self.construct_object(key_node)
                mark = key_node.start_mark
                at = f"line {mark.line + 1} column {mark.column + 1}"
                if key in seen:
                    raise _DuplicateKey(f"key {_short(key)} appears twice in one mapping (at {seen[key]} and {at}): "
                                        "YAML would silently keep the last value; keep one")
                seen[key] = at
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: a dict, refusing a key written twice in one object."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"key {_short(key)} appears twice in one object: JSON would silently keep the last "
                                "value; keep one")
        out[key] = value
    return out


def _syntax_error(exc: Exception) -> str:
    """One line for a YAML or JSON syntax error: the problem and where it is."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        text = f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return " ".join(text.split())


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate the recipe at ``path`` (YAML or JSON, by its suffix, in UTF-8): a file that cannot be
    read, is not UTF-8 text, is empty, is not valid YAML or JSON, or writes a key twice is refused by name, as is
    a bad field (``recipe_from_dict``)."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise RecipeError(f"{path}: a recipe file ends in {', '.join(SUFFIXES)}")
    kind = "JSON" if path.suffix == ".json" else "YAML"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecipeError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark, as some editors write, is fine
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}): a "
                          f"recipe is a {kind} text file; save it as UTF-8") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_pairs) if text.strip() else None
        else:
            import yaml

            data = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise RecipeError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - yaml and json raise their own error types
        raise RecipeError(f"{path}: not valid {kind} ({_syntax_error(exc)})") from None
    if data is None:
        what = "is empty" if not text.strip() else "holds no value (only comments or null)"
        raise RecipeError(f"{path}: the recipe {what}: expected a mapping with {', '.join(KEYS)}, at least "
                          f"`version: {VERSION}` and `name: ...`")
    return recipe_from_dict(data, str(path), path.parent)


def same_data(recipes: Sequence[Recipe]) -> tuple[str, int | None]:
    """The dataset and validation/test size all ``recipes`` share, or RecipeError naming the one that differs:
    recipes compared side by side must be scored on the same images. The training size may differ (the validation
    and test splits do not depend on it): "would more labels help?" is a fair question for a comparison."""
    def key(r: Recipe) -> tuple:
        return (r.dataset, r.eval_per_class) + ((r.label_column,) if r.label_column is not None else ())

    first = key(recipes[0])
    for r in recipes[1:]:
        if key(r) != first:
            raise RecipeError(f"recipes {recipes[0].name!r} and {r.name!r} use different data ({first} vs "
                              f"{key(r)}): recipes compared together need the same dataset (the same data file), "
                              "eval_per_class and label_column (train_per_class may differ)")
    return recipes[0].dataset, recipes[0].eval_per_class


def _flat(recipe: Recipe) -> dict[str, Any]:
    plain = recipe.to_dict()
    del plain["version"], plain["name"], plain["config"]
    kind, rate = recipe.corruption or ("none", 0.0)
    plain["corruption"] = f"{kind} {rate:g}" if recipe.corruption else "none"
    config = {k: v for k, v in recipe.config.to_dict().items() if k != "seed"}
    augment = config.pop("augment", {}) or {}
    return {**plain, **{f"config.{k}": v for k, v in config.items()},
            **{f"config.augment.{k}": v for k, v in augment.items()}}


def diff(recipes: Sequence[Recipe]) -> pd.DataFrame:
    """What differs between ``recipes``, field by field: a row per field whose value is not the same in all of them
    (data, seeds and every config field, as ``config.<field>``), a column per recipe name. Empty when the recipes
    differ only by name."""
    if not recipes:
        raise RecipeError("diff needs at least one recipe")
    flat = {r.name: _flat(r) for r in recipes}
    fields = list(dict.fromkeys(k for values in flat.values() for k in values))
    differing = [f for f in fields if len({repr(values.get(f)) for values in flat.values()}) > 1]
    return pd.DataFrame({name: [values.get(f) for f in differing] for name, values in flat.items()},
                        index=pd.Index(differing, name="field"))
