"""Band points of a flat (noisy-label) network are narrowed to those nearest the boundary."""

import numpy as np

from symgrad.neurons import GradientSample
from symgrad.search.focus import focus_on_boundary


def _sample(offered: int, outside: int, n: int = 400) -> GradientSample:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (n, 2))
    return GradientSample(x, np.tile([1.0, 0.0], (n, 1)), x[:, 0], np.abs(x[:, 0]) * 3,
                          {"offered": offered, "outside_band": outside, "kept": n})


def test_a_confident_network_keeps_its_band():
    sample = _sample(7000, 6000)  # the band holds 14 %: a clean network
    assert focus_on_boundary(sample) is sample


def test_a_flat_network_is_searched_nearest_its_boundary():
    sample = _sample(7000, 100)  # the band holds 99 %: no confident region
    focused = focus_on_boundary(sample)
    assert len(focused.x) == 100 and focused.margin.max() <= np.quantile(sample.margin, 0.25)
    assert np.all(focused.margin <= sample.margin.max()) and "nearest the boundary" in focused.counts["focused"]
    assert focused.x.shape == focused.directions.shape and len(focused.values) == len(focused.x)
