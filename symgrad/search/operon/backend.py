"""Genetic programming with pyoperon, scored by gradient alignment on stacked rows: the backend's
options, and the front built from a run's archive (sympy conversion, polishing, held-out scores).

The run itself is in ``run`` (Operon objects, worker thread) and ``fitness`` (the
fitness callback and archive); trees become sympy in ``tree``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from ...errors import SymgradError
from ...expressions import symbols_for
from ..base import Entry, Front, Progress, SearchProblem, SearchResult
from .run import _OperonRun, _SafeProgress
from .tree import _NodeRecord, node_records as node_records, tree_to_sympy as tree_to_sympy
from ..polish import _usable, polish_constants as polish_constants

# Operon function symbols a user may enable; aliases map the usual operator signs onto them.
OPERATORS: tuple[str, ...] = ("add", "sub", "mul", "div", "aq", "pow", "sin", "cos", "tan", "tanh",
                              "exp", "log", "sqrt", "square", "abs")
DEFAULT_OPERATORS: tuple[str, ...] = ("add", "sub", "mul", "div", "sin", "cos", "exp", "log", "sqrt",
                                      "square")
_ALIASES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


class OperonBackend:
    """Operon genetic programming on L(g) = mean(1 - |cos(grad g, N)|).

    The gradient of each candidate tree comes from central finite differences: the tree is
    evaluated once on the stacked rows [X; X + h e_1; ...; X - h e_d] and differenced. A zero or
    non-finite gradient counts as fully misaligned. Any monotone transform of a formula scores
    the same (orientation too unless the problem is ``oriented``), so the front holds
    representatives of equivalence classes, not unique formulas.

    Args:
        operators: function symbols, from ``OPERATORS`` (``+ - * /`` accepted as aliases).
        max_length: most nodes in a tree.
        max_depth: deepest tree.
        population_size: individuals per generation.
        generations: generation limit.
        coefficients: ``"integer"`` (small integer weights, no drift; the reliable mode) or
            ``"real"`` (normal-distributed weights, mutated by Gaussian steps).
        integer_range: integer weights are drawn from [-integer_range, integer_range].
        parsimony: fitness = L + parsimony * weighted node count (meant for ``objective="single"``;
            a fixed per-node price misleads on noisy targets, see docs/method.md, "Genetic programming").
        complexity_weights: cost per operator name (also ``"variable"`` and ``"constant"``) in
            the weighted node count; 1 for anything not named.
        time_limit: wall-clock seconds for the evolutionary run (polishing comes after it).
        max_evaluations: candidate evaluations before stopping; None for no limit.
        loss_threshold: stop as soon as a candidate reaches this L; None to never stop early.
        stall_evaluations: stop once this many evaluations passed without the best train L
            falling ``stall_factor``-fold below its value at the last such improvement; None to
            never stop on stagnation. Counted in evaluations, not seconds, so the same seed
            still gives the same front.
        stall_factor: improvement (> 1) that counts as progress for ``stall_evaluations``.
        max_points: search points used for evolution (a seeded random subset if there are more).
        finite_difference_step: step h relative to each input's standard deviation.
        finite_differences: ``"central"`` (2d+1 stacked blocks) or ``"forward"`` (d+1, faster,
            O(h) error).
        polish: refit numeric constants on the exact loss with scipy after the run.
        per_length: trees kept per tree length in the archive that becomes the front.
        front_margin: only archived trees whose train L is below this factor times that of
            every shorter tree are scored and polished (None: all of them).
        objective: ``"pareto"`` (default: NSGA-II on L and the weighted node count, which keeps
            small trees of every size in the population) or ``"single"`` (L plus the parsimony
            term). Measured on exact gradients over nine known formulas, 2 seeds each: pareto
            recovered 17 of 18 runs within 20 s, single 12 of 18 within 30 s, failing every
            symmetry-reduced case (it settles on look-alikes such as 4*x0**2 + cos(2*u0) for
            x0**2 + sin(u0)).

    ``search`` returns the front with ``info`` holding the run's evaluations, generations,
    seconds (of the evolutionary run), stop reason and best training L (finite-difference
    estimate).
    """

    name = "operon"
    screens_inputs = False

    def __init__(self, *, operators: Sequence[str] = DEFAULT_OPERATORS, max_length: int = 30,
                 max_depth: int = 10, population_size: int = 500, generations: int = 1000,
                 coefficients: str = "integer", integer_range: int = 5, parsimony: float = 0.0,
                 complexity_weights: Mapping[str, float] | None = None,
                 time_limit: float | None = 60.0, max_evaluations: int | None = None,
                 loss_threshold: float | None = None, stall_evaluations: int | None = None,
                 stall_factor: float = 1.1, max_points: int = 1000,
                 finite_difference_step: float = 1e-2, finite_differences: str = "central",
                 polish: bool = True, per_length: int = 2, front_margin: float | None = 1.0,
                 objective: str = "pareto") -> None:
        if isinstance(operators, str) or not isinstance(operators, Sequence) or not operators:
            raise SymgradError(f"operators {operators!r} must be a non-empty list of names from {list(OPERATORS)}")
        names = []
        for op_name in operators:
            canonical = _ALIASES.get(op_name, op_name)
            if canonical not in OPERATORS:
                raise SymgradError(f"operator {op_name!r} is not supported; choose from {list(OPERATORS)}")
            if canonical not in names:
                names.append(canonical)
        self.operators = tuple(names)
        self.max_length = _check_int("max_length", max_length, 3, 1000)
        self.max_depth = _check_int("max_depth", max_depth, 2, 100)
        self.population_size = _check_int("population_size", population_size, 2, 1_000_000)
        self.generations = _check_int("generations", generations, 1, 10**9)
        if coefficients not in ("integer", "real"):
            raise SymgradError(f"coefficients {coefficients!r} is not allowed; use 'integer' or 'real'")
        self.coefficients = coefficients
        self.integer_range = _check_int("integer_range", integer_range, 1, 1000)
        self.parsimony = _check_float("parsimony", parsimony, 0.0, math.inf)
        weights = dict(complexity_weights or {})
        for key, value in weights.items():
            if _ALIASES.get(key, key) not in (*OPERATORS, "variable", "constant"):
                raise SymgradError(f"complexity_weights key {key!r} is not an operator, 'variable' or 'constant'")
            _check_float(f"complexity_weights[{key!r}]", value, 0.0, math.inf)
        self.complexity_weights = {_ALIASES.get(k, k): float(v) for k, v in weights.items()}
        self.time_limit = None if time_limit is None else _check_float("time_limit", time_limit, 0.0, math.inf,
                                                                       open_low=True)
        self.max_evaluations = None if max_evaluations is None else _check_int(
            "max_evaluations", max_evaluations, 1, 10**15)
        self.loss_threshold = None if loss_threshold is None else _check_float(
            "loss_threshold", loss_threshold, 0.0, 2.0)
        self.stall_evaluations = None if stall_evaluations is None else _check_int(
            "stall_evaluations", stall_evaluations, 1, 10**15)
        self.stall_factor = _check_float("stall_factor", stall_factor, 1.0, math.inf, open_low=True)
        self.max_points = _check_int("max_points", max_points, 2, 10**8)
        self.finite_difference_step = _check_float("finite_difference_step", finite_difference_step, 0.0, 1.0,
                                                   open_low=True)
        if finite_differences not in ("central", "forward"):
            raise SymgradError(f"finite_differences {finite_differences!r} is not allowed; use 'central' or 'forward'")
        self.finite_differences = finite_differences
        if not isinstance(polish, bool):
            raise SymgradError(f"polish {polish!r} must be True or False")
        self.polish = polish
        self.per_length = _check_int("per_length", per_length, 1, 100)
        self.front_margin = None if front_margin is None else _check_float("front_margin", front_margin, 1.0, math.inf)
        if objective not in ("single", "pareto"):
            raise SymgradError(f"objective {objective!r} is not allowed; use 'single' or 'pareto'")
        self.objective = objective

    def search(self, problem: SearchProblem, *, seed: int, progress: Progress | None = None) -> SearchResult:
        """Evolve formulas for ``problem`` and return their front, scored on held-out points.

        Repeatable for a given ``seed`` unless a time limit ends the run. KeyboardInterrupt (also
        from ``progress``) or an exhausted budget ends the run early and returns the front found
        so far.

        Args:
            problem: points (n, d) and unit target directions (n, d), plus held-out copies.
            seed: non-negative integer seed.
            progress: called with short status lines.

        Returns:
            Front of sympy-parsable formulas over ``problem.feature_names`` (source "operon"),
            with the run's statistics as ``info``.
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SymgradError(f"seed {seed!r} must be a non-negative integer")
        notify = _SafeProgress(progress)
        run = _OperonRun(self, problem, int(seed), notify)
        started = time.monotonic()
        archive, stop_reason = run.execute()
        trees = archive.trees(margin=self.front_margin)
        info = {"evaluations": run.fitness.evaluations, "generations": run.generation,
                "seconds": time.monotonic() - started, "stop_reason": stop_reason,
                "best_train_loss": archive.best_loss}
        notify(f"operon: {stop_reason}; {run.fitness.evaluations} evaluations, best train L "
               f"{archive.best_loss:.3g}; scoring {len(trees)} candidates")
        polish = self.polish and not notify.interrupted and stop_reason != "interrupted"
        front = _front_from_archive(trees, problem, integer=self.coefficients == "integer", polish=polish,
                                    notify=notify)
        return SearchResult(front, info, interrupted=notify.interrupted or stop_reason == "interrupted")


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


