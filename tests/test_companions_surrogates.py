"""Decision-tree and logistic surrogates fitted to the network's labels (needs scikit-learn)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

from symgrad.judging.assess import Evidence, assess_front  # noqa: E402
from symgrad.companions import companion_table, run_companions  # noqa: E402
from symgrad.companions.surrogates import fit_logistic, fit_tree, fit_tree_of_size  # noqa: E402
from symgrad.errors import SymgradError  # noqa: E402
from symgrad.neurons import NeuronSpec, normalized_gradients  # noqa: E402
from symgrad.search.base import Entry, Front  # noqa: E402


@pytest.fixture(scope="module")
def a1(trained_a1):
    """The A1 network (x0² + 2·x1² > 1), its evidence and the network's labels on each split."""
    classifier, split, _ = trained_a1
    spec = NeuronSpec.output()
    evidence = Evidence(classifier, spec, normalized_gradients(classifier, spec, split.validation.x),
                        split.validation, split.test)
    labels = {name: evidence.network_labels(getattr(split, name).x) for name in ("train", "validation", "test")}
    return evidence, split, labels


def test_tree_depth_is_chosen_by_validation_agreement(a1):
    _, split, y = a1
    result = fit_tree(split.train.x, y["train"], split.validation.x, y["validation"], split.test.x, y["test"],
                      ["radius_a", "radius_b"], max_depth=6, max_leaves=32)
    scores = result.details["validation_agreement"]
    chosen = result.details["chosen_depth"]
    assert scores[chosen - 1] >= max(scores) - 0.002 and all(s < max(scores) - 0.002 for s in scores[:chosen - 1])
    assert result.details["leaves"] <= 32 and result.nodes == 2 * result.details["leaves"] - 1
    assert result.agreement > 0.9 and result.auc > 0.9
    assert "radius_a" in result.rule and "class: 1" in result.rule


def test_the_formula_beats_a_tree_of_its_size_and_the_logistic_on_an_ellipse(a1):
    evidence, split, y = a1
    best = assess_front(Front((Entry("x0**2 + 2*x1**2", 7, 0.0, source="test"),)), evidence).entries[0]
    small = fit_tree_of_size(split.train.x, y["train"], split.test.x, y["test"], ["x0", "x1"], best.complexity)
    assert small.nodes <= 7
    logistic = fit_logistic(split.train.x, y["train"], split.test.x, y["test"], ["x0", "x1"])
    agreement = best.metrics["boundary_agreement"]
    assert agreement > 0.97
    assert small.agreement < agreement - 0.05
    assert logistic.agreement < agreement - 0.1  # no line separates an ellipse from its outside


def test_logistic_regression_reads_a_linear_rule_in_raw_units():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0, 1, 3000), rng.uniform(0, 100, 3000)])  # very different scales
    y = (2.0 * x[:, 0] + 0.01 * x[:, 1] > 1.5).astype(int)
    result = fit_logistic(x[:2000], y[:2000], x[2000:], y[2000:], ["dose", "weight_kg"])
    w = np.asarray(result.details["weights"])
    assert w[0] / w[1] == pytest.approx(200.0, rel=0.1)
    assert -result.details["bias"] / w[0] == pytest.approx(0.75, rel=0.1)
    assert result.agreement > 0.97 and result.rule.startswith("class 1 where ") and "weight_kg" in result.rule
    with pytest.raises(SymgradError, match="one label"):
        fit_logistic(x, np.zeros(len(x)), x, y, ["dose", "weight_kg"])
    with pytest.raises(SymgradError, match="do not match"):
        fit_tree(x, y[:5], x, y, x, y, ["dose", "weight_kg"])


def test_companions_in_the_pipeline(tmp_path, monkeypatch):
    from symgrad.companions import compare
    from symgrad.config import load_config
    from symgrad.pipeline import interpret

    monkeypatch.setattr(compare, "PRELU_STEPS", 1500)  # the wiring, not the quality, is tested here
    config = load_config(None, ["data.concept=A1", "data.n_samples=2000", "model.hidden=[16, 16]",
                                "train.epochs=8", "search.backend=library", "progress=false", "companions=true"])
    run = interpret(config, out=tmp_path / "run", progress=None)
    section = json.loads((tmp_path / "run" / "result.json").read_text())["companions"]
    assert section["methods"] == ["tree", "logistic", "sensitivity", "prelu"]
    methods = [r["method"] for r in companion_table(run.result)]
    assert methods[0] == "symgrad formula" and "logistic regression" in methods and len(methods) == 6
    assert section["prelu"]["n_units"] == 20 and "PReLUs stay nonlinear" in section["prelu"]["rules"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Comparison with surrogates" in report and "Sensitivity: partial dependence" in report


def test_same_seed_same_surrogates(a1):
    evidence, split, _ = a1
    first, _ = run_companions(["tree", "logistic"], evidence, split.train.x, seed=3)
    second, _ = run_companions(["tree", "logistic"], evidence, split.train.x, seed=3)
    assert first["rows"] == second["rows"]
