"""Benchmark on concepts the method was not developed on: textbook formulas, many terms, label
noise, mixed units, irrelevant inputs, and negative controls without a short formula.

    python scripts/bench_generalisation.py [--concepts ke gravity ...] [--jobs 16] [--seeds 0]
                                           [--set search.options.time_limit=60] [--list]

Each concept is sampled with the package's concept generator (uniform points on a box with one
range per input, labels 1[g(x)(1 + 0.01 eps) > t] with t the median of g, then a fraction of
labels flipped), written to a CSV and run end to end as a user would (``symgrad.pipeline``
with ``data.path``): a network is trained per concept and its output logit is interpreted.
One markdown row per (concept, seed): faithful L (the chosen formula against the true gradients
on the true decision surface, in units of each input's range), exact L (over the whole box),
L near (the chosen formula's held-out L near the boundary, against the network's directions:
what the verdict judges), the network's floor, truth L near (the true formula's L on the same
points: how far the truth itself is from the network), the verdict, search and total seconds,
and the formula. Negative controls (random labels, or a random smooth field of 30 Fourier
terms) have no short formula: their verdict should be "not_found" (or "cannot_judge"). The
summary gives the fraction of formula concepts recovered faithfully (faithful L < 0.01), the
precision of the "faithful" verdict (faithful verdicts whose formula is truly faithful), the
true formulas that would be called faithful by the floor rule (truth L near within 5x of the
floor), the approximate verdicts, and the negative controls reported as not found; then the
boundary departure of the faithful formulas, and the verdicts the same runs get without the
boundary check (the rule before issue 18: every verdict it changed, and that rule's precision).

Concepts run in parallel worker processes (``--jobs``); the table is printed at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import datetime
import multiprocessing
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symgrad.data.concepts import Concept, make_concept_dataset
from symgrad.expressions import gradient_function, parse_formula, value_function
from symgrad.judging.verdict import BOUNDARY_MAX_DEPARTURE


@dataclass(frozen=True)
class Case:
    """One benchmark concept.

    Attributes:
        id: short name.
        formula: the truth over x0..x{d-1}.
        low, high: the box, one bound per input (different units are different ranges).
        flip: fraction of labels flipped.
        control: a negative control (no short formula; the verdict should be not_found).
        note: what the case tests.
    """

    id: str
    formula: str
    low: tuple[float, ...]
    high: tuple[float, ...]
    flip: float = 0.0
    control: bool = False
    note: str = ""

    @property
    def d(self) -> int:
        return len(self.low)


def _fourier_field(d: int, terms: int, seed: int) -> str:
    """A smooth random function of d inputs on [-1, 1]^d: no short formula describes it."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(terms):
        w = rng.normal(0, 2.5, d).round(2)
        a, b = round(float(rng.normal(0, 1)), 2), round(float(rng.uniform(0, 6.28)), 2)
        arg = " + ".join(f"{w[i]}*x{i}" for i in range(d))
        parts.append(f"{a}*cos({arg} + {b})")
    return " + ".join(parts)


def _sum_of_squares(d: int) -> str:
    return " + ".join(f"{1 + i % 3}*x{i}**2" for i in range(d))


