"""symgrad on real tables beside what users try today: trees and logistic regressions of every size.

    python scripts/bench_realdata.py [--sets cancer digits38 ...] [--seed 0] [--keep DIR]

Every data set ships offline (scikit-learn's breast cancer, digits and wine, palmerpenguins) or
is generated here (tables decided by many weak inputs). The default sets are the ones the sparse
path was developed on; ``--sets wine01 wine12 digits56 digits29`` runs tables it was not. For
each set the whole default pipeline runs (auto search, ``companions: [tree, logistic]``) and
the script prints:

* per set: the chosen formula's size and agreement with the network's decisions on held-out
  points, beside the tree limited to the formula's size and the full logistic regression, the
  verdict and the seconds;
* per set and size: the front's best agreement within that size beside the best tree and L1
  logistic regression within it (the companions' size paths), and whether the front is within
  1 point of them.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from symgrad.config import load_config
from symgrad.pipeline import interpret

SETS = ("cancer", "digits38", "digits17", "digits49", "penguins", "weak40", "weak100")
# run on request only, as tables the method was not tuned on
UNSEEN = ("wine01", "wine12", "digits56", "digits29")


def _write(path: Path, names: list[str], x: np.ndarray, labels) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, "label"])
        writer.writerows([[*(f"{v:.6g}" for v in row), label] for row, label in zip(x, labels)])
    return path


def make_set(name: str, folder: Path) -> tuple[Path, int]:
    """(the CSV of set ``name``, its number of inputs)."""
    if name == "cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        names = [n.replace(" ", "_") for n in data.feature_names]
        return _write(folder / "cancer.csv", names, data.data, data.target_names[data.target]), len(names)
    if name.startswith("digits"):
        from sklearn.datasets import load_digits

        a, b = int(name[-2]), int(name[-1])
        data = load_digits()
        keep = (data.target == a) | (data.target == b)
        x = data.data[keep]
        columns = [j for j in range(x.shape[1]) if x[:, j].std() > 0]
        return _write(folder / f"{name}.csv", [f"p{j}" for j in columns], x[:, columns], data.target[keep]), len(columns)
    if name.startswith("wine"):
        from sklearn.datasets import load_wine

        a, b = int(name[-2]), int(name[-1])
        data = load_wine()
        keep = (data.target == a) | (data.target == b)
        names = [n.replace("/", "_") for n in data.feature_names]
        return _write(folder / f"{name}.csv", names, data.data[keep], data.target[keep]), len(names)
    if name == "penguins":
        import palmerpenguins

        frame = palmerpenguins.load_penguins().dropna()
        frame = frame[frame["species"].isin(["Adelie", "Chinstrap"])]
        names = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
        return _write(folder / "penguins.csv", names, frame[names].to_numpy(float), frame["species"]), len(names)
    if name.startswith("weak"):
        d = int(name[4:])
        rng = np.random.default_rng(d)
        rows = 2000
        x = rng.normal(size=(rows, d)) * rng.uniform(0.2, 20.0, size=d)
        weights = np.zeros(d)
        relevant = rng.choice(d, size=d // 3, replace=False)
        weights[relevant] = rng.uniform(0.3, 1.0, size=len(relevant)) * rng.choice([-1, 1], size=len(relevant))
        score = (x / x.std(axis=0)) @ weights
        # one input enters through its logarithm, as a measured concentration would
        score += 2.0 * np.log(np.abs(x[:, relevant[0]]) + 1.0)
        flips = rng.random(rows) < 0.05  # 5% label noise
        labels = (score > np.median(score)) ^ flips
        return _write(folder / f"{name}.csv", [f"m{j}" for j in range(d)], x, labels.astype(int)), d
    raise SystemExit(f"unknown set {name!r}; known: {list(SETS + UNSEEN)}")


def run_set(name: str, seed: int, folder: Path) -> dict:
    path, d = make_set(name, folder)
    config = load_config(None, [f"data.path={path}", "data.label=label", "progress=false", f"seed={seed}",
                                "companions=[tree, logistic]"])
    t0 = time.perf_counter()
    run = interpret(config, out=folder / f"{name}-{seed}", progress=None, config_name=name)
    seconds = time.perf_counter() - t0
    rows = {r["method"]: r for r in run.record.companions["rows"]}
    tree = next(r for method, r in rows.items() if method.startswith("decision tree (<="))
    logistic = rows["logistic regression"]
    front = [(e.complexity, e.metrics.get("boundary_agreement")) for e in run.front
             if e.metrics.get("boundary_agreement") is not None]
    sizes = []
    for family, points in (run.record.companions.get("paths") or {}).items():
        for nodes, agreement in points:
            within = [a for c, a in front if c <= nodes]
            ours = max(within) if within else None
            sizes.append((family, nodes, agreement, ours, ours is not None and ours >= agreement - 0.01))
    near_logistic = [c for c, a in front if c <= logistic["nodes"] and a >= logistic["agreement"] - 0.01]
    return {"set": name, "inputs": d, "seconds": seconds, "formula": run.best.expression,
            "nodes": run.best.complexity, "agreement": run.best.metrics.get("boundary_agreement"),
            "verdict": run.record.verdict.kind, "selection": run.record.selection.rule,
            "tree_nodes": tree["nodes"], "tree": tree["agreement"], "logistic_nodes": logistic["nodes"],
            "logistic": logistic["agreement"], "smallest_near_logistic": min(near_logistic) if near_logistic else None,
            "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS + UNSEEN)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None, help="keep the runs in this folder")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="symgrad-realdata-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"# bench_realdata {datetime.date.today()} on {platform.node()} ({platform.machine()}, "
          f"{platform.python_version()}), seed {args.seed}\n")
    results = [run_set(name, args.seed, folder) for name in args.sets]
    print("| set (inputs) | chosen: agreement (nodes) | tree <= its size | logistic regression | smallest front "
          "entry within 1 pt of it | verdict (selection) | seconds |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['set']} ({r['inputs']}) | {100 * r['agreement']:.1f}% ({r['nodes']}) | {100 * r['tree']:.1f}% "
              f"({r['tree_nodes']}) | {100 * r['logistic']:.1f}% ({r['logistic_nodes']}) | "
              f"{r['smallest_near_logistic']} | {r['verdict']} ({r['selection']}) | {r['seconds']:.0f} |")
    points = [s for r in results for s in r["sizes"]]
    held = sum(s[4] for s in points)
    print(f"\nfront within 1 point of the surrogates' size paths: {held} of {len(points)} (set, size) points "
          f"({100 * held / max(len(points), 1):.0f}%)")
    for r in results:
        missed = [f"{family} {nodes} nodes {100 * a:.1f}% vs {'-' if ours is None else f'{100 * ours:.1f}%'}"
                  for family, nodes, a, ours, ok in r["sizes"] if not ok]
        if missed:
            print(f"  {r['set']}: below at " + "; ".join(missed))
    for r in results:
        print(f"\n{r['set']}: {r['formula'][:300]}")


if __name__ == "__main__":
    main()
