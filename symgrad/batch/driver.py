"""``python -m symgrad.batch BATCH.yaml``: many neurons, configs and seeds in one command.

Each network is trained once (``networks/<id>/model.npz``) and each item (one neuron of one
network) is interpreted in a worker process into a normal run directory (``runs/<id>/``, the
same contents as ``python -m symgrad.run``). ``summary.csv``, ``summary.md`` and
``summary.html`` are rewritten after every item. Running the same command again skips finished
items and redoes failed or unfinished ones; ``--rerun`` redoes everything.

A resume with nothing left to do is answered from the batch folder's ``plan.json`` (the expanded
batch, see ``grid``): it rewrites the summary and exits without importing JAX or starting
a worker.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# none of these loads JAX: the grid imports it when it expands a batch (load_batch)
from .execution import EXECUTORS, check_options, describe_runner, make_runner
from .grid import load_batch
from .items import Batch, Item
from .plan import batch_name, planned_batch, write_plan
from .summary import counts, error_log, item_finished, load_state, network_dir, run_dir, write_summary
from .work import network_ready, run_item, train_network
from ..errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_FINISHED, EXIT_INTERRUPTED, SymgradError
from ..progress import stderr_line


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch run left: its directory, one summary row per item, and the counts."""

    path: Path
    rows: list[dict[str, Any]]
    counts: dict[str, int]
    interrupted: bool = False


def run_batch(batch: Batch, out: str | Path, *, executor: str = "local", workers: int | None = None,
              threads: int = 1, scheduler: str | None = None, rerun: bool = False,
              progress: Callable[[str], None] | None = None, runner: Any = None) -> BatchOutcome:
    """Train every network of ``batch`` once and interpret all of its items.

    Args:
        batch: an expanded batch (``load_batch``).
        out: the batch directory; an existing one is resumed.
        executor: ``local`` (worker processes) or ``dask``.
        workers: parallel items; None = usable cores // ``threads`` (local) or the cluster's
            worker threads (an existing Dask cluster); 0 = run in this process.
        threads: cores one item may use (XLA, BLAS, OpenMP); Operon always uses one.
        scheduler: address of an existing Dask scheduler (``executor="dask"``).
        rerun: redo finished items and retrain networks.
        progress: receives one line per event (None for silence).
        runner: an already started runner for these options (``make_runner``), closed here;
            None makes one.

    Returns:
        The outcome; Ctrl-C stops the batch after writing a valid summary
        (``interrupted=True``), the finished items are kept.
    """
    say = progress or (lambda _m: None)
    check_options(executor, workers, threads, scheduler)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_plan(batch, out)
    state = load_state(out)
    todo = _pending(batch, out, state, rerun)
    if not todo:
        if runner is not None:
            runner.close(interrupted=True)  # nothing to run: stop the workers' warm-up, do not wait for it
        description = runner.description if runner is not None else describe_runner(executor, workers, threads,
                                                                                     scheduler)
        return _nothing_to_do(batch, out, state, description, say)
    needed = {item.network for item in todo}
    to_train = [n for n in batch.networks
                if n.id in needed and (rerun or not network_ready(network_dir(out, n.id), n.key))]
    training = {n.id for n in to_train}
    ready = deque(item for item in todo if item.network not in training)
    waiting: dict[str, list[Item]] = {n.id: [i for i in todo if i.network == n.id] for n in to_train}
    skipped = len(batch.items) - len(todo)

    runner = runner or make_runner(executor, workers, threads, scheduler)
    tracker = _Tracker(len(todo), runner.capacity, say)
    say(_opening(batch, skipped, len(to_train), runner.description, out))
    write_summary(batch, out, state, executor=runner.description)
    in_flight: dict[cf.Future, tuple[str, Any]] = {}
    interrupted = False
    try:
        while to_train or ready or in_flight:
            while len(in_flight) < runner.capacity and (to_train or ready):
                # items of trained networks first: finished items early, networks trained as needed
                if not ready:
                    network = to_train.pop(0)
                    say(f"training network {network.id}")
                    future = runner.submit(train_network, network.config, str(network_dir(out, network.id)),
                                           network.key)
                    in_flight[future] = ("network", network)
                else:
                    item = ready.popleft()
                    state[item.id] = {"status": "running", "error": ""}
                    future = runner.submit(run_item, item.config, item.config_name, str(run_dir(out, item)),
                                           str(network_dir(out, item.network)), str(error_log(out, item)))
                    in_flight[future] = ("item", item)
                    tracker.started()
            done, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for future in done:
                kind, what = in_flight.pop(future)
                outcome = _outcome(future)
                if kind == "network":
                    if outcome["status"] == "finished":
                        say(f"network {what.id} trained in {outcome['seconds']:.1f} s "
                            f"(test accuracy {outcome['test_accuracy']:.4f})")
                        ready.extend(waiting.pop(what.id))
                    else:
                        for item in waiting.pop(what.id):
                            state[item.id] = {"status": "failed", "seconds": 0.0,
                                              "error": f"its network {what.id} could not be trained: {outcome['error']}"}
                            tracker.finished(item.id, state[item.id], queued=True)
                else:
                    state[what.id] = outcome
                    tracker.finished(what.id, outcome)
                write_summary(batch, out, state, executor=runner.description)
                if outcome["status"] == "interrupted":
                    raise KeyboardInterrupt  # only Ctrl-C reaching an item interrupts it: stop the batch
    except KeyboardInterrupt:
        interrupted = True
        say("interrupted: stopping the workers; finished items are kept")
        stopped = [item_id for item_id, record in state.items() if record["status"] == "running"]
        for item_id in stopped:
            state[item_id].update(status="interrupted", error="the batch was interrupted while it ran")
        runner.close(interrupted=True)
        for item_id in stopped:  # the half-written run folders of the stopped workers
            for staging in (out / "runs").glob(f".{item_id}.partial-*"):
                shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        runner.close(interrupted=True)  # no worker outlives a batch that stops on an error
        raise
    else:
        runner.close()
    table = write_summary(batch, out, state, executor=runner.description)
    tracker.close()
    return BatchOutcome(out, table, counts(table), interrupted)


