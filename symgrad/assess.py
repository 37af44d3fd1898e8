"""Fidelity of every formula of a front, the run's verdict, figures, exports and report."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .data.tables import Dataset
from .expressions import parse_formula, value_function
from .metrics import auc_score, fidelity_metrics, fit_threshold, rule_labels
from .model import Classifier
from .neurons import GradientSample, NeuronSpec, target_class
from .search.base import Entry, Front
from .search.screening import relevance

_ALIGNMENT_KEYS = ("alignment_mean", "alignment_median", "alignment_quantiles", "spearman", "spearman_abs")


@dataclass(frozen=True)
class Evidence:
    """What formulas are judged against.

    Attributes:
        classifier, spec: the network and the interpreted neuron.
        holdout: held-out band points with the neuron's unit gradients and values.
        validation: data on which each formula's threshold is fitted (to the network's labels).
        test: data on which the thresholded formula is compared with the network and the truth.
        scale: (d,) spread of each input: gradients are compared in these units, as in the search.
    """

    classifier: Classifier
    spec: NeuronSpec
    holdout: GradientSample
    validation: Dataset
    test: Dataset
    scale: np.ndarray | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.classifier.feature_names

    @property
    def target_class(self) -> int:
        return target_class(self.classifier.n_classes, self.spec)

    def network_labels(self, x: np.ndarray) -> np.ndarray:
        """(n,) 1 where the network predicts ``target_class``, else 0."""
        return (self.classifier.predict(x) == self.target_class).astype(np.int32)

    def network_probability(self, x: np.ndarray) -> np.ndarray:
        """(n,) the network's probability of ``target_class``."""
        return self.classifier.class_probabilities(x)[:, self.target_class]

    # the network's labels do not depend on the formula: computed once, not once per entry
    @functools.cached_property
    def holdout_labels(self) -> np.ndarray:
        return self.network_labels(self.holdout.x)

    @functools.cached_property
    def validation_labels(self) -> np.ndarray:
        return self.network_labels(self.validation.x)

    @functools.cached_property
    def test_labels(self) -> np.ndarray:
        return self.network_labels(self.test.x)

    def true_labels(self, data: Dataset) -> np.ndarray:
        return (data.y == self.target_class).astype(np.int32)

    @property
    def target_name(self) -> str:
        """The target class as the data name it: its label value, or its id if unnamed."""
        names = self.classifier.class_names
        return str(names[self.target_class]) if self.target_class < len(names) else str(self.target_class)


def assess_entry(entry: Entry, evidence: Evidence) -> dict[str, Any]:
    """Metrics of one formula (see ``symgrad.metrics``).

    Alignment and rank correlation are measured on the held-out band points. The decision rule
    "class 1 iff orientation·g > orientation·threshold" is fitted to the network's labels on the
    validation split and scored on the whole test split against the network's labels
    (``boundary_agreement``, ``boundary_agreement_auc``) and the true labels
    (``true_label_accuracy``, ``true_label_auc``), next to ``net_accuracy``.
    """
    names = evidence.feature_names
    expr = parse_formula(entry.expression, names)
    holdout = evidence.holdout
    near = fidelity_metrics(expr, names, x=holdout.x, directions=holdout.directions,
                            neuron_values=holdout.values, net_labels=evidence.holdout_labels, scale=evidence.scale)
    metrics: dict[str, Any] = {key: near[key] for key in _ALIGNMENT_KEYS}
    metrics["loss"] = near["loss"]
    g = value_function(expr, names)
    threshold, orientation, _ = fit_threshold(g(evidence.validation.x), evidence.validation_labels)
    g_test = g(evidence.test.x)
    predicted = rule_labels(g_test, threshold, orientation)
    net = evidence.test_labels
    truth = evidence.true_labels(evidence.test)
    metrics.update(
        threshold=threshold, orientation=orientation,
        boundary_agreement=float(np.mean(predicted == net)),
        boundary_agreement_auc=auc_score(g_test, net, orientation),
        true_label_accuracy=float(np.mean(predicted == truth)),
        true_label_auc=auc_score(g_test, truth, orientation),
        net_accuracy=float(np.mean(net == truth)),
        n_boundary_points=int(len(net)),
    )
    # what the verdict needs to know whether agreement can mean anything (report.cannot_judge)
    finite = g_test[np.isfinite(g_test)]
    metrics.update(
        target_class=evidence.target_class, target_class_name=evidence.target_name,
        net_class_count=int(net.sum()),
        majority_accuracy=float(max(truth.mean(), 1.0 - truth.mean())) if len(truth) else float("nan"),
        formula_min=float(finite.min()) if len(finite) else float("nan"),
        formula_max=float(finite.max()) if len(finite) else float("nan"),
    )
    return metrics


