"""The gradient-alignment objective L(g) = mean(1 - |cos(grad g, N)|)."""

from __future__ import annotations

import numpy as np


def unit_rows(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` (n, d) scaled to unit length; zero rows stay zero."""
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norms > 0, norms, 1.0)


def cosines(gradients: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Cosine between each row of ``gradients`` (n, d) and unit ``directions`` (n, d).

    Rows where the gradient is zero or not finite get cosine 0 (fully misaligned), so the mean
    never becomes NaN.
    """
    gradients = np.asarray(gradients, dtype=np.float64)
    with np.errstate(all="ignore"):
        norms = np.sqrt(np.sum(gradients * gradients, axis=1))
        cos = np.sum(gradients * directions, axis=1) / norms
    bad = ~np.isfinite(cos) | (norms <= 1e-300)
    return np.where(bad, 0.0, np.clip(cos, -1.0, 1.0))


def alignment_loss(gradients: np.ndarray, directions: np.ndarray, *, oriented: bool = False,
                   weights: np.ndarray | None = None) -> float:
    """L = mean_k (1 - |cos(G_k, N_k)|), 0 = parallel everywhere.

    Sign-invariant by default, so g and any monotone transform of g (-g, exp(g), a·g + b)
    score the same. ``oriented=True`` scores mean(1 - cos) instead (0 best, 2 worst), which
    also asks g to increase where the neuron increases. Invalid rows count as misaligned
    (cos = 0).

    Args:
        gradients: (n, d) input gradients of the candidate formula.
        directions: (n, d) unit target directions (normalised neuron gradients).
        oriented: score orientation too.
        weights: optional (n,) non-negative row weights.
    """
    cos = cosines(gradients, directions)
    per_row = 1.0 - (cos if oriented else np.abs(cos))
    if weights is None:
        return float(np.mean(per_row))
    weights = np.asarray(weights, dtype=np.float64)
    return float(np.sum(weights * per_row) / np.sum(weights))
