"""The sparse term-library fit on exact and noisy gradient directions of known formulas."""

import numpy as np
import pytest
import sympy as sp

from symgrad.errors import SymgradError
from symgrad.expressions import gradient_function, parse_formula
from symgrad.search.base import SearchProblem
from symgrad.search.library.backend import LibraryBackend, build_library, elbow_size, term_gradients


def _problem(formula: str, n_features: int, low: float, high: float, *, noise: float = 0.0,
             n_points: int = 1000, seed: int = 0) -> SearchProblem:
    """Unit gradients of ``formula`` (plus isotropic noise of relative size ``noise``)."""
    names = tuple(f"x{i}" for i in range(n_features))
    rng = np.random.default_rng(seed)
    grad = gradient_function(parse_formula(formula, names), names)

    def sample():
        x = rng.uniform(low, high, (n_points, n_features))
        unit = grad(x)
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        unit += noise * rng.normal(size=unit.shape)
        return x, unit / np.linalg.norm(unit, axis=1, keepdims=True)

    (x, n), (xh, nh) = sample(), sample()
    return SearchProblem(x, n, xh, nh, names)


def _chosen(front):
    chosen = [e for e in front if e.metrics.get("elbow")]
    assert len(chosen) == 1
    return chosen[0]


@pytest.mark.parametrize("formula, low, high", [
    ("x0**2 + x1**2", -1, 1),
    ("x0*x1", -1, 1),
    ("x0 - sin(x1)", -2, 2),
    ("x0**2 + 2*x1**2", -1, 1),
])
def test_recovers_exact_formulas(formula, low, high):
    problem = _problem(formula, 2, low, high)
    chosen = _chosen(LibraryBackend().search(problem, seed=0).front)
    assert chosen.source == "library"
    assert chosen.loss < 1e-10
    assert sp.simplify(chosen.sympy(problem.feature_names) - parse_formula(formula, problem.feature_names)) == 0


def test_ratio_on_a_positive_range_via_logarithms():
    problem = _problem("x0/x1", 2, 1, 3)
    chosen = _chosen(LibraryBackend().search(problem, seed=0).front)
    expr = chosen.sympy(problem.feature_names)
    assert chosen.loss < 1e-6
    assert {str(s) for s in expr.free_symbols} == {"x0", "x1"}
    # the fit is log x0 - log x1, written as the ratio it is (same level sets)
    assert not expr.atoms(sp.log) and sp.simplify(expr - sp.Symbol("x0", real=True) / sp.Symbol("x1", real=True)) == 0


def test_exact_coefficient_ratio():
    problem = _problem("x0**2 + 2*x1**2", 2, -1, 1)
    expr = _chosen(LibraryBackend().search(problem, seed=0).front).sympy(problem.feature_names)
    poly = sp.Poly(expr, *sp.ordered(expr.free_symbols))
    x0, x1 = sp.ordered(expr.free_symbols)
    assert poly.coeff_monomial(x1**2) / poly.coeff_monomial(x0**2) == 2
    assert not expr.atoms(sp.Float)


def test_four_relevant_of_seven_inputs_with_original_names():
    problem = _problem("x0**2 + x2*x3 + sin(x5)", 7, -2, 2)
    backend = LibraryBackend()
    front = backend.search(problem, seed=0).front
    chosen = _chosen(front)
    assert chosen.expression == "x0**2 + x2*x3 + sin(x5)"
    assert chosen.loss < 1e-10
    fit = backend.fit(problem)
    assert fit.screening.kept_names == ("x0", "x2", "x3", "x5")
    assert fit.exhaustive and fit.chosen_size == 3


def test_front_is_a_sorted_trade_off():
    problem = _problem("x0**2 + x2*x3 + sin(x5)", 7, -2, 2)
    front = LibraryBackend().search(problem, seed=0).front
    entries = list(front)
    assert [e.metrics["terms"] for e in entries] == [1, 2, 3]
    assert [e.complexity for e in entries] == sorted(e.complexity for e in entries)
    losses = [e.loss for e in entries]
    assert losses[0] > losses[1] > losses[2]


