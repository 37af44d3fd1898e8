"""Judging a front: every formula assessed against the network, the network's floor near its
boundary measured, then the choice and the verdict."""

from __future__ import annotations

from typing import Any, Mapping

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
