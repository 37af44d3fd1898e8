"""Run directories: atomic JSON artefacts and versions (folders are chosen in ``rundirs``; ``symgrad.load_run``
reads them back)."""

from __future__ import annotations

import functools
import json
import os
import platform
from pathlib import Path
from typing import Any

from .errors import SymgradError
from .export import jsonable
from .rundirs import RESULT_FORMAT as RESULT_FORMAT, RESULT_VERSION as RESULT_VERSION



def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (temporary file, then rename): a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(data), indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the numerical packages used."""
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


def load_run(path: str | Path):
    """Load a run directory as a ``symgrad.Result`` (see ``symgrad.result.load_run``)."""
    from .result import load_run as load

    return load(path)
