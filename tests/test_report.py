"""Plots, the verdict rule, and the HTML/Markdown report, rendered in headless Chromium."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from helpers import chromium
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread

from symgrad.report import plots
from symgrad.errors import SymgradError
from symgrad.export import to_numpy
from symgrad.judging.metrics import fidelity_metrics
from symgrad.judging.verdict import APPROXIMATE, FAITHFUL, NOT_FOUND, verdict
from symgrad.report.page import write_report

NAMES = ["petal_length", "petal_width"]
TRUTH = "petal_length**2 + 2*petal_width**2"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VERDICT_GREEN = np.array([0xDF, 0xF5, 0xE1]) / 255.0  # the CSS background of a faithful verdict


def _synthetic_run():
    """A front re-scored with real metrics on an analytic neuron f = 4 (g - 1)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(1500, 2))
    grad = np.stack([2 * x[:, 0], 4 * x[:, 1]], axis=1)
    directions = grad / np.linalg.norm(grad, axis=1, keepdims=True)
    logit = 4.0 * (to_numpy(TRUTH, NAMES)(x) - 1.0)
    labels = (logit > 0).astype(int)
    front = []
    for expr, complexity in (("petal_length", 1), ("petal_length + petal_width", 3), (TRUTH, 7)):
        m = fidelity_metrics(expr, NAMES, x=x, directions=directions, neuron_values=logit,
                             net_labels=labels, true_labels=labels, net_accuracy=0.985)
        front.append({"expression": expr, "complexity": complexity, "loss": m["loss"], "train_loss": m["loss"],
                      "source": "library", "metrics": m})
    summary = {
        "title": "symgrad report: iris-like test <run>",
        "features": NAMES, "neuron": "output logit", "front": front, "best": front[2],
        "data": {"source": "synthetic", "n_samples": 1500, "truth": TRUTH},
        "model": {"hidden": [32, 32], "activation": "elu", "test_accuracy": 0.985},
        "timings": {"train": 3.2, "search": 11.0}, "versions": {"symgrad": "0.1.0", "numpy": np.__version__},
        "notes": ["synthetic data for the test-suite"],
    }
    history = {"train_loss": list(np.linspace(0.7, 0.1, 20)), "val_loss": list(np.linspace(0.7, 0.12, 20)),
               "val_accuracy": list(np.linspace(0.6, 0.98, 20))}
    net = lambda z: 1 / (1 + np.exp(-4.0 * (to_numpy(TRUTH, NAMES)(z) - 1.0)))  # noqa: E731
    figures = {
        "Pareto front": plots.pareto_plot([e["complexity"] for e in front], [e["loss"] for e in front], 2,
                                          [e["expression"] for e in front]),
        "neuron vs formula": plots.value_plot(logit, to_numpy(TRUTH, NAMES)(x)),
        "decision slices": plots.boundary_slices(net, to_numpy(TRUTH, NAMES), front[2]["metrics"]["threshold"],
                                                 x, [(0, 1)], NAMES),
        "relevance": plots.relevance_plot(np.abs(directions).mean(axis=0), NAMES),
        "training": plots.training_curves(history),
    }
    return summary, figures


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    summary, figures = _synthetic_run()
    html_path, md_path = write_report(run_dir, summary, figures)
    return run_dir, summary, html_path, md_path


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_verdict_rule_is_the_documented_one():
    # no floor given: the smallest floor (0.002), so faithful needs L <= 0.01 near the boundary
    front = [{"loss_near": 0.3}, {"loss_near": 0.004}]  # the front's metrics
    assert verdict({"loss_near": 0.01, "boundary_agreement": 0.95}, front)[0] == FAITHFUL
    kind, sentence = verdict({"loss_near": 0.021, "boundary_agreement": 0.99}, front)
    assert kind == APPROXIMATE and sentence.startswith("Approximate closed form") and "10.5x" in sentence
    kind, sentence = verdict({"loss_near": 0.11, "boundary_agreement": 0.93}, front)
    assert kind == NOT_FOUND and sentence.startswith("No closed form found within the budget")
    assert "0.004" in sentence  # the front's lowest loss is given as context
    # the network's decisions but not its gradients: approximate, and the sentence says which
    kind, sentence = verdict({"loss_near": 0.3, "boundary_agreement": 0.97}, front)
    assert kind == APPROXIMATE and "reproduces the network's decisions on 97.0%" in sentence
    assert "but not its gradient directions" in sentence and "L = 0.3" in sentence
    assert verdict({"loss_near": 0.001, "boundary_agreement": 0.94}, front)[0] == APPROXIMATE
    assert verdict({"loss_near": 0.001, "boundary_agreement": 0.89}, front)[0] == NOT_FOUND
    assert verdict({"loss_near": float("nan"), "boundary_agreement": 1.0}, front)[0] == NOT_FOUND
    assert verdict({}, [])[0] == NOT_FOUND
    # results written before loss_near existed are judged on their held-out loss
    assert verdict({"loss": 0.005, "boundary_agreement": 0.99}, [])[0] == FAITHFUL


