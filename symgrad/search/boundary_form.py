"""The law's form: boundary-equivalent formulas a reader would write, proposed beside the search's.

A classifier pins down only its decision boundary {g = t}, so any formula h whose level set
{h = t'} is the same surface is an equally true answer (docs/method.md, "The law's form").
Searches return whatever fits the directions first: ``-10*height_m + 2*sqrt(weight_kg)`` or
``weight_kg/10 - 2.5*height_m**2`` where the law is ``weight_kg/height_m**2 > 25``. This module
proposes the forms laws are written in, to be scored like every other candidate:

- **Power laws.** Over inputs that are positive on the data, g = sum_i a_i log x_i has the
  gradient a_i / x_i, linear in the exponents a, so the exponents that best align with the
  network's directions are a small generalised eigenproblem (the library fit's, with one term
  per input). Rounded to small rationals relative to each input in turn (1, 2, 1/2, 2/3, ...),
  they give products of powers written as ratios: ``weight_kg/height_m**2``, ``speed/sqrt(temp_K)``.
- **Dimensionless groups.** With the columns' units (``symgrad.search.dimensions``), the
  integer null space of the dimension matrix of the inputs (Buckingham pi) gives the groups a
  law of those inputs can depend on: ``density*velocity*diameter/viscosity``.
- **Round thresholds.** ``round_threshold`` cuts a fitted threshold to the fewest significant
  digits the network's decisions cannot tell apart from it, for the statement ``h > 25``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Mapping, Sequence

import numpy as np
import sympy as sp

from ..expressions import complexity, symbols_for
from .base import Entry, Front, SearchProblem
from .dimensions import expression_dimension, format_dimension, pi_groups

# exponents relative to a reference input are rounded to p/q with q <= 3 and |p/q| <= 4
_MAX_DENOMINATOR = 3
_MAX_EXPONENT = 4
# a relative exponent below this is an input the law does not use
_NEGLIGIBLE = 0.15
# rounding an exponent by more than this (relative) means the directions are no power law
_ROUNDING_SLACK = 0.3
# how many variable sets (from the best formulas) are fitted, and their largest size
_MAX_SETS = 6
_MAX_SET_SIZE = 8
# law forms within this factor of the front's lowest held-out L stay on it even when dominated
_KEEP_FACTOR = 20.0


def positive_columns(problem: SearchProblem) -> list[int]:
    """Indices of the inputs that are > 0 on every search and held-out point."""
    x, held = np.asarray(problem.x), np.asarray(problem.x_holdout)
    return [i for i in range(problem.n_features)
            if np.all(np.isfinite(x[:, i])) and np.all(x[:, i] > 0) and np.all(held[:, i] > 0)]


def fit_exponents(problem: SearchProblem, columns: Sequence[int], *, rounds: int = 3) -> tuple[np.ndarray, float]:
    """Exponents a over ``columns`` whose product prod x_i**a_i best aligns with the directions.

    The gradient of sum_i a_i log x_i is (a_i / x_i), in spread units (a_i s_i / x_i): linear in
    a, so min sum_k |(I - N_k N_k^T) G_k|^2 subject to a^T B a = 1 (B = sum_k diag(G_k-basis^2))
    is a generalised eigenproblem. It is reweighted ``rounds`` times by 1 / |G_k|^2 so that every
    point counts alike, as the cosine loss does.

    Args:
        problem: search points (n, d) with unit directions (n, d) in spread units.
        columns: indices of inputs that are positive on the data.

    Returns:
        The exponents (len(columns),), scaled to the largest |a_i| = 1, and their mean
        1 - |cos| on the search points.
    """
    from scipy.linalg import eigh

    columns = list(columns)
    x = np.asarray(problem.x, dtype=np.float64)[:, columns]
    basis = problem.spread[columns] / x  # (n, m): d(log x_i)/dx_i in spread units
    projected = basis * np.asarray(problem.directions, dtype=np.float64)[:, columns]
    weights = np.ones(len(x))
    exponents = np.ones(len(columns))
    for _ in range(rounds):
        b = np.diag((weights[:, None] * basis**2).sum(axis=0))
        m = b - (weights[:, None] * projected).T @ projected
        try:
            _, vectors = eigh(m, b + 1e-12 * np.trace(b) * np.eye(len(columns)))
        except (np.linalg.LinAlgError, ValueError):
            break
        exponents = vectors[:, 0]
        norm = np.sum((basis * exponents) ** 2, axis=1)
        weights = 1.0 / np.maximum(norm, 1e-12 * max(norm.max(), 1e-300))
    exponents = exponents / np.abs(exponents).max()
    gradients = basis * exponents
    cosine = np.abs(np.sum(gradients * problem.directions[:, columns], axis=1)) / np.maximum(
        np.linalg.norm(gradients, axis=1), 1e-300)
    return exponents, float(np.mean(1.0 - cosine))


def rounded_exponents(exponents: np.ndarray) -> list[tuple[Fraction, ...]]:
    """Small-rational exponent vectors near ``exponents`` (up to a common factor).

    Each input whose exponent is not negligible serves once as the reference (exponent 1);
    the others are rounded to p/q (q <= 3, |p/q| <= 4); a vector needing more rounding than
    ``_ROUNDING_SLACK`` is not proposed. ``power_law_forms`` also writes each vector with
    integer exponents (``x0/sqrt(x1)`` and ``x0**2/x1``): same level sets, the shorter wins.
    """
    found: list[tuple[Fraction, ...]] = []
    top = np.abs(exponents).max()
    for reference in np.flatnonzero(np.abs(exponents) >= _NEGLIGIBLE * top):
        relative = exponents / exponents[reference]
        vector = []
        for value in relative:
            if abs(value) < _NEGLIGIBLE * np.abs(relative).max():
                vector.append(Fraction(0))
                continue
            near = _simple_fraction(float(value))
            if near is None:
                break
            vector.append(near)
        else:
            if sum(v != 0 for v in vector) < 1:
                continue
            if tuple(vector) not in found and tuple(-v for v in vector) not in found:
                found.append(tuple(vector))
    return found


def _orientation(problem: SearchProblem, columns: Sequence[int], vector: Sequence[Fraction]) -> int:
    """+1 when prod x**vector increases along the neuron's directions on most search points, else -1."""
    x = np.asarray(problem.x, dtype=np.float64)[:, list(columns)]
    gradients = problem.spread[list(columns)] * np.array([float(v) for v in vector]) / x
    along = np.sum(gradients * np.asarray(problem.directions)[:, list(columns)], axis=1)
    return 1 if np.median(np.sign(along)) >= 0 else -1


