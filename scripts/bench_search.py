"""Side-by-side benchmark of the search backends on exact, noisy and trained-network gradients.

    python scripts/bench_search.py [--groups a b c] [--backends library operon auto]
                                   [--seeds 0 1 2] [--quick]

Groups:
    a: exact gradient directions of known formulas (1000 search and 1000 held-out points).
    b: the same directions with isotropic Gaussian noise of relative size 0.05, renormalised.
    c: normalised output-logit gradients of a network trained as the pipeline does with the
       default config (2x60 elu, 60 epochs, patience 10, 10000 samples, split 0.7/0.1/0.2), on
       paper concepts A, A1, B, C, D, E and seed15; one network per (concept, seed), shared
       by every backend.

Each case prints one markdown row: search seconds, faithful L (against the true gradients on
fresh points of the true decision surface) and exact L (over the whole domain), the symmetries
the auto backend found, and the formula ``symgrad.search.select.select`` picks from the front.
For groups a and b the truth is the generating formula, thresholded at its 75 % quantile over
the box (the median level set of an odd formula such as x0*x1 is the degenerate g = 0) unless
the case names its own threshold; groups a and b use the first of ``--seeds``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from symgrad.data.concepts import CONCEPTS, Concept, custom_concept, make_concept_dataset
from symgrad.data.tables import split_dataset
from symgrad.expressions import parse_formula, value_function
from symgrad.neurons import NeuronSpec, normalized_gradients
from symgrad.search import make_backend
from symgrad.search.base import SearchProblem
from symgrad.search.select import select
from symgrad.search.synthetic import exact_problem
from symgrad.sampling import subsample
from symgrad.network.train import accuracy, train_classifier
from symgrad.judging.truth import compare_with_truth

NOISE = 0.05
QUANTILE = 0.75
SEED15 = custom_concept("x0**2 + x1**2 + x2**2 - x3", 15, -2.0, 2.0, 3.0, concept_id="seed15")

# (case name, formula, d, low, high, threshold or None for the QUANTILE of g over the box)
FORMULA_CASES: tuple[tuple[str, str, int, float, float, float | None], ...] = (
    ("sphere2", "x0**2 + x1**2", 2, -2.0, 2.0, None),
    ("product", "x0*x1", 2, -2.0, 2.0, None),
    ("x0-sin", "x0 - sin(x1)", 2, -2.0, 2.0, None),
    ("ratio+", "x0/x1", 2, 0.5, 2.0, None),
    ("x0*exp", "x0*exp(x1)", 2, -2.0, 2.0, None),
    ("seed15", SEED15.formula, 15, -2.0, 2.0, SEED15.threshold),
)
PAPER_EXACT = ("B", "C", "D", "E")
PAPER_TRAINED = ("A", "A1", "B", "C", "D", "E", "seed15")

# the pipeline's default config (symgrad/config.py)
TRAINING = {"hidden": (60, 60), "activation": "elu", "epochs": 60, "batch_size": 128, "learning_rate": 3e-3,
            "weight_decay": 0.0, "patience": 10}
N_SAMPLES, SPLIT, BAND, N_POINTS = 10_000, (0.7, 0.1, 0.2), 9.2, 1000

OPTIONS = {"library": {}, "operon": {"max_evaluations": 100_000, "time_limit": 60}, "auto": {}}
QUICK_OPTIONS = {"library": {}, "operon": {"max_evaluations": 20_000},
                 "auto": {"gp_evaluations": 20_000, "gp_seeds": 1}}


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    seed: int
    concept: Concept
    problem: SearchProblem
    note: str = ""


def _threshold(formula: str, d: int, low: float, high: float) -> float:
    names = tuple(f"x{i}" for i in range(d))
    x = np.random.default_rng(0).uniform(low, high, (100_000, d))
    g = value_function(parse_formula(formula, names), names)(x)
    return float(f"{np.quantile(g[np.isfinite(g)], QUANTILE):.3g}")


def _paper_problem(concept: Concept, *, noise: float, seed: int, n: int = N_POINTS) -> SearchProblem:
    """Exact (optionally noisy) unit gradients of a concept on its own (possibly uneven) box."""
    return exact_problem(concept.formula, concept.n_features, concept.low, concept.high, n=n, noise=noise, seed=seed)


def formula_cases(group: str, seed: int) -> Iterator[Case]:
    """Groups a (exact) and b (noisy): the formula cases, then paper B, C, D, E."""
    noise = NOISE if group == "b" else 0.0
    for name, formula, d, low, high, threshold in FORMULA_CASES:
        t = _threshold(formula, d, low, high) if threshold is None else threshold
        concept = custom_concept(formula, d, low, high, t, concept_id=name)
        yield Case(group, name, seed, concept, exact_problem(formula, d, low, high, noise=noise, seed=seed))
    for concept_id in PAPER_EXACT:
        concept = CONCEPTS[concept_id]
        yield Case(group, concept_id, seed, concept, _paper_problem(concept, noise=noise, seed=seed))


def trained_case(concept_id: str, seed: int) -> Case:
    """Group c: train the default network on a concept and build the pipeline's SearchProblem."""
    concept = SEED15 if concept_id == "seed15" else CONCEPTS[concept_id]
    dataset = make_concept_dataset(concept, N_SAMPLES, seed=seed)
    split = split_dataset(dataset, fractions=SPLIT, seed=seed)
    start = time.perf_counter()
    classifier, _ = train_classifier(split.train, split.validation, seed=seed, **TRAINING)
    train_seconds = time.perf_counter() - start
    spec = NeuronSpec.output()
    rng = np.random.default_rng(seed)
    search = subsample(normalized_gradients(classifier, spec, split.train.x, band=BAND), N_POINTS, rng)
    holdout = subsample(normalized_gradients(classifier, spec, np.concatenate([split.validation.x, split.test.x]),
                                              band=BAND), N_POINTS, rng)
    problem = SearchProblem(search.x, search.directions, holdout.x, holdout.directions, dataset.feature_names,
                            margin=search.margin)
    note = f"acc {accuracy(classifier, split.test):.3f}, train {train_seconds:.0f} s, {len(search.x)} pts"
    return Case("c", concept_id, seed, concept, problem, note)


