"""Judging a front: every formula assessed against the network, the network's floor near its
boundary measured, then the choice and the verdict."""

from __future__ import annotations

from typing import Any

from ..search.base import Entry, Front, SearchProblem
from .assess import Evidence, assess_front
from .floor import network_floor
from .verdict import conclude


def judge_front(record: dict[str, Any], front: Front, problem: SearchProblem, evidence: Evidence, *,
                rule: str = "knee", factor: float | None = None) -> tuple[Front, Entry | None]:
    """Assess every formula against ``evidence``, measure the network's floor near its boundary
    (``record["floor"]``), then choose and judge (``symgrad.judging.verdict.conclude`` fills ``record``).

    Returns:
        The assessed front and the chosen entry (None for an empty front).
    """
    front = assess_front(front, evidence)
    record["floor"] = network_floor(problem, evidence.near, [e.metrics.get("loss_near") for e in front]).to_dict()
    return front, conclude(record, front, rule=rule, factor=factor)
