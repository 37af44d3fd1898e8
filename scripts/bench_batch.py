"""Batch vs a shell loop of CLI calls, on the hidden-layer batch.

    python scripts/bench_batch.py [--cli-neurons 6] [--set key=value ...]

Measured in one run, each as a fresh process (so every figure includes Python and JAX start-up):

* ``python -m symgrad.batch experiments/hidden_layer.yaml --workers 1`` and ``--workers 2``:
  the network is trained once and every neuron is interpreted in long-lived worker processes;
  seconds per neuron = wall time / neurons (training amortised).
* the CLI loop a user would write without the batch: one ``python -m symgrad.run`` call that
  trains the network, then one ``python -m symgrad.run --model model.npz`` call per neuron.
  ``--cli-neurons`` of them are timed (with the same configs the batch used) and the loop over
  all neurons is estimated from their mean.

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


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some item failed, still a complete batch
        sys.exit(f"{' '.join(command)} failed with exit code {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli-neurons", type=int, default=6, help="CLI --model calls timed (default 6)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep", default=None, help="folder to keep the batches in (default: a temporary one)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench_batch-"))
    sets = [f"--set={o}" for o in args.overrides]
    load = os.getloadavg()[0]

    walls = {}
    for workers in (1, 2):
        out = work / f"workers{workers}"
        walls[workers] = timed([sys.executable, "-m", "symgrad.batch", str(BATCH), "--out", str(out), "--workers",
                                str(workers), "--quiet", *sets], env)
        print(f"batch with {workers} worker(s): {walls[workers]:.1f} s", file=sys.stderr, flush=True)
    batch_dir = work / "workers1"
    with open(batch_dir / "summary.csv", newline="") as handle:
        items = list(csv.DictReader(handle))
    n = len(items)
    finished = sum(r["status"] == "finished" for r in items)
    network = next((batch_dir / "networks").iterdir())
    model = network / "model.npz"

    # the CLI loop: the first call trains (and interprets one neuron), the others reuse model.npz
    first = items[0]
    cli_first = timed([sys.executable, "-m", "symgrad.run", str(batch_dir / first["run_dir"] / "config.yaml"),
                       "--out", str(work / "cli" / "train"), "--quiet"], env)
    calls = []
    for row in items[1:1 + args.cli_neurons]:
        calls.append(timed([sys.executable, "-m", "symgrad.run", str(batch_dir / row["run_dir"] / "config.yaml"),
                            "--model", str(model), "--out", str(work / "cli" / row["item"]), "--quiet"], env))
        print(f"CLI --model call for {row['item']}: {calls[-1]:.1f} s", file=sys.stderr, flush=True)
    cli_loop = cli_first + (n - 1) * sum(calls) / len(calls)

    print(f"\nhidden-layer batch: {n} neurons ({finished} finished), {os.cpu_count()} cores, "
          f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end; options {args.overrides or 'as shipped'}\n")
    print("| how | wall s | s per neuron | vs CLI loop |")
    print("|---|---|---|---|")
    per_cli = cli_loop / n
    print(f"| CLI loop: 1 training call + {n - 1} `--model` calls (estimated from {len(calls)}: "
          f"{sum(calls) / len(calls):.1f} s each) | {cli_loop:.0f} | {per_cli:.2f} | 1.0x |")
    for workers in (1, 2):
        per = walls[workers] / n
        print(f"| `symgrad.batch --workers {workers}` (training amortised) | {walls[workers]:.0f} | {per:.2f} | "
              f"{per_cli / per:.1f}x |")
    print(f"\n2 workers over 1: {walls[1] / walls[2]:.2f}x")
    print(f"(batches and CLI runs are in {work})")


if __name__ == "__main__":
    main()
