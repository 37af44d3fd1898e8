"""Pairwise symmetries of a gradient field (x_i + x_j, x_i - x_j, x_i * x_j, x_i / x_j, x_i^2 + x_j^2,
x_i^2 - x_j^2), the reduced problem, and repeated reduction for groups of three or more inputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

import numpy as np
import sympy as sp

from ..errors import SymgradError
from ..expressions import symbols_for
from .base import SearchProblem

KINDS: tuple[str, ...] = ("sum", "difference", "product", "ratio", "sum_of_squares", "difference_of_squares")
DEFAULT_KINDS: tuple[str, ...] = ("sum", "difference", "product")
# what the auto strategy tests unless told otherwise. The difference of squares keeps x0**2 - x1**2
# from being reduced to the plain difference x0 - x1 near its level. The sum of squares is
# opt-in: the library already writes x0**2 + x1**2, and on trained networks of the
# generalisation benchmark that kind turned two exact answers (m |b|, m (w1^2 + w2^2) L^2) into
# longer look-alikes
AUTO_KINDS: tuple[str, ...] = ("sum", "difference", "product", "ratio", "difference_of_squares")
# The squared kinds are accepted below this fraction of the threshold only. On trained networks
# true x_i^2 +- x_j^2 pairs scored 0.008-0.048, while the law of cosines' a^2 + b^2 - 2ab cos C
# put its (a, b) pair at 0.112, under the plain threshold of 0.12: its statistic vanishes
# wherever cos C or a^2 - b^2 does.
SQUARED_KINDS_FACTOR = 0.5


@dataclass(frozen=True)
class Symmetry:
    """The neuron depends on inputs ``i`` and ``j`` only through one combined variable.

    Attributes:
        kind: "sum" (x_i + x_j), "difference" (x_i - x_j), "product" (x_i * x_j), "ratio"
            (x_i / x_j), "sum_of_squares" (x_i^2 + x_j^2) or "difference_of_squares" (x_i^2 - x_j^2).
        i: first input column.
        j: second input column.
        statistic: the detection statistic (0 = exact symmetry).
    """

    kind: str
    i: int
    j: int
    statistic: float

    def expression(self, feature_names: Sequence[str]) -> sp.Expr:
        """The combined variable as a sympy expression over ``feature_names``."""
        symbols = symbols_for(feature_names)
        a, b = symbols[self.i], symbols[self.j]
        return {"sum": a + b, "difference": a - b, "product": a * b, "ratio": a / b,
                "sum_of_squares": a**2 + b**2, "difference_of_squares": a**2 - b**2}[self.kind]

    def values(self, x: np.ndarray) -> np.ndarray:
        """The combined variable at points ``x`` (n, d) -> (n,)."""
        a, b = x[:, self.i], x[:, self.j]
        with np.errstate(all="ignore"):
            return {"sum": a + b, "difference": a - b, "product": a * b, "ratio": a / b,
                    "sum_of_squares": a * a + b * b, "difference_of_squares": a * a - b * b}[self.kind]

    def partials(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(du/dx_i, du/dx_j) at points ``x`` (n, d), each (n,)."""
        a, b = x[:, self.i], x[:, self.j]
        ones = np.ones_like(a)
        if self.kind == "sum":
            return ones, ones
        if self.kind == "difference":
            return ones, -ones
        if self.kind == "product":
            return b, a
        if self.kind == "sum_of_squares":
            return 2 * a, 2 * b
        if self.kind == "difference_of_squares":
            return 2 * a, -2 * b
        with np.errstate(all="ignore"):
            return 1.0 / b, -a / (b * b)