def _simple_fraction(value: float) -> Fraction | None:
    """The simplest p/q (q = 1, then 2, then 3; |p/q| <= 4) within the rounding slack of ``value``."""
    for q in range(1, _MAX_DENOMINATOR + 1):
        near = Fraction(round(value * q), q)
        if abs(near) <= _MAX_EXPONENT and abs(float(near) - value) <= _ROUNDING_SLACK * max(1.0, abs(value)) / 2:
            return near
    return None


def _integer(vector: Sequence[Fraction]) -> tuple[Fraction, ...] | None:
    scale = math.lcm(*(v.denominator for v in vector))
    if scale == 1:
        return None
    scaled = tuple(v * scale for v in vector)
    return scaled if max(abs(v) for v in scaled) <= _MAX_EXPONENT else None


def monomial(names: Sequence[str], exponents: Sequence[Fraction | int]) -> sp.Expr:
    """prod names_i**exponents_i as a sympy expression (sympy writes it as a ratio)."""
    symbols = symbols_for(list(names))
    return sp.Mul(*[s ** sp.Rational(Fraction(e).numerator, Fraction(e).denominator)
                    for s, e in zip(symbols, exponents) if e != 0])


def power_law_forms(problem: SearchProblem, variable_sets: Sequence[Sequence[str]],
                    dimensions: Mapping[str, np.ndarray] | None = None) -> list[sp.Expr]:
    """Products of powers (and, with ``dimensions``, dimensionless groups) over each variable set.

    Args:
        problem: the search problem (raw-unit points, directions in spread units).
        variable_sets: sets of input names, e.g. the inputs of the front's best formulas and the
            screened inputs; inputs that are not positive on the data are left out of each.
        dimensions: {input name: exponents over ``dimensions.BASE``} for inputs with units.

    Returns:
        Candidate formulas over the problem's inputs (not yet scored), without repeats.
    """
    positive = {problem.feature_names[i] for i in positive_columns(problem)}
    index = {name: i for i, name in enumerate(problem.feature_names)}
    seen_sets: list[tuple[str, ...]] = []
    for names in variable_sets:
        kept = tuple(sorted((n for n in names if n in positive), key=index.get))
        if kept and kept not in seen_sets and len(kept) <= _MAX_SET_SIZE:
            seen_sets.append(kept)
    forms: list[sp.Expr] = []

    def add(expr: sp.Expr) -> None:
        if expr.free_symbols and expr not in forms:
            forms.append(expr)

    for names in seen_sets[:_MAX_SETS]:
        columns = [index[n] for n in names]
        exponents, _ = fit_exponents(problem, columns)
        used = [k for k, a in enumerate(exponents) if abs(a) >= _NEGLIGIBLE]
        if 0 < len(used) < len(columns):  # refit without the inputs the law does not use
            names = tuple(names[k] for k in used)
            columns = [columns[k] for k in used]
            exponents, _ = fit_exponents(problem, columns)
        vectors = rounded_exponents(exponents)
        if dimensions and all(n in dimensions for n in names) and len(names) > 1:
            vectors += [tuple(Fraction(int(v)) for v in g) for g in pi_groups([dimensions[n] for n in names])]
        for vector in vectors:
            # the sign that makes the product grow towards the neuron's higher values, so the
            # statement reads "class 1 where weight_kg/height_m**2 > 25"
            sign = _orientation(problem, columns, vector)
            oriented = monomial(names, tuple(sign * v for v in vector))
            whole = _integer(tuple(sign * v for v in vector))
            whole = None if whole is None or problem.oriented else monomial(names, whole)
            # integer exponents where they cost no extra node: x0*x1**2, not sqrt(x0)*x1
            if whole is None or complexity(whole) > complexity(oriented):
                add(oriented)
            if whole is not None:
                add(whole)
    return forms


