"""Known-answer concepts of the symbolic-gradients paper, with its labelling rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SymgradError
from ..expressions import parse_formula, value_function
from .tables import Dataset


@dataclass(frozen=True)
class Concept:
    """A classifier's ground truth: class 1 where g(x)·(1 + 0.01·ε) > threshold.

    For the two-concept cases (F, G) ``formula`` is None and ``parts`` holds both concepts; a
    point is kept only where both concepts give the same label.
    """

    id: str
    formula: str | None
    n_features: int
    low: tuple[float, ...]
    high: tuple[float, ...]
    threshold: float
    parts: tuple[str, ...] = ()

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"x{i}" for i in range(self.n_features))


def _box(d: int, low: float, high: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return (low,) * d, (high,) * d


CONCEPTS: dict[str, Concept] = {
    "A": Concept("A", "x0**2 + 3*x0*x1 + 2*x1**2", 2, *_box(2, -2, 0), 5.0),
    "A1": Concept("A1", "x0**2 + 2*x1**2", 2, *_box(2, -1, 1), 1.0),
    "B": Concept("B", "x0**2 + sin(x1 + x2)", 3, *_box(3, -2, 0), 1.0),
    "C": Concept("C", "exp(x0 - x1) - pi*x2", 3, *_box(3, -1, 1), 1.0),
    "D": Concept("D", "x0*exp(-(x1**2 + x2**2)/2)", 3, (0.0, -2.0, -2.0), (2.0, 2.0, 2.0), 0.2),
    "E": Concept("E", "x0*x1/((x2 - x3)**2 + (x4 - x5)**2)", 6, *_box(6, 0, 2), 1.0),
    "F": Concept("F", None, 4, *_box(4, 0, 2), 0.0, parts=("x0*x1 - 1", "x2*x3 - 1")),
    "G": Concept("G", None, 3, *_box(3, 0, 2), 0.0, parts=("x0*x1 + x2 - 2", "sin(x1*x2) - 0.5")),
}


def custom_concept(formula: str, n_features: int, low: float, high: float, threshold: float,
                   concept_id: str = "custom") -> Concept:
    """A concept from a formula over x0..x{n-1} on the box [low, high)^n (validated)."""
    names = tuple(f"x{i}" for i in range(n_features))
    parse_formula(formula, names)
    if not high > low:
        raise SymgradError(f"concept domain [{low}, {high}) is empty; high must exceed low")
    return Concept(concept_id, formula, n_features, *_box(n_features, low, high), float(threshold))


def make_concept_dataset(concept: str | Concept, n_samples: int = 10_000, *, seed: int,
                         noise: float = 0.01, flip: float = 0.0) -> Dataset:
    """Sample ``n_samples`` uniform points of a concept's box and label them.

    Labels follow the paper: y = 1[g(x)·(1 + noise·ε) > t], ε ~ N(0, 1). For two-concept cases
    both labels are computed and only agreeing points are kept (so fewer rows may return).

    Args:
        concept: an id of ``CONCEPTS`` or a Concept.
        n_samples: points drawn.
        seed: seeds the numpy Generator; same seed, same data.
        noise: relative size of the multiplicative noise ε on g.
        flip: fraction of labels flipped at random afterwards (label noise), in [0, 0.5].
    """
    if isinstance(flip, bool) or not isinstance(flip, (int, float)) or not 0.0 <= flip <= 0.5:
        raise SymgradError(f"flip={flip!r} is not allowed; use a fraction of labels in [0, 0.5]")
    if isinstance(concept, str):
        if concept not in CONCEPTS:
            raise SymgradError(f"concept {concept!r} is unknown; built-in concepts are {sorted(CONCEPTS)}")
        concept = CONCEPTS[concept]
    if n_samples < 10:
        raise SymgradError(f"n_samples={n_samples} is too small; draw at least 10 points")
    rng = np.random.default_rng(seed)
    low, high = np.asarray(concept.low, float), np.asarray(concept.high, float)
    x = rng.uniform(low, high, size=(n_samples, concept.n_features))
    names = concept.feature_names
    formulas = (concept.formula,) if concept.formula else concept.parts
    labels = []
    for formula in formulas:
        g = value_function(parse_formula(formula, names), names)(x)
        eps = rng.standard_normal(n_samples)
        labels.append((g * (1.0 + noise * eps) > concept.threshold).astype(np.int32))
    keep = np.all([lab == labels[0] for lab in labels], axis=0)
    if flip > 0:
        flipped = rng.random(n_samples) < flip
        labels[0] = np.where(flipped, 1 - labels[0], labels[0]).astype(np.int32)
    return Dataset(x=x[keep], y=labels[0][keep], feature_names=names, n_classes=2, class_names=("0", "1"),
                   truth=concept.formula, threshold=concept.threshold, low=low, high=high)
