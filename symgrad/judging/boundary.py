"""Where a formula's boundary lies against the network's own: held-out band points are moved onto
the network's decision boundary (a few Newton steps on the neuron along its gradient), and the
distance of the formula's level set through them is measured, point by point, in units of each
input's spread.

Gradient angles alone can miss a look-alike: a formula whose level sets turn a little against
the network's everywhere scores a small L, yet its boundary drifts away from the network's
across the region (docs/method.md, "The verdict"). The distance of the formula's level set
{g = c} (c fitted to the projected points) from each projected point p is |g(p) - c| / |grad g(p)|
to first order, with the gradient taken in spread units, so the distance is in spreads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..expressions import gradient_function, parse_formula, symbols_for, value_function

# Newton steps moving a point onto the network's boundary, and the largest move per step (in
# spreads): a step further than that leaves the region where the linearisation holds.
NEWTON_STEPS = 8
MAX_STEP = 0.25
# a point counts as on the boundary when the neuron is this close to its decision value there,
# relative to the neuron's typical change over one spread
ON_BOUNDARY = 1e-3


@dataclass(frozen=True)
class BoundaryPoints:
    """Held-out points moved onto the network's decision boundary.

    Attributes:
        x: (m, d) points on the boundary (raw units).
        origin: (m,) index of each point among the points it was projected from.
        moved: (m,) distance moved, in spreads.
        scale: (d,) the spread of each input.
    """

    x: np.ndarray
    origin: np.ndarray
    moved: np.ndarray
    scale: np.ndarray


def project_onto_boundary(value, gradient, x: np.ndarray, scale: np.ndarray, *, level: float = 0.0,
                          steps: int = NEWTON_STEPS, low: np.ndarray | None = None,
                          high: np.ndarray | None = None) -> BoundaryPoints:
    """Move each point of ``x`` onto {f = level} along the neuron's gradient (Newton on f).

    Args:
        value: f(x (n, d)) -> (n,) neuron values at raw points.
        gradient: f'(x (n, d)) -> (n, d) raw-unit gradients.
        x: (n, d) starting points, near the boundary.
        scale: (d,) spread of each input; steps are taken in these units (z = x / scale).
        level: the decision value of the neuron (0 for a logit).
        low, high: (d,) the box of the data; points that leave it are dropped (the network's
            boundary there is an extrapolation, and formulas may be undefined there).

    Returns:
        The points that reached the boundary (the others, e.g. stuck on a flat piece of a ReLU
        network, are dropped).
    """
    scale = np.asarray(scale, dtype=np.float64)
    points = np.asarray(x, dtype=np.float64).copy()
    start = points.copy()
    for _ in range(steps):
        f = value(points) - level
        g = gradient(points) * scale  # df/dz
        norm2 = np.sum(g**2, axis=1)
        with np.errstate(all="ignore"):
            step = np.where(norm2[:, None] > 0, -(f / norm2)[:, None] * g, 0.0)
        length = np.linalg.norm(step, axis=1)
        shrink = np.minimum(1.0, MAX_STEP / np.maximum(length, 1e-300))
        points = points + step * shrink[:, None] * scale
    f = value(points) - level
    slope = np.linalg.norm(gradient(points) * scale, axis=1)
    typical = float(np.median(slope)) if len(slope) else 0.0
    ok = np.isfinite(f) & (np.abs(f) <= ON_BOUNDARY * max(typical, 1e-12)) & (slope > 0)
    if low is not None:
        ok &= np.all(points >= low, axis=1)
    if high is not None:
        ok &= np.all(points <= high, axis=1)
    moved = np.linalg.norm((points - start) / scale, axis=1)
    return BoundaryPoints(points[ok], np.flatnonzero(ok), moved[ok], scale)


def departures(expression: str, names: tuple[str, ...], boundary: BoundaryPoints) -> np.ndarray:
    """(m,) signed distance, in spreads, of the formula's best level set from each boundary point.

    The level is the median of the formula on the points, so a formula whose level sets include
    the network's boundary scores 0 everywhere whatever its scale or sign; non-finite values
    give infinite distances.
    """
    expr = parse_formula(expression, names)
    return level_departures(value_function(expr, names)(boundary.x),
                            gradient_function(expr, names)(boundary.x) * boundary.scale)


def level_departures(g: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """(m,) signed distance of the median level set of a function from boundary points, given its
    values g (m,) and gradients (m, d) in spread units there (see ``departures``)."""
    slope = np.linalg.norm(gradient, axis=1)
    finite = np.isfinite(g) & np.isfinite(slope) & (slope > 0)
    if not finite.any():
        return np.full(len(g), np.inf)
    level = float(np.median(g[finite]))
    with np.errstate(all="ignore"):
        out = (g - level) / slope
    return np.where(finite, out, np.inf)


# the share of boundary points whose departure the verdict reads (the rest may sit where the
# network's boundary wiggles or a projection ended on a kink of a ReLU network)
QUANTILE = 0.9
# the share of the most departing boundary points whose median position says where it departs
WHERE_SHARE = 0.1


def boundary_metrics(expression: str, names: tuple[str, ...], boundary: BoundaryPoints) -> dict:
    """The figures of a formula's boundary against the network's (JSON-ready).

    ``boundary_departure``: the ``QUANTILE`` quantile of |departure| over the boundary points,
    in spreads; ``boundary_departure_median``; ``boundary_departure_where``: for each input the
    formula uses, its median value over the ``WHERE_SHARE`` most departing points (raw units);
    ``n_boundary_projected``: the points.
    """
    signed = departures(expression, names, boundary)
    distance = np.abs(signed)
    order = np.argsort(-np.nan_to_num(distance, nan=np.inf), kind="stable")
    worst = boundary.x[order[: max(1, int(np.ceil(WHERE_SHARE * len(order))))]]
    free = parse_formula(expression, names).free_symbols
    used = [i for i, symbol in enumerate(symbols_for(names)) if symbol in free]
    return {"boundary_departure": float(np.quantile(distance, QUANTILE)),
            "boundary_departure_median": float(np.median(distance)),
            "boundary_departure_where": {names[i]: float(np.median(worst[:, i])) for i in used},
            "n_boundary_projected": int(len(distance))}
