"""Batch files: a base config and a grid of configs, seeds and neurons, expanded into items.

A batch file is YAML::

    name: hidden_layer          # optional; default: the file's stem
    base: paper/A1.yaml         # a config file (relative to this file) or a mapping of config keys
    configs: [paper/*.yaml]     # optional: experiment files (globs), each merged over the base
    set: {train.epochs: 20}     # optional: config keys set on every item (or a list of "key=value")
    seeds: [0, 1, 2]            # optional: default each config's own seed
    neurons:                    # optional: default each config's own neuron
      - output                  # the binary output logit
      - classes                 # every class logit (the output logit of a binary network)
      - pairs                   # the log-odds of every pair of classes (likewise)
      - {kind: hidden, layer: 0, unit: all, preactivation: both}
      - {kind: log_odds, unit: 0, other: all}

Items are (config, seed, neuron); items sharing data, model, training settings and seed share one
network, which is trained once.

Expanding a batch reads each network's data (its number of classes) and checks the search
backends, which loads JAX. A batch folder therefore keeps the expanded batch in ``plan.json``
with a fingerprint of everything the expansion read (``batch_inputs``); ``planned_batch`` gives
it back without JAX while that fingerprint still holds, so that resuming a finished batch is
quick.
"""

from __future__ import annotations

import copy
import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any


from .. import config as config_mod
from ..errors import SymgradError
from ..rundir import safe_name, write_text

if TYPE_CHECKING:  # symgrad.neurons loads JAX: imported where a batch is expanded (expand)
    from ..neurons import NeuronSpec

BATCH_KEYS = ("name", "base", "configs", "set", "seeds", "neurons")
NEURON_KEYS = tuple(config_mod.SCHEMA["neuron"])  # NeuronSpec's fields (a test holds them equal)
NEURON_WORDS = ("output", "classes", "pairs")
# the config sections that define a network; everything else may differ between its neurons
NETWORK_SECTIONS = ("seed", "data", "model", "train")
PLAN_FILE = "plan.json"
PLAN_VERSION = 1


@dataclass(frozen=True)
class Network:
    """One network to train (or load) once for all of its items.

    Attributes:
        id: directory name under ``networks/``, e.g. ``A1-s0``.
        key: hash of the config sections that define the network (``NETWORK_SECTIONS``).
        config: a full validated config; its data, model, train and seed sections are used.
    """

    id: str
    key: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Item:
    """One neuron of one network to interpret.

    Attributes:
        id: run directory name under ``runs/``, e.g. ``A1-s0-h0u3pre``.
        config_name: the experiment the item comes from (the config file's stem).
        seed: the seed of data, training and search.
        neuron: the neuron.
        network: the ``Network.id`` it belongs to.
        config: the full validated config of the item (the same one ``symgrad.run`` would get).
    """

    id: str
    config_name: str
    seed: int
    neuron: NeuronSpec
    network: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """An expanded batch: its networks and items, in the order they are listed."""

    name: str
    networks: tuple[Network, ...]
    items: tuple[Item, ...]
    # what the expansion read (``batch_inputs``); None for a batch not made by ``load_batch``
    inputs: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def items_of(self, network_id: str) -> list[Item]:
        return [item for item in self.items if item.network == network_id]