CASES: tuple[Case, ...] = (
    # textbook physics and engineering, inputs in their own units
    Case("kinetic", "x0*x1**2", (1, 0.1), (10, 3), note="m v^2"),
    Case("gravity", "x0*x1/x2**2", (1, 1, 1), (10, 10, 5), note="m1 m2 / r^2"),
    Case("gas", "x0*x1/x2", (0.5, 250, 0.01), (2, 350, 0.05), note="n T / V, units differ 10^4-fold"),
    Case("pendulum", "sqrt(x0/x1)", (0.1, 1.6), (2, 25), note="sqrt(L / g)"),
    Case("power", "x0**2/x1", (1, 10), (12, 1000), note="V^2 / R"),
    Case("energy", "x0*x1**2/2 + 9.81*x0*x2", (1, 0, 0), (5, 5, 2), note="kinetic + potential energy"),
    Case("lens", "1/x0 + 1/x1", (0.1, 0.1), (1, 1), note="1/u + 1/v"),
    Case("bernoulli", "x0 + x1*x2**2/2 + 9.81*x1*x3", (1e5, 900, 0, 0), (1.02e5, 1100, 5, 3),
         note="p + rho v^2/2 + rho g h, pressure in Pa"),
    Case("distance3", "sqrt(x0**2 + x1**2 + x2**2)", (-2, -2, -2), (2, 2, 2), note="Euclidean norm"),
    Case("magnitude", "x0*sqrt(x1**2 + x2**2 + x3**2)", (0.5, -1, -1, -1), (2, 1, 1, 1), note="m |b|"),
    Case("beam", "x0*x1**3/(x2*x3)", (100, 1, 1e9, 1e-6), (1000, 5, 2e11, 1e-4),
         note="F L^3 / (E I), units differ 10^15-fold"),
    Case("drag", "x0*x1*x2**2", (1, 0.5, 1), (1.3, 2, 30), note="rho A v^2"),
    Case("escape", "sqrt(2*x0/x1)", (1, 1), (10, 10), note="sqrt(2 G M / r)"),
    Case("bmi", "x0/x1**2", (40, 1.5), (120, 2.0), note="mass / height^2"),
    Case("force9", "x0*x1/((x2 - x3)**2 + (x4 - x5)**2 + (x6 - x7)**2)", (1,) * 2 + (0,) * 6, (2,) * 2 + (1,) * 6,
         note="force law with coordinate differences, 8 inputs"),
    Case("oscillator", "x0*(x1**2 + x2**2)*x3**2", (0.5,) * 4, (2,) * 4, note="m (w1^2 + w2^2) L^2"),
    Case("coulomb", "x0*x1/(x2**2 + x3**2)", (1, 1, 0.5, 0.5), (3, 3, 2, 2), note="q1 q2 / r^2 in the plane"),
    Case("lorentz", "x0/sqrt(1 - x1**2)", (1, 0), (2, 0.95), note="m / sqrt(1 - v^2)"),
    Case("doppler", "x0*(1 + x1)/(1 - x2)", (1, 0, 0), (2, 0.5, 0.5), note="f (1 + v) / (1 - u)"),
    Case("resistors", "x0*x1/(x0 + x1) + x2", (1, 1, 0), (10, 10, 5), note="parallel resistors plus one in series"),
    # biology and chemistry
    Case("michaelis", "x0*x1/(x2 + x1)", (1, 0.1, 0.5), (5, 10, 5), note="Vmax S / (Km + S)"),
    Case("logistic", "x0*x1*(1 - x1/x2)", (0.1, 1, 50), (1, 40, 100), note="r N (1 - N/K)"),
    Case("arrhenius", "x0*exp(-x1/x2)", (1, 1000, 300), (10, 5000, 400), note="A exp(-Ea / T)"),
    Case("hill", "x0**2/(x1**2 + x0**2)", (0.1, 0.1), (2, 2), note="Hill equation n=2"),
    # many terms, products and ratios of powers
    Case("sum8", _sum_of_squares(8), (-1,) * 8, (1,) * 8, note="8 similar terms"),
    Case("sum6mixed", "x0**2 + x1**2 + x2 + sin(x3) + x4*x5 + exp(x5)", (-1,) * 6, (1,) * 6, note="6 mixed terms"),
    Case("monomial", "x0**2*x1*x2**3", (0.5, 0.5, 0.5), (2, 2, 2), note="product of powers"),
    Case("ratio4", "x0*x1**2/(x2*x3)", (0.5,) * 4, (2,) * 4, note="ratio of powers"),
    # irrelevant inputs
    Case("chain3", "x3**2 + sin(x0 + x1 + x2)", (-2,) * 4, (0,) * 4, note="sine of a sum of three inputs"),
    Case("irrelevant5", "x0**2 + x1", (-1,) * 7, (1,) * 7, note="5 irrelevant inputs"),
    Case("irrelevant6", "x0*x1 + x2", (0,) * 9, (2,) * 9, note="6 irrelevant inputs"),
    # label noise
    Case("flip5", "x0**2 + 2*x1**2", (-1, -1), (1, 1), flip=0.05, note="5% flipped labels"),
    Case("flip10", "x0 + x1**2 + x2", (-1, -1, -1), (1, 1, 1), flip=0.10, note="10% flipped labels"),
    Case("flip20", "x0*x1", (0.2, 0.2), (2, 2), flip=0.20, note="20% flipped labels"),
    # very different units
    Case("units100", "x0**2 + 2*(x1/100)**2", (-1, -100), (1, 100), note="one column x100"),
    Case("units1000", "x0 + x1/1000 + x2**2", (0, 0, -1), (5, 5000, 1), note="one column x1000"),
    Case("unitsmix", "x0*x1 + x2", (0.001, 100, 0), (0.01, 1000, 1), note="ranges 1e-3 to 1e3"),
    # negative controls: no short formula
    Case("random2", "x0", (-1, -1), (1, 1), flip=0.5, control=True, note="random labels"),
    Case("random5", "x0", (-1,) * 5, (1,) * 5, flip=0.5, control=True, note="random labels"),
    Case("field2", _fourier_field(2, 30, 1), (-1, -1), (1, 1), control=True, note="random smooth field, 30 terms"),
    Case("field4", _fourier_field(4, 30, 2), (-1,) * 4, (1,) * 4, control=True, note="random smooth field, 30 terms"),
    Case("random3", "x0", (-1,) * 3, (1,) * 3, flip=0.5, control=True, note="random labels"),
    Case("field3", _fourier_field(3, 30, 3), (-1,) * 3, (1,) * 3, control=True, note="random smooth field, 30 terms"),
    Case("field6", _fourier_field(6, 30, 4), (-1,) * 6, (1,) * 6, control=True, note="random smooth field, 30 terms"),
)