def assess_front(front: Front, evidence: Evidence) -> Front:
    """The front with every entry's ``metrics`` filled in (existing metrics are kept)."""
    return Front(tuple(replace(e, metrics={**e.metrics, **assess_entry(e, evidence)}) for e in front))


def statement(entry: Entry, spec: NeuronSpec) -> str:
    """How to read the result: decisions follow a level set of the formula."""
    threshold = entry.metrics.get("threshold")
    if spec.kind == "hidden" or threshold is None:
        return f"the {spec.describe()} is a monotone function of {entry.expression}"
    side = ">" if entry.metrics.get("orientation", 1) > 0 else "<"
    target = entry.metrics.get("target_class", 1)
    name = str(entry.metrics.get("target_class_name", target))
    label = f"class {target}" if name == str(target) else f"class {target} ({name!r})"
    return (f"the decision boundary is {{{entry.expression} = {threshold:.4g}}}: "
            f"the network predicts {label} where {entry.expression} {side} {threshold:.4g}")


def figures(result: dict, evidence: Evidence, front: Front, best: Entry | None,
            history: dict | None) -> dict[str, Any]:
    """Matplotlib figures for the report: Pareto front, neuron vs formula, boundary slices,
    input relevance and training curves."""
    from . import plots

    names = evidence.feature_names
    out: dict[str, Any] = {}
    entries = list(front)
    if entries:
        index = entries.index(best) if best in entries else None
        out["Pareto front"] = plots.pareto_plot([e.complexity for e in entries], [e.loss for e in entries], index,
                                                [e.expression for e in entries])
    scale = 1.0 if evidence.scale is None else evidence.scale
    scores = relevance(evidence.holdout.directions * scale)
    out["Input relevance"] = plots.relevance_plot(scores, names)
    if best is not None:
        expr = parse_formula(best.expression, names)
        g = value_function(expr, names)
        out["Neuron vs formula"] = plots.value_plot(evidence.holdout.values, g(evidence.holdout.x))
        ranked = [int(i) for i in np.argsort(-scores)]
        used = [i for i in ranked if names[i] in {str(s) for s in expr.free_symbols}] or ranked
        pool = (used + [i for i in ranked if i not in used])[:4]
        pairs = [(pool[a], pool[b]) for a in range(len(pool)) for b in range(a + 1, len(pool))][:3]
        if pairs and "threshold" in best.metrics:
            out["Decision boundary slices"] = plots.boundary_slices(
                evidence.network_probability, g, best.metrics["threshold"], evidence.test.x, pairs, names)
    if history:
        out["Training curves"] = plots.training_curves(history)
    return out


def write_exports(run_dir: Path, result: dict, best: Entry | None) -> None:
    """front.csv, front.json and, for the chosen formula, rule.py and formula.tex."""
    from . import export

    export.front_to_csv(result["front"], run_dir / "front.csv")
    export.front_to_json(result["front"], run_dir / "front.json")
    if best is None:
        return
    names = result["features"]
    (run_dir / "formula.tex").write_text(export.to_latex(best.expression, names) + "\n")
    if "threshold" in best.metrics:
        (run_dir / "rule.py").write_text(export.rule_source(best.expression, names, best.metrics["threshold"],
                                                            best.metrics["orientation"]))


def write_report(run_dir: Path, result: dict, figs: dict[str, Any]) -> None:
    """report.html and report.md from ``result.json``'s content and the figures."""
    from . import report

    summary = {
        "title": f"symgrad: {result['neuron']['description']}",
        "features": result["features"], "neuron": result["neuron"]["description"],
        "front": result["front"], "best": result["best"],
        "verdict": result.get("verdict"),
        "companions": result.get("companions"),
        "data": {k: v for k, v in result["data"].items()},
        "model": {k: v for k, v in result["model"].items() if k != "training"},
        "timings": result["timings"], "versions": result["versions"],
        "notes": [n for n in (result.get("statement"), _truth_note(result)) if n],
    }
    if summary["verdict"] is None:
        summary.pop("verdict")
    report.write_report(run_dir, summary, figs)
    for fig in figs.values():
        import matplotlib.pyplot as plt

        plt.close(fig)


def _truth_note(result: dict) -> str | None:
    truth = result.get("truth")
    if not truth or "faithful_loss" not in truth:
        return None
    return (f"Against the known concept {truth['formula']}: faithful L {truth['faithful_loss']:.3g} "
            f"(near the true decision surface), exact L {truth['exact_loss']:.3g} (whole domain).")
