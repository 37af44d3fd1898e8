"""The network's floor near its decision boundary: how closely any smooth function's gradients
can follow the neuron's there. The verdict compares a formula with this floor.

A network's gradient directions are only as good as its training: with clean labels a smooth
network follows a closed-form concept to L ~ 1e-4 - 5e-3 near its boundary, with noisy labels
its directions wander more. Two networks trained on the same data share most of that error, so
their disagreement does not measure it (docs/method.md, "The verdict"). What can be measured is
how low a *generic* smooth function gets: a polynomial in the inputs (degree <= 3, in units of
each input's spread) fitted to the search directions and scored on the held-out points nearest
the boundary. Together with the lowest loss on the front, that is the floor; a formula near it
explains the network as well as anything smooth does.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Iterable

import numpy as np
import scipy.linalg

from ..search.base import SearchProblem
from ..search.loss import cosines, unit_rows

# Share of the held-out points nearest the boundary on which the verdict's L is measured, and the
# fewest points kept (all of them when there are fewer).
NEAR_FRACTION = 0.25
NEAR_MIN_POINTS = 50
# Below this, differences between formulas are the network's own smooth bias: exact formulas
# measured 1e-4 - 7e-3 near the boundary of clean networks whose polynomial reference reached
# 1e-5 - 5e-3 (docs/benchmarks.md). The floor is never taken below it.
FLOOR_MIN = 0.002
REFERENCE_MAX_DEGREE = 3
REFERENCE_MAX_INPUTS = 20
# At most this many search points per reference coefficient, and points used for the fit:
# memory is points x inputs x terms x 8 bytes (2000 x 20 x 500 x 8 = 160 MB at most).
_POINTS_PER_TERM = 4
_MAX_FIT_POINTS = 2000
# Reweighting steps turning the eigen-objective (a ratio of means) into a per-point mean.
_REWEIGHT_STEPS = 3
_RIDGE = 1e-9


@dataclass(frozen=True)
class Floor:
    """The floor of one neuron's gradient directions near its decision boundary.

    Attributes:
        value: the floor the verdict uses: the lower of ``reference`` and ``front``, but at
            least ``minimum``.
        reference: held-out L near the boundary of the smooth polynomial reference (None if
            it could not be fitted).
        front: the lowest held-out L near the boundary on the front (None for an empty front).
        minimum: ``FLOOR_MIN``.
        degree, terms: the reference polynomial's degree and number of terms.
        inputs: the inputs the reference used (the most relevant, at most
            ``REFERENCE_MAX_INPUTS``).
        n_near: held-out points near the boundary on which the figures are measured.
    """

    value: float
    reference: float | None
    front: float | None
    minimum: float
    degree: int
    terms: int
    inputs: tuple[str, ...]
    n_near: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"] = list(self.inputs)
        return out


def near_boundary(margin: np.ndarray | None, n: int) -> np.ndarray:
    """(n,) mask of the held-out points nearest the decision boundary.

    The ``NEAR_FRACTION`` of the points with the smallest ``margin`` (at least
    ``NEAR_MIN_POINTS``, all when fewer); every point when there is no margin or it is constant.
    """
    if margin is None or len(margin) != n or n == 0 or np.ptp(margin) == 0:
        return np.ones(n, dtype=bool)  # no boundary to be near (e.g. a plain function)
    keep = min(n, max(int(np.ceil(NEAR_FRACTION * n)), NEAR_MIN_POINTS))
    mask = np.zeros(n, dtype=bool)
    mask[np.argsort(np.asarray(margin), kind="stable")[:keep]] = True
    return mask


def near_loss(gradients: np.ndarray, directions: np.ndarray, near: np.ndarray) -> float:
    """L = mean(1 - |cos|) over the rows of ``near`` (mask (n,)) of gradients and directions (n, d)."""
    return float(np.mean(1.0 - np.abs(cosines(gradients[near], directions[near]))))


def network_floor(problem: SearchProblem, near: np.ndarray, front_losses: Iterable[float | None] = ()) -> Floor:
    """The floor near the boundary: the smooth reference's L, the front's lowest, at least FLOOR_MIN.

    Args:
        problem: the search problem (directions in spread units).
        near: (m,) mask of the held-out points near the boundary (``near_boundary``).
        front_losses: each front entry's held-out L near the boundary (None where unknown).
    """
    fronts = [float(v) for v in front_losses if v is not None and np.isfinite(v)]
    front = min(fronts) if fronts else None
    try:
        reference, degree, terms, inputs = reference_loss(problem, near)
    except (np.linalg.LinAlgError, ValueError):
        reference, degree, terms, inputs = None, 0, 0, ()
    candidates = [v for v in (reference, front) if v is not None]
    value = max(min(candidates), FLOOR_MIN) if candidates else FLOOR_MIN
    return Floor(value=value, reference=reference, front=front, minimum=FLOOR_MIN, degree=degree, terms=terms,
                 inputs=inputs, n_near=int(np.sum(near)))


def reference_loss(problem: SearchProblem, near: np.ndarray) -> tuple[float | None, int, int, tuple[str, ...]]:
    """Held-out L near the boundary of the best polynomial reference, its degree, terms and inputs.

    Polynomials of degree 1, 2 and 3 in the standardised inputs (each degree only while the
    search points number at least ``_POINTS_PER_TERM`` per term) are fitted to the search
    directions; the lowest held-out L near the boundary is returned.
    """
    x, directions = problem.x[:_MAX_FIT_POINTS], problem.directions[:_MAX_FIT_POINTS]
    columns = _relevant_inputs(directions)
    mean, spread = x.mean(axis=0), problem.spread
    z = ((x - mean) / spread)[:, columns]
    z_near = ((problem.x_holdout[near] - mean) / spread)[:, columns]
    targets = problem.directions_holdout[near]
    best: tuple[float | None, int, int] = (None, 0, 0)
    for degree in range(1, REFERENCE_MAX_DEGREE + 1):
        powers = _monomials(len(columns), degree)
        if len(powers) * _POINTS_PER_TERM > len(z):
            break
        coefficients = _fit(_monomial_gradients(z, powers), unit_rows(directions[:, columns]))
        gradients = np.zeros_like(targets)
        gradients[:, columns] = _monomial_gradients(z_near, powers) @ coefficients
        loss = near_loss(gradients, targets, np.ones(len(targets), dtype=bool))
        # a higher degree must really be better, not round-off better
        if best[0] is None or loss < 0.99 * best[0] - 1e-12:
            best = (loss, degree, len(powers))
    return (*best, tuple(problem.feature_names[i] for i in columns))


def _relevant_inputs(directions: np.ndarray) -> list[int]:
    """Columns ordered as given, limited to the ``REFERENCE_MAX_INPUTS`` most relevant ones
    (largest mean |direction component|)."""
    d = directions.shape[1]
    if d <= REFERENCE_MAX_INPUTS:
        return list(range(d))
    relevance = np.mean(np.abs(directions), axis=0)
    return sorted(np.argsort(-relevance, kind="stable")[:REFERENCE_MAX_INPUTS].tolist())


def _monomials(d: int, degree: int) -> np.ndarray:
    """(m, d) exponents of every monomial of degree 1..``degree`` in d variables."""
    rows = []
    for k in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(d), k):
            rows.append(np.bincount(combo, minlength=d))
    return np.asarray(rows, dtype=np.int64)


def _monomial_gradients(z: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """(n, d, m) gradient of each monomial ``powers`` (m, d) at the points z (n, d)."""
    n, d = z.shape
    out = np.zeros((n, d, len(powers)))
    for j, exponents in enumerate(powers):
        for i in np.flatnonzero(exponents):
            lowered = exponents.copy()
            lowered[i] -= 1
            out[:, i, j] = exponents[i] * np.prod(z ** lowered, axis=1)
    return out


def _fit(gradients: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Coefficients c (m,) whose gradient field ``gradients @ c`` best parallels ``directions``.

    The smallest generalised eigenvector of (A, B), A = mean_k w_k J_k^T (I - N_k N_k^T) J_k and
    B = mean_k w_k J_k^T J_k, reweighted with w_k = 1 / |J_k c|^2 so that every point counts
    alike (as in L) rather than the points where the fit's gradient is largest.
    """
    scales = np.sqrt(np.mean(np.sum(gradients**2, axis=1), axis=0))
    scales = np.where(scales > 0, scales, 1.0)
    scaled = gradients / scales
    weights = np.ones(len(scaled))
    best: tuple[float, np.ndarray] | None = None
    for _ in range(_REWEIGHT_STEPS):
        rows = (scaled * np.sqrt(weights)[:, None, None]).reshape(-1, scaled.shape[2])
        b_matrix = rows.T @ rows / weights.sum()
        projected = np.einsum("kd,kdi->ki", directions, scaled)
        a_matrix = b_matrix - (projected * weights[:, None]).T @ projected / weights.sum()
        a_matrix = (a_matrix + a_matrix.T) / 2
        b_matrix = (b_matrix + b_matrix.T) / 2 + _RIDGE * np.trace(b_matrix) / len(b_matrix) * np.eye(len(b_matrix))
        _, vectors = scipy.linalg.eigh(a_matrix, b_matrix, subset_by_index=[0, 0])
        c = vectors[:, 0]
        fitted = scaled @ c
        loss = float(np.mean(1.0 - np.abs(cosines(fitted, directions))))
        if best is None or loss < best[0]:
            best = (loss, c)
        norms = np.sum(fitted**2, axis=1)
        weights = 1.0 / np.maximum(norms, 1e-12 * max(float(norms.mean()), 1e-300))
    return best[1] / scales
