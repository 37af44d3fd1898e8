"""Fidelity of every formula of a front against the network it interprets, and how to read it."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..data.tables import Dataset
from ..expressions import parse_formula, value_function
from .boundary import BoundaryPoints, boundary_metrics, project_onto_boundary
from .floor import near_boundary
from .metrics import auc_score, fidelity_metrics, fit_threshold, rule_labels
from .statement import decision_statement
from ..network.model import Classifier
from ..record import Neuron
from ..neurons import GradientSample, NeuronSpec, neuron_gradients, neuron_values, target_class
from ..search.base import Entry, Front

_ALIGNMENT_KEYS = ("alignment_mean", "alignment_median", "alignment_quantiles", "spearman", "spearman_abs")


@dataclass(frozen=True)
class Evidence:
    """What formulas are judged against.

    Attributes:
        classifier, spec: the network and the interpreted neuron; None for a plain function,
            whose formulas are judged by gradient alignment alone.
        holdout: held-out band points with the neuron's unit gradients and values.
        validation: data on which, with ``training``, each formula's threshold is fitted (to the
            network's labels).
        test: data on which the thresholded formula is compared with the network and the truth.
        scale: (d,) spread of each input: gradients are compared in these units, as in the search.
        labelled: whether ``test.y`` holds true labels (points given without labels do not).
        names: the input names when there is no classifier (a plain function).
        training: (n, d) training inputs; the threshold is fitted on these and the validation
            points together (the network's labels cost nothing, and a threshold fitted on a small
            validation split alone is noisy: 36 points on a digits pair), never on test points.
    """

    classifier: Classifier | None
    spec: NeuronSpec | None
    holdout: GradientSample
    validation: Dataset | None = None
    test: Dataset | None = None
    scale: np.ndarray | None = None
    labelled: bool = True
    names: tuple[str, ...] = ()
    training: np.ndarray | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.classifier.feature_names if self.classifier is not None else tuple(self.names)

    @property
    def decides(self) -> bool:
        """Whether decisions can be compared: a network and labelled-or-not split points."""
        return self.classifier is not None and self.validation is not None and self.test is not None

    @property
    def target_class(self) -> int:
        return target_class(self.classifier.n_classes, self.spec)

    @property
    def target_name(self) -> str:
        """The target class as the data name it: its label value, or its id if unnamed."""
        names = self.classifier.class_names
        return str(names[self.target_class]) if self.target_class < len(names) else str(self.target_class)

    def network_labels(self, x: np.ndarray) -> np.ndarray:
        """(n,) 1 where the network predicts ``target_class``, else 0."""
        return (self.classifier.predict(x) == self.target_class).astype(np.int32)

    # the network's labels do not depend on the formula: computed once, not once per entry
    @functools.cached_property
    def holdout_labels(self) -> np.ndarray | None:
        return self.network_labels(self.holdout.x) if self.classifier is not None else None

    @functools.cached_property
    def near(self) -> np.ndarray:
        """(m,) mask of the held-out points nearest the decision boundary (``symgrad.judging.floor``)."""
        return near_boundary(self.holdout.margin, len(self.holdout.x))

    @functools.cached_property
    def boundary(self) -> BoundaryPoints | None:
        """The held-out band points moved onto the network's decision boundary
        (``symgrad.judging.boundary``); None where the neuron's decision is not its sign (hidden
        units, class and log-odds neurons of multi-class networks, whose decision is an argmax) or
        there is no network."""
        if self.classifier is None or self.spec is None or self.spec.kind != "output":
            return None
        spec, classifier = self.spec, self.classifier
        # every held-out band point, not only the quarter nearest the boundary: where the band is
        # thin (steep clean networks) that quarter holds 50-90 points, too few for a quantile
        start = self.holdout.x
        scale = np.ones(start.shape[1]) if self.scale is None else np.asarray(self.scale, dtype=np.float64)
        return project_onto_boundary(lambda z: neuron_values(classifier, spec, z),
                                     lambda z: neuron_gradients(classifier, spec, z), start, scale,
                                     low=start.min(axis=0), high=start.max(axis=0))

    @functools.cached_property
    def validation_labels(self) -> np.ndarray:
        return self.network_labels(self.validation.x)

    @functools.cached_property
    def test_labels(self) -> np.ndarray:
        return self.network_labels(self.test.x)

    @functools.cached_property
    def threshold_points(self) -> tuple[np.ndarray, np.ndarray]:
        """((n, d) points, (n,) network labels) on which a formula's threshold is fitted: the
        training points, if given, and the validation points."""
        if self.training is None or not len(self.training):
            return self.validation.x, self.validation_labels
        training = np.asarray(self.training, dtype=np.float64)
        return (np.concatenate([training, self.validation.x]),
                np.concatenate([self.network_labels(training), self.validation_labels]))

    def true_labels(self, data: Dataset) -> np.ndarray:
        return (data.y == self.target_class).astype(np.int32)


def assess_entry(entry: Entry, evidence: Evidence) -> dict[str, Any]:
    """Metrics of one formula (see ``symgrad.judging.metrics``).

    Alignment and rank correlation are measured on the held-out band points. Where a network
    decides (``evidence.decides``), the rule "target class iff orientation·g > orientation·threshold"
    is fitted to the network's labels on the training and validation points and scored on the whole test split
    against the network's labels (``boundary_agreement``, ``boundary_agreement_auc``) and, when the
    points are labelled, the true labels (``true_label_accuracy``, ``true_label_auc``), next to
    ``net_accuracy``. For an output logit the formula's level set is also compared with the
    network's boundary (``symgrad.judging.boundary.boundary_metrics``: ``boundary_departure`` in
    spreads, where it departs most, and the points it was measured on).
    """
    names = evidence.feature_names
    expr = parse_formula(entry.expression, names)
    holdout = evidence.holdout
    # a plain function has no decisions; the median split only feeds figures discarded below
    labels = evidence.holdout_labels if evidence.classifier is not None \
        else (holdout.values > np.median(holdout.values)).astype(np.int32)
    fidelity = fidelity_metrics(expr, names, x=holdout.x, directions=holdout.directions,
                                neuron_values=holdout.values, net_labels=labels, scale=evidence.scale,
                                near=evidence.near)
    metrics: dict[str, Any] = {key: fidelity[key] for key in (*_ALIGNMENT_KEYS, "loss", "loss_near")}
    if not evidence.decides:
        return metrics
    boundary = evidence.boundary
    if boundary is not None and len(boundary.x):
        metrics.update(boundary_metrics(entry.expression, names, boundary))
    g = value_function(expr, names)
    fit_x, fit_labels = evidence.threshold_points
    threshold, orientation, _ = fit_threshold(g(fit_x), fit_labels)
    g_test = g(evidence.test.x)
    predicted = rule_labels(g_test, threshold, orientation)
    net = evidence.test_labels
    metrics.update(threshold=threshold, orientation=orientation,
                   boundary_agreement=float(np.mean(predicted == net)),
                   boundary_agreement_auc=auc_score(g_test, net, orientation))
    metrics["n_boundary_points"] = int(len(net))
    # what the verdict needs to know whether agreement can mean anything (report.cannot_judge)
    finite = g_test[np.isfinite(g_test)]
    metrics.update(
        target_class=evidence.target_class, target_class_name=evidence.target_name,
        net_class_count=int(net.sum()),
        formula_min=float(finite.min()) if len(finite) else float("nan"),
        formula_max=float(finite.max()) if len(finite) else float("nan"),
    )
    if evidence.labelled:
        truth = evidence.true_labels(evidence.test)
        metrics.update(true_label_accuracy=float(np.mean(predicted == truth)),
                       true_label_auc=auc_score(g_test, truth, orientation),
                       net_accuracy=float(np.mean(net == truth)),
                       majority_accuracy=float(max(truth.mean(), 1.0 - truth.mean())) if len(truth) else float("nan"))
    return metrics


def assess_front(front: Front, evidence: Evidence) -> Front:
    """The front with every entry's ``metrics`` filled in (existing metrics are kept)."""
    return Front(tuple(replace(e, metrics={**e.metrics, **assess_entry(e, evidence)}) for e in front))


def statement(entry: Entry, neuron: NeuronSpec | Neuron) -> str:
    """How to read the result: decisions follow a level set of the formula.

    Args:
        entry: the chosen formula; its metrics give the threshold, orientation and target class.
        neuron: the ``NeuronSpec``, or the neuron as recorded (``symgrad.record.Neuron``: plain
            functions have no spec).
    """
    if isinstance(neuron, NeuronSpec):
        description, decides = neuron.describe(), neuron.kind != "hidden"
    else:
        description, decides = neuron.description, bool(neuron.decides)
    if not decides or entry.metrics.get("threshold") is None:
        return f"the {description} is a monotone function of {entry.expression}"
    return decision_statement(entry.expression, entry.metrics, description)
