"""Neuron specifications and their normalised input gradients in the user's raw units."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .errors import SymgradError
from .network.importers import input_names
from .network.model import Classifier, forward

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

    @classmethod
    def from_config(cls, neuron: Mapping[str, Any]) -> "NeuronSpec":
        """The neuron a config's ``neuron`` section (or a batch grid entry) names; its keys are
        this class's fields (``symgrad.config.SCHEMA["neuron"]``)."""
        return cls(**{f.name: neuron[f.name] for f in dataclasses.fields(cls)})

    def to_config(self) -> dict[str, Any]:
        """The ``neuron`` section of a config naming this neuron."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def describe(self) -> str:
        """The neuron in words: "output logit", "hidden layer 1 unit 5 (activation)"."""
        if self.kind == "output":
            return "output logit"
        if self.kind == "class":
            return f"logit of class {self.unit}"
        if self.kind == "log_odds":
            return f"log-odds of class {self.unit} vs class {self.other}"
        stage = "pre-activation" if self.preactivation else "activation"
        return f"hidden layer {self.layer} unit {self.unit} ({stage})"

    def tag(self) -> str:
        """A short file-name-safe name: output, class2, logodds0v2, h1u5, h0u3pre."""
        if self.kind == "output":
            return "output"
        if self.kind == "class":
            return f"class{self.unit}"
        if self.kind == "log_odds":
            return f"logodds{self.unit}v{self.other}"
        return f"h{self.layer}u{self.unit}{'pre' if self.preactivation else ''}"

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
    static = dict(activation=classifier.activation, kind=spec.kind, layer=spec.layer,
                  preactivation=spec.preactivation, standardized=standardized)
    return lambda x: _scalar(layers, mean, scale, x, spec.unit, spec.other, **static)


def _scalar(layers, mean, scale, x, unit, other, *, activation: str, kind: str, layer: int, preactivation: bool,
            standardized: bool) -> jax.Array:
    """The neuron at one point x (d,); ``unit`` and ``other`` are traced so that every unit of a
    layer shares one compiled function."""
    z = x if standardized else (x - mean) / scale
    logits, pre, post = forward(layers, activation, z)
    if kind == "output":
        return logits[0]
    if kind == "class":
        return logits[unit]
    if kind == "log_odds":
        return logits[unit] - logits[other]
    return (pre if preactivation else post)[layer][unit]


_STATIC = ("activation", "kind", "layer", "preactivation", "standardized")


@functools.partial(jax.jit, static_argnames=_STATIC)
def _batched_values(layers, mean, scale, x, unit, other, *, activation, kind, layer, preactivation,
                    standardized) -> jax.Array:
    static = dict(activation=activation, kind=kind, layer=layer, preactivation=preactivation, standardized=standardized)
    return jax.vmap(lambda row: _scalar(layers, mean, scale, row, unit, other, **static))(x)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _batched_gradients(layers, mean, scale, x, unit, other, *, activation, kind, layer, preactivation,
                       standardized) -> jax.Array:
    static = dict(activation=activation, kind=kind, layer=layer, preactivation=preactivation, standardized=standardized)
    return jax.vmap(jax.grad(lambda row: _scalar(layers, mean, scale, row, unit, other, **static)))(x)


def _call(batched, classifier: Classifier, spec: NeuronSpec, x: np.ndarray, standardized: bool) -> np.ndarray:
    # compiled once per (architecture, neuron kind, layer, stage, point-count bucket), not once per
    # neuron: interpreting every unit of a layer in one process reuses the compiled function
    spec.validate(classifier)
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    rows = _bucket(n)
    if rows > n:  # each unit's band keeps its own number of points: padded to a shared size
        x = np.concatenate([x, np.zeros((rows - n,) + x.shape[1:], dtype=np.float32)])
    out = batched([(jnp.asarray(w), jnp.asarray(b)) for w, b in classifier.layers],
                  jnp.asarray(classifier.mean, jnp.float32), jnp.asarray(classifier.scale, jnp.float32),
                  jnp.asarray(x), jnp.int32(spec.unit), jnp.int32(spec.other),
                  activation=classifier.activation, kind=spec.kind, layer=spec.layer,
                  preactivation=spec.preactivation, standardized=standardized)
    return np.asarray(out, dtype=np.float64)[:n]


def _bucket(n: int) -> int:
    """``n`` rounded up to one of 8 sizes per power of two (at most 1/8 extra rows), at least 64."""
    if n <= 64:
        return 64
    step = 1 << max(0, n.bit_length() - 4)
    return -(-n // step) * step


def neuron_values(classifier: Classifier, spec: NeuronSpec, x: np.ndarray) -> np.ndarray:
    """(n,) values of the neuron at raw inputs x (n, d)."""
    return _call(_batched_values, classifier, spec, x, False)


def neuron_gradients(classifier: Classifier, spec: NeuronSpec, x: np.ndarray, *,
                     standardized: bool = False) -> np.ndarray:
    """(n, d) input gradients of the neuron.

    With ``standardized=False`` (default) x is in raw units and the gradient is d f / d x in raw
    units: the chain rule through z = (x - mean) / scale divides each component by ``scale``,
    which turns the direction. With ``standardized=True`` x is standardised and the gradient is
    d f / d z.
    """
    return _call(_batched_gradients, classifier, spec, x, standardized)


@dataclass(frozen=True)
class GradientSample:
    """Normalised neuron gradients on the points kept for the search.

    Attributes:
        x: (n, d) raw-unit points kept.
        directions: (n, d) unit gradients at ``x``.
        values: (n,) neuron values at ``x``.
        margin: (n,) the margin the band was applied to (``selection_margin``): the network's
            decision margin for output, class and log-odds neurons, the unit's own
            |pre-activation| for hidden units.
        counts: points offered, outside the band, with ~zero gradient, kept, and ``region``: a
            sentence saying which points were used.
    """

    x: np.ndarray
    directions: np.ndarray
    values: np.ndarray
    margin: np.ndarray
    counts: dict[str, int | str]


def decision_margin(classifier: Classifier, x: np.ndarray) -> np.ndarray:
    """(n,) |logit| for binary networks; top-1 minus top-2 logit otherwise."""
    logits = classifier.logits(x)
    if classifier.n_classes == 2:
        return np.abs(logits[:, 0])
    top = np.sort(logits, axis=1)
    return top[:, -1] - top[:, -2]


def selection_margin(classifier: Classifier, spec: NeuronSpec, x: np.ndarray) -> np.ndarray:
    """(n,) the margin that decides where a neuron's gradients are informative.

    Output, class and log-odds neurons: the network's decision margin (``decision_margin``);
    their directions carry the concept near the decision boundary. A hidden unit makes no
    decision of its own, so it gets |its own pre-activation|: the distance from the bend of its
    activation, where the unit varies most; far out its activation saturates (tanh, the
    negative side of elu) and its direction is carried by ever smaller gradients.
    """
    if spec.kind != "hidden":
        return decision_margin(classifier, x)
    pre = NeuronSpec("hidden", layer=spec.layer, unit=spec.unit, preactivation=True)
    return np.abs(neuron_values(classifier, pre, x))


def region(spec: NeuronSpec, band: float | None) -> str:
    """One sentence saying which points a band keeps for ``spec``."""
    if band is None:
        return "all points"
    if spec.kind == "hidden":
        return f"points where the unit's own |pre-activation| < {band:g} (near the bend of its activation)"
    return f"points near the decision boundary, decision margin |logit| < {band:g}"


def normalized_gradients(classifier: Classifier, spec: NeuronSpec, x: np.ndarray, *,
                         band: float | None = 9.2, min_norm: float = 1e-7,
                         what: str = "points") -> GradientSample:
    """Unit input gradients of a neuron on the points of ``x`` inside its band.

    Args:
        x: (n, d) raw-unit candidate points.
        band: keep points whose ``selection_margin`` is below ``band``: for output, class and
            log-odds neurons the decision margin (9.2 = predicted probability in
            (1e-4, 1 - 1e-4)), for hidden units |their own pre-activation|; None keeps all points.
        min_norm: rows whose gradient norm is at most ``min_norm`` times the median norm (and
            exactly zero ones) are dropped: dead units and saturated regions carry no direction.
        what: name of the point set, for messages.

    Returns:
        The kept points; ``counts["region"]`` says which points were used.

    Raises:
        SymgradError: the band keeps no point, or the neuron's gradient is zero everywhere.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise SymgradError(f"the {what} contain NaN or infinite values; clean the data first")
    spec.validate(classifier)
    counts: dict[str, int | str] = {"offered": int(len(x)), "region": region(spec, band)}
    margin = selection_margin(classifier, spec, x)
    in_band = np.ones(len(x), bool) if band is None else margin < band
    counts["outside_band"] = int((~in_band).sum())
    if not in_band.any():
        measure = "|pre-activation|" if spec.kind == "hidden" else "decision margin"
        raise SymgradError(f"gradients.band={band} keeps none of the {len(x)} {what} (smallest {measure} "
                           f"{margin.min():.3g}); widen the band or set it to null to keep all points")
    # evaluated on every offered point, then selected: the compiled functions see one shape per
    # point set instead of one per band
    grads = neuron_gradients(classifier, spec, x)[in_band]
    values = neuron_values(classifier, spec, x)[in_band]
    x_band, margin_band = x[in_band], margin[in_band]
    norms = np.linalg.norm(grads, axis=1)
    finite = np.isfinite(norms)
    reference = np.median(norms[finite]) if finite.any() else 0.0
    alive = finite & (norms > max(min_norm * reference, 0.0)) & (norms > 0)
    counts["zero_gradient"] = int((~alive).sum())
    if not alive.any():
        raise SymgradError(f"the {spec.describe()} has zero gradient at all {len(x_band)} band {what} "
                           f"(a dead or constant unit); choose another neuron")
    counts["kept"] = int(alive.sum())
    directions = grads[alive] / norms[alive, None]
    return GradientSample(x_band[alive], directions, values[alive], margin_band[alive], counts)