# ----------------------------------------------------------------------------------------------
# From archive to front: sympy conversion, constant polishing, held-out scoring.


def _front_from_archive(trees: list[tuple[float, tuple[_NodeRecord, ...]]], problem: SearchProblem, *,
                        integer: bool, polish: bool, notify: _SafeProgress, polish_best: int = 8) -> Front:
    """Score every archived tree (and its expanded form) on held-out points, then polish the
    constants of the Pareto entries and of the ``polish_best`` lowest-loss ones."""
    symbols = symbols_for(problem.feature_names)
    raw: dict[str, Entry] = {}
    exprs: dict[str, sp.Expr] = {}
    try:
        for _, nodes in trees:
            expr = tree_to_sympy(nodes, symbols, integer=integer)
            for form in (expr, _expanded(expr)):
                key = str(form)
                if key in exprs or not _usable(form, symbols):
                    continue
                exprs[key] = form
                raw[key] = Entry.from_expr(form, problem, source="operon",
                                           train_loss=problem.loss(form, holdout=False))
        front = Front(tuple(raw.values()))
        if not polish:
            return front
        chosen = {e.expression: e for e in front.pareto()}
        chosen.update((e.expression, e) for e in sorted(front, key=lambda e: e.loss)[:polish_best])
        polished: list[Entry] = []
        for entry in sorted(chosen.values(), key=lambda e: (e.complexity, e.loss)):
            better = polish_constants(exprs[entry.expression], problem)
            if str(better) != entry.expression:
                polished.append(Entry.from_expr(better, problem, source="operon",
                                                train_loss=problem.loss(better, holdout=False)))
        return front.merge(Front(tuple(polished)))
    except KeyboardInterrupt:
        notify.interrupted = True
        return Front(tuple(raw.values()))


def _expanded(expr: sp.Expr) -> sp.Expr:
    """Products and integer powers of sums multiplied out (exp and log left alone): Operon's
    trees often hide a simple polynomial, e.g. (a x2 + a x3)**2 - a (x2 - x3)**2 = 4 a x2 x3."""
    if sp.count_ops(expr) > 60:
        return expr
    return sp.expand(expr, power_exp=False, power_base=False, log=False)
