"""Judging against a known concept: faithful L on the true surface, exact L over the domain."""

import numpy as np

from symgrad.data.concepts import CONCEPTS
from symgrad.expressions import parse_formula, value_function
from symgrad.judging.truth import compare_with_truth, surface_points


def test_surface_points_lie_on_the_surface_inside_the_box():
    concept = CONCEPTS["D"]
    x = surface_points(concept, concept.formula, 500, rng=np.random.default_rng(0))
    g = value_function(parse_formula(concept.formula, concept.feature_names), concept.feature_names)(x)
    assert len(x) == 500
    np.testing.assert_allclose(g, concept.threshold, atol=1e-7)
    assert np.all(x >= np.array(concept.low)) and np.all(x < np.array(concept.high))


def test_same_surface_is_faithful_but_not_exact():
    # x0*x1 - D > 0 has exactly the decision surface of x0*x1 / D > 1
    result = compare_with_truth("x0*x1 - (x2 - x3)**2 - (x4 - x5)**2", CONCEPTS["E"])
    assert result["faithful_loss"] < 1e-9 and result["recovered_faithful"]
    assert result["exact_loss"] > 0.1 and not result["recovered_exact"]


def test_wrong_coefficients_are_neither():
    result = compare_with_truth("x0**2 + x1**2", CONCEPTS["A1"])
    assert result["faithful_loss"] > 0.01 and result["exact_loss"] > 0.01


def test_two_concept_cases_report_both_parts():
    result = compare_with_truth("x0*x1 + x2*x3", CONCEPTS["F"])
    assert [p["truth"] for p in result["parts"]] == ["x0*x1 - 1", "x2*x3 - 1"]
    assert "recovered_faithful" not in result