def _pending(batch: Batch, out: Path, state: dict[str, dict[str, Any]], rerun: bool) -> list[Item]:
    """The items to run (all with ``rerun``); each item is recorded in ``state`` as finished or pending."""
    todo: list[Item] = []
    for item in batch.items:
        if not rerun and item_finished(out, item):
            state[item.id] = {**state.get(item.id, {}), "status": "finished", "error": ""}
        else:
            todo.append(item)
            state[item.id] = {"status": "pending", "error": state.get(item.id, {}).get("error", "")}
    return todo


def _opening(batch: Batch, skipped: int, to_train: int, description: str, out: Path) -> str:
    """The first progress line of a batch run."""
    return (f"batch {batch.name}: {len(batch.items)} items on {len(batch.networks)} networks, {skipped} already "
            f"finished, {to_train} networks to train; running on {description}; writing {out}")


def _nothing_to_do(batch: Batch, out: Path, state: dict[str, dict[str, Any]], description: str,
                   say: Callable[[str], None]) -> BatchOutcome:
    """Every item is finished: say so and rewrite the summary; no worker is needed."""
    say(_opening(batch, len(batch.items), 0, description, out))
    table = write_summary(batch, out, state, executor=description)
    return BatchOutcome(out, table, counts(table))


def resume_finished(path: str | Path, overrides: list[str] | tuple[str, ...] = (), out: str | Path | None = None, *,
                    executor: str = "local", workers: int | None = None, threads: int = 1,
                    scheduler: str | None = None, progress: Callable[[str], None] | None = None
                    ) -> BatchOutcome | None:
    """Resume a batch whose items are all finished, without JAX and without workers.

    The batch comes from its folder's plan (``planned_batch``); when the plan still holds and
    every item is finished, the summary is rewritten as ``run_batch`` would and the outcome
    returned. The options are those of ``run_batch`` and are checked the same way.

    Returns:
        The outcome, or None when there is work to do or no usable plan (then ``load_batch`` and
        ``run_batch``).

    Raises:
        SymgradError: a bad option, or a batch file that is missing or not a YAML mapping.
    """
    description = describe_runner(executor, workers, threads, scheduler)
    out = Path(out) if out is not None else Path("runs") / batch_name(path, overrides)
    batch = planned_batch(path, overrides, out)
    if batch is None:
        return None
    state = load_state(out)
    if _pending(batch, out, state, rerun=False):
        return None
    return _nothing_to_do(batch, out, state, description, progress or (lambda _m: None))


def _outcome(future: cf.Future) -> dict[str, Any]:
    try:
        return future.result()
    except KeyboardInterrupt:
        return {"status": "interrupted", "seconds": 0.0, "error": "interrupted before the item finished"}
    except Exception as exc:  # the worker itself failed (it died, or the result could not come back)
        return {"status": "failed", "seconds": 0.0,
                "error": f"the worker running it failed ({type(exc).__name__}: {str(exc).strip()[:200]})"}