def _symmetries(info: dict[str, Any]) -> str:
    if "symmetries" not in info:
        return "-"
    found = [s["expression"] for s in info["symmetries"]]
    kept = info.get("screening", {}).get("kept")
    text = ", ".join(found) if found else "none"
    if kept is not None and len(kept) < len(info["screening"]["ranking"]):
        text += f" (screened to {', '.join(kept)})"
    return text


def run_case(case: Case, backend_name: str, options: dict[str, Any]) -> list[str]:
    """One table row for ``case`` searched by ``backend_name``."""
    backend = make_backend(backend_name, options)
    start = time.perf_counter()
    try:
        found = backend.search(case.problem, seed=case.seed)
        front = found.front
    except Exception as error:  # one failing case must not end a long benchmark
        seconds = time.perf_counter() - start
        return [case.group, case.name, str(case.seed), backend_name, f"{seconds:.1f}", "-", "-", "-",
                f"error: {type(error).__name__}: {str(error)[:120]}", case.note]
    seconds = time.perf_counter() - start
    if not len(front):
        return [case.group, case.name, str(case.seed), backend_name, f"{seconds:.1f}", "-", "-",
                _symmetries(found.info), "(empty front)", case.note]
    best = select(front)
    truth = compare_with_truth(best.expression, case.concept)
    faithful, exact = truth["faithful_loss"], truth["exact_loss"]
    mark = " ✓" if truth["recovered_faithful"] else ""
    return [case.group, case.name, str(case.seed), backend_name, f"{seconds:.1f}", f"{faithful:.2g}{mark}",
            f"{exact:.2g}", _symmetries(found.info), f"`{best.expression}`", case.note]


def cases(groups: list[str], seeds: list[int]) -> Iterator[Case]:
    for group in groups:
        if group in ("a", "b"):
            yield from formula_cases(group, seeds[0])
        else:
            # seed-major order: an interrupted run still has every concept once
            for seed in seeds:
                for concept_id in PAPER_TRAINED:
                    yield trained_case(concept_id, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    parser.add_argument("--backends", nargs="+", default=["library", "operon", "auto"],
                        choices=["library", "operon", "auto"])
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default 0 1 2 (0 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smaller GP budgets and two seeds")
    args = parser.parse_args()
    seeds = args.seeds if args.seeds is not None else ([0, 1] if args.quick else [0, 1, 2])
    options = QUICK_OPTIONS if args.quick else OPTIONS
    print(f"# {datetime.datetime.now():%Y-%m-%d %H:%M}  {platform.node()} {platform.machine()} "
          f"{platform.processor() or ''}  {os.cpu_count()} cores  load {os.getloadavg()[0]:.1f}  "
          f"groups={' '.join(args.groups)} seeds={' '.join(map(str, seeds))} "
          f"options={ {b: options[b] for b in args.backends} }", flush=True)
    print("\n✓ = faithful L < 0.01 (recovered on the decision surface).\n")
    header = ["group", "case", "seed", "backend", "seconds", "faithful L", "exact L", "symmetries", "formula", "note"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    for case in cases(args.groups, seeds):
        for backend_name in args.backends:
            row = run_case(case, backend_name, dict(options[backend_name]))
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