def network_key(config: dict[str, Any]) -> str:
    """Hash of the sections that define the trained network."""
    text = json.dumps({k: config[k] for k in NETWORK_SECTIONS}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_batch(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Batch:
    """Read, validate and expand a batch file.

    Args:
        path: the batch YAML file; config paths in it are relative to its folder.
        overrides: ``key=value`` strings: a batch key (``seeds=[0]``, ``neurons=[output]``)
            replaces it; any other key is a config key set on every item (``train.epochs=5``).

    Raises:
        SymgradError: one sentence naming the bad key or value and what is allowed.
    """
    path = Path(path)
    spec, extra_sets = _read_spec(path, overrides)
    batch = expand(spec, root=path.parent, name=_name(spec, path), extra_sets=extra_sets)
    data_files = sorted({n.config[section]["path"] for n in batch.networks for section in ("data", "model")
                         if n.config[section]["path"] is not None})
    return replace(batch, inputs=batch_inputs(path, overrides, data_files))


def batch_name(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> str:
    """The name ``load_batch`` gives the batch, read without expanding it.

    Raises:
        SymgradError: the batch file is missing or not a YAML mapping (the same sentence as
            ``load_batch``).
    """
    path = Path(path)
    return _name(_read_spec(path, overrides)[0], path)


def _name(spec: dict[str, Any], path: Path) -> str:
    return str(spec.get("name") or path.stem)


def _read_spec(path: Path, overrides: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """The batch file's mapping with the batch keys of ``overrides`` applied, and the other
    overrides (config keys for every item)."""
    if not path.is_file():
        raise SymgradError(f"batch file {str(path)!r} does not exist; give the path of a YAML batch file")
    spec = config_mod.read_yaml(_text(path, f"batch file {path.name}"), f"batch file {path.name}")
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
    spec, _ = _read_spec(path, overrides)
    root = path.parent
    files = [str(path)]
    if isinstance(spec.get("base"), str):
        files.append(str(root / spec["base"]))
    patterns = spec.get("configs")
    patterns = [patterns] if isinstance(patterns, str) else patterns if isinstance(patterns, list) else []
    globs = {str(p): _matches(p, root) for p in patterns if isinstance(p, str)}
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


@dataclass(frozen=True)
class PlannedNeuron:
    """A neuron as ``plan.json`` stores it: ``NeuronSpec``'s fields and its two names, all that a
    summary reads, without the JAX that ``symgrad.neurons`` loads."""

    kind: str
    layer: int
    unit: int
    other: int
    preactivation: bool
    description: str
    short_name: str

    def describe(self) -> str:
        return self.description

    def tag(self) -> str:
        return self.short_name


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


def expand(spec: dict[str, Any], *, root: Path, name: str, extra_sets: list[str] = ()) -> Batch:
    """Expand a parsed batch mapping into networks and items (see the module docstring)."""
    unknown = sorted(set(spec) - set(BATCH_KEYS))
    if unknown:
        raise SymgradError(f"batch key {unknown[0]!r} is not known; allowed keys are {list(BATCH_KEYS)}")
    if not re.fullmatch(r"[\w.-]+", name):
        raise SymgradError(f"batch name {name!r} must be a plain file name (letters, digits, '_', '-', '.')")
    base = _base(spec.get("base"), root)
    sets = _sets(spec.get("set"))
    sets += [config_mod.parse_override(text) for text in extra_sets]
    configs = _configs(spec.get("configs"), root, base, name)
    seeds = _seeds(spec.get("seeds"))
    neuron_entries = _neuron_entries(spec.get("neurons"))

    networks: dict[str, Network] = {}
    items: dict[str, Item] = {}
    for config_name, raw in configs:
        for update in sets:
            raw = _merge(raw, update, f"set of batch {name}")
        shapes: dict[str, tuple] = {}  # the architecture is the same for every seed: read it once

        def shape(config=raw, config_name=config_name, shapes=shapes):
            if "shape" not in shapes:
                shapes["shape"] = _shape(_validated(copy.deepcopy(config), config_name), config_name)
            return shapes["shape"]

        for seed in seeds or [None]:
            config = copy.deepcopy(raw)
            if seed is not None:
                config["seed"] = seed
            config = _validated(config, config_name)
            key = network_key(config)
            if key not in networks:
                networks[key] = Network(f"{config_name}-s{config['seed']}", key, config)
            network = networks[key]
            for spec_ in _neurons(neuron_entries, config, shape):
                hidden, n_classes = shape()
                try:  # an impossible neuron fails now, not after its network has been trained
                    spec_.validate(SimpleNamespace(n_classes=n_classes, hidden_sizes=hidden))
                except SymgradError as error:
                    raise SymgradError(f"config {config_name}: {error}") from None
                item_config = copy.deepcopy(config)
                item_config["neuron"] = spec_.to_config()
                item_config = _validated(item_config, config_name)
                item_id = f"{config_name}-s{config['seed']}-{spec_.tag()}"
                items.setdefault(item_id, Item(item_id, config_name, config["seed"], spec_, network.id, item_config))
    _check_backends(items.values())
    ids = [n.id for n in networks.values()]
    if len(set(ids)) != len(ids):
        clash = next(i for i in ids if ids.count(i) > 1)
        raise SymgradError(f"two different networks would both be named {clash!r}; give the configs distinct file "
                           "names or move the differing keys out of the batch's set")
    if not items:
        raise SymgradError(f"batch {name} expands to no item; list at least one config, seed and neuron")
    return Batch(name, tuple(networks.values()), tuple(items.values()))


def _check_backends(items) -> None:
    """A bad search option would fail every item after training: say so before any work."""
    from ..pipeline import search_backend

    seen: set[str] = set()
    for item in items:
        key = json.dumps(item.config["search"], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            search_backend(item.config)
        except SymgradError as error:
            raise SymgradError(f"config {item.config_name}: {error}") from None


def _merge(config: dict, update: dict, where: str) -> dict:
    try:
        return config_mod.merge(config, update)
    except SymgradError as error:
        raise SymgradError(f"{where}: {error}") from None


def _validated(config: dict, config_name: str) -> dict:
    try:
        return config_mod.validate(copy.deepcopy(config))
    except SymgradError as error:
        raise SymgradError(f"config {config_name}: {error}") from None


def _read_yaml(path: Path, what: str) -> dict:
    if not path.is_file():
        raise SymgradError(f"{what} {str(path)!r} does not exist; paths in a batch file are relative to its folder")
    return config_mod.read_yaml(_text(path, f"{what} {path.name}"), f"{what} {path.name}") or {}


def _text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SymgradError(f"{what} is not UTF-8 text; save it as UTF-8") from None


def _base(base: Any, root: Path) -> dict:
    if base is None:
        return config_mod.defaults()
    if isinstance(base, str):
        return _merge(config_mod.defaults(), _read_yaml(root / base, "base config"), f"base config {base}")
    if isinstance(base, dict):
        return _merge(config_mod.defaults(), base, "base")
    raise SymgradError(f"batch key 'base' has the value {base!r}; allowed: a config file path or a mapping of "
                       "config keys")


def _sets(value: Any) -> list[dict]:
    if value is None:
        return []
    if isinstance(value, dict):
        out = []
        for key, v in value.items():
            for part in reversed(str(key).split(".")):
                v = {part: v}
            out.append(v)
        return out
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [config_mod.parse_override(v) for v in value]
    raise SymgradError(f"batch key 'set' has the value {value!r}; allowed: a mapping of config keys (dots allowed, "
                       "e.g. train.epochs: 20) or a list of key=value strings")


def _configs(value: Any, root: Path, base: dict, name: str) -> list[tuple[str, dict]]:
    if value is None:
        return [(name, base)]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SymgradError(f"batch key 'configs' has the value {value!r}; allowed: a non-empty list of config file "
                           "paths or globs")
    out: list[tuple[str, dict]] = []
    for pattern in value:
        matches = _matches(pattern, root)
        if not matches:
            raise SymgradError(f"configs entry {pattern!r} matches no file (paths are relative to the batch file's "
                               f"folder {str(root)!r})")
        for match in matches:
            stem = safe_name(Path(match).stem)  # item and folder names are made from it
            if any(stem == existing for existing, _ in out):
                raise SymgradError(f"two configs are both named {stem!r}; items are named after the config file, so "
                                   "give them distinct names")
            out.append((stem, _merge(base, _read_yaml(Path(match), "config file"), f"config {stem}")))
    return out


def _matches(pattern: str, root: Path) -> list[str]:
    """The files a ``configs`` entry names, in the order they are expanded."""
    return sorted(glob.glob(str(root / pattern)))


def _seeds(value: Any) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        raise SymgradError(f"batch key 'seeds' has the value {value!r}; allowed: a non-empty list of non-negative "
                           "integers")
    return list(dict.fromkeys(value))


def _neuron_entries(value: Any) -> list | None:
    if value is None:
        return None
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SymgradError(f"batch key 'neurons' has the value {value!r}; allowed: a non-empty list of neurons "
                           f"({', '.join(NEURON_WORDS)} or mappings with keys {list(NEURON_KEYS)})")
    for index, entry in enumerate(value):
        where = f"neurons[{index}]"
        if isinstance(entry, str):
            if entry not in NEURON_WORDS:
                raise SymgradError(f"{where} is {entry!r}; allowed words are {list(NEURON_WORDS)}, or a mapping "
                                   f"with keys {list(NEURON_KEYS)}")
            continue
        if not isinstance(entry, dict):
            raise SymgradError(f"{where} is {entry!r}; allowed: one of {list(NEURON_WORDS)} or a mapping with keys "
                               f"{list(NEURON_KEYS)}")
        unknown = sorted(set(entry) - set(NEURON_KEYS))
        if unknown:
            raise SymgradError(f"{where} has the unknown key {unknown[0]!r}; allowed keys are {list(NEURON_KEYS)}")
        kind = entry.get("kind")
        if kind not in ("output", "class", "log_odds", "hidden"):
            raise SymgradError(f"{where} has kind {kind!r}; allowed: output, class, log_odds, hidden")
        for key in ("layer", "unit", "other"):
            v = entry.get(key, 0)
            ok = v == "all" or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) or (
                isinstance(v, list) and v and all(isinstance(u, int) and not isinstance(u, bool) and u >= 0 for u in v))
            if not ok:
                raise SymgradError(f"{where} has {key} {v!r}; allowed: a non-negative integer, a list of them or 'all'")
        if entry.get("preactivation", False) not in (True, False, "both"):
            raise SymgradError(f"{where} has preactivation {entry['preactivation']!r}; allowed: true, false or 'both'")
    return value


def _shape(config: dict, config_name: str) -> tuple[tuple[int, ...], int]:
    """(hidden sizes, number of classes) of the network a config trains or loads."""
    from ..network.model import Classifier
    from ..pipeline import load_data

    try:
        if config["model"]["path"] is not None:
            classifier = Classifier.load(config["model"]["path"])
            return tuple(classifier.hidden_sizes), classifier.n_classes
        dataset, _ = load_data(config)
    except SymgradError as error:
        raise SymgradError(f"config {config_name}: {error}") from None
    return tuple(config["model"]["hidden"]), dataset.n_classes


def _neurons(entries: list | None, config: dict, shape) -> list[NeuronSpec]:
    """The neurons an entry list names for one network; ``shape()`` is called only when needed."""
    from ..neurons import NeuronSpec  # loads JAX: only an expansion needs it, not a stored plan

    if entries is None:
        n = config["neuron"]
        return [NeuronSpec.from_config(n)]
    out: list[NeuronSpec] = []
    for entry in entries:
        if entry == "output":
            out.append(NeuronSpec("output"))
            continue
        if entry in ("classes", "pairs"):
            n_classes = shape()[1]
            if n_classes == 2:
                out.append(NeuronSpec("output"))  # a binary network has one logit: it is every class logit
            elif entry == "classes":
                out += [NeuronSpec("class", unit=c) for c in range(n_classes)]
            else:
                out += [NeuronSpec("log_odds", unit=a, other=b) for a in range(n_classes) for b in range(a + 1, n_classes)]
            continue
        kind = entry["kind"]
        if kind == "output":
            out.append(NeuronSpec("output"))
        elif kind == "hidden":
            hidden = shape()[0]
            layers = _choose(entry.get("layer", 0), len(hidden), "layer", "the network has hidden layers")
            stages = (True, False) if entry.get("preactivation") == "both" else (bool(entry.get("preactivation")),)
            for layer in layers:
                for unit in _choose(entry.get("unit", 0), hidden[layer], "unit", f"hidden layer {layer} has units"):
                    out += [NeuronSpec("hidden", layer=layer, unit=unit, preactivation=p) for p in stages]
        else:
            n_classes = shape()[1]
            units = _choose(entry.get("unit", 0), n_classes, "unit", "the network has classes")
            if kind == "class":
                out += [NeuronSpec("class", unit=u) for u in units]
                continue
            others = _choose(entry.get("other", 1), n_classes, "other", "the network has classes")
            both_all = entry.get("unit") == "all" and entry.get("other") == "all"
            out += [NeuronSpec("log_odds", unit=u, other=o) for u in units for o in others
                    if u != o and not (both_all and o < u)]
    return out


def _choose(value: Any, size: int, key: str, container: str) -> list[int]:
    if value == "all":
        return list(range(size))
    chosen = value if isinstance(value, list) else [value]
    for v in chosen:
        if v >= size:
            raise SymgradError(f"neuron {key} {v} is out of range; {container} 0..{size - 1}")
    return list(chosen)
