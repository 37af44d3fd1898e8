"""The batch's record: item states, and summary.csv / summary.md / summary.html built from the run
directories, each rewritten atomically so that an interrupted batch always leaves a valid summary.

It reads the runs' JSON files with the standard library: a resume with nothing to do rewrites the
summary without JAX, sympy or matplotlib. The families of formulas across seeds (``families``)
are read from the batch folder's families.json while the runs' formulas stay the same."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .families import MIN_AGREEMENT, MIN_OWN_AGREEMENT, Family, batch_families, batch_groups, item_families
from .work import NETWORK_FILE
from ..companions.table import companion_table
from ..config import dump
from ..errors import SymgradError
from ..record import Record
from ..rundir import RESULT_FILE, write_text

if TYPE_CHECKING:
    from .items import Batch, Item

COLUMNS = ("item", "config", "seed", "neuron", "status", "expression", "complexity", "loss", "boundary_agreement",
           "verdict", "seconds", "run_dir", "error", "network", "test_accuracy", "points", "n_points",
           "faithful_loss", "recovered", "family", "family_share")
# a batch whose configs set ``companions`` gets, per companion, these columns beside the formula's
# boundary_agreement and complexity: fidelity to the network on the held-out test points and size
# in nodes. "tree_small" is the tree limited to the formula's own node count.
COMPANION_FIELDS = ("agreement", "auc", "nodes")
_COMPANION_GROUPS = {"tree": ("tree", "tree_small"), "logistic": ("logistic",), "sensitivity": ("sensitivity",),
                     "prelu": ("prelu",)}
STATE_FILE = "state.json"
STATUSES = ("finished", "failed", "interrupted", "running", "pending")


def run_dir(batch_dir: Path, item: Item) -> Path:
    return batch_dir / "runs" / item.id


def error_log(batch_dir: Path, item: Item) -> Path:
    """Where the traceback of an item's unexpected error goes (outside its run directory)."""
    return batch_dir / "errors" / f"{item.id}.log"


def network_dir(batch_dir: Path, network_id: str) -> Path:
    return batch_dir / "networks" / network_id


def load_state(batch_dir: Path) -> dict[str, dict[str, Any]]:
    """Per item id: status, seconds and error recorded by earlier runs of the batch."""
    try:
        return dict(json.loads((batch_dir / STATE_FILE).read_text()).get("items", {}))
    except (OSError, ValueError):
        return {}


def save_state(batch_dir: Path, state: dict[str, dict[str, Any]]) -> None:
    write_text(batch_dir / STATE_FILE, json.dumps({"items": state}, indent=2))


def _result(path: Path) -> Record | None:
    """The record in a run folder, or None if there is none or it cannot be read."""
    try:
        return Record.from_dict(json.loads((path / RESULT_FILE).read_text()), where=str(path / RESULT_FILE))
    except (OSError, ValueError):  # SymgradError is a ValueError: a damaged record counts as none
        return None


def item_finished(batch_dir: Path, item: Item) -> bool:
    """Whether the item's run directory holds a finished run of exactly the item's config."""
    path = run_dir(batch_dir, item)
    result = _result(path)
    if result is None or result.status != "finished":
        return False
    try:
        return (path / "config.yaml").read_text() == dump(item.config)
    except OSError:
        return False


def companion_columns(batch: Batch) -> tuple[str, ...]:
    """The companion columns of ``batch``'s summary: none unless an item's config asks for companions."""
    if not any(item.config.get("companions") for item in batch.items):
        return ()  # without importing the companions (numpy), which most batches do not ask for
    from ..companions.compare import COMPANIONS, companion_names

    asked = {name for item in batch.items for name in companion_names(item.config.get("companions", False))}
    return tuple(f"{group}_{field}" for name in COMPANIONS if name in asked
                 for group in _COMPANION_GROUPS[name] for field in COMPANION_FIELDS)