def concept_of(case: Case) -> Concept:
    """The case as a package Concept, thresholded at the median of g over its box."""
    names = tuple(f"x{i}" for i in range(case.d))
    g = value_function(parse_formula(case.formula, names), names)
    x = np.random.default_rng(0).uniform(case.low, case.high, size=(20_000, case.d))
    threshold = float(np.median(g(x)))
    return Concept(case.id, case.formula, case.d, tuple(map(float, case.low)), tuple(map(float, case.high)), threshold)


def run_case(case: Case, seed: int, overrides: list[str], scratch: str) -> dict:
    """Sample, write a CSV, run the pipeline and judge the chosen formula against the truth."""
    from symgrad.config import load_config
    from symgrad.pipeline import interpret
    from symgrad.judging.truth import compare_with_truth

    start = time.perf_counter()
    concept = concept_of(case)
    data = make_concept_dataset(concept, 10_000, seed=seed, flip=case.flip)
    folder = Path(scratch) / f"{case.id}-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*data.feature_names, "label"])
        writer.writerows([[*map(repr, map(float, row)), int(y)] for row, y in zip(data.x, data.y)])
    config = load_config(None, [f"data.path={path}", "data.label=label", f"seed={seed}", "progress=false",
                                *overrides])
    row = {"id": case.id, "seed": seed, "d": case.d, "control": case.control, "note": case.note}
    try:
        run = interpret(config, out=folder / "run", progress=None)
    except Exception as error:  # one failing concept must not end the benchmark
        row.update(error=f"{type(error).__name__}: {str(error)[:100]}", seconds=time.perf_counter() - start)
        return row
    r = run.result
    if not case.control:
        row["truth_near"] = truth_near_loss(case, run.path)
    row["floor"] = r.get("floor", {}).get("value")
    row.update(accuracy=r["model"]["test_accuracy"], search=r["timings"]["search"],
               seconds=time.perf_counter() - start, verdict=r["verdict"]["kind"],
               formula=run.best.expression if run.best else "-",
               loss=run.best.metrics.get("loss_near", run.best.loss) if run.best else float("nan"),
               cut=bool(r["search"]["info"].get("cut_short")))
    if run.best is not None and not case.control:
        truth = compare_with_truth(run.best.expression, concept)
        row.update(faithful=truth["faithful_loss"], exact=truth["exact_loss"])
    row.update(without_boundary(run))
    if not case.control and row["formula_before"] not in ("-", row["formula"]):
        row["faithful_before"] = compare_with_truth(row["formula_before"], concept)["faithful_loss"]
    elif not case.control:
        row["faithful_before"] = row.get("faithful")
    return row