class _Tracker:
    """Progress: done, failed, running and remaining items and an estimate of the time left.

    A live bar (rich) on a terminal, otherwise one line per finished item.
    """

    def __init__(self, total: int, capacity: int, say: Callable[[str], None]) -> None:
        self.total, self.capacity, self.say = total, max(1, capacity), say
        self.done = self.failed = self.running = 0
        self.start = time.monotonic()
        self.item_seconds: list[float] = []
        self._bar = None
        if say is stderr_line and sys.stderr.isatty():
            try:
                from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
            except ImportError:
                pass
            else:
                self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(),
                                     transient=False)
                self._task = self._bar.add_task(self._status(), total=total)
                self._bar.start()

    def _status(self) -> str:
        remaining = self.total - self.done - self.failed - self.running
        return (f"done {self.done}, failed {self.failed}, running {self.running}, remaining {remaining}, "
                f"ETA {self._eta()}")

    def _eta(self) -> str:
        left = self.total - self.done - self.failed
        if not left:
            return "0 s"
        if not self.item_seconds:
            return "unknown"
        seconds = left * (sum(self.item_seconds) / len(self.item_seconds)) / min(self.capacity, left)
        return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"

    def started(self) -> None:
        self.running += 1
        self._refresh()

    def finished(self, item_id: str, outcome: dict[str, Any], *, queued: bool = False) -> None:
        if not queued:
            self.running -= 1
            self.item_seconds.append(float(outcome.get("seconds") or 0.0))
        if outcome["status"] == "finished":
            self.done += 1
        else:
            self.failed += 1
        line = f"{outcome['status']:<11} {item_id} ({float(outcome.get('seconds') or 0):.1f} s)"
        if outcome.get("error"):
            line += f": {outcome['error']}"
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
            self._bar.update(self._task, completed=self.done + self.failed)
            self._refresh()
        else:
            self.say(f"[{self.done + self.failed}/{self.total}] {line} | {self._status()}")

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=self._status())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m symgrad.batch",
                                     description="Interpret many neurons, configs and seeds; each network is "
                                                 "trained once. Re-running the command resumes the batch.")
    parser.add_argument("batch", help="batch YAML file (see experiments/hidden_layer.yaml)")
    parser.add_argument("--out", default=None, help="batch directory (default runs/<batch name>); resumed if it exists")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config key for every item (train.epochs=5) or a batch key (seeds=[0]); repeatable")
    parser.add_argument("--workers", type=int, default=None,
                        help="items run in parallel (default: cores // threads; 0 = in this process)")
    parser.add_argument("--threads", type=int, default=1, help="cores one item may use (default 1)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local worker processes (default) or dask (needs the dask extra)")
    parser.add_argument("--scheduler", default=None,
                        help="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    parser.add_argument("--rerun", action="store_true", help="redo finished items and retrain the networks")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = None if args.quiet else stderr_line
    options = dict(executor=args.executor, workers=args.workers, threads=args.threads, scheduler=args.scheduler)
    runner = None
    try:
        # a finished batch is resumed in well under a second: JAX is not even imported
        outcome = None if args.rerun else resume_finished(args.batch, args.overrides, args.out, progress=progress,
                                                          **options)
        if outcome is None:
            # the workers start (and import JAX, sympy and matplotlib) while this process reads and
            # checks the batch, which needs the same imports
            runner = make_runner(args.executor, args.workers, args.threads, args.scheduler)
            runner.start()
            batch = load_batch(args.batch, args.overrides)
            out = Path(args.out) if args.out else Path("runs") / batch.name
            outcome = run_batch(batch, out, rerun=args.rerun, progress=progress, runner=runner, **options)
    except SymgradError as error:
        if runner is not None:
            runner.close(interrupted=True)
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if runner is not None:
            runner.close(interrupted=True)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    c = outcome.counts
    print(f"{len(outcome.rows)} items: {c['finished']} finished, {c['failed']} failed, "
          f"{c['interrupted'] + c['pending'] + c['running']} not done; {c['faithful']} with a faithful formula"
          + (f"; known concepts recovered in {c['recovered']} of {c['with_truth']}" if c["with_truth"] else ""))
    print(f"summary: {outcome.path / 'summary.html'}")
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FINISHED if c["failed"] == 0 else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
