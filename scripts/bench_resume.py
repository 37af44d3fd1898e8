"""How long resuming a finished batch takes, against ``python -c "import jax"``.

Runs the shipped hidden-layer batch (``experiments/hidden_layer.yaml``) once into a temporary
folder, or into ``--batch-dir`` (a folder that already holds it finished makes that run a
resume), then times a resume with nothing to do and ``python -c "import jax"`` in turn, one
warm-up and ``--repeats`` timed runs each, and prints min and median wall seconds and their ratio.
A resume with nothing to do should not import JAX, so it should take less time than importing it.

    python scripts/bench_resume.py [--batch-dir DIR] [--repeats 7] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = ROOT / "experiments" / "hidden_layer.yaml"
# the resume in a fresh interpreter, saying afterwards whether it loaded JAX
CHECK = ("import sys\nfrom symgrad.batch import main\ncode = main(sys.argv[1:])\n"
         "print('jax imported' if 'jax' in sys.modules else 'jax not imported')\nsys.exit(code)")


def run_batch(batch_dir: Path, workers: int | None) -> float:
    """Run (or resume) the batch into ``batch_dir``; its wall seconds. Stops unless every item finished:
    a resume would redo failed items, and then it is not the no-op this script times."""
    command = [sys.executable, "-m", "symgrad.batch", str(BATCH), "--out", str(batch_dir), "--quiet"]
    if workers is not None:
        command += ["--workers", str(workers)]
    print(f"running the batch into {batch_dir} (minutes unless it is finished there already)", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"the batch ended with exit code {proc.returncode}; a resume would redo its failed items")
    return seconds


def timed(command: list[str]) -> float:
    """Wall seconds of one run of ``command`` (its output discarded); it must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit code {proc.returncode}): {proc.stderr.strip()[-300:]}")
    return seconds


def result_stamps(batch_dir: Path) -> dict[str, int]:
    """Modification times of the items' results and the networks: a resume must change none."""
    files = [*batch_dir.glob("runs/*/result.json"), *batch_dir.glob("networks/*/model.npz")]
    return {str(p): p.stat().st_mtime_ns for p in files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-dir", type=Path, default=None,
                        help="the batch folder to use (kept); default a temporary one, removed afterwards")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each command (default 7)")
    parser.add_argument("--workers", type=int, default=None, help="--workers of the first batch run")
    args = parser.parse_args()
    batch_dir = args.batch_dir.resolve() if args.batch_dir else Path(tempfile.mkdtemp(prefix="bench_resume_")) / "batch"
    try:
        first = run_batch(batch_dir, args.workers)
        stamps = result_stamps(batch_dir)
        print(f"batch run: {first:.1f} s, {len(stamps)} results and networks in {batch_dir}")
        resume = [sys.executable, "-m", "symgrad.batch", str(BATCH), "--out", str(batch_dir), "--quiet"]
        check = subprocess.run([sys.executable, "-c", CHECK, *resume[3:]], cwd=ROOT, capture_output=True, text=True)
        print(f"resume check: exit code {check.returncode}, {check.stdout.strip().splitlines()[-1]}")
        commands = {"no-op resume (python -m symgrad.batch ...)": resume,
                    'python -c "import jax"': [sys.executable, "-c", "import jax"]}
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for name, command in commands.items():  # warm-up: file caches, compiled bytecode
            timed(command)
        for _ in range(args.repeats):
            for name, command in commands.items():  # in turn: a drifting machine load hits both alike
                seconds[name].append(timed(command))
        if result_stamps(batch_dir) != stamps:
            sys.exit("a resume changed a result or a network: it was not a no-op")
        report(seconds, args.repeats)
    finally:
        if args.batch_dir is None:
            shutil.rmtree(batch_dir.parent, ignore_errors=True)


def report(seconds: dict[str, list[float]], repeats: int) -> None:
    """A Markdown table of min and median seconds, each against ``import jax``."""
    (resume_name, resume), (jax_name, jax) = seconds.items()
    print(f"\n{repeats} timed runs each, alternating, after one warm-up each (wall seconds)\n")
    print("| command | min s | median s | min / import jax | median / import jax |")
    print("|---|---|---|---|---|")
    for name, values in seconds.items():
        print(f"| {name} | {min(values):.3f} | {statistics.median(values):.3f} | {min(values) / min(jax):.2f} "
              f"| {statistics.median(values) / statistics.median(jax):.2f} |")
    print(json.dumps({"resume_s": resume, "import_jax_s": jax}))


if __name__ == "__main__":
    main()
