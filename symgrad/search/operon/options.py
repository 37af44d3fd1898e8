"""The Operon backend's validated options (``OperonOptions``) and the operators a user may enable.

The bottom of the package: nothing here imports another module of it, or pyoperon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ...errors import SymgradError

# Operon function symbols a user may enable; aliases map the usual operator signs onto them.
OPERATORS: tuple[str, ...] = ("add", "sub", "mul", "div", "aq", "pow", "sin", "cos", "tan", "tanh",
                              "exp", "log", "sqrt", "square", "abs")
DEFAULT_OPERATORS: tuple[str, ...] = ("add", "sub", "mul", "div", "sin", "cos", "exp", "log", "sqrt",
                                      "square")
_ALIASES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


@dataclass(frozen=True)
class OperonOptions:
    """Validated options of the Operon backend; see ``OperonBackend`` for what each one does.

    Validation happens in ``__post_init__``: a bad value raises SymgradError (one sentence).
    Values are normalised there: ``operators`` becomes a tuple of canonical names from
    ``OPERATORS`` (aliases resolved, duplicates dropped, order kept), ``complexity_weights`` a
    dict of canonical names to floats (None: empty), integers ``int`` and numbers ``float``.
    """

    operators: Sequence[str] = DEFAULT_OPERATORS
    max_length: int = 30
    max_depth: int = 10
    population_size: int = 500
    generations: int = 1000
    coefficients: str = "integer"
    integer_range: int = 5
    parsimony: float = 0.0
    complexity_weights: Mapping[str, float] | None = None
    time_limit: float | None = 60.0
    max_evaluations: int | None = None
    loss_threshold: float | None = None
    stall_evaluations: int | None = None
    stall_factor: float = 1.1
    max_points: int = 1000
    finite_difference_step: float = 1e-2
    finite_differences: str = "central"
    polish: bool = True
    per_length: int = 2
    front_margin: float | None = 1.0
    objective: str = "pareto"

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        operators = self.operators
        if isinstance(operators, str) or not isinstance(operators, Sequence) or not operators:
            raise SymgradError(f"operators {operators!r} must be a non-empty list of names from {list(OPERATORS)}")
        names = []
        for op_name in operators:
            canonical = _ALIASES.get(op_name, op_name)
            if canonical not in OPERATORS:
                raise SymgradError(f"operator {op_name!r} is not supported; choose from {list(OPERATORS)}")
            if canonical not in names:
                names.append(canonical)
        put("operators", tuple(names))
        put("max_length", _check_int("max_length", self.max_length, 3, 1000))
        put("max_depth", _check_int("max_depth", self.max_depth, 2, 100))
        put("population_size", _check_int("population_size", self.population_size, 2, 1_000_000))
        put("generations", _check_int("generations", self.generations, 1, 10**9))
        if self.coefficients not in ("integer", "real"):
            raise SymgradError(f"coefficients {self.coefficients!r} is not allowed; use 'integer' or 'real'")
        put("integer_range", _check_int("integer_range", self.integer_range, 1, 1000))
        put("parsimony", _check_float("parsimony", self.parsimony, 0.0, math.inf))
        weights = dict(self.complexity_weights or {})
        for key, value in weights.items():
            if _ALIASES.get(key, key) not in (*OPERATORS, "variable", "constant"):
                raise SymgradError(f"complexity_weights key {key!r} is not an operator, 'variable' or 'constant'")
            _check_float(f"complexity_weights[{key!r}]", value, 0.0, math.inf)
        put("complexity_weights", {_ALIASES.get(k, k): float(v) for k, v in weights.items()})
        if self.time_limit is not None:
            put("time_limit", _check_float("time_limit", self.time_limit, 0.0, math.inf, open_low=True))
        if self.max_evaluations is not None:
            put("max_evaluations", _check_int("max_evaluations", self.max_evaluations, 1, 10**15))
        if self.loss_threshold is not None:
            put("loss_threshold", _check_float("loss_threshold", self.loss_threshold, 0.0, 2.0))
        if self.stall_evaluations is not None:
            put("stall_evaluations", _check_int("stall_evaluations", self.stall_evaluations, 1, 10**15))
        put("stall_factor", _check_float("stall_factor", self.stall_factor, 1.0, math.inf, open_low=True))
        put("max_points", _check_int("max_points", self.max_points, 2, 10**8))
        put("finite_difference_step", _check_float("finite_difference_step", self.finite_difference_step, 0.0, 1.0,
                                                  open_low=True))
        if self.finite_differences not in ("central", "forward"):
            raise SymgradError(f"finite_differences {self.finite_differences!r} is not allowed; use 'central' or "
                               "'forward'")
        if not isinstance(self.polish, bool):
            raise SymgradError(f"polish {self.polish!r} must be True or False")
        put("per_length", _check_int("per_length", self.per_length, 1, 100))
        if self.front_margin is not None:
            put("front_margin", _check_float("front_margin", self.front_margin, 1.0, math.inf))
        if self.objective not in ("single", "pareto"):
            raise SymgradError(f"objective {self.objective!r} is not allowed; use 'single' or 'pareto'")


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise SymgradError(f"{name} {value!r} must be an integer between {low} and {high}")
    return int(value)


def _check_float(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"greater than {low:g}" if open_low else f"at least {low:g}"
        limit = "" if math.isinf(high) else f" and at most {high:g}"
        raise SymgradError(f"{name} {value!r} must be a finite number {bound}{limit}")
    return float(value)
