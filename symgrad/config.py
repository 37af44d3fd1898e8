"""The run configuration: schema, defaults, YAML loading, ``--set`` overrides and validation."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import SymgradError

# key -> (default, allowed types, check or None, description of allowed values)
Check = Callable[[Any], bool]
_number = (int, float)


def _positive(v) -> bool:
    return v > 0


def _companions(v) -> bool:
    if isinstance(v, bool):
        return True
    # only a list needs the names; the companions package loads JAX, which a config check must not
    from .companions.compare import COMPANIONS

    return all(isinstance(s, str) and s in COMPANIONS for s in v)


def _fractions(v) -> bool:
    return len(v) == 3 and all(isinstance(f, _number) and f > 0 for f in v) and abs(sum(v) - 1) < 1e-6


SCHEMA: dict[str, dict[str, tuple[Any, tuple, Check | None, str]]] = {
    "data": {
        "concept": (None, (str, type(None)), None, "a built-in concept id (A, A1, B, C, D, E, F, G) or null"),
        "path": (None, (str, type(None)), None, "the path of a CSV file or null"),
        "dataset": (None, (str, type(None)), lambda v: v is None or v in ("penguins",),
                    "a data set shipped in a package (penguins) or null"),
        "classes": (None, (list, type(None)),
                    lambda v: v is None or (len(v) >= 2 and all(isinstance(c, (str, int)) for c in v)),
                    "a list of at least 2 label values to keep (the last is class 1 when there are two) or null"),
        "label": (None, (str, type(None)), None, "the name of the label column"),
        "features": (None, (list, type(None)), lambda v: v is None or all(isinstance(s, str) for s in v),
                     "a list of column names or null (all but the label)"),
        "n_samples": (10_000, (int,), lambda v: v >= 50, "an integer >= 50"),
        "split": ([0.7, 0.1, 0.2], (list,), _fractions, "three positive fractions summing to 1"),
        "formula": (None, (str, type(None)), None, "a custom concept formula over x0..x{d-1} or null"),
        "n_features": (None, (int, type(None)), lambda v: v is None or v >= 1, "a positive integer"),
        "low": (-1.0, _number, None, "a number"),
        "high": (1.0, _number, None, "a number above data.low"),
        "threshold": (0.0, _number, None, "a number"),
        "units": (None, (dict, type(None)), None,
                  "a mapping of column names to units, e.g. {weight_kg: kg, height_m: m}, or null"),
    },
    "model": {
        "path": (None, (str, type(None)), None, "the path of a saved model.npz or null to train"),
        "hidden": ([60, 60], (list,), lambda v: len(v) > 0 and all(isinstance(h, int) and h > 0 for h in v),
                   "a non-empty list of positive integers"),
        "activation": ("elu", (str,), lambda v: v in ("relu", "elu", "silu", "tanh", "gelu"),
                       "one of relu, elu, silu, tanh, gelu"),
    },
    "train": {
        "epochs": (60, (int,), _positive, "a positive integer"),
        "batch_size": (128, (int,), _positive, "a positive integer"),
        "learning_rate": (3e-3, _number, _positive, "a positive number"),
        "weight_decay": (0.0, _number, lambda v: v >= 0, "a non-negative number"),
        "patience": (10, (int,), _positive, "a positive integer"),
    },
    "neuron": {
        "kind": ("output", (str,), lambda v: v in ("output", "class", "log_odds", "hidden"),
                 "one of output, class, log_odds, hidden"),
        "layer": (0, (int,), lambda v: v >= 0, "a non-negative integer"),
        "unit": (0, (int,), lambda v: v >= 0, "a non-negative integer"),
        "other": (1, (int,), lambda v: v >= 0, "a non-negative integer"),
        "preactivation": (False, (bool,), None, "true or false"),
    },
    "gradients": {
        "band": (9.2, (int, float, type(None)), lambda v: v is None or v > 0,
                 "a positive decision-margin bound (|logit|) or null for all points"),
        "n_points": (1000, (int,), lambda v: v >= 20, "an integer >= 20"),
        "n_holdout": (1000, (int,), lambda v: v >= 20, "an integer >= 20"),
    },
    "search": {
        "backend": ("auto", (str,), lambda v: v in ("auto", "library", "operon", "pysr"),
                    "one of auto, library, operon, pysr"),
        "selection": ("knee", (str,), lambda v: v in ("knee", "elbow", "within", "best"),
                      "one of knee, elbow, within, best"),
        "selection_factor": (None, (int, float, type(None)), lambda v: v is None or v > 1,
                             "a number above 1 or null for the rule's default"),
        "oriented": (False, (bool,), None, "true or false"),
        "screen": (True, (bool,), None, "true or false"),
        "force_inputs": (None, (list, type(None)), None, "a list of feature names or null"),
        "options": ({}, (dict,), None, "a mapping of backend options"),
    },
    "output": {
        "dir": ("runs", (str,), None, "a directory path"),
        "name": (None, (str, type(None)), None, "a run directory name or null for one made from the config"),
        "overwrite": (False, (bool,), None, "true or false"),
    },
}
TOP_LEVEL: dict[str, tuple[Any, tuple, Check | None, str]] = {
    "seed": (0, (int,), lambda v: 0 <= v < 2**63, "a non-negative integer below 2**63"),
    "progress": (True, (bool,), None, "true or false"),
    "companions": (False, (bool, list), _companions,
                   "false, true (all) or a list of tree, logistic, sensitivity, prelu"),
}


def defaults() -> dict[str, Any]:
    """The full default configuration."""
    config: dict[str, Any] = {k: copy.deepcopy(v[0]) for k, v in TOP_LEVEL.items()}
    for section, keys in SCHEMA.items():
        config[section] = {k: copy.deepcopy(v[0]) for k, v in keys.items()}
    return config


def _unknown(key: str, allowed) -> SymgradError:
    close = difflib.get_close_matches(key.split(".")[-1], list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SymgradError(f"unknown config key {key!r}{hint}; allowed keys are {sorted(allowed)}")


def merge(base: dict[str, Any], update: dict[str, Any], *, prefix: str = "", add_options: bool = False
          ) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base``; unknown keys raise SymgradError.

    Backend options (free-form, checked by the backend) are replaced as a whole, unless
    ``add_options``: then their keys are added to the existing ones.
    """
    out = copy.deepcopy(base)
    if not isinstance(update, dict):
        raise SymgradError(f"config {prefix or 'file'} must be a mapping of keys to values, got {type(update).__name__}")
    for key, value in update.items():
        name = f"{prefix}{key}"
        if key not in out:
            raise _unknown(name, out.keys())
        if isinstance(out[key], dict) and (prefix or key in SCHEMA) and key not in ("options", "units"):
            if not isinstance(value, dict):
                raise SymgradError(f"config key {name!r} must be a mapping with keys {sorted(out[key])}, got {value!r}")
            out[key] = merge(out[key], value, prefix=f"{name}.", add_options=add_options)
        elif key == "options" and add_options and isinstance(out[key], dict) and isinstance(value, dict):
            # one backend option set on its own (search.options.KEY=VALUE) adds to the others
            out[key] = {**out[key], **copy.deepcopy(value)}
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"train.epochs=5"`` -> ``{"train": {"epochs": 5}}`` (the value is read as YAML)."""
    if "=" not in text:
        raise SymgradError(f"--set {text!r} must look like section.key=value, e.g. train.epochs=20")
    key, raw = text.split("=", 1)
    value = read_yaml(raw, f"the value of --set {key.strip()}") if raw.strip() else None
    parts = key.strip().split(".")
    if not all(parts):
        raise SymgradError(f"--set {text!r} has an empty key part; use section.key=value")
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Check every value's type and range and the cross-key rules; returns the config."""
    for key, (_, types, check, allowed) in TOP_LEVEL.items():
        _check_value(key, config[key], types, check, allowed)
    for section, keys in SCHEMA.items():
        for key, (_, types, check, allowed) in keys.items():
            config[section][key] = _coerce(config[section][key], types)
            _check_value(f"{section}.{key}", config[section][key], types, check, allowed)
    data = config["data"]
    sources = [k for k in ("concept", "path", "formula", "dataset") if data[k] is not None]
    if len(sources) > 1:
        raise SymgradError(f"give only one of data.concept, data.path, data.formula or data.dataset, not {sources}")
    if not sources:
        raise SymgradError("give one of data.concept, data.path, data.formula or data.dataset to say where the data come "
                           "from (a reused model still needs its data for the gradient points)")
    repeated = sorted({f for f in data["features"] or () if data["features"].count(f) > 1})
    if repeated:
        raise SymgradError(f"data.features names {repeated} more than once; list each column once")
    if data["path"] is not None and data["label"] is None:
        raise SymgradError("data.path is set but data.label is not; name the label column of the CSV file")
    if data["units"] is not None:
        from .search.dimensions import parse_unit

        for column, unit in data["units"].items():
            parse_unit(unit, str(column))  # a typo stops here, naming the column and the allowed forms
    if data["formula"] is not None:
        if data["n_features"] is None:
            raise SymgradError("data.formula is set but data.n_features is not; say how many inputs x0..x{d-1} it uses")
        if not data["high"] > data["low"]:
            raise SymgradError(f"data.high={data['high']} must exceed data.low={data['low']}")
    return config


