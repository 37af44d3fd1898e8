"""Search problems with known answers: exact (optionally noisy) gradient directions of a formula."""

from __future__ import annotations

import numpy as np

from ..expressions import gradient_function, parse_formula
from .base import SearchProblem


def exact_problem(formula: str, d: int, low, high, *, n: int = 1000, noise: float = 0.0,
                  seed: int = 0) -> SearchProblem:
    """Points uniform on [low, high)^d with the unit gradients of ``formula`` over x0..x{d-1}.

    Args:
        formula: the generating concept g.
        d: number of inputs (inputs the formula does not use are irrelevant ones).
        low, high: the sampling box: numbers, or one bound per input.
        n: search points, and as many held-out points.
        noise: relative size of isotropic Gaussian noise added to each unit direction before it
            is renormalised (0: exact).
        seed: seeds the points and the noise.
    """
    names = tuple(f"x{i}" for i in range(d))
    grad = gradient_function(parse_formula(formula, names), names)
    rng = np.random.default_rng(seed)

    def sample(m: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(low, high, (m, d))
        g = grad(x)
        unit = g / np.linalg.norm(g, axis=1, keepdims=True)
        if noise > 0:
            unit = unit + noise * rng.normal(size=unit.shape)
            unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        return x, unit

    x, directions = sample(n)
    x_holdout, directions_holdout = sample(n)
    return SearchProblem(x, directions, x_holdout, directions_holdout, names)
