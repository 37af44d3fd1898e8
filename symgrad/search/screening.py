"""Input screening: which inputs the neuron's gradient directions actually use, without
splitting inputs whose relevance cannot be told apart or that a symmetry pairs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import SymgradError
from .base import SearchProblem
from .symmetry import KINDS, pair_symmetries

SCREENING_RULES = ("relative", "gap")
# Standard errors by which an input's relevance may fall short of a kept input's and still count
# as equal. Two inputs with one role differ by their sampling noise only: 3 standard errors of
# the paired difference lets such a pair through all but 0.3 % of the time.
NOISE_Z = 3.0


@dataclass(frozen=True)
class Screening:
    """The outcome of ``screen_inputs``.

    Attributes:
        kept: indices of the kept inputs, in input order.
        scores: (d,) relevance of every input (mean |normalised gradient component|).
        ranking: all input indices, most relevant first.
        rule: the rule that decided ("relative" or "gap").
        feature_names: the d input names.
        tied: inputs kept only because their relevance is within the noise of a kept input's
            (``screen_inputs``) or a symmetry pairs them with a kept input (``keep_partners``).
        noise: (d,) standard error of each input's relevance over the points.
    """

    kept: tuple[int, ...]
    scores: tuple[float, ...]
    ranking: tuple[int, ...]
    rule: str
    feature_names: tuple[str, ...]
    tied: tuple[int, ...] = ()
    noise: tuple[float, ...] = ()

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
    return np.mean(_absolute_components(directions), axis=0)


def _absolute_components(directions: np.ndarray) -> np.ndarray:
    """|components| of the unit rows (n', d); rows of zero or non-finite norm are left out."""
    directions = np.asarray(directions, dtype=np.float64)
    if directions.ndim != 2 or directions.shape[0] == 0 or directions.shape[1] == 0:
        raise SymgradError(f"directions of shape {directions.shape} cannot be screened; give a non-empty (n, d) array")
    norms = np.linalg.norm(directions, axis=1)
    good = np.isfinite(norms) & (norms > 0)
    if not np.any(good):
        raise SymgradError("every direction row is zero or not finite, so no input can be scored")
    return np.abs(directions[good] / norms[good, None])


def within_noise(components: np.ndarray, anchors: Sequence[int], candidates: Sequence[int],
                 z: float = NOISE_Z) -> list[int]:
    """The candidates whose relevance cannot be told apart from some anchor's.

    Candidate j ties with anchor i when mean_k(a_ki - a_kj) <= z * standard error of that mean,
    with a the |normalised components| (n, d): a paired comparison on the same points, so
    inputs whose magnitudes trade off against each other (|n_i| large where |n_j| is small, as
    in a law symmetric in x_i and x_j) get the wider margin they need.
    """
    n = components.shape[0]
    columns = np.asarray(list(candidates), dtype=np.int64)
    tied = np.zeros(len(columns), dtype=bool)
    for i in anchors:
        difference = components[:, [i]] - components[:, columns]  # (n, candidates)
        error = np.std(difference, axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(columns))
        tied |= np.mean(difference, axis=0) <= z * error
    return [int(j) for j in columns[tied]]


def screen_inputs(directions: np.ndarray, feature_names: Sequence[str], *, rule: str = "relative",
                  threshold: float = 0.1, min_gap: float = 3.0,
                  force: Sequence[str] | None = None, noise_z: float = NOISE_Z) -> Screening:
    """Keep the inputs whose relevance stands out, and every input tied with a kept one.

    Rules:
        "relative" (default): keep input i when score_i >= ``threshold`` * max score.
        "gap": sort the scores in decreasing order and cut at the largest ratio between
            neighbours, score_(r) / score_(r+1); if that ratio is below ``min_gap`` there is no
            clear cut and every input is kept.
    The most relevant input is always kept. A cut never splits equals: an input below the cut
    whose relevance falls short of a kept input's by at most ``noise_z`` standard errors of
    the paired difference (estimated from the points themselves, ``within_noise``) is kept too
    (one step: inputs tied only with such an input are not). Inputs named in ``force`` are
    added (they tie nothing to themselves: a user's choice says nothing about relevance).

    Args:
        directions: (n, d) gradient directions.
        feature_names: the d input names.
        rule: "relative" or "gap".
        threshold: fraction of the top score an input needs under "relative", in (0, 1].
        min_gap: smallest ratio that counts as a cut under "gap" (> 1).
        force: names of inputs to keep whatever their score.
        noise_z: standard errors that still count as a tie (0: no ties, the bare cut).

    Returns:
        The ``Screening``.
    """
    names = tuple(str(n) for n in feature_names)
    components = _absolute_components(directions)
    scores = np.mean(components, axis=0)
    if len(names) != scores.shape[0]:
        raise SymgradError(f"{len(names)} feature names were given for directions with {scores.shape[0]} columns")
    if rule not in SCREENING_RULES:
        raise SymgradError(f"screening rule {rule!r} is unknown; allowed rules are {list(SCREENING_RULES)}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise SymgradError(f"screening threshold {threshold!r} is not allowed; use a number in (0, 1]")
    if isinstance(min_gap, bool) or not isinstance(min_gap, (int, float)) or not min_gap > 1:
        raise SymgradError(f"screening min_gap {min_gap!r} is not allowed; use a number > 1")
    if isinstance(noise_z, bool) or not isinstance(noise_z, (int, float)) or not 0 <= noise_z < np.inf:
        raise SymgradError(f"screening noise_z {noise_z!r} is not allowed; use a number >= 0")
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
    selected.add(ranking[0])
    tied: list[int] = []
    if noise_z > 0:
        tied = within_noise(components, sorted(selected), [i for i in ranking if i not in selected], noise_z)
    noise = np.std(components, axis=0, ddof=1) / np.sqrt(components.shape[0]) if components.shape[0] > 1 \
        else np.zeros_like(scores)
    return Screening(kept=tuple(sorted(selected | set(tied) | forced)), scores=tuple(float(s) for s in scores),
                     ranking=ranking, rule=rule, feature_names=names,
                     tied=tuple(sorted(set(tied) - selected - forced)), noise=tuple(float(v) for v in noise))


def keep_partners(screening: Screening, x: np.ndarray, raw_directions: np.ndarray, *, threshold: float = 0.12,
                  kinds: Sequence[str] = KINDS) -> Screening:
    """``screening`` with every dropped input that a pair symmetry ties to a kept input added.

    A law in x_i + x_j (or x_i - x_j, x_i x_j, x_i / x_j, x_i^2 +- x_j^2) uses both inputs, but
    their relevances in spread units differ by their spreads' ratio (x_i + x_j with x_j five
    times narrower: one fifth of the relevance), so one may fall below the cut. Each (kept,
    dropped) pair is tested with ``symmetry.pair_symmetries`` on raw-unit directions, as the
    symmetry reduction does; a passing pair keeps the dropped input (listed in ``tied``). An
    input the neuron ignores never passes: its direction components are noise, so every
    statistic is near 1.

    Args:
        screening: the outcome of ``screen_inputs``.
        x: (n, d) points; raw_directions: (n, d) unit directions in raw units.
        threshold, kinds: as for ``symmetry.detect_symmetries``.

    Returns:
        The widened ``Screening`` (``screening`` itself when nothing is added).
    """
    x = np.asarray(x, dtype=np.float64)
    raw_directions = np.asarray(raw_directions, dtype=np.float64)
    d = len(screening.feature_names)
    if x.shape != raw_directions.shape or x.ndim != 2 or x.shape[1] != d:
        raise SymgradError(f"points {x.shape} and directions {raw_directions.shape} must be (n, {d}) arrays")
    kept = set(screening.kept)
    partners = [j for j in screening.ranking if j not in kept
                and any(pair_symmetries(x, raw_directions, min(i, j), max(i, j), threshold=threshold, kinds=kinds)
                        for i in screening.kept)]
    if not partners:
        return screening
    return dataclasses.replace(screening, kept=tuple(sorted(kept | set(partners))),
                               tied=tuple(sorted(set(screening.tied) | set(partners))))


def screen_problem(problem: SearchProblem, *, rule: str = "relative", threshold: float = 0.1,
                   min_gap: float = 3.0, force: Sequence[str] | None = None, noise_z: float = NOISE_Z,
                   symmetry_threshold: float | None = 0.12, kinds: Sequence[str] = KINDS) -> Screening:
    """``screen_inputs`` on the problem's (spread-unit) directions, then ``keep_partners`` on its
    points and raw-unit directions (skipped when ``symmetry_threshold`` is None).

    Returns:
        The ``Screening`` of ``problem``'s inputs.
    """
    screening = screen_inputs(problem.directions, problem.feature_names, rule=rule, threshold=threshold,
                              min_gap=min_gap, force=force, noise_z=noise_z)
    if symmetry_threshold is None or len(screening.kept) == problem.n_features:
        return screening
    return keep_partners(screening, problem.x, problem.raw_directions(), threshold=symmetry_threshold, kinds=kinds)


def _gap_cut(sorted_scores: np.ndarray, min_gap: float) -> int:
    """How many of the decreasingly sorted scores lie above the largest ratio gap."""
    if sorted_scores.shape[0] < 2:
        return sorted_scores.shape[0]
    # Exact zeros (inputs never used) would make the ratio infinite; a tiny floor keeps it finite.
    floored = np.maximum(sorted_scores, 1e-12 * max(sorted_scores[0], 1e-300))
    ratios = floored[:-1] / floored[1:]
    cut = int(np.argmax(ratios))
    return cut + 1 if ratios[cut] >= min_gap else sorted_scores.shape[0]
