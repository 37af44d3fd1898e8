"""The Operon backend: tree translation, recovery on exact gradients, repeatability, interrupts,
option validation."""

import dataclasses
import inspect

import numpy as np
import pytest
import sympy as sp

from symgrad.errors import SymgradError
from symgrad.expressions import symbols_for, value_function
from symgrad.search.base import SearchProblem
from symgrad.search.operon.backend import OperonBackend, node_records, polish_constants, tree_to_sympy
from symgrad.search.operon.options import OperonOptions
from symgrad.search.synthetic import exact_problem

op = pytest.importorskip("pyoperon")


def test_tree_translation_matches_operon_evaluation():
    """Random Operon trees over every operator evaluate the same in Operon and in sympy."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 2.0, (64, 3))
    data = np.asfortranarray(np.column_stack([x, np.zeros(64)]).astype(np.float32))
    dataset = op.Dataset(data)
    variables = sorted(dataset.Variables, key=lambda v: v.Index)
    inputs = [v.Hash for v in variables[:-1]]
    problem = op.Problem(dataset)
    bits = int(op.NodeType.Constant) | int(op.NodeType.Variable)
    for name in ("Add", "Sub", "Mul", "Div", "Aq", "Pow", "Sin", "Cos", "Tan", "Tanh", "Exp", "Log", "Sqrt",
                 "Square", "Abs"):
        bits |= int(getattr(op.NodeType, name))
    problem.ConfigurePrimitiveSet(bits)
    pset = problem.PrimitiveSet
    creator = op.BalancedTreeCreator(pset, inputs, 0.0)
    coefficients = op.UniformIntCoefficientAnalyzer()
    coefficients.ParameterizeDistribution(-3, 3)
    random = op.RandomGenerator(7)
    rows = op.Range(0, 64)
    names = ("x0", "x1", "x2")
    symbols = symbols_for(names)
    column_of_hash = {v.Hash: v.Index for v in variables[:-1]}
    compared = 0
    for _ in range(200):
        tree = creator(random, 9, 1, 6)
        coefficients(random, tree)
        expected = op.Evaluate(tree, dataset, rows).astype(np.float64)
        expr = tree_to_sympy(node_records(tree, column_of_hash), symbols, integer=True)
        if expr.has(sp.I, sp.zoo, sp.nan):  # e.g. sqrt(-2): NaN in Operon, complex in sympy
            continue
        got = value_function(expr, names)(x)
        ok = np.isfinite(expected) & (np.abs(expected) < 1e4)
        if ok.sum() < 32:
            continue
        # Operon computes in float32: nested poles (tan(tan(...))) may differ at a few points, a
        # translation error (operand order, a missing weight) at most of them
        close = np.isclose(got[ok], expected[ok], rtol=2e-3, atol=2e-3)
        assert close.mean() > 0.9, (str(expr), got[ok][~close][:5], expected[ok][~close][:5])
        compared += 1
    assert compared > 100


def test_recovers_non_additive_formula_from_exact_gradients():
    problem = exact_problem("x0*exp(x1)", 2, -2.0, 2.0)
    backend = OperonBackend(population_size=300, time_limit=25.0, loss_threshold=1e-7)
    front = backend.search(problem, seed=0).front
    best = min(front, key=lambda e: e.loss)
    assert best.loss < 1e-3, best
    assert best.complexity <= 8, best
    assert all(e.source == "operon" for e in front)
    # every front entry is a formula over the feature names whose stored loss is reproducible
    entry = front.pareto().entries[-1]
    assert problem.loss(entry.sympy(problem.feature_names)) == pytest.approx(entry.loss, rel=1e-6, abs=1e-12)


def test_real_coefficients_and_oriented_loss():
    base = exact_problem("x0 + 2*x1", 2, -1.0, 1.0, n=300)
    problem = SearchProblem(base.x, base.directions, base.x_holdout, base.directions_holdout,
                            base.feature_names, oriented=True)
    backend = OperonBackend(population_size=200, coefficients="real", time_limit=20.0, loss_threshold=1e-6)
    front = backend.search(problem, seed=0).front
    best = min(front, key=lambda e: e.loss)
    assert best.loss < 1e-3, best
    # oriented: the formula must increase along the targets, not merely be parallel to them
    flipped = SearchProblem(base.x, -base.directions, base.x_holdout, -base.directions_holdout,
                            base.feature_names, oriented=True)
    assert flipped.loss(best.sympy(base.feature_names)) > 1.9


def test_same_seed_gives_the_same_front():
    problem = exact_problem("x0**2 + x1*x2", 3, -1.0, 1.0, n=300)
    backend = OperonBackend(population_size=100, generations=6, time_limit=None)
    first = [e.expression for e in backend.search(problem, seed=3).front]
    second = [e.expression for e in backend.search(problem, seed=3).front]
    assert first == second
    assert len(first) > 3


def test_time_limit_returns_the_front_found_so_far():
    problem = exact_problem("x0*x1 + x2", 3, -1.0, 1.0, n=300)
    backend = OperonBackend(population_size=200, generations=10**6, time_limit=0.05, polish=False)
    found = backend.search(problem, seed=0)
    assert len(found.front) > 0
    assert found.info["stop_reason"] == "time limit reached"


def test_keyboard_interrupt_from_progress_returns_a_front():
    problem = exact_problem("x0*x1 + x2", 3, -1.0, 1.0, n=300)
    messages = []

    def progress(message: str) -> None:
        messages.append(message)
        if "generation" in message:
            raise KeyboardInterrupt

    backend = OperonBackend(population_size=200, generations=10**6, time_limit=60.0)
    found = backend.search(problem, seed=0, progress=progress)
    assert len(found.front) > 0 and found.interrupted
    assert found.info["stop_reason"] == "interrupted"


def test_evaluation_budget_stops_the_run():
    problem = exact_problem("x0 + x1", 2, -1.0, 1.0, n=200)
    backend = OperonBackend(population_size=50, generations=10**6, time_limit=None, max_evaluations=300,
                            polish=False)
    found = backend.search(problem, seed=0)
    assert len(found.front) > 0
    assert found.info["stop_reason"] == "evaluation budget spent"
    assert found.info["evaluations"] <= 300 + 50  # at most the last generation's overshoot


def test_stagnation_stops_the_run_deterministically():
    problem = exact_problem("x0 + x1", 2, -1.0, 1.0, n=200)
    options = dict(population_size=50, generations=10**6, time_limit=None, max_evaluations=50_000,
                   stall_evaluations=500, polish=False)
    first, second = OperonBackend(**options), OperonBackend(**options)
    a, b = first.search(problem, seed=1), second.search(problem, seed=1)
    assert a.front == b.front
    assert a.info["stop_reason"].startswith("no 1.1-fold improvement in 500 evaluations")
    assert a.info["evaluations"] == b.info["evaluations"] < 50_000


def test_polish_fits_and_snaps_constants():
    problem = exact_problem("exp(x0 - x1) - 3.25*x2", 3, -1.0, 1.0, n=400)
    x0, x1, x2 = symbols_for(problem.feature_names)
    rough = sp.exp(x0 - x1) - 3 * x2
    polished = polish_constants(rough, problem)
    assert problem.loss(polished) < 0.1 * problem.loss(rough)
    assert polished == sp.exp(x0 - x1) - sp.Float("3.25", "") * x2
    # a constant that only rescales the formula is dropped
    assert polish_constants(x0 * sp.exp(x1 + 3), exact_problem("x0*exp(x1)", 2, -2, 2, n=300)) == x0 * sp.exp(x1)


@pytest.mark.parametrize("options", [
    {"operators": ["add", "bogus"]},
    {"operators": []},
    {"max_length": 1},
    {"population_size": 0},
    {"coefficients": "rational"},
    {"time_limit": -1.0},
    {"max_evaluations": 0},
    {"loss_threshold": float("nan")},
    {"finite_differences": "backward"},
    {"complexity_weights": {"sinh": 2.0}},
    {"parsimony": -0.1},
])
def test_bad_options_raise_one_clear_error(options):
    with pytest.raises(SymgradError):
        OperonBackend(**options)


def test_bad_seed_raises():
    with pytest.raises(SymgradError, match="seed"):
        OperonBackend().search(exact_problem("x0 + x1", 2, 0, 1, n=50), seed=-1)


def test_options_mirror_the_backend_signature():
    """make_backend reads the backend's signature; OperonOptions must hold the same options and defaults."""
    params = [p for name, p in inspect.signature(OperonBackend.__init__).parameters.items() if name != "self"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    fields = dataclasses.fields(OperonOptions)
    assert [p.name for p in params] == [f.name for f in fields]
    assert [p.default for p in params] == [f.default for f in fields]


def test_options_are_normalised_and_frozen():
    backend = OperonBackend(operators=["+", "sin", "add"], complexity_weights={"/": 2, "variable": 0.5},
                            max_points=np.int64(10), time_limit=3)
    options = backend.options
    assert options == OperonOptions(operators=("add", "sin"), complexity_weights={"div": 2.0, "variable": 0.5},
                                    max_points=10, time_limit=3.0)
    assert type(options.max_points) is int and type(options.time_limit) is float
    assert OperonOptions().complexity_weights == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_length = 5
    with pytest.raises(SymgradError, match=r"^time_limit 0\.0 must be a finite number greater than 0$"):
        OperonOptions(time_limit=0)
