"""User data from CSV files, the Dataset container, and seeded train/validation/test splits."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import SymgradError
from ..expressions import formula_names


@dataclass(frozen=True)
class Dataset:
    """Inputs and integer class labels.

    Attributes:
        x: (n, d) float64 inputs in the user's raw units.
        y: (n,) int labels in 0..n_classes-1.
        feature_names: d names, valid Python identifiers (formulas are written in them).
        n_classes: number of classes (2 for binary).
        class_names: original label values, index = class id.
        truth: the known concept as a formula string, for built-in concepts; else None.
        threshold: the known concept's threshold (decision boundary {truth = threshold}).
        low, high: (d,) sampling domain of built-in concepts; else None.
        renamed: {original column header: feature name} for every header that had to change to
            be a safe formula name (see ``symgrad.expressions.formula_names``).
        left_out: columns of the file not used as features although no feature list was given:
            row-index columns (``rownames``, ``Unnamed: 0``, ... holding the row numbers).
        constant: features left out because they take one value on the training rows
            (``without_constant``): no network trained on those rows, and no formula, can use them.
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    n_classes: int
    class_names: tuple[str, ...] = ()
    truth: str | None = None
    threshold: float | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    renamed: dict[str, str] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()
    constant: tuple[str, ...] = ()

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def without(self, names: Sequence[str], *, constant: bool = False) -> "Dataset":
        """This data without the features ``names`` (recorded in ``constant`` if ``constant``)."""
        from dataclasses import replace

        dropped = set(names)
        keep = [j for j, name in enumerate(self.feature_names) if name not in dropped]
        return replace(self, x=self.x[:, keep], feature_names=tuple(self.feature_names[j] for j in keep),
                       low=None if self.low is None else self.low[keep],
                       high=None if self.high is None else self.high[keep],
                       constant=self.constant + (tuple(names) if constant else ()))

    def take(self, index: np.ndarray) -> "Dataset":
        from dataclasses import replace

        return replace(self, x=self.x[index], y=self.y[index])


@dataclass(frozen=True)
class Split:
    train: Dataset
    validation: Dataset
    test: Dataset


