"""Input screening: which inputs the neuron's gradient directions actually use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import SymgradError

SCREENING_RULES = ("relative", "gap")


@dataclass(frozen=True)
class Screening:
    """The outcome of ``screen_inputs``.

    Attributes:
        kept: indices of the kept inputs, in input order.
        scores: (d,) relevance of every input (mean |normalised gradient component|).
        ranking: all input indices, most relevant first.
        rule: the rule that decided ("relative" or "gap").
        feature_names: the d input names.
    """

    kept: tuple[int, ...]
    scores: tuple[float, ...]
    ranking: tuple[int, ...]
    rule: str
    feature_names: tuple[str, ...]

    @property
    def kept_names(self) -> tuple[str, ...]:
        return tuple(self.feature_names[i] for i in self.kept)

    @property
    def dropped(self) -> tuple[int, ...]:
        return tuple(i for i in range(len(self.feature_names)) if i not in self.kept)


def relevance(directions: np.ndarray) -> np.ndarray:
    """Mean absolute normalised gradient component per input.

    Rows are renormalised to unit length (rows of zero norm are ignored), so the score does
    not depend on the neuron's scale. Relevant inputs of a trained network score ~0.3-0.5,
    irrelevant ones ~0.03 or less (docs/method.md, "Screening").

    Args:
        directions: (n, d) gradient directions.

    Returns:
        (d,) scores in [0, 1].
    """
    directions = np.asarray(directions, dtype=np.float64)
    if directions.ndim != 2 or directions.shape[0] == 0 or directions.shape[1] == 0:
        raise SymgradError(f"directions of shape {directions.shape} cannot be screened; give a non-empty (n, d) array")
    norms = np.linalg.norm(directions, axis=1)
    good = np.isfinite(norms) & (norms > 0)
    if not np.any(good):
        raise SymgradError("every direction row is zero or not finite, so no input can be scored")
    unit = directions[good] / norms[good, None]
    return np.mean(np.abs(unit), axis=0)


def screen_inputs(directions: np.ndarray, feature_names: Sequence[str], *, rule: str = "relative",
                  threshold: float = 0.1, min_gap: float = 3.0,
                  force: Sequence[str] | None = None) -> Screening:
    """Keep the inputs whose relevance stands out.

    Rules:
        "relative" (default): keep input i when score_i >= ``threshold`` * max score.
        "gap": sort the scores in decreasing order and cut at the largest ratio between
            neighbours, score_(r) / score_(r+1); if that ratio is below ``min_gap`` there is no
            clear cut and every input is kept.
    The most relevant input is always kept; inputs named in ``force`` are added.

    Args:
        directions: (n, d) gradient directions.
        feature_names: the d input names.
        rule: "relative" or "gap".
        threshold: fraction of the top score an input needs under "relative", in (0, 1].
        min_gap: smallest ratio that counts as a cut under "gap" (> 1).
        force: names of inputs to keep whatever their score.

    Returns:
        The ``Screening``.
    """
    names = tuple(str(n) for n in feature_names)
    scores = relevance(directions)
    if len(names) != scores.shape[0]:
        raise SymgradError(f"{len(names)} feature names were given for directions with {scores.shape[0]} columns")
    if rule not in SCREENING_RULES:
        raise SymgradError(f"screening rule {rule!r} is unknown; allowed rules are {list(SCREENING_RULES)}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise SymgradError(f"screening threshold {threshold!r} is not allowed; use a number in (0, 1]")
    if isinstance(min_gap, bool) or not isinstance(min_gap, (int, float)) or not min_gap > 1:
        raise SymgradError(f"screening min_gap {min_gap!r} is not allowed; use a number > 1")
    forced: set[int] = set()
    for name in force or ():
        if name not in names:
            raise SymgradError(f"cannot force input {name!r}: it is not a feature; allowed names are {list(names)}")
        forced.add(names.index(name))
    ranking = tuple(int(i) for i in np.argsort(-scores, kind="stable"))
    if rule == "relative":
        selected = {i for i in range(len(names)) if scores[i] >= threshold * scores[ranking[0]]}
    else:
        selected = set(ranking[:_gap_cut(scores[list(ranking)], min_gap)])
    selected |= {ranking[0]} | forced
    return Screening(kept=tuple(sorted(selected)), scores=tuple(float(s) for s in scores), ranking=ranking,
                     rule=rule, feature_names=names)


def _gap_cut(sorted_scores: np.ndarray, min_gap: float) -> int:
    """How many of the decreasingly sorted scores lie above the largest ratio gap."""
    if sorted_scores.shape[0] < 2:
        return sorted_scores.shape[0]
    # Exact zeros (inputs never used) would make the ratio infinite; a tiny floor keeps it finite.
    floored = np.maximum(sorted_scores, 1e-12 * max(sorted_scores[0], 1e-300))
    ratios = floored[:-1] / floored[1:]
    cut = int(np.argmax(ratios))
    return cut + 1 if ratios[cut] >= min_gap else sorted_scores.shape[0]
