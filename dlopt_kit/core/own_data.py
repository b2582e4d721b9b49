"""Your own data: a ``.npz`` or ``.csv`` file of yours, checked, split and cached like the kit's datasets.

Two layouts (lesson 09's recipes, its sandbox panel and ``python -m dlopt_kit compare`` read both):

- ``.npz`` with ``x`` and ``y``: ``x`` images of shape (N, H, W) or (N, C, H, W) (height and width at least 4, the
  CNN halves them twice; whole-number pixels are divided by 255, or by their maximum when it is larger; float pixels
  are used as they are) or features of shape (N, D); ``y`` N whole-number labels (an integer dtype).
- ``.csv`` (UTF-8, a header row, comma-separated): one row per example, every column a number; the label column is
  the one named ``label`` unless ``label_column`` names another; its values are whole numbers. Features only.

Labels may be any whole numbers (e.g. 3 and 7); they become classes 0 to K-1 in increasing order, and the class names
are the original values. At least 2 classes, each with at least ``MIN_PER_CLASS`` examples so that the validation and
test splits hold every class. Features are standardised with the training split's statistics, as breast_cancer is.

The splits are the kit's (``data.splits_of_arrays``: stratified 70/15/15 with the fixed split seed, then
``train_per_class``/``eval_per_class`` drawn as ``load_splits`` draws them), cached by the file's sha256: a changed
file gets new splits, and an unchanged one (same size and modification time) is neither hashed nor read again.
Every problem is ``OwnDataError``, one line naming the file, the field and what is allowed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from dlopt_kit.core.data import Splits, sha256, splits_of_arrays

SUFFIXES = (".csv", ".npz")
LABEL = "label"          # the CSV column read as the label unless a recipe's label_column names another
MIN_PER_CLASS = 10       # examples per class: 70/15/15 stratified leaves each class in validation and test
MIN_SIDE = 4             # image height and width: the CNN pools twice


class OwnDataError(ValueError):
    """A data file that cannot be used: the message names the file, the field and what is allowed."""


def is_data_file(dataset: object) -> bool:
    """Whether a recipe's ``dataset`` names a file (it ends in .csv or .npz) rather than one of the kit's sets."""
    return isinstance(dataset, str) and Path(dataset).suffix.lower() in SUFFIXES


def resolve(dataset: str, folder: str | Path | None = None) -> str:
    """``dataset`` as an absolute path: a relative one is read against ``folder`` (a recipe file's folder; the
    current folder when None)."""
    path = Path(dataset).expanduser()
    if not path.is_absolute():
        path = Path(folder if folder is not None else Path.cwd()) / path
    return str(path.resolve())


# ---------------------------------------------------------------- reading and checking

def _labels(where: str, field: str, y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    if y.ndim != 1:
        raise OwnDataError(f"{where}: {field} has shape {y.shape}: labels are one whole number per example, shape (N,)")
    if y.dtype.kind not in "iub":
        if y.dtype.kind == "f":
            bad = y[~np.isfinite(y) | (y != np.round(y))] if y.size else y
            shown = f" (e.g. {bad[0]!r})" if bad.size else ""
            raise OwnDataError(f"{where}: {field} holds floats{shown}: labels must be whole numbers (an integer "
                               "dtype), e.g. 0, 1, 2")
        raise OwnDataError(f"{where}: {field} has dtype {y.dtype}: labels must be whole numbers, e.g. 0, 1, 2")
    values, y_index, counts = np.unique(y.astype(np.int64), return_inverse=True, return_counts=True)
    if len(values) < 2:
        only = f"only class {values[0]}" if len(values) else "no labels"
        raise OwnDataError(f"{where}: {field} holds {only}: a classifier needs at least 2 classes")
    few = [f"class {v} has {n}" for v, n in zip(values, counts, strict=True) if n < MIN_PER_CLASS]
    if few:
        raise OwnDataError(f"{where}: {field}: {', '.join(few[:5])} example(s): each class needs at least "
                           f"{MIN_PER_CLASS} for the train/validation/test splits; add examples or drop the class")
    return y_index.astype(np.int64), [str(v) for v in values]


def _finite(where: str, field: str, x: np.ndarray) -> None:
    if x.dtype.kind not in "iubf":
        raise OwnDataError(f"{where}: {field} has dtype {x.dtype}: inputs must be numbers (integer or float)")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise OwnDataError(f"{where}: {field} holds {int(bad.sum())} NaN or infinite value(s) (first in example "
                               f"{row}): fill or drop them (lesson 01) before training")


def _images(where: str, x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) float32 images scaled as the module says."""
    x = x[:, None] if x.ndim == 3 else x
    if min(x.shape[2:]) < MIN_SIDE:
        raise OwnDataError(f"{where}: x has images of {x.shape[2]}x{x.shape[3]}: height and width must be at least "
                           f"{MIN_SIDE}; for fewer values per example store them as features, shape (N, D)")
    if x.dtype.kind in "iub":
        top = float(x.max()) if x.size else 1.0
        return (x.astype(np.float32) / max(255.0, top)).astype(np.float32)
    return x.astype(np.float32)


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``x`` (float32: images (N, C, H, W) or features (N, D)), labels 0..K-1 and the class names of an ``.npz``."""
    where = str(path)
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":  # an .npz is a zip of .npy files
            raise OwnDataError(f"{where}: not an .npz file (a zip of NumPy arrays): save it with numpy.savez(path, "
                               "x=..., y=...)")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [k for k in ("x", "y") if k not in arrays.files]
            if missing:
                raise OwnDataError(f"{where}: no array named {' or '.join(missing)} (it holds "
                                   f"{', '.join(arrays.files) or 'nothing'}): an .npz needs x (inputs) and y (labels)")
            x, y = arrays["x"], arrays["y"]
    except OwnDataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise OwnDataError(f"{where}: not a readable .npz ({reason[:120]}): save it with numpy.savez(path, x=..., "
                           "y=...)") from None
    if x.ndim not in (2, 3, 4):
        raise OwnDataError(f"{where}: x has shape {x.shape}: allowed are images (N, H, W) or (N, C, H, W) and "
                           "features (N, D)")
    if len(x) != len(y):
        raise OwnDataError(f"{where}: x has {len(x)} examples but y has {len(y)} labels: one label per example")
    _finite(where, "x", x)
    labels, classes = _labels(where, "y", y)
    return (_images(where, x) if x.ndim > 2 else x.astype(np.float32)), labels, classes


def read_csv(path: Path, label_column: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features (N, D) float32, labels 0..K-1 and the class names of a ``.csv`` (see the module's layout)."""
    import pandas as pd

    where, column = str(path), label_column or LABEL
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OwnDataError(f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}): a CSV "
                           "file is UTF-8 text; save it as UTF-8") from None
    if not text.strip():
        raise OwnDataError(f"{where}: the file is empty: a CSV needs a header row (with a {column!r} column) and "
                           "one row per example")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split())
        raise OwnDataError(f"{where}: not a valid CSV ({reason[:120]}): comma-separated, a header row, the same "
                           "number of values on every row") from None
    if column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:8])) + (", ..." if len(frame.columns) > 8 else "")
        raise OwnDataError(f"{where}: no label column {column!r} (the columns are {shown}): name the label column "
                           f"{LABEL!r}, or set label_column in the recipe")
    features = frame.drop(columns=[column])
    if features.shape[1] == 0:
        raise OwnDataError(f"{where}: only the label column {column!r}: add at least one feature column")
    text_columns = [str(c) for c in features.columns if features[c].dtype.kind not in "iubf"]
    if text_columns:
        raise OwnDataError(f"{where}: column(s) {', '.join(text_columns[:5])} hold text: every feature column must "
                           "hold numbers (encode categories as numbers first)")
    x = features.to_numpy(dtype=np.float64)
    if not np.isfinite(x).all():
        _finite(where, f"column(s) {', '.join(map(str, features.columns[~np.isfinite(x).all(0)][:5]))}", x)
    labels, classes = _labels(where, f"label column {column!r}", frame[column].to_numpy())
    return x.astype(np.float32), labels, classes


