"""Genetic programming with pyoperon, scored by gradient alignment on stacked rows: the backend
(its keyword options are validated into ``OperonOptions``), and the front built from a run's
archive (sympy conversion, polishing, held-out scores).

The options and the operator names are in ``options``; the run itself is in ``run`` (Operon
objects, worker thread) and ``fitness`` (the fitness callback and archive); trees become sympy
in ``tree``. ``OPERATORS``, ``DEFAULT_OPERATORS``, ``node_records``, ``tree_to_sympy`` and
``polish_constants`` are importable from here too.
"""

from __future__ import annotations

import time
from typing import Mapping, Sequence

import numpy as np
import sympy as sp

from ...errors import SymgradError
from ...expressions import symbols_for
from ..base import Entry, Front, Progress, SearchProblem, SearchResult
from ..polish import usable, polish_constants as polish_constants
from .options import DEFAULT_OPERATORS as DEFAULT_OPERATORS, OPERATORS as OPERATORS, OperonOptions
from .run import OperonRun, SafeProgress
from .tree import NodeRecord, node_records as node_records, tree_to_sympy as tree_to_sympy


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

    The options are validated into ``self.options`` (an ``OperonOptions``, which the run and
    the fitness callback read); a bad value raises SymgradError.

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
        self.options = OperonOptions(
            operators=operators, max_length=max_length, max_depth=max_depth, population_size=population_size,
            generations=generations, coefficients=coefficients, integer_range=integer_range, parsimony=parsimony,
            complexity_weights=complexity_weights, time_limit=time_limit, max_evaluations=max_evaluations,
            loss_threshold=loss_threshold, stall_evaluations=stall_evaluations, stall_factor=stall_factor,
            max_points=max_points, finite_difference_step=finite_difference_step,
            finite_differences=finite_differences, polish=polish, per_length=per_length,
            front_margin=front_margin, objective=objective)

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
        options = self.options
        notify = SafeProgress(progress)
        run = OperonRun(options, problem, int(seed), notify)
        started = time.monotonic()
        archive, stop_reason = run.execute()
        trees = archive.trees(margin=options.front_margin)
        info = {"evaluations": run.fitness.evaluations, "generations": run.generation,
                "seconds": time.monotonic() - started, "stop_reason": stop_reason,
                "best_train_loss": archive.best_loss}
        notify(f"operon: {stop_reason}; {run.fitness.evaluations} evaluations, best train L "
               f"{archive.best_loss:.3g}; scoring {len(trees)} candidates")
        polish = options.polish and not notify.interrupted and stop_reason != "interrupted"
        front = _front_from_archive(trees, problem, integer=options.coefficients == "integer", polish=polish,
                                    notify=notify)
        return SearchResult(front, info, interrupted=notify.interrupted or stop_reason == "interrupted")


# ----------------------------------------------------------------------------------------------
# From archive to front: sympy conversion, constant polishing, held-out scoring.


def _front_from_archive(trees: list[tuple[float, tuple[NodeRecord, ...]]], problem: SearchProblem, *,
                        integer: bool, polish: bool, notify: SafeProgress, polish_best: int = 8) -> Front:
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
                if key in exprs or not usable(form, symbols):
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
