"""The sparse linear path: for k = 1, 2, ... inputs, the linear formula in k inputs whose gradient
follows the neuron's best, found by greedy forward selection; it scales to hundreds of inputs.

A linear formula g = sum_j a_j x_j has the same gradient a everywhere, so in spread units
(``SearchProblem.in_spread_units``) its alignment with the unit directions n_k is governed by
the second-moment matrix M = mean_k n_k n_k^T: over the inputs S, the unit weights w that
maximise mean_k (w . n_k)^2 are the top eigenvector of M restricted to S. The path adds, at each
step, the input that raises that top eigenvalue most. One (d, d) matrix is all it keeps, so
memory is O(d^2) whatever the number of points, and a step costs d small eigenproblems.

On tables whose networks are nearly linear in many weak inputs (real data with 30-100 columns)
this is the family a logistic regression or a scorecard uses; the front carries one such
formula per size, so a user sees what each extra input buys.

The additive path (``additive_path_front``) then lets each input of the small supports enter
through a shape: g = sum_j c_j f_j(x_j) with f_j one of x, log x, x^2, 1/x, sqrt x. With
shapes the gradient is c_j f_j'(x_j), no longer constant, and the best c on a support is the
top generalised eigenvector of U = sum_k u_k u_k^T against B = sum_k diag(g_k^2), where g_k are
the shapes' derivatives in spread units and u_k = g_k * n_k (the library's eigenproblem, one
term per input); each input takes, in turn, the shape that raises that eigenvalue most.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy as sp

from ..expressions import complexity
from .base import Entry, SearchProblem
from .loss import alignment_loss, unit_rows

# sizes on the path: every size up to SMALL, then roughly 25% steps up to all inputs
SMALL = 12
GROWTH = 1.25
SIGNIFICANT = 3  # digits kept in the weights (the verdict is insensitive to the fourth)
# a shape is kept only if it removes this fraction of the remaining misalignment (held-out L
# too): on a linear input any shape reweights the points and wins by round-off otherwise
SHAPE_GAIN = 0.05
# one-input shapes of the additive path: name -> (f, f', where it may be used)
SHAPES = {
    "log": (sp.log, lambda x: 1.0 / x, lambda x: bool(np.all(x > 0))),
    "square": (lambda v: v ** 2, lambda x: 2.0 * x, lambda x: True),
    "reciprocal": (lambda v: 1 / v, lambda x: -1.0 / x ** 2, lambda x: bool(np.all(x > 0) or np.all(x < 0))),
    "sqrt": (sp.sqrt, lambda x: 0.5 / np.sqrt(x), lambda x: bool(np.all(x > 0))),
}


def path_sizes(n_inputs: int) -> list[int]:
    """The support sizes the path reports: 1..min(SMALL, d), then ~25% steps, then d."""
    sizes = list(range(1, min(SMALL, n_inputs) + 1))
    while sizes[-1] < n_inputs:
        sizes.append(min(n_inputs, max(sizes[-1] + 1, int(round(sizes[-1] * GROWTH)))))
    return sizes


def forward_path(directions: np.ndarray, max_size: int | None = None) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Greedy forward selection on the directions' second-moment matrix.

    Args:
        directions: (n, d) unit gradient directions (in spread units).
        max_size: the largest support (default: all d inputs).

    Returns:
        For k = 1..max_size, (support of k input indices in the order added, (k,) unit weights
        on them, the top eigenvector of M restricted to the support).
    """
    n, d = directions.shape
    moment = directions.T @ directions / max(n, 1)
    max_size = d if max_size is None else min(max_size, d)
    chosen: list[int] = []
    out: list[tuple[tuple[int, ...], np.ndarray]] = []
    for _ in range(max_size):
        free = np.array([j for j in range(d) if j not in chosen])
        gains = _bordered_top_eigenvalues(moment, chosen, free)
        chosen.append(int(free[int(np.argmax(gains))]))
        values, vectors = np.linalg.eigh(moment[np.ix_(chosen, chosen)])
        weights = vectors[:, -1]
        # the sign of an eigenvector is arbitrary: point it along the mean direction
        if float(np.mean(directions[:, chosen] @ weights)) < 0:
            weights = -weights
        out.append((tuple(chosen), weights))
    return out


