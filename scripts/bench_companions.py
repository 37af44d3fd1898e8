"""symgrad's formula beside the companions (trees, logistic regression, sensitivity, PReLU rules).

    python scripts/bench_companions.py [--cases A B D cancer] [--seed 0] [--set key=value ...]
                                       [--xor-seeds 0 1 2] [--keep DIR]

For each case (paper concepts from experiments/paper/, and "cancer": scikit-learn's breast
cancer data, shipped inside scikit-learn) the whole pipeline runs with ``companions: true`` and
the comparison table is printed, followed by one line comparing the formula with the decision
tree of at most the formula's node count. ``--xor-seeds`` also trains the PReLU worked example
(in1 xor in2, in3 xor in4, in1 and in2) and prints how many PReLUs stay nonlinear.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from symgrad.companions import companion_table, format_table
from symgrad.config import load_config
from symgrad.pipeline import interpret

ROOT = Path(__file__).resolve().parent.parent


def cancer_csv(folder: Path) -> Path:
    """scikit-learn's breast cancer data as a CSV (label: diagnosis, malignant or benign)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    path = folder / "breast_cancer.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*data.feature_names, "diagnosis"])
        for row, target in zip(data.data, data.target):
            writer.writerow([*(f"{v:.6g}" for v in row), data.target_names[target]])
    return path


def run_case(case: str, seed: int, overrides: list[str], folder: Path):
    if case == "cancer":
        config = load_config(None, [f"data.path={cancer_csv(folder)}", "data.label=diagnosis", *overrides])
    else:
        config = load_config(ROOT / "experiments" / "paper" / f"{case}.yaml", overrides)
    config["seed"], config["progress"], config["companions"] = seed, False, True
    t0 = time.perf_counter()
    run = interpret(config, out=folder / f"{case}-{seed}", progress=None, config_name=case)
    return run.result, time.perf_counter() - t0


def comparison_line(case: str, rows: list[dict]) -> str:
    formula = rows[0]
    small = next((r for r in rows if r["method"].startswith("decision tree (<=")), None)
    tree = next((r for r in rows if r["method"] == "decision tree"), None)
    if formula["method"] != "symgrad formula" or small is None or tree is None:
        return f"{case}: no formula or no tree to compare"
    verdict = "beats" if formula["agreement"] > small["agreement"] else "does not beat"
    return (f"{case}: formula ({formula['nodes']} nodes) agreement {formula['agreement']:.4f} {verdict} the tree of "
            f"<= its size ({small['nodes']} nodes) {small['agreement']:.4f}; the validation-chosen tree "
            f"({tree['nodes']} nodes) reaches {tree['agreement']:.4f}")


def xor_rows(seeds: list[int]) -> list[str]:
    from symgrad.companions.collapse import collapse
    from symgrad.companions.prelu import xor_example

    out = ["| seed | nonlinear PReLUs (of 20) | regions | rules match xor/and on 16 inputs | seconds |",
           "|---|---|---|---|---|"]
    for seed in seeds:
        t0 = time.perf_counter()
        net, x, y = xor_example(seed=seed)
        rules = collapse(net, x)
        match = bool(np.array_equal(np.round(rules.evaluate(x)), y))
        out.append(f"| {seed} | {len(rules.nonlinear)} | {len(rules.regions)} | {match} | "
                   f"{time.perf_counter() - t0:.1f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["A", "B", "D", "cancer"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--xor-seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--keep", default=None, help="keep every run directory under this folder")
    args = parser.parse_args()
    print(f"# {datetime.date.today()}  {platform.machine()}  {os.cpu_count()} cores  seed={args.seed}")
    if args.xor_seeds:
        print("\n## PReLU worked example\n")
        print("\n".join(xor_rows(args.xor_seeds)), flush=True)
    lines = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for case in args.cases:
            result, seconds = run_case(case, args.seed, args.overrides, folder)
            rows = companion_table(result, max_output=110)
            print(f"\n## {case}: network test accuracy {result['model']['test_accuracy']:.3f}, "
                  f"{result['verdict']['kind']}, {seconds:.0f} s (companions "
                  f"{result['timings'].get('companions', 0):.0f} s)\n")
            print(format_table(rows), flush=True)
            lines.append(comparison_line(case, rows))
    print("\n## Formula vs tree at equal or smaller size\n")
    print("\n".join(f"- {line}" for line in lines))


if __name__ == "__main__":
    main()
