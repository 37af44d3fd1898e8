"""A PReLU MLP trained with a force that pulls every PReLU slope towards 1 (the identity).

A PReLU f(z) = max(0, z) + a·min(0, z) with slope a = 1 is the identity, so the layers on both
sides of it merge into one linear map: the network "collapses" into a few linear functions on
regions bounded by linear inequalities (``symgrad.companions.collapse`` writes them out).
After every optimiser step each slope moves by a fixed rate towards 1,

    a <- clip(a + rate · sign(1 - a), 0, 1),   rate = lr · 0.01 · max(0, -log10(err) - offset),

where err is the training error (mean squared error) of that step: the force is off while the
network still learns (err above 10^-offset) and pulls harder the better it fits. A slope above
``LINEAR_SLOPE`` (0.9995) counts as linear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..errors import SymgradError

LINEAR_SLOPE = 0.9995
INITIAL_SLOPE = 0.25  # the usual PReLU initialisation


class PReLUMLP(nnx.Module):
    """Dense layers with one trainable PReLU slope per hidden unit; the last layer is linear."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, *, rngs: nnx.Rngs):
        sizes = [n_in, *hidden]
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.slopes = nnx.List([nnx.Param(jnp.full((h,), INITIAL_SLOPE, jnp.float32)) for h in hidden])
        self.head = nnx.Linear(sizes[-1], n_out, rngs=rngs)

    def __call__(self, z: jax.Array) -> jax.Array:
        for layer, slope in zip(self.layers, self.slopes):
            pre = layer(z)
            z = jnp.maximum(pre, 0.0) + slope[...][None, :] * jnp.minimum(pre, 0.0)
        return self.head(z)


@dataclass(frozen=True)
class PReLUNetwork:
    """A trained PReLU network over raw inputs, held as plain arrays.

    Attributes:
        layers: (weight (in, out), bias (out,)) pairs; the last one is the linear output layer.
        slopes: one (width,) array of PReLU slopes in [0, 1] per hidden layer.
        mean, scale: (d,) input standardisation, z = (x - mean) / scale.
        feature_names: d input names; output_names: m output names.
        history: training error and number of nonlinear units, sampled during training.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    slopes: tuple[np.ndarray, ...]
    mean: np.ndarray
    scale: np.ndarray
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return int(sum(s.shape[0] for s in self.slopes))

    def nonlinear_units(self, linear_slope: float = LINEAR_SLOPE) -> list[tuple[int, int, float]]:
        """(hidden layer, unit, slope) of every PReLU whose slope is at most ``linear_slope``."""
        return [(layer, unit, float(a)) for layer, s in enumerate(self.slopes) for unit, a in enumerate(s)
                if a <= linear_slope]

    def outputs(self, x: np.ndarray, *, collapsed: bool = False, linear_slope: float = LINEAR_SLOPE) -> np.ndarray:
        """(n, m) outputs at raw inputs x (n, d); ``collapsed`` sets slopes above ``linear_slope`` to 1."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        for (weight, bias), slope in zip(self.layers[:-1], self.slopes):
            a = np.where(slope > linear_slope, 1.0, slope) if collapsed else slope
            pre = z @ weight + bias
            z = np.maximum(pre, 0.0) + a * np.minimum(pre, 0.0)
        weight, bias = self.layers[-1]
        return z @ weight + bias