def _coerce(value: Any, types: tuple) -> Any:
    # PyYAML reads "1e-3" (no dot) as a string; accept it where a number is expected
    if isinstance(value, str) and float in types:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _check_value(name: str, value: Any, types: tuple, check: Check | None, allowed: str) -> None:
    # bool is an int in Python; a flag must not pass as a count and vice versa
    is_bool = isinstance(value, bool)
    if (is_bool and bool not in types) or not isinstance(value, types):
        raise SymgradError(f"config key {name!r} has the value {value!r} of type {type(value).__name__}; allowed: {allowed}")
    if check is not None and value is not None and not check(value):
        raise SymgradError(f"config key {name!r} has the value {value!r}; allowed: {allowed}")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error instead of the
    last one silently winning (``epochs: 3`` then ``epochs: 400`` would train 400 epochs)."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # keys merged in (<<: *anchor) may be overridden
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            repeated = key in seen
            seen.add(key)
        except TypeError:  # an unhashable key: PyYAML's own error names it
            break
        if repeated:
            raise DuplicateKey(key, key_node.start_mark.line + 1)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"key {key!r} given twice")
        self.key, self.line = key, line


def read_yaml(text: str, what: str) -> Any:
    """Parse YAML ``text`` safely (no code runs) and strictly: a repeated key, nesting deeper
    than Python can follow or invalid YAML raise one SymgradError naming ``what``
    (e.g. "config file run.yaml")."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except DuplicateKey as exc:
        raise SymgradError(f"{what} gives the key {exc.key!r} twice (line {exc.line}); each key may appear once "
                           "per section, so remove one of them") from None
    except RecursionError:
        raise SymgradError(f"{what} is nested too deeply to read; a symgrad config has at most a few levels "
                           "(section, key, backend option)") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise SymgradError(f"{what} is not valid YAML{line}") from None


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Defaults, then the YAML file, then each ``--set`` override, then validation."""
    config = defaults()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise SymgradError(f"config file {str(path)!r} does not exist; give the path of a YAML file")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise SymgradError(f"config file {path.name} is not UTF-8 text; save it as UTF-8") from None
        loaded = read_yaml(text, f"config file {path.name}") or {}
        config = merge(config, loaded)
    for text in overrides:
        # search.options.KEY=VALUE sets one option; search.options={...} replaces them all
        one_option = text.split("=", 1)[0].strip().startswith("search.options.")
        config = merge(config, parse_override(text), add_options=one_option)
    return validate(config)


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)
