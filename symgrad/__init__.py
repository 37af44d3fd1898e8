"""symgrad: closed-form interpretation of neural-network classifiers with symbolic gradients.

Public names are imported on first use, so that ``python -m symgrad.run`` can check a config
file and stop on a mistake before JAX and the search engines are loaded.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "load_config": ".config",
    "CONCEPTS": ".data", "Dataset": ".data", "load_csv": ".data", "make_concept_dataset": ".data",
    "split_dataset": ".data",
    "SymgradError": ".errors",
    "explain": ".explain", "explore_batch": ".batch.explorer",
    "Result": ".result", "load_run": ".result",
    "from_arrays": ".network.importers", "from_function": ".neurons", "from_sklearn": ".network.importers",
    "from_torch": ".network.importers",
    "complexity": ".expressions", "parse_formula": ".expressions",
    "Classifier": ".network.model",
    "NeuronSpec": ".neurons", "neuron_gradients": ".neurons", "normalized_gradients": ".neurons",
    "interpret": ".pipeline",
    "make_backend": ".search",
    "Entry": ".search.base", "Front": ".search.base", "SearchProblem": ".search.base",
    "alignment_loss": ".search.loss",
    "train_classifier": ".network.train",
}

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from .config import load_config as load_config
    from .data import CONCEPTS as CONCEPTS, Dataset as Dataset, load_csv as load_csv
    from .data import make_concept_dataset as make_concept_dataset, split_dataset as split_dataset
    from .errors import SymgradError as SymgradError
    from .explain import explain as explain
    from .batch.explorer import explore_batch as explore_batch
    from .network.importers import from_arrays as from_arrays
    from .neurons import from_function as from_function
    from .network.importers import from_sklearn as from_sklearn, from_torch as from_torch
    from .result import Result as Result, load_run as load_run
    from .expressions import complexity as complexity, parse_formula as parse_formula
    from .network.model import Classifier as Classifier
    from .neurons import NeuronSpec as NeuronSpec, neuron_gradients as neuron_gradients
    from .neurons import normalized_gradients as normalized_gradients
    from .pipeline import interpret as interpret
    from .search import make_backend as make_backend
    from .search.base import Entry as Entry, Front as Front, SearchProblem as SearchProblem
    from .search.loss import alignment_loss as alignment_loss
    from .network.train import train_classifier as train_classifier

__version__ = "0.1.0"

__all__ = sorted([*_EXPORTS, "Run"])


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # importing the submodule symgrad.explain sets the package attribute "explain" to the
        # module; the public name is the function, as an eager import would have left it
        if name in _EXPORTS and isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name == "Run":  # the name earlier versions gave a loaded run directory
        return __getattr__("Result")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'symgrad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "Run"})
