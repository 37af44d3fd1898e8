"""Judging a front: every formula assessed against the network, the network's floor near its
boundary measured, then the choice and the verdict."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping, Sequence

import numpy as np

from ..record import Conclusion, Floor, Neuron
from ..search.base import Entry, Front, SearchProblem
from .assess import Evidence, assess_front
from .floor import network_floor
from .verdict import conclude


def judge_front(front: Front, problem: SearchProblem, evidence: Evidence, *, neuron: Neuron,
                search_info: Mapping[str, Any] | None = None, rule: str = "knee", factor: float | None = None,
                ) -> tuple[Front, Entry | None, Floor, Conclusion]:
    """Assess every formula against ``evidence``, measure the network's floor near its boundary,
    then choose and judge (``symgrad.judging.verdict.conclude``).

    Returns:
        The assessed front, the chosen entry (None for an empty front), the floor and the
        conclusion, which a record takes with ``Record.with_conclusion``.
    """
    front = assess_front(front, evidence)
    floor = Floor.from_dict(network_floor(problem, evidence.near, [e.metrics.get("loss_near") for e in front]).to_dict())
    best, conclusion = conclude(front, neuron=neuron, floor=floor, search_info=search_info, rule=rule, factor=factor)
    return front, best, floor, conclusion


def judge_formulas(model: Any, x: np.ndarray, formulas: Sequence[str], *, y: Sequence | None = None,
                   seed: int = 0, band: float | None = 9.2, holdout_fraction: float = 0.5, n_points: int = 1000,
                   search: bool = False) -> dict[str, Any]:
    """Judge given formulas of a binary classifier's output logit as ``symgrad.explain`` judges a front.

    The points are split, sampled and scored exactly as ``explain`` does, and every formula is
    judged with the verdict it would get if chosen from a front holding all of them (and, with
    ``search``, a short library search's front too: the floor a real run would have).

    Args:
        model: a ``Classifier`` or a network ``explain`` imports (scikit-learn, PyTorch).
        x: (n, d) points in raw units; y: optional (n,) true labels.
        formulas: formula strings over the model's feature names.

    Returns:
        ``{"floor": the floor's dict, "formulas": [metrics of each formula plus "verdict" and
        "sentence"]}``.
    """
    from ..explain import _default_neuron, _network_evidence
    from ..network.importers import import_model
    from ..network.model import Classifier
    from ..pipeline import neuron_record
    from ..sampling import band_sample, subsample
    from ..search.base import Entry, SearchProblem
    from ..expressions import parse_formula
    from .verdict import judge

    x = np.asarray(x, dtype=np.float64)
    classifier = model if isinstance(model, Classifier) else import_model(model, x)
    names = classifier.feature_names
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    cut = int(len(x) * (1 - holdout_fraction))
    rest = order[cut:]
    search_rows, validation_rows, test_rows = (np.sort(order[:cut]), np.sort(rest[: len(rest) // 2]),
                                               np.sort(rest[len(rest) // 2:]))
    spec = _default_neuron(classifier)
    sample = band_sample(classifier, spec, x[search_rows], band=band, what="search points")
    holdout = band_sample(classifier, spec, x[rest], band=band, what="held-out points")
    sample, holdout = subsample(sample, n_points, rng), subsample(holdout, n_points, rng)
    # the neuron's values where this version of the search takes them (as explain does)
    values = {"values": sample.values} if "values" in {f.name for f in fields(SearchProblem)} else {}
    problem = SearchProblem(sample.x, sample.directions, holdout.x, holdout.directions, names,
                            margin=sample.margin, **values).in_spread_units(np.std(x, axis=0))
    evidence, _ = _network_evidence(classifier, spec, holdout, x, y, validation_rows, test_rows, problem.scale)
    entries = [Entry.from_expr(parse_formula(f, names), problem, source="given") for f in formulas]
    found: list[Entry] = []
    if search:
        from ..search import make_backend

        found = list(make_backend("library", {}).search(problem, seed=seed, progress=lambda _m: None).front)
    front = Front(tuple(entries + found))
    neuron = neuron_record(classifier, spec)
    front, _, floor, _ = judge_front(front, problem, evidence, neuron=neuron)
    assessed = {e.expression: e for e in front.entries if e.source == "given"}
    out = []
    for entry in (assessed[e.expression] for e in entries):
        verdict = judge(entry, front, decides=True, floor=floor)
        out.append({**entry.metrics, "verdict": verdict.kind, "sentence": verdict.sentence})
    return {"floor": floor.to_dict(), "formulas": out}