def without_boundary(run) -> dict:
    """The verdict the same run would get without the boundary check (the rule before issue 18:
    the front judged again with every formula's boundary figures removed), and the chosen
    formula's boundary departure; a formula the check demoted may be replaced by another."""
    from symgrad.judging.verdict import conclude
    from symgrad.search.base import Entry, Front

    record = run.result
    keys = ("boundary_departure", "boundary_departure_median", "boundary_departure_where", "n_boundary_projected")
    front = Front(tuple(Entry.from_dict({**e, "metrics": {k: v for k, v in (e.get("metrics") or {}).items()
                                                            if k not in keys}})
                        for e in record.get("front", [])))
    selection = record.get("selection") or {}
    rule = selection.get("rule") if selection.get("rule") in ("knee", "elbow", "best", "simplest") else "knee"
    best, conclusion = conclude(front, neuron=run.record.neuron, floor=run.record.floor,
                                search_info=record["search"].get("info"), rule=rule, factor=selection.get("factor"))
    return {"verdict_before": conclusion.verdict.kind, "formula_before": best.expression if best else "-",
            "departure": (run.best.metrics.get("boundary_departure") if run.best else None)}


def truth_near_loss(case: Case, run_dir: Path) -> float:
    """The true formula's held-out L near the boundary on the network's own directions: what the
    verdict's L of the truth would be (the floor the truth itself reaches on this network)."""
    from symgrad.judging.floor import near_boundary, near_loss
    from symgrad.search.loss import unit_rows

    arrays = np.load(run_dir / "gradients.npz")
    names = tuple(f"x{i}" for i in range(case.d))
    x, scale = arrays["x_holdout"], arrays["scale"]
    near = near_boundary(arrays["margin_holdout"], len(x))
    with np.errstate(all="ignore"):
        gradients = gradient_function(parse_formula(case.formula, names), names)(x) * scale
    return near_loss(gradients, unit_rows(arrays["directions_holdout"] * scale), near)


