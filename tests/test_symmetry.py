"""Symmetry detection (x_i + x_j, x_i - x_j, x_i * x_j) and the reduced search problem."""

import numpy as np
import pytest
import sympy as sp

from symgrad.errors import SymgradError
from symgrad.expressions import parse_formula, symbols_for
from symgrad.search.base import SearchProblem
from symgrad.search.symmetry import (Symmetry, detect_symmetries, reduce_problem, reduce_repeatedly,
                                     substitute_back, symmetry_statistics)
from symgrad.search.synthetic import exact_problem

B_LIKE = ("x0**2 + sin(x1 + x2)", 3, -2.0, 0.0)
E_LIKE = ("x0*x1/((x2 - x3)**2 + (x4 - x5)**2)", 6, 0.0, 2.0)
NO_SYMMETRY = ("x0**2 + 2*x1**2 + x2", 3, -1.0, 1.0)


def found(symmetries, names):
    return {str(s.expression(names)) for s in symmetries}


@pytest.mark.parametrize("case, expected", [
    (B_LIKE, {"x1 + x2"}),
    (E_LIKE, {"x2 - x3", "x4 - x5", "x0*x1"}),
    (NO_SYMMETRY, set()),
])
def test_detects_exactly_the_true_pairs_on_exact_gradients(case, expected):
    problem = exact_problem(*case)
    symmetries = detect_symmetries(problem.x, problem.directions, problem.feature_names)
    assert found(symmetries, problem.feature_names) == expected
    assert all(s.statistic < 1e-6 for s in symmetries)


def test_statistics_separate_true_from_false_pairs():
    problem = exact_problem(*E_LIKE)
    stats = symmetry_statistics(problem.x, problem.directions, 2, 3)
    assert stats["difference"] < 1e-9
    assert stats["sum"] > 0.2
    assert symmetry_statistics(problem.x, problem.directions, 0, 2)["product"] > 0.2


def test_ratio_is_found_only_when_asked():
    problem = exact_problem("x0/x1 + x2", 3, 0.5, 2.0)
    names = problem.feature_names
    assert found(detect_symmetries(problem.x, problem.directions, names), names) == set()
    with_ratio = detect_symmetries(problem.x, problem.directions, names,
                                   kinds=("sum", "difference", "product", "ratio"))
    assert found(with_ratio, names) == {"x0/x1"}


@pytest.mark.parametrize("case, reduced_truth", [
    (B_LIKE, "x0**2 + sin(u0)"),
    (E_LIKE, "u0/(u1**2 + u2**2)"),
])
def test_reduced_problem_round_trips(case, reduced_truth):
    problem = exact_problem(*case)
    symmetries = detect_symmetries(problem.x, problem.directions, problem.feature_names)
    reduced, substitution = reduce_problem(problem, symmetries)
    assert reduced.n_features == problem.n_features - len(symmetries)
    assert np.allclose(np.linalg.norm(reduced.directions, axis=1), 1.0)
    formula = parse_formula(reduced_truth, reduced.feature_names)
    back = substitute_back(formula, substitution)
    truth = parse_formula(case[0], problem.feature_names)
    assert sp.simplify(back - truth) == 0
    # the truth in reduced variables fits the reduced targets, and substituted back the original ones
    assert reduced.loss(formula) < 1e-10
    assert problem.loss(back) < 1e-10
    # a wrong formula stays wrong on both sides
    wrong = parse_formula(reduced.feature_names[0], reduced.feature_names)
    assert reduced.loss(wrong) > 1e-2 and problem.loss(substitute_back(wrong, substitution)) > 1e-2


def test_reduced_names_avoid_existing_features():
    problem = exact_problem("x0 + sin(x1 + x2)", 3, -1.0, 1.0)
    renamed = SearchProblem(problem.x, problem.directions, problem.x_holdout, problem.directions_holdout,
                            ("u0", "x1", "x2"))
    reduced, substitution = reduce_problem(renamed, [Symmetry("sum", 1, 2, 0.0)])
    assert reduced.feature_names == ("u0", "u1")
    u0, x1, x2 = symbols_for(("u0", "x1", "x2"))
    assert substitution == {"u0": u0, "u1": x1 + x2}


def test_overlapping_pairs_are_rejected():
    problem = exact_problem(*B_LIKE)
    with pytest.raises(SymgradError):
        reduce_problem(problem, [Symmetry("sum", 1, 2, 0.0), Symmetry("difference", 0, 2, 0.0)])


def test_bad_arguments_raise():
    problem = exact_problem(*B_LIKE, n=20)
    with pytest.raises(SymgradError):
        detect_symmetries(problem.x, problem.directions, problem.feature_names, kinds=("quotient",))
    with pytest.raises(SymgradError):
        detect_symmetries(problem.x, problem.directions, problem.feature_names[:2])
    with pytest.raises(SymgradError):
        detect_symmetries(problem.x, problem.directions, problem.feature_names, threshold=1.5)


