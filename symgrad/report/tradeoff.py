"""What each extra node buys: agreement with the network's decisions against size, for the
front and for the companions' size paths (trees of growing size, L1 logistic regressions)."""

from __future__ import annotations

from typing import Any

from ..errors import SymgradError
from ..record import Record


def tradeoff_series(record: Record) -> dict[str, list[tuple[int, float]]]:
    """Family -> [(nodes, agreement), ...]: "formula" (the front), and "tree" and "logistic_l1"
    when the run fitted those companions.

    Raises:
        SymgradError: the neuron decides nothing, or no formula has an agreement figure.
    """
    if record.neuron is not None and not record.neuron.decides:
        raise SymgradError("this result has no agreement figures: a hidden unit or a plain function decides nothing")
    front = [(int(f.complexity), float(f.metrics["boundary_agreement"])) for f in record.front or ()
             if f.metrics.get("boundary_agreement") is not None]
    if not front:
        raise SymgradError("this result has no agreement figures: no formula on its front was scored against the "
                           "network's decisions")
    series = {"formula": front}
    paths = (record.companions or {}).get("paths") or {}
    for name in ("tree", "logistic_l1"):
        if paths.get(name):
            series[name] = [(int(n), float(a)) for n, a in paths[name]]
    return series


def has_tradeoff(record: Record) -> bool:
    """Whether ``tradeoff_series`` has something to show: a neuron that decides, scored formulas."""
    try:
        tradeoff_series(record)
    except SymgradError:
        return False
    return True


def tradeoff_rows(record: Record) -> list[dict[str, Any]]:
    """For every size on the front or a companion's path, the best agreement each family reaches
    within that size.

    Returns:
        Rows {"size", "formula", "expression" (the front's formula reaching it), and "tree" /
        "logistic_l1" when fitted (None where a family has nothing that small)}, by size.
    """
    series = tradeoff_series(record)
    best_formula: dict[int, tuple[float, str]] = {}
    for f in record.front or ():
        agreement = f.metrics.get("boundary_agreement")
        if agreement is not None:
            best_formula[f.complexity] = max(best_formula.get(f.complexity, (-1.0, "")), (float(agreement), f.expression))
    rows = []
    for size in sorted({n for points in series.values() for n, _ in points}):
        row: dict[str, Any] = {"size": size}
        for name, points in series.items():
            reached = [a for n, a in points if n <= size]
            row[name] = max(reached) if reached else None
        within = [value for complexity, value in best_formula.items() if complexity <= size]
        row["expression"] = max(within)[1] if within else None
        rows.append(row)
    return rows