def read_file(path: str | Path, label_column: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The checked inputs, labels (0..K-1) and class names of a ``.csv`` or ``.npz`` file."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise OwnDataError(f"{path}: a data file ends in {' or '.join(SUFFIXES)}, not {path.suffix or 'nothing'}")
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise OwnDataError(f"{path}: the data file {what}: give the path of a .csv or .npz file")
    if label_column is not None and path.suffix.lower() == ".npz":
        raise OwnDataError(f"{path}: label_column={label_column!r} applies to CSV files; an .npz keeps its labels in y")
    try:
        return read_npz(path) if path.suffix.lower() == ".npz" else read_csv(path, label_column)
    except OSError as exc:
        raise OwnDataError(f"{path}: cannot be read ({exc.strerror or exc})") from None


# ---------------------------------------------------------------- splits, cached by checksum

_DIGESTS: dict[str, tuple[tuple[int, int], str]] = {}   # path -> ((size, mtime_ns), sha256)
_ARRAYS: dict[tuple[str, str | None], tuple] = {}        # (sha256, label column) -> read_file's result
_SPLITS: dict[tuple, Splits] = {}


def checksum(path: str | Path) -> str:
    """The file's sha256, computed again only when its size or modification time changed."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise OwnDataError(f"{path}: the data file cannot be read ({exc.strerror or exc}): give the path of a .csv "
                           "or .npz file") from None
    key = (stat.st_size, stat.st_mtime_ns)
    known = _DIGESTS.get(str(path))
    if known is None or known[0] != key:
        if not path.is_file():
            raise OwnDataError(f"{path}: the data file is a folder: give the path of a .csv or .npz file")
        known = _DIGESTS[str(path)] = (key, sha256(path))
    return known[1]


def file_splits(path: str | Path, train_per_class: int | None = None, eval_per_class: int | None = None,
                label_column: str | None = None) -> Splits:
    """The kit's fixed stratified splits of your file (see the module), named after the file; the same file and
    arguments always give the same examples. ``OwnDataError`` for a file that cannot be used."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES or not path.exists():
        read_file(path, label_column)  # raises the message for the suffix or the missing file
    digest = checksum(path)
    key = (digest, label_column, train_per_class, eval_per_class)
    if key not in _SPLITS:
        if (digest, label_column) not in _ARRAYS:
            _ARRAYS[(digest, label_column)] = read_file(path, label_column)
        x, y, classes = _ARRAYS[(digest, label_column)]
        try:
            _SPLITS[key] = splits_of_arrays(path.stem, x, y, classes, train_per_class, eval_per_class,
                                            standardize=x.ndim == 2).validate()
        except OwnDataError:
            raise
        except ValueError as exc:
            raise OwnDataError(f"{path}: {' '.join(str(exc).split())}") from None
    return _SPLITS[key]
