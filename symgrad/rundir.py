"""Run folders: where a run goes, what may be replaced, the swap that publishes it, and the
atomic writes of its JSON files. The only module that writes or replaces run folders.

A run is written into a hidden sibling folder (``.NAME.partial-...``) and moved to its place
only when it is complete, so an earlier run at that place stays intact until then. Only a
symgrad run directory is ever replaced: a folder whose ``result.json`` is a symgrad result and
that holds nothing but the files a run writes. Folders with anything else, the current folder
and its parents, the home folder and filesystem roots are never replaced.

This module uses the standard library alone, so that the command line can check its output
path before the numerical packages are imported.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import SymgradError

RESULT_FORMAT = "symgrad-result"
RESULT_VERSION = 1
RESULT_FILE = "result.json"
ERROR_LOG = "error.log"
# everything a run writes (report_figures/ holds PNG files only; error.txt is a batch item's
# traceback); anything else is the user's. A new file in a run folder must be added here, or
# --overwrite will refuse to replace such runs (tests/test_overwrite.py checks a finished run).
RUN_FILES = frozenset({"config.yaml", "model.npz", "gradients.npz", RESULT_FILE, "report.html", "report.md",
                       "report_figures", "front.csv", "front.json", "formula.tex", "rule.py", ERROR_LOG,
                       "error.txt"})
# a run with one of these states did not finish: it may be replaced without --overwrite
UNFINISHED = ("started", "searching", "failed")


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python values and NaN or infinity
    into None (JSON has neither); duck-typed, so that this module needs no numpy."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as JSON atomically (a temporary file, then a rename): a crash never leaves
    half a file, and a reader sees the old or the new content."""
    return write_text(path, json.dumps(jsonable(data), indent=2, allow_nan=False))


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` atomically (a temporary ``*.tmp`` beside it, then a rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def safe_name(name: str) -> str:
    """One directory name made from ``name``: separators and odd characters become ``_`` and
    leading dots are dropped, so ``".."`` or ``"a/../b"`` can never leave the output folder."""
    text = re.sub(r"[^\w.-]+", "_", str(name)).lstrip(".")
    return text or "run"


def run_status(path: str | Path) -> str | None:
    """The ``status`` in ``path/result.json`` if it is a symgrad result, else None."""
    try:
        result = json.loads((Path(path) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or result.get("format") != RESULT_FORMAT:
        return None
    status = result.get("status")
    return status if isinstance(status, str) else "unknown"


def foreign_entries(path: Path) -> list[str]:
    """Names in ``path`` that a run does not write (temporary ``*.tmp`` files count as the run's)."""
    foreign = []
    for entry in path.iterdir():
        if entry.name.endswith(".tmp") and entry.is_file() and not entry.is_symlink():
            continue
        if entry.name not in RUN_FILES or entry.is_symlink():
            foreign.append(entry.name)
        elif entry.name == "report_figures":
            if not entry.is_dir() or any(not (f.is_file() and f.suffix == ".png") for f in entry.iterdir()):
                foreign.append(entry.name)
        elif entry.is_dir():
            foreign.append(entry.name)
    return sorted(foreign)


def _protected(path: Path) -> str | None:
    """Why ``path`` may never be replaced (root, home, the current folder or a parent), or None."""
    resolved = path.resolve()
    if resolved == Path(resolved.anchor):
        return "a filesystem root"
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):  # no home folder known
        home = None
    if home is not None and (resolved == home or resolved in home.parents):
        return "the home folder" if resolved == home else "a parent of the home folder"
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current folder was deleted
        return None
    if resolved == cwd or resolved in cwd.parents:
        return "the current folder" if resolved == cwd else "a parent of the current folder"
    return None


def _unmodifiable(path: Path) -> str | None:
    """Why the run folder ``path`` could not be replaced by this user (checked before any work
    is done, not found after training), or None."""
    parent = path.parent if str(path.parent) else Path(".")
    for folder, role in ((parent, "the folder holding it"), (path, "it")):
        if not os.access(folder, os.W_OK | os.X_OK):
            return (f"run folder {str(path)!r} cannot be replaced: {role} is not writable by this user; give "
                    "another folder with --out")
    return None


def replace_problem(path: str | Path, *, overwrite: bool) -> str | None:
    """None if a run may be written at ``path``, else the reason it may not (one sentence).

    Free are: a missing path, an empty folder, and an unfinished symgrad run (status started,
    searching or failed). A finished or interrupted run is free only with ``overwrite``. A file,
    a link, a protected folder or a folder with anything besides run files is never free.
    """
    path = Path(path)
    shown = str(path)
    if not os.path.lexists(path):
        return None
    if path.is_symlink():
        return f"{shown!r} is a symbolic link; give the path of a real folder for the run"
    if not path.is_dir():
        return f"{shown!r} is a file, not a folder; give a folder path for the run"
    protected = _protected(path)
    if protected is not None:
        return f"{shown!r} is {protected} and is never used or replaced as a run folder; give a new folder such as runs/NAME"
    try:
        entries = list(path.iterdir())
    except OSError as exc:
        return f"{shown!r} cannot be read ({exc.strerror}); give another folder"
    if not entries:
        return None
    status = run_status(path)
    foreign = foreign_entries(path)
    if status is None or foreign:
        example = ", ".join(repr(n) for n in foreign[:3]) or "no symgrad result.json"
        return (f"{shown!r} holds files that are not part of a symgrad run ({example}); symgrad replaces only "
                "its own run folders, so give another folder")
    if status in UNFINISHED or overwrite:
        return _unmodifiable(path)
    return f"run folder {shown!r} already holds a {status} run; give another folder or pass --overwrite to replace it"


@dataclass
class RunDirectory:
    """A run being written.

    Attributes:
        target: where the run will appear when it is complete.
        path: the hidden sibling folder the run is written into meanwhile.
        overwrite: whether a finished run at ``target`` may be replaced.
    """

    target: Path
    path: Path
    overwrite: bool
    numbered: Path | None = None

    def commit(self) -> Path:
        """Move the complete run to ``target`` (replacing what may be replaced); returns ``target``.

        If a run appeared at ``target`` meanwhile (two runs started together), a run whose
        folder was chosen by name (``numbered``: ``output.dir/NAME``) moves to the first free
        numbered sibling (``NAME-2``, ``NAME-3``, ...) instead;
        a run given its folder explicitly stops with one sentence and stays in its hidden folder.
        """
        for _ in range(1000):
            problem = replace_problem(self.target, overwrite=self.overwrite)
            if problem is None:
                try:
                    _swap(self.path, self.target)
                    return self.target
                except OSError:  # taken between the check and the move
                    if self.numbered is None:
                        raise
            elif self.numbered is None:
                raise SymgradError(f"{problem}; the new run is kept in {str(self.path)!r}")
            self.target = _first_free(self.numbered, overwrite=self.overwrite)
        raise SymgradError(f"no free run folder next to {str(self.target)!r}; the new run is kept in "
                           f"{str(self.path)!r}")

    def fail(self, error: BaseException) -> Path | None:
        """Record a failed run: ``status`` failed and the error in ``result.json`` (and the
        traceback in ``error.log`` for an internal error), then move it to ``target`` if that is
        free; else (a finished run stands there) the failed run is dropped, or kept where it is
        when it holds a traceback. Returns where the failed run now lies, or None."""
        internal = not isinstance(error, (SymgradError, KeyboardInterrupt))
        try:
            result_file = self.path / RESULT_FILE
            result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else {
                "format": RESULT_FORMAT, "version": RESULT_VERSION}
            result["status"] = "failed"
            result["error"] = ("interrupted by the user before the search finished"
                               if isinstance(error, KeyboardInterrupt) else str(error) or type(error).__name__)
            if internal:
                result["error"] = f"internal error ({type(error).__name__}: {error})"
                (self.path / ERROR_LOG).write_text("".join(traceback.format_exception(error)), encoding="utf-8")
            write_json(result_file, result)
            if replace_problem(self.target, overwrite=False) is None:
                _swap(self.path, self.target)
                return self.target
            if internal:
                return self.path
            shutil.rmtree(self.path, ignore_errors=True)
            return None
        except OSError:
            return self.path if self.path.exists() else None


def _swap(source: Path, target: Path) -> None:
    """Put folder ``source`` at ``target``; an existing ``target`` is moved aside first and
    deleted only once ``source`` is in place (restored if the move fails)."""
    old = None
    if os.path.lexists(target):
        if not any(target.iterdir()):
            target.rmdir()
        else:
            old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
            os.rename(target, old)
    try:
        os.rename(source, target)
    except OSError:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def prepare_run_dir(base: str | Path, name: str | None, *, stem: str, overwrite: bool,
                    explicit: bool = False) -> RunDirectory:
    """Choose the run's folder and create the hidden folder it is written into.

    Args:
        base: the explicit run folder (``explicit``, from ``--out``) or the output folder.
        name: the run's name inside ``base`` (``output.name``); default ``stem``. Sanitised to
            one plain folder name.
        stem: the default name (the config file's stem).
        overwrite: a finished run at the chosen place may be replaced.
        explicit: ``base`` is the run folder itself; if it is taken (see ``replace_problem``)
            the run stops with one sentence. Otherwise ``base/name`` is used if free, else the
            first free numbered sibling ``name-2``, ``name-3``, ...

    Raises:
        SymgradError: the place is taken or cannot be created.
    """
    base = Path(os.path.abspath(base))  # lexically normalised: "a/.." is the folder it names
    if explicit:
        target = base
        problem = replace_problem(target, overwrite=overwrite)
        if problem is not None:
            raise SymgradError(problem)
    else:
        if os.path.lexists(base) and not base.is_dir():
            raise SymgradError(f"output.dir {str(base)!r} is a file, not a folder; give a folder for the runs")
        target = _first_free(base / safe_name(name or stem), overwrite=overwrite)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise SymgradError(f"cannot create the run folder {str(target)!r} ({exc.strerror or exc}); "
                           "give a folder you can write to") from None
    return RunDirectory(target=target, path=staging, overwrite=overwrite,
                        numbered=None if explicit else base / safe_name(name or stem))


def _first_free(named: Path, *, overwrite: bool) -> Path:
    """``named`` (e.g. ``runs/A1``) if a run may be written there, else the first free numbered
    sibling ``runs/A1-2``, ``runs/A1-3``, ..."""
    target, counter = named, 2
    while replace_problem(target, overwrite=overwrite) is not None:
        target, counter = named.with_name(f"{named.name}-{counter}"), counter + 1
    return target
