"""The law's form: show a faithful product of powers (``weight_kg/height_m**2``) in place of the
selection rule's choice when it draws the network's boundary as well with no more nodes, and
write the threshold with the digits the network's decisions can tell apart and its unit
(docs/method.md, "The law's form")."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import numpy as np

from ..expressions import parse_formula, value_function
from ..record import Conclusion, Floor, Neuron
from ..search.base import Front
from ..search.boundary_form import is_power_law, round_threshold
from ..search.dimensions import threshold_unit
from .assess import Evidence, statement
from .metrics import rule_labels
from .statement import decision_statement
from .verdict import FAITHFUL, floor_value, judge


# how much lower the law's form's boundary agreement may be than the chosen formula's (a
# fraction of the test points): 2000 test points and 99 % agreement give a standard error of 0.2 %
LAW_AGREEMENT_SLACK = 0.005
# and its L near the boundary may exceed the choice's by this factor, or reach the network's floor
LAW_NEAR_FACTOR = 2.0
LAW_NOTE = ("the law's form {law} draws the network's decision boundary as faithfully as the selection rule's "
            "choice {chosen}, with no more nodes (only the boundary is identified; docs/method.md, \"The law's form\")")


def law_form_choice(front: Front, best: Any, floor: Floor, conclusion: Conclusion, *,
                    neuron: Neuron, features: tuple[str, ...], evidence: Evidence | None = None
                    ) -> tuple[Any, Conclusion]:
    """Show the law's form (a front entry that is a product of powers of two or more inputs,
    ``symgrad.search.boundary_form.is_power_law``) instead of a faithful choice when it is
    faithful too and smaller, and its thresholded decisions agree with the network at least as
    well as the choice's, or within ``LAW_AGREEMENT_SLACK`` of it when its L near the boundary is
    at most ``LAW_NEAR_FACTOR`` times the choice's or the network's floor; as large, it must
    match the choice in both. With ``evidence`` the agreements may also differ by what chance
    explains: the test points where the two thresholded formulas decide differently are the only
    evidence between them, so the law may lose at most 2 sqrt(c) of those c points (as
    ``round_threshold`` judges a rounded threshold). A classifier identifies only its boundary,
    and the selection rule prices held-out L over the whole band, where the law's level sets may
    differ from the network's (docs/method.md, "The law's form")."""

    if best is None or not neuron.decides or conclusion.verdict.kind != FAITHFUL:
        return best, conclusion
    agreement = best.metrics.get("boundary_agreement")
    if not isinstance(agreement, (int, float)) or is_power_law(best.sympy(features)):
        return best, conclusion
    # near the boundary the law may differ from the choice by the network's floor, no more
    near = best.metrics.get("loss_near", best.loss)
    limit = max(LAW_NEAR_FACTOR * near, floor_value(floor))

    def as_good(e: Any) -> bool:
        law_near, law_agreement = e.metrics.get("loss_near", e.loss), e.metrics["boundary_agreement"]
        if e.complexity == best.complexity:  # no node saved: it must fit at least as well
            return law_near <= near and law_agreement >= agreement
        # decisions at least as good also vouch for it where its directions differ more
        return (law_agreement >= agreement or (law_near <= limit and law_agreement >= agreement - LAW_AGREEMENT_SLACK)
                or law_agreement >= agreement - chance(e))

    @functools.cache
    def chosen_decisions() -> np.ndarray:
        return _test_decisions(best, evidence, features)

    def chance(law: Any) -> float:
        """The agreement ``law`` may lose to the choice by chance: 2 sqrt(c) / n, with c of the n
        test points decided differently by the two thresholded formulas; 0 without evidence."""
        if evidence is None or not evidence.decides or not len(evidence.test.x):
            return 0.0
        try:
            changed = int(np.sum(_test_decisions(law, evidence, features) != chosen_decisions()))
        except Exception:  # noqa: BLE001 - a formula that cannot be evaluated gets no benefit of the doubt
            return 0.0
        return 2.0 * float(np.sqrt(changed)) / len(evidence.test.x)

    # only products of powers are candidates: test them first, before any decision is computed
    laws = [e for e in front if e is not best and e.complexity <= best.complexity
            and isinstance(e.metrics.get("boundary_agreement"), (int, float))
            and is_power_law(e.sympy(features)) and as_good(e)]
    for law in sorted(laws, key=lambda e: (e.complexity, e.metrics.get("loss_near", e.loss))):
        verdict = judge(law, front, decides=True, floor=floor)
        if verdict.kind != FAITHFUL:
            continue
        index = front.entries.index(law)
        note = LAW_NOTE.format(law=law.expression, chosen=best.expression)
        return law, replace(conclusion, best=conclusion.front[index], best_index=index, verdict=verdict,
                            statement=statement(law, neuron), selection=replace(conclusion.selection, note=note))
    return best, conclusion


def _test_decisions(entry: Any, evidence: Evidence, features: tuple[str, ...]) -> np.ndarray:
    """(n,) the thresholded formula's labels on the test points (-1 where it is undefined)."""
    g = value_function(parse_formula(entry.expression, features), features)(evidence.test.x)
    return rule_labels(g, float(entry.metrics.get("threshold", 0.0)), int(entry.metrics.get("orientation", 1)))


def law_statement(conclusion: Conclusion, evidence: Evidence, *, neuron: Neuron,
                  units: dict[str, str] | None = None) -> Conclusion:
    """The conclusion with the chosen formula's threshold rounded to the digits the network's
    decisions can tell apart (``threshold_round``), its unit where ``units`` are given
    (``threshold_unit``), and the statement written with both: ``weight_kg/height_m**2 > 25 kg/m**2``
    (docs/method.md, "The law's form")."""

    best = conclusion.best
    if best is None or not neuron.decides or not evidence.decides or "threshold" not in best.metrics:
        return conclusion
    names = evidence.feature_names
    expr = parse_formula(best.expression, names)
    values = value_function(expr, names)
    points = np.concatenate([evidence.validation.x, evidence.test.x])
    labels = np.concatenate([evidence.validation_labels, evidence.test_labels])
    metrics = dict(best.metrics)
    with np.errstate(all="ignore"):
        metrics["threshold_round"] = round_threshold(values(points), labels, float(metrics["threshold"]),
                                                     int(metrics.get("orientation", 1)))
    if units:
        unit = threshold_unit(expr, units)
        if unit is not None:
            metrics["threshold_unit"] = unit
    chosen = replace(best, metrics=metrics)
    front = tuple(chosen if k == conclusion.best_index else f for k, f in enumerate(conclusion.front))
    return replace(conclusion, front=front, best=chosen,
                   statement=decision_statement(chosen.expression, metrics, neuron.description))