def _bordered_top_eigenvalues(moment: np.ndarray, chosen: list[int], free: np.ndarray) -> np.ndarray:
    """The top eigenvalue of M restricted to ``chosen`` + [j], for every j in ``free`` at once.

    With M_SS = U diag(lam) U^T and b = M_Sj, the top eigenvalue mu of the bordered matrix is
    the root above lam_max of mu - M_jj = sum_i (u_i . b)^2 / (mu - lam_i) (the secular
    equation), found by bisection for all candidates together.
    """
    diagonal = moment[free, free]
    if not chosen:
        return diagonal
    lam, vectors = np.linalg.eigh(moment[np.ix_(chosen, chosen)])
    weights = (vectors.T @ moment[np.ix_(chosen, free)]) ** 2  # (k, m)
    low = np.full(len(free), lam[-1])
    high = lam[-1] + diagonal + np.sqrt(weights.sum(axis=0)) + 1e-12  # a bound on the bordered top eigenvalue
    for _ in range(60):
        mid = 0.5 * (low + high)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = mid - diagonal - np.sum(weights / (mid[None, :] - lam[:, None]), axis=0)
        above = f > 0
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    return 0.5 * (low + high)


def linear_formula(support: Sequence[int], weights: np.ndarray, problem: SearchProblem) -> sp.Expr:
    """sum_j a_j x_j in the user's units for spread-unit ``weights`` on ``support``: the largest
    term's weight is 1 in spread units, the others kept to ``SIGNIFICANT`` digits."""
    spread = problem.spread
    largest = float(np.max(np.abs(weights))) or 1.0
    terms = []
    for j, w in zip(support, weights):
        coefficient = float(w) / largest / float(spread[j])
        terms.append(sp.Float(float(f"{coefficient:.{SIGNIFICANT}g}"), SIGNIFICANT)
                     * sp.Symbol(problem.feature_names[j], real=True))
    return sp.Add(*terms)


def linear_path_front(problem: SearchProblem, *, columns: Sequence[int] | None = None,
                      max_size: int | None = None, path: list | None = None) -> list[Entry]:
    """One linear formula per size of ``path_sizes``, scored on all of the problem's inputs
    (source "path"). A linear formula's gradient is constant, so its L needs no symbolic derivative.

    Args:
        problem: the search problem, in spread units.
        columns: the inputs the path may use (default: all).
        max_size: the largest support (default: all of ``columns``).
        path: ``forward_path`` over ``columns``, if already computed.
    """
    columns, path = _columns_and_path(problem, columns, max_size, path)
    entries = []
    for size in path_sizes(len(path)):
        support, weights = path[size - 1]
        expr = linear_formula([columns[j] for j in support], weights, problem)
        holdout, train = _linear_losses(expr, problem)
        entries.append(Entry(str(expr), complexity(expr), holdout, train, "path"))
    return entries


def _columns_and_path(problem: SearchProblem, columns: Sequence[int] | None, max_size: int | None,
                      path: list | None) -> tuple[list[int], list]:
    columns = list(range(problem.n_features)) if columns is None else list(columns)
    if path is None:
        path = forward_path(unit_rows(problem.directions[:, columns]), max_size=max_size)
    return columns, path if max_size is None else path[:max_size]


def _linear_losses(expr: sp.Expr, problem: SearchProblem) -> tuple[float, float]:
    """(held-out L, search L) of a linear formula, from its constant gradient."""
    gradient = np.zeros(problem.n_features)
    for symbol, coefficient in expr.as_coefficients_dict().items():
        # the coefficient as printed: the expression string is what a reader (and a reload) sees
        gradient[problem.feature_names.index(str(symbol))] = float(str(coefficient))
    scaled = gradient * problem.spread  # the constant gradient in spread units

    def loss(targets: np.ndarray) -> float:
        return alignment_loss(np.broadcast_to(scaled, targets.shape), targets, oriented=problem.oriented)

    return loss(problem.directions_holdout), loss(problem.directions)


