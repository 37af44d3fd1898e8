"""Batch vs a shell loop of CLI calls, on the hidden-layer batch.

    python scripts/bench_batch.py [--cli-neurons 6] [--baseline DIR] [--set key=value ...]

Measured in one run, each as a fresh process (so every figure includes Python and JAX start-up):

* ``python -m symgrad.batch experiments/hidden_layer.yaml --workers 1`` and ``--workers 2``:
  the network is trained once and every neuron is interpreted in long-lived worker processes;
  seconds per neuron = wall time / neurons (training amortised).
* the CLI loop a user would write without the batch: one ``python -m symgrad.run`` call that
  trains the network, then one ``python -m symgrad.run --model model.npz`` call per neuron on
  the model it saved. ``--cli-neurons`` of them are timed (with the batch's item configs), half
  before the batches and half after, and the loop over all neurons is estimated from their mean.

``--baseline DIR`` times another source tree's batch (1 worker) and CLI loop in the same run,
so that a change is measured against the code before it under the same load; the vs-CLI ratio
of each tree is against its own CLI loop.

``--set`` is passed to the batch (e.g. ``--set search.backend=library --set 'search.options={}'``
for a quick check). Timings depend on the machine's load; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = ROOT / "experiments" / "hidden_layer.yaml"


def timed(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some item failed, still a complete batch
        sys.exit(f"{' '.join(command)} failed with exit code {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def source_env(source: Path) -> dict[str, str]:
    """The environment that imports symgrad from ``source`` (commands also run in it: ``python -m``
    puts the current folder first on the path)."""
    return {**os.environ, "PYTHONPATH": str(source) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def time_batch(source: Path, out: Path, workers: int, sets: list[str]) -> float:
    seconds = timed([sys.executable, "-m", "symgrad.batch", str(BATCH), "--out", str(out), "--workers", str(workers),
                     "--quiet", *sets], source_env(source), cwd=source)
    print(f"{source}: batch with {workers} worker(s): {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds


def cli_commands(configs: list[Path], calls: int, out: Path) -> tuple[list[str], list[list[str]]]:
    """The CLI loop: a first call that trains (and interprets the first neuron), then ``calls``
    calls with ``--model`` on the model it saved; the same configs the batch uses."""
    first = [sys.executable, "-m", "symgrad.run", str(configs[0]), "--out", str(out / "train"), "--quiet"]
    rest = [[sys.executable, "-m", "symgrad.run", str(config), "--model", str(out / "train" / "model.npz"),
             "--out", str(out / config.stem), "--quiet"] for config in configs[1:1 + calls]]
    return first, rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli-neurons", type=int, default=6, help="CLI --model calls timed (default 6)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--baseline", default=None, metavar="DIR",
                        help="another symgrad source tree (e.g. a git worktree of an earlier commit): its batch "
                             "(1 worker) and CLI loop are timed in the same run, under the same load")
    parser.add_argument("--keep", default=None, help="folder to keep the batches in (default: a temporary one)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from symgrad.batch.grid import load_batch
    from symgrad.config import dump

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench_batch-"))
    sets = [f"--set={o}" for o in args.overrides]
    baseline = Path(args.baseline).resolve() if args.baseline else None
    if baseline is not None and not (baseline / "symgrad" / "batch.py").is_file():
        sys.exit(f"--baseline {str(baseline)!r} is not a symgrad source tree with the batch command; give the "
                 "root of a checkout (e.g. git worktree add /tmp/before HEAD~1)")
    batch = load_batch(BATCH, args.overrides)
    (work / "configs").mkdir(parents=True, exist_ok=True)
    configs = []
    for item in batch.items:
        configs.append(work / "configs" / f"{item.id}.yaml")
        configs[-1].write_text(dump(item.config))
    n = len(configs)
    load = os.getloadavg()[0]
    sources = [("this tree", ROOT)] + ([("baseline", baseline)] if baseline else [])

    # half of each CLI loop runs before the batches and half after, so that a change of the
    # machine's load during the run falls on both
    cli: dict[str, tuple[float, list[float]]] = {}
    halves: dict[str, list[list[str]]] = {}
    for name, source in sources:
        first, rest = cli_commands(configs, args.cli_neurons, work / f"cli-{name.replace(' ', '_')}")
        cli[name] = (timed(first, source_env(source), cwd=source), [])
        print(f"{source}: CLI training call: {cli[name][0]:.1f} s", file=sys.stderr, flush=True)
        halves[name] = rest[len(rest) // 2:]
        for command in rest[:len(rest) // 2]:
            cli[name][1].append(timed(command, source_env(source), cwd=source))
    walls: dict[tuple[str, int], float] = {}
    for name, source in sources:
        walls[name, 1] = time_batch(source, work / f"{name.replace(' ', '_')}-workers1", 1, sets)
    walls["this tree", 2] = time_batch(ROOT, work / "this_tree-workers2", 2, sets)
    for name, source in sources:
        for command in halves[name]:
            cli[name][1].append(timed(command, source_env(source), cwd=source))
        print(f"{source}: CLI --model calls: {', '.join(f'{s:.1f}' for s in cli[name][1])} s", file=sys.stderr,
              flush=True)
    with open(work / "this_tree-workers1" / "summary.csv", newline="") as handle:
        finished = sum(r["status"] == "finished" for r in csv.DictReader(handle))

    print(f"\nhidden-layer batch: {n} neurons ({finished} finished), {os.cpu_count()} cores, "
          f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end; options {args.overrides or 'as shipped'}\n")
    print("| code | how | wall s | s per neuron | vs CLI loop |")
    print("|---|---|---|---|---|")
    for name, _ in sources:
        first, calls = cli[name]
        mean = sum(calls) / len(calls)
        per_cli = (first + (n - 1) * mean) / n
        print(f"| {name} | CLI loop: 1 training call + {n - 1} `--model` calls (estimated from {len(calls)}: "
              f"{mean:.1f} s each) | {first + (n - 1) * mean:.0f} | {per_cli:.2f} | 1.0x |")
        for workers in (1, 2):
            if (name, workers) in walls:
                per = walls[name, workers] / n
                print(f"| {name} | `symgrad.batch --workers {workers}` (training amortised) | {walls[name, workers]:.0f} "
                      f"| {per:.2f} | {per_cli / per:.1f}x |")
    print(f"\n2 workers over 1: {walls['this tree', 1] / walls['this tree', 2]:.2f}x")
    print(f"(batches and CLI runs are in {work})")


if __name__ == "__main__":
    main()
