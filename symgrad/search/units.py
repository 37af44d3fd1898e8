"""Decade units: the power of ten nearest each input's spread, in which constants are judged.

Snapping a fitted constant to a simple value (an integer, p/q, a multiple of pi) and rounding
it to a few decimals depend on the units of the columns: ``2*x1**2`` with x1 in metres is
``0.0002*x1**2`` with x1 in centimetres, and 0.0002 is neither an integer nor a simple
fraction. Gradients are already compared in units of each input's spread (docs/method.md,
"Units"); constants are judged in the power of ten nearest that spread, u_i = 10**round(log10
s_i), by rewriting a formula with x_i = u_i * z_i, snapping in z and substituting back. A
decade, not the spread itself, is the unit because it maps a simple constant back to a simple
one exactly (2 in z is 2/100**2 in x), and because a column whose unit changes by a power of
ten (cm for m, mg for g) changes its decade by exactly that power: the snapped formula then
changes by the unit factor alone. Columns whose spread is within a factor sqrt(10) of 1 keep
their raw units, so formulas over such inputs are judged exactly as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..expressions import symbols_for
from .base import SearchProblem


@dataclass(frozen=True)
class DecadeUnits:
    """A problem rewritten in decade units, and the substitutions between the two.

    Attributes:
        problem: the problem over z_i = x_i / u_i (points divided by u, spread s / u; the
            directions, in spread units, are the same).
        exponents: (d,) integer k_i with u_i = 10**k_i.
    """

    problem: SearchProblem
    exponents: tuple[int, ...]

    @property
    def trivial(self) -> bool:
        """Every input keeps its raw unit (u_i = 1)."""
        return not any(self.exponents)

    def to_units(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` over the raw inputs x rewritten over z = x / u (x_i -> u_i * z_i, exact)."""
        return self._substitute(expr, 1)

    def from_units(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` over z rewritten over the raw inputs (z_i -> x_i / u_i, exact)."""
        return self._substitute(expr, -1)

    def _substitute(self, expr: sp.Expr, sign: int) -> sp.Expr:
        if self.trivial:
            return expr
        symbols = symbols_for(self.problem.feature_names)
        # exact powers of ten (Integer or Rational): a float unit would turn every exact
        # constant into a float and back again
        mapping = {s: sp.Integer(10)**(sign * k) * s for s, k in zip(symbols, self.exponents) if k}
        return sp.sympify(expr).xreplace(mapping)


def decade_units(problem: SearchProblem) -> DecadeUnits:
    """The decade units of ``problem``'s inputs (all 1 when it has no ``scale``: raw units).

    Args:
        problem: a search problem; its ``spread`` (d,) gives each input's unit.

    Returns:
        The problem in decade units and the exponents k_i (u_i = 10**k_i).
    """
    if problem.scale is None:
        return DecadeUnits(problem, (0,) * problem.n_features)
    spread = problem.spread
    # floor(t + 1/2), not round(): Python rounds halves to even, which is not shift-invariant
    exponents = tuple(int(np.floor(np.log10(s) + 0.5)) for s in spread)
    if not any(exponents):
        return DecadeUnits(problem, exponents)
    unit = 10.0 ** np.array(exponents, dtype=np.float64)
    rewritten = dataclasses.replace(problem, x=problem.x / unit, x_holdout=problem.x_holdout / unit,
                                    scale=spread / unit)
    return DecadeUnits(rewritten, exponents)
