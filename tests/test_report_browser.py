"""report.html of a wide run (30 long column names, a formula of several hundred characters) fits
a 1300-pixel browser window: measured in headless Chromium, skipped where none is installed."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from helpers import chromium

from symgrad.report import plots
from symgrad.report.page import write_report

WINDOW_WIDTH = 1300
# Run after the page's images are decoded (an image not yet loaded takes no width); the result
# is written into the page, which --dump-dom prints.
MEASURE = """<pre id="measured"></pre><script>
window.addEventListener("load", function () {
  var root = document.documentElement;
  document.getElementById("measured").textContent =
    "scrollWidth=" + root.scrollWidth + " clientWidth=" + root.clientWidth + " innerWidth=" + window.innerWidth;
});
</script>"""


def _wide_run() -> tuple[dict, dict]:
    """A summary and figures shaped like a 30-column table's run, with no training."""
    names = [f"{part}_{quantity}" for part in ("mean", "standard_error", "worst")
             for quantity in ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
                              "concave_points", "symmetry", "fractal_dimension")]
    terms = [f"{0.1 * (k + 1):.3f}*{name}" for k, name in enumerate(names[::2])]
    long_formula = " + ".join(terms[:12]) + f" - sqrt(abs({names[3]}*{names[21]}))"  # 31 nodes, ~350 characters
    assert len(long_formula) > 300
    expressions = [names[27], f"{names[27]} + {names[22]}", f"{names[27]}*{names[20]} + {names[22]} - 0.3*{names[1]}",
                   " + ".join(terms[:6]), long_formula]
    front = []
    for i, (expression, complexity) in enumerate(zip(expressions, (1, 3, 11, 23, 31))):
        loss = 0.3 / (i + 1) ** 2
        front.append({"expression": expression, "complexity": complexity, "loss": loss, "train_loss": loss,
                      "source": "operon",
                      "metrics": {"loss_near": loss, "boundary_agreement": 0.9 + 0.01 * i,
                                  "boundary_agreement_auc": 0.95, "spearman_abs": 0.9, "true_label_accuracy": 0.96,
                                  "threshold": 0.5, "orientation": 1, "target_class": 1,
                                  "target_class_name": "malignant"}})
    summary = {"title": "symgrad: output logit", "features": names, "neuron": "output logit", "front": front,
               "best": front[-1],
               "data": {"n_rows": 569, "n_features": 30, "class_names": ["benign", "malignant"],
                        "renamed": {name.replace("_", " "): name for name in names},
                        "source": "breast_cancer_wisconsin_diagnostic_data_set.csv", "label": "diagnosis"},
               "model": {"hidden": [32, 32], "activation": "elu", "test_accuracy": 0.96},
               "notes": [f"the decision boundary is {{{long_formula} = 0.5}}"]}
    rng = np.random.default_rng(0)
    figures = {"Pareto front": plots.pareto_plot([e["complexity"] for e in front], [e["loss"] for e in front],
                                                 len(front) - 1, [e["expression"] for e in front]),
               "relevance": plots.relevance_plot(rng.uniform(size=len(names)), names)}
    return summary, figures


def test_report_of_a_wide_run_has_no_horizontal_scrolling(tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium binary found (apt-get install -y chromium); the page's width was not measured")
    summary, figures = _wide_run()
    html_path, _ = write_report(tmp_path / "run", summary, figures)
    page = tmp_path / "measured.html"
    page.write_text(html_path.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WINDOW_WIDTH},900",
               "--virtual-time-budget=2000", "--dump-dom", page.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    found = re.search(r"scrollWidth=(\d+) clientWidth=(\d+) innerWidth=(\d+)", result.stdout)
    assert found, f"the page was not measured; chromium said: {result.stderr[-2000:]}"
    scroll_width, client_width, inner_width = (int(v) for v in found.groups())
    assert inner_width == WINDOW_WIDTH
    # clientWidth leaves out a vertical scrollbar: content wider than it scrolls sideways
    assert scroll_width <= client_width, f"the page is {scroll_width} pixels wide in a {client_width}-pixel window"
