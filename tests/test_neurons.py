"""Neuron gradients: finite differences for every kind, raw vs standardised units, bad neurons."""

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.network.model import Classifier
from symgrad.neurons import NeuronSpec, neuron_gradients, neuron_values, normalized_gradients


def random_classifier(n_classes=2, activation="tanh", seed=0, d=3, hidden=(5, 4)):
    rng = np.random.default_rng(seed)
    sizes = [d, *hidden, 1 if n_classes == 2 else n_classes]
    weights = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=b) * 0.1 for b in sizes[1:]]
    return Classifier.from_arrays(weights, biases, activation=activation,
                                  feature_names=[f"x{i}" for i in range(d)], n_classes=n_classes,
                                  mean=rng.normal(size=d), scale=rng.uniform(0.5, 3.0, size=d))


def finite_differences(classifier, spec, x, h=1e-2):
    grads = np.zeros_like(x)
    for i in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[i] = h
        grads[:, i] = (neuron_values(classifier, spec, x + step) - neuron_values(classifier, spec, x - step)) / (2 * h)
    return grads


SPECS = [
    (2, NeuronSpec("output")),
    (3, NeuronSpec("class", unit=2)),
    (3, NeuronSpec("log_odds", unit=0, other=2)),
    (2, NeuronSpec("hidden", layer=0, unit=3, preactivation=True)),
    (2, NeuronSpec("hidden", layer=1, unit=1, preactivation=False)),
]


@pytest.mark.parametrize("n_classes,spec", SPECS, ids=[s.describe() for _, s in SPECS])
def test_gradients_match_finite_differences(n_classes, spec):
    classifier = random_classifier(n_classes)
    x = np.random.default_rng(1).uniform(-2, 2, size=(50, 3))
    analytic = neuron_gradients(classifier, spec, x)
    numeric = finite_differences(classifier, spec, x)
    np.testing.assert_allclose(analytic, numeric, rtol=2e-2, atol=2e-3)


def test_raw_units_apply_the_chain_rule_through_standardisation():
    classifier = random_classifier()
    x = np.random.default_rng(2).uniform(-2, 2, size=(20, 3))
    z = (x - classifier.mean) / classifier.scale
    raw = neuron_gradients(classifier, NeuronSpec.output(), x)
    standardized = neuron_gradients(classifier, NeuronSpec.output(), z, standardized=True)
    np.testing.assert_allclose(raw, standardized / classifier.scale, rtol=1e-4, atol=1e-6)
    # directions differ when the scales differ: the map is not a rotation
    cos = np.sum(raw * standardized, 1) / np.linalg.norm(raw, axis=1) / np.linalg.norm(standardized, axis=1)
    assert np.min(cos) < 0.999


def test_normalized_gradients_are_unit_and_counted():
    classifier = random_classifier()
    x = np.random.default_rng(3).uniform(-2, 2, size=(200, 3))
    sample = normalized_gradients(classifier, NeuronSpec.output(), x, band=None)
    np.testing.assert_allclose(np.linalg.norm(sample.directions, axis=1), 1.0, rtol=1e-9)
    assert sample.counts == {"offered": 200, "region": "all points", "outside_band": 0, "zero_gradient": 0,
                             "kept": 200}


def test_band_selects_points_near_the_decision_boundary():
    classifier = random_classifier()
    x = np.random.default_rng(4).uniform(-2, 2, size=(500, 3))
    margin = np.abs(classifier.logits(x)[:, 0])
    band = float(np.median(margin))
    sample = normalized_gradients(classifier, NeuronSpec.output(), x, band=band)
    assert sample.counts["kept"] == int((margin < band).sum())
    assert np.all(sample.margin < band)


