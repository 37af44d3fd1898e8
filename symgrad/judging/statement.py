"""How to read a deciding formula, in one sentence: "the decision boundary is {g = t}: the network
predicts class 1 where g > t". Plain text from a formula's metrics, with no numerical imports, so
that the report and a resume can write it without JAX."""

from __future__ import annotations

import math
from typing import Any


def decision_statement(expression: str, metrics: dict[str, Any], description: str = "") -> str:
    """How to read a deciding formula: "the decision boundary is {g = t}: the network predicts
    class 1 where g > t", with the threshold rounded to the digits the network's decisions can
    tell apart (``threshold_round``, else the fitted ``threshold`` to 4 digits) and its unit
    (``threshold_unit``) where the columns' units are known."""
    threshold = metrics.get("threshold_round", metrics.get("threshold"))
    if not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        return f"the {description or 'neuron'} is a monotone function of {expression}"
    unit = metrics.get("threshold_unit")
    value = f"{threshold:.4g}" + (f" {unit}" if unit else "")
    side = ">" if metrics.get("orientation", 1) > 0 else "<"
    target = metrics.get("target_class", 1)
    name = str(metrics.get("target_class_name", target))
    label = f"class {target}" if name == str(target) else f"class {target} ({name!r})"
    return (f"the decision boundary is {{{expression} = {value}}}: "
            f"the network predicts {label} where {expression} {side} {value}")
