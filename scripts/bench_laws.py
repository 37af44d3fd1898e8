"""Benchmark on regime rules in their natural units: dimensionless numbers and ratios from fluids,
optics, finance and medicine, each with unused columns, run with and without ``data.units``.

    python scripts/bench_laws.py [--rules bmi reynolds ...] [--jobs 2] [--seeds 0]
                                 [--set search.options.time_limit=60] [--units both|on|off] [--list]

Each rule is sampled as a CSV (uniform points on a box in the columns' own units; labels
1[law(x)(1 + 0.01 eps) > t] with the law's own threshold t, e.g. BMI > 25) and run end to end as a
user would (``symgrad.pipeline`` with ``data.path``), once without and once with ``data.units``.
One markdown row per (rule, seed, units): the chosen formula, its nodes, the nodes of the law's
simplest boundary form (e.g. ``weight_kg/height_m**2`` for BMI, 5), the verdict, faithful L (the
chosen formula against the law's gradients on the law's decision surface, in units of each
column's range; < 0.01 is faithful), whether the chosen formula is the law's group itself (a
product of powers with the law's level sets) and the statement's inequality. The summary gives,
per units setting, the rules recovered faithfully, those no larger than the law's form + 2 nodes,
and those reporting the group itself.
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


@dataclass(frozen=True)
class Column:
    name: str
    low: float
    high: float
    unit: str


@dataclass(frozen=True)
class Rule:
    """One regime rule.

    Attributes:
        id: short name.
        field: where it comes from.
        columns: every column of the CSV, used and unused.
        law: the quantity over the column names; class 1 where it exceeds ``threshold``.
        threshold: the law's own threshold, in the quantity's units.
        form: the law's simplest boundary form (the group without constants), for the node count.
        note: the rule in words.
    """

    id: str
    field: str
    columns: tuple[Column, ...]
    law: str
    threshold: float
    form: str
    note: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


RULES: tuple[Rule, ...] = (
    Rule("bmi", "medicine",
         (Column("weight_kg", 40, 130, "kg"), Column("height_m", 1.45, 2.0, "m"),
          Column("age_years", 18, 80, "year"), Column("systolic_mmHg", 90, 170, "mmHg")),
         "weight_kg/height_m**2", 25.0, "weight_kg/height_m**2", "BMI > 25 kg/m^2 (overweight)"),
    Rule("cardiac_index", "medicine",
         (Column("cardiac_output", 2.5, 8.0, "L/min"), Column("body_surface", 1.4, 2.4, "m**2"),
          Column("heart_rate", 50, 110, "1/min"), Column("age_years", 18, 85, "year")),
         "cardiac_output/body_surface", 3.0, "cardiac_output/body_surface", "cardiac index CO / BSA > 3 L/min/m^2"),
    Rule("reynolds", "fluids",
         (Column("density", 700, 1300, "kg/m**3"), Column("velocity", 0.05, 0.6, "m/s"),
          Column("diameter", 0.005, 0.05, "m"), Column("viscosity", 0.0008, 0.006, "Pa*s"),
          Column("temperature", 280, 350, "K"), Column("roughness", 1e-6, 1e-4, "m")),
         "density*velocity*diameter/viscosity", 2300.0, "density*velocity*diameter/viscosity",
         "Reynolds number rho v D / mu > 2300 (turbulent pipe flow)"),
    Rule("froude", "fluids",
         (Column("velocity", 0.3, 6.0, "m/s"), Column("depth", 0.1, 3.0, "m"),
          Column("width", 1, 20, "m"), Column("temperature", 275, 300, "K")),
         "velocity/sqrt(9.81*depth)", 1.0, "velocity/sqrt(depth)", "Froude number v / sqrt(g h) > 1 (supercritical)"),
    Rule("mach", "fluids",
         (Column("speed", 150, 550, "m/s"), Column("temp_K", 200, 320, "K"),
          Column("altitude", 0, 12000, "m"), Column("pressure", 20000, 101000, "Pa")),
         "speed/sqrt(1.4*287*temp_K)", 1.0, "speed/sqrt(temp_K)", "Mach number v / sqrt(gamma R T) > 1"),
    Rule("lift", "fluids",
         (Column("air_density", 0.9, 1.3, "kg/m**3"), Column("airspeed", 25, 60, "m/s"),
          Column("wing_area", 10, 20, "m**2"), Column("lift_coef", 0.3, 1.2, "1"), Column("mass", 500, 1500, "kg"),
          Column("fuel", 20, 200, "L"), Column("temp", 250, 300, "K")),
         "0.5*air_density*airspeed**2*wing_area*lift_coef/(9.81*mass)", 1.0,
         "air_density*airspeed**2*wing_area*lift_coef/mass", "lift 0.5 rho v^2 S C_L > m g"),
    Rule("f_number", "optics",
         (Column("focal_mm", 10, 200, "mm"), Column("aperture_mm", 3, 50, "mm"),
          Column("sensor_mm", 20, 45, "mm"), Column("exposure_s", 0.001, 0.1, "s")),
         "focal_mm/aperture_mm", 5.6, "focal_mm/aperture_mm", "f-number f / D > 5.6"),
    Rule("rayleigh", "optics",
         (Column("separation", 1.0, 12.0, "urad"), Column("aperture", 0.05, 0.3, "m"),
          Column("wavelength", 400, 700, "nm"), Column("exposure", 1, 60, "s"),
          Column("seeing", 0.5, 2.0, "1")),
         "separation*1e-6*aperture/(wavelength*1e-9)", 1.22, "separation*aperture/wavelength",
         "Rayleigh criterion theta D / lambda > 1.22 (resolved)"),
    Rule("pe_ratio", "finance",
         (Column("price", 5, 200, "USD"), Column("eps", 0.5, 12, "USD"),
          Column("dividend_yield", 0, 0.06, "1"), Column("volume", 1e4, 1e6, "1")),
         "price/eps", 20.0, "price/eps", "price / earnings > 20"),
    Rule("debt_income", "finance",
         (Column("debt", 200, 3500, "USD"), Column("income", 2000, 10000, "USD"),
          Column("credit_score", 500, 850, "1"), Column("age", 21, 70, "year")),
         "debt/income", 0.36, "debt/income", "debt-to-income > 0.36"),
)


def law_sample(rule: Rule, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n uniform points on the rule's box and labels 1[law (1 + 0.01 eps) > threshold]."""
    from symgrad.expressions import parse_formula, value_function

    rng = np.random.default_rng(seed)
    low = np.array([c.low for c in rule.columns])
    high = np.array([c.high for c in rule.columns])
    x = rng.uniform(low, high, size=(n, len(rule.columns)))
    g = value_function(parse_formula(rule.law, rule.names), rule.names)(x)
    y = (g * (1 + 0.01 * rng.standard_normal(n)) > rule.threshold).astype(int)
    return x, y


