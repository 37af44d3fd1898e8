"""One input at a time: perturbation curves near the boundary and partial dependence of a neuron.

Both are what users read when they "simulate" the network input by input. Inputs are ranked
by the relevance symgrad's screening uses (mean |normalised gradient component|), so the
plots and the formula's search see the same order. Partial dependence also gives a fidelity
figure: reading the curves as an additive model, sum_i PD_i(x_i), thresholded like a formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..errors import SymgradError
from ..judging.metrics import auc_score, fit_threshold, rule_labels
from ..search.screening import relevance

Neuron = Callable[[np.ndarray], np.ndarray]  # (n, d) raw inputs -> (n,) neuron values


@dataclass(frozen=True)
class Sensitivity:
    """Perturbation curves and partial dependence of one neuron.

    Attributes:
        feature_names: d input names.
        scores: (d,) screening relevance; ranking: input indices, most relevant first.
        fractions: (k,) shifts as fractions of each input's standard deviation.
        change: (d, k) median change of the neuron value when input i moves by fractions·std_i,
            over points near the decision boundary; change_low/high: (d, k) 25% / 75% quantiles.
        flipped: (d, k) fraction of those points whose network label flips.
        grid: (d, g) partial-dependence grid of each input (its 2.5-97.5% quantile range).
        dependence: (d, g) mean neuron value with input i set to grid[i] on reference points.
    """

    feature_names: tuple[str, ...]
    scores: np.ndarray
    ranking: tuple[int, ...]
    fractions: np.ndarray
    change: np.ndarray
    change_low: np.ndarray
    change_high: np.ndarray
    flipped: np.ndarray
    grid: np.ndarray
    dependence: np.ndarray

    def additive_value(self, x: np.ndarray) -> np.ndarray:
        """(n,) the partial-dependence curves read as an additive model, sum_i PD_i(x_i)."""
        x = np.asarray(x, dtype=np.float64)
        return np.sum([np.interp(x[:, i], self.grid[i], self.dependence[i]) for i in range(x.shape[1])], axis=0)

    def summary(self) -> list[dict]:
        """Per input, most relevant first: relevance, largest |median change| and largest flip rate."""
        return [{"input": self.feature_names[i], "relevance": float(self.scores[i]),
                 "max_abs_change": float(np.abs(self.change[i]).max()), "max_flipped": float(self.flipped[i].max())}
                for i in self.ranking]


def sensitivity(neuron: Neuron, labels: Callable[[np.ndarray], np.ndarray], directions: np.ndarray,
                x_near: np.ndarray, x_reference: np.ndarray, feature_names: Sequence[str], *,
                max_fraction: float = 0.5, n_steps: int = 21, n_grid: int = 25, n_reference: int = 300,
                seed: int = 0) -> Sensitivity:
    """Perturbation curves around boundary points and partial dependence of a neuron.

    Args:
        neuron: maps (n, d) raw inputs to (n,) neuron values.
        labels: maps (n, d) raw inputs to (n,) network labels (0/1).
        directions: (m, d) the neuron's gradients for the relevance ranking, in the units the
            screening compares them in (raw gradients times each input's spread).
        x_near: (n, d) points near the decision boundary, each input of which is moved.
        x_reference: (r, d) data giving each input's spread and the partial-dependence rows.
        feature_names: d input names.
        max_fraction: inputs move by up to +/- this fraction of their standard deviation.
        n_steps: shifts per curve; n_grid: partial-dependence grid points per input.
        n_reference: reference rows averaged for partial dependence (subsampled with ``seed``).

    Returns:
        The ``Sensitivity``.
    """
    x_near = np.asarray(x_near, dtype=np.float64)
    x_reference = np.asarray(x_reference, dtype=np.float64)
    d = len(feature_names)
    for name, arr in (("x_near", x_near), ("x_reference", x_reference)):
        if arr.ndim != 2 or arr.shape[1] != d or arr.shape[0] == 0:
            raise SymgradError(f"{name} has shape {arr.shape}; expected (n, {d}) for inputs {list(feature_names)}")
    if not max_fraction > 0 or n_steps < 2 or n_grid < 2:
        raise SymgradError(f"max_fraction={max_fraction}, n_steps={n_steps} and n_grid={n_grid} must be > 0, >= 2, >= 2")
    scores = relevance(directions)
    ranking = tuple(int(i) for i in np.argsort(-scores, kind="stable"))
    spread = x_reference.std(axis=0)
    fractions = np.linspace(-max_fraction, max_fraction, n_steps)
    base_value, base_label = neuron(x_near), labels(x_near)
    n = x_near.shape[0]
    change = np.empty((3, d, n_steps))
    flipped = np.empty((d, n_steps))
    for i in range(d):
        moved = np.repeat(x_near[None], n_steps, axis=0)  # (k, n, d)
        moved[:, :, i] += (fractions * spread[i])[:, None]
        flat = moved.reshape(-1, d)
        delta = (neuron(flat).reshape(n_steps, n) - base_value[None, :])
        change[:, i] = np.quantile(delta, [0.5, 0.25, 0.75], axis=1)
        flipped[i] = np.mean(labels(flat).reshape(n_steps, n) != base_label[None, :], axis=1)
    rng = np.random.default_rng(seed)
    rows = x_reference if len(x_reference) <= n_reference else \
        x_reference[np.sort(rng.choice(len(x_reference), n_reference, replace=False))]
    grid = np.quantile(x_reference, np.linspace(0.025, 0.975, n_grid), axis=0).T  # (d, g)
    dependence = np.empty((d, n_grid))
    for i in range(d):
        block = np.repeat(rows[None], n_grid, axis=0)
        block[:, :, i] = grid[i][:, None]
        dependence[i] = neuron(block.reshape(-1, d)).reshape(n_grid, -1).mean(axis=1)
    return Sensitivity(tuple(str(f) for f in feature_names), scores, ranking, fractions, change[0], change[1],
                       change[2], flipped, grid, dependence)


def additive_fidelity(result: Sensitivity, x_val: np.ndarray, y_val: np.ndarray, x_test: np.ndarray,
                      y_test: np.ndarray) -> dict:
    """Agreement and AUC of the additive partial-dependence reading, thresholded on validation.

    Args:
        x_val, y_val: points and network labels that fit the threshold (as for formulas).
        x_test, y_test: held-out points and network labels that score it.
    """
    threshold, orientation, _ = fit_threshold(result.additive_value(x_val), y_val)
    s = result.additive_value(x_test)
    return {"agreement": float(np.mean(rule_labels(s, threshold, orientation) == y_test)),
            "auc": auc_score(s, y_test, orientation), "threshold": threshold, "orientation": orientation}


def _panels(count: int) -> tuple[Figure, list]:
    cols = min(3, count)
    rows = int(np.ceil(count / cols))
    fig = Figure(figsize=(4.4 * cols, 3.3 * rows))
    return fig, [fig.add_subplot(rows, cols, k + 1) for k in range(count)]


def perturbation_plot(result: Sensitivity, top: int = 6, neuron_name: str = "neuron") -> Figure:
    """Median change of the neuron (25-75% band) per shifted input, most relevant inputs first."""
    shown = result.ranking[:top]
    fig, axes = _panels(len(shown))
    for ax, i in zip(axes, shown):
        ax.fill_between(result.fractions, result.change_low[i], result.change_high[i], color="tab:blue", alpha=0.25)
        ax.plot(result.fractions, result.change[i], color="tab:blue")
        ax.axhline(0.0, color="0.5", lw=0.8)
        twin = ax.twinx()
        twin.plot(result.fractions, result.flipped[i], color="tab:red", ls="--", lw=1)
        twin.set_ylim(0, 1)
        twin.set_ylabel("labels flipped", color="tab:red", fontsize=8)
        ax.set_title(f"{result.feature_names[i]} (relevance {result.scores[i]:.2f})", fontsize=9)
        ax.set_xlabel("shift / std of the input")
        ax.set_ylabel(f"change of {neuron_name}", fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.suptitle("one input moved at a time around points near the decision boundary: median change "
                 "(blue, 25-75% band) and labels flipped (red dashed)", fontsize=9)
    fig.tight_layout()
    return fig


def dependence_plot(result: Sensitivity, top: int = 6, neuron_name: str = "neuron") -> Figure:
    """Partial dependence of the neuron on each of the most relevant inputs."""
    shown = result.ranking[:top]
    fig, axes = _panels(len(shown))
    for ax, i in zip(axes, shown):
        ax.plot(result.grid[i], result.dependence[i], color="tab:green")
        ax.set_title(f"{result.feature_names[i]} (relevance {result.scores[i]:.2f})", fontsize=9)
        ax.set_xlabel(result.feature_names[i])
        ax.set_ylabel(f"mean {neuron_name}", fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.suptitle("partial dependence (other inputs at their observed values)", fontsize=9)
    fig.tight_layout()
    return fig
