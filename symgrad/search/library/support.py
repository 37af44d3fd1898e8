"""Finding the best support (subset of library terms): the generalised eigenproblem of a
support, batched objectives over many supports, beam extension and backward elimination.

For g = sum_j c_j phi_j with term gradients J_k (d, m) at x_k, "grad g parallel to N_k" is
linear in c: minimise c^T A c subject to c^T B c = 1 with A = mean_k J_k^T (I - N_k N_k^T) J_k
and B = mean_k J_k^T J_k (docs/method.md, "Library fit").
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..loss import alignment_loss

# Relative ridge on B (unit diagonal after column scaling): keeps B positive definite when
# terms are nearly collinear on the data, without moving an exact solution (A c = 0).
_RIDGE = 1e-8
_CHUNK = 4096


def quadratic_forms(gradients: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A = mean_k J_k^T (I - N_k N_k^T) J_k and B = mean_k J_k^T J_k, both (m, m)."""
    n = gradients.shape[0]
    b_matrix = np.einsum("kdi,kdj->ij", gradients, gradients) / n
    projected = np.einsum("kd,kdi->ki", directions, gradients)
    a_matrix = b_matrix - projected.T @ projected / n
    return (a_matrix + a_matrix.T) / 2, (b_matrix + b_matrix.T) / 2


def support_objectives(a_matrix: np.ndarray, b_matrix: np.ndarray, supports: np.ndarray) -> np.ndarray:
    """Smallest generalised eigenvalue of (A_S, B_S + ridge) for each row S of ``supports`` (K, k).

    Batched through a Cholesky factor of B_S: eig(L^-1 A_S L^-T) = eig(A_S, B_S).
    """
    size = supports.shape[1]
    out = np.empty(supports.shape[0])
    eye = np.eye(size) * _RIDGE
    for start in range(0, supports.shape[0], _CHUNK):
        s = supports[start:start + _CHUNK]
        a_s = a_matrix[s[:, :, None], s[:, None, :]]
        b_s = b_matrix[s[:, :, None], s[:, None, :]] + eye
        try:
            lower = np.linalg.cholesky(b_s)
        except np.linalg.LinAlgError:
            out[start:start + len(s)] = [_smallest_eig(a, b) for a, b in zip(a_s, b_s)]
            continue
        half = np.linalg.solve(lower, a_s)
        whitened = np.linalg.solve(lower, np.swapaxes(half, 1, 2))
        out[start:start + len(s)] = np.linalg.eigvalsh((whitened + np.swapaxes(whitened, 1, 2)) / 2)[:, 0]
    return out


def _smallest_eig(a_s: np.ndarray, b_s: np.ndarray) -> float:
    try:
        return float(scipy.linalg.eigh(a_s, b_s, eigvals_only=True, subset_by_index=[0, 0])[0])
    except (np.linalg.LinAlgError, ValueError):
        return np.inf


def fit_support(a_matrix: np.ndarray, b_matrix: np.ndarray, gradients: np.ndarray, directions: np.ndarray,
                 support: np.ndarray, oriented: bool) -> tuple[np.ndarray, float]:
    """Coefficients (scaled units) of the best g on ``support`` and its train loss."""
    idx = np.asarray(support)
    a_s = a_matrix[np.ix_(idx, idx)]
    b_s = b_matrix[np.ix_(idx, idx)] + np.eye(len(idx)) * _RIDGE
    try:
        _, vectors = scipy.linalg.eigh(a_s, b_s, subset_by_index=[0, 0])
    except (np.linalg.LinAlgError, ValueError):
        return np.zeros(len(idx)), np.inf
    coefficients = vectors[:, 0]
    g_gradients = gradients[:, :, idx] @ coefficients
    # The eigenvector's sign is arbitrary: orient g to increase along the targets.
    if np.sum(g_gradients * directions) < 0:
        coefficients, g_gradients = -coefficients, -g_gradients
    return coefficients, alignment_loss(g_gradients, directions, oriented=oriented)


def extend(beam: list[tuple[int, ...]], m: int, size: int, backward: tuple[int, ...] | None) -> np.ndarray:
    """Supports of ``size`` terms: every one-term extension of the beam, plus the backward pick."""
    found: set[tuple[int, ...]] = set()
    for support in beam:
        for j in range(m):
            if j not in support:
                found.add(tuple(sorted((*support, j))))
    if backward is not None:
        found.add(backward)
    return np.array(sorted(found), dtype=np.int64).reshape(-1, size)


def backward_elimination(a_matrix: np.ndarray, b_matrix: np.ndarray, max_size: int) -> dict[int, tuple[int, ...]]:
    """Supports of size 1..max_size found by refitting and dropping the smallest |c_j|.

    Columns have unit scale, so |c_j| compares the terms' contributions.
    """
    support = list(range(a_matrix.shape[0]))
    found: dict[int, tuple[int, ...]] = {}
    while support:
        if len(support) <= max_size:
            found[len(support)] = tuple(sorted(support))
        if len(support) == 1:
            break
        idx = np.array(support)
        try:
            _, vectors = scipy.linalg.eigh(a_matrix[np.ix_(idx, idx)],
                                           b_matrix[np.ix_(idx, idx)] + np.eye(len(idx)) * _RIDGE,
                                           subset_by_index=[0, 0])
        except (np.linalg.LinAlgError, ValueError):
            break
        # Large libraries shed several terms per refit (geometric shrinking keeps this cheap);
        # near max_size one at a time, so each recorded support is a real refit.
        drop = max(1, (len(support) - max_size) // 8)
        for position in sorted(np.argsort(np.abs(vectors[:, 0]), kind="stable")[:drop], reverse=True):
            support.pop(int(position))
    return found
