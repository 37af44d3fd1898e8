"""One call, no config file: interpret a neuron of a classifier on given points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SymgradError
from .model import Classifier
from .neurons import NeuronSpec, normalized_gradients
from .search import make_backend
from .search.base import Entry, Front, SearchProblem
from .search.select import select


@dataclass(frozen=True)
class Explanation:
    """The outcome of ``explain``: the whole front, the selected entry and the search problem."""

    front: Front
    best: Entry | None
    problem: SearchProblem
    info: dict[str, Any]


def explain(classifier: Classifier, x: np.ndarray, *, neuron: NeuronSpec | None = None, backend: str = "auto",
            options: dict[str, Any] | None = None, band: float | None = 9.2, holdout_fraction: float = 0.5,
            selection: str = "knee", seed: int = 0, progress=None) -> Explanation:
    """Find closed-form formulas for one neuron of ``classifier`` from points ``x``.

    Args:
        classifier: a trained ``Classifier`` (``Classifier.load`` or ``Classifier.from_arrays``).
        x: (n, d) raw-unit points; those in the decision band are split into search and held-out.
        neuron: which neuron (default: the binary output logit).
        backend: auto, library, operon or pysr; ``options`` are passed to it.
        band: decision-margin band (|logit| < band), None for all points.
        holdout_fraction: share of the band points kept aside to score formulas.
        selection: rule used to pick ``best`` (knee, elbow, within, best).
        seed: seeds the split and the search.

    Returns:
        An Explanation; formulas are written in ``classifier.feature_names``, equivalent up to a
        monotone transform.
    """
    neuron = neuron or NeuronSpec.output()
    neuron.validate(classifier)
    if not 0 < holdout_fraction < 1:
        raise SymgradError(f"holdout_fraction={holdout_fraction} must be between 0 and 1")
    sample = normalized_gradients(classifier, neuron, x, band=band)
    n = len(sample.x)
    if n < 40:
        raise SymgradError(f"only {n} points are in the band; give more points or widen the band (band={band})")
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * (1 - holdout_fraction))
    a, b = np.sort(order[:cut]), np.sort(order[cut:])
    problem = SearchProblem(sample.x[a], sample.directions[a], sample.x[b], sample.directions[b],
                            classifier.feature_names, margin=sample.margin[a]).in_spread_units(np.std(x, axis=0))
    engine = make_backend(backend, options)
    found = engine.search(problem, seed=seed, progress=progress)
    best = select(found.front, rule=selection) if len(found.front) else None
    return Explanation(found.front, best, problem, dict(found.info))
