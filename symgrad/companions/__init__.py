"""What users try today, side by side with symgrad's formula on the same network and points.

Surrogates fitted to the network's labels (a decision tree, a logistic regression), one-input
sensitivity curves, and a PReLU network collapsed into linear rules; ``companion_table`` puts
them in one table with the formula. scikit-learn is needed for the surrogates only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> its module; imported on first use so that validating a config (which names
# companions) does not load JAX
_EXPORTS: dict[str, str] = {
    "CollapsedRules": ".collapse", "collapse": ".collapse",
    "COMPANIONS": ".compare", "companion_names": ".compare", "run_companions": ".compare",
    "PReLUNetwork": ".prelu", "train_prelu": ".prelu", "xor_example": ".prelu",
    "companion_table": ".table", "format_table": ".table",
}

if TYPE_CHECKING:
    from .collapse import CollapsedRules as CollapsedRules, collapse as collapse
    from .compare import COMPANIONS as COMPANIONS, companion_names as companion_names
    from .compare import run_companions as run_companions
    from .prelu import PReLUNetwork as PReLUNetwork, train_prelu as train_prelu, xor_example as xor_example
    from .table import companion_table as companion_table, format_table as format_table

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symgrad.companions' has no attribute {name!r}")