def with_law_forms(front: Front, problem: SearchProblem, searched: Sequence[str],
                   dimensions: Mapping[str, np.ndarray] | None = None) -> tuple[Front, dict]:
    """``front`` with the law's forms added, scored on held-out points like every candidate.

    The forms on the Pareto front of all formulas stay as ordinary entries; the Pareto entries
    among the forms themselves stay too when their held-out L is within ``_KEEP_FACTOR`` of the
    front's lowest, even if a formula fitting the band's level sets better dominates them.

    The forms are fitted over the inputs of each formula within 10x of the front's lowest
    held-out L (the best first) and over the ``searched`` (screened) inputs.

    Returns:
        The new front and a JSON-ready summary (forms proposed, forms kept).
    """
    best = min(e.loss for e in front)
    sets: list[tuple[str, ...]] = []
    for entry in sorted(front, key=lambda e: (e.loss, e.complexity)):
        if entry.loss > 10 * best + 1e-12:
            break
        names = tuple(str(s) for s in entry.sympy(problem.feature_names).free_symbols)
        if names not in sets:
            sets.append(names)
    if searched:
        sets.append(tuple(searched))
    added = []
    for form in power_law_forms(problem, sets, dimensions):
        try:
            added.append(Entry.from_expr(form, problem, source="law", train_loss=problem.loss(form, holdout=False)))
        except Exception:  # a candidate that cannot be evaluated is not a candidate
            continue
    # the front's own entries all stay (some are kept off-Pareto on purpose, e.g. a linear concept)
    on_pareto = {e.expression for e in front.merge(Front(tuple(added))).pareto() if e.source == "law"}
    merged = front.merge(Front(tuple(e for e in added if e.expression in on_pareto)))
    # a law's form dominated on held-out L over the whole band may still draw the network's
    # boundary as faithfully as the formula chosen (the band's level sets are not identified):
    # the best law forms stay on the front for the choice after judging
    # (``symgrad.judging.law.law_form_choice``); the selection rules look at the Pareto entries only
    laws = [e for e in Front(tuple(added)).pareto() if e.loss <= _KEEP_FACTOR * best + 1e-12]
    merged = merged.merge(Front(tuple(laws)))
    return merged, {"proposed": len(added), "kept": [e.expression for e in merged if e.source == "law"]}


