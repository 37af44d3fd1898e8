"""The classifier: an MLP as plain dense layers plus input standardisation, saved without pickle.

Training uses a Flax nnx module (``symgrad.network.train``); the trained network is then held as
``Classifier``, a plain list of (weight, bias) arrays, so that networks trained elsewhere
(scikit-learn ``coefs_``/``intercepts_``, PyTorch ``state_dict`` tensors, NumPy arrays) can be
imported with ``Classifier.from_arrays`` and interpreted the same way.
"""

from __future__ import annotations

import functools
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..errors import SymgradError

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "elu": jax.nn.elu,
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    # for networks trained elsewhere (scikit-learn's "logistic" and "identity")
    "sigmoid": jax.nn.sigmoid,
    "identity": lambda z: z,
}

FORMAT_VERSION = 1


def _check_header(meta: dict, path: Path) -> None:
    """One sentence for the first header field of a model file with a wrong type or value."""
    def bad(field: str, allowed: str) -> SymgradError:
        return SymgradError(f"model file {str(path)!r} has the header field {field}={meta.get(field)!r}; "
                            f"allowed: {allowed} (is the file damaged?)")

    n_layers = meta.get("n_layers")
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 1 <= n_layers <= 1000:
        raise bad("n_layers", "an integer from 1 to 1000")
    if not isinstance(meta.get("activation"), str) or meta["activation"] not in ACTIVATIONS:
        raise bad("activation", f"one of {sorted(ACTIVATIONS)}")
    names = meta.get("feature_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise bad("feature_names", "a non-empty list of names")
    n_classes = meta.get("n_classes")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise bad("n_classes", "an integer >= 2")
    class_names = meta.get("class_names", [])
    if not isinstance(class_names, list) or not all(isinstance(n, str) for n in class_names):
        raise bad("class_names", "a list of strings")
    meta.setdefault("class_names", [])


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise SymgradError(f"activation {name!r} is not supported; choose one of {sorted(ACTIVATIONS)}")
    return name


class MLP(nnx.Module):
    """Fully connected network used for training: ``hidden`` layers, then ``n_out`` logits."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, activation: str, *, rngs: nnx.Rngs):
        sizes = [n_in, *hidden]
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.head = nnx.Linear(sizes[-1], n_out, rngs=rngs)
        self.activation = activation

    def __call__(self, z: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for layer in self.layers:
            z = act(layer(z))
        return self.head(z)

    def dense_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(weight (in, out), bias (out,)) for every layer, head last."""
        return [(np.asarray(l.kernel[...]), np.asarray(l.bias[...])) for l in (*self.layers, self.head)]


def forward(layers: Sequence[tuple[jax.Array, jax.Array]], activation: str, z: jax.Array,
            ) -> tuple[jax.Array, list[jax.Array], list[jax.Array]]:
    """Pure forward pass on standardised inputs.

    Args:
        layers: (weight (in, out), bias (out,)) pairs; the last one is the logit head.
        activation: a key of ``ACTIVATIONS``.
        z: (..., d) standardised inputs.

    Returns:
        logits (..., n_out), pre-activations and post-activations of every hidden layer.
    """
    act = ACTIVATIONS[activation]
    pre, post = [], []
    for weight, bias in layers[:-1]:
        a = z @ weight + bias
        z = act(a)
        pre.append(a)
        post.append(z)
    weight, bias = layers[-1]
    return z @ weight + bias, pre, post


@dataclass(frozen=True)
class Classifier:
    """A trained MLP classifier over raw inputs.

    Attributes:
        layers: (weight (in, out), bias (out,)) float32 pairs; last = logit head.
        activation: hidden activation name.
        mean, scale: (d,) standardisation, z = (x - mean) / scale.
        feature_names: d input names.
        n_classes: 2 means one logit (class 1 vs 0); otherwise one logit per class.
        class_names: label values by class id.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    activation: str
    mean: np.ndarray
    scale: np.ndarray
    feature_names: tuple[str, ...]
    n_classes: int
    class_names: tuple[str, ...] = ()

    @classmethod
    def from_arrays(cls, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], *, activation: str,
                    feature_names: Sequence[str], n_classes: int, mean: np.ndarray | None = None,
                    scale: np.ndarray | None = None, class_names: Sequence[str] = ()) -> "Classifier":
        """Build from plain arrays, e.g. scikit-learn's ``coefs_`` and ``intercepts_``.

        Weights are (in, out) as in scikit-learn; transpose PyTorch's (out, in) first.
        ``mean``/``scale`` default to the identity standardisation.
        """
        check_activation(activation)
        if len(weights) != len(biases) or not weights:
            raise SymgradError(f"got {len(weights)} weight arrays and {len(biases)} bias arrays; give one of each per layer")
        d = len(feature_names)
        layers = []
        width = d
        for i, (w, b) in enumerate(zip(weights, biases)):
            w, b = np.asarray(w, np.float32), np.asarray(b, np.float32).reshape(-1)
            if w.ndim != 2 or w.shape[0] != width or w.shape[1] != b.shape[0]:
                raise SymgradError(f"layer {i} has weight shape {w.shape} and bias shape {b.shape}; expected ({width}, k) and (k,)")
            layers.append((w, b))
            width = w.shape[1]
        expected_out = 1 if n_classes == 2 else n_classes
        if width != expected_out:
            raise SymgradError(f"the last layer has {width} outputs but {n_classes} classes need {expected_out}")
        mean = np.zeros(d) if mean is None else np.asarray(mean, float)
        scale = np.ones(d) if scale is None else np.asarray(scale, float)
        return cls(tuple(layers), activation, mean, scale, tuple(feature_names), n_classes, tuple(class_names))

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(w.shape[1] for w, _ in self.layers[:-1])

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def jax_layers(self) -> list[tuple[jax.Array, jax.Array]]:
        return [(jnp.asarray(w), jnp.asarray(b)) for w, b in self.layers]

    def standardize(self, x: jax.Array) -> jax.Array:
        """Standardise one raw point x (d,)."""
        return (x - jnp.asarray(self.mean, jnp.float32)) / jnp.asarray(self.scale, jnp.float32)

    @functools.cached_property
    def _batched_logits(self):
        # compiled once per classifier (a frozen dataclass: cached_property writes __dict__ directly)
        layers, activation = self.jax_layers(), self.activation
        return jax.jit(jax.vmap(lambda row: forward(layers, activation, self.standardize(row))[0]))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(n, n_out) logits for raw inputs x (n, d)."""
        return np.asarray(self._batched_logits(jnp.asarray(x, jnp.float32)), dtype=np.float64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n,) predicted class ids."""
        logits = self.logits(x)
        return (logits[:, 0] > 0).astype(np.int32) if self.n_classes == 2 else np.argmax(logits, axis=1).astype(np.int32)

    def class_probabilities(self, x: np.ndarray) -> np.ndarray:
        """(n, n_classes) class probabilities (two columns for a binary classifier)."""
        logits = self.logits(x)
        if self.n_classes == 2:
            p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """(n,) probability of class 1 (binary) or of the predicted class (multi-class)."""
        p = self.class_probabilities(x)
        return p[:, 1] if self.n_classes == 2 else p.max(axis=1)

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file (arrays plus a JSON header); loading never runs code."""
        path = Path(path)
        meta = {"format": "symgrad-mlp", "version": FORMAT_VERSION, "activation": self.activation,
                "feature_names": list(self.feature_names), "n_classes": self.n_classes,
                "class_names": list(self.class_names), "n_layers": len(self.layers)}
        arrays = {"mean": np.asarray(self.mean), "scale": np.asarray(self.scale),
                  "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        with path.open("wb") as handle:
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Classifier":
        """Read a model written by ``save`` (``allow_pickle=False``: no code runs on load)."""
        path = Path(path)
        if path.is_dir():
            raise SymgradError(f"model file {str(path)!r} is a folder; give the model.npz inside a previous run")
        if not path.is_file():
            raise SymgradError(f"model file {str(path)!r} does not exist; give the model.npz of a previous run")
        not_ours = f"{str(path)!r} is not a symgrad model file (model.npz written by symgrad)"
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                if not isinstance(meta, dict) or meta.get("format") != "symgrad-mlp":
                    raise ValueError("format")
                _check_header(meta, path)
                weights = [data[f"w{i}"] for i in range(meta["n_layers"])]
                biases = [data[f"b{i}"] for i in range(meta["n_layers"])]
                mean, scale = data["mean"], data["scale"]
        except SymgradError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            # a truncated or damaged file too: np.load reads a zip archive
            raise SymgradError(f"{not_ours}, or it is damaged (truncated?)") from None
        if mean.shape != (len(meta["feature_names"]),) or scale.shape != mean.shape or not (
                np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise SymgradError(f"model file {str(path)!r} has a damaged standardisation (mean/scale must be finite, "
                               f"one per feature, scale > 0)")
        try:
            return cls.from_arrays(weights, biases, activation=meta["activation"], feature_names=meta["feature_names"],
                                   n_classes=meta["n_classes"], mean=mean, scale=scale,
                                   class_names=meta["class_names"])
        except (ValueError, TypeError) as exc:
            if isinstance(exc, SymgradError):
                raise SymgradError(f"model file {str(path)!r} is damaged: {exc}") from None
            raise SymgradError(f"model file {str(path)!r} is damaged: its arrays are not numeric layers") from None

    def check_finite(self, x: np.ndarray, *, trained: bool = False) -> None:
        """Raise SymgradError if the parameters, or the logits on raw inputs x (n, d), are not
        finite: a diverged training or a damaged model has no gradients worth interpreting."""
        cause = ("training diverged; lower train.learning_rate or check the data's scale" if trained
                 else "the model file is damaged or came from a diverged training")
        if not all(np.all(np.isfinite(w)) and np.all(np.isfinite(b)) for w, b in self.layers):
            raise SymgradError(f"the network's weights are not finite numbers: {cause}")
        if len(x) and not np.all(np.isfinite(self.logits(x))):
            raise SymgradError(f"the network's outputs are not finite numbers on the data: {cause}")

    def check_matches(self, feature_names: Sequence[str], n_classes: int, *, what: str = "the data") -> None:
        """Raise SymgradError unless this network takes ``feature_names`` (same number, names and
        order) and predicts ``n_classes`` classes: a reused model must fit the data it explains."""
        names = tuple(feature_names)
        if len(names) != self.n_features:
            raise SymgradError(f"the model takes {self.n_features} inputs {list(self.feature_names)} but {what} "
                               f"has {len(names)} features {list(names)}; use the data the model was trained on")
        if names != self.feature_names:
            raise SymgradError(f"the model's inputs {list(self.feature_names)} differ from the features of {what} "
                               f"{list(names)}; use the data the model was trained on")
        if n_classes != self.n_classes:
            raise SymgradError(f"the model predicts {self.n_classes} classes but {what} has {n_classes}; use the "
                               "data the model was trained on")