def additive_path_front(problem: SearchProblem, *, columns: Sequence[int] | None = None,
                        max_size: int = SMALL, path: list | None = None) -> list[Entry]:
    """For the path's supports of up to ``max_size`` inputs, the additive formula
    sum_j c_j f_j(x_j) whose shapes beat the linear one (source "path"); supports where every
    input stays linear give nothing new and are left out. ``path``: ``forward_path`` over
    ``columns``, if already computed."""
    columns, path = _columns_and_path(problem, columns, max_size, path)
    points = np.concatenate([problem.x, problem.x_holdout])
    allowed = {j: ["linear"] + [name for name, (_, _, ok) in SHAPES.items() if ok(points[:, j])] for j in columns}
    entries = []
    for support_local, _ in path:
        support = [columns[j] for j in support_local]
        shapes = ["linear"] * len(support)
        linear_objective, linear_weights = _shape_eigen(problem, support, shapes)
        best, weights = linear_objective, linear_weights
        for position, j in enumerate(support):
            for shape in allowed[j][1:]:
                trial = shapes[:position] + [shape] + shapes[position + 1:]
                value, trial_weights = _shape_eigen(problem, support, trial)
                # a shape must buy alignment, not reweight the points of an input that is linear
                if value > best + SHAPE_GAIN * (1.0 - best):
                    best, shapes, weights = value, trial, trial_weights
        if all(shape == "linear" for shape in shapes):
            continue
        expr = _additive_formula(problem, support, shapes, weights)
        linear = _linear_losses(_additive_formula(problem, support, ["linear"] * len(support), linear_weights),
                                problem)[0]
        try:
            entry = Entry.from_expr(expr, problem, source="path", train_loss=problem.loss(expr, holdout=False))
        except Exception:  # noqa: BLE001 - a shape undefined on some held-out point: no candidate
            continue
        if entry.loss < (1.0 - SHAPE_GAIN) * linear:
            entries.append(entry)
    return entries


def _shape_gradients(problem: SearchProblem, support: Sequence[int], shapes: Sequence[str], x: np.ndarray) -> np.ndarray:
    """(n, k) derivatives of the shapes at the rows of ``x``, in spread units."""
    columns = []
    for j, shape in zip(support, shapes):
        derivative = np.ones(len(x)) if shape == "linear" else SHAPES[shape][1](x[:, j])
        columns.append(derivative * problem.spread[j])
    return np.stack(columns, axis=1)


def _shape_eigen(problem: SearchProblem, support: Sequence[int], shapes: Sequence[str]) -> tuple[float, np.ndarray]:
    """(top generalised eigenvalue, its eigenvector c) of U against B on the search points."""
    import scipy.linalg

    g = _shape_gradients(problem, support, shapes, problem.x)
    u = g * problem.directions[:, list(support)]
    b = np.sum(g ** 2, axis=0) + 1e-12
    values, vectors = scipy.linalg.eigh(u.T @ u, np.diag(b))
    return float(values[-1]), vectors[:, -1]


def _additive_formula(problem: SearchProblem, support: Sequence[int], shapes: Sequence[str],
                      c: np.ndarray) -> sp.Expr:
    """sum_j c_j f_j(x_j) in the user's units for the eigenvector ``c`` of ``_shape_eigen``, the
    largest term's typical gradient scaled to 1."""
    g = _shape_gradients(problem, support, shapes, problem.x)
    size = np.sqrt(np.mean(g ** 2, axis=0)) * np.abs(c)
    c = c / (float(size.max()) or 1.0)
    if float(np.mean((g * c) @ np.ones(len(support)))) < 0:
        c = -c
    terms = []
    for j, shape, coefficient in zip(support, shapes, c):
        symbol = sp.Symbol(problem.feature_names[j], real=True)
        term = symbol if shape == "linear" else SHAPES[shape][0](symbol)
        terms.append(sp.Float(float(f"{float(coefficient):.{SIGNIFICANT}g}"), SIGNIFICANT) * term)
    return sp.Add(*terms)
