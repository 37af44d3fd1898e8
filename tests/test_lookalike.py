"""Look-alikes: a formula whose boundary departs from the network's is not called faithful."""

import numpy as np

from symgrad.judging.boundary import boundary_metrics, departures, project_onto_boundary
from symgrad.judging.verdict import (APPROXIMATE, BOUNDARY_MAX_DEPARTURE, BOUNDARY_MAX_DISAGREEMENT, FAITHFUL,
                                     boundary_departs, verdict)

NAMES = ("x0", "x1")
FLOOR = {"value": 0.002, "minimum": 0.002}


def _circle(low: float = -2.0):
    """Points of the box [low, 2]^2 moved onto the circle x0^2 + x1^2 = 1 (f = x0^2 + x1^2 - 1)."""
    x = np.random.default_rng(0).uniform(low, 2, (400, 2))
    x = x[np.abs(np.hypot(x[:, 0], x[:, 1]) - 1) < 0.5]
    return project_onto_boundary(lambda z: z[:, 0] ** 2 + z[:, 1] ** 2 - 1, lambda z: 2 * z, x, np.ones(2))


def test_projection_lands_on_the_boundary():
    boundary = _circle()
    assert len(boundary.x) > 100
    np.testing.assert_allclose(np.hypot(boundary.x[:, 0], boundary.x[:, 1]), 1.0, atol=1e-6)
    assert np.all(boundary.moved < 0.5 + 1e-9)


def test_projection_drops_points_that_leave_the_box():
    x = np.array([[1.5, 0.0], [0.0, 1.2]])
    boundary = project_onto_boundary(lambda z: z[:, 0] ** 2 + z[:, 1] ** 2 - 1, lambda z: 2 * z, x, np.ones(2),
                                     low=np.array([0.9, -1.0]), high=np.array([2.0, 2.0]))
    assert boundary.origin.tolist() == [0]


def test_departure_is_zero_for_the_boundary_and_its_monotone_transforms_and_not_for_a_look_alike():
    boundary = _circle()
    for same in ("x0**2 + x1**2", "-3*(x0**2 + x1**2)", "exp(x0**2 + x1**2)", "sqrt(x0**2 + x1**2)"):
        assert np.max(np.abs(departures(same, NAMES, boundary))) < 1e-6, same
    # an ellipse through part of the circle: far from it elsewhere
    assert np.quantile(np.abs(departures("x0**2 + 2*x1**2", NAMES, boundary)), 0.9) > 0.1
    # on the quarter circle in the positive quadrant, the ellipse's level set through the median
    # of its values departs most where its slope is smallest: at x1 = 0, x0 = 1
    quarter = _circle(low=0.0)
    figures = boundary_metrics("x0**2 + 1.5*x1**2", NAMES, quarter)
    assert figures["boundary_departure"] > 0.05 and figures["n_boundary_projected"] == len(quarter.x)
    assert figures["boundary_departure_where"]["x0"] > 0.9 and figures["boundary_departure_where"]["x1"] < 0.4


def test_a_formula_departs_only_when_both_figures_say_so():
    far, close = BOUNDARY_MAX_DEPARTURE * 2, BOUNDARY_MAX_DEPARTURE / 2
    poor, good = 1 - 2 * BOUNDARY_MAX_DISAGREEMENT, 1 - BOUNDARY_MAX_DISAGREEMENT / 2
    assert boundary_departs({"boundary_departure": far, "boundary_agreement": poor})
    assert not boundary_departs({"boundary_departure": far, "boundary_agreement": good})
    assert not boundary_departs({"boundary_departure": close, "boundary_agreement": poor})
    # results written before the figure existed keep their verdict
    assert not boundary_departs({"boundary_agreement": poor})


def test_verdict_calls_a_departing_look_alike_approximate_and_says_where():
    metrics = {"loss_near": 0.007, "boundary_agreement": 0.965, "boundary_departure": 0.23,
               "boundary_departure_where": {"x0": 1.12, "x1": 0.77}, "n_boundary_projected": 348}
    kind, sentence = verdict(metrics, [], FLOOR)
    assert kind == APPROXIMATE
    assert "departs from the network's by 0.23" in sentence and "near x0 = 1.12, x1 = 0.77" in sentence
    assert "3.5%" in sentence
    assert verdict({**metrics, "boundary_departure": 0.05}, [], FLOOR)[0] == FAITHFUL
    # hidden units decide nothing: no boundary to compare
    assert verdict(metrics, [], FLOOR, decides=False)[0] == FAITHFUL


def test_a_trained_network_tells_a_law_from_its_rational_stand_in():
    """Known answer on a real network (m / sqrt(1 - v^2), 5% flipped labels, 2x60 ELU): a rational
    stand-in off by 0.015 in L on the true surface scores within 5x of the floor near the
    boundary, so gradient angles alone called it faithful; its boundary departs, the law's does not."""
    from symgrad.data.concepts import Concept, make_concept_dataset
    from symgrad.data.tables import split_dataset
    from symgrad.explain import judge_formulas
    from symgrad.network.train import train_classifier

    law, stand_in = "x0/sqrt(1 - x1**2)", "x0/(1 - x1**2/2.2)"
    box = np.random.default_rng(0).uniform((1.0, 0.0), (2.0, 0.8), (20_000, 2))
    threshold = float(np.median(box[:, 0] / np.sqrt(1 - box[:, 1] ** 2)))  # half the points in each class
    concept = Concept("lorentz", law, 2, (1.0, 0.0), (2.0, 0.8), threshold)
    data = make_concept_dataset(concept, 3000, seed=0, flip=0.05)
    split = split_dataset(data, fractions=(0.8, 0.15, 0.05), seed=0)
    classifier, _ = train_classifier(split.train, split.validation, hidden=(60, 60), activation="elu", epochs=40,
                                     seed=0)
    judged = judge_formulas(classifier, data.x, [law, stand_in], y=data.y, seed=0)
    law_metrics, stand_in_metrics = judged["formulas"]
    assert law_metrics["verdict"] == FAITHFUL, law_metrics["sentence"]
    assert stand_in_metrics["verdict"] == APPROXIMATE, stand_in_metrics["sentence"]
    assert "departs" in stand_in_metrics["sentence"]
    assert stand_in_metrics["loss_near"] <= 5 * judged["floor"]["value"]
    assert stand_in_metrics["boundary_departure"] > 2 * law_metrics["boundary_departure"]
