"""The default auto strategy on exact gradients: symmetry route, GP route, degenerate case,
determinism and interruption."""

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.expressions import parse_formula
from symgrad.search import make_backend
from symgrad.search.select import select
from symgrad.search.synthetic import exact_problem

FAST_GP = {"gp_evaluations": 20_000, "gp_seeds": 1, "gp_bands": [None], "gp_time_limit": 60, "accept_loss": 0}


def test_symmetry_route_recovers_b_like_concept():
    problem = exact_problem("x0**2 + sin(x1 + x2)", 4, -2, 0)  # x3 is irrelevant
    backend = make_backend("auto", FAST_GP)
    found = backend.search(problem, seed=0)
    best = select(found.front)
    assert best.loss < 1e-8
    assert {str(s) for s in best.sympy(problem.feature_names).free_symbols} == {"x0", "x1", "x2"}
    assert [s["expression"] for s in found.info["symmetries"]] == ["x1 + x2"]
    assert found.info["screening"]["kept"] == ["x0", "x1", "x2"]


def test_repeated_symmetry_reduction_recovers_a_sum_of_three_inputs():
    problem = exact_problem("x3**2 + sin(x0 + x1 + x2)", 4, -2, 0)
    truth = parse_formula("x3**2 + sin(x0 + x1 + x2)", problem.feature_names)
    found = make_backend("auto", {"gp": False}).search(problem, seed=0)
    best = select(found.front)
    assert best.loss < 1e-8
    assert best.sympy(problem.feature_names) - truth == 0
    assert [s["expression"] for s in found.info["symmetries"]] == ["x0 + x1", "x0 + x1 + x2"]
    # pairs only: the library cannot write sin(x0 + x1 + x2) and settles for a look-alike
    pairs = make_backend("auto", {"gp": False, "symmetry_rounds": 1}).search(problem, seed=0)
    assert select(pairs.front).loss > 1e-3


def test_gp_route_recovers_a_non_additive_concept():
    problem = exact_problem("x0*exp(x1)", 2, 0.5, 2)
    backend = make_backend("auto", {**FAST_GP, "symmetry": False})
    front = backend.search(problem, seed=0).front
    assert min(e.loss for e in front) < 1e-3
    assert any(e.source == "operon" for e in front)


def test_linear_concept_is_reported():
    problem = exact_problem("2*x0 - x1", 2, -1, 1)
    backend = make_backend("auto", {**FAST_GP, "gp": False})
    found = backend.search(problem, seed=0)
    best = select(found.front)
    assert best.loss < 1e-10
    assert found.info["linear_concept"] == best.expression


def test_same_seed_same_front():
    problem = exact_problem("x0*exp(x1)", 2, 0.5, 2, n=300)
    options = {**FAST_GP, "gp_evaluations": 5_000}
    a = make_backend("auto", options).search(problem, seed=3)
    b = make_backend("auto", options).search(problem, seed=3)
    assert a.front == b.front and len(a.front) > 0
    assert {k: v for k, v in a.info.items() if k != "seconds"} == {k: v for k, v in b.info.items() if k != "seconds"}


def test_interrupted_search_returns_what_it_has():
    problem = exact_problem("x0*exp(x1)", 2, 0.5, 2, n=300)
    backend = make_backend("auto", {**FAST_GP, "gp_evaluations": 1_000_000, "symmetry": False})

    def progress(message):
        if message.startswith("operon: generation"):
            raise KeyboardInterrupt

    found = backend.search(problem, seed=0, progress=progress)
    assert found.interrupted
    assert len(found.front) > 0  # at least the library's formulas


def test_a_sum_of_ten_similar_terms_is_found_and_chosen():
    formula = " + ".join(f"{1 + i % 3}*x{i}**2" for i in range(10))
    problem = exact_problem(formula, 10, -1, 1, n=300, noise=0.03)
    problem = problem.in_spread_units(np.std(problem.x, axis=0))
    best = select(make_backend("auto", {"gp": False}).search(problem, seed=0).front)
    assert best.sympy(problem.feature_names) == parse_formula(formula, problem.feature_names)


def test_time_limit_cuts_the_search_and_keeps_the_front():
    problem = exact_problem("x0*exp(x1)", 2, 0.5, 2, n=300)
    backend = make_backend("auto", {**FAST_GP, "time_limit": 1.0})
    found = backend.search(problem, seed=0)
    assert len(found.front) > 0  # the library's formulas
    assert found.info["cut_short"] == ["1 of 1 GP runs skipped"]
    assert not found.interrupted


def test_time_limit_stops_a_running_gp_and_is_recorded():
    problem = exact_problem("x0*exp(x1)", 2, 0.5, 2, n=300)
    backend = make_backend("auto", {**FAST_GP, "symmetry": False, "gp_evaluations": 10_000_000, "gp_stall": None,
                                    "time_limit": 8.0})
    found = backend.search(problem, seed=0)  # the GP alone would run for minutes
    assert len(found.front) > 0
    assert found.info["cut_short"]  # normally "GP run 1 of 1 stopped by the clock"


def test_library_result_at_the_noise_level_skips_the_gp():
    problem = exact_problem("x0**2 + 2*x1**2", 2, -1, 1, n=300)
    backend = make_backend("auto", {**FAST_GP, "accept_loss": 0.003})
    messages = []
    found = backend.search(problem, seed=0, progress=messages.append)
    assert select(found.front).loss < 1e-8
    assert found.info["accepted"] == "library"
    assert not any(m.startswith("operon") for m in messages)


@pytest.mark.parametrize("options,message", [
    ({"gp_seeds": 0}, "gp_seeds"), ({"gp_bands": [-1]}, "gp_bands"), ({"library": {"max_terms": 0}}, "max_terms"),
    ({"operon": {"coefficients": "complex"}}, "coefficients"), ({"colour": 1}, "not an option of the auto backend"),
    ({"gp_stall": 5}, "gp_stall"), ({"accept_loss": -1}, "accept_loss"), ({"symmetry_kinds": ["spiral"]}, "symmetry_kinds"),
    ({"symmetry_rounds": 0}, "symmetry_rounds"),
    ({"max_inputs": 0}, "max_inputs"),
])
def test_bad_options(options, message):
    with pytest.raises(SymgradError, match=message):
        make_backend("auto", options)


def test_two_hundred_inputs_finish_within_the_memory_bound():
    # 200 columns x 600 rows (a wide CSV): every stage is bounded, nothing is killed
    problem = exact_problem("x0**2 + 2*x1**2 + x2", 200, -1, 1, n=600, noise=0.005)
    backend = make_backend("auto", {"gp": False, "screen_threshold": 0.001, "max_inputs": 8})
    found = backend.search(problem, seed=0)
    best = select(found.front)
    assert found.info["screening"]["capped"] == {"passed": 200, "searched": 8}
    assert {"x0", "x1", "x2"} <= {str(s) for s in best.sympy(problem.feature_names).free_symbols}


def test_gp_trees_beyond_the_parsers_bound_are_dropped_not_fatal():
    from symgrad.search.auto import AutoBackend
    from symgrad.search.base import Entry, Front

    problem = exact_problem("x0**2 + x1", 2, -1.0, 1.0, n=50, seed=0)
    huge = "x0" + "+x0" * 4000  # longer than any formula the parser accepts
    with pytest.raises(SymgradError, match="too long"):
        parse_formula(huge, ("x0", "x1"))
    back = AutoBackend._back(Front((Entry(huge, 8001, 0.5), Entry("x0**2 + x1", 5, 0.01))), problem, {}, "operon")
    assert [e.expression for e in back] == ["x0**2 + x1"]
