"""Choosing the formula to show and saying how far to trust it.

The verdict compares the chosen formula's held-out alignment loss near the decision boundary
(``loss_near``: the points whose labels identify the concept) with the network's floor there
(``symgrad.judging.floor``), and its thresholded decisions with the network's:

* ``faithful``: L near the boundary at most ``FAITHFUL_FACTOR`` times the floor (and at most
  ``FAITHFUL_MAX_LOSS``), at least ``FAITHFUL_MIN_AGREEMENT`` of the network's decisions, and a
  boundary that does not depart from the network's (``boundary_departs``): gradient angles
  within a factor of a floor miss look-alikes whose boundary drifts from the law's;
* ``approximate``: not faithful, but L near the boundary at most ``APPROXIMATE_MAX_LOSS`` and at
  least ``APPROXIMATE_MIN_AGREEMENT`` of the decisions; the sentence gives L as a factor of the floor;
  or, for a neuron that decides, at least ``FAITHFUL_MIN_AGREEMENT`` of its decisions whatever L:
  then the sentence says that the formula reproduces the decisions but not the gradients;
* ``not_found``: neither;
* ``cannot_judge``: agreement cannot mean anything on these data (``cannot_judge`` says why).

Hidden units and plain functions decide nothing: they are judged by L alone.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..record import Conclusion, Floor, Formula, Neuron, Selection, Verdict
from ..search.base import Entry, Front
from ..search.select import select
from .floor import FLOOR_MIN

FAITHFUL = "faithful"
APPROXIMATE = "approximate"
NOT_FOUND = "not_found"
CANNOT_JUDGE = "cannot_judge"
KINDS = (FAITHFUL, APPROXIMATE, NOT_FOUND, CANNOT_JUDGE)

# Faithful: within this factor of the floor. Measured on 88 networks of the generalisation
# benchmark, every exact formula scored within 3.4x of its network's floor near the boundary
# (docs/benchmarks.md); a look-alike 5x above what the network supports is not called faithful.
FAITHFUL_FACTOR = 5.0
# ... and never above this, however rough the network: 1 - cos 18 degrees = 0.05.
FAITHFUL_MAX_LOSS = 0.05
FAITHFUL_MIN_AGREEMENT = 0.95
APPROXIMATE_MAX_LOSS = 0.1
APPROXIMATE_MIN_AGREEMENT = 0.9
# A formula's boundary departs from the network's when both independent figures say so: 90% of
# the network's boundary points lie farther than BOUNDARY_MAX_DEPARTURE spreads from the
# formula's level set, and the thresholded formula disagrees with the network on more than
# BOUNDARY_MAX_DISAGREEMENT of held-out points. Measured on 52 networks of the look-alike
# benchmark (scripts/bench_lookalike.py, docs/method.md "The verdict"): laws departed by at most
# 0.14 spreads and disagreed on at most 1.9%; near misses off by >= 0.01 in L on the true
# surface departed by >= 0.145 spreads and disagreed on >= 2.9%. Either figure alone has a thin
# margin (departure) or depends on how densely the data cover the boundary (agreement: 97.5% for
# the exact formula of the 15-input paper case), so both must say so.
BOUNDARY_MAX_DEPARTURE = 0.1
BOUNDARY_MAX_DISAGREEMENT = 0.025
# each side of the network's decision needs this many test points for agreement to mean anything
MIN_SIDE_POINTS = 10

# Noisy gradients: a network floor this far above FLOOR_MIN (0.02, 10x) means L ranks formulas
# poorly (breast cancer: floor 0.027, every formula L 0.2-0.6, and the lowest-L choice agreed with
# the network on 95.6% where a linear formula reached 99%); the choice then follows the decisions.
NOISY_FLOOR = 0.02
# formulas within this much of the front's best agreement count as agreeing equally (one point:
# about the sampling error of agreement on a hundred test points)
AGREEMENT_SLACK = 0.01

SELECTION_NOTE = ("a linear formula fits the held-out gradients within the auto backend's linear_factor of the "
                  "best one; it is reported instead")
AGREEMENT_NOTE = ("the network's gradients are noisy (floor {floor:.3g} near its boundary, at least {noisy:g}), so "
                  "the simplest formula within {slack:.0f} point of the front's best agreement with the network's "
                  "decisions ({best:.1%}) is shown, with its rank fidelity and L as tie-breaks")
UPGRADE_NOTE = ("the selection rule's choice is not faithful; the simplest faithful formula on the front is "
                "reported instead")


def floor_value(floor: Floor | Mapping[str, Any] | None) -> float:
    """The floor a verdict uses: the floor's ``value``, or ``symgrad.judging.floor.FLOOR_MIN`` when unknown."""
    if isinstance(floor, Floor):
        floor = floor.to_dict()
    value = finite((floor or {}).get("value"))
    return FLOOR_MIN if value is None else value


