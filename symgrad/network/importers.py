"""Networks trained elsewhere -> the one model type ``Classifier``; a JAX function -> a neuron.

Every import of a network is checked numerically: the ``Classifier`` must reproduce the
original's outputs on the points given, or the import is refused with one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import SymgradError
from .model import Classifier

# float32 networks: outputs agree to about 1e-6 relative; a transposed square layer or a wrong
# activation is off by 1e-1 or more
TOLERANCE = 1e-4

SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
ARRAY_ACTIVATIONS = {"identity": "identity", "linear": "identity", "logistic": "sigmoid", "sigmoid": "sigmoid",
                     "tanh": "tanh", "relu": "relu", "elu": "elu", "silu": "silu", "swish": "silu", "gelu": "gelu"}
TORCH_ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "ELU": "elu", "SiLU": "silu",
                     "Identity": "identity"}
_TORCH_SKIPPED = ("Dropout", "Flatten")  # identities at inference time
_TORCH_HEADS = ("Sigmoid", "Softmax", "LogSoftmax")  # a final squashing layer; the logits are kept


def is_network(model: Any) -> bool:
    """Whether ``import_model`` knows ``model`` as a network (a PyTorch module or a scikit-learn
    estimator); any other callable is interpreted as a plain function (``symgrad.from_function``)."""
    return _is_torch_module(model) or (hasattr(model, "fit") and hasattr(model, "get_params"))


def import_model(model: Any, x: np.ndarray, *, feature_names: Sequence[str] | None = None) -> Classifier:
    """The ``Classifier`` for a scikit-learn MLP or a PyTorch ``nn.Sequential``, checked on the
    points ``x`` (n, d)."""
    if _is_torch_module(model):
        return from_torch(model, x, feature_names=feature_names)
    if hasattr(model, "fit") and hasattr(model, "get_params"):
        return from_sklearn(model, x, feature_names=feature_names)
    raise SymgradError(f"a {type(model).__name__} cannot be interpreted; give a symgrad Classifier, a fitted "
                       "scikit-learn MLPClassifier, a PyTorch nn.Sequential or a JAX function f(x) -> scalar")


def describe(model: Any) -> str:
    """Where a model comes from, for the result's record: "scikit-learn MLPClassifier", ..."""
    if isinstance(model, Classifier):
        return "symgrad Classifier"
    if _is_torch_module(model):
        return f"PyTorch {type(model).__name__}"
    if hasattr(model, "fit") and hasattr(model, "get_params"):
        return f"scikit-learn {type(model).__name__}"
    return "function"


def from_sklearn(estimator: Any, x: np.ndarray, *, feature_names: Sequence[str] | None = None) -> Classifier:
    """A fitted scikit-learn ``MLPClassifier`` (or a ``Pipeline`` of an optional ``StandardScaler``
    and an ``MLPClassifier``) as a ``Classifier``; checked against ``predict_proba`` on ``x``.

    Hidden activations identity, logistic, tanh and relu; binary and multi-class (not
    multi-label). ``feature_names`` default to the estimator's ``feature_names_in_`` or x0...
    """
    mean = scale = None
    mlp = estimator
    if type(estimator).__name__ == "Pipeline":
        steps = [step for _, step in estimator.steps if step not in (None, "passthrough")]
        if len(steps) == 2 and type(steps[0]).__name__ == "StandardScaler":
            scaler, mlp = steps
            mean = scaler.mean_ if getattr(scaler, "with_mean", True) else np.zeros(scaler.n_features_in_)
            scale = scaler.scale_ if getattr(scaler, "with_std", True) else np.ones(scaler.n_features_in_)
        elif len(steps) != 1:
            raise SymgradError("a scikit-learn Pipeline can be interpreted only as [StandardScaler,] MLPClassifier; "
                               f"this one has steps {[type(s).__name__ for s in steps]}")
        else:
            mlp = steps[0]
    if type(mlp).__name__ != "MLPClassifier":
        raise SymgradError(f"scikit-learn {type(mlp).__name__} is not supported; give a fitted MLPClassifier")
    if not hasattr(mlp, "coefs_"):
        raise SymgradError("the MLPClassifier is not fitted; call fit first")
    if mlp.activation not in SKLEARN_ACTIVATIONS:
        raise SymgradError(f"MLPClassifier activation {mlp.activation!r} is not supported; "
                           f"supported are {sorted(SKLEARN_ACTIVATIONS)}")
    if mlp.out_activation_ not in ("logistic", "softmax") or (mlp.out_activation_ == "logistic"
                                                              and len(mlp.classes_) != 2):
        raise SymgradError("multi-label MLPClassifiers are not supported; give one fitted to a single label column")
    names = input_names(feature_names, getattr(estimator, "feature_names_in_", None), mlp.coefs_[0].shape[0])
    classifier = Classifier.from_arrays(
        mlp.coefs_, mlp.intercepts_, activation=SKLEARN_ACTIVATIONS[mlp.activation], feature_names=names,
        n_classes=len(mlp.classes_), mean=mean, scale=scale, class_names=tuple(str(c) for c in mlp.classes_))
    x = _points_for(classifier, x)
    _check(classifier.class_probabilities(x), np.asarray(estimator.predict_proba(x)), "scikit-learn MLPClassifier",
           "predict_proba")
    return classifier


