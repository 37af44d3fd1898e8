"""Run directories: creation without overwriting, atomic JSON artefacts, and ``load_run``."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SymgradError
from .search.base import Entry, Front

RESULT_FORMAT = "symgrad-result"
RESULT_VERSION = 1


def prepare_run_dir(base: str | Path, name: str | None, *, stem: str, overwrite: bool,
                    explicit: bool = False) -> Path:
    """Create and return an empty run directory.

    With an explicit path (``--out``) an existing non-empty directory is an error unless
    ``overwrite``. Otherwise the directory is ``base/name`` (default ``base/stem``), and if it
    already exists a numbered sibling (``stem-2``, ``stem-3``, ...) is used: nothing is lost.
    """
    base = Path(base)
    if explicit:
        path = base
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise SymgradError(f"run directory {str(path)!r} already exists and is not empty; "
                                   "choose another --out or pass --overwrite to replace it")
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        return path
    stem = re.sub(r"[^\w.-]+", "_", name or stem) or "run"
    path = base / stem
    if path.exists() and overwrite:
        shutil.rmtree(path)
    counter = 2
    while path.exists():
        path = base / f"{stem}-{counter}"
        counter += 1
    path.mkdir(parents=True)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (temporary file, then rename): a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the numerical packages used."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("symgrad", "jax", "jaxlib", "flax", "optax", "numpy", "scipy", "sympy", "pyoperon"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class Run:
    """A finished (or interrupted) run, loaded from its directory.

    Attributes:
        path: the run directory.
        result: the parsed ``result.json``.
        front: all candidate formulas.
        best: the selected entry.
        features: input names.
    """

    path: Path
    result: dict[str, Any]
    front: Front
    best: Entry | None
    features: tuple[str, ...]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        import yaml

        return yaml.safe_load((self.path / "config.yaml").read_text())

    def gradients(self) -> dict[str, np.ndarray]:
        """Arrays of ``gradients.npz``: x, directions, values (search and holdout)."""
        with np.load(self.path / "gradients.npz", allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def model(self):
        from .model import Classifier

        return Classifier.load(self.path / "model.npz")

    def sympy(self, entry: Entry | int | None = None):
        """The sympy expression of ``entry`` (an Entry, an index into the front, or the best)."""
        if entry is None:
            entry = self.best
        elif isinstance(entry, int):
            entry = self.front.entries[entry]
        return entry.sympy(self.features)


def load_run(path: str | Path) -> Run:
    """Load a run directory written by ``python -m symgrad.run`` (JSON and npz only; no code runs)."""
    path = Path(path)
    result_file = path / "result.json"
    if not result_file.is_file():
        raise SymgradError(f"{str(path)!r} is not a symgrad run directory (no result.json)")
    try:
        result = json.loads(result_file.read_text())
    except json.JSONDecodeError:
        raise SymgradError(f"{str(result_file)!r} is not valid JSON; the run directory is damaged") from None
    if result.get("format") != RESULT_FORMAT:
        raise SymgradError(f"{str(result_file)!r} is not a symgrad result (format {result.get('format')!r})")
    front = Front.from_list(result.get("front", []))
    best = Entry.from_dict(result["best"]) if result.get("best") else None
    return Run(path=path, result=result, front=front, best=best, features=tuple(result["features"]))
