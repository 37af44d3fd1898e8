"""The sparse linear path: greedy forward selection on the gradient directions, its formulas on
the front, the choice by agreement on noisy networks, and the trade-off against surrogates."""

import csv

import numpy as np
import pytest
import sympy as sp

from symgrad.config import load_config
from symgrad.judging.verdict import NOISY_FLOOR, choose_by_agreement, conclude
from symgrad.pipeline import interpret
from symgrad.record import Floor, Neuron
from symgrad.search.base import Entry, Front, SearchProblem
from symgrad.search.loss import unit_rows
from symgrad.search.path import (MAX_SIDES, _bordered_top_eigenvalues, decision_path, decision_weights, forward_path,
                                 linear_path_front, network_sides, path_sizes, separation)


def test_bordered_eigenvalues_match_a_direct_computation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 9))
    moment = a.T @ a / 40
    chosen, free = [4, 1, 7], np.array([0, 2, 3, 5, 6, 8])
    fast = _bordered_top_eigenvalues(moment, chosen, free)
    direct = [np.linalg.eigvalsh(moment[np.ix_(chosen + [j], chosen + [j])])[-1] for j in free]
    np.testing.assert_allclose(fast, direct, rtol=1e-9, atol=1e-12)


def test_the_path_finds_a_sparse_linear_direction_in_order_of_weight():
    rng = np.random.default_rng(1)
    weights = np.zeros(50)
    weights[[3, 17, 29, 41]] = [4.0, -2.0, 1.0, 0.5]
    directions = weights + 0.3 * rng.normal(size=(2000, 50))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    path = forward_path(directions, max_size=6)
    assert path[3][0] == (3, 17, 29, 41)
    support, unit = path[3]
    np.testing.assert_allclose(unit / unit[0], weights[list(support)] / 4.0, atol=0.05)


def test_path_sizes_cover_every_input_count():
    assert path_sizes(5) == [1, 2, 3, 4, 5]
    sizes = path_sizes(100)
    assert sizes[:12] == list(range(1, 13)) and sizes[-1] == 100 and sizes == sorted(set(sizes))


def test_path_entries_are_scored_like_any_formula():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, 6)) * [1, 10, 0.1, 1, 1, 1]
    weights = np.array([1.0, 0.05, 20.0, 0, 0, 0])
    directions = np.tile(weights, (400, 1)) + 0.1 * rng.normal(size=(400, 6))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    names = tuple(f"x{i}" for i in range(6))
    problem = SearchProblem(x, directions, x, directions, names).in_spread_units(np.std(x, axis=0))
    for entry in linear_path_front(problem):
        assert entry.source == "path"
        assert entry.loss == pytest.approx(problem.loss(entry.sympy(names)), abs=1e-9)


def test_separation_is_the_best_threshold_agreement():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(300, 3))
    sides = scores[:, 0] + 0.3 * rng.normal(size=300) > 0.2
    fast = separation(scores, sides)
    for j in range(3):
        cuts = np.concatenate([[-np.inf], scores[:, j]])
        brute = max(max(np.mean((scores[:, j] > t) == sides), np.mean((scores[:, j] <= t) == sides)) for t in cuts)
        assert fast[j] == pytest.approx(brute)


def test_small_supports_follow_the_networks_decisions_where_the_gradient_ranks_badly():
    # the gradient weighs x0 most everywhere, but x0 hardly varies across the points, while the
    # network's sides follow x1: the gradient path starts with x0, the decision path with x1
    rng = np.random.default_rng(4)
    x = np.column_stack([0.05 * rng.normal(size=600), rng.normal(size=600), rng.normal(size=600)])
    directions = np.tile([0.9, 0.4, 0.05], (600, 1)) + 0.05 * rng.normal(size=(600, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    names = ("x0", "x1", "x2")
    problem = SearchProblem(x, directions, x, directions, names, values=x[:, 1] + 0.9 * x[:, 0])
    assert forward_path(directions)[0][0] == (0,)
    assert decision_path(problem, [0, 1, 2])[0][0] == (1,)
    expressions = {entry.expression for entry in linear_path_front(problem)}
    assert {"x0", "x1"} <= expressions
    # without the network's values there is no decision path, and no one-input formula in x1
    blind = SearchProblem(x, directions, x, directions, names)
    assert decision_path(blind, [0, 1, 2]) == []
    assert "x1" not in {entry.expression for entry in linear_path_front(blind)}


def test_decision_weights_recover_the_rule_behind_the_sides():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2000, 4)) * [1.0, 3.0, 1.0, 1.0]
    sides = z @ np.array([2.0, -1.0, 0.0, 0.5]) + 0.3 * rng.normal(size=2000) > 0.4
    weights = decision_weights(z, sides)
    np.testing.assert_allclose(weights / weights[0], [1.0, -0.5, 0.0, 0.25], atol=0.05)
    # separable sides stay finite thanks to the ridge
    assert np.all(np.isfinite(decision_weights(z, z[:, 0] > 0)))


