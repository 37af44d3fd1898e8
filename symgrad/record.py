"""What a ``result.json`` must hold to be read back: its sections and their types, checked on load.

``check_record`` reads a record written by any earlier symgrad (format ``symgrad-result``,
version 1) and refuses, in one sentence naming the section, a file that was damaged or edited
by hand into something inconsistent: a chosen entry that is not on the front, feature names
that do not fit the saved network, a verdict that is not a verdict. Nothing is repaired
silently. This module uses the standard library and numpy only (no JAX), so that listing or
summarising runs stays fast.
"""

from __future__ import annotations

import functools
import platform
import zipfile
from numbers import Real
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import SymgradError
from .rundir import RESULT_FORMAT, RESULT_VERSION

# every status a run can end or pause in (rundir.UNFINISHED are the ones still open)
STATUSES = ("started", "searching", "failed", "finished", "interrupted")
VERDICT_KINDS = ("faithful", "approximate", "not_found", "cannot_judge")
# sections that are mappings when present (null is allowed: an unfinished or failed run)
MAPPING_SECTIONS = ("versions", "timings", "neuron", "data", "model", "gradients", "search", "floor", "selection",
                    "verdict", "truth", "companions")


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
