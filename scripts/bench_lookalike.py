"""Look-alike benchmark: is a law told from its near misses on the same trained network?

    python scripts/bench_lookalike.py [--laws resonance sinc2 ...] [--jobs 2] [--seeds 0]
                                      [--search] [--json rows.jsonl] [--list]

Each law (a closed-form concept of the inputs) is sampled on its box (uniform points, labels
1[g(x)(1 + 0.01 eps) > t] with t the median of g, a fraction of labels flipped), and a network
is trained on it: the package's own MLP (2x60 ELU) or a scikit-learn ``MLPClassifier`` (2x60
ReLU in a ``Pipeline`` with a ``StandardScaler``) imported as ``symgrad.explain`` imports
networks trained elsewhere. The law and its near misses (a dropped factor, a difference for a
difference of squares, a rational or polynomial stand-in for a trig or exponential function, a
missing input, a linear stand-in) are then judged on that network exactly as a search result
is: the same held-out points, the same floor and the same verdict
(``symgrad.explain.judge_formulas``). With ``--search`` a short library search adds its
own front, so the floor is the one a real run would have.

One markdown row per (law, seed, formula): its L on the true decision surface (against the law;
every near miss is off by at least 0.01 there, the look-alikes of issue 18 by 0.013-0.017), its
L near the boundary, the network's floor, its boundary departure from the network's (0.9
quantile, in spreads), agreement, and the verdict with and without the boundary check (the
rule before issue 18, on the same figures). The summary gives the share of laws and of near
misses called faithful under both rules.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import multiprocessing
import os
import platform
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Law:
    """A law and its near misses.

    Attributes:
        id: short name.
        formula: the law over x0..x{d-1}.
        low, high: the box, one bound per input.
        misses: (kind, formula) near misses.
        flip: fraction of labels flipped.
        network: "elu" (symgrad's MLP) or "sklearn" (a scikit-learn 2x60 ReLU MLPClassifier).
        note: what the law is.
    """

    id: str
    formula: str
    low: tuple[float, ...]
    high: tuple[float, ...]
    misses: tuple[tuple[str, str], ...]
    flip: float = 0.0
    network: str = "elu"
    note: str = ""

    @property
    def d(self) -> int:
        return len(self.low)


def _pad(low: tuple[float, ...], high: tuple[float, ...], d: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The box with distractor inputs on [-1, 1] up to d inputs."""
    extra = d - len(low)
    return low + (-1.0,) * extra, high + (1.0,) * extra


LAWS: tuple[Law, ...] = (
    Law("resonance", "x0*x1/(x2*(x3**2 - x4**2))", (1, 1, 1.6, 2.6, 1.0), (2, 2, 2, 3, 2.2),
        (("difference for difference of squares", "x2*(x3 - x4)/(x0*x1)"),
         ("dropped factor", "x0*x1/(x3**2 - x4**2)"),
         ("dropped term", "x0*x1/(x2*x3*(x3 - x4))")), note="q E / (m (w0^2 - w^2))"),
    Law("sinc2", "x0*sin(x1*x2/2)**2/x2**2", (1, 0.5, 0.3), (2, 1.5, 2),
        (("rational stand-in for trig", "x0*x1**2/(4 + x1**2*x2**2)"),
         ("rational stand-in for trig", "x0*x1**2/(4 + x1**2*x2**2/1.2)")), note="sinc^2 resonance in (w - w0) t"),
    Law("conceptB-flip", "x0**2 + sin(x1 + x2)", (-2, -2, -2), (0, 0, 0),
        (("polynomial stand-in for trig", "x0**2 + (x1 + x2 + 1.2)**2/2"),
         ("dropped factor", "x0**2 + sin(x1 + x2/2)")), flip=0.1, note="concept B, 10% flipped labels"),
    Law("exp15", "exp(x0/2) - x5*x6", *_pad((-2, -1, -1, -1, -1, 0, 0), (2, 1, 1, 1, 1, 2, 2), 15),
        (("linear stand-in for exp", "x0 - 2*x5*x6"),
         ("rational stand-in for exp", "(1 + x0/2.5)**2 - x5*x6"),
         ("missing input", "exp(x0/2) - x5")), network="sklearn", note="15 inputs, 8 irrelevant"),
    Law("kinetic", "x0*x1**2 + x2", (1, 1, 0), (2, 2, 8),
        (("dropped power", "x0*x1 + x2"), ("missing input", "x1**2 + x2")), note="m v^2 plus an offset"),
    Law("gravity", "x0*x1/x2**2", (1, 1, 1), (10, 10, 5),
        (("dropped power", "x0*x1/x2"), ("missing input", "x0/x2**2")), note="m1 m2 / r^2"),
    Law("norm2", "sqrt(x0**2 + x1**2)", (1, 0), (2, 1),
        (("linear stand-in", "x0 + x1/2"), ("dropped square", "x0 + x1**2/1.7")), note="|v| in the plane"),
    Law("torque", "x0*sin(x1)", (0.5, 0.2), (2, 1.5),
        (("rational stand-in for trig", "x0*x1/(1 + x1**2/2)"), ("linear stand-in for trig", "x0*x1")),
        note="F sin(theta)"),
    Law("work", "x0*cos(x1)", (0.5, 0), (2, 1.2),
        (("rational stand-in for trig", "x0/(1 + x1**2/2)"), ("polynomial stand-in for trig", "x0*(1 - x1**2/3)")),
        note="F cos(theta)"),
    Law("squares3", "x0**2 - x1**2 + x2", (1, 0, -1), (2, 1, 1),
        (("difference for difference of squares", "x0 - x1 + x2"), ("missing input", "x0**2 - x1**2")),
        note="difference of squares plus a term"),
    Law("decay", "x0*exp(-x1)", (0.5, 0), (2, 1),
        (("rational stand-in for exp", "x0/(1 + x1)"), ("polynomial stand-in for exp", "x0*(1 - x1/2)**2")),
        note="N0 exp(-t)"),
    Law("divider", "x0/(x1 + x2)", (1, 0.5, 0.5), (3, 2, 2),
        (("missing input", "x0/x1"), ("linear stand-in", "x0 - 1.2*x1 - 1.2*x2")), flip=0.05, note="V / (R1 + R2), 5% flipped labels"),
    Law("michaelis", "x0*x1/(x2 + x1)", (1, 0.1, 0.5), (5, 10, 5),
        (("dropped term", "x0*x1/x2"), ("rational stand-in", "x0*x1/(1 + x1)")), note="Vmax S / (Km + S)"),
    Law("lorentz", "x0/sqrt(1 - x1**2)", (1, 0), (2, 0.8),
        (("polynomial stand-in", "x0*(1 + x1**2/2)"), ("rational stand-in", "x0/(1 - x1**2/2.2)")),
        flip=0.05, note="m / sqrt(1 - v^2), 5% flipped labels"),
    Law("cross", "x0*x1 - x2*x3", (0.5, 0.5, 0.5, 0.5), (2, 2, 2, 2),
        (("dropped factor", "x0*x1 - x2"), ("sum for product", "x0 + x1 - x2 - x3")), note="a d - b c"),
    Law("power", "x0**2*x1/x2", (0.5, 1.2, 0.5), (2, 2, 2),
        (("dropped power", "x0*x1/x2"), ("missing input", "x0**2/x2")), note="I^2 R / t"),
    Law("cosine", "cos(x0) + x1**2", (-1.5, -1), (1.5, 1),
        (("rational stand-in for trig", "1/(1 + x0**2/2) + x1**2"),
         ("dropped factor", "cos(x0) + x1**2/2")), note="cos plus a square"),
    Law("monomial3", "x0*x1*x2", (0.5, 0.5, 1.5), (2, 2, 2),
        (("missing input", "x0*x1"), ("sum for product", "x0 + x1 + x2")), note="product of three"),
    Law("weighted3", "x0**2 + 2*x1**2 + 3*x2**2", (-1, -1, -1), (1, 1, 1),
        (("missing factor", "x0**2 + 2*x1**2 + 2*x2**2"), ("dropped factors", "x0**2 + x1**2 + x2**2")),
        note="weighted sum of squares"),
    Law("growth", "exp(x0) - x1**2", (-1, -1), (1, 1),
        (("linear stand-in for exp", "x0 - 1.3*x1**2"), ("rational stand-in for exp", "1/(1 - x0/3) - x1**2")),
        note="exp minus a square"),
    Law("coulomb", "x0*x1/(x2**2 + x3**2)", (1, 1, 0.5, 1.5), (3, 3, 1.2, 2),
        (("missing input", "x0*x1/x3**2"), ("sum for sum of squares", "x0*x1/(x2 + x3)**2")), flip=0.05,
        note="q1 q2 / r^2, 5% flipped labels"),
    Law("pendulum", "sqrt(x0/x1) + x2", (0.1, 1.6, 0), (2, 25, 1),
        (("dropped factor", "sqrt(x0/x1) + x2/2"), ("dropped root", "x0/x1 + x2")), note="sqrt(L / g) plus a delay"),
    # networks trained elsewhere: scikit-learn 2x60 ReLU, rough piecewise-constant gradients
    Law("gravity-sk", "x0*x1/x2**2", *_pad((1, 1, 1), (10, 10, 5), 8),
        (("dropped power", "x0*x1/x2"), ("missing input", "x0/x2**2")), network="sklearn", note="m1 m2 / r^2"),
    Law("torque-sk", "x0*sin(x1)", *_pad((0.5, 0.2), (2, 1.5), 6),
        (("rational stand-in for trig", "x0*x1/(1 + x1**2/2)"), ("linear stand-in for trig", "x0*x1")),
        network="sklearn", note="F sin(theta)"),
    Law("squares-sk", "x0**2 - x1**2 + x2", *_pad((1, 0, -1), (2, 1, 1), 6),
        (("difference for difference of squares", "x0 - x1 + x2"), ("missing input", "x0**2 - x1**2")),
        network="sklearn", note="difference of squares, 3 irrelevant inputs"),
    Law("growth-sk", "exp(x0) - x1**2", *_pad((-1, -1), (1, 1), 10),
        (("linear stand-in for exp", "x0 - 1.3*x1**2"), ("rational stand-in for exp", "1/(1 - x0/3) - x1**2")),
        network="sklearn", note="exp minus a square"),
)

N_SAMPLES = 3000


def train_network(law: Law, seed: int):
    """The concept's data and a network trained on it (a ``Classifier``) plus its source."""
    from symgrad.data.concepts import Concept, make_concept_dataset
    from symgrad.data.tables import split_dataset
    from symgrad.expressions import parse_formula, value_function
    from symgrad.network.importers import import_model
    from symgrad.network.train import train_classifier

    names = tuple(f"x{i}" for i in range(law.d))
    g = value_function(parse_formula(law.formula, names), names)
    box = np.random.default_rng(0).uniform(law.low, law.high, size=(20_000, law.d))
    concept = Concept(law.id, law.formula, law.d, tuple(map(float, law.low)), tuple(map(float, law.high)),
                      float(np.median(g(box))))
    data = make_concept_dataset(concept, N_SAMPLES, seed=seed, flip=law.flip)
    if law.network == "sklearn":
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), MLPClassifier((60, 60), activation="relu", max_iter=300,
                                                              early_stopping=True, random_state=seed))
        model.fit(data.x, data.y)
        classifier = import_model(model, data.x)
    else:
        split = split_dataset(data, fractions=(0.8, 0.15, 0.05), seed=seed)
        classifier, _ = train_classifier(split.train, split.validation, hidden=(60, 60), activation="elu",
                                         epochs=40, seed=seed)
    return concept, data, classifier


