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
backends, which loads JAX; the batch folder's ``plan.json`` (``symgrad.batch.plan``) keeps the
expanded batch, so that resuming a finished batch needs neither.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any


from .. import config as config_mod
from ..errors import SymgradError
from ..rundir import safe_name
from .items import BATCH_KEYS, NETWORK_SECTIONS, NEURON_KEYS, Batch, Item, Network
from .plan import batch_inputs, matches, read_spec, read_text, spec_name

if TYPE_CHECKING:  # symgrad.neurons loads JAX: imported where a batch is expanded (expand)
    from ..neurons import NeuronSpec

NEURON_WORDS = ("output", "classes", "pairs")


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
    spec, extra_sets = read_spec(path, overrides)
    batch = expand(spec, root=path.parent, name=spec_name(spec, path), extra_sets=extra_sets)
    data_files = sorted({n.config[section]["path"] for n in batch.networks for section in ("data", "model")
                         if n.config[section]["path"] is not None})
    return replace(batch, inputs=batch_inputs(path, overrides, data_files))


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
    return config_mod.read_yaml(read_text(path, f"{what} {path.name}"), f"{what} {path.name}") or {}


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
        found = matches(pattern, root)
        if not found:
            raise SymgradError(f"configs entry {pattern!r} matches no file (paths are relative to the batch file's "
                               f"folder {str(root)!r})")
        for match in found:
            stem = safe_name(Path(match).stem)  # item and folder names are made from it
            if any(stem == existing for existing, _ in out):
                raise SymgradError(f"two configs are both named {stem!r}; items are named after the config file, so "
                                   "give them distinct names")
            out.append((stem, _merge(base, _read_yaml(Path(match), "config file"), f"config {stem}")))
    return out


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
