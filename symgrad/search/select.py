"""Choosing one formula from a front by relative rules on held-out loss."""

from __future__ import annotations

import math

from ..errors import SymgradError
from .base import Entry, Front

RULES = ("knee", "elbow", "within", "best")
DEFAULT_FACTORS = {"knee": 1.2, "elbow": 5.0, "within": 2.0, "best": 1.0}
# Held-out losses below this are round-off: 1e-14 is not "100x better" than 1e-12.
LOSS_FLOOR = 1e-10
# The knee and elbow rules choose only among entries within this factor of the front's lowest
# held-out L (or at most NOISE_LEVEL): formulas fitting network noise reached 1.1-2.1x below
# the truth on the paper concepts, while the per-node price of the knee rule can prefer a
# formula 10-60x worse than a faithful many-term sum on the same front.
FIDELITY_FACTOR = 4.0
# L this low is within the noise floor of trained networks (1e-4 to 5e-3): not worth a trade.
NOISE_LEVEL = 0.002


def select(front: Front, rule: str = "knee", factor: float | None = None, *,
           floor: float = LOSS_FLOOR, fidelity_factor: float | None = FIDELITY_FACTOR) -> Entry:
    """Pick one entry of ``front`` by its held-out loss and complexity.

    Only the Pareto entries are considered (sorted by complexity, each strictly better than
    every simpler one); entries with a non-finite loss are ignored. Losses are compared after
    raising them to ``floor``, so entries that are all exact up to round-off count as ties.
    Relative rules are used because no cheap absolute noise floor exists for network
    gradients (docs/method.md, "Choosing the formula").

    Fidelity guard: "knee" and "elbow" choose only among the entries whose loss is at most
    ``fidelity_factor`` times the front's lowest loss, or at most ``NOISE_LEVEL``. A per-node
    price makes every extra term of a sum of many similar terms pay for itself, which a
    10-term additive concept cannot (each 4-node term must halve L): without the guard the
    knee chose a single input (L 0.73) over the faithful 10-term sum (L 0.011) on the same
    front. Noise-fitting formulas sit 1.1-2.1x below the truth, inside the guard, so the
    per-node price still rejects them.

    Rules:
        "knee" (default, ``factor`` 1.2): the entry minimising ``loss * factor**complexity``,
            i.e. every extra node of the expression tree must buy a ``factor``-fold lower
            held-out loss (20 % by default; chosen on the 45 benchmark runs of paper concepts
            A-E and seed15, where 1.1 to 1.3 recovered the same concepts and 1.2 gave the
            simpler formulas). Scale-free in L, so no absolute noise floor is
            assumed; it looks at the whole front at once, so a look-alike one node simpler than
            the truth (cos(x0) for x0**2, 3x worse) cannot trap it the way a walk from the
            simplest entry can, while formulas that fit network noise with many more nodes
            (30 extra nodes for a 2x lower loss) are not chosen.
        "elbow" (``factor`` 5): start at the simplest entry; walk to more complex
            entries in order of complexity and move to an entry only if its loss is at least
            ``factor`` times lower than the loss of the entry currently chosen. The chosen
            entry at the end is returned, so every step up in complexity bought a ``factor``-fold
            improvement over the previous choice.
        "within" (``factor`` 2): the simplest entry whose loss is at most ``factor`` times the
            lowest loss of the front.
        "best": the lowest loss (the simplest one on ties); ``factor`` is ignored.

    Args:
        front: candidate formulas with held-out losses.
        rule: one of ``RULES``.
        factor: the rule's factor (> 1 for "elbow", >= 1 for "within"); None for its default.
        floor: losses below this count as equal to it.
        fidelity_factor: the guard's factor (>= 1); None switches the guard off.

    Returns:
        The chosen entry.

    Raises:
        SymgradError: unknown rule, bad factor, or a front without a finite loss.
    """
    if rule not in RULES:
        raise SymgradError(f"selection rule {rule!r} is unknown; allowed rules are {list(RULES)}")
    if factor is None:
        factor = DEFAULT_FACTORS[rule]
    minimum = 1.0 if rule not in ("elbow", "knee") else 1.0 + 1e-12
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) \
            or factor < minimum:
        allowed = "a number > 1" if rule in ("elbow", "knee") else "a number >= 1"
        raise SymgradError(f"selection factor {factor!r} is not allowed for rule {rule!r}; use {allowed}")
    if not isinstance(floor, (int, float)) or not math.isfinite(floor) or floor < 0:
        raise SymgradError(f"loss floor {floor!r} is not allowed; use a finite number >= 0")
    if fidelity_factor is not None and (isinstance(fidelity_factor, bool) or not isinstance(fidelity_factor, (int, float))
                                        or not math.isfinite(fidelity_factor) or fidelity_factor < 1):
        raise SymgradError(f"fidelity factor {fidelity_factor!r} is not allowed; use a number >= 1 or None")
    finite = Front(tuple(e for e in front.entries if math.isfinite(e.loss)))
    candidates = finite.pareto().entries
    if not candidates:
        raise SymgradError("the front has no entry with a finite loss to select from")
    if fidelity_factor is not None and rule in ("knee", "elbow"):
        limit = max(fidelity_factor * max(min(e.loss for e in candidates), floor), NOISE_LEVEL)
        candidates = tuple(e for e in candidates if e.loss <= limit)

    def floored(entry: Entry) -> float:
        return max(entry.loss, floor)

    if rule == "best":
        return min(candidates, key=lambda e: (floored(e), e.complexity))
    if rule == "knee":
        return min(candidates, key=lambda e: (math.log(floored(e)) + e.complexity * math.log(factor), e.complexity))
    if rule == "within":
        limit = factor * min(floored(e) for e in candidates)
        return next(e for e in candidates if floored(e) <= limit)
    chosen = candidates[0]
    for entry in candidates[1:]:
        if floored(entry) * factor <= floored(chosen):
            chosen = entry
    return chosen
