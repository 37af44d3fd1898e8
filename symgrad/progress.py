"""Progress messages and bars: one line per event, a live bar (rich) for long loops on a terminal.

A progress function is any ``Callable[[str], None]`` (``print`` will do). ``Console`` is the
one the command line uses: it writes lines to stderr and, when stderr is a terminal, shows a
bar with elapsed and remaining time for training epochs and a timer for the search. Away from a
terminal (a log file, CI, a batch worker) it shows no bar, so logs hold only the lines.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

Progress = Callable[[str], None]
# advance(status="...", advance=1): one step done, with a short status shown beside the bar
Advance = Callable[..., None]


def stderr_line(message: str) -> None:
    """Print one progress line on stderr (the plain progress function of the command line)."""
    print(message, file=sys.stderr, flush=True)


def silent(_message: str) -> None:
    """A progress function that shows nothing."""


def _no_advance(**_kwargs) -> None:
    pass


class Console:
    """Progress on a stream (stderr by default): lines, and live bars when it is a terminal.

    Args:
        stream: where to write.
        live: show bars; default: only when ``stream`` is a terminal.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = _is_terminal(self.stream) if live is None else live
        self._bar = None  # the rich Progress being shown, if any

    def __call__(self, message: str) -> None:
        if self._bar is not None:  # printed above the bar, which stays at the bottom
            self._bar.console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            print(message, file=self.stream, flush=True)

    @contextmanager
    def steps(self, total: int | None, description: str) -> Iterator[Advance]:
        """A bar for ``total`` steps (None: a timer for work of unknown length); yields ``advance``."""
        if not self.live or self._bar is not None:
            yield _no_advance
            return
        from rich.console import Console as RichConsole
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        columns = [TextColumn(description), BarColumn()]
        if total is not None:
            columns += [MofNCompleteColumn(), TimeRemainingColumn()]
        columns += [TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
        # transient: the finished bar is replaced by the summary line the caller prints
        bar = RichProgress(*columns, console=RichConsole(file=self.stream), transient=True)
        task = bar.add_task(description, total=total, status="")

        def advance(status: str = "", advance: int = 1) -> None:
            bar.update(task, advance=advance, status=status)

        self._bar = bar
        try:
            with bar:
                yield advance
        finally:
            self._bar = None


@contextmanager
def steps(progress: Progress | None, total: int | None, description: str) -> Iterator[Advance]:
    """``progress.steps(total, description)`` for a ``Console``; for any other progress function
    (or None) nothing: its caller reports the loop's outcome in one line instead."""
    if isinstance(progress, Console):
        with progress.steps(total, description) as advance:
            yield advance
    else:
        yield _no_advance


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
