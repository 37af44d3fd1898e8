"""The one result object: the front, the chosen formula, its verdict, exports, plots and run directory.

``symgrad.interpret`` (the CLI pipeline), ``symgrad.explain`` and ``symgrad.load_run`` all return
a ``Result``; the choice of the formula shown and the verdict are made by ``symgrad.judging.verdict``
and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .errors import SymgradError
from .search.base import Entry, Front
# the choice and the verdict live in symgrad.judging.verdict; their names stay importable from here
from .record import Neuron, Record, read_gradient_arrays
from .report.tradeoff import has_tradeoff, tradeoff_rows, tradeoff_series


# ----------------------------------------------------------------------------- the object


@dataclass(frozen=True)
class Artifacts:
    """In-memory companions of a result not (yet) read from a run directory.

    Attributes:
        model: the interpreted ``Classifier`` (None for a plain function).
        gradients: arrays as in gradients.npz: x, directions, values (search points) and
            x_holdout, directions_holdout, values_holdout; optionally x_reference (test points).
        function: the plain JAX function interpreted, if any (not saved).
    """

    model: Any = None
    gradients: Mapping[str, np.ndarray] = field(default_factory=dict)
    function: Callable | None = None


@dataclass(frozen=True, repr=False)
class Result:
    """One interpreted neuron: every candidate formula, the chosen one and how far to trust it.

    Attributes:
        record: ``result.json`` as a typed ``symgrad.record.Record`` (``result`` is its dict).
        front: every candidate formula, simplest first, with its ``metrics``.
        best: the chosen entry (``choose``), or None if the search found nothing.
        features: input names; every expression is written in them.
        path: the run directory, once written or when loaded.
    """

    record: Record
    front: Front
    best: Entry | None
    features: tuple[str, ...]
    path: Path | None = None
    artifacts: Artifacts = field(default_factory=Artifacts, compare=False)

    # -- construction

    @classmethod
    def from_record(cls, record: Record | Mapping[str, Any], *, path: str | Path | None = None,
                    artifacts: Artifacts | None = None) -> "Result":
        """The result a ``Record`` (or a result.json dict, checked first) describes."""
        if not isinstance(record, Record):
            record = Record.from_dict(record)
        front = Front(tuple(Entry.from_dict(f.to_dict()) for f in record.front or ()))
        best = None if record.best is None else Entry.from_dict(record.best.to_dict())
        # a run that failed before its data were read has no features (and no front)
        return cls(record=record, front=front, best=best, features=tuple(record.features),
                   path=None if path is None else Path(path), artifacts=artifacts or Artifacts())

    def to_json(self) -> str:
        """The result.json text."""
        from .rundir import jsonable

        return json.dumps(jsonable(self.record.to_dict()), indent=2, allow_nan=False)

    # -- what it says

    @property
    def result(self) -> dict[str, Any]:
        """The result.json dict (``record.to_dict()``)."""
        return self.record.to_dict()

    @property
    def verdict(self) -> dict[str, str]:
        """{"kind": "faithful" | "approximate" | "not_found" | "cannot_judge", "sentence": ...}."""
        return {} if self.record.verdict is None else self.record.verdict.to_dict()

    @property
    def faithful(self) -> bool:
        return self.record.verdict is not None and self.record.verdict.kind == "faithful"

    @property
    def statement(self) -> str | None:
        """How to read the chosen formula, e.g. "the decision boundary is {g = t}: ..."."""
        return self.record.statement

    @property
    def _neuron(self) -> Neuron:
        # a run that failed before its network was read has no neuron section
        return self.record.neuron or Neuron()

    @property
    def neuron(self) -> dict[str, Any]:
        """The neuron as recorded (kind, layer, unit, description, decides, target class, ...)."""
        return {} if self.record.neuron is None else self.record.neuron.to_dict()

    def entry(self, which: Entry | int | None = None) -> Entry:
        """An entry of the front: an Entry, an index into the front, or None for the chosen one."""
        if which is None:
            if self.best is None:
                raise SymgradError("this result has no chosen formula (the search found none)")
            return self.best
        if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
            if not -len(self.front) <= which < len(self.front):
                raise SymgradError(f"front index {which} is out of range; the front has {len(self.front)} entries")
            return self.front.entries[int(which)]
        if isinstance(which, Entry):
            return which
        raise SymgradError(f"{which!r} is not a front entry; give an index, an Entry or None for the chosen one")

    def metrics(self, which: Entry | int | None = None) -> dict[str, Any]:
        """Fidelity figures of an entry (default: the chosen one), see docs/results.md."""
        return dict(self.entry(which).metrics)

    # -- exports (default: the chosen entry)

    def sympy(self, which: Entry | int | None = None):
        """The sympy expression of an entry."""
        return self.entry(which).sympy(self.features)

    def latex(self, which: Entry | int | None = None) -> str:
        from .export import to_latex

        return to_latex(self.sympy(which), self.features)

    def numpy(self, which: Entry | int | None = None) -> Callable[[np.ndarray], np.ndarray]:
        """f(X (n, d) raw units) -> (n,) formula values, with numpy."""
        from .export import to_numpy

        return to_numpy(self.sympy(which), self.features)

    def jax(self, which: Entry | int | None = None) -> Callable[[Any], Any]:
        """Jittable f(X (n, d)) -> (n,) formula values."""
        from .export import to_jax

        return to_jax(self.sympy(which), self.features)

    def rule(self, which: Entry | int | None = None) -> str:
        """Source of a standalone classification rule (needs only ``math``), as in rule.py."""
        from .export import rule_source

        entry = self.entry(which)
        if "threshold" not in entry.metrics:
            raise SymgradError("this entry has no fitted threshold (a hidden unit or a plain function decides "
                               "nothing), so it has no classification rule")
        return rule_source(entry.sympy(self.features), self.features, entry.metrics["threshold"],
                           entry.metrics["orientation"], **self._rule_names())

    def exports(self, which: Entry | int | None = None) -> dict[str, Any]:
        """All exports of an entry: sympy, latex, numpy, jax and (when it decides) rule."""
        out = {"sympy": self.sympy(which), "latex": self.latex(which), "numpy": self.numpy(which),
               "jax": self.jax(which)}
        if "threshold" in self.entry(which).metrics:
            out["rule"] = self.rule(which)
        return out

    def _rule_names(self) -> dict[str, Any]:
        """The user's column names and class labels for the generated rule."""
        data, neuron = self.record.data, self.record.neuron
        out: dict[str, Any] = {}
        if data is not None and data.renamed:
            out["original_names"] = {new: old for old, new in data.renamed.items()}
        if neuron is not None and neuron.target_label not in (None, "") and neuron.other_label not in (None, ""):
            out["labels"] = (neuron.other_label, neuron.target_label)
        return out

    # -- companions: the model and the gradient samples

    def model(self):
        """The interpreted ``Classifier`` (e.g. to interpret another of its neurons)."""
        if self.artifacts.model is not None:
            return self.artifacts.model
        if self.path is not None and (self.path / "model.npz").is_file():
            from .network.model import Classifier

            return Classifier.load(self.path / "model.npz")
        raise SymgradError("this result has no network (it interprets a plain function, or its run directory "
                           "lacks model.npz)")

    def gradients(self) -> dict[str, np.ndarray]:
        """Arrays of gradients.npz: x, directions, values (search) and *_holdout (held-out)."""
        if self.artifacts.gradients:
            return dict(self.artifacts.gradients)
        if self.path is not None and (self.path / "gradients.npz").is_file():
            return read_gradient_arrays(self.path / "gradients.npz", len(self.features))
        raise SymgradError("this result has no gradient samples (its run directory lacks gradients.npz)")

    @property
    def config(self) -> dict[str, Any] | None:
        """The run's configuration (config.yaml), or None for results of ``explain``."""
        if self.path is None or not (self.path / "config.yaml").is_file():
            return None
        import yaml

        return yaml.safe_load((self.path / "config.yaml").read_text())

    # -- plots (matplotlib Figures that display inline in Jupyter)

    def plot_pareto(self):
        """Complexity against held-out L for the front, the chosen entry circled."""
        from .report.plots import pareto_plot

        if not len(self.front):
            raise SymgradError("the front is empty; there is nothing to plot")
        entries = list(self.front)
        index = entries.index(self.best) if self.best in entries else None
        return pareto_plot([e.complexity for e in entries], [e.loss for e in entries], index,
                           [e.expression for e in entries])

    def plot_values(self, which: Entry | int | None = None):
        """The neuron's value against the formula's value on the held-out points."""
        from .report.plots import value_plot

        grads = self.gradients()
        return value_plot(grads["values_holdout"], self._value_function(which)(grads["x_holdout"]))

    def plot_relevance(self):
        """Per-input relevance: mean |normalised gradient component| on the held-out points."""
        from .report.plots import relevance_plot

        return relevance_plot(self._relevance(self.gradients()), self.features)

    def plot_boundary(self, which: Entry | int | None = None, pairs: list[tuple[int, int]] | None = None):
        """2-D slices (others at their medians) of the network's decision and the formula's level set.

        Args:
            which: the entry (default: the chosen one).
            pairs: input index pairs, one panel each; default: up to 3 pairs of the formula's most
                relevant inputs.
        """
        from .report.plots import boundary_slices

        entry = self.entry(which)
        if "threshold" not in entry.metrics:
            raise SymgradError("this entry has no fitted threshold (a hidden unit or a plain function decides "
                               "nothing), so it has no decision boundary to draw")
        grads = self.gradients()
        reference = grads.get("x_reference", grads["x"])
        if pairs is None:
            pairs = self._default_pairs(entry, grads)
            if not pairs:
                raise SymgradError("a decision-boundary slice needs two inputs; this network has one")
        target = int(self._neuron.target_class if self._neuron.target_class is not None else 1)
        model = self.model()
        return boundary_slices(lambda x: model.class_probabilities(x)[:, target], self._value_function(entry),
                               entry.metrics["threshold"], reference, pairs, self.features)

    def plot_training(self):
        """Training and validation loss and validation accuracy per epoch."""
        from .report.plots import training_curves

        history = self._training_history()
        if not history:
            raise SymgradError("this network was not trained by symgrad, so there are no training curves")
        return training_curves(history)

    def explore(self, **kwargs):
        """An interactive explorer in Jupyter (ipywidgets; ``symgrad.explore.explore`` gives the
        arguments); where ipywidgets is missing it shows the static figures and says so."""
        from .explore.widgets import explore

        return explore(self, **kwargs)

    def tradeoff(self) -> list[dict[str, Any]]:
        """Agreement with the network's decisions against size, per size, for the front and the
        companions' size paths (``symgrad.report.tradeoff.tradeoff_rows``)."""
        return tradeoff_rows(self.record)

    def plot_tradeoff(self):
        """Agreement with the network against size, for the front and the companions' size paths."""
        from .report.plots import tradeoff_plot

        series = tradeoff_series(self.record)
        agreement = None if self.best is None else self.best.metrics.get("boundary_agreement")
        return tradeoff_plot(series, None if agreement is None else (self.best.complexity, float(agreement)))

    def figures(self) -> dict[str, Any]:
        """Every figure that applies, by title (the report's figures)."""
        return {title: draw() for title, draw in self._figure_makers().items()}

    def _figure_makers(self) -> dict[str, Any]:
        """Title -> function that draws it, for every figure that applies (nothing drawn yet)."""
        out: dict[str, Any] = {}
        if len(self.front):
            out["Pareto front"] = self.plot_pareto
        try:
            self.gradients()
        except SymgradError:
            return out
        out["Input relevance"] = self.plot_relevance
        if has_tradeoff(self.record):
            out["Agreement against size"] = self.plot_tradeoff
        if self.best is not None:
            out["Neuron vs formula"] = self.plot_values
            # a hidden unit decides nothing: its formula's level set is no decision boundary
            # to set beside the network's (plot_boundary still draws it on request)
            if self._neuron.decides and "threshold" in self.best.metrics and len(self.features) > 1:
                out["Decision boundary slices"] = self.plot_boundary
        if self._training_history():
            out["Training curves"] = self.plot_training
        return out

    def _training_history(self) -> dict[str, Any] | None:
        model = self.record.model
        return ((model.training if model is not None else None) or {}).get("history") or None

    def _value_function(self, which):
        from .expressions import value_function

        return value_function(self.sympy(which), self.features)

    @staticmethod
    def _relevance(grads: Mapping[str, np.ndarray]) -> np.ndarray:
        """(d,) relevance of each input in the units the search compared gradients in."""
        from .search.screening import relevance

        return relevance(grads["directions_holdout"] * grads.get("scale", 1.0))

    def _default_pairs(self, entry: Entry, grads: Mapping[str, np.ndarray]) -> list[tuple[int, int]]:
        ranked = [int(i) for i in np.argsort(-self._relevance(grads), kind="stable")]
        used_names = {str(s) for s in entry.sympy(self.features).free_symbols}
        used = [i for i in ranked if self.features[i] in used_names] or ranked
        pool = (used + [i for i in ranked if i not in used])[:4]
        return [(pool[a], pool[b]) for a in range(len(pool)) for b in range(a + 1, len(pool))][:3]

    # -- writing

    def save(self, directory: str | Path, *, overwrite: bool = False) -> "Result":
        """Write a run directory (result.json, model.npz, gradients.npz, exports and report).

        A finished run already at ``directory`` is replaced only with ``overwrite``; a folder
        holding anything else is never replaced (``symgrad.rundir.replace_problem``).

        Returns:
            The result as loaded back from ``directory``.
        """
        from .rundir import prepare_run_dir

        # written into a hidden sibling and moved into place when complete, as every run is
        folder = prepare_run_dir(directory, None, stem="run", overwrite=overwrite, explicit=True)
        try:
            run_dir = folder.path
            if self.artifacts.model is not None or (self.path is not None and (self.path / "model.npz").is_file()):
                self.model().save(run_dir / "model.npz")
            try:
                np.savez(run_dir / "gradients.npz", **self.gradients())
            except SymgradError:
                pass  # a result without gradient samples has no plots that need them
            if self.path is not None and (self.path / "config.yaml").is_file():
                (run_dir / "config.yaml").write_text((self.path / "config.yaml").read_text())
            write_outputs(run_dir, self)
        except BaseException as error:
            folder.fail(error)
            raise
        return load_run(folder.commit())

    # -- display

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        if self.best is None:
            return f"Result({self._neuron.description}: no formula{where})"
        agreement = self.best.metrics.get("boundary_agreement") if self._neuron.decides else None
        agreement_text = "" if agreement is None else f", agreement {100 * agreement:.1f}%"
        kind = "?" if self.record.verdict is None else self.record.verdict.kind
        return (f"Result({self._neuron.description}: {self.best.expression} "
                f"[L={self.best.loss:.3g}{agreement_text}], {kind}, "
                f"front of {len(self.front)}{where})")

    def _repr_html_(self) -> str:
        from .report.summary import result_html

        return result_html(self.record, self.front._repr_html_(chosen=self.best), self.path)


