"""Real data sets shipped inside PyPI packages (nothing is downloaded), and class selection."""

from __future__ import annotations

import csv
import importlib
import importlib.resources
from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import SymgradError
from .tables import Dataset

# name -> (package, file inside it, default label, default features, pip extra)
SHIPPED = {
    "penguins": ("palmerpenguins", "data/penguins.csv", "species",
                 ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"), "examples"),
}
_MISSING = {"", "NA", "nan", "NaN"}


def load_shipped(name: str, *, label: str | None = None, features: Sequence[str] | None = None) -> Dataset:
    """A data set a PyPI package ships as a CSV file, e.g. ``penguins`` (palmerpenguins).

    Rows with a missing value in the label or a chosen feature are dropped (the Palmer penguins
    table marks two birds' measurements NA); classes are the label's values in sorted order.

    Args:
        name: a key of ``SHIPPED``.
        label: the label column (default: the data set's own, e.g. ``species``).
        features: feature columns (default: the data set's numeric measurements).

    Raises:
        SymgradError: unknown name, the package is not installed, or an unknown column.
    """
    if name not in SHIPPED:
        raise SymgradError(f"data.dataset {name!r} is unknown; shipped data sets are {sorted(SHIPPED)}")
    package, file, default_label, default_features, extra = SHIPPED[name]
    try:
        text = (importlib.resources.files(package) / file).read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise SymgradError(f"data.dataset {name!r} needs the {package} package; install it with "
                           f"pip install \"symgrad[{extra}]\" (or pip install {package})") from None
    rows = list(csv.reader(text.splitlines()))
    header = rows[0]
    label = label or default_label
    columns = list(features) if features else list(default_features)
    for column in (label, *columns):
        if column not in header:
            raise SymgradError(f"column {column!r} is not in the {name} data set; columns are {header}")
    index = {h: i for i, h in enumerate(header)}
    kept = [r for r in rows[1:] if all(r[index[c]] not in _MISSING for c in (label, *columns))]
    x = np.array([[float(r[index[c]]) for c in columns] for r in kept])
    values = [r[index[label]] for r in kept]
    classes = sorted(set(values))
    lookup = {c: i for i, c in enumerate(classes)}
    return Dataset(x=x, y=np.array([lookup[v] for v in values], dtype=np.int32), feature_names=tuple(columns),
                   n_classes=len(classes), class_names=tuple(classes))


def keep_classes(data: Dataset, classes: Sequence[str]) -> Dataset:
    """Only the rows of ``classes`` (label values), renumbered in the order given: with two
    classes the second one is class 1, the class the output logit decides for."""
    names = [str(c) for c in data.class_names]
    unknown = [c for c in classes if str(c) not in names]
    if unknown:
        raise SymgradError(f"data.classes names {unknown[0]!r}, which is not a label value; values are {names}")
    if len(set(map(str, classes))) != len(classes) or len(classes) < 2:
        raise SymgradError(f"data.classes {list(classes)} must name at least 2 different label values")
    old_ids = [names.index(str(c)) for c in classes]
    rows = np.flatnonzero(np.isin(data.y, old_ids))
    remap = np.full(len(names), -1, dtype=np.int32)
    remap[old_ids] = np.arange(len(old_ids), dtype=np.int32)
    kept = data.take(rows)
    return replace(kept, y=remap[kept.y], n_classes=len(classes), class_names=tuple(str(c) for c in classes))
