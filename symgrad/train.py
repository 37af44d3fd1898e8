"""Optax training of the nnx MLP with minibatches and early stopping on validation loss."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .data.tables import Dataset
from .errors import SymgradError
from .model import Classifier, MLP, check_activation


@dataclass(frozen=True)
class TrainReport:
    """What training did: per-epoch history, the epoch kept, accuracies and seconds."""

    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    epochs_run: int = 0
    train_accuracy: float = float("nan")
    validation_accuracy: float = float("nan")
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"history": self.history, "best_epoch": self.best_epoch, "epochs_run": self.epochs_run,
                "train_accuracy": self.train_accuracy, "validation_accuracy": self.validation_accuracy,
                "seconds": self.seconds}


def _loss(logits: jax.Array, y: jax.Array, n_classes: int) -> jax.Array:
    if n_classes == 2:
        return optax.sigmoid_binary_cross_entropy(logits[:, 0], y.astype(jnp.float32)).mean()
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _accuracy(logits: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    pred = (logits[:, 0] > 0) if n_classes == 2 else np.argmax(logits, axis=1)
    return float(np.mean(pred == y))


def train_classifier(train: Dataset, validation: Dataset, *, hidden: Sequence[int] = (60, 60),
                     activation: str = "elu", epochs: int = 60, batch_size: int = 128,
                     learning_rate: float = 3e-3, weight_decay: float = 0.0, patience: int = 10,
                     seed: int = 0, progress: Callable[[str], None] | None = None,
                     ) -> tuple[Classifier, TrainReport]:
    """Train an MLP classifier; inputs are standardised with the training mean and scale.

    Args:
        train, validation: datasets with the same features; validation drives early stopping
            (the parameters of the epoch with the lowest validation loss are kept).
        hidden: hidden layer widths.
        activation: relu, elu, silu, tanh or gelu (smooth ones give cleaner gradients).
        seed: seeds initialisation and minibatch order.
        progress: called with one line per epoch.

    Returns:
        The classifier (raw-unit inputs) and a TrainReport.
    """
    check_activation(activation)
    if not hidden or any(int(h) < 1 for h in hidden):
        raise SymgradError(f"model.hidden {list(hidden)} must be a non-empty list of positive layer widths")
    n_classes = train.n_classes
    start = time.perf_counter()
    mean = train.x.mean(axis=0)
    scale = train.x.std(axis=0)
    constant = [n for n, s in zip(train.feature_names, scale) if s == 0]
    if constant:
        raise SymgradError(f"features {constant} are constant in the training data; drop them (data.features)")
    z_train = jnp.asarray((train.x - mean) / scale, jnp.float32)
    z_val = jnp.asarray((validation.x - mean) / scale, jnp.float32)
    y_train, y_val = jnp.asarray(train.y), jnp.asarray(validation.y)

    n_out = 1 if n_classes == 2 else n_classes
    model = MLP(train.n_features, [int(h) for h in hidden], n_out, activation, rngs=nnx.Rngs(seed))
    graphdef, params = nnx.split(model, nnx.Param)
    tx = optax.adamw(learning_rate, weight_decay=weight_decay) if weight_decay else optax.adam(learning_rate)
    opt_state = tx.init(params)

    def loss_fn(p, z, y):
        return _loss(nnx.merge(graphdef, p)(z), y, n_classes)

    @jax.jit
    def step(p, state, z, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, z, y)
        updates, state = tx.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    @jax.jit
    def evaluate(p, z, y):
        logits = nnx.merge(graphdef, p)(z)
        return _loss(logits, y, n_classes), logits

    rng = np.random.default_rng(seed)
    n = z_train.shape[0]
    batch_size = max(1, min(batch_size, n))
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    best = (np.inf, params, 0)
    epoch = 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        losses = []
        for i in range(0, n - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            params, opt_state, loss = step(params, opt_state, z_train[idx], y_train[idx])
            losses.append(loss)
        val_loss, val_logits = evaluate(params, z_val, y_val)
        val_loss = float(val_loss)
        val_acc = _accuracy(np.asarray(val_logits), validation.y, n_classes)
        history["train_loss"].append(float(np.mean(jnp.stack(losses))))
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_acc)
        if progress is not None:
            progress(f"epoch {epoch:3d}/{epochs}  train loss {history['train_loss'][-1]:.4f}  "
                     f"val loss {val_loss:.4f}  val acc {val_acc:.3f}")
        if not np.isfinite(val_loss):
            raise SymgradError(f"training diverged at epoch {epoch} (validation loss {val_loss}); lower train.learning_rate")
        if val_loss < best[0]:
            best = (val_loss, params, epoch)
        elif epoch - best[2] >= patience:
            break
    params = best[1]
    model = nnx.merge(graphdef, params)
    classifier = Classifier.from_arrays(*zip(*model.dense_layers()), activation=activation,
                                        feature_names=train.feature_names, n_classes=n_classes,
                                        mean=mean, scale=scale, class_names=train.class_names)
    report = TrainReport(history=history, best_epoch=best[2], epochs_run=epoch,
                         train_accuracy=_accuracy(classifier.logits(train.x), train.y, n_classes),
                         validation_accuracy=_accuracy(classifier.logits(validation.x), validation.y, n_classes),
                         seconds=time.perf_counter() - start)
    return classifier, report


def accuracy(classifier: Classifier, data: Dataset) -> float:
    """Fraction of ``data`` the classifier labels correctly."""
    return float(np.mean(classifier.predict(data.x) == data.y))
