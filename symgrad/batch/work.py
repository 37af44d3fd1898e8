"""The work of a batch, as plain functions a worker process (local or Dask) can call.

Every function takes and returns plain data (dicts, strings), catches its own failures and says
what happened in one sentence, so that one bad item never stops a batch.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Any

from ..rundir import ERROR_LOG

MODEL_FILE = "model.npz"
NETWORK_FILE = "network.json"

# classifiers loaded by this worker process: the compiled logits and gradient functions of a
# network are reused by all of its items that the process runs
_LOADED: dict[str, tuple[float, Any, Any]] = {}


def thread_environment(threads: int) -> dict[str, str]:
    """Environment variables that keep one item on ``threads`` cores.

    XLA's Eigen thread pool, OpenMP, MKL and OpenBLAS otherwise each start one thread per core in
    every worker process; Operon already runs its GP single-threaded (its fitness callback holds
    the GIL).
    """
    n = str(int(threads))
    eigen = "false" if threads == 1 else "true"
    return {"XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={eigen} intra_op_parallelism_threads={n}",
            "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n}


def init_worker(threads: int, ignore_interrupt: bool = True) -> None:
    """Set up a fresh worker process before its first task.

    The batch's own process handles Ctrl-C (it keeps finished items and writes a valid summary,
    then stops the workers), so local workers ignore SIGINT instead of dying mid-item with a
    traceback each.
    """
    if ignore_interrupt:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for key, value in thread_environment(threads).items():
        os.environ.setdefault(key, value)  # effective before JAX first compiles; a set value is kept
    os.environ.setdefault("MPLBACKEND", "Agg")


def warm_up() -> None:
    """Import what the tasks need (JAX, sympy, matplotlib): a worker started early is ready sooner."""
    from .. import pipeline, result  # noqa: F401
    from ..report import page, plots  # noqa: F401


def train_network(config: dict[str, Any], network_dir: str, key: str) -> dict[str, Any]:
    """Train the network of ``config`` once and save it for all of its items.

    Writes ``model.npz`` and ``network.json`` (key, test accuracy, training record) in
    ``network_dir``; ``network.json`` is written last, so its presence means a complete network.

    Returns:
        ``{"status": "finished" | "failed", "seconds", "error", "test_accuracy"}``.
    """
    from ..data.tables import split_dataset
    from ..errors import SymgradError
    from ..network.model import Classifier
    from ..pipeline import load_data, network_data, train_model
    from ..rundir import write_json
    from ..network.train import accuracy

    start = time.perf_counter()
    path = Path(network_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / NETWORK_FILE).unlink(missing_ok=True)
    try:
        dataset, _ = load_data(config)
        split = split_dataset(dataset, fractions=config["data"]["split"], seed=config["seed"])
        # a given model is interpreted, not trained: copied here so that every item reads one file
        given = Classifier.load(config["model"]["path"]) if config["model"]["path"] is not None else None
        _, split = network_data(dataset, split, given)  # as interpret() reads the data
        classifier, report = (given, None) if given is not None else train_model(config, split)
        classifier.save(path / MODEL_FILE)
        test_accuracy = accuracy(classifier, split.test)
    except SymgradError as error:
        return {"status": "failed", "seconds": time.perf_counter() - start, "error": str(error)}
    except Exception as error:  # a bug must not stop the other networks: record it with its traceback
        return {"status": "failed", "seconds": time.perf_counter() - start,
                "error": _record(error, path / ERROR_LOG)}
    seconds = time.perf_counter() - start
    write_json(path / NETWORK_FILE, {"key": key, "test_accuracy": test_accuracy, "seconds": seconds,
                                     "training": report.to_dict() if report else None})
    return {"status": "finished", "seconds": seconds, "error": "", "test_accuracy": test_accuracy}


def network_ready(network_dir: str | Path, key: str) -> bool:
    """Whether ``network_dir`` holds a complete network trained from a config with ``key``."""
    import json

    path = Path(network_dir)
    try:
        record = json.loads((path / NETWORK_FILE).read_text())
    except (OSError, ValueError):
        return False
    return record.get("key") == key and (path / MODEL_FILE).is_file()


def _load_network(network_dir: str):
    import json

    from ..network.model import Classifier
    from ..network.train import TrainReport

    path = Path(network_dir)
    stamp = (path / MODEL_FILE).stat().st_mtime
    cached = _LOADED.get(network_dir)
    if cached is None or cached[0] != stamp:
        record = json.loads((path / NETWORK_FILE).read_text())
        training = record.get("training")
        cached = (stamp, Classifier.load(path / MODEL_FILE), TrainReport(**training) if training else None)
        _LOADED[network_dir] = cached
    return cached[1], cached[2]


def run_item(config: dict[str, Any], config_name: str, run_dir: str, network_dir: str,
             error_log: str) -> dict[str, Any]:
    """Interpret one neuron of a trained network into the normal run directory ``run_dir``.

    The run directory is the one ``python -m symgrad.run`` writes (result.json, report,
    exports); an earlier attempt in it is replaced. The traceback of an unexpected error goes to
    ``error_log``, outside the run directory.

    Returns:
        ``{"status": "finished" | "interrupted" | "failed", "seconds", "error"}``.
    """
    from ..errors import SymgradError
    from ..pipeline import interpret

    start = time.perf_counter()
    try:
        classifier, report = _load_network(network_dir)
        run = interpret(config, out=run_dir, overwrite=True, progress=None, config_name=config_name,
                        classifier=classifier, train_report=report)
        status = run.record.status
        error = "the search was interrupted; the item is redone when the batch is run again" \
            if status == "interrupted" else ""
    except SymgradError as exc:
        status, error = "failed", str(exc)
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted before the item finished"
    except Exception as exc:  # a bug in one item must not stop the batch: record it with its traceback
        status, error = "failed", _record(exc, Path(error_log))
    return {"status": status, "seconds": time.perf_counter() - start, "error": error}


def _record(error: BaseException, log: Path) -> str:
    """Write the traceback of an unexpected exception to ``log``; one line naming it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(traceback.format_exception(error)))
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first} (an unexpected error; the traceback is in {log.parent.name}/{log.name})"