# ----------------------------------------------------------------------------- run directories


def write_outputs(run_dir: Path, result: Result, *, extra_figures: Mapping[str, Any] | None = None) -> None:
    """result.json, the exports (front.csv, front.json, formula.tex, rule.py) and the report
    (with the result's figures and ``extra_figures``, e.g. the companions')."""
    from . import export
    from .report.page import write_report
    from .report.summary import report_summary
    from .report.plots import cached_png, figure_to_png_bytes
    from .rundir import RESULT_FILE, write_json

    record = result.record
    write_json(run_dir / RESULT_FILE, record.to_dict())
    front = [f.to_dict() for f in record.front or ()]
    export.front_to_csv(front, run_dir / "front.csv")
    export.front_to_json(front, run_dir / "front.json")
    best = result.best
    if best is not None:
        (run_dir / "formula.tex").write_text(result.latex() + "\n")
        if "threshold" in best.metrics:
            (run_dir / "rule.py").write_text(result.rule())
    figures: dict[str, Any] = {}
    for title, draw in result._figure_makers().items():
        history = result._training_history() if title == "Training curves" else None
        if history:
            # the same network's curves in every run of a batch: drawn once per process
            key = hashlib.sha256(json.dumps(history, sort_keys=True, default=str).encode()).hexdigest()
            figures[title] = cached_png(f"training:{key}", draw)
        else:
            figures[title] = figure_to_png_bytes(draw())  # rendered at once: no figure is kept open
    figures.update(extra_figures or {})
    write_report(run_dir, report_summary(record), figures)


def load_run(path: str | Path) -> Result:
    """Load a run directory (JSON and npz only; no code runs).

    Raises:
        SymgradError: no run there, or its result.json is damaged or inconsistent (one sentence
            naming what is wrong; see ``symgrad.record.check_record``).
    """
    from .record import check_model_inputs
    from .rundir import RESULT_FILE

    path = Path(path)
    result_file = path / RESULT_FILE
    if not result_file.is_file():
        raise SymgradError(f"{str(path)!r} is not a symgrad run directory (no result.json)")
    try:
        record = json.loads(result_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise SymgradError(f"{str(result_file)!r} is not valid JSON; the run directory is damaged") from None
    record_ = Record.from_dict(record, where=repr(str(result_file)))
    check_model_inputs(record, path / "model.npz", where=repr(str(result_file)))
    return Result.from_record(record_, path=path)
