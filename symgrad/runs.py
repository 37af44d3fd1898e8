"""Run directories: creation without overwriting, atomic JSON artefacts (``symgrad.load_run`` reads them)."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
from pathlib import Path
from typing import Any

from .errors import SymgradError
from .export import jsonable

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


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (temporary file, then rename): a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False))
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


def load_run(path: str | Path):
    """Load a run directory as a ``symgrad.Result`` (see ``symgrad.result.load_run``)."""
    from .result import load_run as load

    return load(path)
