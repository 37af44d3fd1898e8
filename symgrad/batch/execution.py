"""Where batch work runs: this process, local worker processes, or a Dask cluster.

Every runner hands out ``concurrent.futures.Future`` objects, so the batch loop is the same for
all of them. Threads: one item uses ``threads`` cores (``work.thread_environment``), and
the default number of local workers is the usable cores divided by that.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib.util
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from .work import init_worker, thread_environment, warm_up
from ..errors import SymgradError

EXECUTORS = ("local", "dask")
CONNECT_TIMEOUT = "20s"  # how long to wait for an existing Dask scheduler
NO_DASK = "--executor dask needs the dask extra; install it with pip install -e \".[dask]\""


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(threads: int) -> int:
    """cores // threads per item, at least one."""
    return max(1, usable_cores() // max(1, threads))


def _plural(n: int, word: str, suffix: str = "s") -> str:
    return f"{n} {word}{suffix if n != 1 else ''}"


def describe_runner(executor: str, workers: int | None, threads: int, scheduler: str | None) -> str:
    """Where ``make_runner`` would run the work, in words, without starting anything.

    An existing Dask cluster is named by its address only (its runner adds its worker threads,
    which it learns by connecting).

    Raises:
        SymgradError: an impossible combination of options, or ``dask`` without the dask extra.
    """
    check_options(executor, workers, threads, scheduler)
    if executor == "dask":
        if importlib.util.find_spec("distributed") is None:  # found, not imported: it is slow to load
            raise SymgradError(NO_DASK)
        if scheduler is not None:
            return f"the Dask cluster at {scheduler}"
        return f"a Dask LocalCluster of {workers or default_workers(threads)} workers x {_plural(threads, 'thread')}"
    if workers == 0:
        return InlineRunner.description
    processes = _plural(workers or default_workers(threads), "local worker process", "es")
    return f"{processes} x {_plural(threads, 'thread')}"


class InlineRunner:
    """Runs each task at once in this process (``--workers 0``: debugging, notebooks)."""

    description = "this process"
    capacity = 1

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def start(self) -> None:
        pass

    def close(self, *, interrupted: bool = False) -> None:
        pass


class LocalRunner:
    """A ``ProcessPoolExecutor`` of ``workers`` spawned processes (spawn: no forked JAX or Operon
    state). A worker that dies (a crash in native code, out of memory) fails the items it was
    running and the pool is started anew for the rest."""

    def __init__(self, workers: int, threads: int) -> None:
        self.capacity, self._threads = workers, threads
        self.description = describe_runner("local", workers, threads, None)
        # children inherit the environment when they are spawned: BLAS and OpenMP read it when
        # numpy loads, before an initializer could set it; a value the user set is kept
        self._env = _environment({k: v for k, v in thread_environment(threads).items() if k not in os.environ})
        self._env.__enter__()
        self._known = {p.pid for p in multiprocessing.active_children()}
        self._executor = self._new_executor()

    def _new_executor(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.capacity, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=init_worker, initargs=(self._threads,))

    def start(self) -> None:
        """Start every worker now: each imports what the tasks need before the first one comes."""
        for _ in range(self.capacity):
            self._executor.submit(warm_up)

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        try:
            return self._executor.submit(fn, *args)
        except BrokenProcessPool:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            return self._executor.submit(fn, *args)

    def close(self, *, interrupted: bool = False) -> None:
        if interrupted:
            # the workers ignore SIGINT; stop the ones this runner started, mid-item: their items
            # stay unfinished and are redone on the next run
            workers = [p for p in multiprocessing.active_children() if p.pid not in self._known]
            self._executor.shutdown(wait=False, cancel_futures=True)
            for process in workers:
                process.terminate()
        self._executor.shutdown(wait=True)
        self._env.__exit__(None, None, None)


class DaskRunner:
    """Tasks on a Dask cluster: a new ``distributed.LocalCluster`` or an existing scheduler."""

    def __init__(self, workers: int | None, threads: int, scheduler: str | None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SymgradError(NO_DASK) from None
        self._cluster = None
        if scheduler is None:
            workers = workers or default_workers(threads)
            # one single-threaded worker process per item slot; the nanny gives each the thread limits
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         env=thread_environment(threads), dashboard_address=None)
            self._client = Client(self._cluster)
            self.description = describe_runner("dask", workers, threads, None)
        else:
            try:
                self._client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise SymgradError(f"cannot reach the Dask scheduler at {scheduler!r} ({type(exc).__name__}); "
                                   "start the cluster first or check the address") from None
            slots = sum(self._client.nthreads().values())
            if not slots:
                self._client.close()
                raise SymgradError(f"the Dask scheduler at {scheduler!r} has no workers; start some first")
            self.description = f"{describe_runner('dask', None, threads, scheduler)} ({slots} worker threads)"
            workers = workers or slots
        self.capacity = workers
        self._executor = self._client.get_executor(pure=False)

    def start(self) -> None:
        pass  # a LocalCluster's workers are started by now; an existing cluster's are running

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        return self._executor.submit(fn, *args)

    def close(self, *, interrupted: bool = False) -> None:
        with contextlib.suppress(Exception):
            self._executor.shutdown(wait=not interrupted)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_runner(executor: str, workers: int | None, threads: int, scheduler: str | None):
    """The runner for ``--executor``, ``--workers``, ``--threads`` and ``--scheduler``."""
    check_options(executor, workers, threads, scheduler)
    if executor == "dask":
        return DaskRunner(workers, threads, scheduler)
    if workers == 0:
        return InlineRunner()
    return LocalRunner(workers or default_workers(threads), threads)


def check_options(executor: str, workers: int | None, threads: int, scheduler: str | None) -> None:
    """Raise SymgradError for an impossible combination of executor options."""
    if executor not in EXECUTORS:
        raise SymgradError(f"--executor {executor!r} is not known; choose one of {list(EXECUTORS)}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SymgradError(f"--threads {threads!r} is not allowed; use a positive integer")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise SymgradError(f"--workers {workers!r} is not allowed; use 0 (this process) or a positive integer")
    if scheduler is not None and executor != "dask":
        raise SymgradError("--scheduler needs --executor dask")
    if executor == "dask" and workers == 0:
        raise SymgradError("--workers 0 runs in this process; it cannot be combined with --executor dask")


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
