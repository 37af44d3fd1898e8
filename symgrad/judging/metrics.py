"""Fidelity of a formula to a neuron: gradient alignment, ranking and decision agreement."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import sympy as sp
from scipy import stats

from ..errors import SymgradError
from ..expressions import gradient_function, parse_formula, value_function
from ..search.loss import cosines, unit_rows

QUANTILE_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


def fit_threshold(values: np.ndarray, labels: np.ndarray) -> tuple[float, int, float]:
    """Best single-threshold rule ``class 1 iff orientation * g > orientation * threshold``.

    Every cut between two distinct sorted values (and one below / above all values) is tried
    with both orientations; the first best cut wins, orientation +1 on ties. Non-finite
    values cannot be classified and count as wrong, so they lower the accuracy.

    Args:
        values: (n,) formula values g(x_k).
        labels: (n,) 0/1 labels the rule should reproduce.

    Returns:
        (threshold, orientation, accuracy): orientation is +1 or -1, accuracy the fraction of
        all n points (non-finite ones included) the rule gets right.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    labels = _as_binary(labels, "labels", values.shape[0])
    n = values.shape[0]
    if n == 0:
        raise SymgradError("fit_threshold got 0 values; give at least one point")
    finite = np.isfinite(values)
    v, y = values[finite], labels[finite]
    m = v.shape[0]
    if m == 0:
        return 0.0, 1, 0.0
    order = np.argsort(v, kind="stable")
    v, y = v[order], y[order]
    ones_below = np.concatenate([[0], np.cumsum(y)])           # (m+1,) ones among the k lowest
    zeros_below = np.arange(m + 1) - ones_below
    # Orientation +1 calls the k lowest values class 0 and the rest class 1.
    correct_plus = zeros_below + (ones_below[-1] - ones_below)
    correct_minus = m - correct_plus
    # A cut between equal values cannot separate them, so only cuts at value changes count.
    valid = np.ones(m + 1, dtype=bool)
    valid[1:m] = v[1:] > v[:-1]
    correct_plus = np.where(valid, correct_plus, -1)
    correct_minus = np.where(valid, correct_minus, -1)
    k_plus, k_minus = int(np.argmax(correct_plus)), int(np.argmax(correct_minus))
    if correct_plus[k_plus] >= correct_minus[k_minus]:
        k, orientation, correct = k_plus, 1, correct_plus[k_plus]
    else:
        k, orientation, correct = k_minus, -1, correct_minus[k_minus]
    # Margin outside the data scales with the data so the threshold stays readable.
    margin = max(1.0, float(v[-1] - v[0]))
    if k == 0:
        threshold = float(v[0] - margin)
    elif k == m:
        threshold = float(v[-1] + margin)
    else:
        threshold = float(v[k - 1] + (v[k] - v[k - 1]) / 2.0)
    return threshold, orientation, float(correct) / n


def rule_labels(values: np.ndarray, threshold: float, orientation: int) -> np.ndarray:
    """Apply a threshold rule; returns (n,) int labels with -1 where g is not finite."""
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        ones = orientation * values > orientation * threshold
    return np.where(finite, ones.astype(np.int64), -1)


