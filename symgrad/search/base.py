"""The search interface every backend implements: a problem in, a Pareto front out."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import sympy as sp

from ..errors import SymgradError
from ..expressions import complexity, gradient_function, parse_formula
from .loss import alignment_loss, unit_rows

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchProblem:
    """Points and target directions for one neuron; formulas are in the user's raw input units.

    Gradients are compared in units of each input's spread (docs/method.md, "Units"): with
    ``scale`` s (the inputs' standard deviations), a raw gradient G is compared as G * s, the
    chain rule through the standardisation z = x / s. Then L, screening and every decision
    built on them do not change when a column changes its unit. ``directions`` are already in
    these units (build the problem with ``in_spread_units``); without ``scale`` raw units are used.

    Attributes:
        x: (n, d) search points (raw units).
        directions: (n, d) unit normalised neuron gradients at ``x``, in spread units.
        x_holdout: (m, d) held-out points used to re-score every candidate.
        directions_holdout: (m, d) unit directions at ``x_holdout``, in spread units.
        feature_names: d names; formulas are sympy expressions over these.
        oriented: score with the orientation-sensitive loss instead of the sign-invariant one.
        margin: optional (n,) decision margin of the network at ``x`` (|logit| for binary),
            used to search narrower bands around the decision boundary.
        scale: optional (d,) positive spread of each input (None: raw units, all ones).
        values: optional (n,) the neuron's value at ``x`` (the logit of a decision neuron); the
            sparse path reads the network's side of the boundary from it.
        sides_x: optional (N, d) points (raw units) where the sparse path reads the network's two
            sides instead, typically every training row: the band's search points hold only the
            rows near the boundary, often a few dozen on a small confident table.
        sides_values: (N,) the neuron's value at ``sides_x``; given with it or not at all.
    """

    x: np.ndarray
    directions: np.ndarray
    x_holdout: np.ndarray
    directions_holdout: np.ndarray
    feature_names: tuple[str, ...]
    oriented: bool = False
    margin: np.ndarray | None = None
    scale: np.ndarray | None = None
    values: np.ndarray | None = None
    sides_x: np.ndarray | None = None
    sides_values: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def spread(self) -> np.ndarray:
        """(d,) the factor applied to raw gradient components (ones without ``scale``)."""
        return np.ones(self.n_features) if self.scale is None else np.asarray(self.scale, dtype=np.float64)

    def in_spread_units(self, scale: np.ndarray) -> "SearchProblem":
        """This problem, whose directions are raw-unit gradients, compared in units of ``scale``.

        Args:
            scale: (d,) spread of each input, e.g. its standard deviation on the training data;
                zero or non-finite entries (constant columns) count as 1.

        Returns:
            The problem with directions multiplied by ``scale`` and renormalised, and ``scale`` set.
        """
        if self.scale is not None:
            raise SymgradError("this problem is already in spread units")
        scale = np.asarray(scale, dtype=np.float64).ravel()
        if scale.shape != (self.n_features,):
            raise SymgradError(f"scale has {scale.shape[0]} entries; expected one per input ({self.n_features})")
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        return dataclasses.replace(self, directions=unit_rows(self.directions * scale),
                                   directions_holdout=unit_rows(self.directions_holdout * scale), scale=scale)

    def raw_directions(self, *, holdout: bool = False) -> np.ndarray:
        """(n, d) unit directions in raw units (what the neuron's gradient is in the user's units)."""
        return unit_rows((self.directions_holdout if holdout else self.directions) / self.spread)

    def scaled(self, gradients: np.ndarray) -> np.ndarray:
        """Raw-unit gradients (n, d) in spread units, ready to compare with ``directions``."""
        if self.scale is None:
            return gradients
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is a non-finite row: misaligned
            return gradients * self.spread

    def loss(self, expr: sp.Expr, *, holdout: bool = True) -> float:
        """Alignment loss of ``expr`` on the held-out (default) or the search points."""
        x, n = (self.x_holdout, self.directions_holdout) if holdout else (self.x, self.directions)
        grads = gradient_function(expr, self.feature_names)(x)
        return alignment_loss(self.scaled(grads), n, oriented=self.oriented)

    def subset(self, columns: Sequence[int]) -> "SearchProblem":
        """The same problem restricted to the input ``columns`` (directions renormalised)."""
        cols = list(columns)
        return dataclasses.replace(
            self, x=self.x[:, cols], directions=unit_rows(self.directions[:, cols]),
            x_holdout=self.x_holdout[:, cols], directions_holdout=unit_rows(self.directions_holdout[:, cols]),
            feature_names=tuple(self.feature_names[i] for i in cols),
            scale=None if self.scale is None else self.spread[cols],
            sides_x=None if self.sides_x is None else self.sides_x[:, cols])

    def band(self, max_margin: float) -> "SearchProblem":
        """The search points whose decision margin is below ``max_margin`` (held-out points kept)."""
        if self.margin is None:
            return self
        keep = self.margin < max_margin
        return dataclasses.replace(self, x=self.x[keep], directions=self.directions[keep], margin=self.margin[keep],
                                   values=None if self.values is None else self.values[keep])


@dataclass(frozen=True)
class Entry:
    """One formula of a front.

    Attributes:
        expression: sympy-parsable string over the feature names. Equivalent up to a monotone
            transform: any g with the same level sets is the same concept.
        complexity: node count of the expression tree (see ``symgrad.expressions.complexity``).
        loss: held-out alignment loss L = mean(1 - |cos|).
        train_loss: L on the search points, if known.
        source: the backend (and stage) that produced it.
        metrics: further fidelity figures keyed by name.
    """

    expression: str
    complexity: int
    loss: float
    train_loss: float | None = None
    source: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_expr(cls, expr: sp.Expr, problem: SearchProblem, *, source: str,
                  train_loss: float | None = None) -> "Entry":
        """Score ``expr`` on ``problem``'s held-out points and wrap it."""
        return cls(expression=str(expr), complexity=complexity(expr), loss=problem.loss(expr),
                   train_loss=train_loss, source=source)

    def sympy(self, feature_names: Sequence[str]) -> sp.Expr:
        return parse_formula(self.expression, feature_names)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Entry":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Front:
    """Candidate formulas, sorted by complexity then loss.

    ``pareto()`` keeps only entries that no simpler entry beats on held-out loss.
    """

    entries: tuple[Entry, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.entries, key=lambda e: (e.complexity, e.loss, e.expression)))
        object.__setattr__(self, "entries", ordered)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def merge(self, other: "Front") -> "Front":
        seen: dict[str, Entry] = {}
        for entry in (*self.entries, *other.entries):
            if entry.expression not in seen or entry.loss < seen[entry.expression].loss:
                seen[entry.expression] = entry
        return Front(tuple(seen.values()))

    def pareto(self) -> "Front":
        kept: list[Entry] = []
        best = np.inf
        for entry in self.entries:  # sorted by complexity
            if entry.loss < best - 1e-12:
                kept.append(entry)
                best = entry.loss
        return Front(tuple(kept))

    def to_list(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.entries]

    @classmethod
    def from_list(cls, items: Sequence[dict[str, Any]]) -> "Front":
        return cls(tuple(Entry.from_dict(i) for i in items))

    # -- display in notebooks

    _TABLE_METRICS = (("boundary_agreement", "agreement"), ("spearman_abs", "|Spearman|"))

    def __repr__(self) -> str:
        if not self.entries:
            return "Front(empty)"
        lowest = min(self.entries, key=lambda e: e.loss)
        return (f"Front({len(self.entries)} formulas, complexity {self.entries[0].complexity}-"
                f"{self.entries[-1].complexity}, lowest held-out L {lowest.loss:.3g}: {lowest.expression})")

    def _repr_html_(self, chosen: Entry | None = None) -> str:
        """An HTML table, simplest first; ``chosen`` is highlighted."""
        import html

        metric_keys = [(k, label) for k, label in self._TABLE_METRICS if any(k in e.metrics for e in self.entries)]
        header = ["#", "complexity", "held-out L"] + [label for _, label in metric_keys] + ["source", "expression"]
        rows = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead><tbody>"]
        for i, e in enumerate(self.entries):
            style = ' style="background:#fff4cc;font-weight:bold"' if e == chosen else ""
            cells = [str(i), str(e.complexity), f"{e.loss:.3g}"]
            cells += [_short(e.metrics.get(k)) for k, _ in metric_keys] + [html.escape(e.source)]
            cells.append(f"<code>{html.escape(e.expression)}</code>")
            rows.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return "\n".join(rows) + "</tbody></table>"

    def to_pandas(self):
        """A pandas DataFrame, one row per formula: expression, complexity, loss, train_loss,
        source and every scalar metric (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Front.to_pandas needs pandas; install it with pip install pandas") from None
        rows = []
        for e in self.entries:
            row = {"expression": e.expression, "complexity": e.complexity, "loss": e.loss,
                   "train_loss": e.train_loss, "source": e.source}
            row.update({k: v for k, v in e.metrics.items() if not isinstance(v, (list, tuple, dict))})
            rows.append(row)
        return pd.DataFrame(rows)


def _short(value: Any) -> str:
    return "-" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class SearchResult:
    """What one search returns: everything a caller needs, no state left on the backend.

    Attributes:
        front: the candidate formulas, scored on held-out points.
        info: JSON-ready facts about the run (backend specific: screening, symmetries,
            evaluations, stop reason, what a time limit cut, ...).
        interrupted: the search was stopped by KeyboardInterrupt; ``front`` holds what it had.
    """

    front: Front
    info: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


class SearchBackend(Protocol):
    """What a search engine provides. Constructed from its options (validated there, so a bad
    option fails before any work); ``search`` is repeatable for a given ``seed``. A backend that
    is interrupted (KeyboardInterrupt or a budget) returns the best front it has instead of
    raising. ``screens_inputs`` says whether it takes the ``screen`` and ``force_inputs``
    options."""

    name: str
    screens_inputs: bool

    def search(self, problem: SearchProblem, *, seed: int, progress: Progress | None = None) -> SearchResult:
        ...
