"""Sparse term-library fit: g = sum_j c_j phi_j with gradients parallel to the targets.

The backend's options, the fit over supports of growing size and the front. The terms are
built in ``terms``, the best support of each size is found with ``support``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp

from ...errors import SymgradError
from ...expressions import complexity
from ..base import Entry, Front, Progress, SearchProblem, SearchResult
from ..canonical import canonicalize
from .support import backward_elimination, extend, fit_support, quadratic_forms, support_objectives
from .terms import (FAMILIES as FAMILIES, Term as Term, scaled_gradients, build_library as build_library,
                            library_bytes as library_bytes, term_gradients as term_gradients)
from ..screening import Screening, relevance, screen_problem

# Train losses below this are round-off; a 1e-16 -> 1e-17 step is no 5x improvement.
LOSS_FLOOR = 1e-10
# Supports of each size re-ranked by the true loss after ranking by the eigen-objective.
_RERANK = 10
# Prior order of term families used to break near-ties: polynomials before transcendental terms.
_FAMILY_COST = {"linear": 1, "square": 2, "product": 2, "cube": 3, "inverse": 3, "log": 3, "exp": 3,
                "sin": 4, "cos": 4, "product_cos": 5}
_BEAM = 20
# Backward elimination is skipped for libraries larger than this (each step is an (m, m) eigh).
_BACKWARD_MAX_TERMS = 400
# Largest support: beyond a dozen terms a closed form is no longer read as one.
MAX_TERMS = 16


@dataclass(frozen=True)
class SupportFit:
    """The best support found for one number of terms.

    Attributes:
        size: number of terms.
        terms: indices into ``LibraryFit.terms``.
        coefficients: coefficient of each term, in raw units (g = sum c_j phi_j).
        train_loss: L on the search points of the screened problem.
        objective: generalised eigenvalue (sum |P_k J_k c|^2 / sum |J_k c|^2).
    """

    size: int
    terms: tuple[int, ...]
    coefficients: tuple[float, ...]
    train_loss: float
    objective: float


@dataclass(frozen=True)
class LibraryFit:
    """Everything the library fit found before canonicalisation.

    Attributes:
        screening: which inputs were searched (None when screening was off).
        terms: the library.
        supports: the best support of each size 1..max_terms, in size order (sizes after the
            first exact fit, train L <= ``LOSS_FLOOR``, are not tried).
        chosen_size: the size picked by the elbow rule.
        exhaustive: whether every support up to ``max_terms`` was tried.
    """

    screening: Screening | None
    terms: tuple[Term, ...]
    supports: tuple[SupportFit, ...]
    chosen_size: int
    exhaustive: bool

    def expression(self, size: int) -> sp.Expr:
        """The fitted g (float coefficients) of the support with ``size`` terms."""
        fit = next(s for s in self.supports if s.size == size)
        return sp.Add(*[sp.Float(c) * self.terms[j].expression for j, c in zip(fit.terms, fit.coefficients)])


def elbow_size(losses: Sequence[float], factor: float = 5.0, floor: float = LOSS_FLOOR) -> int:
    """The largest k whose step from k-1 to k terms cut the best loss at least ``factor``-fold.

    ``losses[k-1]`` is the best train loss with k terms; losses below ``floor`` count as
    ``floor``. A true term cut L 43-378x on network gradients, a spurious one 1.2-3.4x
    (docs/method.md, "Library fit"), hence the default 5.

    Returns:
        The chosen number of terms (1 if no step qualifies).
    """
    chosen = 1
    for k in range(2, len(losses) + 1):
        if max(losses[k - 2], floor) >= factor * max(losses[k - 1], floor):
            chosen = k
    return chosen


class LibraryBackend:
    """Sparse fit over a fixed term library (docs/method.md, "Library fit").

    For g = sum_j c_j phi_j the gradient is J_k c with J_k the (d, m) term gradients at x_k,
    so "grad g parallel to N_k" is linear in c: minimise sum_k |(I - N_k N_k^T) J_k c|^2 subject
    to c^T B c = 1, B = sum_k J_k^T J_k (normalising by B stops the collapse to grad g = 0),
    a generalised eigenproblem. Every support of at most ``max_terms`` terms is tried when
    there are at most ``max_combinations`` of them; otherwise the candidates of each size come
    from a forward beam search and a backward elimination over the whole library. The best
    support of each size (by train L) becomes one front entry, scored on held-out points;
    ``metrics["elbow"]`` marks the size chosen by ``elbow_size``.

    Args:
        max_terms: largest support size (>= 1).
        elbow_factor: improvement factor the elbow rule asks of each added term (> 1).
        include: term families to use, a subset of ``FAMILIES`` (log and inverse are used only
            for inputs that are strictly positive on all data points).
        screen: search only the inputs kept by ``screen_problem`` (relative rule; inputs tied
            with a kept one by noise or by a pair symmetry are kept too).
        screen_threshold: relative threshold for screening, in (0, 1].
        max_combinations: cap on the supports tried exhaustively (>= 1).
        tolerance: factor on the held-out loss allowed when snapping constants (>= 1). Network
            bias makes the true constants 2-15 % worse than fitted floats (concept D: 2.5 %
            with the wide band), so the default is looser than ``canonicalize``'s 1.02.
        near_tie: supports of one size whose train L is within this factor of the best count
            as tied; the one with the simplest term families wins (polynomials first).
        force_inputs: feature names to search regardless of screening (None: screening decides).
        memory_limit: megabytes the fit may use (``library_bytes``); a larger problem is fitted
            on its most relevant inputs only.
    """

    name = "library"
    screens_inputs = True

    def __init__(self, *, max_terms: int = 4, elbow_factor: float = 5.0, include: Sequence[str] = FAMILIES,
                 screen: bool = True, screen_threshold: float = 0.1, max_combinations: int = 100000,
                 tolerance: float = 1.25, near_tie: float = 1.3,
                 force_inputs: Sequence[str] | None = None, memory_limit: int = 512) -> None:
        if isinstance(max_terms, bool) or not isinstance(max_terms, int) or not 1 <= max_terms <= MAX_TERMS:
            raise SymgradError(f"max_terms {max_terms!r} is not allowed; use an integer from 1 to {MAX_TERMS}")
        if not _is_number(elbow_factor) or not elbow_factor > 1:
            raise SymgradError(f"elbow_factor {elbow_factor!r} is not allowed; use a number > 1")
        if isinstance(include, str):
            include = (include,)
        include = tuple(include)
        unknown = [f for f in include if f not in FAMILIES]
        if unknown or not include:
            raise SymgradError(f"term families {unknown or list(include)} are not allowed; choose from {list(FAMILIES)}")
        if not isinstance(screen, bool):
            raise SymgradError(f"screen {screen!r} is not allowed; use true or false")
        if not _is_number(screen_threshold) or not 0 < screen_threshold <= 1:
            raise SymgradError(f"screen_threshold {screen_threshold!r} is not allowed; use a number in (0, 1]")
        if isinstance(max_combinations, bool) or not isinstance(max_combinations, int) or max_combinations < 1:
            raise SymgradError(f"max_combinations {max_combinations!r} is not allowed; use a positive integer")
        if not _is_number(tolerance) or not tolerance >= 1:
            raise SymgradError(f"tolerance {tolerance!r} is not allowed; use a number >= 1")
        self.max_terms = max_terms
        self.elbow_factor = float(elbow_factor)
        self.include = include
        self.screen = screen
        self.screen_threshold = float(screen_threshold)
        self.max_combinations = max_combinations
        if not _is_number(near_tie) or not near_tie >= 1:
            raise SymgradError(f"near_tie {near_tie!r} is not allowed; use a number >= 1")
        self.tolerance = float(tolerance)
        self.near_tie = float(near_tie)
        self.force_inputs = None if force_inputs is None else list(force_inputs)
        if isinstance(memory_limit, bool) or not isinstance(memory_limit, int) or memory_limit < 16:
            raise SymgradError(f"memory_limit {memory_limit!r} is not allowed; use a whole number of megabytes >= 16")
        self.memory_limit = memory_limit

    def search(self, problem: SearchProblem, *, seed: int = 0, progress: Progress | None = None) -> SearchResult:
        """Fit, canonicalise and score the best support of every size.

        The fit is deterministic; ``seed`` is accepted for the backend protocol. An interrupt
        returns the entries finished so far (``interrupted`` set).

        Returns:
            The front, with ``info`` holding the screening (kept inputs) and the elbow size.
        """
        del seed  # deterministic
        say = progress or (lambda message: None)
        try:
            fit = self.fit(problem, progress=progress)
        except KeyboardInterrupt:
            say("library: interrupted before any support was fitted")
            return SearchResult(Front(), interrupted=True)
        info: dict = {"terms": len(fit.terms), "chosen_size": fit.chosen_size, "exhaustive": fit.exhaustive}
        if fit.screening is not None:
            info["screening"] = {"kept": list(fit.screening.kept_names),
                                 "tied": [fit.screening.feature_names[i] for i in fit.screening.tied]}
        interrupted = False
        entries: dict[str, Entry] = {}
        try:
            for support in fit.supports:
                raw = _combined_logs(fit.expression(support.size))
                expr = _round_floats(canonicalize(raw, problem, tolerance=self.tolerance))
                entry = Entry.from_expr(expr, problem, source=self.name,
                                        train_loss=problem.loss(expr, holdout=False))
                elbow = support.size == fit.chosen_size
                key = entry.expression
                if key in entries:  # a bigger support that canonicalised to a smaller one
                    elbow = elbow or bool(entries[key].metrics.get("elbow"))
                    entry = entries[key]
                entries[key] = dataclasses.replace(entry, metrics={
                    **entry.metrics, "terms": entry.metrics.get("terms", support.size),
                    "fit_train_loss": entry.metrics.get("fit_train_loss", support.train_loss), "elbow": elbow})
        except KeyboardInterrupt:
            interrupted = True
            say("library: interrupted while canonicalising; returning the entries finished")
        return SearchResult(Front(tuple(entries.values())), info, interrupted)

    def _within_memory(self, problem: SearchProblem, say: Progress) -> SearchProblem:
        """``problem`` restricted to its most relevant inputs if the library would not fit in
        ``memory_limit`` (``library_bytes``); the least relevant inputs are dropped first."""
        limit = self.memory_limit * 2**20
        d = problem.n_features
        if library_bytes(len(problem.x), d, self.include) <= limit:
            return problem
        keep = d
        while keep > 1 and library_bytes(len(problem.x), keep, self.include) > limit:
            keep -= 1
        ranking = np.argsort(-relevance(problem.directions), kind="stable")
        kept = sorted(int(i) for i in ranking[:keep])
        say(f"library: {d} inputs exceed the memory limit of {self.memory_limit} MB; the {keep} most relevant "
            "are used")
        return problem.subset(kept)

    def fit(self, problem: SearchProblem, *, progress: Progress | None = None) -> LibraryFit:
        """Screen, build the library and find the best support of each size (no canonicalisation)."""
        say = progress or (lambda message: None)
        start = time.perf_counter()
        screening = None
        sub = problem
        if self.force_inputs is not None or (self.screen and problem.n_features > 1):
            screening = screen_problem(problem, threshold=self.screen_threshold, force=self.force_inputs)
            sub = problem.subset(screening.kept)
            say(f"library: screening kept {list(screening.kept_names)} of {problem.n_features} inputs")
        sub = self._within_memory(sub, say)
        terms = build_library(sub.x, sub.x_holdout, sub.feature_names, self.include)
        if not terms:
            raise SymgradError(f"the term families {list(self.include)} give no usable term on these inputs")
        gradients, scales = scaled_gradients(terms, sub.x, sub.spread)
        n = sub.x.shape[0]
        a_matrix, b_matrix = quadratic_forms(gradients, sub.directions)
        m = len(terms)
        term_complexity = [complexity(t.expression) for t in terms]
        max_size = min(self.max_terms, m)
        total = sum(math.comb(m, k) for k in range(1, max_size + 1))
        exhaustive = total <= self.max_combinations
        say(f"library: {m} terms over {sub.n_features} inputs, {n} points, "
            f"{'exhaustive over' if exhaustive else 'beam and backward elimination instead of'} {total} supports")
        # backward elimination refits (m, m) eigenproblems: worth it only for modest libraries
        backward = {} if exhaustive or m > _BACKWARD_MAX_TERMS else backward_elimination(a_matrix, b_matrix, max_size)
        supports: list[SupportFit] = []
        beam: list[tuple[int, ...]] = [()]
        try:
            for size in range(1, max_size + 1):
                if exhaustive:
                    candidates = np.array(list(itertools.combinations(range(m), size)), dtype=np.int64)
                else:
                    candidates = extend(beam, m, size, backward.get(size))
                objectives = support_objectives(a_matrix, b_matrix, candidates)
                order = np.argsort(objectives, kind="stable")
                beam = [tuple(int(j) for j in candidates[i]) for i in order[:_BEAM]]
                fits = []
                for i in order[:_RERANK]:
                    fitted = fit_support(a_matrix, b_matrix, gradients, sub.directions, candidates[i], sub.oriented)
                    fits.append((candidates[i], fitted[1], fitted[0], float(objectives[i])))
                # Near-ties go to the simpler families: network noise lets look-alikes such as
                # cos(x0) for x0**2 edge ahead by a few percent; exact fits tie at round-off.
                lowest = min(max(f[1], LOSS_FLOOR) for f in fits)
                near = [f for f in fits if max(f[1], LOSS_FLOOR) <= lowest * self.near_tie]
                support, loss, coefficients, objective = min(
                    near, key=lambda f: (sum(_FAMILY_COST[terms[j].family] for j in f[0]),
                                         sum(term_complexity[j] for j in f[0]), f[1]))
                supports.append(SupportFit(size=size, terms=tuple(int(j) for j in support),
                                           coefficients=tuple(float(c / scales[j]) for j, c in zip(support, coefficients)),
                                           train_loss=float(loss), objective=objective))
                say(f"library: best {size}-term train L {loss:.3g} ({time.perf_counter() - start:.1f} s)")
                if loss <= LOSS_FLOOR:  # exact to round-off: larger supports can only tie
                    break
        except KeyboardInterrupt:
            if not supports:
                raise
            say(f"library: interrupted after {len(supports)} sizes")
        chosen = elbow_size([s.train_loss for s in supports], self.elbow_factor)
        return LibraryFit(screening=screening, terms=tuple(terms), supports=tuple(supports),
                          chosen_size=chosen, exhaustive=exhaustive)


def _combined_logs(expr: sp.Expr) -> sp.Expr:
    """c (log a - log b + ...) as c log(a / b ...): the same level sets, and canonical forms then
    drop the outer log, so a ratio reads as a ratio (x0*x1/((x2 - x3)**2 + (x4 - x5)**2), not
    log(x0*x1) - log(...)). Only sums of logs whose coefficients share one magnitude (to 1e-6)
    are combined; anything else (2*log(x0) - x1**2) is returned as it is."""
    pairs = [term.as_coeff_Mul() for term in sp.Add.make_args(expr)]
    if len(pairs) < 2 or not all(isinstance(arg, sp.log) for _, arg in pairs):
        return expr
    size = abs(float(pairs[0][0]))
    if size == 0 or any(abs(abs(float(c)) - size) > 1e-6 * size for c, _ in pairs):
        return expr
    return sp.Float(size) * sp.log(sp.Mul(*[arg.args[0] ** (1 if c > 0 else -1) for c, arg in pairs]))


def _round_floats(expr: sp.Expr, digits: int = 6) -> sp.Expr:
    """Constants left unsnapped are shown with ``digits`` significant digits (and scored so)."""
    return expr.xreplace({f: sp.Float(float(f"{float(f):.{digits}g}")) for f in expr.atoms(sp.Float)})


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