def _companion_group(method: str) -> str | None:
    """The column group of a ``companion_table`` row, by its method name (a companion that could
    not run is named by its config name)."""
    if method.startswith("decision tree ("):
        return "tree_small"
    for prefix, group in (("decision tree", "tree"), ("tree", "tree"), ("logistic", "logistic"),
                          ("partial dependence", "sensitivity"), ("sensitivity", "sensitivity"),
                          ("PReLU", "prelu"), ("prelu", "prelu")):
        if method.startswith(prefix):
            return group
    return None


def item_row(batch_dir: Path, item: Item, record: dict[str, Any] | None) -> dict[str, Any]:
    """One summary row: the item, what its run directory holds and what the batch recorded."""
    record = record or {}
    status = record.get("status", "pending")
    path = run_dir(batch_dir, item)
    row: dict[str, Any] = {c: "" for c in COLUMNS}
    row.update(item=item.id, config=item.config_name, seed=item.seed, neuron=item.neuron.describe(),
               status=status, network=item.network, error=record.get("error", ""),
               seconds=_round(record.get("seconds")), run_dir=os.path.relpath(path, batch_dir) if path.exists() else "")
    result = _result(path) if status in ("finished", "interrupted") else None
    if result is None:
        return row
    gradients = (result.gradients.search if result.gradients is not None else None) or {}
    row.update(test_accuracy=_round(result.model.test_accuracy if result.model is not None else None, 4),
               points=gradients.get("region", ""), n_points=gradients.get("subsampled_to", gradients.get("kept", "")),
               verdict=result.verdict.kind if result.verdict is not None else "")
    best = result.best
    if best is not None:
        row.update(expression=best.expression, complexity=best.complexity, loss=_number(best.loss),
                   boundary_agreement=_round(best.metrics.get("boundary_agreement"), 4))
    truth = result.truth
    # a known concept is the network's decision, not what a hidden unit computes
    if truth is not None and truth.faithful_loss is not None and item.neuron.kind != "hidden":
        row.update(faithful_loss=_number(truth.faithful_loss), recovered=bool(truth.recovered_faithful))
    for companion in companion_table(result.to_dict()):
        group = _companion_group(str(companion["method"]))
        if group is not None:
            row.update({f"{group}_agreement": _round(companion["agreement"], 4),
                        f"{group}_auc": _round(companion["auc"], 4),
                        f"{group}_nodes": "" if companion["nodes"] is None else int(companion["nodes"])})
    return row


def _number(value: Any) -> Any:
    return "" if value is None else float(f"{float(value):.4g}")


def _round(value: Any, digits: int = 2) -> Any:
    return "" if value is None else round(float(value), digits)