def test_noisy_gradients_get_a_decision_fitted_formula_on_the_front():
    # directions are mostly noise around (1, 1, 0), the network's sides follow x0 + 3*x1: the
    # gradient path's weights are near 1:1, the decision-fitted formula's near 1:3
    rng = np.random.default_rng(6)
    x = rng.normal(size=(1500, 3))
    directions = np.array([1.0, 1.0, 0.0]) + 1.5 * rng.normal(size=(1500, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    problem = SearchProblem(x, directions, x, directions, ("x0", "x1", "x2"), values=x[:, 0] + 3 * x[:, 1])
    ratios = []
    for entry in linear_path_front(problem):
        coefficients = entry.sympy(("x0", "x1", "x2")).as_coefficients_dict()
        a, b = (float(coefficients.get(sp.Symbol(n, real=True), 0)) for n in ("x0", "x1"))
        if a and b:
            ratios.append(b / a)
    assert any(abs(r - 3.0) < 0.3 for r in ratios) and any(abs(r - 1.0) < 0.4 for r in ratios)


def _entry(expression, complexity, agreement, loss_near, spearman=0.9):
    return Entry(expression, complexity, loss_near, source="test",
                 metrics={"boundary_agreement": agreement, "loss_near": loss_near, "spearman_abs": spearman,
                          "threshold": 0.0, "orientation": 1})


def test_noisy_gradients_choose_by_agreement_and_say_why():
    front = Front((_entry("x0", 1, 0.88, 0.30), _entry("x0*x1", 3, 0.95, 0.12), _entry("x0 + x1 + x2", 11, 0.985, 0.25),
                   _entry("x0 + x1 + x2 + x3", 15, 0.99, 0.24)))
    assert choose_by_agreement(front).expression == "x0 + x1 + x2"
    neuron = Neuron(kind="output", description="output logit", decides=True)
    noisy = Floor(value=2 * NOISY_FLOOR, minimum=0.002)
    best, conclusion = conclude(front, neuron=neuron, floor=noisy)
    assert best.expression == "x0 + x1 + x2" and conclusion.selection.rule == "agreement"
    assert "noisy" in conclusion.selection.why() and conclusion.verdict.kind == "approximate"
    assert "reproduces the network's decisions on 98.5%" in conclusion.verdict.sentence
    clean = Floor(value=0.002, minimum=0.002)
    assert conclude(front, neuron=neuron, floor=clean)[1].selection.rule == "knee"


@pytest.fixture(scope="module")
def weak_table_run(tmp_path_factory):
    """A network trained on 30 columns whose label is a weighted vote of 12 weak ones."""
    folder = tmp_path_factory.mktemp("weak")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 30)) * rng.uniform(0.5, 5.0, size=30)
    weights = np.zeros(30)
    weights[:12] = rng.uniform(0.5, 1.5, size=12) * rng.choice([-1, 1], size=12)
    y = (x / x.std(axis=0)) @ weights > 0
    path = folder / "weak.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"m{j}" for j in range(30)] + ["label"])
        writer.writerows([[*(f"{v:.5g}" for v in row), int(label)] for row, label in zip(x, y)])
    config = load_config(None, [f"data.path={path}", "data.label=label", "progress=false", "train.epochs=30",
                                "model.hidden=[32, 32]", "search.options.gp=false", "companions=[tree, logistic]"])
    return interpret(config, out=folder / "run", progress=None)


