"""Measure Operon candidate evaluations per second on exact gradients (d = 3 and d = 6, 1000 points).

    python scripts/probe_operon_speed.py [--evaluations 20000] [--differences central forward]
                                         [--objectives pareto single]

Each line: inputs, objective, finite-difference scheme, evaluations, seconds of the evolutionary
run, evaluations per second and the best training L reached. Tree sizes are the GP's own, so the
rate depends on the objective (NSGA-II keeps smaller trees).
"""

from __future__ import annotations

import argparse

import numpy as np

from symgrad.expressions import gradient_function, parse_formula
from symgrad.search.base import SearchProblem
from symgrad.search.operon.backend import OperonBackend

FORMULAS = {3: "x0**2 + sin(x1 + x2)", 6: "x0*x1/((x2 - x3)**2 + (x4 - x5)**2)"}


def exact_problem(formula: str, d: int, n: int = 1000, seed: int = 0) -> SearchProblem:
    names = tuple(f"x{i}" for i in range(d))
    grad = gradient_function(parse_formula(formula, names), names)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 2.0, (2 * n, d))
    g = grad(x)
    directions = g / np.linalg.norm(g, axis=1, keepdims=True)
    return SearchProblem(x[:n], directions[:n], x[n:], directions[n:], names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=20000)
    parser.add_argument("--differences", nargs="+", default=["central", "forward"])
    parser.add_argument("--objectives", nargs="+", default=["pareto", "single"])
    args = parser.parse_args()
    for d, formula in FORMULAS.items():
        problem = exact_problem(formula, d)
        for objective in args.objectives:
            for scheme in args.differences:
                backend = OperonBackend(population_size=500, generations=10**6, time_limit=None,
                                        max_evaluations=args.evaluations, finite_differences=scheme,
                                        objective=objective, polish=False)
                stats = backend.search(problem, seed=0).info
                print(f"d={d} {objective:6s} {scheme:8s} evaluations={stats['evaluations']} "
                      f"seconds={stats['seconds']:.2f} per_second={stats['evaluations'] / stats['seconds']:.0f} "
                      f"best_L={stats['best_train_loss']:.3g}", flush=True)


if __name__ == "__main__":
    main()
