"""Run directories: atomic JSON artefacts, versions, and ``load_run`` (folders are chosen in ``rundirs``)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SymgradError
from .export import jsonable
from .rundirs import RESULT_FORMAT as RESULT_FORMAT, RESULT_VERSION as RESULT_VERSION
from .search.base import Entry, Front



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

    def entry(self, which: Entry | int | None = None) -> Entry:
        """An entry of the front: an Entry, an index into the front, or None for the selected one."""
        if which is None:
            if self.best is None:
                raise SymgradError(f"run {str(self.path)!r} has no selected formula")
            return self.best
        if isinstance(which, int):
            if not -len(self.front) <= which < len(self.front):
                raise SymgradError(f"front index {which} is out of range; the front has {len(self.front)} entries")
            return self.front.entries[which]
        return which

    def sympy(self, which: Entry | int | None = None):
        """The sympy expression of an entry (default: the selected one)."""
        return self.entry(which).sympy(self.features)

    def exports(self, which: Entry | int | None = None) -> dict[str, Any]:
        """The entry as sympy, LaTeX, numpy and JAX callables f(X (n, d)) -> (n,), and, when its
        threshold is known, the source of a standalone classification rule."""
        from . import export

        entry = self.entry(which)
        expr = entry.sympy(self.features)
        out = {"sympy": expr, "latex": export.to_latex(expr, self.features),
               "numpy": export.to_numpy(expr, self.features), "jax": export.to_jax(expr, self.features)}
        if "threshold" in entry.metrics:
            out["rule"] = export.rule_source(expr, self.features, entry.metrics["threshold"],
                                             entry.metrics["orientation"])
        return out

    def metrics(self, which: Entry | int | None = None) -> dict[str, Any]:
        return dict(self.entry(which).metrics)

    def plot_pareto(self):
        """Figure: complexity vs held-out L, the selected entry circled."""
        from .plots import pareto_plot

        entries = list(self.front)
        index = self.result.get("best_index")
        return pareto_plot([e.complexity for e in entries], [e.loss for e in entries], index,
                           [e.expression for e in entries])

    def plot_values(self, which: Entry | int | None = None):
        """Figure: the neuron's value against the formula's value on held-out points."""
        from .expressions import value_function
        from .plots import value_plot

        grads = self.gradients()
        g = value_function(self.sympy(which), self.features)
        return value_plot(grads["values_holdout"], g(grads["x_holdout"]))

    def plot_boundary(self, which: Entry | int | None = None, pairs: list[tuple[int, int]] | None = None):
        """Figure: 2-D slices of the network's decision and the formula's level set."""
        from .expressions import value_function
        from .plots import boundary_slices
        from .search.screening import relevance

        entry = self.entry(which)
        if "threshold" not in entry.metrics:
            raise SymgradError("this entry has no fitted threshold, so it has no decision boundary to draw")
        grads = self.gradients()
        if pairs is None:
            order = [int(i) for i in np.argsort(-relevance(grads["directions_holdout"]))][:3]
            pairs = [(order[a], order[b]) for a in range(len(order)) for b in range(a + 1, len(order))][:3]
        g = value_function(entry.sympy(self.features), self.features)
        return boundary_slices(self._target_probability(), g, entry.metrics["threshold"], grads["x"], pairs,
                               self.features)

    def _target_probability(self):
        """The network's probability of the class the neuron was compared with (as in the report)."""
        from .neurons import NeuronSpec, target_class

        n = self.result["neuron"]
        spec = NeuronSpec(n["kind"], n["layer"], n["unit"], n["other"], n["preactivation"])
        model = self.model()
        target = target_class(model.n_classes, spec)
        return lambda x: model.class_probabilities(x)[:, target]


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
    return Run(path=path, result=result, front=front, best=best, features=tuple(result.get("features", ())))