def test_a_many_weak_input_table_gets_a_formula_as_faithful_as_its_surrogates(weak_table_run):
    run = weak_table_run
    rows = {r["method"]: r for r in run.record.companions["rows"]}
    tree = next(r for name, r in rows.items() if name.startswith("decision tree (<="))
    logistic = rows["logistic regression"]
    chosen = run.best.metrics["boundary_agreement"]
    assert chosen >= tree["agreement"], (run.best.expression, chosen, tree)
    # the front holds a formula no larger than the logistic regression, within 1 point of it
    assert any(e.complexity <= logistic["nodes"] and e.metrics["boundary_agreement"] >= logistic["agreement"] - 0.01
               for e in run.front)
    assert sum(e.source == "path" for e in run.front) >= 12


def test_the_tradeoff_table_and_figure(weak_table_run):
    rows = weak_table_run.tradeoff()
    assert [r["size"] for r in rows] == sorted(r["size"] for r in rows)
    formula = [r["formula"] for r in rows if r["formula"] is not None]
    assert formula == sorted(formula)  # the best within a size can only grow with the size
    assert any(r["tree"] is not None for r in rows) and any(r["logistic_l1"] is not None for r in rows)
    figure = weak_table_run.plot_tradeoff()
    assert figure.axes[0].get_xscale() == "log"
    assert (weak_table_run.path / "report_figures").is_dir()


def test_the_additive_path_finds_shapes_where_they_pay():
    from symgrad.search.path import additive_path_front

    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 5.0, size=(1000, 8))
    gradient = np.zeros_like(x)
    gradient[:, 0], gradient[:, 1], gradient[:, 2] = 1 / x[:, 0], 0.5, 0.1 * x[:, 2]  # log(x0) + x1/2 + x2**2/20
    directions = gradient + 0.02 * rng.normal(size=x.shape)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    names = tuple(f"x{i}" for i in range(8))
    problem = SearchProblem(x, directions, x, directions, names).in_spread_units(np.std(x, axis=0))
    entries = additive_path_front(problem)
    best = min(entries, key=lambda e: e.loss)
    assert "log(x0)" in best.expression and "x2**2" in best.expression and best.loss < 0.01
    linear = min(linear_path_front(problem), key=lambda e: e.loss)
    assert best.loss < 0.5 * linear.loss


def test_the_networks_sides_are_read_on_every_training_row_when_given():
    # the band's 40 search points lie where x0 hardly varies and their values follow x1 alone,
    # while over all 3000 training rows the network's sides follow x2: with the rows, the
    # decision path starts with x2; without them, with x1
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(3000, 3))
    band = rows[:40] * [0.01, 1.0, 0.01]
    directions = unit = unit_rows(np.tile([0.1, 0.5, 0.8], (40, 1)))
    names = ("x0", "x1", "x2")
    blind = SearchProblem(band, directions, band, unit, names, values=band[:, 1])
    seeing = SearchProblem(band, directions, band, unit, names, values=band[:, 1], sides_x=rows,
                           sides_values=rows[:, 2] + 0.1 * rows[:, 1])
    assert decision_path(blind, [0, 1, 2])[0][0] == (1,)
    assert decision_path(seeing, [0, 1, 2])[0][0] == (2,)
    x, sides = network_sides(seeing)
    assert len(x) == 3000 and np.array_equal(sides, rows[:, 2] + 0.1 * rows[:, 1] > 0)
    # a subset keeps the rows' columns with the problem's
    assert network_sides(seeing.subset([2, 0]))[0].shape == (3000, 2)


def test_the_sides_are_read_on_a_fixed_draw_of_at_most_max_sides_rows():
    rng = np.random.default_rng(8)
    rows = rng.normal(size=(MAX_SIDES + 500, 2))
    problem = SearchProblem(rows[:50], unit_rows(rows[:50]), rows[:50], unit_rows(rows[:50]), ("a", "b"),
                            sides_x=rows, sides_values=rows[:, 0])
    first, second = network_sides(problem), network_sides(problem)
    assert len(first[0]) == MAX_SIDES
    np.testing.assert_array_equal(first[0], second[0])
