"""What a run leaves behind: the report, the exported rule, load_run, honest verdicts."""

import json

import numpy as np
import pytest

from symgrad.config import load_config
from symgrad.data import make_concept_dataset, split_dataset
from symgrad.expressions import value_function
from symgrad.pipeline import interpret
from symgrad import load_run

FAST = ["train.epochs=25", "model.hidden=[32, 32]", "data.n_samples=4000", "gradients.n_points=500",
        "gradients.n_holdout=500", "progress=false", "search.backend=library"]


@pytest.fixture(scope="module")
def a1(tmp_path_factory):
    config = load_config(None, ["data.concept=A1", *FAST])
    return interpret(config, out=tmp_path_factory.mktemp("r") / "a1", progress=None), config


def test_report_files_and_figures(a1):
    run, _ = a1
    html = (run.path / "report.html").read_text()
    for title in ("Pareto front", "Neuron vs formula", "Decision boundary slices", "Training curves"):
        assert title in html
    assert html.count("data:image/png;base64,") >= 4
    assert "http://" not in html and "https://" not in html  # self-contained
    assert (run.path / "report.md").is_file()
    assert run.result["verdict"]["kind"] == "faithful"


def test_exported_rule_reproduces_the_stated_agreement(a1):
    run, config = a1
    split = split_dataset(make_concept_dataset("A1", config["data"]["n_samples"], seed=0),
                          fractions=config["data"]["split"], seed=0)
    namespace: dict = {}
    exec((run.path / "rule.py").read_text(), namespace)  # the user's paste, without symgrad
    classify = namespace["classify"]
    rule = np.array([classify(dict(zip(run.features, row))) for row in split.test.x])
    network = run.model().predict(split.test.x)
    agreement = float(np.mean(rule == network))
    assert agreement == pytest.approx(run.best.metrics["boundary_agreement"], abs=1e-12)
    assert agreement > 0.95


def test_load_run_round_trip(a1):
    run, _ = a1
    again = load_run(run.path)
    assert again.front == run.front and again.best == run.best
    exports = again.exports()
    x = again.gradients()["x_holdout"]
    np.testing.assert_allclose(exports["numpy"](x), value_function(again.sympy(), again.features)(x))
    np.testing.assert_allclose(np.asarray(exports["jax"](x)), exports["numpy"](x), rtol=1e-5)
    assert "x_{0}" in exports["latex"]
    assert "def classify" in exports["rule"]
    assert set(again.metrics()) >= {"alignment_mean", "boundary_agreement", "true_label_accuracy"}
    for figure in (again.plot_pareto(), again.plot_values(), again.plot_boundary()):
        assert figure.axes
    json.loads((again.path / "front.json").read_text())
    assert (again.path / "front.csv").read_text().startswith("expression") or "expression" in \
        (again.path / "front.csv").read_text().splitlines()[0]


def test_random_teacher_gets_no_closed_form(tmp_path):
    # labels from a random smooth teacher network: no short formula describes its boundary
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 2, size=(5000, 5))
    h = np.tanh(x @ rng.normal(size=(5, 24)) * 1.5 + rng.normal(size=24))
    h = np.tanh(h @ rng.normal(size=(24, 24)) / 2 + rng.normal(size=24))
    score = h @ rng.normal(size=24)
    y = (score > np.median(score)).astype(int)
    path = tmp_path / "teacher.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="a,b,c,d,e,label", comments="", fmt="%.6f")
    config = load_config(None, [f"data.path={path}", "data.label=label", "train.epochs=40",
                                "model.hidden=[48, 48]", "progress=false", "search.backend=library",
                                "gradients.n_points=800", "gradients.n_holdout=800"])
    run = interpret(config, out=tmp_path / "run", progress=None)
    assert run.result["model"]["test_accuracy"] > 0.8  # the network did learn something
    assert run.result["verdict"]["kind"] == "not_found", run.result["verdict"]
    assert run.result["verdict"]["sentence"].startswith("No closed form found within the budget")


def test_interrupted_search_keeps_its_front_on_disk(tmp_path):
    def progress(message):
        if message.startswith("auto: GP run"):
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of the portfolio

    config = load_config(None, ["data.concept=A1", "data.n_samples=2000", "train.epochs=8", "model.hidden=[16, 16]",
                                # accept_loss 0: the GP portfolio runs even when the library is exact
                                "search.backend=auto", "search.options={accept_loss: 0}"])
    run = interpret(config, out=tmp_path / "run", progress=progress)
    on_disk = json.loads((tmp_path / "run" / "result.json").read_text())
    assert on_disk["status"] == "interrupted" and on_disk["search"]["interrupted"]
    assert len(on_disk["front"]) >= 1 and on_disk["best"] is not None
    assert (tmp_path / "run" / "report.html").is_file()
    assert run.best.expression == on_disk["best"]["expression"]


def test_multiclass_class_neuron_end_to_end(tmp_path):
    # three classes cut by x0 + 2·x1; the logit of class 2 is a monotone function of it near its boundary
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(3000, 3))
    s = x[:, 0] + 2 * x[:, 1]
    y = np.digitize(s, [-0.8, 0.8])
    path = tmp_path / "three.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="a,b,c,kind", comments="", fmt="%.6f")
    config = load_config(None, [f"data.path={path}", "data.label=kind", "train.epochs=30", "model.hidden=[24, 24]",
                                "neuron.kind=class", "neuron.unit=2", "progress=false", "search.backend=library"])
    run = interpret(config, out=tmp_path / "run", progress=None)
    result = run.result
    assert result["data"]["n_classes"] == 3
    assert {str(v) for v in run.sympy().free_symbols} == {"a", "b"}
    assert result["best"]["metrics"]["boundary_agreement"] > 0.95
    assert "Decision boundary slices" in (run.path / "report.html").read_text()