def write_csv(rule: Rule, path: Path, seed: int, n: int = 10_000) -> None:
    x, y = law_sample(rule, n, seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*rule.names, "label"])
        writer.writerows([[*(f"{v:.6g}" for v in row), int(label)] for row, label in zip(x, y)])


def faithful_loss(rule: Rule, expression: str, seed: int = 0, n: int = 4000) -> float:
    """L of ``expression`` against the law's gradients on points of the law's decision surface,
    in units of each column's range (the generalisation benchmark's "faithful L")."""
    from symgrad.expressions import gradient_function, parse_formula, value_function
    from symgrad.search.loss import alignment_loss, unit_rows

    names = rule.names
    law = parse_formula(rule.law, names)
    rng = np.random.default_rng(seed + 7)
    low = np.array([c.low for c in rule.columns])
    high = np.array([c.high for c in rule.columns])
    x = rng.uniform(low, high, size=(20 * n, len(names)))
    g = value_function(law, names)(x)
    spread = np.quantile(np.abs(g - rule.threshold), 0.05)
    x = x[np.abs(g - rule.threshold) <= spread][:n]
    width = high - low
    with np.errstate(all="ignore"):
        truth = gradient_function(law, names)(x) * width
        found = gradient_function(parse_formula(expression, names), names)(x) * width
    return alignment_loss(found, unit_rows(truth))


def is_group(rule: Rule, expression: str) -> bool:
    """Whether ``expression`` is the law's group itself: a product of powers of columns (no sum,
    no log) whose level sets are the law's (exponents proportional to the law's)."""
    import sympy as sp

    from symgrad.expressions import parse_formula

    names = rule.names
    expr = parse_formula(expression, names)
    if expr.is_Add or any(isinstance(a, sp.Function) for a in sp.preorder_traversal(expr)):
        return False
    law = parse_formula(rule.form, names)
    powers = [expr.as_powers_dict(), law.as_powers_dict()]
    vectors = [np.array([float(p.get(sp.Symbol(n, real=True), p.get(sp.Symbol(n), 0))) for n in names])
               for p in powers]
    if not vectors[0].any():
        return False
    ratio = vectors[0] @ vectors[1] / (vectors[1] @ vectors[1])
    return bool(np.allclose(vectors[0], ratio * vectors[1], atol=1e-9))


