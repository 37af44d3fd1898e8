"""The interactive explorer (symgrad.explore), driven from Python as a notebook user's clicks would
drive it: on a 2-input run (paper concept A1) and a 15-input one (the seed question's shape)."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from helpers import chromium

import symgrad
from symgrad.errors import SymgradError
from symgrad.batch.explorer import BatchExplorer, explore_batch
from symgrad.explore import FRONTEND_NOTE, STATIC_NOTE, Explorer
from symgrad.judging.metrics import rule_labels

widgets = pytest.importorskip("ipywidgets")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).parent.parent

RUNS = {
    "A1": (None, ["data.concept=A1", "data.n_samples=2000", "train.epochs=10", "model.hidden=[12, 12]"]),
    # experiments/seed15.yaml: x0² + x1² + x2² - x3 > 3 with 11 irrelevant inputs, a 2x60 network
    "seed15": ("experiments/seed15.yaml", ["data.n_samples=3000", "train.epochs=15"]),
}


_MADE: dict = {}


def made_run(name: str, tmp_path_factory):
    """A small finished run of ``RUNS[name]``, made once per session (the library search: seconds)."""
    if name not in _MADE:
        from symgrad.config import load_config
        from symgrad.pipeline import interpret

        config_file, overrides = RUNS[name]
        config = load_config(None if config_file is None else ROOT / config_file,
                             overrides + ["search.backend=library", "progress=false"])
        _MADE[name] = interpret(config, out=tmp_path_factory.mktemp("explore") / name, progress=None)
    return _MADE[name]


@pytest.fixture(scope="module", params=list(RUNS))
def run(request, tmp_path_factory):
    return made_run(request.param, tmp_path_factory)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_selecting_an_entry_shows_its_boundary_agreement_and_statement(run):
    explorer = Explorer(run)
    assert run.front.entries[explorer.index] == run.best  # opens on the run's choice
    masks = {}
    for k, entry in enumerate(run.front):
        view = explorer.select(k).view()
        assert view.index == k and view.expression == entry.expression
        # the agreement recomputed on the run's test points is the one the run recorded
        assert view.agreement == pytest.approx(entry.metrics["boundary_agreement"], abs=1e-12)
        assert len(view.disagreements) == round((1 - view.agreement) * view.n_points)
        assert entry.expression in view.statement and view.latex == run.latex(k)
        # the boundary cells are where the thresholded formula changes side
        g, t = view.formula, view.threshold
        side = view.orientation * g > view.orientation * t
        assert np.all(view.boundary[:, :-1] >= (side[:, :-1] != side[:, 1:]))
        masks[entry.expression] = view.boundary
    assert explorer.view(run.front.entries.index(run.best)).statement == run.statement
    assert len({m.tobytes() for m in masks.values()}) == len(masks), "two formulas drew the same boundary"


def test_changing_the_input_pair_turns_the_slice(run):
    explorer = Explorer(run).set_pair(0, 1)
    view = explorer.view()
    explorer.set_pair("x1", "x0")
    turned = explorer.view()
    assert turned.names == ("x1", "x0") and turned.pair == (1, 0)
    np.testing.assert_allclose(turned.probability, view.probability.T, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(turned.network_side, view.network_side.T)
    assert turned.agreement == view.agreement
    np.testing.assert_array_equal(turned.disagreements, view.disagreements[:, ::-1])
    with pytest.raises(SymgradError, match="two different inputs"):
        explorer.set_pair("x0", 0)
    with pytest.raises(SymgradError, match="'petal' is not an input"):
        explorer.set_pair("petal", "x0")
    with pytest.raises(SymgradError, match="out of range"):
        explorer.select(len(run.front))


def test_moving_a_slider_moves_the_known_boundary_and_reuses_the_network(run):
    if len(run.features) == 2:  # both inputs are on the axes: their sliders' values are unused
        explorer = Explorer(run)
        before = explorer.view()
        explorer.set_value("x0", before.point[0] + 0.5)
        after = explorer.view()
        assert explorer.network_evaluations == 1 and np.array_equal(after.probability, before.probability)
        return
    truth = symgrad.parse_formula("x0**2 + x1**2 + x2**2 - x3", run.features)
    index = next((k for k in range(len(run.front)) if sp.simplify(run.sympy(k) - truth) == 0), None)
    assert index is not None, f"the library search did not find x0² + x1² + x2² - x3: {run.front}"
    explorer = Explorer(run).select(index).set_pair("x0", "x3")
    before = explorer.view()
    evaluations = explorer.network_evaluations
    explorer.set_value("x1", 1.5)
    after = explorer.view()
    assert explorer.network_evaluations == evaluations + 1
    assert not np.allclose(after.probability, before.probability)
    assert after.agreement == before.agreement  # the held-out points do not depend on the slice
    for view in (before, after):
        # {x3 = x0² + x1² + x2² - t}: in each column of x0, the boundary row is the curve's x3
        m = view.point
        step = view.b[1] - view.b[0]
        for column in range(0, len(view.a), 7):
            curve = view.a[column] ** 2 + m[1] ** 2 + m[2] ** 2 - view.threshold
            rows = np.flatnonzero(view.boundary[:, column])
            if view.b[0] + step < curve < view.b[-1] - step:
                assert len(rows) and np.min(np.abs(view.b[rows] - curve)) <= step, (column, curve, view.b[rows])
            else:
                assert not len(rows)
    explorer.set_value("x1", before.point[1])
    again = explorer.view()
    assert explorer.network_evaluations == evaluations + 1  # back where it was: from the cache
    np.testing.assert_array_equal(again.probability, before.probability)


def test_widgets_drive_the_explorer(run):
    ui = run.explore()
    ex = ui.explorer
    assert ui.formula.value == ex.index and ui.image.value and "&#9654;" in ui.table.value
    first_image = ui.image.value
    other = (ex.index + 1) % len(run.front)
    ui.formula.value = other
    assert ex.index == other and ui.image.value != first_image
    view = ex.view()
    assert html.escape(view.statement) in ui.text.value and html.escape(view.sentence) in ui.text.value
    assert f"{100 * view.agreement:.1f}%" in ui.text.value and view.latex in ui.latex.value

    x, y = ex.pair
    ui.x_axis.value = y  # the other axis's input: the two swap
    assert ex.pair == (y, x) and (ui.x_axis.value, ui.y_axis.value) == (y, x)
    assert all(ui.sliders[ex.names[k]].disabled == (k in ex.pair) for k in range(len(ex.names)))
    free = [name for k, name in enumerate(ex.names) if k not in ex.pair]
    if free:
        shown = ui.image.value
        slider = ui.sliders[free[0]]
        slider.value = slider.max
        assert ex.values[ex.input_index(free[0])] == pytest.approx(slider.max) and ui.image.value != shown
        ui.reset_button.click()
        assert np.array_equal(ex.values, ex.median) and slider.value == pytest.approx(ex.median[ex.input_index(free[0])])
    else:
        assert all(s.disabled for s in ui.sliders.values())

    # the same calls from Python move the controls too (as the notebook makes them)
    ui.set_pair(ex.names[1], ex.names[0]).select(0)
    assert (ui.x_axis.value, ui.y_axis.value) == (1, 0) and ui.formula.value == 0 and ex.index == 0
    if free:
        ui.set_value(free[-1], 0.25)
        assert ui.sliders[free[-1]].value == pytest.approx(0.25) and ui.view().point[ex.input_index(free[-1])] == 0.25

    bundle = ui._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "explore(static=True)" in bundle["text/plain"]


def test_compare_two_entries_side_by_side(run):
    ui = run.explore()
    single = png_size(ui.image.value)
    other = (ui.explorer.index + 1) % len(run.front)
    ui.compare_with.value = other
    double = png_size(ui.image.value)
    assert double[0] > 1.5 * single[0] and double[1] == single[1]
    first, second = ui.explorer.compare(ui.explorer.index, other)
    for view in (first, second):
        assert html.escape(view.statement) in ui.text.value and f"{100 * view.agreement:.1f}%" in ui.text.value
    assert "&#9664;" in ui.table.value


def test_export_writes_a_rule_sympy_and_jax_that_agree(run, tmp_path):
    ui = run.explore(export_dir=tmp_path)
    ui.export_button.click()
    folder = tmp_path / f"formula-{ui.explorer.index}"
    assert {p.name for p in folder.iterdir()} == {"rule.py", "formula_sympy.txt", "formula_jax.py"}
    assert str(folder) in ui.message.value
    view = ui.explorer.view()
    points = ui.explorer.reference[:50]
    rule_scope, jax_scope = {}, {}
    exec((folder / "rule.py").read_text(), rule_scope)
    exec((folder / "formula_jax.py").read_text(), jax_scope)
    names = ui.explorer.names
    rule = [rule_scope["classify"](dict(zip(names, row))) for row in points]
    g = run.numpy(view.index)(points)
    np.testing.assert_array_equal(rule, rule_labels(g, view.threshold, view.orientation))
    np.testing.assert_allclose(np.asarray(jax_scope["formula"](points)), g, rtol=1e-5, atol=1e-5)
    expression, srepr = (folder / "formula_sympy.txt").read_text().splitlines()
    assert sp.simplify(eval(srepr, vars(sp)) - run.sympy(view.index)) == 0
    assert expression == str(run.sympy(view.index))


def test_without_ipywidgets_the_static_figures_are_shown_and_said_in_one_line(run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets raises ImportError
    shown = []
    monkeypatch.setattr("symgrad.explore.widgets._display", lambda *figures: shown.extend(figures))
    explorer = run.explore()
    assert isinstance(explorer, Explorer)
    assert capsys.readouterr().out.splitlines() == [STATIC_NOTE]
    assert len(shown) == len(run.figures()) and all(hasattr(f, "_repr_png_") for f in shown)


def test_batch_explorer_lists_items_and_opens_one(run, tmp_path):
    from symgrad.batch.summary import COLUMNS

    batch = tmp_path / "batch"
    shutil.copytree(run.path, batch / "runs" / "net0-output")
    rows = [{"item": "net0-output", "network": "net0", "neuron": "output logit", "status": "finished",
             "expression": run.best.expression, "verdict": run.verdict["kind"], "run_dir": "runs/net0-output"},
            {"item": "net0-hidden", "network": "net0", "neuron": "hidden unit", "status": "failed", "error": "boom"}]
    with (batch / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    assert BatchExplorer(batch).items == ["net0-output"]
    assert run.best.expression in BatchExplorer(batch)._repr_html_()

    class Outcome:  # what symgrad.batch.run_batch returns: the folder is its .path
        path = batch

    ui = explore_batch(Outcome())
    assert ui.item.options == ("net0-output",) and not ui.holder.children
    ui.open_button.click()
    assert ui.opened is not None and ui.holder.children == (ui.opened.box,) and ui.opened.image.value
    assert ui.opened.explorer.rows[ui.opened.explorer.index].expression == run.best.expression
    assert ui.open("net0-hidden") is None and "not a finished item" in ui.message.value
    with pytest.raises(SymgradError, match="not a batch folder"):
        BatchExplorer(tmp_path)


# ----------------------------------------------------------------------------- JupyterLab in a headless browser

# run after "run all": the explorer's output, as JupyterLab rendered it
RENDERED = """JSON.stringify((() => {
  const img = document.querySelector('.jp-OutputArea img');
  const rect = img ? img.getBoundingClientRect() : null;
  return {ready: !!(img && img.complete && img.naturalWidth > 0), width: img ? img.naturalWidth : 0,
          src: img ? img.src.length + ':' + img.src.slice(-60) : '',
          image: rect ? [rect.x, rect.y, rect.width, rect.height] : null,
          sliders: document.querySelectorAll('.jp-OutputArea .widget-slider').length,
          axes: [...document.querySelectorAll('.jp-OutputArea .widget-dropdown select')].map(s => s.value),
          buttons: [...document.querySelectorAll('.jp-OutputArea button')].map(b => b.textContent.trim()),
          errors: document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length};
})())"""


class DevTools:
    """Just enough of the Chrome DevTools protocol: evaluate JavaScript, wait for it, take a screenshot."""

    def __init__(self, url: str) -> None:
        import websocket

        self.socket = websocket.create_connection(url, timeout=60)
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def js(self, expression: str):
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return answer.get("result", {}).get("value")

    def wait(self, expression: str, seconds: float, what: str):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"JupyterLab did not get there in {seconds:g} s: {what}")


def free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def wait_for_url(url: str, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return json.load(answer)
        except (OSError, ValueError):
            time.sleep(0.25)
    raise AssertionError(f"{what} did not answer at {url} in {seconds:g} s")


@pytest.mark.e2e
def test_jupyterlab_shows_the_explorer_plot_and_controls(tmp_path, tmp_path_factory):
    """Opens a notebook that explores the 15-input run in JupyterLab in headless Chromium, runs it,
    checks the rendered plot (its pixels) and controls, changes the x axis in the page, and keeps
    a screenshot (copied to $SYMGRAD_SCREENSHOT_DIR when set)."""
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium binary found (apt-get install -y chromium); the explorer was not rendered")
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (pip install 'symgrad[notebook]')")
    pytest.importorskip("websocket", reason="websocket-client (a jupyter_server dependency) is missing")
    from matplotlib.image import imread

    result = made_run("seed15", tmp_path_factory)
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell(f"import symgrad\nsymgrad.load_run({str(result.path)!r}).explore()")]
    nbformat.write(notebook, tmp_path / "explore.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no news pop-up
    port, debug_port = free_port(), free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                            "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.allow_root=True",
                            f"--ServerApp.root_dir={tmp_path}", "--LabApp.expose_app_in_browser=True"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = None
    try:
        server = f"http://127.0.0.1:{port}"
        wait_for_url(f"{server}/api/status", 60, "JupyterLab")
        page = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                 "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                                 "--window-size=1400,1300", f"--remote-debugging-port={debug_port}",
                                 f"{server}/lab/tree/explore.ipynb"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        targets = wait_for_url(f"http://127.0.0.1:{debug_port}/json", 30, "Chromium's DevTools")
        tools = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        tools.wait("!!(window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'))", 60, "the notebook open")
        tools.wait("(() => { const s = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel; "
                   "return s?.status === 'idle'; })()", 60, "its kernel started")
        tools.js("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        # rendered, or the one-line note a front end without the ipywidgets manager gets
        tools.wait(f"JSON.parse({RENDERED}).ready || document.body.innerText.includes({json.dumps(FRONTEND_NOTE[:60])})",
                   90, "the explorer rendered")
        if not json.loads(tools.js(RENDERED))["ready"]:
            pytest.skip("this JupyterLab does not load the ipywidgets manager (its extension is not where the "
                        "server looks, e.g. a virtual environment over another Python's packages); the explorer "
                        "showed its one-line note instead")
        shown = json.loads(tools.js(RENDERED))
        assert shown["sliders"] == 1 + len(result.features), shown  # the formula's and one per input
        assert len(shown["axes"]) == 3 and "export formula" in shown["buttons"], shown
        assert shown["errors"] == 0 and shown["width"] > 300, shown

        # the x axis dropdown, changed in the page, reaches the kernel and comes back as a new plot
        chosen = tools.js("(() => { const [, x, y] = document.querySelectorAll('.jp-OutputArea .widget-dropdown select'); "
                          "const o = [...x.options].find(o => o.value !== x.value && o.value !== y.value); "
                          "x.value = o.value; x.dispatchEvent(new Event('change', {bubbles: true})); return o.value; })()")
        tools.wait(f"JSON.parse({RENDERED}).src !== {json.dumps(shown['src'])}", 30, f"the plot redrawn for {chosen}")
        time.sleep(0.5)  # the new image decoded and painted
        png = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
        moved = json.loads(tools.js(RENDERED))
        assert moved["axes"][1] == chosen, moved
    finally:
        if page is not None:
            page.terminate()
            page.wait(10)
        try:  # the explorer's kernel first: the server leaves no process behind
            for kernel in wait_for_url(f"http://127.0.0.1:{port}/api/kernels", 5, "JupyterLab"):
                urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/api/kernels/{kernel['id']}",
                                                              method="DELETE"), timeout=10)
        except (AssertionError, OSError):
            pass
        lab.terminate()
        lab.wait(20)

    (tmp_path / "jupyterlab-explorer.png").write_bytes(png)
    if os.environ.get("SYMGRAD_SCREENSHOT_DIR"):
        Path(os.environ["SYMGRAD_SCREENSHOT_DIR"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "jupyterlab-explorer.png", Path(os.environ["SYMGRAD_SCREENSHOT_DIR"]))
    pixels = imread(io.BytesIO(png), format="png")[..., :3]
    x, y, width, height = (int(round(v)) for v in moved["image"])
    plot = pixels[y:y + height, x:x + width]
    assert plot.shape[0] > 200 and plot.shape[1] > 300, plot.shape  # the plot lies inside the screenshot
    # the probability map's colours (RdBu): the network's two sides of the slice
    red, blue = np.mean(plot[..., 0] - plot[..., 2] > 0.25), np.mean(plot[..., 2] - plot[..., 0] > 0.2)
    assert red > 0.05 and blue > 0.1, f"the plot shows {red:.1%} red and {blue:.1%} blue pixels"
