"""Gradients compared in units of each input's spread: results do not depend on column units."""

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.expressions import parse_formula, symbols_for
from symgrad.judging.metrics import fidelity_metrics
from symgrad.search import make_backend
from symgrad.search.canonical import canonicalize
from symgrad.search.screening import screen_inputs
from symgrad.search.synthetic import exact_problem

# term families whose span does not depend on the unit (sin(100 x) is not a rescaled sin(x))
POLYNOMIAL = ("linear", "square", "product")


def _rescaled(problem, column, factor):
    """The same problem with input ``column`` measured in a unit ``factor`` times smaller."""
    x, xh = problem.x.copy(), problem.x_holdout.copy()
    x[:, column] *= factor
    xh[:, column] *= factor
    n, nh = problem.directions.copy(), problem.directions_holdout.copy()
    n[:, column] /= factor  # d/dx' = (d/dx) / factor
    nh[:, column] /= factor
    return type(problem)(x, n, xh, nh, problem.feature_names)


@pytest.fixture(scope="module")
def problems():
    base = exact_problem("x0**2 + 2*x1**2 + x2", 4, -1, 1, n=400, noise=0.05)
    scaled = _rescaled(base, 1, 100.0)
    return (base.in_spread_units(np.std(base.x, axis=0)), scaled.in_spread_units(np.std(scaled.x, axis=0)), scaled)


def test_screening_ranks_do_not_change_with_units(problems):
    base, scaled, raw = problems
    a = screen_inputs(base.directions, base.feature_names)
    b = screen_inputs(scaled.directions, scaled.feature_names)
    assert a.ranking == b.ranking and a.kept == b.kept == (0, 1, 2)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-9)
    # in raw units the column x100 all but vanishes from the ranking
    assert 1 not in screen_inputs(raw.directions, raw.feature_names).kept


def test_every_loss_is_unchanged_when_a_column_changes_unit(problems):
    base, scaled, _ = problems
    names = base.feature_names
    for a, b in [("x0**2 + 2*x1**2 + x2", "x0**2 + 2*(x1/100)**2 + x2"), ("x0", "x0"), ("x1 + x2", "x1/100 + x2")]:
        assert base.loss(parse_formula(a, names)) == pytest.approx(scaled.loss(parse_formula(b, names)), rel=1e-9)
    front_a = make_backend("library", {"max_terms": 3, "include": POLYNOMIAL}).search(base).front
    front_b = make_backend("library", {"max_terms": 3, "include": POLYNOMIAL}).search(scaled).front
    # the fits are the same, and constants are snapped in decade units: the formulas differ by
    # the unit factor alone (2*x1**2 is x1**2/5000 with x1 in hundredths)
    np.testing.assert_allclose([e.metrics["fit_train_loss"] for e in front_a],
                               [e.metrics["fit_train_loss"] for e in front_b], rtol=1e-9)
    x1 = symbols_for(names)[1]
    assert [canonicalize(e.sympy(names).xreplace({x1: 100 * x1})) for e in front_b] == \
        [canonicalize(e.sympy(names)) for e in front_a]
    assert "x0**2 + x1**2/5000 + x2" in [e.expression for e in front_b]
    metrics = [fidelity_metrics(f, names, x=p.x_holdout, directions=p.raw_directions(holdout=True),
                                neuron_values=np.zeros(len(p.x_holdout)), net_labels=np.zeros(len(p.x_holdout)),
                                scale=p.scale)["loss"]
               for f, p in (("x0**2 + 2*x1**2", base), ("x0**2 + 2*(x1/100)**2", scaled))]
    assert metrics[0] == pytest.approx(metrics[1], rel=1e-9)


def test_a_formula_missing_a_wide_input_is_not_faithful_in_spread_units():
    # a**2 + 2*(c/100)**2 with c in [-100, 100]: in raw units `a` alone looks nearly perfect
    problem = exact_problem("x0**2 + 2*(x1/100)**2", 2, [-1, -100], [1, 100], n=500)
    spread = problem.in_spread_units(np.std(problem.x, axis=0))
    alone = parse_formula("x0", problem.feature_names)
    assert problem.loss(alone) < 0.02
    assert spread.loss(alone) > 0.2


def test_scale_must_match_the_inputs(problems):
    base, _, raw = problems
    with pytest.raises(SymgradError, match="already in spread units"):
        base.in_spread_units(np.ones(4))
    with pytest.raises(SymgradError, match="one per input"):
        raw.in_spread_units(np.ones(3))
