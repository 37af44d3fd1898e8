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

from ..data.tables import Dataset
from ..errors import SymgradError
from .model import Classifier, MLP, check_activation
from ..progress import steps

# bytes per parameter while training: float32 weights, gradients, Adam's two moments and the
# update, with room for XLA's temporaries
_TRAIN_BYTES_PER_PARAMETER = 4 * 8


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
        progress: receives one line when training ends; a ``symgrad.progress.Console`` also
            shows a bar over the epochs on a terminal.

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
    if constant and len(constant) == train.n_features:
        raise SymgradError(f"every feature {constant} takes one value on the training rows; give data in which "
                           "at least one feature varies")
    if constant:  # the pipeline leaves these out before training; a direct call must do the same
        raise SymgradError(f"features {constant} are constant in the training data; drop them (data.features)")
    z_train = jnp.asarray((train.x - mean) / scale, jnp.float32)
    z_val = jnp.asarray((validation.x - mean) / scale, jnp.float32)
    y_train, y_val = jnp.asarray(train.y), jnp.asarray(validation.y)

    n_out = 1 if n_classes == 2 else n_classes
    check_memory(train.n_features, [int(h) for h in hidden], n_out)
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
    with steps(progress, epochs, "training") as advance:
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
            advance(status=f"val loss {val_loss:.4f}, val acc {val_acc:.3f}")
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
    if progress is not None:
        progress(f"trained {epoch} epochs in {report.seconds:.1f} s; kept epoch {best[2]} (validation loss "
                 f"{best[0]:.4f}, validation accuracy {report.validation_accuracy:.3f})")
    return classifier, report


def parameter_count(n_inputs: int, hidden: Sequence[int], n_outputs: int) -> int:
    """Weights and biases of an MLP with these layer widths."""
    widths = [n_inputs, *hidden, n_outputs]
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def check_memory(n_inputs: int, hidden: Sequence[int], n_outputs: int) -> None:
    """Refuse, before anything is allocated, a network whose training needs more memory than
    this machine (or the accelerator JAX uses) has free."""
    needed = parameter_count(n_inputs, hidden, n_outputs) * _TRAIN_BYTES_PER_PARAMETER
    free = _free_memory()
    if free is not None and needed > free:
        raise SymgradError(f"model.hidden {list(hidden)} gives {parameter_count(n_inputs, hidden, n_outputs):,} "
                           f"parameters, whose training needs about {needed / 2**30:.1f} GiB, but about "
                           f"{free / 2**30:.1f} GiB are free; use narrower layers such as [60, 60]")


def _free_memory() -> int | None:
    """Bytes free for training: the accelerator's limit when JAX uses one, else the host's
    available memory (None if neither can be read)."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 - memory_stats is optional and backend-specific
        stats = {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def accuracy(classifier: Classifier, data: Dataset) -> float:
    """Fraction of ``data`` the classifier labels correctly."""
    return float(np.mean(classifier.predict(data.x) == data.y))
