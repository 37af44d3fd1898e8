"""The comparison table: symgrad's formula next to each companion, as plain rows.

Every row has the same columns: ``method``, ``agreement`` (fraction of held-out test points
where the method gives the network's label), ``auc`` (of its score against the network's
labels; None without one), ``nodes`` (size as nodes of an expression tree: a formula's node
count, a tree's splits plus leaves, the terms of linear rules), ``size`` (in the method's own
units) and ``output`` (what a person reads). The batch summary and the report both use it.
"""

from __future__ import annotations

from typing import Any, Mapping

COLUMNS = ("method", "agreement", "auc", "nodes", "size", "output")


def companion_table(result: Mapping[str, Any] | Any, *, max_output: int | None = None) -> list[dict[str, Any]]:
    """Rows comparing the chosen formula with every companion of one run.

    Args:
        result: a run's ``result.json`` content (a dict) or a loaded run with a ``result`` dict.
        max_output: cut each ``output`` to this many characters (None keeps it whole).

    Returns:
        A list of dicts with the keys ``COLUMNS``: symgrad's formula first (when the run chose
        one), then the companions in the order they ran; empty when the run has no companions.
    """
    result = getattr(result, "result", result)
    companions = (result or {}).get("companions") or {}
    if not companions.get("rows"):
        return []
    rows = []
    best = result.get("best")
    if best:
        metrics = best.get("metrics") or {}
        rows.append({"method": "symgrad formula", "agreement": metrics.get("boundary_agreement"),
                     "auc": metrics.get("boundary_agreement_auc"), "nodes": best.get("complexity"),
                     "size": f"complexity {best.get('complexity')}",
                     "output": _formula_rule(best)})
    for row in companions["rows"]:
        rows.append({"method": row["method"], "agreement": row.get("agreement"), "auc": row.get("auc"),
                     "nodes": row.get("nodes"), "size": row.get("size"), "output": row.get("rule")})
    if max_output is not None:
        for row in rows:
            text = str(row["output"] or "")
            row["output"] = text if len(text) <= max_output else text[:max_output - 3] + "..."
    return rows


def _formula_rule(best: Mapping[str, Any]) -> str:
    metrics = best.get("metrics") or {}
    if metrics.get("threshold") is None or metrics.get("orientation") not in (1, -1):
        return str(best.get("expression"))
    side = ">" if metrics["orientation"] == 1 else "<"
    return f"class 1 where {best.get('expression')} {side} {metrics['threshold']:.4g}"


def format_table(rows: list[Mapping[str, Any]], *, one_line: bool = True) -> str:
    """A Markdown table of ``companion_table`` rows (outputs on one line each when ``one_line``)."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = []
        for key in COLUMNS:
            value = row.get(key)
            if isinstance(value, float):
                text = f"{value:.4f}"
            else:
                text = "-" if value is None else str(value)
            if one_line:
                text = " ".join(text.split())
            cells.append(text.replace("|", "\\|"))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
