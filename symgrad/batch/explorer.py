"""The items of a batch folder: ``BatchExplorer`` reads its summary.csv, lists the families of
formulas across seeds and opens each finished item's ``Explorer``; ``BatchWidget`` and
``explore_batch`` show the items table with a chooser below it."""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

from ..errors import SymgradError
from ..explore.state import Explorer
from ..explore.tables import VERDICT_COLOURS, short
from ..explore.widgets import FRONTEND_NOTE, STATIC_NOTE, ExplorerWidget, ipywidgets_module
from .families import Family, families_from_rows


class BatchExplorer:
    """The items of a batch folder (its summary.csv), each opening its run's ``Explorer``.

    Args:
        batch: the batch folder, or what ``symgrad.batch.run_batch`` returned.
    """

    def __init__(self, batch: Any) -> None:
        self.path = Path(getattr(batch, "path", batch))
        summary = self.path / "summary.csv"
        if not summary.is_file():
            raise SymgradError(f"{str(self.path)!r} is not a batch folder (no summary.csv)")
        with summary.open(newline="", encoding="utf-8") as handle:
            self.rows = [dict(row) for row in csv.DictReader(handle)]

    @property
    def items(self) -> list[str]:
        """The items that finished, in the summary's order."""
        return [row["item"] for row in self.rows if row.get("status") == "finished"]

    @property
    def families(self) -> list[Family]:
        """The families of formulas across seeds, as summary.csv lists them: per config and neuron,
        the seeds whose chosen formulas draw the same decision boundary, and their share of the seeds
        (``symgrad.batch.families``); empty for a summary written before families existed."""
        return families_from_rows(self.rows)

    def result(self, item: str):
        """The item's run (``symgrad.load_run``)."""
        from ..result import load_run

        row = next((r for r in self.rows if r["item"] == item), None)
        if row is None or row.get("status") != "finished":
            raise SymgradError(f"{item!r} is not a finished item of this batch; choose one of {self.items}")
        return load_run(self.path / (row.get("run_dir") or f"runs/{item}"))

    def explorer(self, item: str, **kwargs: Any) -> Explorer:
        return Explorer(self.result(item), **kwargs)

    def _repr_html_(self) -> str:
        e = html.escape
        columns = ("item", "network", "neuron", "formula", "agreement", "verdict", "family")
        head = "".join(f"<th>{h}</th>" for h in columns)
        body = "".join(f'<tr style="background:{VERDICT_COLOURS.get(r.get("verdict", ""), "#fff")}">'
                       + "".join(f"<td>{c}</td>" for c in (e(r["item"]), e(r.get("network", "")), e(r.get("neuron", "")),
                                                           f"<code>{e(short(r.get('expression', ''), 80))}</code>",
                                                           e(str(r.get("boundary_agreement", ""))),
                                                           e(r.get("verdict") or r.get("status", "")),
                                                           e(_family_cell(r))))
                       + "</tr>" for r in self.rows)
        return f'<table style="font-size:12px"><tr>{head}</tr>{body}</table>'


def _family_cell(row: dict[str, str]) -> str:
    """"1 (share 1.0)" for an item in a family, else ""."""
    family = row.get("family") or ""
    return f"{family} (share {row.get('family_share', '')})" if family else ""


class BatchWidget:
    """A batch's items table and a chooser that opens the chosen item's explorer below it.

    Attributes:
        batch: the ``BatchExplorer``; item (Dropdown), open_button, holder (where the explorer shows),
        opened: the current item's ``ExplorerWidget`` or None; box: all of them.
    """

    def __init__(self, batch: BatchExplorer, **kwargs: Any) -> None:
        import ipywidgets as w

        self.batch, self.kwargs, self.opened = batch, kwargs, None
        self.item = w.Dropdown(options=batch.items, description="item")
        self.open_button = w.Button(description="explore", icon="search", disabled=not batch.items)
        self.holder, self.message = w.VBox([]), w.HTML()
        self.open_button.on_click(lambda _button: self.open(self.item.value))
        self.box = w.VBox([w.HTML(batch._repr_html_()), w.HBox([self.item, self.open_button]), self.message,
                           self.holder])

    def open(self, item: str) -> ExplorerWidget | None:
        """Show ``item``'s explorer below the table (and return it)."""
        try:
            self.opened = ExplorerWidget(self.batch.explorer(item, **self.kwargs))
        except SymgradError as error:
            self.message.value = html.escape(str(error))
            return None
        self.message.value = ""
        self.holder.children = (self.opened.box,)
        return self.opened

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.box._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = FRONTEND_NOTE
        return bundle


def explore_batch(batch: Any, *, static: bool = False, **kwargs: Any) -> BatchWidget | BatchExplorer:
    """The batch explorer: its items (network, neuron, formula, verdict) and each one's explorer.

    Args:
        batch: a batch folder, or the ``BatchOutcome`` of ``symgrad.batch.run_batch``.
        static: the items table without widgets, as where ipywidgets is missing.
        kwargs: for each item's ``Explorer`` (``resolution``).
    """
    explorer = BatchExplorer(batch)
    if not static and ipywidgets_module() is not None:
        return BatchWidget(explorer, **kwargs)
    if not static:
        print(STATIC_NOTE)
    return explorer
