"""Polishing a formula's constants on the exact alignment loss, then snapping them to simple values."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import sympy as sp

from ..expressions import symbols_for
from .base import SearchProblem
from .loss import alignment_loss
from .units import decade_units

def usable(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> bool:
    if not expr.free_symbols & set(symbols):
        return False  # a constant has no gradient
    return not expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I)


def _parametrize(expr: sp.Expr) -> tuple[sp.Expr, list[sp.Symbol], list[float]]:
    """Replace each free numeric constant of ``expr`` by its own parameter symbol.

    Rational exponents (x**2, sqrt, 1/x) and signs (a factor -1) are structure, not constants.
    """
    params: list[sp.Symbol] = []
    values: list[float] = []

    def walk(node: sp.Expr, in_product: bool) -> sp.Expr:
        if node.is_Number:
            if not node.is_real or (in_product and abs(node) == 1):
                return node
            symbol = sp.Symbol(f"_c{len(params)}", real=True)
            params.append(symbol)
            values.append(float(node))
            return symbol
        if node.is_Atom:
            return node
        if isinstance(node, sp.Pow) and node.exp.is_Rational:
            return sp.Pow(walk(node.base, False), node.exp)
        return node.func(*[walk(arg, isinstance(node, sp.Mul)) for arg in node.args])

    return walk(expr, False), params, values


def polish_constants(expr: sp.Expr, problem: SearchProblem, *, max_parameters: int = 8,
                     max_evaluations_per_parameter: int = 150) -> sp.Expr:
    """Refit the numeric constants of ``expr`` on the exact loss, then snap them to simple values.

    The loss is L on the search points with sympy gradients (no finite differences). After the
    fit each constant is rounded to the simplest of: 0, ±1, integer, 1, 2 or 3 decimals, 4
    significant digits, as long as L grows by at most 5 % (plus 1e-10). The result is kept only if it does
    not score worse than ``expr`` on the held-out points. Constants are fitted and rounded in
    the problem's decade units (``symgrad.search.units``), so the result does not depend on
    the power of ten a column is measured in.

    Args:
        expr: formula over ``problem.feature_names``.
        problem: its search and held-out points (n, d) and unit directions (n, d).
        max_parameters: formulas with more constants are returned unchanged.
        max_evaluations_per_parameter: loss evaluations allowed per constant.

    Returns:
        The polished formula, or ``expr`` when polishing did not help.
    """
    units = decade_units(problem)
    polished = _polish(units.to_units(expr), units.problem, max_parameters, max_evaluations_per_parameter)
    return expr if polished is None else units.from_units(polished)


def _polish(expr: sp.Expr, problem: SearchProblem, max_parameters: int,
            max_evaluations_per_parameter: int) -> sp.Expr | None:
    """``polish_constants`` in the units the constants are judged in; None when nothing helped."""
    from scipy.optimize import minimize

    template, params, start = _parametrize(expr)
    if not params or len(params) > max_parameters:
        return None
    symbols = symbols_for(problem.feature_names)
    partials = [sp.diff(template, s) for s in symbols]
    gradient = sp.lambdify([*symbols, *params], partials, modules="numpy")
    x, directions = np.asarray(problem.x, dtype=np.float64), np.asarray(problem.directions, dtype=np.float64)
    columns = [x[:, i] for i in range(x.shape[1])]
    n = x.shape[0]

    def loss(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            parts = gradient(*columns, *theta)
            grads = np.column_stack([np.broadcast_to(np.asarray(p, dtype=np.float64), (n,)) for p in parts])
        return alignment_loss(problem.scaled(grads), directions, oriented=problem.oriented)

    theta0 = np.array(start)
    best_start = loss(theta0)
    evaluations = max_evaluations_per_parameter * len(params)
    if len(params) <= 2:
        method, options = "Nelder-Mead", {"maxfev": evaluations, "xatol": 1e-8, "fatol": 1e-14}
    else:
        method, options = "Powell", {"maxfev": evaluations, "xtol": 1e-8, "ftol": 1e-14}
    try:
        with np.errstate(all="ignore"):
            result = minimize(loss, theta0, method=method, options=options)
    except (ValueError, FloatingPointError, OverflowError):
        return None
    theta, best = (result.x, result.fun) if result.fun < best_start else (theta0, best_start)
    theta = np.array(theta, dtype=np.float64)
    # L ignores the formula's scale: if dividing every constant by one of them costs nothing
    # (c*x0**2 + c*x1**2), make that one exactly 1 before rounding the others
    for k in np.argsort(-np.abs(theta)):
        if theta[k] != 0 and np.isfinite(theta[k]):
            trial = theta / abs(theta[k])
            value = loss(trial)
            if value <= best * 1.05 + 1e-10:
                theta, best = trial, min(best, value)
                break
    for i in range(len(theta)):
        for candidate in _simple_values(theta[i]):
            trial = theta.copy()
            trial[i] = candidate
            value = loss(trial)
            if value <= best * 1.05 + 1e-10:
                theta, best = trial, min(best, value)
                break
    replacement = {p: _number(v) for p, v in zip(params, theta)}
    polished = template.xreplace(replacement)
    if polished == expr or not usable(polished, symbols):
        return None
    # simpler constants may cost a rounding error's worth of held-out loss, not more
    return polished if problem.loss(polished) <= problem.loss(expr) * 1.05 + 1e-10 else None


def _simple_values(value: float) -> list[float]:
    if not math.isfinite(value):
        return []
    # 0 removes a constant that does not matter (an additive constant inside exp is a scale)
    candidates = [0.0, math.copysign(1.0, value), float(round(value)), round(value, 1), round(value, 2),
                  round(value, 3)]
    if value != 0:
        digits = 3 - int(math.floor(math.log10(abs(value))))
        candidates.append(round(value, digits))
    return candidates


def _number(value: float) -> sp.Expr:
    if float(value).is_integer():
        return sp.Integer(int(value))
    return sp.Float(f"{value:.6g}", "")  # "" keeps the printed digits, so str() stays short
