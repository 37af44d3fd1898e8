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

The gradient alone can rank inputs badly for a *small* formula: on images, a pixel the network
weighs strongly may seldom vary across its boundary, while a tree splits on the pixel that
separates the two sides. So the small supports come from a second selection as well
(``decision_path``): at each step every free input joins the support, the linear formula takes
the top eigenvector of M on it (its weights still follow the gradients), and the input whose
formula best separates the network's two sides of the boundary (the sign of the neuron's value,
best threshold) is added. The sides are read on every training row where the problem carries them
(``SearchProblem.sides_x``), else on the search points: on a small confident table the band holds
a few dozen rows near the boundary, too few to tell a pixel that decides from one that does not.
Both paths' formulas go on the front, scored alike.

On every support of either path, a second linear formula is fitted to those sides instead of the
gradients (``decision_weights``: a logistic regression with a small ridge on the same points,
never the held-out or test points that score it). Where the network's gradients are noisy its
decisions can pin the weights better; where they are not, its L shows it follows the gradients
less. It joins the front like the others, and the choice and the verdict judge it the same way.
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
# the smaller side of the neuron's sign must hold this share of the points to be read as
# the network's decisions; otherwise the neuron's median splits the points
MIN_SIDE = 0.1
# ridge of the decision-fitted weights, per point, in spread units: keeps them finite where the
# network's sides are separable, and small enough not to bias them where they are not
RIDGE = 1e-1
NEWTON_STEPS = 25
# the most points the network's sides are read on (a fixed draw beyond): the decision path sorts
# (points x free inputs) scores per step
MAX_SIDES = 5000
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
    """sum_j a_j x_j in the user's units for spread-unit ``weights`` on ``support``: the input
    with the largest weight in spread units has coefficient 1 (a level set does not depend on
    the scale), the others relative to it to ``SIGNIFICANT`` digits."""
    spread = problem.spread
    lead = int(np.argmax(np.abs(weights)))
    unit = abs(float(weights[lead]) / float(spread[support[lead]])) or 1.0
    raw = np.array([float(w) / float(spread[j]) / unit for j, w in zip(support, weights)])
    rounded = np.array([float(f"{c:.{SIGNIFICANT}g}") for c in raw])
    whole = _whole_multiple(rounded)
    symbols = [sp.Symbol(problem.feature_names[j], real=True) for j in support]
    if whole is not None:
        return sp.Add(*[sp.Integer(int(c)) * symbol for c, symbol in zip(whole, symbols)])
    return sp.Add(*[symbol if c == 1 else -symbol if c == -1 else sp.Float(c, SIGNIFICANT) * symbol
                    for c, symbol in zip(rounded, symbols)])


def _whole_multiple(coefficients: np.ndarray, largest: int = 12) -> np.ndarray | None:
    """The smallest multiple m <= ``largest`` of ``coefficients`` whose entries are all whole
    numbers to the digits kept (``[1, -0.5]`` -> ``[2, -1]``), or None."""
    nonzero = coefficients[coefficients != 0]
    for m in range(1, largest + 1):
        scaled = nonzero * m
        if np.all(np.abs(scaled - np.round(scaled)) <= 10.0 ** -SIGNIFICANT * np.maximum(1.0, np.abs(scaled))):
            return np.round(coefficients * m)
    return None


def network_sides(problem: SearchProblem) -> tuple[np.ndarray, np.ndarray] | None:
    """The points where the network's two sides are read, and its side at each.

    Returns:
        ((n, d) points, (n,) bool sides): ``problem.sides_x`` (at most ``MAX_SIDES`` of them, a
        fixed draw) or else the search points; the side is the sign of the neuron's value, or
        above its median where the sign leaves under ``MIN_SIDE`` of the points on one side (a
        hidden unit); None without values or with one side empty.
    """
    if problem.sides_x is not None and problem.sides_values is not None \
            and len(problem.sides_values) == len(problem.sides_x):
        x, values = problem.sides_x, np.asarray(problem.sides_values, dtype=np.float64)
        if len(x) > MAX_SIDES:
            keep = np.sort(np.random.default_rng(0).choice(len(x), size=MAX_SIDES, replace=False))
            x, values = x[keep], values[keep]
    elif problem.values is not None and len(problem.values) == len(problem.x):
        x, values = problem.x, np.asarray(problem.values, dtype=np.float64)
    else:
        return None
    keep = np.isfinite(values)
    x, values = x[keep], values[keep]
    sides = values > 0
    if min(sides.mean(), 1.0 - sides.mean()) < MIN_SIDE:
        sides = values > np.median(values)
    return (x, sides) if 0 < sides.sum() < len(sides) else None


