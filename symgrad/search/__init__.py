"""Symbolic search backends behind one interface, and the registry that builds them."""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import SymgradError
from .base import (Entry as Entry, Front as Front, SearchBackend as SearchBackend, SearchProblem as SearchProblem,
                   SearchResult as SearchResult)
from .loss import alignment_loss as alignment_loss

BACKENDS = ("auto", "library", "operon", "pysr")


def _backend_class(name: str):
    # imported lazily so that an optional backend's dependencies load only when chosen
    if name == "library":
        from .library.backend import LibraryBackend
        return LibraryBackend
    if name == "operon":
        from .operon.backend import OperonBackend
        return OperonBackend
    if name == "auto":
        from .auto import AutoBackend
        return AutoBackend
    if name == "pysr":
        from .pysr.backend import PySRBackend
        return PySRBackend
    raise SymgradError(f"search.backend {name!r} is not known; choose one of {list(BACKENDS)}")


def make_backend(name: str, options: dict[str, Any] | None = None, *, screen: bool | None = None,
                 force_inputs: list[str] | None = None) -> SearchBackend:
    """Build backend ``name`` with its ``options``: the one place where options are checked.

    Args:
        name: one of ``BACKENDS``.
        options: the backend's own options; unknown ones raise SymgradError, bad values raise
            it from the backend's constructor.
        screen, force_inputs: input screening, passed to backends that screen their inputs
            (``screens_inputs``) unless ``options`` sets them; other backends search every input.
    """
    cls = _backend_class(name)
    options = dict(options or {})
    if getattr(cls, "screens_inputs", False):
        if screen is not None:
            options.setdefault("screen", screen)
        if force_inputs is not None:
            options.setdefault("force_inputs", force_inputs)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        allowed = [p for p in params if p != "self"]
        for key in options:
            if key not in allowed:
                raise SymgradError(f"search.options.{key} is not an option of the {name} backend; allowed: {allowed}")
    try:
        return cls(**options)
    except TypeError as exc:  # a value of the wrong type that no check of the backend caught
        raise SymgradError(f"search.options for the {name} backend has a value of the wrong type ({exc}); "
                           "see the backend's documented options") from None
