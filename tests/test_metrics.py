"""Known-answer tests of the fidelity metrics on analytic neurons."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.judging.metrics import auc_score, fidelity_metrics, fit_threshold, rule_labels

NAMES = ("x0", "x1", "x2")


def _analytic_neuron(n: int = 2000, seed: int = 0):
    """A 'network' whose logit is a monotone function of g = x0^2 + 2 x1^2 (x2 is irrelevant)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 3))
    g = x[:, 0] ** 2 + 2 * x[:, 1] ** 2
    grad = np.stack([2 * x[:, 0], 4 * x[:, 1], np.zeros(n)], axis=1)
    directions = grad / np.linalg.norm(grad, axis=1, keepdims=True)
    logit = np.tanh(3.0 * (g - 1.0)) * 5.0  # monotone in g, so f = phi(g)
    net_labels = (logit > 0).astype(int)
    true_labels = (g * (1 + 0.01 * rng.standard_normal(n)) > 1.0).astype(int)
    return x, directions, logit, net_labels, true_labels


def _metrics(expr, data, **kwargs):
    x, directions, logit, net_labels, true_labels = data
    return fidelity_metrics(expr, NAMES, x=x, directions=directions, neuron_values=logit,
                            net_labels=net_labels, true_labels=true_labels, **kwargs)


@pytest.fixture(scope="module")
def data():
    return _analytic_neuron()


def test_true_formula_is_perfect(data):
    m = _metrics("x0**2 + 2*x1**2", data, net_accuracy=0.97)
    assert m["alignment_mean"] == pytest.approx(1.0, abs=1e-9)
    assert m["loss"] == pytest.approx(0.0, abs=1e-9)
    assert m["alignment_quantiles"][0] == pytest.approx(1.0, abs=1e-9)
    assert m["spearman"] == pytest.approx(1.0)
    # The net's labels threshold g itself, so the formula agrees as well as the net with itself;
    # only an evaluation point inside the gap between two fit points could miss.
    assert m["boundary_agreement"] >= 0.998
    assert m["boundary_agreement_auc"] == pytest.approx(1.0)
    assert m["threshold"] == pytest.approx(1.0, abs=0.02)
    assert m["orientation"] == 1
    assert m["true_label_accuracy"] > 0.97
    assert m["net_accuracy"] == 0.97
    assert m["n_fit"] + m["n_eval"] == m["n_points"] == 2000


def test_monotone_transforms_score_the_same(data):
    base = _metrics("x0**2 + 2*x1**2", data)
    flipped = _metrics("-3*exp(x0**2 + 2*x1**2) + 7", data)
    assert flipped["alignment_mean"] == pytest.approx(base["alignment_mean"], abs=1e-9)
    assert flipped["boundary_agreement"] == pytest.approx(base["boundary_agreement"], abs=2e-3)
    assert flipped["orientation"] == -1
    assert flipped["spearman"] == pytest.approx(-1.0)
    assert flipped["spearman_abs"] == pytest.approx(1.0)
    assert flipped["boundary_agreement_auc"] == pytest.approx(1.0)


def test_wrong_inputs_score_low(data):
    chance = max(data[3].mean(), 1 - data[3].mean())
    for expr in ("x2", "x2**2 + x2"):
        m = _metrics(expr, data)
        assert m["alignment_mean"] < 0.8
        assert m["boundary_agreement"] < chance + 0.05
        assert m["spearman_abs"] < 0.1
    half = _metrics("x0 + x2", data)  # one right input, wrong shape
    assert half["alignment_mean"] < 0.8
    assert half["boundary_agreement"] < 0.8


def test_constant_formula_is_handled(data):
    m = _metrics("3", data)
    assert m["alignment_mean"] == 0.0 and m["loss"] == 1.0
    assert m["spearman"] == 0.0
    assert m["boundary_agreement_auc"] == pytest.approx(0.5)
    # A constant can only predict one class: agreement is that class's share.
    x, _, _, net_labels, _ = data
    share = net_labels.mean()
    assert min(share, 1 - share) - 0.05 <= m["boundary_agreement"] <= max(share, 1 - share) + 0.05


def test_nonfinite_values_count_as_wrong(data):
    m = _metrics("log(x0) + 2*x1**2", data)
    x = data[0]
    assert m["n_nonfinite"] == int(np.sum(x[:, 0] <= 0))
    assert m["boundary_agreement"] <= 1 - 0.4  # about half the points cannot be classified
    assert all(np.isfinite(m[k]) for k in ("alignment_mean", "loss", "spearman", "boundary_agreement"))


def test_fit_threshold_matches_brute_force():
    rng = np.random.default_rng(1)
    for trial in range(20):
        n = int(rng.integers(1, 30))
        values = np.round(rng.normal(size=n), 1)  # ties on purpose
        labels = rng.integers(0, 2, size=n)
        threshold, orientation, accuracy = fit_threshold(values, labels)
        cuts = np.concatenate([[values.min() - 1], np.unique(values)])
        best = max(np.mean((s * values > s * c).astype(int) == labels)
                   for c, s in itertools.product(cuts, (1, -1)))
        assert accuracy == pytest.approx(best)
        assert np.mean(rule_labels(values, threshold, orientation) == labels) == pytest.approx(accuracy)


def test_fit_threshold_orientation_and_nonfinite():
    values = np.array([0.1, 0.2, 0.3, 0.7, 0.8, np.nan, np.inf])
    labels = np.array([1, 1, 1, 0, 0, 1, 0])
    threshold, orientation, accuracy = fit_threshold(values, labels)
    assert orientation == -1
    assert 0.3 < threshold < 0.7
    assert accuracy == pytest.approx(5 / 7)
    assert list(rule_labels(values, threshold, orientation)) == [1, 1, 1, 0, 0, -1, -1]


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(2)
    values = np.round(rng.normal(size=40), 1)
    labels = rng.integers(0, 2, size=40)
    pos, neg = values[labels == 1], values[labels == 0]
    pairwise = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert auc_score(values, labels) == pytest.approx(pairwise)
    assert auc_score(values, labels, orientation=-1) == pytest.approx(1 - pairwise)
    assert auc_score(values, np.ones(40, dtype=int)) is None
    # A non-finite score on a class-1 point ranks below every class-0 point.
    assert auc_score(np.array([np.nan, 0.0, 1.0]), np.array([1, 0, 1])) == pytest.approx(0.5)


def test_bad_input_raises_one_sentence(data):
    x, directions, logit, net_labels, _ = data
    with pytest.raises(SymgradError, match="only 0 and 1"):
        fidelity_metrics("x0", NAMES, x=x, directions=directions, neuron_values=logit, net_labels=net_labels + 1)
    with pytest.raises(SymgradError, match="directions"):
        fidelity_metrics("x0", NAMES, x=x, directions=directions[:, :2], neuron_values=logit, net_labels=net_labels)
    with pytest.raises(SymgradError, match="x has shape"):
        fidelity_metrics("x0", NAMES[:2], x=x, directions=directions, neuron_values=logit, net_labels=net_labels)
    with pytest.raises(SymgradError, match="fit_fraction"):
        fidelity_metrics("x0", NAMES, x=x, directions=directions, neuron_values=logit, net_labels=net_labels,
                         fit_fraction=1.0)