def from_torch(module: Any, x: np.ndarray, *, feature_names: Sequence[str] | None = None) -> Classifier:
    """A PyTorch ``nn.Sequential`` of ``Linear`` layers with one kind of activation between them
    (ReLU, Tanh, Sigmoid, ELU(alpha=1), SiLU, Identity; Dropout and Flatten are skipped; a final
    Sigmoid/Softmax/LogSoftmax is dropped and its logits kept). One output is a binary logit;
    k >= 2 outputs are k class logits (two become one logit, class 1 minus class 0). Checked
    against the module's own logits on ``x``."""
    import torch  # an optional extra; only reached with a torch object in hand

    if type(module).__name__ != "Sequential":
        raise SymgradError(f"PyTorch {type(module).__name__} is not supported; give an nn.Sequential of Linear "
                           "layers and activations")
    layers = [m for m in module if type(m).__name__ not in _TORCH_SKIPPED]
    while layers and type(layers[-1]).__name__ in _TORCH_HEADS:
        layers = layers[:-1]
    weights, biases, activations = [], [], set()
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        expect_linear = i % 2 == 0
        if kind == "Linear" and expect_linear:
            weight = layer.weight.detach().cpu().double().numpy().T  # torch stores (out, in)
            bias = (layer.bias.detach().cpu().double().numpy() if layer.bias is not None
                    else np.zeros(weight.shape[1]))
            weights.append(weight)
            biases.append(bias)
        elif kind in TORCH_ACTIVATIONS and not expect_linear:
            if kind == "ELU" and float(layer.alpha) != 1.0:
                raise SymgradError(f"ELU(alpha={layer.alpha}) is not supported; only alpha=1")
            activations.add(TORCH_ACTIVATIONS[kind])
        else:
            expected = "a Linear layer" if expect_linear else f"an activation ({sorted(TORCH_ACTIVATIONS)})"
            raise SymgradError(f"layer {i} of the nn.Sequential is {kind}; expected {expected} (supported: Linear, "
                               f"{', '.join(sorted(TORCH_ACTIVATIONS))}, Dropout, Flatten, a final Sigmoid/Softmax)")
    if not weights or len(layers) % 2 == 0:
        raise SymgradError("the nn.Sequential must end with a Linear layer (optionally followed by Sigmoid/Softmax)")
    if len(activations) > 1:
        raise SymgradError(f"the nn.Sequential mixes activations {sorted(activations)}; symgrad networks use one kind")
    activation = activations.pop() if activations else "identity"
    names = input_names(feature_names, None, weights[0].shape[0])
    n_out = weights[-1].shape[1]
    if n_out == 2:  # a two-logit softmax is the binary logit l1 - l0
        weights[-1] = weights[-1][:, 1:2] - weights[-1][:, 0:1]
        biases[-1] = biases[-1][1:2] - biases[-1][0:1]
    classifier = Classifier.from_arrays(weights, biases, activation=activation, feature_names=names,
                                        n_classes=max(n_out, 2))
    x = _points_for(classifier, x)
    dtype = next(iter(module.parameters())).dtype
    with torch.no_grad():  # the user's own layers, in their own dtype (the module is not changed)
        reference = torch.nn.Sequential(*layers)(torch.as_tensor(x, dtype=dtype)).double().numpy()
    if n_out == 2:
        reference = reference[:, 1:2] - reference[:, 0:1]
    _check(classifier.logits(x), reference, "PyTorch module", "logits")
    return classifier


