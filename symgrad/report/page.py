"""A self-contained HTML report and a Markdown twin for one interpreted neuron."""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from pathlib import Path
from typing import Any, Mapping

from matplotlib.figure import Figure

from .plots import figure_to_png_bytes

from ..judging.verdict import finite, verdict

_FRONT_METRICS = (("loss_near", "L near boundary"), ("boundary_agreement", "agreement"), ("boundary_agreement_auc", "AUC"),
                  ("spearman_abs", "|Spearman|"), ("true_label_accuracy", "true-label acc."))
# The page must fit a laptop window whatever the user's names and formulas: long words wrap
# (anywhere inside table cells, where a long name would otherwise widen the whole table), numbers
# and short words never break, and images shrink to the column. Inline code has no vertical
# padding: its background would hide the underscores of the line above (mean_radius).
_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;padding:0 16px;max-width:1100px;color:#222;
background:#fff;overflow-wrap:break-word;line-height:1.4}
h1{font-size:26px;border-bottom:3px solid #2b6cb0;padding-bottom:6px}
h2{font-size:20px;margin-top:28px;color:#2b4c7e}
table{border-collapse:collapse;margin:8px 0;font-size:14px;max-width:100%}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}
td.word{white-space:nowrap}
th{background:#e8eef7}
tr.chosen td{background:#fff4cc;font-weight:bold}
code,pre{font-family:Menlo,Consolas,monospace;background:#f3f3f3;padding:0 3px;overflow-wrap:anywhere}
pre{padding:10px;white-space:pre-wrap;word-break:break-all}
img{max-width:100%;height:auto}
.verdict{padding:12px 16px;border-radius:6px;font-size:17px;margin:12px 0}
.verdict.faithful{background:#dff5e1;border:2px solid #2f855a}
.verdict.not_found{background:#fde8e8;border:2px solid #c53030}
.verdict.cannot_judge{background:#fff4d6;border:2px solid #b7791f}
.verdict.approximate{background:#fff4d6;border:2px solid #b7791f}
figure{margin:16px 0}
figure img{border:1px solid #ddd}
figcaption{font-size:13px;color:#555}
"""
# a table cell of one word up to this long (a number, a source, a class name) stays on one line
_WORD_CHARS = 24
# Markdown punctuation that would turn user text into emphasis, code or links; an underscore
# inside a word (mean_radius) is literal in CommonMark and is left alone to keep names readable.
_MD_PUNCTUATION = re.compile(r"[\\`*\[\]~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# a code span shows its text verbatim: it cannot hold these escaped
_NOT_FOR_CODE = re.compile(r"[<>&`]")
# visible characters of one line of the drawn formula (about 1000 pixels at the report's size)
_FORMULA_LINE_CHARS = 50


def write_report(run_dir: str | Path, summary: Mapping[str, Any],
                 figures: Mapping[str, Figure | bytes] | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` (self-contained) and ``report.md`` into ``run_dir``.

    The HTML embeds every image as a base64 PNG data URI and loads nothing from the network;
    the Markdown links PNG files written to ``run_dir/report_figures/``.

    Expected ``summary`` (only ``features``, ``front`` and ``best`` are required)::

        {
          "title": str,                      # optional, default "symgrad report"; the data set and
                                             # label (data.source, data.label) are added to it
          "features": [str, ...],            # input names, column order
          "neuron": str,                     # e.g. "output logit" or "layer 1 unit 3 (post)"
          "decides": bool,                   # optional, default true; false: a hidden unit or function
          "front": [entry, ...],             # the re-scored Pareto front, simplest first
          "best": entry,                     # the chosen formula
          "verdict": {"kind": str, "sentence": str},  # optional; else computed by verdict()
          "data": {str: value},              # e.g. source, label, n_samples, n_features, truth
          "model": {str: value},             # e.g. hidden, activation, test_accuracy
          "timings": {str: seconds},         # e.g. train, gradients, search, total
          "versions": {str: str},            # e.g. symgrad, jax, pyoperon
          "notes": [str, ...],               # optional warnings shown as a list
        }
        entry = {"expression": str, "complexity": int, "loss": float,   # held-out L
                 "train_loss": float | None, "source": str,
                 "latex": str,                # optional; else computed from expression
                 "metrics": {...}}            # fidelity_metrics output, may be empty

    Args:
        run_dir: directory to write into (created if missing).
        summary: the dict above, usually built from ``result.json``.
        figures: name -> matplotlib Figure (or its PNG bytes, already rendered), shown in this
            order under their names.

    Returns:
        (html_path, md_path).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    figure_dir = run_dir / "report_figures"
    figure_dir.mkdir(exist_ok=True)
    features = [str(f) for f in summary.get("features", [])]
    front = list(summary.get("front", []))
    best = dict(summary.get("best") or {})
    best_metrics = dict(best.get("metrics") or {})
    kind, sentence = _verdict_of(summary, best_metrics, front)
    latex = best.get("latex") or _latex_or_none(best.get("expression"), features)

    images: list[tuple[str, str, bytes]] = []  # (title, file stem, png)
    formula_png = _mathtext_png(latex) if latex else None
    used = {"formula"}
    for name, fig in (figures or {}).items():
        stem = _slug(str(name))
        while stem in used:  # distinct names may share a slug
            stem += "_"
        used.add(stem)
        images.append((str(name), stem, fig if isinstance(fig, bytes) else figure_to_png_bytes(fig)))
    for title, stem, png in images:
        (figure_dir / f"{stem}.png").write_bytes(png)
    if formula_png is not None:
        (figure_dir / "formula.png").write_bytes(formula_png)

    title = _title(summary)
    sections = _sections(summary, best, best_metrics, front, features)
    html_path = run_dir / "report.html"
    reading = _reading(best, bool(summary.get("decides", True)))
    html_path.write_text(_html(title, kind, sentence, best, reading, latex, formula_png, sections, images),
                         encoding="utf-8")
    md_path = run_dir / "report.md"
    md_path.write_text(_markdown(title, sentence, best, reading, latex, formula_png is not None, sections, images),
                       encoding="utf-8")
    return html_path, md_path


# ----------------------------------------------------------------------------- content


def _title(summary: Mapping[str, Any]) -> str:
    """The given title followed by the data set and its label column, so that a browser tab or a
    folder of reports says which data each one explains.

    Runs written before result.json named its ``data.source`` keep their title as it was, and a
    title that already names the source is not repeated.
    """
    title = str(summary.get("title") or "symgrad report")
    data = summary.get("data") or {}
    source, label = data.get("source"), data.get("label")
    if not source or str(source) in title:
        return title
    return f"{title} — {source}" + (f" (label: {label})" if label else "")


def _verdict_of(summary: Mapping[str, Any], best_metrics: Mapping[str, Any], front: list) -> tuple[str, str]:
    given = summary.get("verdict")
    if isinstance(given, Mapping) and given.get("sentence"):
        return str(given.get("kind", "")), str(given["sentence"])
    if isinstance(given, str) and given:
        return "", given
    return verdict(best_metrics, [entry.get("metrics") or {} for entry in front])


def _sections(summary: Mapping[str, Any], best: Mapping[str, Any], best_metrics: Mapping[str, Any],
              front: list, features: list[str]) -> list[tuple[str, list[str], list[list[str]], int | None] | None]:
    """Tables as (heading, header, rows, highlighted row index) shared by HTML and Markdown.

    A None item marks where the figures go.
    """
    sections = []
    header = ["#", "complexity", "held-out L", "train L"] + [label for _, label in _FRONT_METRICS] \
        + ["source", "expression"]
    rows, chosen = [], None
    for i, entry in enumerate(front):
        metrics = entry.get("metrics") or {}
        if chosen is None and entry.get("expression") == best.get("expression"):
            chosen = i
        rows.append([str(i), _fmt(entry.get("complexity")), _fmt(entry.get("loss")),
                     _fmt(entry.get("train_loss"))] + [_fmt(metrics.get(key)) for key, _ in _FRONT_METRICS]
                    + [_fmt(entry.get("source")), str(entry.get("expression"))])
    sections.append(("Pareto front (simplest first; chosen row highlighted)", header, rows, chosen))
    sections.append(None)  # the figures go here, before the detail tables
    if best_metrics:
        rows = [[key, _fmt(value)] for key, value in best_metrics.items()]
        sections.append(("Fidelity of the chosen formula (held-out points)", ["metric", "value"], rows, None))
    sections += _companion_sections(summary, best)
    overview = [["features", ", ".join(features)], ["neuron", _fmt(summary.get("neuron"))]]
    overview += [[str(k), _fmt(v)] for k, v in (summary.get("data") or {}).items()]
    sections.append(("Data", ["item", "value"], overview, None))
    for key, heading in (("model", "Network"), ("timings", "Timings (seconds)"), ("versions", "Versions")):
        table = summary.get(key) or {}
        if table:
            sections.append((heading, ["item", "value"], [[str(k), _fmt(v)] for k, v in table.items()], None))
    notes = summary.get("notes") or []
    if notes:
        sections.append(("Notes", ["note"], [[str(n)] for n in notes], None))
    return sections


def _companion_sections(summary: Mapping[str, Any], best: Mapping[str, Any]) -> list:
    """The formula beside the companions (``symgrad.companions``), when the run asked for them."""
    if not summary.get("companions"):
        return []
    from ..companions.table import companion_table

    rows = companion_table({"best": best, "companions": summary["companions"]})
    header = ["method", "agreement", "AUC", "nodes", "size", "output"]
    short = [[r["method"], _fmt(r["agreement"]), _fmt(r["auc"]), _fmt(r["nodes"]), _fmt(r["size"]),
              " ".join(str(r["output"]).split())[:240]] for r in rows]
    full = [[r["method"], str(r["output"])] for r in rows[1:]]
    return [("Comparison with surrogates (fidelity to the network's labels on the test split)", header, short,
             0 if best else None),
            ("Companion rules in full", ["method", "rule"], full, None)]


def _html(title: str, kind: str, sentence: str, best: Mapping[str, Any], reading: str, latex: str | None,
          formula_png: bytes | None, sections: list, images: list) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{esc(title)}</h1>",
           f'<div class="verdict {esc(kind)}" id="verdict"><strong>Verdict:</strong> {esc(sentence)}</div>',
           '<h2 id="formula">Chosen formula</h2>',
           f"<p>g = <code>{esc(str(best.get('expression', '')))}</code> "
           f"(complexity {esc(_fmt(best.get('complexity')))}, held-out L {esc(_fmt(best.get('loss')))}). "
           f"{esc(reading)}</p>"]
    if latex:
        out.append(f"<p>LaTeX: <code>{esc(latex)}</code></p>")
    if formula_png is not None:
        out.append(f'<p><img alt="formula" src="{_data_uri(formula_png)}"></p>')
    for section in sections:
        if section is None:
            out += _html_figures(images)
            continue
        heading, header, rows, chosen = section
        out.append(f"<h2>{esc(heading)}</h2>")
        out.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>")
        for i, row in enumerate(rows):
            cls = ' class="chosen"' if i == chosen else ""
            out.append(f"<tr{cls}>" + "".join(_html_cell(h, c) for h, c in zip(header, row)) + "</tr>")
        out.append("</tbody></table>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _html_cell(header: str, text: str) -> str:
    """One table cell: a formula as code, a rule as preformatted text, and a short word (a number,
    a class name) marked to stay on one line while everything else may wrap anywhere."""
    esc = html.escape
    if header == "expression":
        return f"<td><code>{esc(text)}</code></td>"
    if header == "rule":
        return f"<td><pre>{esc(text)}</pre></td>"
    if len(text) <= _WORD_CHARS and not any(ch.isspace() for ch in text):
        return f'<td class="word">{esc(text)}</td>'
    return f"<td>{esc(text)}</td>"


def _html_figures(images: list) -> list[str]:
    esc = html.escape
    out = ["<h2>Figures</h2>"] if images else []
    for name, _, png in images:
        out.append(f'<figure><img alt="{esc(name)}" src="{_data_uri(png)}">'
                   f"<figcaption>{esc(name)}</figcaption></figure>")
    return out


def _markdown(title: str, sentence: str, best: Mapping[str, Any], reading: str, latex: str | None,
              has_formula_png: bool, sections: list, images: list) -> str:
    """report.md; every piece of user text goes through ``_md_text``, ``_md_cell`` or ``_md_code``,
    so that a renderer that passes HTML through shows the user's names as text."""
    out = [f"# {_md_text(title)}", "", f"**Verdict:** {_md_text(sentence)}", "", "## Chosen formula", ""]
    out += _md_formula_block(f"g = {best.get('expression', '')}")
    out += [f"Complexity {_md_text(_fmt(best.get('complexity')))}, held-out L {_md_text(_fmt(best.get('loss')))}. "
            f"{_md_text(reading)}", ""]
    if latex:
        out += ["$$", _md_latex(latex), "$$", ""]
    if has_formula_png:
        out += ["![formula](report_figures/formula.png)", ""]
    for section in sections:
        if section is None:
            out += _markdown_figures(images)
            continue
        heading, header, rows, chosen = section
        out += [f"## {_md_text(heading)}", "", "| " + " | ".join(_md_cell(h) for h in header) + " |",
                "|" + "---|" * len(header)]
        for i, row in enumerate(rows):
            cells = [_md_code(c).replace("|", "\\|") if h == "expression" else
                     "<br>".join(_md_cell(line) for line in c.splitlines()) if h == "rule" else _md_cell(c)
                     for h, c in zip(header, row)]
            if i == chosen:
                cells = [f"**{c}**" if c else c for c in cells]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _markdown_figures(images: list) -> list[str]:
    out = ["## Figures", ""] if images else []
    for name, stem, _ in images:
        out += [f"![{_md_text(name)}](report_figures/{stem}.png)", "", f"*{_md_cell(name)}*", ""]
    return out


def _md_text(text: Any) -> str:
    """User text for Markdown prose: HTML characters as entities (a renderer shows them, it does
    not run them) and Markdown punctuation escaped (``x0**2`` is not read as bold)."""
    text = _MD_PUNCTUATION.sub(lambda match: "\\" + match.group(0), str(text))
    return html.escape(text, quote=False)


def _md_cell(text: Any) -> str:
    """User text for one Markdown table cell: ``_md_text`` on one line, with ``|`` escaped."""
    return _md_text(" ".join(str(text).splitlines())).replace("|", "\\|")


def _md_code(text: Any) -> str:
    """A formula as a code span (verbatim, so ``**`` and ``_`` stay as written), or as escaped
    prose where it holds characters that a code span would show unescaped."""
    text = " ".join(str(text).split())
    if _NOT_FOR_CODE.search(text):
        return _md_text(text)
    return f"`{text}`"


def _md_formula_block(text: str) -> list[str]:
    """The chosen formula as a fenced code block, or as an escaped paragraph (see ``_md_code``)."""
    if _NOT_FOR_CODE.search(text):
        return [_md_text(text), ""]
    return ["```", text, "```", ""]


def _md_latex(latex: str) -> str:
    """LaTeX for a ``$$`` block, whose text a Markdown renderer may pass through as HTML: the
    HTML characters a user's name can bring in become their LaTeX commands."""
    return latex.replace("&", "\\&").replace("<", "\\lt ").replace(">", "\\gt ")


# ----------------------------------------------------------------------------- helpers


def _reading(best: Mapping[str, Any], decides: bool) -> str:
    """How to read g: a level set of the network's decision, or a monotone function of the
    neuron (hidden units and plain functions decide nothing)."""
    if not decides:
        return "Equivalent up to a monotone transform: the neuron is a monotone function of g."
    return ("Equivalent up to a monotone transform: the network's decision boundary is a level set "
            f"{{g = t}}{_threshold_text(best)}.")


def _threshold_text(best: Mapping[str, Any]) -> str:
    metrics = best.get("metrics") or {}
    # the rounded threshold (the digits the network's decisions tell apart) and its unit, if known
    t = finite(metrics.get("threshold_round", metrics.get("threshold")))
    o = metrics.get("orientation")
    if t is None or o not in (1, -1):
        return ""
    target = metrics.get("target_class", 1)
    name = str(metrics.get("target_class_name", target))
    label = f"class {target}" if name == str(target) else f"class {target} ({name!r})"
    unit = metrics.get("threshold_unit")
    return f"; {label} where g {'>' if o == 1 else '<'} {t:.4g}" + (f" {unit}" if unit else "")


def _latex_or_none(expression: Any, features: list[str]) -> str | None:
    if not expression or not features:
        return None
    from ..errors import SymgradError
    from ..export import to_latex

    try:
        return to_latex(str(expression), features)
    except SymgradError:
        return None


@functools.lru_cache(maxsize=32)  # a batch meets one formula many times (a unit before and after its activation)
def _mathtext_png(latex: str) -> bytes | None:
    """The formula drawn by matplotlib's mathtext, or None where mathtext cannot parse it."""
    fig = Figure(figsize=(0.1, 0.1))
    # one line per group of terms: a long formula drawn on one line would be shrunk to the page's
    # width and become unreadable
    first, *rest = _formula_lines(latex)
    fig.text(0.0, 0.0, "\n".join([f"$g = {first}$"] + [rf"$\qquad {line}$" for line in rest]), fontsize=18)
    try:
        return figure_to_png_bytes(fig, dpi=120, crop=True)
    except (ValueError, RuntimeError):  # mathtext supports a subset of LaTeX
        return None


# what the line breaks of a formula look at: brace groups and \left ... \right pairs (inside
# which no break is made), other commands and escapes (skipped), and top-level + and -
_LATEX_TOKEN = re.compile(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\[A-Za-z]+|\\.|[{}]| [+-] ")


def _formula_lines(latex: str, width: int = _FORMULA_LINE_CHARS) -> list[str]:
    """``latex`` cut into lines of about ``width`` visible characters, each line starting with a
    top-level ``+`` or ``-`` term (except the first), so that each line is valid LaTeX on its own.

    A single term longer than ``width`` stays whole on its own line.
    """
    terms, depth, start = [], 0, 0
    for match in _LATEX_TOKEN.finditer(latex):
        token = match.group(0)
        if token in ("{", r"\left"):
            depth += 1
        elif token in ("}", r"\right"):
            depth -= 1
        elif token.startswith(" ") and depth == 0:
            terms.append(latex[start:match.start()])
            start = match.start() + 1  # the next term starts at its sign
    terms.append(latex[start:])
    lines: list[str] = []
    for term in terms:
        if lines and _visible_length(lines[-1] + term) <= width:
            lines[-1] += " " + term
        else:
            lines.append(term)
    return lines


def _visible_length(latex: str) -> int:
    """About how many characters ``latex`` draws: commands, braces and ``^`` ``_`` left out, an
    escaped character (``\\_``) counted once."""
    return len(re.sub(r"\\[A-Za-z]+|(?<!\\)[{}^_]|\\", "", latex))


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()
    return slug or "figure"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, default=str)
    return str(value)
