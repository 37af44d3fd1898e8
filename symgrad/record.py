"""``result.json`` as typed, immutable dataclasses: one class per section, ``to_dict`` /
``from_dict``, the format version and every section checked on load.

The pipeline and ``explain`` build a ``Record`` through these classes; ``Result``, the report, the
summaries and the batch read its typed fields. ``Record.from_dict`` (through ``check_record``) reads a record written by any earlier symgrad (format ``symgrad-result``,
version 1) and refuses, in one sentence naming the section, a file that was damaged or edited
by hand into something inconsistent: a chosen entry that is not on the front, feature names
that do not fit the saved network, a verdict that is not a verdict. Nothing is repaired
silently. This module uses the standard library and numpy only (no JAX), so that listing or
summarising runs stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import platform
import zipfile
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from .errors import SymgradError
from .rundir import RESULT_FORMAT, RESULT_VERSION

# every status a run can end or pause in (rundir.UNFINISHED are the ones still open)
STATUSES = ("started", "searching", "failed", "finished", "interrupted")
VERDICT_KINDS = ("faithful", "approximate", "not_found", "cannot_judge")
# sections that are mappings when present (null is allowed: an unfinished or failed run)
MAPPING_SECTIONS = ("versions", "timings", "neuron", "data", "model", "gradients", "search", "floor", "selection",
                    "verdict", "truth", "companions")



class Section:
    """A section of ``result.json``: declared fields, plus ``extra`` for keys this version does
    not know (a newer writer's, or a tool's), which are kept and written back unchanged."""

    # fields holding a nested Section: name -> its class
    nested: ClassVar[dict[str, type]] = {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None):
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls) if f.name != "extra"}
        values = {k: data[k] for k in known if k in data}
        for name, section in cls.nested.items():
            if values.get(name) is not None:
                values[name] = section.from_dict(values[name])
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict[str, Any]:
        """The section as JSON values: every field (unset ones as null), then the extra keys."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra":
                continue
            if isinstance(value, Section):
                value = value.to_dict()
            elif isinstance(value, tuple) and value and isinstance(value[0], Section):
                value = [v.to_dict() for v in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Formula(Section):
    """One candidate formula as stored (``symgrad.search.base.Entry`` is its live form).

    Attributes:
        expression: a sympy-parsable string in the feature names.
        complexity: node count of the expression tree.
        loss: held-out alignment loss L.
        train_loss: L on the search points.
        source: the backend that found it.
        metrics: fidelity figures (see the docs, "Fidelity, verdict and report").
    """

    expression: str
    complexity: int
    loss: float
    train_loss: float | None = None
    source: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict(Section):
    """How far to trust the chosen formula: ``kind`` one of ``VERDICT_KINDS`` and its sentence."""

    kind: str
    sentence: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection(Section):
    """How the formula shown was chosen: the rule (``agreement`` when noisy gradients made the
    network's decisions decide) and its factor, and why another was taken (``degenerate``: a
    linear concept; ``upgraded``: the simplest faithful formula; ``note``) or none (``reason``)."""

    rule: str = "knee"
    factor: float | None = None
    degenerate: str | None = None
    reason: str | None = None
    upgraded: Mapping[str, Any] | None = None
    note: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def why(self) -> str | None:
        """Why the formula shown is not the selection rule's plain choice, in words (or None)."""
        if self.upgraded:
            return str(self.upgraded.get("note") or "")
        return self.note or self.degenerate


@dataclass(frozen=True)
class Neuron(Section):
    """The neuron interpreted: its spec (``kind`` is also ``function`` for a plain function),
    whether it decides (a logit rather than a hidden unit), and the class it decides for."""

    kind: str = "output"
    layer: int | None = None
    unit: int | None = None
    other: int | None = None
    preactivation: bool | None = None
    description: str = "neuron"
    decides: bool = True
    target_class: int | None = None
    target_label: str | None = None
    other_label: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Data(Section):
    """The data: counts, class names, the split, a built-in concept's truth and threshold, the
    columns renamed or left out, and (new runs) the ``source`` and ``label`` column."""

    n_rows: int | None = None
    n_features: int | None = None
    n_classes: int | None = None
    class_names: tuple[str, ...] | None = None
    split: tuple[int, ...] | None = None
    truth: str | None = None
    threshold: float | None = None
    renamed: Mapping[str, str] | None = None
    left_out: tuple[str, ...] | None = None
    source: str | None = None
    label: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Model(Section):
    """The network: widths, activation, test accuracy and the training record (None when it
    was trained elsewhere)."""

    hidden: tuple[int, ...] | None = None
    activation: str | None = None
    test_accuracy: float | None = None
    training: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Gradients(Section):
    """Where gradients were sampled: the band and the point counts of search and held-out samples."""

    band: float | None = None
    search: Mapping[str, Any] | None = None
    holdout: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Search(Section):
    """The search: backend, its options, what it reported (``info``) and whether it was interrupted."""

    backend: str | None = None
    options: Mapping[str, Any] | None = None
    info: Mapping[str, Any] | None = None
    interrupted: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Floor(Section):
    """The network's floor near its boundary (``symgrad.judging.floor.Floor`` as stored)."""

    value: float | None = None
    reference: float | None = None
    front: float | None = None
    minimum: float | None = None
    degree: int | None = None
    terms: int | None = None
    inputs: tuple[str, ...] | None = None
    n_near: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Truth(Section):
    """A built-in concept's formula and the chosen formula's L against its true gradients."""

    formula: str | None = None
    truth: str | None = None
    faithful_loss: float | None = None
    exact_loss: float | None = None
    recovered_faithful: bool | None = None
    recovered_exact: bool | None = None
    threshold: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conclusion:
    """What judging a front decides: the front as assessed, the formula shown, how it was
    chosen, how to read it and the verdict (``symgrad.judging.verdict.conclude``)."""

    front: tuple[Formula, ...]
    best: Formula | None
    best_index: int | None
    selection: Selection
    statement: str | None
    verdict: Verdict


@dataclass(frozen=True)
class Record(Section):
    """The whole of ``result.json`` (format ``symgrad-result``)."""

    nested: ClassVar[dict[str, type]] = {
        "neuron": Neuron, "data": Data, "model": Model, "gradients": Gradients, "search": Search, "floor": Floor,
        "selection": Selection, "best": Formula, "verdict": Verdict, "truth": Truth}

    format: str = RESULT_FORMAT
    version: int = RESULT_VERSION
    seed: int | None = None
    status: str = "started"
    features: tuple[str, ...] = ()
    error: str | None = None
    versions: Mapping[str, str] | None = None
    timings: Mapping[str, float] | None = None
    neuron: Neuron | None = None
    data: Data | None = None
    model: Model | None = None
    gradients: Gradients | None = None
    search: Search | None = None
    front: tuple[Formula, ...] | None = None
    floor: Floor | None = None
    selection: Selection | None = None
    best: Formula | None = None
    best_index: int | None = None
    statement: str | None = None
    verdict: Verdict | None = None
    truth: Truth | None = None
    companions: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, where: str = "result.json") -> "Record":
        """The record of a result.json dict, checked first (``check_record``: one SymgradError
        naming the damaged section)."""
        checked = check_record(dict(data) if isinstance(data, Mapping) else data, where=where)
        record = super().from_dict(checked)
        front = None if checked.get("front") is None else tuple(Formula.from_dict(e) for e in checked["front"])
        return dataclasses.replace(record, features=tuple(record.features), front=front)

    def with_conclusion(self, conclusion: Conclusion) -> "Record":
        """This record with the judged front, the chosen formula, statement and verdict."""
        return dataclasses.replace(self, front=conclusion.front, best=conclusion.best,
                                   best_index=conclusion.best_index, selection=conclusion.selection,
                                   statement=conclusion.statement, verdict=conclusion.verdict)


