"""A collapsed PReLU network written out as linear functions on regions bounded by linear inequalities.

Fix, for every nonlinear PReLU, whether its input is negative or not: the whole network is then
linear (slopes above the linear bound count as exactly 1), so each output is a linear function
of the raw inputs, and so is the input of every nonlinear PReLU, which gives the inequalities
that bound the region where that choice holds. With k nonlinear PReLUs there are at most 2^k
regions; those that cannot occur inside the data's bounding box (a linear programme says so)
are dropped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import SymgradError
from .prelu import LINEAR_SLOPE, PReLUNetwork

MAX_ENUMERATED = 12  # up to 2^12 sign patterns are enumerated; beyond that only patterns seen in data


@dataclass(frozen=True)
class Condition:
    """One nonlinear PReLU's side: coefficients·x + constant is >= 0 (positive) or < 0.

    Attributes:
        layer, unit: the PReLU (0-based hidden layer and unit).
        slope: its trained slope.
        coefficients: (d,) in raw input units, scaled so that the largest |coefficient| is 1.
        constant: the constant term, scaled the same way.
        positive: the side this region lies on.
    """

    layer: int
    unit: int
    slope: float
    coefficients: np.ndarray
    constant: float
    positive: bool


@dataclass(frozen=True)
class Region:
    """One linear piece: the conditions that bound it and the outputs' linear functions.

    Attributes:
        conditions: one per nonlinear PReLU.
        weights: (d, m) output coefficients in raw input units; constants: (m,).
        n_points: reference points that fall in this region.
    """

    conditions: tuple[Condition, ...]
    weights: np.ndarray
    constants: np.ndarray
    n_points: int = 0


@dataclass(frozen=True)
class CollapsedRules:
    """The collapsed network: ``regions`` with their conditions and linear outputs."""

    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    nonlinear: tuple[tuple[int, int, float], ...]
    n_units: int
    regions: tuple[Region, ...]

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """(n, m) outputs of the printed rules at raw inputs x (n, d).

        Each point takes the first region whose conditions it meets; a point on a boundary meets
        both sides, and both give the same value there because the network is continuous.
        Points in no listed region get NaN.
        """
        x = np.asarray(x, dtype=np.float64)
        out = np.full((x.shape[0], len(self.output_names)), np.nan)
        free = np.ones(x.shape[0], bool)
        for region in self.regions:
            inside = free.copy()
            for c in region.conditions:
                value = x @ c.coefficients + c.constant
                inside &= (value >= -1e-9) if c.positive else (value <= 1e-9)
            out[inside] = x[inside] @ region.weights + region.constants
            free &= ~inside
        return out

    def node_count(self) -> int:
        """Size of the printed system: terms of every condition and output function, summed."""
        total = 0
        for region in self.regions:
            for c in region.conditions:
                total += linear_nodes(c.coefficients, c.constant)
            for k in range(len(self.output_names)):
                total += linear_nodes(region.weights[:, k], region.constants[k])
        return total

    def text(self, digits: int = 2, max_regions: int = 16) -> str:
        """The rules, one block per region: IF lines (one per nonlinear PReLU), then the outputs."""
        lines = [f"{len(self.nonlinear)} of {self.n_units} PReLUs stay nonlinear "
                 f"(slope <= {LINEAR_SLOPE}); {len(self.regions)} regions"]
        for region in self.regions[:max_regions]:
            lines.append("")
            for c in region.conditions:
                side = ">= 0" if c.positive else "< 0"
                lines.append(f"IF {linear_text(c.coefficients, c.constant, self.feature_names, digits)} {side}"
                             f"   (PReLU {c.unit} of hidden layer {c.layer} is "
                             f"{'positive' if c.positive else 'negative'}, slope {c.slope:.3f})")
            for k, name in enumerate(self.output_names):
                lines.append(f"  {name} = {linear_text(region.weights[:, k], region.constants[k], self.feature_names, digits)}")
            if region.n_points:
                lines.append(f"  ({region.n_points} reference points)")
        if len(self.regions) > max_regions:
            lines.append(f"... {len(self.regions) - max_regions} more regions")
        return "\n".join(lines)


def _rounded(value: float, digits: int, significant: int | None) -> float:
    return float(f"{value:.{significant}g}") if significant else round(float(value), digits)


def linear_text(coefficients: np.ndarray, constant: float, names: Sequence[str], digits: int = 2,
                significant: int | None = None) -> str:
    """``1.01*in1 - 0.5*in2 + 2.02``; terms that round to zero are left out.

    Coefficients are rounded to ``digits`` decimals, or to ``significant`` digits when given
    (for raw units of very different scales).
    """
    terms = []
    for c, name in zip(np.asarray(coefficients, float), names):
        r = _rounded(c, digits, significant)
        if r != 0:
            terms.append((r, f"{abs(r):g}*{name}" if abs(r) != 1 else str(name)))
    r = _rounded(constant, digits, significant)
    if r != 0 or not terms:
        terms.append((r, f"{abs(r):g}"))
    text = ("-" if terms[0][0] < 0 else "") + terms[0][1]
    for value, body in terms[1:]:
        text += f" {'-' if value < 0 else '+'} {body}"
    return text


def linear_nodes(coefficients: np.ndarray, constant: float, digits: int = 2, significant: int | None = None) -> int:
    """Node count of ``linear_text``'s expression, as symgrad's complexity counts it."""
    # c*x is 3 nodes (x alone 1), joined by k-1 additions
    shown = [_rounded(c, digits, significant) for c in coefficients]
    nodes = [1 if abs(c) == 1 else 3 for c in shown if c != 0]
    if _rounded(constant, digits, significant) != 0 or not nodes:
        nodes.append(1)
    return sum(nodes) + len(nodes) - 1


def collapse(network: PReLUNetwork, reference: np.ndarray | None = None, *,
             linear_slope: float = LINEAR_SLOPE) -> CollapsedRules:
    """The collapsed network's regions, conditions and linear outputs, in raw input units.

    Args:
        network: a trained ``PReLUNetwork``.
        reference: (n, d) points that count how often each region occurs and bound the box
            inside which regions are checked for being possible; None checks nothing.
        linear_slope: slopes above it count as exactly 1.

    Returns:
        The ``CollapsedRules``; regions are sorted by how many reference points they hold.
    """
    nonlinear = tuple(network.nonlinear_units(linear_slope))
    d = len(network.feature_names)
    reference = None if reference is None else np.asarray(reference, dtype=np.float64)
    if reference is not None and (reference.ndim != 2 or reference.shape[1] != d):
        raise SymgradError(f"reference points have shape {reference.shape}; expected (n, {d})")
    if len(nonlinear) <= MAX_ENUMERATED:
        patterns = list(itertools.product((False, True), repeat=len(nonlinear)))
    elif reference is not None:
        patterns = sorted(set(map(tuple, _patterns(network, nonlinear, reference, linear_slope))))
    else:
        raise SymgradError(f"{len(nonlinear)} PReLUs stay nonlinear, too many to enumerate 2^{len(nonlinear)} "
                           "regions; give reference points so that only regions holding data are listed")
    counts: dict[tuple[bool, ...], int] = {}
    if reference is not None:
        for p in map(tuple, _patterns(network, nonlinear, reference, linear_slope)):
            counts[p] = counts.get(p, 0) + 1
    regions = []
    for pattern in patterns:
        region = _region(network, nonlinear, pattern, linear_slope)
        n_points = counts.get(tuple(pattern), 0)
        if reference is not None and n_points == 0 and not _possible(region, reference):
            continue
        regions.append(Region(region.conditions, region.weights, region.constants, n_points))
    regions.sort(key=lambda r: -r.n_points)
    return CollapsedRules(network.feature_names, network.output_names, nonlinear, network.n_units, tuple(regions))


def _affine_input(network: PReLUNetwork) -> tuple[np.ndarray, np.ndarray]:
    # z = (x - mean) / scale = x @ M + c, folded so that rules read in raw units
    return np.diag(1.0 / network.scale), -network.mean / network.scale


def _region(network: PReLUNetwork, nonlinear, pattern, linear_slope: float) -> Region:
    side = {(layer, unit): positive for (layer, unit, _), positive in zip(nonlinear, pattern)}
    slope_of = {(layer, unit): a for layer, unit, a in nonlinear}
    matrix, offset = _affine_input(network)
    conditions = []
    for layer, ((weight, bias), slopes) in enumerate(zip(network.layers[:-1], network.slopes)):
        matrix, offset = matrix @ weight, offset @ weight + bias
        factor = np.where(slopes > linear_slope, 1.0, slopes)
        for unit in range(weight.shape[1]):
            if (layer, unit) in side:
                coefficients, constant = matrix[:, unit], offset[unit]
                norm = max(np.abs(coefficients).max(), 1e-300)
                conditions.append(Condition(layer, unit, slope_of[(layer, unit)], coefficients / norm,
                                            float(constant / norm), side[(layer, unit)]))
                factor[unit] = 1.0 if side[(layer, unit)] else slopes[unit]
        matrix, offset = matrix * factor[None, :], offset * factor
    weight, bias = network.layers[-1]
    return Region(tuple(conditions), matrix @ weight, offset @ weight + bias)


def _patterns(network: PReLUNetwork, nonlinear, x: np.ndarray, linear_slope: float) -> np.ndarray:
    """(n, k) sign pattern of the nonlinear PReLUs' inputs at x (True = non-negative)."""
    z = (x - network.mean) / network.scale
    signs = {}
    for layer, ((weight, bias), slopes) in enumerate(zip(network.layers[:-1], network.slopes)):
        pre = z @ weight + bias
        for unit in range(weight.shape[1]):
            signs[(layer, unit)] = pre[:, unit] >= 0
        a = np.where(slopes > linear_slope, 1.0, slopes)
        z = np.maximum(pre, 0.0) + a * np.minimum(pre, 0.0)
    if not nonlinear:
        return np.zeros((x.shape[0], 0), bool)
    return np.column_stack([signs[(layer, unit)] for layer, unit, _ in nonlinear])


def _possible(region: Region, reference: np.ndarray) -> bool:
    """Whether the region's conditions can all hold inside the reference points' bounding box."""
    if not region.conditions:
        return True
    from scipy.optimize import linprog

    # positive: a·x + b >= 0  ->  -a·x <= b ; negative: a·x + b <= 0  ->  a·x <= -b
    rows = [(-c.coefficients, c.constant) if c.positive else (c.coefficients, -c.constant) for c in region.conditions]
    a_ub = np.array([r[0] for r in rows])
    b_ub = np.array([r[1] for r in rows])
    bounds = list(zip(reference.min(axis=0), reference.max(axis=0)))
    found = linprog(np.zeros(reference.shape[1]), A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    return bool(found.status == 0)