def rows(batch: Batch, batch_dir: Path, state: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [item_row(batch_dir, item, state.get(item.id)) for item in batch.items]


def counts(table: list[dict[str, Any]]) -> dict[str, int]:
    out = {status: sum(r["status"] == status for r in table) for status in STATUSES}
    out["faithful"] = sum(r["verdict"] == "faithful" for r in table)
    out["approximate"] = sum(r["verdict"] == "approximate" for r in table)
    out["with_truth"] = sum(r["recovered"] != "" for r in table)
    out["recovered"] = sum(r["recovered"] is True for r in table)
    return out


def write_summary(batch: Batch, batch_dir: Path, state: dict[str, dict[str, Any]], *,
                  executor: str = "") -> list[dict[str, Any]]:
    """Rewrite state.json, summary.csv, summary.md and summary.html (each atomically)."""
    save_state(batch_dir, state)
    table = rows(batch, batch_dir, state)
    families = _families(batch, batch_dir, table)
    write_text(batch_dir / "summary.csv", _csv(table, COLUMNS + companion_columns(batch)))
    write_text(batch_dir / "summary.md", _markdown(batch, table, executor, families))
    write_text(batch_dir / "summary.html", _html(batch, batch_dir, table, executor, families))
    return table


def _families(batch: Batch, batch_dir: Path, table: list[dict[str, Any]]) -> list[Family]:
    """The families across seeds, written into the rows' ``family`` and ``family_share``."""
    try:
        families = batch_families(batch, batch_dir, [r["item"] for r in table if r["status"] == "finished"])
    except (OSError, SymgradError):  # the summary is always written; families.json may be rewritten next time
        return []
    by_item = item_families(families)
    for r in table:
        if r["item"] in by_item:
            index, share = by_item[r["item"]]
            r.update(family=index, family_share=round(share, 4))
    return families


def _csv(table: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    # a run left by an earlier config of the item may hold companions this batch does not ask for
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def _headline(batch: Batch, table: list[dict[str, Any]], executor: str) -> list[str]:
    c = counts(table)
    seconds = sum(r["seconds"] for r in table if r["seconds"] != "")
    lines = [f"{len(table)} items on {len(batch.networks)} network{'s' if len(batch.networks) != 1 else ''}: "
             f"{c['finished']} finished, {c['failed']} failed, {c['interrupted']} interrupted, "
             f"{c['running']} running, {c['pending']} pending; {c['faithful']} with a faithful formula, "
             f"{c['approximate']} with an approximate one."]
    if c["with_truth"]:
        lines.append(f"Known concepts recovered (faithful L < 0.01 against the truth): {c['recovered']} of "
                     f"{c['with_truth']} finished items that have one.")
    lines.append(f"Item seconds, summed: {seconds:.0f}{f'; ran on {executor}' if executor else ''}; "
                 f"written {time.strftime('%Y-%m-%d %H:%M:%S')}.")
    return lines


def _per_config(table: list[dict[str, Any]]) -> list[tuple[str, int, int, int, str, float]]:
    out = []
    for config in dict.fromkeys(r["config"] for r in table):
        mine = [r for r in table if r["config"] == config]
        truth = [r for r in mine if r["recovered"] != ""]
        recovered = f"{sum(r['recovered'] is True for r in truth)}/{len(truth)}" if truth else "n/a"
        out.append((config, len(mine), sum(r["status"] == "finished" for r in mine),
                    sum(r["verdict"] == "faithful" for r in mine), recovered,
                    sum(r["seconds"] for r in mine if r["seconds"] != "")))
    return out


def _markdown(batch: Batch, table: list[dict[str, Any]], executor: str, families: list[Family]) -> str:
    lines = [f"# Batch {batch.name}", "", *_headline(batch, table, executor), ""]
    if len({r["config"] for r in table}) > 1:
        lines += ["| config | items | finished | faithful | recovered | seconds |", "|---|---|---|---|---|---|"]
        lines += [f"| {c} | {n} | {f} | {fa} | {rec} | {s:.0f} |" for c, n, f, fa, rec, s in _per_config(table)]
        lines.append("")
    stability = _stability(batch, table, families)
    if stability:
        lines += ["## Stability across seeds", "", _stability_line(stability), "", _STABILITY_NOTE, "",
                  "| config | neuron | family | seeds | share | formulas |", "|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row[:5]) + " | " + row[5].replace("|", "/") + " |" for row in stability]
        lines.append("")
    lines += ["| item | neuron | status | formula | complexity | L | agreement | verdict | seconds |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        formula = f"`{r['expression']}`" if r["expression"] else (r["error"] or "")
        lines.append(f"| {r['item']} | {r['neuron']} | {r['status']} | {formula.replace('|', '/')} | {r['complexity']} "
                     f"| {r['loss']} | {r['boundary_agreement']} | {r['verdict']} | {r['seconds']} |")
    heads, cells = _companion_cells(batch, table)
    if heads:
        lines += ["", "## Companions", "", _COMPANION_NOTE, "", "| item | " + " | ".join(heads) + " |",
                  "|---|" + "---|" * len(heads)]
        lines += [f"| {item} | " + " | ".join(row) + " |" for item, row in cells]
    return "\n".join(lines) + "\n"


_COMPANION_NOTE = ("Fidelity to the network on the held-out test points: agreement with its labels, and in "
                   "brackets the size in nodes (a formula's complexity, a tree's splits and leaves, the terms "
                   "of linear rules); tree (small) is the tree limited to the formula's size.")
_GROUP_TITLES = {"tree": "tree", "tree_small": "tree (small)", "logistic": "logistic", "sensitivity": "sensitivity",
                 "prelu": "PReLU rules"}


def _companion_cells(batch: Batch, table: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Headings and, per finished item, "agreement (nodes)" cells: the formula, then each companion."""
    groups = list(dict.fromkeys(c.rsplit("_", 1)[0] for c in companion_columns(batch)))
    if not groups:
        return [], []

    def cell(agreement: Any, nodes: Any) -> str:
        return "-" if agreement == "" else f"{agreement:.4f}" + (f" ({nodes})" if nodes != "" else "")

    cells = [(r["item"], [cell(r["boundary_agreement"], r["complexity"])]
              + [cell(r.get(f"{g}_agreement", ""), r.get(f"{g}_nodes", "")) for g in groups])
             for r in table if r["status"] == "finished"]
    return ["formula"] + [_GROUP_TITLES[g] for g in groups], cells


_STABILITY_NOTE = ("A family holds the seeds whose chosen formulas draw the same decision boundary on the runs' "
                   "pooled test points (not the same string): each formula, at its best level, reproduces the "
                   f"other's decisions on at least {MIN_AGREEMENT:.0%} of them, and at their own thresholds they "
                   f"agree on at least {MIN_OWN_AGREEMENT:.0%}. The share counts every seed of the config and "
                   "neuron; \"none\" lists the seeds without a formula that decides.")


def _stability(batch: Batch, table: list[dict[str, Any]], families: list[Family]) -> list[tuple[str, ...]]:
    """Rows of the stability table: per (config, neuron) with more than one seed, each family as
    (config, neuron, family, seeds, share, formulas), then the seeds without a family; empty when
    no config and neuron has more than one seed."""
    by_item = {r["item"]: r for r in table}
    out = []
    for (config, _tag), items in batch_groups(batch).items():
        if len(items) < 2 or items[0].neuron.kind == "hidden":  # a hidden unit draws no boundary
            continue
        neuron, ids = items[0].neuron.describe(), {i.id for i in items}
        mine = [f for f in families if f.config == config and set(f.items) <= ids]
        for family in mine:
            seeds: dict[str, list[str]] = {}
            for expression, seed in zip(family.expressions, family.seeds):
                seeds.setdefault(expression, []).append(str(seed))
            formulas = "; ".join(f"`{x}` (seed{'s' if len(s) > 1 else ''} {', '.join(s)})" for x, s in seeds.items())
            out.append((config, neuron, str(family.index), ", ".join(str(s) for s in sorted(family.seeds, key=str)),
                        f"{len(family.items)}/{family.runs} = {family.share:.2f}", formulas))
        placed = {item for f in mine for item in f.items}
        left = [i for i in items if i.id not in placed]
        if left:
            why = "; ".join(f"seed {i.seed}: {_no_family(by_item[i.id])}" for i in left)
            out.append((config, neuron, "none", ", ".join(str(i.seed) for i in left),
                        f"{len(left)}/{len(items)} = {len(left) / len(items):.2f}", why))
    return out


def _no_family(row: dict[str, Any]) -> str:
    """Why an item is in no family, from its summary row."""
    if row["status"] != "finished":
        return str(row["status"])
    return "no formula" if not row["expression"] else "its formula has no decision threshold"


def _stability_line(stability: list[tuple[str, ...]]) -> str:
    """How many (config, neuron) have every seed in one family."""
    groups = {(row[0], row[1]) for row in stability}
    split = {(row[0], row[1]) for row in stability if row[2] != "1"}
    return (f"Same boundary on every seed: {len(groups - split)} of {len(groups)} config and neuron pair"
            f"{'s' if len(groups) != 1 else ''} with more than one seed.")


_STYLE = """body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:26px}h2{font-size:19px;margin-top:28px;color:#2b4c7e}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f3f8}
code{font-size:13px}.failed{color:#a00}.faithful{color:#070}.approximate{color:#a60}.not_found{color:#a00}.pending,.running{color:#777}"""


def _html(batch: Batch, batch_dir: Path, table: list[dict[str, Any]], executor: str, families: list[Family]) -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Batch {e(batch.name)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>Batch {e(batch.name)}</h1>"]
    parts += [f"<p>{e(line)}</p>" for line in _headline(batch, table, executor)]
    parts.append("<p><a href='summary.csv'>summary.csv</a> · <a href='summary.md'>summary.md</a></p>")
    if len({r["config"] for r in table}) > 1:
        parts.append("<table><tr><th>config</th><th>items</th><th>finished</th><th>faithful</th><th>recovered</th>"
                     "<th>seconds</th></tr>")
        parts += [f"<tr><td>{e(c)}</td><td>{n}</td><td>{f}</td><td>{fa}</td><td>{rec}</td><td>{s:.0f}</td></tr>"
                  for c, n, f, fa, rec, s in _per_config(table)]
        parts.append("</table>")
    stability = _stability(batch, table, families)
    if stability:
        parts.append(f"<h2>Stability across seeds</h2><p>{e(_stability_line(stability))}</p>"
                     f"<p>{e(_STABILITY_NOTE)}</p>"
                     "<table><tr><th>config</th><th>neuron</th><th>family</th><th>seeds</th><th>share</th>"
                     "<th>formulas</th></tr>")
        parts += ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row[:5])
                  + f"<td>{_code(row[5])}</td></tr>" for row in stability]
        parts.append("</table>")
    by_item = {r["item"]: r for r in table}
    for network in batch.networks:
        items = batch.items_of(network.id)
        parts.append(f"<h2>Network {e(network.id)}</h2><p>{e(_network_line(batch_dir, network))}</p>")
        parts.append("<table><tr><th>neuron</th><th>status</th><th>formula</th><th>complexity</th><th>L</th>"
                     "<th>agreement</th><th>verdict</th><th>points</th><th>seconds</th><th>report</th></tr>")
        for item in items:
            r = by_item[item.id]
            formula = f"<code>{e(r['expression'])}</code>" if r["expression"] else e(r["error"])
            report = Path(r["run_dir"]) / "report.html" if r["run_dir"] else None
            link = f"<a href='{e(report.as_posix())}'>report</a>" if report and (batch_dir / report).is_file() else ""
            if r["status"] == "failed" and error_log(batch_dir, item).is_file():
                link = f"<a href='{e(error_log(batch_dir, item).relative_to(batch_dir).as_posix())}'>traceback</a>"
            parts.append(f"<tr id='{e(item.neuron.tag())}'><td>{e(r['neuron'])}</td>"
                         f"<td class='{e(r['status'])}'>{e(r['status'])}</td><td>{formula}</td><td>{r['complexity']}</td>"
                         f"<td>{r['loss']}</td><td>{r['boundary_agreement']}</td>"
                         f"<td class='{e(str(r['verdict']))}'>{e(str(r['verdict']))}</td><td>{r['n_points']}</td>"
                         f"<td>{r['seconds']}</td><td>{link}</td></tr>")
        parts.append("</table>")
    heads, cells = _companion_cells(batch, table)
    if heads:
        parts.append(f"<h2>Companions</h2><p>{e(_COMPANION_NOTE)}</p><table><tr><th>item</th>"
                     + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>")
        parts += ["<tr><td>" + e(item) + "</td>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                  for item, row in cells]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _code(text: str) -> str:
    """Markdown-style `code` spans of ``text`` as escaped HTML <code> elements."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _network_line(batch_dir: Path, network) -> str:
    config = network.config
    data = config["data"]
    source = data["concept"] or data["formula"] or data["path"]
    line = (f"data {source}, seed {config['seed']}, {config['model']['hidden']} {config['model']['activation']} "
            f"MLP, {config['train']['epochs']} epochs")
    try:
        record = json.loads((network_dir(batch_dir, network.id) / NETWORK_FILE).read_text())
        line += f"; test accuracy {record['test_accuracy']:.4f}, trained in {record['seconds']:.1f} s"
    except (OSError, ValueError, KeyError):
        line += "; not trained yet"
    return line