def run_law(law: Law, seed: int, search: bool) -> list[dict]:
    """Judge the law and its near misses on one trained network."""
    from symgrad.explain import judge_formulas
    from symgrad.judging.verdict import verdict

    start = time.perf_counter()
    from symgrad.judging.truth import compare_with_truth

    concept, data, classifier = train_network(law, seed)
    trained = time.perf_counter() - start
    formulas = [law.formula, *(f for _, f in law.misses)]
    judged = judge_formulas(classifier, data.x, formulas, y=data.y, seed=seed, search=search)
    rows = []
    for k, (formula, item) in enumerate(zip(formulas, judged["formulas"])):
        # the rule before issue 18: the same figures without the boundary's
        before = {key: value for key, value in item.items() if not key.startswith(("boundary_departure",
                                                                                    "n_boundary_projected"))}
        item = {**item, "verdict_before": verdict(before, [], judged["floor"])[0]}
        rows.append({"law": law.id, "seed": seed, "network": law.network, "flip": law.flip, "formula": formula,
                     "kind": "law" if k == 0 else law.misses[k - 1][0], "is_law": k == 0,
                     "train_s": trained, "seconds": time.perf_counter() - start,
                     "floor": judged["floor"], "true_surface_loss": compare_with_truth(formula, concept)["faithful_loss"],
                     **item})
    return rows