def _trained_band(concept: str):
    from conftest import FAST_SAMPLES, FAST_TRAIN
    from symgrad.data import make_concept_dataset, split_dataset
    from symgrad.neurons import NeuronSpec, normalized_gradients
    from symgrad.network.train import train_classifier

    data = make_concept_dataset(concept, FAST_SAMPLES, seed=0)
    split = split_dataset(data, seed=0)
    classifier, _ = train_classifier(split.train, split.validation, hidden=(32, 32), seed=0, **FAST_TRAIN)
    sample = normalized_gradients(classifier, NeuronSpec.output(), split.test.x)
    return sample, data.feature_names


@pytest.mark.parametrize("concept, expected", [
    ("B", {"x1 + x2"}),
    ("E", {"x2 - x3", "x4 - x5", "x0*x1"}),
    ("A1", set()),  # x0² + 2·x1²: no symmetry, none may be reported
])
def test_detects_the_true_pairs_on_a_trained_network(concept, expected):
    sample, names = _trained_band(concept)
    symmetries = detect_symmetries(sample.x, sample.directions, names)
    assert found(symmetries, names) == expected


CHAIN = ("x3**2 + sin(x0 + x1 + x2)", 4, -2.0, 0.0)


@pytest.mark.parametrize("case, expected, reduced_truth", [
    (CHAIN, ["x0 + x1", "x0 + x1 + x2"], "x3**2 + sin(u1)"),
    (("x0*x1*x2 + sin(x3)", 4, 0.5, 2.0), ["x0*x1", "x0*x1*x2"], "u1 + sin(x3)"),
    (("x0 + x1 + x2 + x3 + exp(x4)", 5, -1.0, 1.0), ["x0 + x1", "x2 + x3", "x0 + x1 + x2 + x3"], "u2 + exp(x4)"),
])
def test_repeated_reduction_merges_groups_of_inputs(case, expected, reduced_truth):
    problem = exact_problem(*case)
    reduced, substitution, found_ = reduce_repeatedly(problem)
    assert [str(expr) for _, expr in found_] == expected
    assert all(s.statistic < 1e-6 for s, _ in found_)
    assert reduced.n_features == len(substitution) == problem.n_features - len(expected)
    formula = parse_formula(reduced_truth, reduced.feature_names)
    back = substitute_back(formula, substitution)
    assert sp.simplify(back - parse_formula(case[0], problem.feature_names)) == 0
    assert reduced.loss(formula) < 1e-10 and problem.loss(back) < 1e-10


def test_one_round_is_the_pair_reduction_and_no_symmetry_stays_unreduced():
    problem = exact_problem(*CHAIN)
    reduced, substitution, found_ = reduce_repeatedly(problem, max_rounds=1)
    pairs = detect_symmetries(problem.x, problem.raw_directions(), problem.feature_names)
    assert [s for s, _ in found_] == pairs
    assert reduced.feature_names == reduce_problem(problem, pairs)[0].feature_names
    plain = exact_problem(*NO_SYMMETRY)
    reduced, substitution, found_ = reduce_repeatedly(plain)
    assert found_ == [] and reduced is plain
    with pytest.raises(SymgradError):
        reduce_repeatedly(plain, max_rounds=0)


def test_repeated_reduction_finds_a_sum_of_three_inputs_on_a_trained_network():
    from conftest import FAST_SAMPLES, FAST_TRAIN
    from symgrad.data import make_concept_dataset, split_dataset
    from symgrad.data.concepts import custom_concept
    from symgrad.neurons import NeuronSpec, normalized_gradients
    from symgrad.search import make_backend
    from symgrad.search.select import select
    from symgrad.network.train import train_classifier

    concept = custom_concept(CHAIN[0], 4, -2.0, 0.0, 1.05, concept_id="chain3")
    data = make_concept_dataset(concept, FAST_SAMPLES, seed=0)
    split = split_dataset(data, seed=0)
    classifier, _ = train_classifier(split.train, split.validation, hidden=(32, 32), seed=0, **FAST_TRAIN)
    search = normalized_gradients(classifier, NeuronSpec.output(), split.train.x)
    holdout = normalized_gradients(classifier, NeuronSpec.output(), split.test.x)
    problem = SearchProblem(search.x, search.directions, holdout.x, holdout.directions, data.feature_names)
    pairs = detect_symmetries(problem.x, problem.directions, problem.feature_names)
    assert len(pairs) == 1  # one pair of the three summed inputs; the third stays alone
    _, substitution, found_ = reduce_repeatedly(problem)
    x0, x1, x2, _ = symbols_for(problem.feature_names)
    assert x0 + x1 + x2 in substitution.values()
    best = select(make_backend("auto", {"gp": False}).search(problem, seed=0).front)
    # in the decision band the search may read sin(s) as a look-alike in s, but only through s
    s = sp.Symbol("s", real=True)
    grouped = sp.expand(best.sympy(problem.feature_names).subs(x0, s - x1 - x2))
    assert grouped.free_symbols <= {s, sp.Symbol("x3", real=True)} and s in grouped.free_symbols
    assert best.loss < 0.02