def symmetry_statistics(x: np.ndarray, directions: np.ndarray, i: int, j: int) -> dict[str, float]:
    """Statistics for every kind of symmetry of the input pair (i, j); 0 means exact.

    With n the unit gradients, a_k = n_k (sum, difference) or x_k * n_k (product, ratio):
    sum = median|a_i - a_j| / median(|a_i| + |a_j|), difference and ratio the same with
    a_i + a_j. With the crossed a_i = x_j * n_i, a_j = x_i * n_j the same two statistics test
    x_i^2 + x_j^2 (grad parallel to (x_i, x_j)) and x_i^2 - x_j^2 (parallel to (x_i, -x_j)).
    They are ratios of medians, so a few points far off the symmetry do not matter.

    A difference of squares near its zero level (x_i close to x_j) also looks like a
    difference, and the reverse: both statistics are tested and the smaller one wins.

    Args:
        x: (n, d) points.
        directions: (n, d) unit gradient directions at ``x``.
        i: first input column.
        j: second input column.

    Returns:
        Statistic per kind; NaN where the pair carries no gradient at all.
    """
    n_i, n_j = directions[:, i], directions[:, j]
    m_i, m_j = x[:, i] * n_i, x[:, j] * n_j
    c_i, c_j = x[:, j] * n_i, x[:, i] * n_j
    with np.errstate(all="ignore"):
        plain = np.median(np.abs(n_i) + np.abs(n_j))
        scaled = np.median(np.abs(m_i) + np.abs(m_j))
        crossed = np.median(np.abs(c_i) + np.abs(c_j))
        stats = {
            "sum": np.median(np.abs(n_i - n_j)) / plain,
            "difference": np.median(np.abs(n_i + n_j)) / plain,
            "product": np.median(np.abs(m_i - m_j)) / scaled,
            "ratio": np.median(np.abs(m_i + m_j)) / scaled,
            "sum_of_squares": np.median(np.abs(c_i - c_j)) / crossed,
            "difference_of_squares": np.median(np.abs(c_i + c_j)) / crossed,
        }
    return {kind: float(value) if np.isfinite(value) else float("nan") for kind, value in stats.items()}