def _fmt(value, spec: str = ".2g") -> str:
    return "-" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laws", nargs="+", default=None, help="ids to run (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--jobs", type=int, default=1, help="laws run in parallel processes")
    parser.add_argument("--search", action="store_true", help="add a short library search's front (its floor)")
    parser.add_argument("--json", default=None, help="also write every row to this JSON-lines file")
    parser.add_argument("--list", action="store_true", help="list the laws and exit")
    args = parser.parse_args()
    if args.list:
        for law in LAWS:
            print(f"{law.id:14s} d={law.d:2d} {law.network:7s} {law.formula}  misses: "
                  + "; ".join(f for _, f in law.misses))
        return
    chosen = [law for law in LAWS if args.laws is None or law.id in args.laws]
    unknown = set(args.laws or ()) - {law.id for law in LAWS}
    if unknown:
        parser.error(f"unknown laws {sorted(unknown)}; --list shows them")
    print(f"# {datetime.date.today()}  {platform.machine()}  {os.cpu_count()} cores  jobs={args.jobs}  "
          f"{len(chosen)} laws x {len(args.seeds)} seeds{'  with search' if args.search else ''}")
    rows: list[dict] = []
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # JAX must not be forked
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
        futures = {pool.submit(run_law, law, seed, args.search): (law.id, seed) for law in chosen for seed in args.seeds}
        for future in concurrent.futures.as_completed(futures):
            law_id, seed = futures[future]
            try:
                found = future.result()
            except Exception as error:  # one failing law must not end the benchmark
                print(f"  {law_id} seed {seed}: {type(error).__name__}: {str(error)[:200]}", flush=True)
                continue
            rows.extend(found)
            print(f"  done {law_id} seed {seed} ({found[0]['seconds']:.0f} s)", flush=True)
    order = {law.id: k for k, law in enumerate(LAWS)}
    rows.sort(key=lambda r: (order[r["law"]], r["seed"], not r["is_law"]))
    if args.json:
        with open(args.json, "w") as handle:
            for row in rows:
                handle.write(json.dumps(row, default=float) + "\n")
    header = ["law", "seed", "net", "formula", "kind", "L true surface", "L near", "floor", "departure", "agreement",
              "verdict before", "verdict"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print(f"| {r['law']} | {r['seed']} | {r['network']} | `{r['formula']}` | {r['kind']} | "
              f"{_fmt(r['true_surface_loss'])} | "
              f"{_fmt(r.get('loss_near'))} | {_fmt(r['floor'].get('value'))} | {_fmt(r.get('boundary_departure'))} | "
              f"{_fmt(r.get('boundary_agreement'), '.3f')} | {r['verdict_before']} | {r['verdict']} |")
    laws = [r for r in rows if r["is_law"]]
    misses = [r for r in rows if not r["is_law"]]
    print()
    for label, key in (("without the boundary check", "verdict_before"), ("with it", "verdict")):
        said_law = sum(r[key] == "faithful" for r in laws)
        said_miss = sum(r[key] == "faithful" for r in misses)
        parts = "; ".join(
            f"{network}: laws {sum(r[key] == 'faithful' for r in laws if r['network'] == network)}/"
            f"{sum(r['network'] == network for r in laws)}, near misses "
            f"{sum(r[key] == 'faithful' for r in misses if r['network'] == network)}/"
            f"{sum(r['network'] == network for r in misses)}" for network in sorted({r["network"] for r in rows}))
        print(f"{label}: laws called faithful {said_law}/{len(laws)} ({100 * said_law / max(len(laws), 1):.1f}%), "
              f"near misses called faithful {said_miss}/{len(misses)} "
              f"({100 * said_miss / max(len(misses), 1):.1f}%) ({parts})")
    print(f"wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