def test_plots_return_figures_and_reject_bad_input():
    fig = plots.pareto_plot([1, 3, 5], [0.2, 0.0, 1e-3], 1, ["a", "b", "c"])  # L = 0 must still plot
    assert isinstance(fig, Figure)
    assert plots.figure_to_png_bytes(fig).startswith(PNG_MAGIC)
    assert "L = 0 (drawn at the floor)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    values = np.array([1.0, np.nan, 3.0])
    assert "1 non-finite" in plots.value_plot(np.arange(3.0), values).axes[0].get_title()
    with pytest.raises(SymgradError, match="one per formula"):
        plots.pareto_plot([1, 2], [0.1], None)
    with pytest.raises(SymgradError, match="pair \\(0, 0\\)"):
        plots.boundary_slices(lambda z: z[:, 0], lambda z: z[:, 0], 0.0, np.zeros((4, 2)), [(0, 0)], NAMES)
    with pytest.raises(SymgradError, match="unknown key 'loss'"):
        plots.training_curves({"loss": [1.0]})
    relevance = plots.relevance_plot([0.1, 0.5, 0.2], ["a", "b", "c"])
    assert [t.get_text() for t in relevance.axes[0].get_yticklabels()] == ["a", "c", "b"]  # largest on top


def test_html_is_self_contained(report):
    run_dir, summary, html_path, _ = report
    text = html_path.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(text)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for tag, attrs in parser.tags:
        for key in ("src", "href"):
            assert not attrs.get(key, "").startswith(("http:", "https:", "//")), (tag, attrs)
    images = [attrs["src"] for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == 5 + 1  # five figures and the formula
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    rows = [attrs for tag, attrs in parser.tags if tag == "tr"]
    assert sum(a.get("class") == "chosen" for a in rows) == 1
    assert '<div class="verdict faithful"' in text
    assert r"\mathrm{petal\_length}" in text  # LaTeX with the user's names
    assert "&lt;run&gt;" in text  # user text is escaped
    for entry in summary["front"]:
        assert f"<td><code>{entry['expression']}</code></td>" in text


def test_markdown_links_existing_images(report):
    run_dir, summary, _, md_path = report
    text = md_path.read_text(encoding="utf-8")
    links = [line.split("](", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert len(links) == 6
    for link in links:
        assert (run_dir / link).read_bytes().startswith(PNG_MAGIC)
    assert "**Verdict:** Faithful closed form" in text
    assert "$$" in text and f"**`{TRUTH}`**" in text  # chosen row bold, formula as code


def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = chromium()
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed but CI=true; install it with apt-get install -y chromium")
        pytest.skip("chromium is not installed (apt-get install -y chromium); the HTML checks above still ran")
    _, _, html_path, _ = report
    shot = tmp_path / "shot.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,3000",
               f"file://{html_path.resolve()}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shot.exists(), f"no screenshot; chromium said: {result.stderr[-2000:]}"
    pixels = imread(io.BytesIO(shot.read_bytes()), format="png")[:, :, :3]
    assert pixels.shape[:2] == (3000, 1200)
    non_white = np.mean(np.any(pixels < 0.95, axis=2))
    assert non_white > 0.05, f"the page looks blank ({non_white:.3f} non-white)"
    assert pixels.std() > 0.05
    # The CSS was applied: the faithful verdict box is drawn in its green.
    assert np.sum(np.all(np.abs(pixels - VERDICT_GREEN) < 0.02, axis=2)) > 2000
    # The embedded plots were decoded: the colour map of the decision slices is drawn (strong reds).
    red = (pixels[:, :, 0] > 0.6) & (pixels[:, :, 1] < 0.3) & (pixels[:, :, 2] < 0.3)
    assert red.sum() > 1000


def test_minimal_summary_without_figures(tmp_path):
    front = [{"expression": "x0 + x1", "complexity": 3, "loss": 0.18,
              "metrics": {"loss": 0.18, "boundary_agreement": 0.9}}]
    html_path, md_path = write_report(tmp_path, {"features": ["x0", "x1"], "front": front, "best": front[0]})
    text = html_path.read_text(encoding="utf-8")
    assert '<div class="verdict not_found"' in text and "No closed form found within the budget" in text
    assert "<h2>Figures</h2>" not in text
    assert "x_{0} + x_{1}" in text
    assert "No closed form found" in md_path.read_text(encoding="utf-8")


def test_users_names_and_labels_reach_statement_report_and_rule(tmp_path):
    """A CSV with spaced column names and text labels: the rule takes the CSV's own column names
    and answers in the user's labels; statement and report name the positive class."""
    from symgrad.config import load_config
    from symgrad.pipeline import interpret

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2, size=(1500, 2))
    labels = np.where(x[:, 0] ** 2 + x[:, 1] > 2, "malignant", "benign")
    csv = tmp_path / "cells.csv"
    csv.write_text("mean radius,mean texture,diagnosis\n"
                   + "".join(f"{a:.6f},{b:.6f},{c}\n" for (a, b), c in zip(x, labels)))
    config = load_config(None, [f"data.path={csv}", "data.label=diagnosis", "train.epochs=15",
                                "model.hidden=[16, 16]", "search.backend=library", "progress=false"])
    run = interpret(config, out=tmp_path / "run", progress=None)
    assert run.record.data.renamed == {"mean radius": "mean_radius", "mean texture": "mean_texture"}
    assert "class 1 ('malignant') where" in run.statement
    assert "class 1 ('malignant') where g" in (run.path / "report.md").read_text()
    namespace: dict = {}
    exec((run.path / "rule.py").read_text(), namespace)
    classify = namespace["classify"]
    model = run.model()
    rows = x[1000:1200]
    by_rule = [classify({"mean radius": a, "mean texture": b}) for a, b in rows]
    by_net = [model.class_names[k] for k in model.predict(rows)]
    assert set(by_rule) == {"malignant", "benign"}
    assert np.mean(np.array(by_rule) == np.array(by_net)) >= 0.9
    # the formula names work too
    assert classify(mean_radius=rows[0, 0], mean_texture=rows[0, 1]) == by_rule[0]


SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


def test_html_in_users_names_is_shown_as_text_in_both_reports(tmp_path):
    """Column names, labels, data, notes and formulas that hold HTML reach both reports as text."""
    features = [SCRIPT, f"{IMG}|b", "x2"]
    entry = {"expression": f"x2 + {SCRIPT}", "complexity": 3, "loss": 0.01, "source": IMG,
             "latex": r"\mathrm{" + SCRIPT + "} + x_{2}",
             "metrics": {"loss_near": 0.01, "boundary_agreement": 0.97, "threshold": 0.5, "orientation": 1,
                         "target_class": 1, "target_class_name": IMG}}
    summary = {"title": f"symgrad: {SCRIPT}", "features": features, "neuron": SCRIPT, "front": [entry],
               "best": entry, "verdict": {"kind": "faithful", "sentence": f"Faithful for {IMG}"},
               "data": {"source": IMG, "label": SCRIPT, "class_names": [SCRIPT, IMG]},
               "model": {SCRIPT: IMG}, "notes": [f"a note on {SCRIPT}", "x0**2 + x1**2 > 1"]}
    html_path, md_path = write_report(tmp_path, summary, {IMG: plots.relevance_plot([0.1, 0.2, 0.3], features)})
    for path in (html_path, md_path):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text.lower() and "<img src=x" not in text, path.name
    md = md_path.read_text(encoding="utf-8")
    assert "<img" not in md  # the report's own images are Markdown images
    assert md.startswith("# symgrad: &lt;script&gt;alert(1)&lt;/script&gt;")  # shown, not dropped
    assert "g = x2 + &lt;script&gt;" in md  # a formula a code span cannot hold escaped is escaped prose
    assert r"\mathrm{\lt script\gt alert(1)\lt /script\gt }" in md
    assert r"| x0\*\*2 + x1\*\*2 &gt; 1 |" in md  # a note is not read as bold
    features_row = next(line for line in md.splitlines() if line.startswith("| features |"))
    assert len(re.split(r"(?<!\\)\|", features_row)) == 4  # the | in a name does not split the cell


def test_title_names_the_data_set_and_its_label(tmp_path):
    entry = {"expression": "x0 + x1", "complexity": 3, "loss": 0.18, "metrics": {}}
    base = {"title": "symgrad: output logit", "features": ["x0", "x1"], "neuron": "output logit",
            "front": [entry], "best": entry}
    cases = {"csv": ({"source": "cells.csv", "label": "diagnosis"},
                     "symgrad: output logit — cells.csv (label: diagnosis)"),
             "concept": ({"source": "concept A1", "label": None}, "symgrad: output logit — concept A1"),
             "old": ({"class_names": ["0", "1"]}, "symgrad: output logit")}  # written before data.source
    for name, (data, title) in cases.items():
        html_path, md_path = write_report(tmp_path / name, {**base, "data": data})
        text = html_path.read_text(encoding="utf-8")
        assert f"<title>{title}</title>" in text and f"<h1>{title}</h1>" in text, name
        assert md_path.read_text(encoding="utf-8").startswith(f"# {title}\n"), name


def test_pareto_numbers_do_not_overlap_and_stay_in_the_figure():
    m, chosen = 25, 20
    # a nearly flat front at every complexity: neighbouring points almost touch
    losses = np.geomspace(0.3, 0.25, m)
    labels = [" + ".join(f"{k + 0.5}*standard_error_concave_points" for k in range(i + 1)) for i in range(m)]
    fig = plots.pareto_plot(list(range(1, m + 1)), losses, chosen, labels)
    renderer = FigureCanvasAgg(fig).get_renderer()
    numbers = list(fig.axes[0].texts)
    assert str(chosen) in [t.get_text() for t in numbers] and len(numbers) >= m // 2
    boxes = [t.get_window_extent(renderer) for t in numbers]
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1:]), numbers[i].get_text()
    for text in numbers + list(fig.texts):  # nothing is cut off at the figure's edges
        box = text.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 and 0 <= box.y0 and box.y1 <= fig.bbox.y1, text.get_text()[:40]
    key = fig.texts[0].get_text().splitlines()
    assert any(line.startswith(f"#{chosen} ") for line in key) and key[-1].startswith("...")


def test_a_long_formula_is_drawn_on_lines_that_fit_the_page(tmp_path):
    names = [f"standard_error_feature_{k}" for k in range(12)]
    expression = " + ".join(f"{k + 1.5}*{name}" for k, name in enumerate(names))
    entry = {"expression": expression, "complexity": 47, "loss": 0.01, "metrics": {}}
    write_report(tmp_path, {"features": names, "front": [entry], "best": entry})
    height, width = imread(tmp_path / "report_figures" / "formula.png").shape[:2]
    assert width <= 1100 and height > 3 * 30  # the report's column is 1100 pixels wide
