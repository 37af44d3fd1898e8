"""The text summary printed at the end of a run: accuracy, chosen formula, the front."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the annotation only: result.py renders through report/, so report/ never imports it
    from ..result import Result


def _g(value, spec: str = ".3g") -> str:
    """A number for the summary; missing or non-finite figures (null in result.json) as 'n/a'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return format(value, spec)


def _pct(value) -> str:
    return _g(100 * value if isinstance(value, (int, float)) else None, ".1f")


def front_table(run: Result) -> str:
    """The front as a fixed-width text table; the selected entry is marked with '*'."""
    rows = [("", "complexity", "held-out L", "source", "formula")]
    best = run.best.expression if run.best else None
    for entry in run.front:
        rows.append(("*" if entry.expression == best else "", str(entry.complexity), _g(entry.loss),
                     entry.source, entry.expression))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    return "\n".join(lines)


def summary_text(run: Result) -> str:
    r = run.result
    lines = [f"run directory: {run.path}"]
    model = r.get("model", {})
    if "test_accuracy" in model:
        lines.append(f"network: {model['hidden']} {model['activation']}, test accuracy {_g(model['test_accuracy'], '.4f')}")
    lines.append(f"neuron: {r.get('neuron', {}).get('description', '?')}")
    renamed = (r.get("data") or {}).get("renamed")
    if renamed:
        lines.append("columns renamed for formulas: " + ", ".join(f"{a!r} -> {b!r}" for a, b in renamed.items()))
    if r.get("search", {}).get("interrupted"):
        lines.append("search was interrupted: the front below is the best found so far")
    if run.best is None:
        lines.append("no formula was found")
    else:
        lines.append(f"best formula: {run.best.expression}   (complexity {run.best.complexity}, held-out L {_g(run.best.loss)})")
        if r.get("statement"):
            lines.append(r["statement"])
        m = run.best.metrics
        if "boundary_agreement" in m:
            lines.append(f"thresholded formula vs the network's test labels: {_pct(m['boundary_agreement'])}% agreement "
                         f"(network vs true labels: {_pct(m.get('net_accuracy'))}%)")
    if r.get("verdict"):
        lines.append(f"verdict: {r['verdict']['sentence']}")
    truth = r.get("truth")
    if truth and "faithful_loss" in truth:
        lines.append(f"against the known concept {truth['formula']}: faithful L {_g(truth['faithful_loss'])}, "
                     f"exact L {_g(truth.get('exact_loss'))}")
    lines.append("")
    lines.append(front_table(run))
    if (run.path / "report.html").is_file():
        lines.append("")
        lines.append(f"report: {run.path / 'report.html'}")
    return "\n".join(lines)


def print_summary(run: Result) -> None:
    print(summary_text(run))
