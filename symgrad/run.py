"""``python -m symgrad.run CONFIG.yaml [--set key=value ...] [--out DIR]``: the main job."""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_FINISHED, EXIT_INTERRUPTED, SymgradError
from .rundir import ERROR_LOG

# exit codes of ``python -m symgrad.run`` (symgrad.errors): an internal error is EXIT_FAILED, with
# one line on stderr and the traceback in a log file it names; after Ctrl-C during the search the
# front found so far is written
EXIT_INTERNAL = EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m symgrad.run",
                                     description="Train (or load) a classifier and find closed-form formulas for a neuron.")
    parser.add_argument("config", help="YAML configuration file (see experiments/paper/*.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=20 (repeatable)")
    parser.add_argument("--out", default=None, help="run directory to write (must not exist unless --overwrite)")
    parser.add_argument("--model", default=None, help="reuse a saved model.npz instead of training")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the job; returns the exit code (the EXIT_ codes of ``symgrad.errors``)."""
    args = build_parser().parse_args(argv)
    with _stop_signals():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    run = None
    try:
        from .config import load_config
        from .rundir import replace_problem

        config = load_config(args.config, args.overrides)
        if args.out is not None:
            problem = replace_problem(args.out, overwrite=args.overwrite or config["output"]["overwrite"])
            if problem is not None:
                raise SymgradError(problem)
        # JAX and the search engines load only now, once the config and --out are known to be good
        from .pipeline import interpret
        from .progress import Console
        from .report.summary import print_summary

        run = interpret(config, out=args.out, model_path=args.model, overwrite=args.overwrite or None,
                        progress=None if args.quiet else Console(), config_name=Path(args.config).stem)
        print_summary(run.record, run.path)
        sys.stdout.flush()
    except SymgradError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as error:
        how = "terminated (SIGTERM)" if isinstance(error, Terminated) else "interrupted"
        if run is not None:  # the run was complete and in place; only its summary was cut short
            print(f"{how} while printing the summary; the finished run is in {run.path}", file=sys.stderr)
            return EXIT_INTERRUPTED
        where = getattr(error, "run_dir", None)
        print(how + (f"; the unfinished run is in {where}" if where else "; nothing was written"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug, not the user's input: one line here, the traceback in a file
        log = _write_log(error, run)
        print(f"error: internal error ({type(error).__name__}: {error}); the traceback is in {log}", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_INTERRUPTED if run.record.status == "interrupted" else EXIT_FINISHED


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's time limit): handled as Ctrl-C is, so the run stops the
    same way (the search keeps its best-so-far front) and says so."""


def _on_signal(signum, _frame) -> None:
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _redeliver_swallowed(unraisable, previous) -> None:
    """``sys.unraisablehook`` while a run goes on: a Ctrl-C or SIGTERM that arrived inside a
    garbage-collector or weak-reference callback (JAX registers such callbacks) would be printed
    as 'ignored' and dropped, and the run would go on; it is sent again a moment later instead."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        number = signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT
        threading.Timer(0.05, os.kill, (os.getpid(), number)).start()
        return
    previous(unraisable)


@contextlib.contextmanager
def _stop_signals():
    """Ctrl-C and SIGTERM stop the run with a message, also when they arrive inside a callback
    that would swallow them (``_redeliver_swallowed``); the handlers that were there before are
    restored afterwards. Only the main thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_redeliver_swallowed, previous=previous_hook)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for number, handler in previous.items():
            signal.signal(number, handler)


def _write_log(error: Exception, run) -> Path:
    """The file holding ``error``'s traceback: the failed run's ``error.log`` when the pipeline
    wrote one, else a new file in the run folder (or the temporary folder)."""
    import tempfile
    import time
    import traceback

    where = getattr(error, "run_dir", None)
    if where is not None and (Path(where) / ERROR_LOG).is_file():
        return Path(where) / ERROR_LOG
    folder = run.path if run is not None else Path(tempfile.gettempdir())
    name = ERROR_LOG if run is not None else f"symgrad-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log = folder / name
    try:
        log.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
    except OSError:
        log = Path(tempfile.mkstemp(prefix="symgrad-error-", suffix=".log")[1])
        log.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
    return log


def console() -> None:
    """The command line's entry point (``python -m symgrad.run`` and the ``symgrad`` script)."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a late Ctrl-C must not print a traceback at exit
    if code == EXIT_INTERRUPTED:
        # everything is written and said; an interrupted JAX computation can crash the
        # interpreter's teardown (a segmentation fault after the message), so skip it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console()