def separation(scores: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """Best-threshold agreement of each column of ``scores`` (n, m) with the bool ``sides`` (n,),
    either orientation: the share of points a threshold on that score puts on their side."""
    order = np.argsort(scores, axis=0, kind="stable")
    above = sides[order].astype(np.float64)  # (n, m), each column sorted by its score
    n = len(sides)
    total = above.sum(axis=0)
    # with the threshold after the first i sorted points, the points below it called False:
    # correct(i) = False points among the first i + True points after them (i = 0..n)
    correct = np.concatenate([total[None, :], np.cumsum(1.0 - above, axis=0) + total[None, :]
                              - np.cumsum(above, axis=0)])
    return np.maximum(correct.max(axis=0), n - correct.min(axis=0)) / n


def decision_path(problem: SearchProblem, columns: Sequence[int], max_size: int = SMALL
                  ) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Forward selection by the network's decisions (module docstring): supports of 1..max_size
    of ``columns`` (local indices, in the order added) with the top eigenvector of the directions'
    second-moment matrix on each; [] when the network's sides are unknown.

    Cost per step: one stacked (m, k, k) eigenproblem and one sort of (n, m) scores for the m free
    inputs, so (n log n) m per step.
    """
    decided = network_sides(problem)
    if decided is None:
        return []
    columns = list(columns)
    directions = unit_rows(problem.directions[:, columns])
    z = decided[0][:, columns] / problem.spread[columns]  # the points in spread units
    sides = decided[1]
    moment = directions.T @ directions / max(len(directions), 1)
    chosen: list[int] = []
    out = []
    for _ in range(min(max_size, len(columns))):
        free = np.array([j for j in range(len(columns)) if j not in chosen])
        supports = np.array([chosen + [int(j)] for j in free])  # (m, k)
        blocks = moment[supports[:, :, None], supports[:, None, :]]  # (m, k, k)
        weights = np.linalg.eigh(blocks)[1][:, :, -1]  # (m, k) top eigenvectors
        scores = np.einsum("nmk,mk->nm", z[:, supports], weights)
        best = int(np.argmax(separation(scores, sides)))
        chosen = [int(j) for j in supports[best]]
        w = weights[best]
        if float(np.mean(directions[:, chosen] @ w)) < 0:
            w = -w
        out.append((tuple(chosen), w))
    return out


def decision_weights(z: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """(k,) unit weights of the ridge logistic regression of ``sides`` (n,) on ``z`` (n, k) (the
    support's inputs in spread units), by Newton's method; the intercept is fitted, not returned."""
    n, k = z.shape
    centred = (z - z.mean(axis=0)) / (z.std(axis=0) + 1e-12)
    a = np.column_stack([centred, np.ones(n)])
    y = sides.astype(np.float64)
    beta = np.zeros(k + 1)
    penalty = RIDGE * n * np.eye(k + 1)
    penalty[k, k] = 0.0
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -30, 30)))
        gradient = a.T @ (p - y) + penalty @ beta
        hessian = (a * (p * (1 - p))[:, None]).T @ a + penalty + 1e-9 * np.eye(k + 1)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    weights = beta[:k] / (z.std(axis=0) + 1e-12)
    return weights / (float(np.linalg.norm(weights)) or 1.0)


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
    chosen = [path[size - 1] for size in path_sizes(len(path))]
    by_decisions = decision_path(problem, columns, max_size=min(SMALL, len(path)))
    seen = {tuple(sorted(support)) for support, _ in chosen}
    chosen += [(support, w) for support, w in by_decisions if tuple(sorted(support)) not in seen]
    decided = network_sides(problem)
    if decided is not None:
        z, sides = decided[0] / problem.spread, decided[1]
        directions = unit_rows(problem.directions[:, columns])
        for support, _ in list(chosen):
            weights = decision_weights(z[:, [columns[j] for j in support]], sides)
            # the sign is arbitrary for a level set: point it along the mean direction, as the path does
            chosen.append((support, -weights if float(np.mean(directions[:, list(support)] @ weights)) < 0
                           else weights))
    entries, written = [], set()
    for support, weights in chosen:
        if not np.any(weights):
            continue
        expr = linear_formula([columns[j] for j in support], weights, problem)
        if str(expr) in written:
            continue
        written.add(str(expr))
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