def verdict(best_metrics: Mapping[str, Any], front: Sequence[Mapping[str, Any]],
            floor: Floor | Mapping[str, Any] | None = None, *,
            decides: bool = True, region: str = "near the decision boundary") -> tuple[str, str]:
    """Say whether the chosen formula is a faithful closed form of the neuron (see the module).

    Faithful means "reproduces this network's gradient directions near its boundary and its
    decisions, up to a monotone transform", not "is the ground truth".

    Args:
        best_metrics: ``symgrad.judging.assess.assess_entry`` of the chosen formula; ``loss_near`` is
            used (``loss``, over the whole band, for results written before it existed).
        front: the metrics of every formula on the front; their lowest L gives context.
        floor: the network's floor (``symgrad.record.Floor`` or its dict); None uses the minimum floor.
        decides: whether decisions are compared (False for hidden units and plain functions).
        region: where ``loss_near`` was measured, as the sentence says it.

    Returns:
        (kind, sentence), kind one of ``KINDS``.
    """
    if isinstance(floor, Floor):
        floor = floor.to_dict()
    if decides:
        reason = cannot_judge(best_metrics)
        if reason is not None:
            return CANNOT_JUDGE, f"Cannot judge the formula: {reason}."
    loss = _loss(best_metrics)
    base = floor_value(floor)
    bound = min(FAITHFUL_FACTOR * base, FAITHFUL_MAX_LOSS)
    agreement = finite(best_metrics.get("boundary_agreement")) if decides else None
    loss_text = "unknown" if loss is None else f"{loss:.3g}"
    where = region if "loss_near" in best_metrics else "on the held-out points"
    minimum = finite((floor or {}).get("minimum"))
    at_minimum = floor is None or (minimum is not None and base <= minimum)
    floor_text = f"the network's floor {base:.3g}"
    agree_text = "" if agreement is None else f"{100 * agreement:.1f}%"
    loss_ok = loss is not None and loss <= bound
    agreement_ok = not decides or (agreement is not None and agreement >= FAITHFUL_MIN_AGREEMENT)
    departs = decides and boundary_departs(best_metrics)
    if loss_ok and agreement_ok and departs:
        return APPROXIMATE, (f"Approximate closed form: {departure_text(best_metrics)}; its gradient directions alone "
                             f"would pass ({where} L = {loss_text}, within {FAITHFUL_FACTOR:g}x of {floor_text}).")
    if loss_ok and agreement_ok:
        decisions = (f", and the thresholded formula reproduces the network's decisions on {agree_text} of held-out "
                     f"points (bound {100 * FAITHFUL_MIN_AGREEMENT:.0f}%)") if decides else ""
        return FAITHFUL, (f"Faithful closed form: {where} its held-out alignment loss is L = {loss_text}, within "
                          f"{FAITHFUL_FACTOR:g}x of {floor_text} ({'its minimum; ' if at_minimum else ''}bound "
                          f"{bound:.3g}){decisions}; equivalent up to a monotone transform.")
    close = loss is not None and loss <= APPROXIMATE_MAX_LOSS
    agrees = not decides or (agreement is not None and agreement >= APPROXIMATE_MIN_AGREEMENT)
    if decides and not close and loss is not None and agreement is not None and agreement >= FAITHFUL_MIN_AGREEMENT:
        # the decisions, not the gradients: a sparse stand-in on a network with rough gradients
        return APPROXIMATE, (f"Approximate closed form of the decisions: the thresholded formula reproduces the "
                             f"network's decisions on {agree_text} of held-out points, but not its gradient directions "
                             f"({where} L = {loss_text}, {loss / base:.1f}x {floor_text}; faithful needs L <= "
                             f"{bound:.3g}).")
    if close and agrees:
        decisions = f"; it reproduces the network's decisions on {agree_text} of held-out points" if decides else ""
        missing = "" if agreement_ok else f" and {100 * FAITHFUL_MIN_AGREEMENT:.0f}% agreement"
        return APPROXIMATE, (f"Approximate closed form: {where} L = {loss_text}, {loss / base:.1f}x {floor_text}"
                             f"{' (its minimum)' if at_minimum else ''}; "
                             f"faithful needs L <= {bound:.3g}{missing}{decisions}.")
    reasons = []
    if not close:
        reasons.append(f"L = {loss_text} {where} (an approximation needs <= {APPROXIMATE_MAX_LOSS})")
    if not agrees:
        reasons.append(f"boundary agreement {agree_text or 'unknown'} (an approximation needs >= "
                       f"{100 * APPROXIMATE_MIN_AGREEMENT:.0f}%)")
    lows = [v for v in (_loss(metrics or {}) for metrics in front) if v is not None]
    context = f"; the lowest L {where} on the front was {min(lows):.3g}" if lows else ""
    return NOT_FOUND, "No closed form found within the budget: the chosen formula has " + " and ".join(reasons) \
        + context + "."