def test_noisy_directions_and_elbow_prefers_two_terms_to_three():
    problem = _problem("x0**2 + x1**2", 2, -1, 1, noise=0.05)
    backend = LibraryBackend(max_terms=3)
    fit = backend.fit(problem)
    losses = [s.train_loss for s in fit.supports]
    assert len(losses) == 3 and losses[2] <= 1.3 * losses[1]  # a third term is a near-tie at best
    assert fit.chosen_size == 2
    chosen = _chosen(backend.search(problem, seed=0).front)
    assert chosen.expression == "x0**2 + x1**2"
    assert chosen.metrics["terms"] == 2


def test_elbow_size_rule():
    assert elbow_size([0.3, 0.01, 0.005]) == 2
    assert elbow_size([0.3, 0.1, 0.001]) == 3
    assert elbow_size([0.3, 0.1, 0.05]) == 1
    assert elbow_size([0.3, 1e-17, 1e-19]) == 2  # round-off below the floor is no gain
    assert elbow_size([0.3, 0.1, 0.05], factor=2) == 3


def test_fallback_when_the_library_is_too_large():
    problem = _problem("x0**2 + x2*x3 + sin(x5)", 7, -2, 2, n_points=500)
    backend = LibraryBackend(screen=False, max_combinations=1000)
    fit = backend.fit(problem)
    assert not fit.exhaustive
    assert fit.chosen_size == 3
    assert fit.supports[2].train_loss < 1e-10


def test_library_terms_and_their_gradients():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 2, (50, 2))
    x_mixed = x - 1.0
    positive = build_library(x, x, ("x0", "x1"))
    mixed = build_library(x_mixed, x_mixed, ("x0", "x1"))
    assert {t.family for t in positive} - {t.family for t in mixed} == {"log", "inverse"}
    grads = term_gradients(positive, x)
    for j, term in enumerate(positive):  # analytic gradients agree with sympy's
        exact = gradient_function(term.expression, ("x0", "x1"))(x)
        np.testing.assert_allclose(grads[:, :, j], exact, rtol=1e-12)


def test_interrupt_returns_the_sizes_finished():
    problem = _problem("x0**2 + x1**2", 2, -1, 1)

    def progress(message):
        if "best 2-term" in message:
            raise KeyboardInterrupt

    front = LibraryBackend().search(problem, seed=0, progress=progress).front
    assert {e.metrics["terms"] for e in front} == {1, 2}


def test_deterministic():
    problem = _problem("x0 - sin(x1)", 2, -2, 2, noise=0.05)
    assert LibraryBackend().search(problem, seed=0).front.to_list() == LibraryBackend().search(problem, seed=1).front.to_list()


@pytest.mark.parametrize("options, word", [
    ({"max_terms": 0}, "max_terms"), ({"elbow_factor": 1.0}, "elbow_factor"),
    ({"include": ["square", "tan"]}, "tan"), ({"screen": "yes"}, "screen"),
    ({"screen_threshold": 0.0}, "screen_threshold"), ({"max_combinations": 0}, "max_combinations"),
    ({"tolerance": 0.9}, "tolerance"),
])
def test_bad_options(options, word):
    with pytest.raises(SymgradError, match=word):
        LibraryBackend(**options)


def test_memory_bound_fits_the_most_relevant_inputs():
    from symgrad.search.library.backend import library_bytes
    from symgrad.search.synthetic import exact_problem

    problem = exact_problem("x0**2 + x1*x2", 30, -1.0, 1.0, n=200, noise=0.02)
    assert library_bytes(200, 30) > 16 * 2**20
    messages = []
    fit = LibraryBackend(max_terms=2, screen=False, memory_limit=16).fit(problem, progress=messages.append)
    assert any("exceed the memory limit of 16 MB" in m for m in messages)
    used = {str(s) for t in fit.terms for s in t.expression.free_symbols}
    assert {"x0", "x1", "x2"} <= used and len(used) < 30


def test_a_ratio_reads_as_a_ratio():
    # log(x0) - log(x1) has the level sets of x0/x1; sums of logs with one coefficient
    # magnitude are combined, and the canonical form drops the outer log
    front = LibraryBackend().search(_problem("x0/x1", 2, 0.5, 2.0), seed=0).front
    assert _chosen(front).expression == "x0/x1"
    # other logs are left alone: D keeps 2*log(x0)
    front = LibraryBackend().search(_problem("x0*exp(-(x1**2 + x2**2)/2)", 3, 0.1, 2.0), seed=0).front
    assert _chosen(front).expression == "-x1**2 - x2**2 + 2*log(x0)"