def train_prelu(x: np.ndarray, y: np.ndarray, *, feature_names: Sequence[str],
                output_names: Sequence[str] | None = None, hidden: Sequence[int] = (5, 5, 5, 5),
                steps: int = 8000, learning_rate: float = 0.01, batch_size: int | None = None,
                input_noise: float = 0.0, force_offset: float = 2.0, standardize: bool = True,
                optimizer: str = "sgd", momentum: float = 0.9, seed: int = 0, chunk: int = 250) -> PReLUNetwork:
    """Fit a PReLU MLP to targets ``y`` by mean squared error, with the slope force.

    Args:
        x: (n, d) raw inputs.
        y: (n,) or (n, m) targets (0/1 labels are fine: the network then regresses them).
        feature_names: d input names; output_names: m output names (default out1..outm).
        hidden: hidden layer widths.
        steps: Adam steps (learning rate ``learning_rate``, also the force's base rate).
        batch_size: rows drawn (with replacement) per step; None uses all rows every step.
        input_noise: standard deviation of Gaussian noise added to the standardised inputs,
            drawn afresh every step (the worked example of 4 binary inputs uses 0.1).
        force_offset: the force starts when the training error falls below 10^-force_offset.
        standardize: standardise inputs with their mean and spread (folded into the rules).
        seed: seeds initialisation, batches and noise.
        chunk: steps per compiled scan; the history gets one sample per chunk.

    Returns:
        The trained ``PReLUNetwork``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise SymgradError(f"train_prelu needs inputs (n, d) and targets (n,) or (n, m) with the same n rows; "
                           f"got {x.shape} and {y.shape}")
    if len(feature_names) != x.shape[1]:
        raise SymgradError(f"{len(feature_names)} feature names were given for {x.shape[1]} input columns")
    if not hidden or any(int(h) < 1 for h in hidden):
        raise SymgradError(f"PReLU hidden widths {list(hidden)} must be a non-empty list of positive integers")
    if steps < 1 or learning_rate <= 0:
        raise SymgradError(f"steps={steps} and learning_rate={learning_rate} must both be positive")
    names_out = tuple(output_names) if output_names is not None else tuple(f"out{k + 1}" for k in range(y.shape[1]))
    if len(names_out) != y.shape[1]:
        raise SymgradError(f"{len(names_out)} output names were given for {y.shape[1]} target columns")
    mean, scale = (x.mean(axis=0), x.std(axis=0)) if standardize else (np.zeros(x.shape[1]), np.ones(x.shape[1]))
    scale = np.where(scale > 0, scale, 1.0)  # a constant column stays as it is
    z_all = jnp.asarray((x - mean) / scale, jnp.float32)
    y_all = jnp.asarray(y, jnp.float32)
    n = x.shape[0]
    batch = n if batch_size is None else int(min(batch_size, n))

    model = PReLUMLP(x.shape[1], [int(h) for h in hidden], y.shape[1], rngs=nnx.Rngs(seed))
    graphdef, params = nnx.split(model, nnx.Param)
    if optimizer not in ("sgd", "adam"):
        raise SymgradError(f"PReLU optimizer {optimizer!r} is unknown; choose sgd or adam")
    tx = optax.adam(learning_rate) if optimizer == "adam" else optax.sgd(learning_rate, momentum=momentum or None)
    opt_state = tx.init(params)

    def loss_fn(p, z, t):
        return jnp.mean((nnx.merge(graphdef, p)(z) - t) ** 2)

    def is_slope(path, _leaf) -> bool:
        return "slopes" in [str(getattr(k, "key", getattr(k, "idx", k))) for k in path]

    def step(carry, key):
        p, state = carry
        k_batch, k_noise = jax.random.split(key)
        if batch == n:
            z, t = z_all, y_all
        else:
            idx = jax.random.randint(k_batch, (batch,), 0, n)
            z, t = z_all[idx], y_all[idx]
        z = z + input_noise * jax.random.normal(k_noise, z.shape)
        err, grads = jax.value_and_grad(loss_fn)(p, z, t)
        updates, state = tx.update(grads, state, p)
        p = optax.apply_updates(p, updates)
        # the force: off while err > 10^-offset, stronger the smaller the error
        rate = learning_rate * 0.01 * jnp.maximum(0.0, -jnp.log10(jnp.maximum(err, 1e-30)) - force_offset)
        p = jax.tree_util.tree_map_with_path(
            lambda path, a: jnp.clip(a + rate * jnp.sign(1.0 - a), 0.0, 1.0) if is_slope(path, a) else a, p)
        return (p, state), err

    @jax.jit
    def run_chunk(p, state, keys):
        (p, state), errs = jax.lax.scan(step, (p, state), keys)
        return p, state, errs.mean()

    key = jax.random.key(seed)
    history: dict[str, list[float]] = {"step": [], "error": [], "nonlinear": []}
    done = 0
    while done < steps:
        size = min(chunk, steps - done)
        key, sub = jax.random.split(key)
        params, opt_state, err = run_chunk(params, opt_state, jax.random.split(sub, size))
        done += size
        trained = nnx.merge(graphdef, params)
        slopes = [np.asarray(s[...]) for s in trained.slopes]
        history["step"].append(float(done))
        history["error"].append(float(err))
        history["nonlinear"].append(float(sum(int((s <= LINEAR_SLOPE).sum()) for s in slopes)))
        if not np.isfinite(float(err)):
            raise SymgradError(f"PReLU training diverged after {done} steps; lower the learning rate")
    trained = nnx.merge(graphdef, params)
    layers = tuple((np.asarray(l.kernel[...], np.float64), np.asarray(l.bias[...], np.float64))
                   for l in (*trained.layers, trained.head))
    slopes = tuple(np.asarray(s[...], np.float64) for s in trained.slopes)
    return PReLUNetwork(layers, slopes, mean, scale, tuple(str(f) for f in feature_names), names_out, history)


def binary_inputs(n_inputs: int) -> np.ndarray:
    """(2^n, n) every combination of 0 and 1, first input slowest."""
    grid = np.array(np.meshgrid(*[[0.0, 1.0]] * n_inputs, indexing="ij"))
    return grid.reshape(n_inputs, -1).T


def xor_example(*, seed: int = 0, steps: int = 20000, optimizer: str = "sgd", momentum: float = 0.9, noise: float = 0.02) -> tuple[PReLUNetwork, np.ndarray, np.ndarray]:
    """The worked example: 4 binary inputs, out1 = in1 xor in2, out2 = in3 xor in4, out3 = in1 and in2.

    Four hidden layers of 5 PReLUs, trained on the 16 input combinations with fresh input
    noise every step (inputs are used unstandardised, so the rules read in 0/1 units).

    Returns:
        (network, inputs (16, 4), targets (16, 3)).
    """
    x = binary_inputs(4)
    i1, i2, i3, i4 = x.T
    y = np.column_stack([np.logical_xor(i1, i2), np.logical_xor(i3, i4), np.logical_and(i1, i2)]).astype(float)
    # the 16 rows repeated so that each step sees several noisy copies of every combination
    xs, ys = np.tile(x, (8, 1)), np.tile(y, (8, 1))
    net = train_prelu(xs, ys, feature_names=("in1", "in2", "in3", "in4"), hidden=(5, 5, 5, 5), steps=steps, optimizer=optimizer, momentum=momentum,
                      learning_rate=0.01, input_noise=noise, standardize=False, seed=seed)
    return net, x, y