def boundary_departs(metrics: Mapping[str, Any]) -> bool:
    """Whether the formula's boundary departs from the network's: its ``boundary_departure`` (the
    0.9 quantile over the network's boundary points, in spreads) exceeds ``BOUNDARY_MAX_DEPARTURE``
    and it disagrees with the network on more than ``BOUNDARY_MAX_DISAGREEMENT`` of held-out
    points. False when either figure is missing (hidden units, results written before it existed)."""
    departure = finite(metrics.get("boundary_departure"))
    agreement = finite(metrics.get("boundary_agreement"))
    if departure is None or agreement is None:
        return False
    return departure > BOUNDARY_MAX_DEPARTURE and 1.0 - agreement > BOUNDARY_MAX_DISAGREEMENT


def departure_text(metrics: Mapping[str, Any]) -> str:
    """"its boundary departs from the network's by ... near ...", the figures of ``boundary_departs``."""
    where = metrics.get("boundary_departure_where") or {}
    near = ", ".join(f"{name} = {value:.3g}" for name, value in list(where.items())[:4])
    n = metrics.get("n_boundary_projected")
    return (f"its boundary departs from the network's by {metrics['boundary_departure']:.2g} of an input's spread"
            f"{f' near {near}' if near else ''} (0.9 quantile over {n} points on the network's boundary; faithful "
            f"needs <= {BOUNDARY_MAX_DEPARTURE:g}), and the thresholded formula disagrees with the network on "
            f"{100 * (1 - metrics['boundary_agreement']):.1f}% of held-out points (faithful needs <= "
            f"{100 * BOUNDARY_MAX_DISAGREEMENT:g}%)")


def cannot_judge(metrics: Mapping[str, Any]) -> str | None:
    """Why boundary agreement cannot tell a faithful formula here, or None.

    Agreement with the network's decisions means something only if the network predicts both
    sides of the boundary on the test points (at least ``MIN_SIDE_POINTS`` each), the fitted
    threshold lies inside the formula's range on them (else the rule is constant), and the
    network beats always predicting the more common side (else its boundary carries no
    information). Figures missing from ``metrics`` are not checked.
    """
    name = metrics.get("target_class_name", metrics.get("target_class", 1))
    n, count = metrics.get("n_boundary_points"), metrics.get("net_class_count")
    if n is not None and count is not None and min(count, n - count) < MIN_SIDE_POINTS:
        return (f"the network predicts class {name} on {count} of the {n} test points, and each side of a "
                f"decision boundary needs at least {MIN_SIDE_POINTS}")
    if "formula_min" in metrics and "threshold" in metrics:
        low, high = finite(metrics.get("formula_min")), finite(metrics.get("formula_max"))
        threshold = finite(metrics.get("threshold"))
        if low is None or high is None or threshold is None:
            return "the formula or its threshold has no finite value on the test points"
        if not low < threshold < high:
            return (f"the fitted threshold {threshold:.4g} lies outside the formula's range [{low:.4g}, {high:.4g}] "
                    "on the test points, so the thresholded formula predicts one class only")
    accuracy, majority = finite(metrics.get("net_accuracy")), finite(metrics.get("majority_accuracy"))
    if accuracy is not None and majority is not None and accuracy <= majority:
        return (f"the network is right on {100 * accuracy:.1f}% of test points for class {name} against the rest, "
                f"no better than always predicting the more common side ({100 * majority:.1f}%)")
    return None


def choose(front: Front, *, rule: str = "knee", factor: float | None = None,
           search_info: Mapping[str, Any] | None = None) -> tuple[Entry | None, Selection]:
    """The formula the selection rule shows from ``front``, and how it was chosen.

    The selection ``rule`` (``symgrad.search.select``) picks an entry; when the search reported a
    linear concept (``search_info["linear_concept"]``, the auto backend) that is on the front, it
    is chosen instead: a constant direction explains the band as well as anything, so curvature
    in a fancier formula would be invented. ``conclude`` may still replace an unfaithful choice.

    Returns:
        (entry, or None for an empty front; the ``Selection``).
    """
    if not len(front):
        return None, Selection(rule=rule, factor=factor, reason="the search returned no formula")
    best = select(front, rule=rule, **({} if factor is None else {"factor": factor}))
    linear = (search_info or {}).get("linear_concept")
    linear_entries = [e for e in front if e.expression == linear]
    if linear_entries:
        return linear_entries[0], Selection(rule=rule, factor=factor, degenerate=SELECTION_NOTE)
    return best, Selection(rule=rule, factor=factor)