def check_record(record: Any, *, where: str) -> dict[str, Any]:
    """Return ``record`` if it is a readable symgrad result, else raise one SymgradError.

    Args:
        record: the parsed content of a result.json.
        where: the file's path as the message should show it.
    """
    def damaged(what: str) -> SymgradError:
        return SymgradError(f"{where} is damaged: {what}; rerun the job or restore the file")

    if not isinstance(record, dict) or record.get("format") != RESULT_FORMAT:
        found = record.get("format") if isinstance(record, dict) else None
        raise SymgradError(f"{where} is not a symgrad result (format {found!r})")
    version = record.get("version", 1)
    if not _is_int(version) or version < 1:
        raise damaged(f"its version {version!r} is not a positive integer")
    if version > RESULT_VERSION:
        raise SymgradError(f"{where} was written by a newer symgrad (result version {version}; this one reads up to "
                           f"{RESULT_VERSION}); upgrade symgrad to load it")
    status = record.get("status", "finished")
    if status not in STATUSES:
        raise damaged(f"its status {status!r} is not one of {list(STATUSES)}")
    for section in MAPPING_SECTIONS:
        if record.get(section) is not None and not isinstance(record[section], dict):
            raise damaged(f"its {section!r} section is of type {type(record[section]).__name__}, not a mapping")
    features = record.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) and f for f in features):
        raise damaged("'features' must be a list of input names")
    if len(set(features)) != len(features):
        raise damaged(f"'features' names an input twice ({features})")
    if record.get("statement") is not None and not isinstance(record["statement"], str):
        raise damaged("'statement' is not text")
    _check_verdict(record.get("verdict"), damaged)
    _check_front(record, status, damaged)
    return record


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_verdict(verdict: Mapping[str, Any] | None, damaged) -> None:
    if not verdict:
        return
    if verdict.get("kind") not in VERDICT_KINDS:
        raise damaged(f"the verdict's kind {verdict.get('kind')!r} is not one of {list(VERDICT_KINDS)}")
    if not isinstance(verdict.get("sentence", ""), str):
        raise damaged("the verdict's sentence is not text")


