"""PReLU networks trained with the slope force, and their collapse into linear rules."""

from __future__ import annotations

import numpy as np
import pytest

from symgrad.companions.collapse import collapse, linear_nodes, linear_text
from symgrad.companions.prelu import LINEAR_SLOPE, PReLUNetwork, binary_inputs, train_prelu, xor_example
from symgrad.errors import SymgradError


@pytest.fixture(scope="module")
def xor_net():
    """The worked example (4 binary inputs; in1 xor in2, in3 xor in4, in1 and in2), fixed seed."""
    return xor_example(seed=2)


def test_the_force_leaves_a_few_nonlinear_prelus(xor_net):
    net, _, _ = xor_net
    nonlinear = net.nonlinear_units()
    # two independent xors need at least one nonlinearity each; the force removes most of the 20
    assert 2 <= len(nonlinear) <= 4, nonlinear
    assert net.n_units == 20
    assert all(a <= LINEAR_SLOPE for _, _, a in nonlinear)
    slopes = np.concatenate(net.slopes)
    assert np.all((slopes >= 0) & (slopes <= 1))
    # the force only starts once the error is small, and the count falls during training
    assert net.history["nonlinear"][0] >= net.history["nonlinear"][-1] + 10
    assert net.history["error"][-1] < 0.01


def test_rules_match_xor_and_and_on_all_16_inputs(xor_net):
    net, x, y = xor_net
    rules = collapse(net, x)
    printed = rules.evaluate(x)
    assert np.all(np.isfinite(printed))
    assert np.array_equal(np.round(printed), y)
    assert np.max(np.abs(printed - y)) < 0.25
    # the printed rules are the collapsed network itself, and collapsing changes little
    assert np.allclose(printed, net.outputs(x, collapsed=True), atol=1e-9)
    assert np.max(np.abs(net.outputs(x) - net.outputs(x, collapsed=True))) < 0.05
    # every region is bounded by one condition per nonlinear PReLU, and the 16 points use them all
    assert len(rules.regions) <= 2 ** len(rules.nonlinear)
    assert all(len(r.conditions) == len(rules.nonlinear) for r in rules.regions)
    assert sum(r.n_points for r in rules.regions) == 16


def test_rules_print_readably_in_the_input_names(xor_net):
    net, x, _ = xor_net
    text = collapse(net, x).text()
    assert text.splitlines()[0].startswith(f"{len(net.nonlinear_units())} of 20 PReLUs stay nonlinear")
    assert "IF " in text and "  out1 = " in text and "  out3 = " in text
    assert "in1" in text and "in4" in text


def _hand_network(slopes, weights, biases, head_w, head_b):
    return PReLUNetwork(layers=(*zip(map(np.asarray, weights), map(np.asarray, biases)),
                                (np.asarray(head_w), np.asarray(head_b))),
                        slopes=tuple(np.asarray(s, float) for s in slopes), mean=np.zeros(1), scale=np.ones(1),
                        feature_names=("x",), output_names=("y",))


def test_collapse_of_a_hand_built_network_is_exact():
    # y = relu(x) + 2 * (x - 1) with the second unit linear (slope 1): two regions
    net = _hand_network([[0.0, 1.0]], [[[1.0, 1.0]]], [[0.0, -1.0]], [[1.0], [2.0]], [0.0])
    rules = collapse(net, np.linspace(-2, 2, 41)[:, None])
    assert rules.nonlinear == ((0, 0, 0.0),)
    by_side = {r.conditions[0].positive: r for r in rules.regions}
    assert np.allclose(by_side[True].weights[:, 0], [3.0]) and np.isclose(by_side[True].constants[0], -2.0)
    assert np.allclose(by_side[False].weights[:, 0], [2.0]) and np.isclose(by_side[False].constants[0], -2.0)
    grid = np.linspace(-2, 2, 9)[:, None]
    assert np.allclose(rules.evaluate(grid), net.outputs(grid))


def test_impossible_regions_are_dropped():
    # relu(x) and relu(x - 1): "x < 0 and x - 1 >= 0" cannot happen
    net = _hand_network([[0.0, 0.0]], [[[1.0, 1.0]]], [[0.0, -1.0]], [[1.0], [1.0]], [0.0])
    rules = collapse(net, np.linspace(-2, 2, 41)[:, None])
    assert len(rules.regions) == 3
    assert collapse(net).regions.__len__() == 4  # without reference points nothing is checked


def test_linear_text_and_its_node_count():
    assert linear_text(np.array([1.0, -0.5, 0.001]), 2.02, ["a", "b", "c"]) == "a - 0.5*b + 2.02"
    assert linear_text(np.zeros(2), 0.0, ["a", "b"]) == "0"
    assert linear_text(np.array([-1234.5]), 0.0, ["a"], significant=3) == "-1230*a"
    assert linear_nodes(np.array([1.0, -0.5, 0.001]), 2.02) == 1 + 3 + 1 + 2


def test_training_is_deterministic_and_checks_its_input():
    x = binary_inputs(2)
    y = np.logical_xor(x[:, 0], x[:, 1]).astype(float)
    a = train_prelu(x, y, feature_names=("p", "q"), hidden=(3,), steps=100, seed=1)
    b = train_prelu(x, y, feature_names=("p", "q"), hidden=(3,), steps=100, seed=1)
    assert all(np.array_equal(s, t) for s, t in zip(a.slopes, b.slopes))
    assert all(np.array_equal(w, v) for (w, _), (v, _) in zip(a.layers, b.layers))
    with pytest.raises(SymgradError, match="same n rows"):
        train_prelu(x, y[:3], feature_names=("p", "q"))
    with pytest.raises(SymgradError, match="feature names"):
        train_prelu(x, y, feature_names=("p",))
    with pytest.raises(SymgradError, match="optimizer"):
        train_prelu(x, y, feature_names=("p", "q"), optimizer="rmsprop")


def test_rules_from_a_binary_csv(tmp_path, capsys):
    from symgrad.companions.csv_rules import main

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(600, 2))
    rows = ["dose,age,outcome"] + [f"{a:.4f},{b:.4f},{'sick' if a + b > 1 else 'well'}" for a, b in x]
    path = tmp_path / "trial.csv"
    path.write_text("\n".join(rows) + "\n")
    assert main([str(path), "--label", "outcome", "--steps", "4000", "--hidden", "4"]) == 0
    out = capsys.readouterr().out
    agreement = float(out.split("held-out rows: ")[1].split()[0])
    assert agreement > 0.95  # a straight boundary is within reach of 4000 steps
    assert "score_well = " in out and "dose" in out
    (tmp_path / "three.csv").write_text("a,y\n1,p\n2,q\n3,r\n4,p\n5,q\n6,r\n7,p\n8,q\n9,r\n10,p\n")
    assert main([str(tmp_path / "three.csv"), "--label", "y"]) == 2
    assert "two-class label" in capsys.readouterr().err