def prefer_consistent(front: Front, problem: SearchProblem, units: Mapping[str, str],
                      dimensions: Mapping[str, np.ndarray], factor: float) -> tuple[Front, dict]:
    """Drop the dimensionally inconsistent formulas that do not fit ``factor`` times better than
    every consistent one (a formula using a column without a unit is inconsistent).

    Returns:
        The front and a JSON-ready summary (the units, their dimensions, how many were left out).
    """
    judged = [(e, consistent(e.sympy(problem.feature_names), dimensions)) for e in front]
    good = [e.loss for e, ok in judged if ok]
    summary: dict = {"units": {k: str(v) for k, v in units.items()},
                     "dimensions": {k: format_dimension(v) for k, v in dimensions.items()}}
    if good:
        limit = min(good) / factor
        kept = tuple(e for e, ok in judged if ok or e.loss < limit)
        summary["inconsistent_left_out"] = len(front) - len(kept)
        front = Front(kept)
    return front, summary


def is_power_law(expr: sp.Expr) -> bool:
    """Whether ``expr`` is a product of rational powers of two or more inputs and nothing else
    (``weight_kg/height_m**2``, ``speed/sqrt(temp_K)``): the form a law is written in."""
    expr = sp.sympify(expr)
    factors = sp.Mul.make_args(expr)
    if len(expr.free_symbols) < 2:
        return False
    for factor in factors:
        base, power = factor.as_base_exp()
        if not base.is_Symbol or not power.is_Rational:
            return False
    return True


def consistent(expr: sp.Expr, dimensions: Mapping[str, np.ndarray]) -> bool:
    """Whether ``expr`` is dimensionally consistent (``dimensions.expression_dimension``)."""
    return expression_dimension(expr, dimensions) is not None


def round_threshold(values: np.ndarray, labels: np.ndarray, threshold: float, orientation: int) -> float:
    """``threshold`` cut to the fewest significant digits (1 to 4) that the decisions allow.

    The rule "class 1 where orientation * g > orientation * t" is compared with the network's
    ``labels`` at the fitted t and at the rounded t; the points where the two rules differ are
    the only evidence between them, so the rounded value is kept when it loses at most two
    standard deviations of a fair coin over those points (2 sqrt(changed), and at least 1).

    Args:
        values: (n,) the formula's values on labelled points (validation and test splits).
        labels: (n,) the network's decisions there (1 = target class).
        threshold: the fitted threshold.
        orientation: 1 or -1.

    Returns:
        The rounded threshold (the fitted one when no rounding is allowed or t is not finite).
    """
    values, labels = np.asarray(values, dtype=np.float64), np.asarray(labels)
    if not math.isfinite(threshold) or threshold == 0 or len(values) == 0:
        return float(threshold)

    def decisions(t: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (orientation * values > orientation * t).astype(labels.dtype)

    fitted = decisions(threshold)
    right = fitted == labels
    for digits in (1, 2, 3, 4):
        rounded = float(f"{threshold:.{digits}g}")
        trial = decisions(rounded)
        changed = trial != fitted
        lost = int(np.sum(right & changed)) - int(np.sum(~right & changed))
        if lost <= max(1.0, 2.0 * math.sqrt(int(changed.sum()))):
            return rounded
    return float(threshold)
