"""Input screening by mean |normalised gradient component|."""

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.expressions import gradient_function, parse_formula
from symgrad.search.screening import relevance, screen_inputs, screen_problem
from symgrad.search.synthetic import exact_problem

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
    assert screening.tied == ()  # the noise margin pulls no irrelevant input in


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


# x1 and x2 play one role; x3, x4, x5 are irrelevant
SYMMETRIC = ("x0 + 0.04*(x1**2 + x2**2)", 6, -2.0, 2.0)


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_a_cut_between_two_equal_inputs_keeps_both(noise):
    problem = exact_problem(*SYMMETRIC, noise=noise)
    bare = screen_inputs(problem.directions, problem.feature_names, noise_z=0)
    scores = np.array(bare.scores)
    # the worst case for a cut: exactly between the two equal scores
    between = (scores[1] + scores[2]) / 2 / scores.max()
    split = screen_inputs(problem.directions, problem.feature_names, threshold=between, noise_z=0)
    assert (1 in split.kept) != (2 in split.kept)  # the bare cut splits them
    screening = screen_inputs(problem.directions, problem.feature_names, threshold=between)
    assert screening.kept == (0, 1, 2)
    assert screening.tied == (min((1, 2), key=lambda i: scores[i]),)
    assert len(screening.noise) == 6 and all(v >= 0 for v in screening.noise)


def test_no_threshold_splits_a_symmetric_pair():
    problem = exact_problem(*SYMMETRIC, noise=0.05)
    for threshold in np.linspace(0.05, 0.15, 41):
        kept = set(screen_inputs(problem.directions, problem.feature_names, threshold=float(threshold)).kept)
        assert (1 in kept) == (2 in kept), threshold
        assert not kept & {3, 4, 5}, threshold


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_a_symmetry_keeps_the_narrow_partner_of_a_kept_input(noise):
    # x1 + x2 with x2 ten times narrower: in spread units x2 scores a tenth of x1, as low as
    # the irrelevant inputs at noise 0.05; the sum symmetry still ties it to x1
    problem = exact_problem("x0 + 0.3*(x1 + x2)", 5, [-2, -2, -0.2, -2, -2], [2, 2, 0.2, 2, 2], noise=noise)
    problem = problem.in_spread_units(np.std(problem.x, axis=0))
    assert 2 not in screen_inputs(problem.directions, problem.feature_names).kept
    screening = screen_problem(problem)
    assert screening.kept == (0, 1, 2) and screening.tied == (2,)
    assert screen_problem(problem, symmetry_threshold=None).kept == (0, 1)


def test_noise_z_is_checked():
    directions = _directions("x0", noise=0.0)
    with pytest.raises(SymgradError, match="noise_z"):
        screen_inputs(directions, NAMES, noise_z=-1)