def from_arrays(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], *, activation: str, x: np.ndarray,
                outputs: np.ndarray, layout: str = "in_out", output: str = "logits",
                feature_names: Sequence[str] | None = None, class_names: Sequence[str] = (),
                mean: np.ndarray | None = None, scale: np.ndarray | None = None) -> Classifier:
    """An MLP given as plain arrays (Keras, Flax, NumPy), checked against its own ``outputs`` on ``x``.

    Args:
        weights: one matrix per layer, the output layer last. With ``layout="in_out"`` (Keras
            ``Dense.kernel``, Flax ``Dense``/``nnx.Linear`` kernels, scikit-learn ``coefs_``) a
            layer's matrix is (inputs, outputs); with ``"out_in"`` (a PyTorch ``state_dict``) it
            is (outputs, inputs). A square matrix in the wrong layout passes the shape checks but
            not the numeric check.
        biases: one vector per layer.
        activation: the hidden activation: identity/linear, logistic/sigmoid, tanh, relu, elu,
            silu/swish or gelu (tanh approximation, as Flax's default).
        x: (n, d) points on which ``outputs`` were computed, in the units the network's first
            layer takes after ``mean``/``scale`` standardisation (raw units when those are None).
        outputs: (n, k) the original network's outputs at ``x``: logits, or with
            ``output="probabilities"`` sigmoid/softmax probabilities. One output is binary; k >= 3
            are class logits.
        feature_names: names of the d inputs.
        class_names: names of the classes.
        mean: (d,) mean subtracted before the first layer, if any.
        scale: (d,) scale divided by before the first layer, if any.
    """
    if activation not in ARRAY_ACTIVATIONS:
        raise SymgradError(f"activation {activation!r} is not supported; supported are {sorted(ARRAY_ACTIVATIONS)}")
    if layout not in ("in_out", "out_in"):
        raise SymgradError(f"layout {layout!r} is not known; use 'in_out' (Keras, Flax) or 'out_in' (PyTorch)")
    if output not in ("logits", "probabilities"):
        raise SymgradError(f"output {output!r} is not known; use 'logits' or 'probabilities'")
    matrices = [np.asarray(w, dtype=np.float64) for w in weights]
    if any(w.ndim != 2 for w in matrices):
        raise SymgradError("every weight must be a 2-D matrix (one per layer)")
    if layout == "out_in":
        matrices = [w.T for w in matrices]
    if not matrices:
        raise SymgradError("no weight matrices given; give one per layer, the output layer last")
    n_out = matrices[-1].shape[1]
    names = input_names(feature_names, None, matrices[0].shape[0])
    classifier = Classifier.from_arrays(matrices, biases, activation=ARRAY_ACTIVATIONS[activation],
                                        feature_names=names, n_classes=n_out if n_out > 1 else 2, mean=mean,
                                        scale=scale, class_names=tuple(str(c) for c in class_names))
    x = _points_for(classifier, x)
    reference = np.asarray(outputs, dtype=np.float64)
    reference = reference.reshape(len(x), -1) if reference.size == len(x) * n_out else reference
    if output == "probabilities":
        ours = classifier.class_probabilities(x)
        ours = ours[:, 1:] if n_out == 1 else ours
    else:
        ours = classifier.logits(x)
    _check(ours, reference, "network given as arrays", output)
    return classifier


# ----------------------------------------------------------------------------- helpers


def input_names(given: Sequence[str] | None, found: Any, d: int) -> tuple[str, ...]:
    """The d inputs' formula names: ``given``, else the model's own ``found``, else x0..x{d-1}."""
    from ..data.tables import identifier

    names = list(given) if given is not None else (list(found) if found is not None else [f"x{i}" for i in range(d)])
    if len(names) != d:
        raise SymgradError(f"{len(names)} feature names were given for a network with {d} inputs")
    out = tuple(identifier(str(n)) for n in names)
    if len(set(out)) != d:
        raise SymgradError(f"feature names {names} are not distinct as formula names {list(out)}")
    return out


def _points_for(classifier: Classifier, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != classifier.n_features:
        raise SymgradError(f"the points have shape {x.shape}; the network takes {classifier.n_features} inputs")
    return x


def _check(ours: np.ndarray, theirs: np.ndarray, what: str, quantity: str) -> None:
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise SymgradError(f"the {what} gives {quantity} of shape {theirs.shape} but its import gives {ours.shape}; "
                           "the layers or their layout do not match")
    error = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
    worst = float(np.max(error)) if error.size else 0.0
    if not worst <= TOLERANCE:
        raise SymgradError(f"the imported network does not reproduce the {what}'s {quantity} (largest relative "
                           f"difference {worst:.3g} > {TOLERANCE}); check the weight layout and the activation")


def _is_torch_module(model: Any) -> bool:
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(model).__mro__)