def _check_entry(entry: Any, name: str, damaged) -> None:
    if not isinstance(entry, dict):
        raise damaged(f"{name} is of type {type(entry).__name__}, not a formula entry")
    if not isinstance(entry.get("expression"), str) or not entry["expression"].strip():
        raise damaged(f"{name} has no expression")
    if not _is_int(entry.get("complexity")) or entry["complexity"] < 1:
        raise damaged(f"{name} has the complexity {entry.get('complexity')!r}, not a positive integer")
    if not isinstance(entry.get("loss"), Real) or isinstance(entry.get("loss"), bool):
        raise damaged(f"{name} has the loss {entry.get('loss')!r}, not a number")
    if not isinstance(entry.get("metrics", {}), dict):
        raise damaged(f"{name} has metrics that are not a mapping")


def _check_front(record: Mapping[str, Any], status: str, damaged) -> None:
    front = record.get("front")
    if front is None:
        if status in ("finished", "interrupted"):
            raise damaged(f"a {status} run has no 'front' (the list of formulas found)")
        front = []
    if not isinstance(front, list):
        raise damaged(f"'front' is of type {type(front).__name__}, not a list of formulas")
    for i, entry in enumerate(front):
        _check_entry(entry, f"front entry {i}", damaged)
    best = record.get("best")
    if best is None:
        if record.get("best_index") is not None:
            raise damaged("it has a 'best_index' but no 'best' entry")
        return
    _check_entry(best, "the chosen entry 'best'", damaged)
    index = record.get("best_index")
    if index is None:  # older runs chose without recording the index: the expression must be on the front
        if front and not any(e["expression"] == best["expression"] for e in front):
            raise damaged(f"the chosen formula {best['expression']!r} is not on the front")
        return
    if not _is_int(index) or not 0 <= index < len(front):
        raise damaged(f"'best_index' {index!r} is not an index into the front of {len(front)} formulas")
    if front[index]["expression"] != best["expression"]:
        raise damaged(f"'best_index' {index} points at {front[index]['expression']!r}, not at the chosen "
                      f"formula {best['expression']!r}")


def check_model_inputs(record: Mapping[str, Any], model_file: Path, *, where: str) -> None:
    """Refuse a run whose ``features`` do not match the inputs of its saved network (read from
    the model file's header with numpy alone; a damaged model file is left to the model loader)."""
    features = record.get("features") or []
    if not features or not model_file.is_file():
        return
    try:
        with np.load(model_file, allow_pickle=False) as data:
            n_inputs = int(data["w0"].shape[0])
    except (OSError, ValueError, KeyError, EOFError, IndexError, zipfile.BadZipFile):
        return
    # by count only: formulas are evaluated by position, and explain() may rename a network's inputs
    if n_inputs != len(features):
        raise SymgradError(f"{where} is damaged: it names {len(features)} inputs {list(features)}, but its network "
                           f"{model_file.name} takes {n_inputs}; rerun the job or restore the file")


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the numerical packages, for a record's ``versions``."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)  # read once per process: a batch worker writes many runs
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("symgrad", "jax", "jaxlib", "flax", "optax", "numpy", "scipy", "sympy", "pyoperon"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


GRADIENT_ARRAYS = ("x", "directions", "values", "x_holdout", "directions_holdout", "values_holdout")


def read_gradient_arrays(file: Path, n_inputs: int) -> dict[str, np.ndarray]:
    """The arrays of a run's gradients.npz (no pickles), checked for the arrays and shapes the
    plots need; a damaged or foreign file raises one SymgradError."""
    damaged = (f"{str(file)!r} is damaged or not a symgrad gradients file; rerun the job to write it again "
               "(the formulas in result.json do not need it)")
    try:
        loaded = np.load(file, allow_pickle=False)
        if not hasattr(loaded, "files"):  # a single .npy array, not an archive of arrays
            raise SymgradError(damaged)
        with loaded as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        raise SymgradError(damaged) from None
    if any(k not in arrays for k in GRADIENT_ARRAYS):
        raise SymgradError(damaged)
    for points, directions in (("x", "directions"), ("x_holdout", "directions_holdout")):
        a, b = arrays[points], arrays[directions]
        if a.ndim != 2 or a.shape != b.shape or (n_inputs and a.shape[1] != n_inputs) \
                or not (np.issubdtype(a.dtype, np.floating) and np.issubdtype(b.dtype, np.floating)):
            raise SymgradError(damaged)
    return arrays