def _fmt(value, spec: str = ".2g") -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concepts", nargs="+", default=None, help="ids to run (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--jobs", type=int, default=1, help="concepts run in parallel processes")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override")
    parser.add_argument("--list", action="store_true", help="list the concepts and exit")
    args = parser.parse_args()
    if args.list:
        for case in CASES:
            print(f"{case.id:12s} d={case.d} {'control ' if case.control else ''}{case.note}: {case.formula[:80]}")
        return
    chosen = [c for c in CASES if args.concepts is None or c.id in args.concepts]
    unknown = set(args.concepts or ()) - {c.id for c in CASES}
    if unknown:
        parser.error(f"unknown concepts {sorted(unknown)}; --list shows them")
    print(f"# {datetime.date.today()}  {platform.machine()}  {os.cpu_count()} cores  jobs={args.jobs}  "
          f"{len(chosen)} concepts x {len(args.seeds)} seeds")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = [(case, seed) for case in chosen for seed in args.seeds]
        context = multiprocessing.get_context("spawn")  # JAX must not be forked
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
            futures = [pool.submit(run_case, case, seed, args.overrides, scratch) for case, seed in work]
            for future in concurrent.futures.as_completed(futures):
                row = future.result()
                rows.append(row)
                print(f"  done {row['id']} seed {row['seed']} ({row.get('seconds', 0):.0f} s)", flush=True)
    order = {c.id: k for k, c in enumerate(CASES)}
    rows.sort(key=lambda r: (order[r["id"]], r["seed"]))
    header = ["concept", "seed", "d", "test acc", "faithful L", "exact L", "L near", "floor", "truth L near",
              "verdict", "search s", "total s", "formula", "what"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        if "error" in r:
            print(f"| {r['id']} | {r['seed']} | {r['d']} | - | - | - | - | - | - | error | - | {r['seconds']:.0f} | "
                  f"{r['error']} | {r['note']} |")
            continue
        verdict = r["verdict"] + (" (cut)" if r["cut"] else "")
        print(f"| {r['id']} | {r['seed']} | {r['d']} | {r['accuracy']:.3f} | {_fmt(r.get('faithful'))} | "
              f"{_fmt(r.get('exact'))} | {_fmt(r['loss'])} | {_fmt(r.get('floor'))} | {_fmt(r.get('truth_near'))} | "
              f"{verdict} | {r['search']:.1f} | {r['seconds']:.0f} | "
              f"`{r['formula'][:70]}` | {r['note']} |")
    formulas = [r for r in rows if not r["control"] and "error" not in r]
    controls = [r for r in rows if r["control"] and "error" not in r]
    faithful = [r for r in formulas if r.get("faithful", 1.0) < 0.01]
    said = [r for r in formulas if r["verdict"] == "faithful"]
    right = [r for r in said if r.get("faithful", 1.0) < 0.01]
    rejected = [r for r in controls if r["verdict"] in ("not_found", "cannot_judge")]
    searches = sorted(r["search"] for r in rows if "error" not in r)
    ratios = [r["truth_near"] / r["floor"] for r in formulas if r.get("floor") and r.get("truth_near") is not None]
    said_before = [r for r in formulas if r.get("verdict_before") == "faithful"]
    right_before = [r for r in said_before if (r.get("faithful_before") or 1.0) < 0.01]
    changed = [r for r in rows if "error" not in r and r.get("verdict_before") != r["verdict"]]
    departures = [(r["departure"], r["id"], r["seed"]) for r in formulas if r.get("departure") is not None
                  and r["verdict"] == "faithful"]
    if departures:
        top = max(departures)
        print(f"\nboundary departure of the faithful formulas (0.9 quantile, spreads): median "
              f"{np.median([d for d, *_ in departures]):.3f}, max {top[0]:.3f} ({top[1]} seed {top[2]}); above "
              f"{BOUNDARY_MAX_DEPARTURE}: {sum(d > BOUNDARY_MAX_DEPARTURE for d, *_ in departures)}")
    print(f"\nwithout the boundary check (same runs): 'faithful' verdicts truly faithful: "
          f"{len(right_before)}/{len(said_before)}; verdicts the check changed: "
          + (", ".join(f"{r['id']} s{r['seed']} {r['verdict_before']} -> {r['verdict']}" for r in changed) or "none"))
    print(f"\nfaithful (L < 0.01 on the true surface): {len(faithful)}/{len(formulas)}; "
          f"'faithful' verdicts truly faithful: {len(right)}/{len(said)}; "
          f"'approximate' verdicts: {sum(r['verdict'] == 'approximate' for r in formulas)}; "
          f"true formula within 5x of the floor: {sum(q <= 5 for q in ratios)}/{len(ratios)} "
          f"(truth L near / floor: median {np.median(ratios) if ratios else float('nan'):.2f}, "
          f"max {max(ratios) if ratios else float('nan'):.2f}); "
          f"negative controls not found: {len(rejected)}/{len(controls)}; "
          f"errors: {sum('error' in r for r in rows)}; "
          f"median search s: {np.median(searches) if searches else float('nan'):.1f}")


if __name__ == "__main__":
    main()
