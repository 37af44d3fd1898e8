"""Where a neuron's gradients are sampled: the band of points near its decision, the points
nearest the boundary of a flat network, seeded subsamples, and the arrays a run keeps of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from .data.tables import Split
from .errors import SymgradError
from .network.model import Classifier
from .neurons import GradientSample, NeuronSpec, normalized_gradients
from .search.focus import focus_on_boundary


def band_sample(classifier: Classifier, spec: NeuronSpec, x: np.ndarray, *, band: float | None,
                what: str) -> GradientSample:
    """Normalised gradients of ``spec`` on the band points of ``x`` (n, d); a decision neuron of a
    flat (noisy-label) network keeps only the points nearest its boundary (``focus_on_boundary``)."""
    sample = normalized_gradients(classifier, spec, x, band=band, what=what)
    return sample if spec.kind == "hidden" else focus_on_boundary(sample)


def gradient_samples(classifier: Classifier, spec: NeuronSpec, split: Split, config: dict[str, Any],
                     ) -> tuple[GradientSample, GradientSample]:
    """Normalised gradients on training points (search) and on validation + test points (held-out),
    each subsampled to ``gradients.n_points`` / ``gradients.n_holdout`` with the run's seed."""
    rng = np.random.default_rng(config["seed"])
    band = config["gradients"]["band"]
    search = subsample(band_sample(classifier, spec, split.train.x, band=band, what="training points"),
                       config["gradients"]["n_points"], rng)
    holdout = subsample(band_sample(classifier, spec, np.concatenate([split.validation.x, split.test.x]), band=band,
                                    what="held-out points"),
                        config["gradients"]["n_holdout"], rng)
    if len(search.x) < 20:
        raise SymgradError(f"only {len(search.x)} training points remain in the band {band}; widen gradients.band "
                           "or give more data")
    return search, holdout


def subsample(sample: GradientSample, n: int, rng: np.random.Generator) -> GradientSample:
    """At most ``n`` rows of ``sample``, drawn without replacement (order kept)."""
    if len(sample.x) <= n:
        return sample
    idx = np.sort(rng.choice(len(sample.x), size=n, replace=False))
    return GradientSample(sample.x[idx], sample.directions[idx], sample.values[idx], sample.margin[idx],
                          {**sample.counts, "subsampled_to": n})


def gradient_arrays(search: GradientSample, holdout: GradientSample, reference: np.ndarray,
                    scale: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of gradients.npz; ``reference`` (test points) sets the ranges of boundary
    slices, ``scale`` (d,) is the spread in whose units gradients are compared."""
    return {"x": search.x, "directions": search.directions, "values": search.values, "x_holdout": holdout.x,
            "directions_holdout": holdout.directions, "values_holdout": holdout.values,
            "margin_holdout": holdout.margin, "x_reference": reference,
            "scale": np.asarray(scale, dtype=np.float64)}