def auc_score(values: np.ndarray, labels: np.ndarray, orientation: int = 1) -> float | None:
    """Area under the ROC curve of ``orientation * g`` for 0/1 ``labels`` (rank formula).

    Non-finite values are ranked on the wrong side (class-1 points lowest, class-0 points
    highest), so they count against the formula. Ties count one half.

    Returns:
        The AUC in [0, 1], or None when ``labels`` hold a single class (AUC undefined).
    """
    values = np.asarray(values, dtype=np.float64).ravel() * orientation
    labels = _as_binary(labels, "labels", values.shape[0])
    n_pos = int(labels.sum())
    n_neg = labels.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    bad = ~np.isfinite(values)
    scores = np.where(bad, np.where(labels == 1, -np.inf, np.inf), values)
    ranks = stats.rankdata(scores)  # average ranks: ties count one half
    u = ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def fidelity_metrics(expr: sp.Expr | str, feature_names: Sequence[str], *, x: np.ndarray,
                     directions: np.ndarray, neuron_values: np.ndarray, net_labels: np.ndarray,
                     true_labels: np.ndarray | None = None, net_accuracy: float | None = None,
                     fit_fraction: float = 0.5, seed: int = 0, scale: np.ndarray | None = None,
                     near: np.ndarray | None = None) -> dict[str, Any]:
    """How faithfully the formula g reproduces a neuron f on held-out points.

    g is judged only up to a monotone transform (f = phi(g) is the claim), so every figure here
    is invariant to adding constants, positive or negative scaling, exp(g) and the like:
    gradient alignment uses |cos|, the rank correlation is also reported as |rho|, and the
    threshold rule fits its own orientation.

    The decision rule ``class 1 iff orientation * g > orientation * threshold`` is fitted to
    the network's labels on a random ``fit_fraction`` of the points and scored on the rest
    (all points are used for both when fewer than 4 are given). Non-finite formula values
    count as wrong everywhere (cos 0, misclassified, ranked on the wrong side).

    Args:
        expr: the formula (sympy expression or formula string over ``feature_names``).
        feature_names: d input names, in column order.
        x: (n, d) evaluation points in raw input units.
        directions: (n, d) unit neuron gradients at ``x``.
        neuron_values: (n,) neuron values f(x) (e.g. the logit).
        net_labels: (n,) the network's own 0/1 class decisions at ``x``.
        true_labels: optional (n,) 0/1 ground-truth labels at ``x``.
        net_accuracy: optional accuracy of the network, echoed for comparison.
        fit_fraction: share of the points used to fit the threshold, in (0, 1).
        seed: seed of the fit/evaluation split.
        scale: optional (d,) spread of each input; gradients (the formula's and the neuron's)
            are then compared in these units, as the search does (docs/method.md, "Units"), so
            the alignment figures do not depend on the columns' units. None: raw units.
        near: optional (n,) mask of the points nearest the decision boundary; adds
            ``loss_near``, the loss on those points (``symgrad.judging.floor.near_boundary``).

    Returns:
        JSON-ready dict: alignment_mean, alignment_median, alignment_quantiles (|cos| at
        5/25/50/75/95 %), loss (1 - mean |cos|), spearman (signed, formula vs neuron value;
        0.0 when either is constant), spearman_abs, boundary_agreement (evaluation points),
        boundary_agreement_fit, boundary_agreement_auc (None if the evaluation points hold
        one class), threshold, orientation, true_label_accuracy and true_label_auc (the same
        rule against the true labels, only when given), net_accuracy, n_points, n_fit,
        n_eval, n_nonfinite.
    """
    names = tuple(feature_names)
    if isinstance(expr, str):
        expr = parse_formula(expr, names)
    x = np.asarray(x, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise SymgradError(f"x has shape {x.shape}; expected (n, {len(names)}) for features {list(names)}")
    n = x.shape[0]
    if n < 2:
        raise SymgradError(f"fidelity_metrics got {n} points; give at least 2")
    if directions.shape != x.shape:
        raise SymgradError(f"directions have shape {directions.shape}; expected {x.shape} like x")
    neuron_values = np.asarray(neuron_values, dtype=np.float64).ravel()
    if neuron_values.shape[0] != n:
        raise SymgradError(f"neuron_values has {neuron_values.shape[0]} entries; expected {n}, one per point")
    net_labels = _as_binary(net_labels, "net_labels", n)
    if true_labels is not None:
        true_labels = _as_binary(true_labels, "true_labels", n)
    if not 0.0 < fit_fraction < 1.0:
        raise SymgradError(f"fit_fraction {fit_fraction!r} is not in (0, 1)")

    gradients = gradient_function(expr, names)(x)
    if scale is not None:
        spread = np.asarray(scale, dtype=np.float64).ravel()
        if spread.shape != (len(names),):
            raise SymgradError(f"scale has {spread.shape[0]} entries; expected one per input ({len(names)})")
        spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
        gradients, directions = gradients * spread, directions * spread
    abs_cos = np.abs(cosines(gradients, unit_rows(directions)))
    g = value_function(expr, names)(x)
    finite = np.isfinite(g)

    fit_idx, eval_idx = _split(n, fit_fraction, seed)
    threshold, orientation, fit_acc = fit_threshold(g[fit_idx], net_labels[fit_idx])
    predicted = rule_labels(g[eval_idx], threshold, orientation)

    metrics: dict[str, Any] = {
        "alignment_mean": float(abs_cos.mean()),
        "alignment_median": float(np.median(abs_cos)),
        "alignment_quantiles": [float(q) for q in np.quantile(abs_cos, QUANTILE_LEVELS)],
        "loss": float(1.0 - abs_cos.mean()),
    }
    if near is not None:
        metrics["loss_near"] = float(1.0 - abs_cos[np.asarray(near, dtype=bool)].mean())
    rho = _spearman(g, neuron_values)
    metrics["spearman"] = rho
    metrics["spearman_abs"] = abs(rho)
    metrics["boundary_agreement"] = float(np.mean(predicted == net_labels[eval_idx]))
    metrics["boundary_agreement_fit"] = fit_acc
    metrics["boundary_agreement_auc"] = auc_score(g[eval_idx], net_labels[eval_idx], orientation)
    metrics["threshold"] = threshold
    metrics["orientation"] = orientation
    if true_labels is not None:
        metrics["true_label_accuracy"] = float(np.mean(predicted == true_labels[eval_idx]))
        metrics["true_label_auc"] = auc_score(g[eval_idx], true_labels[eval_idx], orientation)
    metrics["net_accuracy"] = None if net_accuracy is None else float(net_accuracy)
    metrics.update(n_points=n, n_fit=int(fit_idx.shape[0]), n_eval=int(eval_idx.shape[0]),
                   n_nonfinite=int(n - finite.sum()))
    return metrics


def _spearman(g: np.ndarray, f: np.ndarray) -> float:
    """Signed Spearman rho over rows where both are finite; 0.0 when it is undefined."""
    ok = np.isfinite(g) & np.isfinite(f)
    if ok.sum() < 3:
        return 0.0
    a, b = g[ok], f[ok]
    # A constant carries no ranking; scipy would warn and return NaN.
    if np.all(a == a[0]) or np.all(b == b[0]):
        return 0.0
    rho = float(stats.spearmanr(a, b).statistic)
    return rho if np.isfinite(rho) else 0.0


def _split(n: int, fit_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint fit / evaluation index sets; both are everything when n < 4."""
    if n < 4:
        every = np.arange(n)
        return every, every
    perm = np.random.default_rng(seed).permutation(n)
    n_fit = min(max(int(round(fit_fraction * n)), 1), n - 1)
    return np.sort(perm[:n_fit]), np.sort(perm[n_fit:])


def _as_binary(labels: Any, name: str, n: int) -> np.ndarray:
    """Validate 0/1 labels of length n and return them as int64."""
    arr = np.asarray(labels).ravel()
    if arr.shape[0] != n:
        raise SymgradError(f"{name} has {arr.shape[0]} entries; expected {n}, one per point")
    if arr.size and not np.all(np.isin(arr, (0, 1))):
        bad = arr[~np.isin(arr, (0, 1))][0]
        raise SymgradError(f"{name} contains {bad!r}; only 0 and 1 are allowed")
    return arr.astype(np.int64)
