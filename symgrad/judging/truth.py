"""Judging a formula against a known concept: faithful L near the true surface, exact L overall."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..data.concepts import Concept
from ..expressions import gradient_function, parse_formula, value_function
from ..search.loss import alignment_loss, unit_rows

RECOVERY_THRESHOLD = 0.01


def surface_points(concept: Concept, formula: str, n: int, *, rng: np.random.Generator,
                   pool: int = 40, steps: int = 8) -> np.ndarray:
    """(n, d) fresh points of the concept's box on the surface {formula = threshold}.

    The ``4n`` of ``pool * n`` uniform points closest to the surface (first-order distance
    |g - t| / |grad g|) are projected onto it with Newton steps along the gradient; the first n
    that converge inside the box are returned (fewer only if too few converge).
    """
    names = concept.feature_names
    expr = parse_formula(formula, names)
    value = value_function(expr, names)
    gradient = gradient_function(expr, names)
    low, high = np.asarray(concept.low), np.asarray(concept.high)
    x = rng.uniform(low, high, size=(pool * n, concept.n_features))
    t = concept.threshold
    with np.errstate(all="ignore"):
        g, grads = value(x), gradient(x)
        distance = np.abs(g - t) / np.linalg.norm(grads, axis=1)
        distance = np.where(np.isfinite(distance), distance, np.inf)
        x = x[np.argsort(distance)[:4 * n]]
        for _ in range(steps):
            g, grads = value(x), gradient(x)
            step = (g - t) / np.sum(grads * grads, axis=1)
            x = x - np.where(np.isfinite(step), step, 0.0)[:, None] * grads
        g = value(x)
    scale = max(abs(t), 1.0)
    ok = np.isfinite(g) & (np.abs(g - t) < 1e-8 * scale) & np.all((x >= low) & (x < high), axis=1)
    return x[ok][:n]


def compare_with_truth(expression: str | sp.Expr, concept: Concept, *, seed: int = 12345,
                       n: int = 1000) -> dict:
    """Faithful and exact alignment loss of ``expression`` against the concept's true gradients.

    ``faithful``: L on n fresh points on the true decision surface (what labels identify).
    ``exact``: L on n fresh uniform points of the whole domain. Gradients are compared in units
    of each input's range, so neither figure depends on the columns' units. For two-concept cases (F, G)
    the figures are given against each part, and ``recovered`` is not defined.
    """
    names = concept.feature_names
    expr = parse_formula(expression, names) if isinstance(expression, str) else expression
    candidate = gradient_function(expr, names)
    rng = np.random.default_rng(seed)
    parts = (concept.formula,) if concept.formula else concept.parts
    out: dict = {"parts": []}
    width = np.asarray(concept.high, dtype=np.float64) - np.asarray(concept.low, dtype=np.float64)
    for part in parts:
        truth = gradient_function(parse_formula(part, names), names)
        near = surface_points(concept, part, n, rng=rng)
        anywhere = rng.uniform(concept.low, concept.high, size=(n, concept.n_features))
        # in units of each input's range, as the search compares gradients (unit-independent)
        faithful = alignment_loss(candidate(near) * width, unit_rows(truth(near) * width))
        exact = alignment_loss(candidate(anywhere) * width, unit_rows(truth(anywhere) * width))
        out["parts"].append({"truth": part, "faithful_loss": faithful, "exact_loss": exact})
    if concept.formula:
        out.update(out.pop("parts")[0])
        out["recovered_faithful"] = bool(out["faithful_loss"] < RECOVERY_THRESHOLD)
        out["recovered_exact"] = bool(out["exact_loss"] < RECOVERY_THRESHOLD)
    out["threshold"] = concept.threshold
    return out