def run_rule(rule: Rule, seed: int, units: bool, overrides: list[str], scratch: str) -> dict:
    from symgrad.config import load_config
    from symgrad.expressions import complexity, parse_formula
    from symgrad.pipeline import interpret

    start = time.perf_counter()
    folder = Path(scratch) / f"{rule.id}-{seed}-{'units' if units else 'plain'}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.csv"
    write_csv(rule, path, seed)
    settings = [f"data.path={path}", "data.label=label", f"seed={seed}", "progress=false", *overrides]
    if units:
        settings.append("data.units={" + ", ".join(f"{c.name}: '{c.unit}'" for c in rule.columns) + "}")
    config = load_config(None, settings)
    row = {"id": rule.id, "field": rule.field, "seed": seed, "units": units, "note": rule.note,
           "law_nodes": complexity(parse_formula(rule.form, rule.names))}
    try:
        run = interpret(config, out=folder / "run", progress=None)
    except Exception as error:  # one failing rule must not end the benchmark
        row.update(error=f"{type(error).__name__}: {str(error)[:120]}", seconds=time.perf_counter() - start)
        return row
    best = run.best
    row.update(accuracy=run.result["model"]["test_accuracy"], verdict=run.result["verdict"]["kind"],
               seconds=time.perf_counter() - start, search=run.result["timings"]["search"],
               formula=best.expression if best else "-", nodes=best.complexity if best else None,
               statement=run.statement or "")
    if best is not None and set(run.features) == set(rule.names):  # no column renamed
        row.update(faithful=faithful_loss(rule, best.expression, seed), group=is_group(rule, best.expression))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", nargs="+", default=None, help="ids to run (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    parser.add_argument("--units", choices=("both", "on", "off"), default="both")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override")
    parser.add_argument("--list", action="store_true", help="list the rules and exit")
    args = parser.parse_args()
    if args.list:
        for rule in RULES:
            print(f"{rule.id:14s} {rule.field:9s} {len(rule.columns)} columns  {rule.note}")
        return
    unknown = set(args.rules or ()) - {r.id for r in RULES}
    if unknown:
        parser.error(f"unknown rules {sorted(unknown)}; --list shows them")
    chosen = [r for r in RULES if args.rules is None or r.id in args.rules]
    settings = {"both": (False, True), "on": (True,), "off": (False,)}[args.units]
    print(f"# {datetime.date.today()}  {platform.machine()}  {os.cpu_count()} cores  jobs={args.jobs}  "
          f"{len(chosen)} rules x {len(args.seeds)} seeds x units {args.units}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        work = [(rule, seed, units) for rule in chosen for seed in args.seeds for units in settings]
        context = multiprocessing.get_context("spawn")  # JAX must not be forked
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
            futures = [pool.submit(run_rule, rule, seed, units, args.overrides, scratch) for rule, seed, units in work]
            for future in concurrent.futures.as_completed(futures):
                row = future.result()
                rows.append(row)
                print(f"  done {row['id']} seed {row['seed']} units {row['units']} ({row.get('seconds', 0):.0f} s): "
                      f"{row.get('formula', row.get('error'))}", flush=True)
    order = {r.id: k for k, r in enumerate(RULES)}
    rows.sort(key=lambda r: (order[r["id"]], r["seed"], r["units"]))
    header = ["rule", "field", "seed", "units", "test acc", "formula", "nodes", "law's form", "verdict", "faithful L",
              "group", "search s", "statement"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        if "error" in r:
            units = "yes" if r["units"] else "no"
            print(f"| {r['id']} | {r['field']} | {r['seed']} | {units} | - | {r['error']} | - | {r['law_nodes']} | "
                  "error | - | - | - | - |")
            continue
        statement = r["statement"].split(": the network predicts ")[-1]
        print(f"| {r['id']} | {r['field']} | {r['seed']} | {'yes' if r['units'] else 'no'} | {r['accuracy']:.3f} | "
              f"`{r['formula'][:60]}` | {r['nodes']} | {r['law_nodes']} | {r['verdict']} | "
              f"{r.get('faithful', float('nan')):.2g} | {'yes' if r.get('group') else 'no'} | {r['search']:.1f} | "
              f"{statement[:80]} |")
    for units in settings:
        part = [r for r in rows if r["units"] == units and "error" not in r]
        faithful = [r for r in part if r["verdict"] == "faithful" and r.get("faithful", 1.0) < 0.01]
        short = [r for r in part if r["nodes"] is not None and r["nodes"] <= r["law_nodes"] + 2]
        groups = [r for r in part if r.get("group")]
        print(f"\nunits {'given' if units else 'not given'}: faithful {len(faithful)}/{len(part)}; "
              f"no larger than the law's form + 2 nodes {len(short)}/{len(part)}; the group itself "
              f"{len(groups)}/{len(part)}; errors {sum('error' in r for r in rows if r['units'] == units)}")


if __name__ == "__main__":
    main()