def split_dataset(data: Dataset, *, fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int) -> Split:
    """Shuffle with ``seed`` and cut into train / validation / test by ``fractions``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.y))
    n_train = int(round(fractions[0] * len(order)))
    n_val = int(round(fractions[1] * len(order)))
    if n_train < 2 or n_val < 1 or len(order) - n_train - n_val < 1:
        raise SymgradError(f"data has {len(order)} rows, too few to split into train/validation/test by {tuple(fractions)}")
    return Split(data.take(order[:n_train]), data.take(order[n_train:n_train + n_val]),
                 data.take(order[n_train + n_val:]))


def without_constant(data: Dataset, split: Split) -> tuple[Dataset, Split]:
    """The data and split without the features that take one value on the training rows (a rare
    flag or a pixel that varies only in a few rows): a network cannot standardise them, and no
    formula could use them. Unchanged when there is none, or when every feature is constant
    (training then refuses the data in one sentence)."""
    constant = [name for name, spread in zip(data.feature_names, np.std(split.train.x, axis=0)) if spread == 0]
    if not constant or len(constant) == data.n_features:
        return data, split
    parts = (split.train, split.validation, split.test)
    return data.without(constant, constant=True), Split(*(part.without(constant, constant=True) for part in parts))


def identifier(name: str) -> str:
    """A safe formula name made from one column header ("petal length" -> "petal_length",
    "pi" -> "pi_"); ``symgrad.expressions.formula_names`` also resolves collisions."""
    return formula_names([name])[0][0]


def load_csv(path: str | Path, *, label: str, features: Sequence[str] | None = None) -> Dataset:
    """Read a CSV file with a header row into a Dataset.

    Args:
        path: the file.
        label: name of the label column (any values; each distinct value is a class).
        features: feature columns in order; default = every column except ``label``.

    Raises:
        SymgradError: missing file or column, non-numeric or missing values, fewer than 2 classes.
    """
    path = Path(path)
    if not path.is_file():
        raise SymgradError(f"data.path {str(path)!r} is not a file; give the path of a CSV file with a header row")
    try:
        # utf-8-sig drops the byte-order mark that spreadsheet programs write
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as exc:
        raise SymgradError(f"data file {path.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    except (csv.Error, OSError) as exc:
        raise SymgradError(f"data file {path.name} cannot be read as CSV ({exc})") from None
    if len(rows) < 2:
        raise SymgradError(f"data file {str(path)!r} has no data rows below its header")
    header = [h.strip() for h in rows[0]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise SymgradError(f"the header of {path.name} names the columns {repeated} more than once; column names "
                           "must be unique")
    if label not in header:
        separator = next((c for c in (";", "\t", "|") if len(header) == 1 and c in header[0]), None)
        hint = f" (the file seems to separate columns with {separator!r}; symgrad reads comma-separated files)" \
            if separator else ""
        raise SymgradError(f"data.label {label!r} is not a column of {path.name}; columns are {header}{hint}")
    repeated = sorted({f for f in features or () if list(features).count(f) > 1})
    if repeated:
        raise SymgradError(f"data.features names {repeated} more than once; list each column once")
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    index = {h: i for i, h in enumerate(header)}
    left_out: tuple[str, ...] = ()
    if features:
        columns = list(features)
    else:
        columns = [h for h in header if h != label]
        left_out = tuple(h for h in columns if _is_row_index(h, [r[index[h]] for r in body if len(r) == len(header)]))
        columns = [h for h in columns if h not in left_out]
    for name in columns:
        if name not in header:
            raise SymgradError(f"data.features names {name!r}, which is not a column of {path.name}; columns are {header}")
        if name == label:
            raise SymgradError(f"data.features contains the label column {label!r}; features must be other columns")
    if not columns:
        raise SymgradError(f"data file {path.name} has no feature columns besides the label {label!r}")
    x = np.empty((len(body), len(columns)))
    for row_number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise SymgradError(f"{path.name} line {row_number} has {len(row)} fields but the header has {len(header)}")
        for j, name in enumerate(columns):
            cell = row[index[name]].strip()
            try:
                value = _number(cell)
            except ValueError:
                raise SymgradError(f"column {name!r} of {path.name} has the non-numeric value {cell!r} on line {row_number}; feature columns must be plain numbers such as 1000, -2.5 or 1e-3") from None
            if not np.isfinite(value):
                raise SymgradError(f"column {name!r} of {path.name} has a missing or non-finite value ({cell!r}) on line {row_number}; remove or impute such rows first")
            x[row_number - 2, j] = value
    raw_labels = [row[index[label]].strip() for row in body]
    if any(v == "" or v.lower() == "nan" for v in raw_labels):
        raise SymgradError(f"label column {label!r} of {path.name} has missing values; every row needs a label")
    raw_labels = [_label_name(v) for v in raw_labels]  # "1", "1.0" and "1e0" are one class
    classes = sorted(set(raw_labels), key=_label_sort_key)
    if len(classes) < 2:
        raise SymgradError(f"label column {label!r} of {path.name} has only the value {classes}; a classifier needs at least 2 classes")
    lookup = {c: i for i, c in enumerate(classes)}
    names, renamed = formula_names(columns)
    return Dataset(x=x, y=np.array([lookup[v] for v in raw_labels], dtype=np.int32), feature_names=names,
                   n_classes=len(classes), class_names=tuple(classes), renamed=renamed, left_out=left_out)


# a plain decimal number as a CSV holds it; Python's float() also takes "1_000" (as 1000), which
# in a data file is a typo or a locale's digit grouping, never a number to guess at
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
# headers that R's write.csv, pandas' to_csv and spreadsheets give a column of row numbers
_INDEX_HEADERS = {"", "rownames", "unnamed: 0", "index", "row", "row.names", "rowid", "row_id", "id", "..."}


def _number(cell: str) -> float:
    """The value of a numeric CSV cell; ValueError for anything but a plain number (or nan/inf,
    which the caller reports as missing)."""
    if _PLAIN_NUMBER.fullmatch(cell) or cell.lower() in _NON_FINITE:
        return float(cell)
    raise ValueError(cell)


def _is_row_index(header: str, cells: Sequence[str]) -> bool:
    """Whether a column is a row index written by the tool that saved the file: an index-like
    header and the values 0..n-1 or 1..n in file order. Such a column numbers the rows; it is
    no measurement, and as a feature it would let the network learn the file's order."""
    if header.strip().lower() not in _INDEX_HEADERS or len(cells) < 2:
        return False
    try:
        values = [int(c.strip().strip('"')) for c in cells]
    except ValueError:
        return False
    first = values[0]
    return first in (0, 1) and values == list(range(first, first + len(values)))


def _label_name(value: str) -> str:
    """One name per class: a numeric label is named by its value ("1.0" -> "1", "2.50" -> "2.5")."""
    try:
        number = _number(value)
    except ValueError:
        return value
    if not np.isfinite(number):
        return value
    return str(int(number)) if number == int(number) else repr(number)


def _label_sort_key(value: str):
    try:
        return (0, _number(value), value)
    except ValueError:
        return (1, 0.0, value)
