"""Companions that need no extra: sensitivity curves, the comparison table, the config key, the report."""

from __future__ import annotations

import numpy as np
import pytest

from symgrad.judging.assess import Evidence, assess_front
from symgrad.companions import companion_names, companion_table, format_table, run_companions
from symgrad.companions.sensitivity import additive_fidelity, dependence_plot, perturbation_plot, sensitivity
from symgrad.config import load_config
from symgrad.errors import SymgradError
from symgrad.neurons import NeuronSpec, neuron_values, normalized_gradients
from symgrad.search.base import Entry, Front
from symgrad.search.screening import relevance


@pytest.fixture(scope="module")
def a1_evidence(trained_a1):
    """The A1 network (x0² + 2·x1² > 1) with held-out band gradients, as the pipeline judges formulas."""
    classifier, split, _ = trained_a1
    spec = NeuronSpec.output()
    holdout = normalized_gradients(classifier, spec, split.validation.x)
    return Evidence(classifier, spec, holdout, split.validation, split.test, split.train.x.std(axis=0)), split


@pytest.fixture(scope="module")
def a1_sensitivity(a1_evidence):
    evidence, split = a1_evidence
    near = evidence.holdout.x[np.argsort(evidence.holdout.margin)[:100]]
    neuron = lambda x: neuron_values(evidence.classifier, evidence.spec, x)  # noqa: E731
    return sensitivity(neuron, evidence.network_labels, evidence.holdout.directions, near, split.train.x,
                       evidence.feature_names, n_steps=11, n_grid=15, n_reference=200)


def test_sensitivity_ranks_inputs_by_the_screening_relevance(a1_evidence, a1_sensitivity):
    evidence, _ = a1_evidence
    result = a1_sensitivity
    assert np.allclose(result.scores, relevance(evidence.holdout.directions))
    assert result.ranking == tuple(int(i) for i in np.argsort(-result.scores))
    assert [s["input"] for s in result.summary()] == [evidence.feature_names[i] for i in result.ranking]


def test_perturbation_curves_are_zero_at_no_shift_and_flip_labels_near_the_boundary(a1_sensitivity):
    result = a1_sensitivity
    middle = len(result.fractions) // 2
    assert result.fractions[middle] == 0.0
    assert np.allclose(result.change[:, middle], 0.0) and np.allclose(result.flipped[:, middle], 0.0)
    # points nearest the boundary change label when either input moves by half its spread
    assert np.all(result.flipped[:, [0, -1]].max(axis=1) > 0.3)
    assert np.all(result.change_low <= result.change + 1e-12) and np.all(result.change <= result.change_high + 1e-12)