# ----------------------------------------------------------------------------- a JAX function as a neuron


@dataclass(frozen=True)
class FunctionNeuron:
    """Any JAX-traceable scalar function of one point, interpreted by its gradients alone.

    Attributes:
        function: f(x (d,)) -> () in raw units.
        feature_names: d names.
        description: how the neuron is named in results.
    """

    function: Callable
    feature_names: tuple[str, ...]
    description: str = "function f(x)"

    def sample(self, x: np.ndarray, *, min_norm: float = 1e-7, what: str = "points"):
        """``GradientSample`` of unit gradients at the rows of ``x`` (n, d) where the gradient is not zero."""
        xs = jnp.asarray(x, jnp.float32)
        grads = np.asarray(jax.jit(jax.vmap(jax.grad(self.function)))(xs), dtype=np.float64)
        values = np.asarray(jax.jit(jax.vmap(self.function))(xs), dtype=np.float64)
        norms = np.linalg.norm(grads, axis=1)
        finite = np.isfinite(norms) & np.isfinite(values)
        reference = np.median(norms[finite]) if finite.any() else 0.0
        alive = finite & (norms > min_norm * reference) & (norms > 0)
        if not alive.any():
            raise SymgradError(f"the function has zero or non-finite gradient at all {len(x)} {what}")
        counts = {"offered": int(len(x)), "outside_band": 0, "zero_gradient": int((~alive).sum()),
                  "kept": int(alive.sum())}
        return GradientSample(np.asarray(x)[alive], grads[alive] / norms[alive, None], values[alive],
                              np.zeros(int(alive.sum())), counts)


def from_function(function: Callable, x: np.ndarray, *, feature_names: Sequence[str] | None = None,
                  description: str = "function f(x)") -> FunctionNeuron:
    """A ``FunctionNeuron``, after checking that ``function`` maps one row of ``x`` (n, d) to a
    finite scalar and can be differentiated by JAX."""
    x = np.asarray(x, dtype=np.float64)
    names = input_names(feature_names, None, x.shape[1])
    row = jnp.asarray(x[0], jnp.float32)
    try:
        value = jax.eval_shape(function, row)
    except Exception as exc:  # user code: any failure means "not a JAX function"
        raise SymgradError(f"the function cannot be traced by JAX on a point of shape ({x.shape[1]},) "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); give "
                           "f(x) -> scalar written with jax.numpy") from None
    if getattr(value, "shape", None) != ():
        raise SymgradError(f"the function returns shape {getattr(value, 'shape', None)} for one point of shape "
                           f"({x.shape[1]},); it must return a scalar")
    return FunctionNeuron(function, names, description)
