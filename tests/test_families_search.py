"""Families that used to be out of reach: differences of squares, square roots of sums (a vector's
length, the law of cosines), and a law symmetric in two equally relevant inputs."""

import numpy as np
import pytest
import sympy as sp

from symgrad.expressions import gradient_function, parse_formula
from symgrad.search import make_backend
from symgrad.search.base import SearchProblem
from symgrad.search.library.backend import FAMILIES, LibraryBackend
from symgrad.search.select import select
from symgrad.search.symmetry import (KINDS, detect_symmetries, reduce_problem, symmetry_statistics)
from symgrad.search.synthetic import exact_problem

NO_GP = {"gp": False}
# the sum of squares is opt-in for the auto strategy (symmetry.AUTO_KINDS)
SQUARED = {**NO_GP, "symmetry_kinds": list(KINDS)}


def near_level(formula: str, d: int, low, high, level: float, width: float, *, n: int = 600,
               seed: int = 0) -> SearchProblem:
    """Exact unit gradients at uniform points with |g - level| < width: the band a classifier
    leaves around its decision surface."""
    names = tuple(f"x{i}" for i in range(d))
    expr = parse_formula(formula, names)
    value, grad = sp.lambdify(sp.symbols(names, real=True), expr, "numpy"), gradient_function(expr, names)
    rng = np.random.default_rng(seed)

    def sample():
        x = rng.uniform(low, high, (40 * n, d))
        x = x[np.abs(value(*x.T) - level) < width][:n]
        g = grad(x)
        return x, g / np.linalg.norm(g, axis=1, keepdims=True)

    (x, directions), (xh, dh) = sample(), sample()
    return SearchProblem(x, directions, xh, dh, names)


def same_level_sets(found: str, truth: str, names) -> bool:
    """Whether ``found`` is ``truth`` times a nonzero constant (the same level sets)."""
    ratio = sp.simplify(parse_formula(found, names) / parse_formula(truth, names))
    return ratio.is_number and ratio != 0


def test_a_difference_of_squares_near_its_level_is_not_taken_for_a_difference():
    # near x0^2 - x1^2 = 1 on [1, 3]^2, x0 - x1 is small, so the plain difference passes too
    problem = near_level("x0**2 - x1**2", 3, 1.0, 3.0, 1.0, 0.3)
    stats = symmetry_statistics(problem.x, problem.directions, 0, 1)
    assert stats["difference"] < 0.12 and stats["difference_of_squares"] < 1e-9
    names = problem.feature_names
    assert [str(s.expression(names)) for s in detect_symmetries(problem.x, problem.directions, names,
                                                                 kinds=KINDS)] == ["x0**2 - x1**2"]
    # without the squared kinds the difference is accepted and the law cannot be written any more
    assert [str(s.expression(names)) for s in detect_symmetries(problem.x, problem.directions, names,
                                                                 kinds=("sum", "difference", "product", "ratio"))] \
        == ["x0 - x1"]
    found = make_backend("auto", NO_GP).search(problem, seed=0)
    assert found.info["symmetries"][0]["kind"] == "difference_of_squares"
    best = select(found.front)
    assert best.loss < 1e-8 and same_level_sets(best.expression, "x0**2 - x1**2", names)


def test_a_plain_sum_stays_a_sum():
    problem = near_level("x0 + x1", 3, 1.0, 3.0, 4.0, 0.5)
    found = make_backend("auto", NO_GP).search(problem, seed=0)
    assert [s["expression"] for s in found.info["symmetries"]] == ["x0 + x1"]
    assert select(found.front).expression == "x0 + x1"


@pytest.mark.parametrize("formula, d, low, high, truth", [
    ("sqrt(x0**2 + x1**2)", 3, -2.0, 2.0, "x0**2 + x1**2"),
    ("sqrt(x0**2 + x1**2)", 3, 0.5, 3.0, "x0**2 + x1**2"),
    ("sqrt(x0**2 + x1**2 + x2**2)", 4, -2.0, 2.0, "x0**2 + x1**2 + x2**2"),
])
def test_a_vector_length_with_an_irrelevant_input(formula, d, low, high, truth):
    problem = exact_problem(formula, d, low, high, noise=0.05)
    found = make_backend("auto", SQUARED).search(problem, seed=0)
    assert found.info["screening"]["kept"] == [f"x{i}" for i in range(d - 1)]
    assert found.info["symmetries"][0]["kind"] == "sum_of_squares"
    best = select(found.front)
    assert same_level_sets(best.expression, truth, problem.feature_names)


def test_squared_kinds_reduce_to_exact_directions():
    problem = exact_problem("sqrt(x0**2 + x1**2) + x2", 3, 0.5, 2.0)
    symmetries = detect_symmetries(problem.x, problem.directions, problem.feature_names, kinds=KINDS)
    assert [s.kind for s in symmetries] == ["sum_of_squares"]
    reduced, substitution = reduce_problem(problem, symmetries)
    assert str(substitution["u0"]) == "x0**2 + x1**2"
    # g = sqrt(u0) + x2: the reduced directions are exactly those of that formula
    assert reduced.loss(parse_formula("sqrt(u0) + x2", reduced.feature_names)) < 1e-12


COSINES = ("sqrt(x0**2 + x1**2 - 2*x0*x1*cos(x2))", 3, [1.0, 1.0, 0.3], [3.0, 3.0, 2.8])
COSINES_LAW = "x0**2 + x1**2 - 2*x0*x1*cos(x2)"


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_the_law_of_cosines(noise):
    problem = exact_problem(*COSINES, noise=noise)
    found = make_backend("auto", NO_GP).search(problem, seed=0)
    assert found.info["symmetries"] == []  # a^2 + b^2 is not a variable of this law
    best = select(found.front)
    assert same_level_sets(best.expression, COSINES_LAW, problem.feature_names)


def test_the_law_of_cosines_needs_the_product_cosine_terms():
    problem = exact_problem(*COSINES)
    fit = LibraryBackend().fit(problem)
    assert fit.supports[2].train_loss < 1e-10
    assert sorted(fit.terms[j].family for j in fit.supports[2].terms) == ["product_cos", "square", "square"]
    without = LibraryBackend(include=tuple(f for f in FAMILIES if f != "product_cos")).fit(problem)
    assert min(s.train_loss for s in without.supports) > 1e-3


def test_a_law_symmetric_in_two_equally_relevant_inputs_keeps_both():
    # two intensities with one role (x1, x2) beside a dominant phase-like input; the screening
    # threshold is put exactly between their scores, where a bare cut keeps one of them
    problem = exact_problem("x0 + 0.04*(x1**2 + x2**2)", 5, -2.0, 2.0, noise=0.05)
    scores = np.mean(np.abs(problem.directions), axis=0)
    between = float((scores[1] + scores[2]) / 2 / scores.max())
    found = make_backend("auto", {**NO_GP, "screen_threshold": between}).search(problem, seed=0)
    assert found.info["screening"]["kept"] == ["x0", "x1", "x2"]


def test_the_library_keeps_a_narrow_partner_that_screening_alone_drops():
    # x2 is ten times narrower than x1: in spread units its relevance is a tenth of x1's, but
    # g depends on x1 + x2, and the sum symmetry keeps x2 in the search
    problem = exact_problem("x0 + 0.3*(x1 + x2)**2", 5, [-2, -2, -0.2, -2, -2], [2, 2, 0.2, 2, 2], noise=0.05)
    problem = problem.in_spread_units(np.std(problem.x, axis=0))
    fit = LibraryBackend().fit(problem)
    assert fit.screening.kept_names == ("x0", "x1", "x2") and fit.screening.tied == (2,)