def detect_symmetries(x: np.ndarray, directions: np.ndarray, feature_names: Sequence[str], *,
                      threshold: float = 0.12, kinds: Sequence[str] = DEFAULT_KINDS,
                      min_relevance: float = 0.02, involving: Collection[int] | None = None) -> list[Symmetry]:
    """Find disjoint input pairs that the neuron sees only through one combined variable.

    Every (statistic, kind, pair) is sorted and accepted greedily while the statistic is below
    ``threshold`` and neither input is already paired. Measured on trained networks, true pairs
    score 0.012-0.070 and false ones 0.19 or more (product has the thinnest margin). Ratios are
    off by default (unmeasured) and only tried where x_j keeps one sign away from zero. The
    squared kinds (off by default) must stay below ``SQUARED_KINDS_FACTOR`` x ``threshold``.

    Args:
        x: (n, d) points, best near the decision surface.
        directions: (n, d) unit neuron gradients at ``x``.
        feature_names: d names, used in error messages.
        threshold: accept statistics below this value.
        kinds: symmetry kinds to test, from ``KINDS``.
        min_relevance: skip pairs whose median |n_i| + |n_j| is below this (inputs the neuron
            ignores would otherwise look symmetric in their noise).
        involving: if given, only pairs with at least one input among these columns are tested.

    Returns:
        Accepted symmetries, best statistic first.
    """
    x = np.asarray(x, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    if x.ndim != 2 or x.shape != directions.shape or x.shape[0] < 1:
        raise SymgradError(f"points {x.shape} and directions {directions.shape} must be equal (n, d) arrays")
    if len(feature_names) != x.shape[1]:
        raise SymgradError(f"{len(feature_names)} feature names were given for {x.shape[1]} input columns")
    if not 0 < threshold < 1:
        raise SymgradError(f"threshold {threshold!r} must be between 0 and 1")
    for kind in kinds:
        if kind not in KINDS:
            raise SymgradError(f"symmetry kind {kind!r} is not known; choose from {list(KINDS)}")
    candidates: list[tuple[float, int, int, int]] = []
    d = x.shape[1]
    for i in range(d):
        for j in range(i + 1, d):
            if involving is not None and i not in involving and j not in involving:
                continue
            if np.median(np.abs(directions[:, i]) + np.abs(directions[:, j])) < min_relevance:
                continue
            candidates += [(s.statistic, KINDS.index(s.kind), i, j)
                           for s in pair_symmetries(x, directions, i, j, threshold=threshold, kinds=kinds)]
    accepted: list[Symmetry] = []
    used: set[int] = set()
    for statistic, rank, i, j in sorted(candidates):
        if i in used or j in used:
            continue
        accepted.append(Symmetry(kind=KINDS[rank], i=i, j=j, statistic=statistic))
        used.update((i, j))
    return accepted


def pair_symmetries(x: np.ndarray, directions: np.ndarray, i: int, j: int, *, threshold: float = 0.12,
                    kinds: Sequence[str] = DEFAULT_KINDS) -> list[Symmetry]:
    """Every symmetry of ``kinds`` that the pair (i, j) passes, best statistic first.

    A kind passes when its statistic is below ``threshold`` (the squared kinds: below
    ``SQUARED_KINDS_FACTOR`` x ``threshold``); ratios only where x_j keeps one sign away from 0.
    Arrays as in ``symmetry_statistics``.
    """
    stats = symmetry_statistics(x, directions, i, j)
    found = []
    for kind in KINDS:
        limit = threshold * (SQUARED_KINDS_FACTOR if kind in ("sum_of_squares", "difference_of_squares") else 1.0)
        if kind not in kinds or not stats[kind] < limit:  # NaN fails too
            continue
        if kind == "ratio" and not _safe_divisor(x[:, j]):
            continue
        found.append(Symmetry(kind=kind, i=i, j=j, statistic=stats[kind]))
    return sorted(found, key=lambda s: (s.statistic, KINDS.index(s.kind)))


def _safe_divisor(column: np.ndarray) -> bool:
    low, high = float(np.min(column)), float(np.max(column))
    spread = max(abs(low), abs(high))
    return (low > 0.05 * spread) or (high < -0.05 * spread)


def reduce_problem(problem: SearchProblem,
                   symmetries: Sequence[Symmetry]) -> tuple[SearchProblem, dict[str, sp.Expr]]:
    """Replace each symmetric pair by its combined variable.

    For u = u(x_i, x_j) with partials (a, b), the target component for u is the least-squares
    fit (a n_i + b n_j) / (a^2 + b^2): (n_i + n_j)/2 for sums, (n_i - n_j)/2 for differences,
    (n_i x_j + n_j x_i)/(x_i^2 + x_j^2) for products. Other components are kept and every row is
    renormalised. The reduced variables take the column of the pair's first input and are
    named u0, u1, ... (skipping names already in use); other inputs keep their names.

    Args:
        problem: the original problem (n, d) and held-out (m, d).
        symmetries: disjoint pairs, e.g. from ``detect_symmetries``.

    Returns:
        (reduced problem, substitution) where substitution maps every reduced feature name to
        its sympy expression over the original feature names.
    """
    d = problem.n_features
    first_of: dict[int, Symmetry] = {}
    second: set[int] = set()
    for sym in symmetries:
        if not (0 <= sym.i < d and 0 <= sym.j < d) or sym.i == sym.j:
            raise SymgradError(f"symmetry {sym!r} names inputs outside 0..{d - 1}")
        if {sym.i, sym.j} & (set(first_of) | second):
            raise SymgradError(f"symmetry {sym!r} reuses an input; pairs must be disjoint")
        if sym.kind not in KINDS:
            raise SymgradError(f"symmetry kind {sym.kind!r} is not known; choose from {list(KINDS)}")
        first, other = min(sym.i, sym.j), max(sym.i, sym.j)
        first_of[first] = sym
        second.add(other)

    taken = set(problem.feature_names)
    counter = 0
    names: list[str] = []
    substitution: dict[str, sp.Expr] = {}
    original = symbols_for(problem.feature_names)
    columns: list[int | Symmetry] = []
    for k in range(d):
        if k in second:
            continue
        if k in first_of:
            while f"u{counter}" in taken:
                counter += 1
            name = f"u{counter}"
            counter += 1
            names.append(name)
            substitution[name] = first_of[k].expression(problem.feature_names)
            columns.append(first_of[k])
        else:
            names.append(problem.feature_names[k])
            substitution[problem.feature_names[k]] = original[k]
            columns.append(k)

    def reduce(x: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs, ns = [], []
        for column in columns:
            if isinstance(column, int):
                xs.append(x[:, column])
                ns.append(directions[:, column])
                continue
            a, b = column.partials(x)
            with np.errstate(all="ignore"):
                component = (a * directions[:, column.i] + b * directions[:, column.j]) / (a * a + b * b)
            xs.append(column.values(x))
            ns.append(np.where(np.isfinite(component), component, 0.0))
        reduced_x, reduced_n = np.column_stack(xs), np.column_stack(ns)
        norms = np.linalg.norm(reduced_n, axis=1, keepdims=True)
        return reduced_x, reduced_n / np.where(norms > 0, norms, 1.0)

    # the reduction works on raw-unit gradients; the reduced problem gets its own spread units
    x, n = reduce(np.asarray(problem.x, dtype=np.float64), problem.raw_directions())
    xh, nh = reduce(np.asarray(problem.x_holdout, dtype=np.float64), problem.raw_directions(holdout=True))
    reduced = dataclasses.replace(problem, x=x, directions=n, x_holdout=xh, directions_holdout=nh,
                                  feature_names=tuple(names), scale=None)
    if problem.scale is not None:
        spread = problem.spread
        reduced = reduced.in_spread_units(np.array([spread[c] if isinstance(c, int) else np.std(c.values(problem.x))
                                                    for c in columns]))
    return reduced, substitution


def reduce_repeatedly(problem: SearchProblem, *, threshold: float = 0.12, kinds: Sequence[str] = DEFAULT_KINDS,
                      max_rounds: int = 4) -> tuple[SearchProblem, dict[str, sp.Expr], list[tuple[Symmetry, sp.Expr]]]:
    """Pair reduction applied again on the reduced problem, so groups of inputs become one variable.

    A reduced variable u0 = x0 + x1 is an input like any other, so a second round can pair it
    with x2 (u1 = u0 + x2 = x0 + x1 + x2); x0 * x1 * x2 and mixed chains such as x0 * x1 + x2
    arise the same way. Later rounds only test pairs that contain a variable made in the round
    before: pairs of untouched inputs were already rejected. Each round removes at least one
    variable, and a round that finds nothing ends the loop.

    Args:
        problem: the original problem (n, d) and held-out (m, d).
        threshold: acceptance threshold of ``detect_symmetries`` in every round.
        kinds: symmetry kinds to test, from ``KINDS``.
        max_rounds: most rounds (4 rounds can merge up to 16 inputs into one variable).

    Returns:
        (reduced problem, substitution, found) where substitution maps every reduced feature
        name to its expression over the original feature names, and found lists every accepted
        symmetry (over the names of its round's problem) with its expression over the original
        feature names, in the order found.
    """
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise SymgradError(f"max_rounds={max_rounds!r} is not allowed; use a positive integer")
    current, substitution = problem, {name: sym for name, sym in zip(problem.feature_names,
                                                                        symbols_for(problem.feature_names))}
    found: list[tuple[Symmetry, sp.Expr]] = []
    involving: set[int] | None = None
    for _ in range(max_rounds):
        if current.n_features < 2:
            break
        symmetries = detect_symmetries(current.x, current.raw_directions(), current.feature_names,
                                       threshold=threshold, kinds=kinds, involving=involving)
        if not symmetries:
            break
        found += [(s, substitute_back(s.expression(current.feature_names), substitution)) for s in symmetries]
        reduced, step = reduce_problem(current, symmetries)
        substitution = {name: substitute_back(expr, substitution) for name, expr in step.items()}
        new_names = set(step) - set(current.feature_names)
        involving = {k for k, name in enumerate(reduced.feature_names) if name in new_names}
        current = reduced
    return current, substitution, found


def substitute_back(expr: sp.Expr, substitution: Mapping[str, sp.Expr]) -> sp.Expr:
    """Rewrite a formula over the reduced feature names in the original feature names."""
    mapping = {sp.Symbol(name, real=True): value for name, value in substitution.items()}
    return expr.xreplace(mapping)
