"""A batch file read without expanding it, and the batch folder's ``plan.json``: the expanded
batch with a fingerprint of everything the expansion read (``batch_inputs``), given back by
``planned_batch`` without JAX while that fingerprint holds, so that resuming a finished batch is
quick."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..errors import SymgradError
from ..rundir import write_text
from .items import BATCH_KEYS, NEURON_KEYS, Batch, Item, Network, PlannedNeuron

PLAN_FILE = "plan.json"
PLAN_VERSION = 1




def batch_name(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> str:
    """The name ``load_batch`` gives the batch, read without expanding it.

    Raises:
        SymgradError: the batch file is missing or not a YAML mapping (the same sentence as
            ``load_batch``).
    """
    path = Path(path)
    return spec_name(read_spec(path, overrides)[0], path)


def spec_name(spec: dict[str, Any], path: Path) -> str:
    return str(spec.get("name") or path.stem)


def read_spec(path: Path, overrides: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """The batch file's mapping with the batch keys of ``overrides`` applied, and the other
    overrides (config keys for every item)."""
    if not path.is_file():
        raise SymgradError(f"batch file {str(path)!r} does not exist; give the path of a YAML batch file")
    spec = config_mod.read_yaml(read_text(path, f"batch file {path.name}"), f"batch file {path.name}")
    if not isinstance(spec, dict):
        raise SymgradError(f"batch file {path.name} must be a mapping with keys from {list(BATCH_KEYS)}")
    spec = dict(spec)
    extra_sets = []
    for text in overrides:
        key = text.split("=", 1)[0].strip()
        if key in BATCH_KEYS:
            spec.update(config_mod.parse_override(text))
        else:
            extra_sets.append(text)
    return spec, extra_sets


def batch_inputs(path: str | Path, overrides: list[str] | tuple[str, ...], data_files: list[str] | tuple[str, ...]
                 ) -> dict[str, Any]:
    """Everything the expansion of a batch file depends on, found without expanding it.

    The batch file, its base and config files (by content), what its ``configs`` globs match,
    the overrides, the working directory (relative data paths), the symgrad code and the given
    data and model files (by size and modification time: a CSV's classes decide its neurons).
    Equal inputs expand to an equal batch.

    Raises:
        SymgradError: the batch file is missing or not a YAML mapping.
    """
    path = Path(path)
    spec, _ = read_spec(path, overrides)
    root = path.parent
    files = [str(path)]
    if isinstance(spec.get("base"), str):
        files.append(str(root / spec["base"]))
    patterns = spec.get("configs")
    patterns = [patterns] if isinstance(patterns, str) else patterns if isinstance(patterns, list) else []
    globs = {str(p): matches(p, root) for p in patterns if isinstance(p, str)}
    files += [match for matches in globs.values() for match in matches]
    inputs = {"version": PLAN_VERSION, "code": _code_digest(), "cwd": os.getcwd(), "overrides": list(overrides),
              "files": {f: _digest(Path(f)) for f in files}, "globs": globs,
              "data_files": {f: _stamp(Path(f)) for f in data_files}}
    return json.loads(json.dumps(inputs))  # as a stored plan holds them: lists, string keys


def _code_digest() -> str:
    """Hash of the symgrad package's source: new code may expand a batch differently."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _stamp(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def write_plan(batch: Batch, batch_dir: str | Path) -> bool:
    """Keep ``batch`` in ``batch_dir/plan.json`` for ``planned_batch``; returns whether it was kept.

    Only a batch made by ``load_batch`` (it knows its inputs) whose configs come back from JSON
    exactly is kept; otherwise an earlier plan is removed, so that a resume expands the batch.
    """
    target = Path(batch_dir) / PLAN_FILE
    plan = _plan(batch) if batch.inputs is not None else None
    text = None
    if plan is not None:
        try:
            text = json.dumps(plan, indent=1, allow_nan=False)
        except (TypeError, ValueError):  # a config value JSON cannot hold
            pass
    if text is None or not _same_batch(_from_plan(json.loads(text)), batch):
        target.unlink(missing_ok=True)
        return False
    write_text(target, text)  # atomic: a resume never reads half a plan
    return True


def planned_batch(path: str | Path, overrides: list[str] | tuple[str, ...], batch_dir: str | Path) -> Batch | None:
    """The batch ``load_batch(path, overrides)`` would give, read from ``batch_dir/plan.json``
    without JAX; None when there is no plan or anything the plan was made from has changed.

    Raises:
        SymgradError: the batch file is missing or not a YAML mapping.
    """
    try:
        plan = json.loads((Path(batch_dir) / PLAN_FILE).read_text())
        stored = plan["inputs"]
        if stored.get("version") != PLAN_VERSION:
            return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if batch_inputs(path, overrides, list(stored.get("data_files") or ())) != stored:
        return None
    try:
        return _from_plan(plan)
    except (ValueError, TypeError, KeyError):  # a damaged plan: expand the batch as on a first run
        return None


def _plan(batch: Batch) -> dict[str, Any]:
    return {"inputs": batch.inputs, "name": batch.name,
            "networks": [{"id": n.id, "key": n.key, "config": n.config} for n in batch.networks],
            "items": [{"id": i.id, "config_name": i.config_name, "seed": i.seed, "network": i.network,
                       "neuron": {**{k: getattr(i.neuron, k) for k in NEURON_KEYS},
                                  "description": i.neuron.describe(), "short_name": i.neuron.tag()},
                       "config": i.config} for i in batch.items]}


def _from_plan(plan: dict[str, Any]) -> Batch:
    networks = tuple(Network(n["id"], n["key"], n["config"]) for n in plan["networks"])
    items = tuple(Item(i["id"], i["config_name"], i["seed"], PlannedNeuron(**i["neuron"]), i["network"], i["config"])
                  for i in plan["items"])
    return Batch(plan["name"], networks, items, inputs=plan["inputs"])


def _same_batch(planned: Batch, batch: Batch) -> bool:
    """Whether a plan gives back ``batch``: the same names, neurons and configs, value types included."""
    if planned.name != batch.name or len(planned.networks) != len(batch.networks) \
            or len(planned.items) != len(batch.items):
        return False
    for a, b in zip(planned.networks, batch.networks):
        if (a.id, a.key) != (b.id, b.key) or not _same(a.config, b.config):
            return False
    for a, b in zip(planned.items, batch.items):
        if (a.id, a.config_name, a.seed, a.network) != (b.id, b.config_name, b.seed, b.network) \
                or not _same(a.config, b.config) \
                or any(getattr(a.neuron, k) != getattr(b.neuron, k) for k in NEURON_KEYS):
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    """Equal with equal types throughout (1 and 1.0, a tuple and a list differ): a config
    written to config.yaml must read back as the same text."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SymgradError(f"{what} is not UTF-8 text; save it as UTF-8") from None


def matches(pattern: str, root: Path) -> list[str]:
    """The files a ``configs`` entry names, in the order they are expanded."""
    return sorted(glob.glob(str(root / pattern)))
