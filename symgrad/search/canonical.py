"""Canonical forms of formulas up to monotone transforms, and snapping of fitted constants."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy as sp

from ..errors import SymgradError
from ..expressions import complexity, symbols_for, value_function
from .base import SearchProblem
from .loss import alignment_loss
from .units import decade_units

# Increasing on the whole real line, so f(h) has the level sets and gradient direction of h.
_INCREASING_FUNCTIONS = (sp.exp, sp.tanh, sp.atan, sp.sinh, sp.asinh, sp.erf)
_MAX_PASSES = 4
# Below this absolute held-out loss two formulas are equally exact (float round-off).
_LOSS_FLOOR = 1e-12
_MAX_PLAIN_NUMERATOR = 20


def canonicalize(expr: sp.Expr, problem: SearchProblem | None = None, *, tolerance: float = 1.02,
                 oriented: bool | None = None) -> sp.Expr:
    """A simple representative of the class of formulas with the level sets of ``expr``.

    Two formulas are equivalent when one is a monotone transform of the other: they have the
    same normalised gradient field, hence the same alignment loss and the same level sets.
    The steps, repeated until nothing changes:

    1. ``strip_monotone``: drop additive constants, constant factors and outer wrappers that
       are increasing on the whole real line (exp, tanh, atan, sinh, asinh, erf, odd powers);
       drop log, sqrt and other powers only where their argument is positive (on every data
       point of ``problem``, or provably when ``problem`` is None). h**2 is kept: it is not
       monotone, and {h**2 = t} is two level sets of h.
    2. ``normalize_scale``: exact coefficients become coprime integers; floating ones are
       divided by the largest (which becomes 1). The dominant term gets a positive sign.
    3. ``snap_constants``: floats become nearby integers, simple rationals or multiples of pi
       when the held-out loss of ``problem`` allows it (see there).

    Steps 2 and 3 work in decade units (``symgrad.search.units``): a column measured in a unit
    a power of ten smaller changes the result by that unit factor only (``x0**2 + 2*x1**2``
    becomes ``x0**2 + x1**2/5000`` with x1 in hundredths).

    Args:
        expr: the formula over the feature symbols.
        problem: the search problem used to check positivity and to judge snapping; None keeps
            only rewrites that hold everywhere and snaps within 1e-6 relative.
        tolerance: a snapped formula may have a held-out loss up to this factor higher.
        oriented: keep orientation (no sign flips, no decreasing wrappers); defaults to
            ``problem.oriented`` (False without a problem).

    Returns:
        The canonical sympy expression.
    """
    _check_tolerance(tolerance)
    if oriented is None:
        oriented = bool(problem.oriented) if problem is not None else False
    current = sp.sympify(expr)
    if problem is not None:
        unknown = sorted(str(s) for s in current.free_symbols if str(s) not in problem.feature_names)
        if unknown:
            raise SymgradError(f"formula {str(current)!r} uses {unknown}, which are not features of the problem "
                               f"{list(problem.feature_names)}")
    units = decade_units(problem) if problem is not None else None
    for _ in range(_MAX_PASSES):
        stripped = strip_monotone(current, problem, oriented=oriented)
        if units is None:
            snapped = _snap_best_scale(normalize_scale(stripped, oriented=oriented), None, tolerance, oriented)
        else:
            scaled = normalize_scale(units.to_units(stripped), oriented=oriented, order=problem.feature_names)
            snapped = units.from_units(_snap_best_scale(scaled, units.problem, tolerance, oriented))
        if snapped == current:
            break
        current = snapped
    return current


def strip_monotone(expr: sp.Expr, problem: SearchProblem | None = None, *, oriented: bool = False) -> sp.Expr:
    """Remove outer additive constants, constant factors and monotone wrappers from ``expr``.

    In sign-invariant mode (``oriented=False``) negative factors and decreasing wrappers
    (negative powers of a positive argument) go too; in oriented mode a negative factor
    leaves a sign -1 behind.
    """
    expr = sp.sympify(expr)
    while True:
        symbols = sorted(expr.free_symbols, key=str)
        if not symbols:
            return expr
        inner = _strip_once(expr, symbols, problem, oriented)
        if inner is None or inner == expr:
            return expr
        expr = inner


def _strip_once(expr: sp.Expr, symbols: list[sp.Symbol], problem: SearchProblem | None,
                oriented: bool) -> sp.Expr | None:
    if expr.is_Add:
        constant, rest = expr.as_independent(*symbols, as_Add=True)
        return rest if constant != 0 else None
    if expr.is_Mul:
        factor, rest = expr.as_independent(*symbols, as_Add=False)
        if factor == 1:
            return None
        value = _as_float(factor)
        if value is None or value == 0:
            return None
        return -rest if (oriented and value < 0) else rest
    if isinstance(expr, _INCREASING_FUNCTIONS):
        return expr.args[0]
    if isinstance(expr, sp.log):
        return expr.args[0] if _positive(expr.args[0], problem) else None
    if expr.is_Pow:
        base, exponent = expr.as_base_exp()
        if exponent.free_symbols or not base.free_symbols:
            return None
        if _is_odd_power(exponent):
            return base
        power = _as_float(exponent)
        if power is None or power == 0 or (oriented and power < 0):
            return None
        # h**p with h > 0 is monotone in h for every p != 0 (this covers sqrt).
        return base if _positive(base, problem) else None
    return None


def normalize_scale(expr: sp.Expr, *, oriented: bool = False, order: Sequence[str] = ()) -> sp.Expr:
    """Divide out the overall scale of a sum of terms.

    Exact (integer, rational, symbolic) coefficients become coprime integers (sympy's
    ``primitive``); if any coefficient is a float, all are divided by the one largest in
    magnitude, which becomes exactly 1. In sign-invariant mode the term with the largest
    |coefficient| (the first in sympy's order on ties) is made positive.
    """
    expr = sp.sympify(expr)
    symbols = sorted(expr.free_symbols, key=str)
    if not symbols or not expr.is_Add:
        return expr
    terms = expr.as_ordered_terms()
    split = [term.as_independent(*symbols, as_Add=False) for term in terms]
    magnitudes = [_as_float(c) for c, _ in split]
    if any(m is None for m in magnitudes):
        return expr
    reference = int(np.argmax(np.abs(magnitudes)))
    if order:
        # on ties the term of the earliest input column is the reference, not the first in
        # sympy's name-based order: renaming the columns must not flip the formula's sign
        top = abs(magnitudes[reference])
        ties = [i for i, m in enumerate(magnitudes) if abs(m) >= top * (1 - 1e-12)]
        position = {name: i for i, name in enumerate(order)}
        reference = min(ties, key=lambda i: (sorted(position.get(str(s), len(position))
                                                    for s in split[i][1].free_symbols), ties.index(i)))
    if any(c.has(sp.Float) for c, _ in split):
        ref_coeff = split[reference][0]
        sign = -1 if (oriented and magnitudes[reference] < 0) else 1
        new_terms = [sign * rest if i == reference else (c / ref_coeff) * sign * rest
                     for i, (c, rest) in enumerate(split)]
        return sp.Add(*new_terms)
    _, primitive = expr.primitive()
    if oriented:
        return primitive
    leading = split[reference][0]
    return -primitive if _as_float(leading) < 0 else primitive


def snap_constants(expr: sp.Expr, problem: SearchProblem | None = None, tolerance: float = 1.02) -> sp.Expr:
    """Replace floats in ``expr`` by nearby simple constants when the fit allows it.

    Candidates for a float v, simplest first: 0 (only if |v| < 1e-3), the nearest integer,
    the nearest p/q for q = 2, 3, 4 (only if |v| <= 4), then k·pi (|k| <= 4) and ±pi/q (q = 2, 3, 4),
    each only if within 10 % of v. Floats are visited from the largest |v| down; a candidate is kept when the
    held-out loss of the whole formula stays within ``tolerance`` times the loss before any
    snapping (plus 1e-12 for round-off), so the snaps together never cost more than that
    factor. Without a problem, a float is snapped only to a candidate within 1e-6 relative.
    With a problem, constants are judged in its decade units (``symgrad.search.units``): the
    coefficient of x1**2 with x1 in hundredths is snapped as its value times 100**2.

    Args:
        expr: formula over the features of ``problem``.
        problem: held-out points that judge each snap; None for exact-only snapping.
        tolerance: allowed factor on the held-out loss (>= 1).

    Returns:
        The formula with snapped constants.
    """
    _check_tolerance(tolerance)
    expr = sp.sympify(expr)
    if problem is None:
        return _snap_constants(expr, None, tolerance)
    units = decade_units(problem)
    return units.from_units(_snap_constants(units.to_units(expr), units.problem, tolerance))


def _snap_constants(expr: sp.Expr, problem: SearchProblem | None, tolerance: float) -> sp.Expr:
    """``snap_constants`` with ``problem`` already in the units the constants are judged in."""
    floats = sorted(expr.atoms(sp.Float), key=lambda f: (-abs(float(f)), str(f)))
    if not floats:
        return expr
    if problem is None:
        for number in floats:
            value = float(number)
            for candidate in _candidates(value, window=1e-6 * abs(value), allow_zero=False):
                expr = expr.xreplace({number: candidate})
                break
        return expr
    loss = _parametric_loss(expr, floats, problem)
    values = [float(f) for f in floats]
    limit = tolerance * loss(values) + _LOSS_FLOOR
    for k, number in enumerate(floats):
        value = float(number)
        for candidate in _candidates(value, window=0.1 * abs(value), allow_zero=abs(value) < 1e-3):
            trial = expr.xreplace({number: candidate})
            if not trial.free_symbols:
                continue
            if loss([*values[:k], float(candidate), *values[k + 1:]]) <= limit:
                expr, values[k] = trial, float(candidate)
                break
    return expr


def _parametric_loss(expr: sp.Expr, floats: list[sp.Float], problem: SearchProblem):
    """Held-out L of ``expr`` as a function of the values of its ``floats``, compiled once
    (one sympy derivative and lambdify per formula instead of one per trial value)."""
    params = sp.symbols(f"_snap0:{len(floats)}", real=True)
    template = expr.xreplace(dict(zip(floats, params)))
    symbols = symbols_for(problem.feature_names)
    used = [i for i, s in enumerate(symbols) if s in template.free_symbols]
    partials = [sp.diff(template, symbols[i]) for i in used]
    compiled = sp.lambdify([*[symbols[i] for i in used], *params], partials, modules="numpy")
    x = np.asarray(problem.x_holdout, dtype=np.float64)
    columns = [x[:, i] for i in used]

    def loss(values: list[float]) -> float:
        grads = np.zeros_like(x)
        with np.errstate(all="ignore"):
            parts = compiled(*columns, *values)
            for j, i in enumerate(used):
                grads[:, i] = np.broadcast_to(np.asarray(parts[j], dtype=np.float64), (x.shape[0],))
        return alignment_loss(problem.scaled(grads), problem.directions_holdout, oriented=problem.oriented)

    return loss


def _snap_best_scale(expr: sp.Expr, problem: SearchProblem | None, tolerance: float,
                     oriented: bool) -> sp.Expr:
    """Snap with the largest coefficient as unit; if floats remain, also try each other term
    as unit (0.4·x0 + x1 snaps as x0 + 5/2·x1) and keep the result with fewest floats."""
    order = problem.feature_names if problem is not None else ()
    best = normalize_scale(_snap_constants(expr, problem, tolerance), oriented=oriented, order=order)
    if problem is None or not best.atoms(sp.Float) or not expr.is_Add:
        return best
    symbols = sorted(expr.free_symbols, key=str)
    split = [term.as_independent(*symbols, as_Add=False) for term in expr.as_ordered_terms()]
    best_key = (len(best.atoms(sp.Float)), complexity(best))
    for coeff, _ in split:
        value = _as_float(coeff)
        if not coeff.has(sp.Float) or value is None or value == 0 or abs(value) == 1:
            continue
        divisor = abs(coeff) if oriented else coeff
        rescaled = sp.Add(*[term / divisor for term in expr.as_ordered_terms()])
        trial = normalize_scale(_snap_constants(rescaled, problem, tolerance), oriented=oriented, order=order)
        key = (len(trial.atoms(sp.Float)), complexity(trial))
        # A small reference makes every other coefficient large, and large numbers snap to
        # rationals all too easily: keep such a rescaling only if it yields plain numbers.
        if key < best_key and _plain_numbers(trial):
            best, best_key = trial, key
    return best


def _plain_numbers(expr: sp.Expr) -> bool:
    """No float, and every rational p/q in ``expr`` has |p| <= 20 and q <= 4."""
    if expr.atoms(sp.Float):
        return False
    return all(abs(r.p) <= _MAX_PLAIN_NUMERATOR and r.q <= 4 for r in expr.atoms(sp.Rational))


def _candidates(value: float, *, window: float, allow_zero: bool) -> list[sp.Expr]:
    found: list[sp.Expr] = []
    if allow_zero:
        found.append(sp.Integer(0))
    for q in (1, 2, 3, 4):
        p = round(value * q)
        # Fractions are simple only for small values: 19/3 is no simpler than 6.33.
        if q > 1 and abs(p) > 4 * q:
            continue
        if p != 0 and abs(p / q - value) <= window:
            found.append(sp.Rational(p, q))
    # Only k·pi and pi/q: with every p·pi/q as well, some candidate lies within a few percent
    # of any value, and network bias then picks one by chance (2·pi/3 for a drifted 2).
    multiples = [(p, 1) for p in range(-4, 5) if p != 0] + [(s, q) for q in (2, 3, 4) for s in (1, -1)]
    for p, q in multiples:
        if abs(p * np.pi / q - value) <= window:
            found.append(sp.Rational(p, q) * sp.pi)
    unique: list[sp.Expr] = []
    for candidate in found:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def _positive(h: sp.Expr, problem: SearchProblem | None) -> bool:
    """True when ``h`` > 0 on every point of ``problem`` (or provably, without a problem)."""
    if problem is None:
        return bool(h.is_positive)
    names = problem.feature_names
    if not {str(s) for s in h.free_symbols} <= set(names):
        return False
    values = value_function(h, names)
    for x in (problem.x, problem.x_holdout):
        v = values(x)
        if not np.all(np.isfinite(v)) or not np.all(v > 0):
            return False
    return True


def _is_odd_power(exponent: sp.Expr) -> bool:
    """Positive odd integer or p/q with p, q odd: increasing on the whole real line."""
    if exponent.is_Rational:
        return bool(exponent > 0 and exponent.p % 2 == 1 and exponent.q % 2 == 1)
    if exponent.is_Float:
        value = float(exponent)
        return value > 0 and value.is_integer() and int(value) % 2 == 1
    return False


def _as_float(value: sp.Expr) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if np.isfinite(result) else None


def _check_tolerance(tolerance: float) -> None:
    if not isinstance(tolerance, (int, float)) or not np.isfinite(tolerance) or tolerance < 1:
        raise SymgradError(f"tolerance {tolerance!r} is not allowed; use a number >= 1 (a factor on the held-out loss)")
