"""What a run says in words: the text printed at the end of a run (accuracy, chosen formula, the
front), and the summary the report is drawn from."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from ..record import Neuron, Record


def _g(value, spec: str = ".3g") -> str:
    """A number for the summary; missing or non-finite figures (null in result.json) as 'n/a'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return format(value, spec)


def _pct(value) -> str:
    return _g(100 * value if isinstance(value, (int, float)) else None, ".1f")


def front_table(record: Record) -> str:
    """The front as a fixed-width text table; the selected entry is marked with '*'."""
    rows = [("", "complexity", "held-out L", "source", "formula")]
    best = record.best.expression if record.best is not None else None
    for entry in record.front or ():
        rows.append(("*" if entry.expression == best else "", str(entry.complexity), _g(entry.loss),
                     entry.source, entry.expression))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    return "\n".join(lines)


def summary_text(record: Record, path: Path) -> str:
    """What ``python -m symgrad.run`` prints when the run in ``path`` ends."""
    lines = [f"run directory: {path}"]
    model = record.model
    if model is not None and model.test_accuracy is not None:
        lines.append(f"network: {list(model.hidden or ())} {model.activation}, test accuracy "
                     f"{_g(model.test_accuracy, '.4f')}")
    lines.append(f"neuron: {record.neuron.description if record.neuron else '?'}")
    if record.data is not None and record.data.renamed:
        lines.append("columns renamed for formulas: " + ", ".join(f"{a!r} -> {b!r}" for a, b in record.data.renamed.items()))
    if record.search is not None and record.search.interrupted:
        lines.append("search was interrupted: the front below is the best found so far")
    best = record.best
    if best is None:
        lines.append("no formula was found")
    else:
        lines.append(f"best formula: {best.expression}   (complexity {best.complexity}, held-out L {_g(best.loss)})")
        if record.statement:
            lines.append(record.statement)
        why = record.selection.why() if record.selection is not None else None
        if why:
            lines.append(f"why this formula: {why}")
        m = best.metrics
        if "boundary_agreement" in m:
            lines.append(f"thresholded formula vs the network's test labels: {_pct(m['boundary_agreement'])}% agreement "
                         f"(network vs true labels: {_pct(m.get('net_accuracy'))}%)")
    if record.verdict is not None:
        lines.append(f"verdict: {record.verdict.sentence}")
    truth = record.truth
    if truth is not None and truth.faithful_loss is not None:
        lines.append(f"against the known concept {truth.formula}: faithful L {_g(truth.faithful_loss)}, "
                     f"exact L {_g(truth.exact_loss)}")
    lines.append("")
    lines.append(front_table(record))
    if (Path(path) / "report.html").is_file():
        lines.append("")
        lines.append(f"report: {Path(path) / 'report.html'}")
    return "\n".join(lines)


def print_summary(record: Record, path: Path) -> None:
    print(summary_text(record, path))


def report_summary(record: Record) -> dict[str, Any]:
    """What ``symgrad.report.page.write_report`` shows, from a record."""
    neuron = record.neuron or Neuron()
    summary = {
        "title": f"symgrad: {neuron.description}",
        "features": list(record.features), "neuron": neuron.description,
        "decides": bool(neuron.decides),
        "front": [f.to_dict() for f in record.front or ()], "best": None if record.best is None else record.best.to_dict(),
        "companions": record.companions,
        "data": {} if record.data is None else record.data.to_dict(),
        "model": {k: v for k, v in ({} if record.model is None else record.model.to_dict()).items() if k != "training"},
        "timings": dict(record.timings or {}), "versions": dict(record.versions or {}),
        "notes": [n for n in (record.statement, _selection_note(record), _truth_note(record)) if n],
    }
    if record.verdict is not None:
        summary["verdict"] = record.verdict.to_dict()
    return summary


def _selection_note(record: Record) -> str | None:
    why = record.selection.why() if record.selection is not None else None
    return f"Why this formula: {why}." if why else None


def _truth_note(record: Record) -> str | None:
    truth = record.truth
    if truth is None or truth.faithful_loss is None:
        return None
    return (f"Against the known concept {truth.formula}: faithful L {truth.faithful_loss:.3g} "
            f"(near the true decision surface), exact L {truth.exact_loss:.3g} (whole domain).")


def result_html(record: Record, front_table: str, path: Path | None) -> str:
    """A result in a notebook: the neuron, the verdict on a coloured band, the statement and the
    front's table (``front_table``, already HTML)."""
    esc = html.escape
    neuron = record.neuron or Neuron()
    parts = [f"<p><b>symgrad result</b>: {esc(neuron.description)}"
             + (f" &mdash; <code>{esc(str(path))}</code>" if path is not None else "") + "</p>"]
    if record.verdict is not None:
        colour = {"faithful": "#dff5e1", "not_found": "#fde8e8"}.get(record.verdict.kind, "#fff4d6")
        parts.append(f'<p style="background:{colour};padding:6px"><b>Verdict:</b> {esc(record.verdict.sentence)}</p>')
    if record.statement:
        parts.append(f"<p>{esc(record.statement)}</p>")
    parts.append(front_table)
    return "\n".join(parts)
