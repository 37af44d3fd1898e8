"""The network's floor near its boundary, and the verdict calibrated to it."""

import numpy as np
import pytest

from symgrad.judging.floor import FLOOR_MIN, near_boundary, network_floor, reference_loss
from symgrad.search.base import SearchProblem
from symgrad.search.loss import unit_rows
from symgrad.judging.verdict import APPROXIMATE, FAITHFUL, FAITHFUL_MAX_LOSS, NOT_FOUND, verdict


def _problem(gradient, d=3, n=800, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    x, xh = rng.uniform(-1, 1, (n, d)), rng.uniform(-1, 1, (n // 2, d))
    def directions(points):
        return unit_rows(gradient(points) + noise * rng.normal(size=points.shape))
    return SearchProblem(x, directions(x), xh, directions(xh), tuple(f"x{i}" for i in range(d)))


def test_near_boundary_keeps_the_quarter_with_smallest_margin():
    margin = np.arange(400.0)[::-1]
    mask = near_boundary(margin, 400)
    assert mask.sum() == 100 and mask[-100:].all()
    assert near_boundary(np.arange(30.0), 30).all()  # fewer than 50 points: all of them
    assert near_boundary(np.zeros(80), 80).all() and near_boundary(None, 5).all()


def test_reference_reaches_a_polynomial_concept_and_not_a_rough_field():
    # x0**2 + 2*x1*x2 is a polynomial: the reference follows it to round-off
    exact = _problem(lambda p: np.stack([2 * p[:, 0], 2 * p[:, 2], 2 * p[:, 1]], axis=1))
    loss, degree, terms, inputs = reference_loss(exact, np.ones(400, dtype=bool))
    assert loss < 1e-8 and degree == 2 and terms == 9 and inputs == ("x0", "x1", "x2")
    # noisy directions: the reference cannot go below the noise
    noisy = _problem(lambda p: np.stack([2 * p[:, 0], 2 * p[:, 2], 2 * p[:, 1]], axis=1), noise=0.3)
    loss, *_ = reference_loss(noisy, np.ones(400, dtype=bool))
    assert loss > 0.01


def test_floor_is_the_lower_of_reference_and_front_but_never_below_the_minimum():
    exact = _problem(lambda p: np.stack([2 * p[:, 0], 2 * p[:, 2], 2 * p[:, 1]], axis=1))
    near = np.ones(400, dtype=bool)
    floor = network_floor(exact, near, [0.3, None, 0.05])
    assert floor.value == FLOOR_MIN and floor.front == 0.05 and floor.reference < 1e-8
    noisy = _problem(lambda p: np.stack([2 * p[:, 0], 2 * p[:, 2], 2 * p[:, 1]], axis=1), noise=0.3)
    floor = network_floor(noisy, near, [0.5])
    assert floor.value == pytest.approx(floor.reference) and floor.value > FLOOR_MIN
    assert network_floor(noisy, near, [0.004]).value == 0.004


def test_reference_is_bounded_to_the_most_relevant_inputs():
    d = 40  # 40 inputs, two relevant: the reference keeps 20 and stays linear (fewer points than cubic terms)
    problem = _problem(lambda p: np.concatenate([2 * p[:, :1], np.ones((len(p), 1)), np.zeros((len(p), d - 2))],
                                                axis=1), d=d, n=400)
    loss, degree, terms, inputs = reference_loss(problem, np.ones(200, dtype=bool))
    assert len(inputs) == 20 and {"x0", "x1"} <= set(inputs) and degree == 1 and loss > 0.001


def test_verdict_follows_the_floor():
    metrics = {"loss_near": 0.03, "boundary_agreement": 0.99}
    # a clean network (floor at its minimum): 0.03 is 15x the floor, an approximation
    kind, sentence = verdict(metrics, [], {"value": FLOOR_MIN, "minimum": FLOOR_MIN})
    assert kind == APPROXIMATE and "15.0x" in sentence
    # a rough network whose smooth reference reaches only 0.008: 0.03 is within 5x
    assert verdict(metrics, [], {"value": 0.008, "minimum": FLOOR_MIN})[0] == FAITHFUL
    # however rough the network, faithful stops at FAITHFUL_MAX_LOSS
    rough = {"value": 0.04, "minimum": FLOOR_MIN}
    assert verdict({**metrics, "loss_near": FAITHFUL_MAX_LOSS + 0.01}, [], rough)[0] == APPROXIMATE
    # hidden units decide nothing: L alone
    assert verdict({"loss_near": 0.004}, [], None, decides=False)[0] == FAITHFUL
    assert verdict({"loss_near": 0.2}, [], None, decides=False)[0] == NOT_FOUND


def test_a_noisy_label_network_keeps_its_exact_formula_faithful(tmp_path):
    """Known answer: 10% flipped labels make the network's directions rough away from its boundary
    (the truth's L over the band is above 0.02, the old fixed bound); near the boundary the exact
    formula is faithful, and a look-alike without the curvature is not."""
    import csv

    from symgrad.config import load_config
    from symgrad.data.concepts import custom_concept, make_concept_dataset
    from symgrad.expressions import gradient_function, parse_formula
    from symgrad.pipeline import interpret

    concept = custom_concept("x0 + x1**2 + x2", 3, -1.0, 1.0, 0.33)
    data = make_concept_dataset(concept, 10_000, seed=0, flip=0.10)
    path = tmp_path / "noisy.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*data.feature_names, "label"])
        writer.writerows([[*map(repr, map(float, row)), int(y)] for row, y in zip(data.x, data.y)])
    config = load_config(None, [f"data.path={path}", "data.label=label", "seed=0", "progress=false"])
    result = interpret(config, out=tmp_path / "run", progress=None)
    assert result.verdict["kind"] == FAITHFUL, result.verdict
    assert result.best.expression == "x0 + x1**2 + x2"
    floor = result.record.floor
    assert floor.value >= FLOOR_MIN and floor.reference is not None and floor.n_near >= 50

    arrays = result.gradients()
    names = ("x0", "x1", "x2")
    near = near_boundary(arrays["margin_holdout"], len(arrays["x_holdout"]))
    directions = unit_rows(arrays["directions_holdout"] * arrays["scale"])

    def loss(formula, mask):
        gradients = gradient_function(parse_formula(formula, names), names)(arrays["x_holdout"]) * arrays["scale"]
        return float(np.mean(1 - np.abs(np.sum(unit_rows(gradients[mask]) * directions[mask], axis=1))))

    everywhere = np.ones(len(near), dtype=bool)
    assert loss("x0 + x1**2 + x2", everywhere) > 0.02  # rough over the band ...
    assert loss("x0 + x1**2 + x2", near) <= 5 * floor.value  # ... faithful near the boundary
    assert loss("x0 + x2", near) > 5 * floor.value  # the look-alike is not