def test_hidden_units_are_banded_on_their_own_pre_activation_not_the_decision():
    classifier = random_classifier()
    spec = NeuronSpec("hidden", layer=1, unit=2)
    x = np.random.default_rng(8).uniform(-2, 2, size=(500, 3))
    pre = np.abs(neuron_values(classifier, NeuronSpec("hidden", layer=1, unit=2, preactivation=True), x))
    band = float(np.median(pre))
    sample = normalized_gradients(classifier, spec, x, band=band)
    assert sample.counts["kept"] == int((pre < band).sum())
    assert "own |pre-activation|" in sample.counts["region"]
    np.testing.assert_allclose(sample.margin, pre[pre < band], rtol=1e-6)
    # a band on the decision margin would have kept other points
    decision = np.abs(classifier.logits(x)[:, 0])
    assert set(np.flatnonzero(pre < band)) != set(np.flatnonzero(decision < band))


def test_gradients_of_every_unit_match_their_own_function():
    # one compiled function serves all units of a layer: the traced unit index must select
    # the right unit, not the first one compiled
    classifier = random_classifier()
    x = np.random.default_rng(9).uniform(-2, 2, size=(40, 3))
    weights = classifier.layers[0][0] / classifier.scale[:, None]
    for unit in range(weights.shape[1]):
        grads = neuron_gradients(classifier, NeuronSpec("hidden", layer=0, unit=unit, preactivation=True), x)
        np.testing.assert_allclose(grads, np.broadcast_to(weights[:, unit], grads.shape), rtol=1e-5, atol=1e-6)


def test_empty_band_is_one_clear_sentence():
    classifier = random_classifier()
    x = np.random.default_rng(5).uniform(-2, 2, size=(50, 3))
    with pytest.raises(SymgradError, match="keeps none"):
        normalized_gradients(classifier, NeuronSpec.output(), x, band=1e-9)


def test_dead_neuron_is_reported():
    classifier = random_classifier(activation="relu")
    weights = [w.copy() for w, _ in classifier.layers]
    biases = [b.copy() for _, b in classifier.layers]
    weights[0][:, 2] = 0.0
    biases[0][2] = -1.0  # relu(-1) = 0 everywhere: a dead unit
    dead = Classifier.from_arrays(weights, biases, activation="relu", feature_names=classifier.feature_names,
                                  n_classes=2, mean=classifier.mean, scale=classifier.scale)
    x = np.random.default_rng(6).uniform(-2, 2, size=(50, 3))
    with pytest.raises(SymgradError, match="zero gradient"):
        normalized_gradients(dead, NeuronSpec("hidden", layer=0, unit=2), x, band=None)


@pytest.mark.parametrize("spec,n_classes,message", [
    (NeuronSpec("hidden", layer=0, unit=5), 2, "unit=5 is out of range"),
    (NeuronSpec("hidden", layer=2, unit=0), 2, "layer=2 is out of range"),
    (NeuronSpec("class", unit=3), 3, "unit=3 is out of range"),
    (NeuronSpec("output"), 3, "needs a binary classifier"),
    (NeuronSpec("class", unit=0), 2, "needs a multi-class"),
    (NeuronSpec("log_odds", unit=1, other=1), 3, "two different classes"),
])
def test_impossible_neurons_are_rejected(spec, n_classes, message):
    with pytest.raises(SymgradError, match=message):
        spec.validate(random_classifier(n_classes))


def test_nan_inputs_are_rejected():
    x = np.random.default_rng(7).uniform(-2, 2, size=(10, 3))
    x[3, 1] = np.nan
    with pytest.raises(SymgradError, match="NaN"):
        normalized_gradients(random_classifier(), NeuronSpec.output(), x)


def test_a_neuron_spec_has_the_fields_of_the_config_section():
    # the config's neuron keys, the batch grid's and NeuronSpec's fields are one list
    import dataclasses

    from symgrad.batch.items import NEURON_KEYS
    from symgrad.config import SCHEMA

    assert tuple(f.name for f in dataclasses.fields(NeuronSpec)) == tuple(SCHEMA["neuron"]) == NEURON_KEYS
    spec = NeuronSpec("hidden", layer=1, unit=3, preactivation=True)
    assert NeuronSpec.from_config(spec.to_config()) == spec
