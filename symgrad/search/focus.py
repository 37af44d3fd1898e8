"""Which band points to search when the network has no confident region (noisy labels)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

# A clean network is confident (|logit| >= 9.2) on most of its domain: the band kept 3-25 % of
# the training points on the paper concepts. With 10 % flipped labels its probabilities flatten
# and the band keeps nearly every point, plateaus included.
FLAT_SHARE = 0.5
# The share of band points nearest the boundary kept for a flat network. Measured with 10 %
# flipped labels (scripts/probe_noisy_labels.py): the truth's L on the directions fell from
# 0.24 to 0.057 (x0 + x1**2 + x2), 0.12 to 0.021 (x0**2 + 2 x1**2) and 0.20 to 0.071 (x0 x1);
# averaging gradients over a neighbourhood (0.21-0.17) or weight decay did far less.
NEAREST_SHARE = 0.25


def focus_on_boundary(sample: Any, *, flat_share: float = FLAT_SHARE, keep: float = NEAREST_SHARE) -> Any:
    """The points of a band sample nearest the decision boundary, if the network is flat.

    A network whose band (|logit| below the band limit) holds more than ``flat_share`` of the
    offered points has no confident region, which is what label noise does; far from its
    boundary its gradient directions are mostly noise. Then only the ``keep`` share of the band
    points with the smallest decision margin is returned; otherwise ``sample`` unchanged.

    Args:
        sample: a ``symgrad.neurons.GradientSample`` of a decision neuron (output, class or
            log-odds), with ``counts["offered"]`` and ``counts["outside_band"]``.
        flat_share: share of offered points in the band above which the network counts as flat.
        keep: share of the band points kept, nearest the boundary first.

    Returns:
        The sample, possibly restricted; ``counts["focused"]`` then says how.
    """
    counts = sample.counts
    offered = int(counts.get("offered", 0))
    if offered == 0 or len(sample.x) < 80:
        return sample
    in_band = 1.0 - int(counts.get("outside_band", 0)) / offered
    if in_band <= flat_share:
        return sample
    limit = float(np.quantile(sample.margin, keep))
    near = sample.margin <= limit
    return dataclasses.replace(
        sample, x=sample.x[near], directions=sample.directions[near], values=sample.values[near],
        margin=sample.margin[near],
        counts={**counts, "focused": f"the band held {100 * in_band:.0f}% of the points (no confident region, as "
                                    f"with noisy labels): the {int(near.sum())} nearest the boundary "
                                    f"(margin <= {limit:.3g}) were used"})
