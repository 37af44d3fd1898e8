"""Neuron specifications and their normalised input gradients in the user's raw units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from .errors import SymgradError
from .model import Classifier, forward

NeuronKind = Literal["output", "class", "log_odds", "hidden"]
NEURON_KINDS = ("output", "class", "log_odds", "hidden")


@dataclass(frozen=True)
class NeuronSpec:
    """Which scalar function of the inputs to interpret.

    kinds:
        output: the single logit of a binary classifier (pre-sigmoid).
        class: the logit of class ``unit``.
        log_odds: logit of class ``unit`` minus logit of class ``other``.
        hidden: unit ``unit`` of hidden layer ``layer`` (0-based), before its activation if
            ``preactivation`` else after it.
    """

    kind: NeuronKind = "output"
    layer: int = 0
    unit: int = 0
    other: int = 1
    preactivation: bool = False

    @classmethod
    def output(cls) -> "NeuronSpec":
        return cls("output")

    def describe(self) -> str:
        if self.kind == "output":
            return "output logit"
        if self.kind == "class":
            return f"logit of class {self.unit}"
        if self.kind == "log_odds":
            return f"log-odds of class {self.unit} vs class {self.other}"
        stage = "pre-activation" if self.preactivation else "activation"
        return f"hidden layer {self.layer} unit {self.unit} ({stage})"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "layer": self.layer, "unit": self.unit, "other": self.other,
                "preactivation": self.preactivation, "description": self.describe()}

    def validate(self, classifier: Classifier) -> "NeuronSpec":
        """Raise SymgradError if this neuron does not exist in ``classifier``."""
        if self.kind not in NEURON_KINDS:
            raise SymgradError(f"neuron.kind {self.kind!r} is not known; choose one of {list(NEURON_KINDS)}")
        k = classifier.n_classes
        if self.kind == "output" and k != 2:
            raise SymgradError(f"neuron.kind 'output' needs a binary classifier but this one has {k} classes; use 'class' or 'log_odds'")
        if self.kind in ("class", "log_odds"):
            if k == 2:
                raise SymgradError(f"neuron.kind {self.kind!r} needs a multi-class classifier; a binary one has the single 'output' logit")
            for name, value in (("neuron.unit", self.unit), ("neuron.other", self.other)):
                if (name == "neuron.unit" or self.kind == "log_odds") and not 0 <= value < k:
                    raise SymgradError(f"{name}={value} is out of range; classes are 0..{k - 1}")
            if self.kind == "log_odds" and self.unit == self.other:
                raise SymgradError(f"neuron.unit and neuron.other are both {self.unit}; log-odds need two different classes")
        if self.kind == "hidden":
            sizes = classifier.hidden_sizes
            if not 0 <= self.layer < len(sizes):
                raise SymgradError(f"neuron.layer={self.layer} is out of range; the network has hidden layers 0..{len(sizes) - 1}")
            if not 0 <= self.unit < sizes[self.layer]:
                raise SymgradError(f"neuron.unit={self.unit} is out of range; hidden layer {self.layer} has units 0..{sizes[self.layer] - 1}")
        return self


def target_class(n_classes: int, spec: NeuronSpec) -> int:
    """The class whose decision a neuron is compared with: class 1 for binary networks, the
    neuron's class for class and log_odds neurons, class 0 (vs the rest) for hidden units of
    multi-class networks."""
    if n_classes == 2:
        return 1
    return spec.unit if spec.kind in ("class", "log_odds") else 0


def neuron_function(classifier: Classifier, spec: NeuronSpec, *, standardized: bool = False):
    """Pure scalar function ``f(x (d,)) -> ()`` of one raw (or standardised) input point."""
    spec.validate(classifier)
    layers = classifier.jax_layers()
    mean = jnp.asarray(classifier.mean, jnp.float32)
    scale = jnp.asarray(classifier.scale, jnp.float32)
    activation = classifier.activation

    def f(x: jax.Array) -> jax.Array:
        z = x if standardized else (x - mean) / scale
        logits, pre, post = forward(layers, activation, z)
        if spec.kind == "output":
            return logits[0]
        if spec.kind == "class":
            return logits[spec.unit]
        if spec.kind == "log_odds":
            return logits[spec.unit] - logits[spec.other]
        return (pre if spec.preactivation else post)[spec.layer][spec.unit]

    return f


def neuron_values(classifier: Classifier, spec: NeuronSpec, x: np.ndarray) -> np.ndarray:
    """(n,) values of the neuron at raw inputs x (n, d)."""
    f = jax.jit(jax.vmap(neuron_function(classifier, spec)))
    return np.asarray(f(jnp.asarray(x, jnp.float32)), dtype=np.float64)


def neuron_gradients(classifier: Classifier, spec: NeuronSpec, x: np.ndarray, *,
                     standardized: bool = False) -> np.ndarray:
    """(n, d) input gradients of the neuron.

    With ``standardized=False`` (default) x is in raw units and the gradient is d f / d x in raw
    units: the chain rule through z = (x - mean) / scale divides each component by ``scale``,
    which turns the direction. With ``standardized=True`` x is standardised and the gradient is
    d f / d z.
    """
    g = jax.jit(jax.vmap(jax.grad(neuron_function(classifier, spec, standardized=standardized))))
    return np.asarray(g(jnp.asarray(x, jnp.float32)), dtype=np.float64)


@dataclass(frozen=True)
class GradientSample:
    """Normalised neuron gradients on the points kept for the search.

    Attributes:
        x: (n, d) raw-unit points kept.
        directions: (n, d) unit gradients at ``x``.
        values: (n,) neuron values at ``x``.
        margin: (n,) the network's decision margin at ``x`` (|logit| for binary).
        counts: points offered, outside the band, with ~zero gradient, kept.
    """

    x: np.ndarray
    directions: np.ndarray
    values: np.ndarray
    margin: np.ndarray
    counts: dict[str, int]


def decision_margin(classifier: Classifier, x: np.ndarray) -> np.ndarray:
    """(n,) |logit| for binary networks; top-1 minus top-2 logit otherwise."""
    logits = classifier.logits(x)
    if classifier.n_classes == 2:
        return np.abs(logits[:, 0])
    top = np.sort(logits, axis=1)
    return top[:, -1] - top[:, -2]


def normalized_gradients(classifier: Classifier, spec: NeuronSpec, x: np.ndarray, *,
                         band: float | None = 9.2, min_norm: float = 1e-7,
                         what: str = "points") -> GradientSample:
    """Unit input gradients of a neuron on the points of ``x`` inside the decision band.

    Args:
        x: (n, d) raw-unit candidate points.
        band: keep points whose decision margin is below ``band`` (9.2 = predicted probability
            in (1e-4, 1 - 1e-4)); None keeps all points.
        min_norm: rows whose gradient norm is at most ``min_norm`` times the median norm (and
            exactly zero ones) are dropped: dead units and saturated regions carry no direction.
        what: name of the point set, for messages.

    Raises:
        SymgradError: the band keeps no point, or the neuron's gradient is zero everywhere.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise SymgradError(f"the {what} contain NaN or infinite values; clean the data first")
    counts = {"offered": int(len(x))}
    margin = decision_margin(classifier, x)
    in_band = np.ones(len(x), bool) if band is None else margin < band
    counts["outside_band"] = int((~in_band).sum())
    if not in_band.any():
        raise SymgradError(f"gradients.band={band} keeps none of the {len(x)} {what} (smallest decision margin "
                           f"{margin.min():.3g}); widen the band or set it to null to keep all points")
    x_band = x[in_band]
    grads = neuron_gradients(classifier, spec, x_band)
    norms = np.linalg.norm(grads, axis=1)
    finite = np.isfinite(norms)
    reference = np.median(norms[finite]) if finite.any() else 0.0
    alive = finite & (norms > max(min_norm * reference, 0.0)) & (norms > 0)
    counts["zero_gradient"] = int((~alive).sum())
    if not alive.any():
        raise SymgradError(f"the {spec.describe()} has zero gradient at all {len(x_band)} band {what} "
                           f"(a dead or constant unit); choose another neuron")
    counts["kept"] = int(alive.sum())
    kept_x = x_band[alive]
    directions = grads[alive] / norms[alive, None]
    values = neuron_values(classifier, spec, kept_x)
    return GradientSample(kept_x, directions, values, margin[in_band][alive], counts)
