"""How long the explorer takes to answer a click, on a 2x60 network with 15 inputs.

Makes a small run of the seed question (``experiments/seed15.yaml``: 15 inputs, a 2x60 ELU
network, the library search) in a temporary folder, or explores ``--run``, then times what a
click costs from the widget's callback to a new PNG: selecting another entry (the network's
grid comes from the cache), moving a slider (the network is evaluated on a new grid) and
changing the input pair; one warm-up and ``--repeats`` timed clicks each. Prints min, median
and max seconds; the target is under 1 s each on 2 cores.

    python scripts/bench_explore.py [--run DIR] [--repeats 10] [--resolution 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0


def make_run(out: Path):
    from symgrad.config import load_config
    from symgrad.pipeline import interpret

    config = load_config(ROOT / "experiments" / "seed15.yaml",
                         ["data.n_samples=3000", "train.epochs=15", "search.backend=library", "progress=false"])
    print(f"making a small seed15 run in {out} (seconds)", flush=True)
    return interpret(config, out=out, progress=None)


def timed(click, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``click(k)`` after one warm-up call."""
    click(-1)
    seconds = []
    for k in range(repeats):
        start = time.perf_counter()
        click(k)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run directory (default: make a small seed15 run)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=None, help="grid points per axis (default: the explorer's)")
    args = parser.parse_args(argv)

    import symgrad
    from symgrad.explore import RESOLUTION, Explorer, ExplorerWidget

    with tempfile.TemporaryDirectory() as tmp:
        result = symgrad.load_run(args.run) if args.run else make_run(Path(tmp) / "seed15")
        model = result.model()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"network {model.activation} {[w.shape[1] for w, _ in model.layers[:-1]]}, {len(result.features)} "
              f"inputs, front of {len(result.front)}; {cores} cores; grid {args.resolution or RESOLUTION}^2")
        start = time.perf_counter()
        ui = ExplorerWidget(Explorer(result, resolution=args.resolution or RESOLUTION))
        print(f"{'open (first slice, compiles the network)':44s} {time.perf_counter() - start:6.3f} s")
        ex = ui.explorer
        n = len(ex.rows)
        free = [name for k, name in enumerate(ex.names) if k not in ex.pair]
        slider = ui.sliders[free[0]] if free else None
        pairs = [(i, j) for i in range(len(ex.names)) for j in range(len(ex.names)) if i != j]

        def select(k: int) -> None:
            ui.formula.value = (ex.index + 1) % n

        def move(k: int) -> None:
            slider.value = slider.min + (slider.max - slider.min) * ((k + 2) % 20) / 20

        def pair(k: int) -> None:
            ui.x_axis.value, ui.y_axis.value = pairs[(k + 1) % len(pairs)]

        clicks = {"select an entry + redraw (cached network)": select, "change the input pair + redraw": pair}
        if slider is not None:
            clicks["move a slider + redraw (new network grid)"] = move
        worst = 0.0
        for title, click in clicks.items():
            seconds = timed(click, args.repeats)
            worst = max(worst, max(seconds))
            print(f"{title:44s} min {min(seconds):.3f}  median {statistics.median(seconds):.3f}  "
                  f"max {max(seconds):.3f} s")
        print(f"slowest click {worst:.3f} s: {'under' if worst < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:g} s target")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
