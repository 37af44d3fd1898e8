"""End-to-end benchmark over the paper concepts: accuracy, stage seconds, formula, L vs the truth.

    python scripts/bench_pipeline.py [--backend auto|library|operon] [--concepts A A1 ...] [--seeds 0 1]
                                     [--keep DIR]

Prints one table row per (concept, seed). "recovered" means faithful L < 0.01 (L against the
true gradients on fresh points nearest the true decision surface); "exact" is L over the whole
domain. F and G have two concepts each; their L is given against both parts.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
from pathlib import Path

from symgrad.config import load_config
from symgrad.pipeline import interpret

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--concepts", nargs="+", default=["A", "A1", "B", "C", "D", "E", "F", "G", "seed15"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--keep", default=None, help="keep every run directory under this folder")
    args = parser.parse_args()
    print(f"# {datetime.date.today()}  {platform.machine()}  {os.cpu_count()} cores  backend={args.backend}")
    header = ["concept", "seed", "test acc", "train s", "grad s", "search s", "faithful L", "exact L", "recovered",
              "formula"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        for concept in args.concepts:
            path = ROOT / ("experiments/seed15.yaml" if concept == "seed15" else f"experiments/paper/{concept}.yaml")
            for seed in args.seeds:
                config = load_config(path, [f"seed={seed}", f"search.backend={args.backend}", "progress=false",
                                            *args.overrides])
                run = interpret(config, out=Path(tmp) / f"{concept}-{seed}", progress=None)
                r = run.result
                t = r["timings"]
                truth = r.get("truth") or {}
                if "parts" in truth:
                    faithful = " / ".join(f"{p['faithful_loss']:.2g}" for p in truth["parts"])
                    exact = " / ".join(f"{p['exact_loss']:.2g}" for p in truth["parts"])
                    recovered = "n/a"
                else:
                    faithful = f"{truth.get('faithful_loss', float('nan')):.2g}"
                    exact = f"{truth.get('exact_loss', float('nan')):.2g}"
                    recovered = ("yes" if truth.get("recovered_faithful") else "no") + \
                        (" (exact)" if truth.get("recovered_exact") else "")
                formula = run.best.expression if run.best else "-"
                row = [concept, str(seed), f"{r['model']['test_accuracy']:.3f}", f"{t.get('train', 0):.1f}",
                       f"{t['gradients']:.1f}", f"{t['search']:.1f}", faithful, exact, recovered, f"`{formula}`"]
                print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
