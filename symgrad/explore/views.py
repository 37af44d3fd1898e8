"""What the explorer computes: ``FrontRow`` (one front entry as listed) and ``SliceView`` (a 2-D slice
of the network's decision with one entry's boundary over it); plain records, no computation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrontRow:
    """One front entry as the explorer lists it; ``verdict`` is what the verdict would say of it if chosen."""

    index: int
    expression: str
    complexity: int
    loss: float
    loss_near: float | None
    agreement: float | None
    verdict: str
    sentence: str
    chosen: bool


@dataclass(frozen=True, eq=False)
class SliceView:
    """A 2-D slice of the network's decision with one entry's boundary over it.

    The slice varies inputs ``pair`` = (i, j) over the range of the held-out reference points and
    holds every other input at ``point``. Arrays on the grid are (r, r), rows along input j.

    Attributes:
        index, expression: the entry (an index into the front).
        pair, names: the inputs on the horizontal and vertical axis (indices; the user's column names).
        point: (d,) raw input values the slice passes through (those of ``pair`` are unused).
        a, b: (r,) grid values of inputs i and j, raw units.
        probability: network probability of the target class; margin: that minus the largest other
            class's probability (the network predicts the target class where it is > 0, as
            ``Classifier.predict``); network_side: margin > 0.
        formula: values of the formula g (NaN where undefined).
        threshold, orientation: the rule "target class iff orientation*g > orientation*threshold";
            None for an entry without a fitted threshold (a hidden unit decides nothing).
        boundary: bool, grid cells where the rule changes side (the formula's boundary {g = threshold}).
        disagreements: (k, 2) values of inputs (i, j) of the held-out points where the rule and the
            network decide differently (projected onto the slice: their other inputs vary);
            disagreement_index: (k,) their rows in the reference points.
        agreement: fraction of the ``n_points`` held-out points where rule and network agree (the
            run's ``boundary_agreement`` when they are its test points).
        verdict, sentence, statement, latex: how to read the entry.
    """

    index: int
    expression: str
    pair: tuple[int, int]
    names: tuple[str, str]
    point: np.ndarray
    a: np.ndarray
    b: np.ndarray
    probability: np.ndarray
    margin: np.ndarray
    network_side: np.ndarray
    formula: np.ndarray
    threshold: float | None
    orientation: int | None
    boundary: np.ndarray
    disagreements: np.ndarray
    disagreement_index: np.ndarray
    agreement: float | None
    n_points: int
    verdict: str
    sentence: str
    statement: str
    latex: str
