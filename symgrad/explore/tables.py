"""The HTML beside the slice: the front as a table coloured by verdict, the selected entries' verdicts
and agreements, and the small number and text formatters they share with the batch table."""

from __future__ import annotations

import html

from .state import Explorer
from .views import SliceView

VERDICT_COLOURS = {"faithful": "#dff5e1", "approximate": "#fff4d6", "not_found": "#fde8e8", "cannot_judge": "#eeeeee"}


def front_html(explorer: Explorer, compare: int | None = None) -> str:
    """The front as a table coloured by verdict; the selected row bold, the compared one marked."""
    e = html.escape
    head = "".join(f"<th>{h}</th>" for h in ("#", "complexity", "L", "L near", "agreement", "verdict", "formula"))
    rows = []
    for row in explorer.rows:
        mark = "&#9654; " if row.index == explorer.index else ("&#9664; " if row.index == compare else "")
        style = f"background:{VERDICT_COLOURS.get(row.verdict, '#fff')}"
        style += ";font-weight:bold;outline:2px solid #333" if row.index == explorer.index else ""
        cells = [f"{mark}{row.index}{' &#9733;' if row.chosen else ''}", str(row.complexity), f"{row.loss:.3g}",
                 _number(row.loss_near), _percent(row.agreement), e(row.verdict.replace("_", " ")),
                 f"<code>{e(short(row.expression, 90))}</code>"]
        rows.append(f'<tr style="{style}">' + "".join(f'<td style="padding:1px 6px">{c}</td>' for c in cells) + "</tr>")
    return (f'<table style="border-collapse:collapse;font-size:12px"><tr>{head}</tr>{"".join(rows)}</table>'
            '<div style="font-size:11px">&#9733; the run\'s choice; colour: what the verdict would say of each</div>')


def view_html(view: SliceView, other: SliceView | None = None) -> str:
    """The selected entry's verdict, statement and agreement; with ``other``, both side by side."""
    views = [view] + ([] if other is None else [other])
    cells = []
    for v in views:
        agreement = "no threshold: it decides nothing" if v.agreement is None else (
            f"agreement with the network on {v.n_points} held-out points: {_percent(v.agreement)} "
            f"({len(v.disagreements)} disagree, gold &times;)")
        cells.append(f'<td style="vertical-align:top;padding:4px;width:{100 // len(views)}%">'
                     f'<div style="background:{VERDICT_COLOURS.get(v.verdict, "#fff")};padding:4px">'
                     f"<b>#{v.index}</b> {html.escape(v.sentence)}</div>"
                     f"<p>{html.escape(v.statement)}</p><p>{agreement}</p></td>")
    return f'<table style="width:100%"><tr>{"".join(cells)}</tr></table>'


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def short(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters, ending in '...' where it was cut."""
    return text if len(text) <= length else text[:length - 3] + "..."