def test_partial_dependence_read_additively_reproduces_an_additive_concept(a1_evidence, a1_sensitivity):
    # x0² + 2·x1² is a sum of one-input terms, so the curves' sum keeps the network's decisions
    evidence, _ = a1_evidence
    fidelity = additive_fidelity(a1_sensitivity, evidence.validation.x, evidence.validation_labels,
                                 evidence.test.x, evidence.test_labels)
    assert fidelity["agreement"] > 0.95 and fidelity["auc"] > 0.98
    # the curves are U-shaped: highest at the ends of each input's range
    dep = a1_sensitivity.dependence
    assert np.all(dep[:, [0, -1]].min(axis=1) > dep[:, dep.shape[1] // 2])


def test_sensitivity_plots_and_bad_input(a1_evidence, a1_sensitivity):
    evidence, split = a1_evidence
    for make in (perturbation_plot, dependence_plot):
        fig = make(a1_sensitivity)
        assert len(fig.axes) >= 2
    with pytest.raises(SymgradError, match="expected"):
        sensitivity(lambda x: x[:, 0], lambda x: x[:, 0] > 0, evidence.holdout.directions, split.train.x[:, :1],
                    split.train.x, evidence.feature_names)


def test_run_companions_and_the_table(a1_evidence):
    evidence, split = a1_evidence
    entry = Entry("x0**2 + 2*x1**2", 7, 0.0, source="test")
    best = assess_front(Front((entry,)), evidence).entries[0]
    section, figures = run_companions(["sensitivity"], evidence, split.train.x, best=best, seed=0)
    assert section["methods"] == ["sensitivity"] and len(section["rows"]) == 1
    assert set(figures) == {"Sensitivity: perturbation curves", "Sensitivity: partial dependence"}
    result = {"best": best.to_dict(), "companions": section}
    rows = companion_table(result)
    assert [r["method"] for r in rows] == ["symgrad formula", "partial dependence, read additively"]
    assert rows[0]["agreement"] == best.metrics["boundary_agreement"] and rows[0]["nodes"] == 7
    assert rows[0]["output"].startswith("class 1 where x0**2 + 2*x1**2 >")
    assert rows[1]["nodes"] > rows[0]["nodes"]
    text = format_table(companion_table(result, max_output=40))
    assert text.count("\n") == 3 and "symgrad formula" in text
    assert companion_table({"best": best.to_dict()}) == []
    # the inputs come in the order of the screening's relevance (gradients in units of each input's spread)
    scores = relevance(evidence.holdout.directions * evidence.scale)
    assert [s["input"] for s in section["sensitivity"]["inputs"]] == [evidence.feature_names[i]
                                                                      for i in np.argsort(-scores, kind="stable")]
    assert [s["relevance"] for s in section["sensitivity"]["inputs"]] == pytest.approx(sorted(scores, reverse=True))


def test_companion_names_and_the_config_key(tmp_path):
    assert companion_names(False) == () and companion_names(True) == ("tree", "logistic", "sensitivity", "prelu")
    assert companion_names(["prelu", "tree"]) == ("tree", "prelu")
    with pytest.raises(SymgradError, match="allowed"):
        companion_names(["forest"])
    assert load_config(None, ["data.concept=A1"])["companions"] is False
    assert load_config(None, ["data.concept=A1", "companions=[tree, prelu]"])["companions"] == ["tree", "prelu"]
    for bad in ("companions=[forest]", "companions=3", "companions=tree"):
        with pytest.raises(SymgradError, match="companions"):
            load_config(None, ["data.concept=A1", bad])


def test_report_shows_the_comparison(tmp_path, a1_evidence):
    from symgrad.report.page import write_report

    evidence, _ = a1_evidence
    best = assess_front(Front((Entry("x0**2 + 2*x1**2", 7, 0.0, source="test"),)), evidence).entries[0].to_dict()
    companions = {"rows": [{"method": "decision tree", "agreement": 0.9, "auc": 0.95, "nodes": 13,
                            "size": "7 leaves, depth 3", "rule": "|--- x0 <= 0.5\n|   |--- class: 1"}]}
    html_path, md_path = write_report(tmp_path, {"features": ["x0", "x1"], "front": [best], "best": best,
                                                 "companions": companions})
    md = md_path.read_text()
    assert "## Comparison with surrogates" in md and "| decision tree | 0.9 | 0.95 | 13 |" in md
    assert "| decision tree | \\|--- x0 &lt;= 0.5<br>\\|   \\|--- class: 1 |" in md
    assert "<pre>|--- x0 &lt;= 0.5\n|   |--- class: 1</pre>" in html_path.read_text()
    _, md_path = write_report(tmp_path / "plain", {"features": ["x0", "x1"], "front": [best], "best": best})
    assert "Comparison with surrogates" not in md_path.read_text()


def test_a_companion_that_cannot_run_leaves_a_row_not_a_failed_run(a1_evidence, monkeypatch):
    from symgrad.companions import surrogates

    def missing():
        raise SymgradError("the surrogate companions need scikit-learn; install it")

    monkeypatch.setattr(surrogates, "_sklearn", missing)
    evidence, split = a1_evidence
    section, _ = run_companions(["logistic"], evidence, split.train.x, seed=0)
    assert section["errors"] == {"logistic": "the surrogate companions need scikit-learn; install it"}
    assert section["rows"][0]["agreement"] is None
    assert section["rows"][0]["rule"].startswith("not available: the surrogate companions need scikit-learn")


def test_a_formulas_threshold_is_fitted_on_the_training_and_validation_points(trained_a1):
    # four validation points cannot place the level of x0**2 + 2*x1**2; with the training rows
    # (the network's labels on them cost nothing) the threshold lands on the network's boundary
    from dataclasses import replace

    from symgrad.data.tables import Dataset
    from symgrad.judging.assess import assess_entry
    from symgrad.judging.metrics import fit_threshold

    classifier, split, _ = trained_a1
    spec = NeuronSpec.output()
    holdout = normalized_gradients(classifier, spec, split.validation.x)
    few = Dataset(x=split.validation.x[:4], y=split.validation.y[:4], feature_names=split.validation.feature_names,
                  n_classes=2)
    alone = Evidence(classifier, spec, holdout, few, split.test, split.train.x.std(axis=0))
    entry = Entry("x0**2 + 2*x1**2", 7, 0.0)
    g = split.validation.x[:4, 0] ** 2 + 2 * split.validation.x[:4, 1] ** 2
    assert assess_entry(entry, alone)["threshold"] == pytest.approx(fit_threshold(g, alone.validation_labels)[0])
    metrics = assess_entry(entry, replace(alone, training=split.train.x))
    assert abs(metrics["threshold"] - 1.0) < 0.1 and metrics["boundary_agreement"] > 0.97
