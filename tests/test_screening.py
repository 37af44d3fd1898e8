"""Input screening by mean |normalised gradient component|."""

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.expressions import gradient_function, parse_formula
from symgrad.search.screening import relevance, screen_inputs

NAMES = tuple(f"x{i}" for i in range(10))


def _directions(formula: str, noise: float, seed: int = 0) -> np.ndarray:
    """Unit gradients of ``formula`` over 10 inputs on [-2, 2), plus isotropic noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (2000, len(NAMES)))
    grads = gradient_function(parse_formula(formula, NAMES), NAMES)(x)
    unit = grads / np.linalg.norm(grads, axis=1, keepdims=True)
    noisy = unit + noise * rng.normal(size=unit.shape)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


@pytest.mark.parametrize("rule", ["relative", "gap"])
def test_keeps_exactly_the_four_relevant_inputs(rule):
    directions = _directions("x1**2 + x3*x5 + sin(x8)", noise=0.02)
    screening = screen_inputs(directions, NAMES, rule=rule)
    assert screening.kept == (1, 3, 5, 8)
    assert screening.kept_names == ("x1", "x3", "x5", "x8")
    assert set(screening.ranking[:4]) == {1, 3, 5, 8}
    scores = np.array(screening.scores)
    assert scores[[1, 3, 5, 8]].min() > 5 * np.delete(scores, [1, 3, 5, 8]).max()


def test_relevance_ignores_row_scale_and_zero_rows():
    directions = _directions("x0 + 2*x1", noise=0.0)[:, :3]
    scaled = directions * np.linspace(0.1, 10, directions.shape[0])[:, None]
    with_zero_rows = np.vstack([scaled, np.zeros((50, 3))])
    np.testing.assert_allclose(relevance(with_zero_rows), relevance(directions), rtol=1e-12)
    # g = x0 + 2 x1 has the constant unit gradient (1, 2, 0)/sqrt(5).
    np.testing.assert_allclose(relevance(directions), np.array([1, 2, 0]) / np.sqrt(5), atol=1e-12)


def test_gap_rule_keeps_all_without_a_clear_cut():
    directions = _directions("x0 + 1.5*x1 + 2*x2 + 2.5*x3 + 3*x4 + 3.5*x5 + 4*x6 + 4.5*x7 + 5*x8 + 5.5*x9",
                             noise=0.0)
    assert screen_inputs(directions, NAMES, rule="gap").kept == tuple(range(10))


def test_force_adds_inputs_and_rejects_unknown_names():
    directions = _directions("x1**2 + x3*x5 + sin(x8)", noise=0.02)
    assert screen_inputs(directions, NAMES, force=["x0"]).kept == (0, 1, 3, 5, 8)
    with pytest.raises(SymgradError, match="allowed names are"):
        screen_inputs(directions, NAMES, force=["x10"])


def test_bad_arguments_name_the_value():
    directions = _directions("x0", noise=0.0)
    with pytest.raises(SymgradError, match="'top'.*relative"):
        screen_inputs(directions, NAMES, rule="top")
    with pytest.raises(SymgradError, match="threshold"):
        screen_inputs(directions, NAMES, threshold=1.5)
    with pytest.raises(SymgradError, match="feature names"):
        screen_inputs(directions, NAMES[:3])
    with pytest.raises(SymgradError, match="zero or not finite"):
        relevance(np.zeros((5, 2)))