def judge(best: Entry | None, front: Front, *, decides: bool, floor: Floor | Mapping[str, Any] | None = None,
          region: str = "near the decision boundary") -> Verdict:
    """The verdict on the chosen formula (kind one of ``KINDS``, and its sentence)."""
    if best is None:
        return Verdict(NOT_FOUND, "No closed form found within the budget: the search returned no formula.")
    metrics = best.metrics or {"loss": best.loss}
    kind, sentence = verdict(metrics, [e.metrics for e in front], floor, decides=decides, region=region)
    return Verdict(kind, sentence)


def conclude(front: Front, *, neuron: Neuron, floor: Floor | None = None, search_info: Mapping[str, Any] | None = None,
             rule: str = "knee", factor: float | None = None) -> tuple[Entry | None, Conclusion]:
    """Choose the formula to show from the assessed ``front`` and judge it.

    The selection rule's choice stands unless it is not faithful while another formula on the
    front is: then the simplest faithful formula is shown (``selection.upgraded`` says so), so a
    faithful answer on the front is never hidden behind a simpler, worse one.

    Returns:
        The chosen entry (None for an empty front) and the ``Conclusion`` a record takes.
    """
    from dataclasses import replace

    from .assess import statement

    decides = bool(neuron.decides)
    # where loss_near is measured (symgrad.judging.floor.near_boundary), as the verdict says it
    region = {"hidden": "near the unit's zero level", "function": "on the held-out points"}.get(
        neuron.kind, "near the decision boundary")
    best, selection = choose(front, rule=rule, factor=factor, search_info=search_info)
    if decides and floor_value(floor) >= NOISY_FLOOR:
        by_agreement = choose_by_agreement(front)
        if by_agreement is not None and by_agreement is not best:
            best, best_agreement = by_agreement, max(_agreements(front).values())
            selection = replace(selection, rule="agreement", note=AGREEMENT_NOTE.format(
                floor=floor_value(floor), noisy=NOISY_FLOOR, slack=100 * AGREEMENT_SLACK, best=best_agreement))
    verdict_ = judge(best, front, decides=decides, floor=floor, region=region)
    if verdict_.kind in (APPROXIMATE, NOT_FOUND) and best is not None:
        faithful = [e for e in sorted(front, key=lambda e: (e.complexity, e.loss))
                    if judge(e, front, decides=decides, floor=floor, region=region).kind == FAITHFUL]
        if faithful:
            selection = replace(selection, upgraded={"from": best.expression, "note": UPGRADE_NOTE})
            best = faithful[0]
            verdict_ = judge(best, front, decides=decides, floor=floor, region=region)
    formulas = tuple(Formula.from_dict(e.to_dict()) for e in front)
    index = None if best is None else front.entries.index(best)
    return best, Conclusion(front=formulas, best=None if index is None else formulas[index], best_index=index,
                            selection=selection, statement=None if best is None else statement(best, neuron),
                            verdict=verdict_)


def _agreements(front: Front) -> dict[int, float]:
    """Index -> boundary agreement of every entry with a finite one."""
    out = {}
    for i, entry in enumerate(front.entries):
        value = finite(entry.metrics.get("boundary_agreement"))
        if value is not None:
            out[i] = value
    return out


def choose_by_agreement(front: Front) -> Entry | None:
    """The simplest entry within ``AGREEMENT_SLACK`` of the front's best boundary agreement; ties
    go to the higher rank fidelity (|Spearman| of formula and neuron values), then the lower L
    near the boundary. None when no entry has an agreement."""
    agreements = _agreements(front)
    if not agreements:
        return None
    best = max(agreements.values())
    close = [front.entries[i] for i, a in agreements.items() if a >= best - AGREEMENT_SLACK - 1e-12]

    def key(entry: Entry):
        rank = finite(entry.metrics.get("spearman_abs"))
        return (entry.complexity, -(rank if rank is not None else 0.0), _loss(entry.metrics) or math.inf)

    return min(close, key=key)


def _loss(metrics: Mapping[str, Any]) -> float | None:
    return finite(metrics.get("loss_near", metrics.get("loss")))


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN or infinite)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
