"""How noisy are a network's gradient directions when labels are flipped, and what helps?

    python scripts/probe_noisy_labels.py [--flips 0 0.1 0.2] [--seeds 0]

For each concept and fraction of flipped labels, networks are trained as the pipeline does
(2x60 elu, 60 epochs, patience 10, 10 000 samples), with and without weight decay. On the
held-out band points (|logit| < 9.2) the true concept's L is measured (in units of each input's
spread) on the network's directions, and on directions averaged over a small neighbourhood of
each point (the mean raw gradient at x + N(0, (s * std)^2), 16 draws). Lower is better: it is
the floor any formula can reach on those directions. The last two columns restrict the plain
directions to the points nearest the decision boundary (the quarter with the smallest |logit|)
and to the points where the logit is steepest (the half with the largest gradient norm): with
flipped labels the network's probabilities flatten, so the band |logit| < 9.2 holds nearly
every point, including plateaus whose gradient directions carry no information.
"""

from __future__ import annotations

import argparse

import numpy as np

from symgrad.data.concepts import custom_concept, make_concept_dataset
from symgrad.data.tables import split_dataset
from symgrad.expressions import gradient_function, parse_formula
from symgrad.neurons import NeuronSpec, neuron_gradients, selection_margin
from symgrad.search.loss import alignment_loss, unit_rows
from symgrad.network.train import accuracy, train_classifier

CASES = (("x0 + x1**2 + x2", 3, -1.0, 1.0, 0.33), ("x0**2 + 2*x1**2", 2, -1.0, 1.0, 0.89), ("x0*x1", 2, 0.2, 2.0, 1.0))


def smoothed(classifier, spec, x: np.ndarray, scale: np.ndarray, sigma: float, draws: int, seed: int) -> np.ndarray:
    """(n, d) mean raw gradient over ``draws`` Gaussian jitters of relative size ``sigma``."""
    rng = np.random.default_rng(seed)
    total = np.zeros_like(x)
    for _ in range(draws):
        total += neuron_gradients(classifier, spec, x + rng.normal(0, 1, x.shape) * sigma * scale)
    return total / draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips", nargs="+", type=float, default=[0.0, 0.1, 0.2])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--decays", nargs="+", type=float, default=[0.0, 1e-2])
    args = parser.parse_args()
    spec = NeuronSpec.output()
    print("| concept | flip | weight decay | test acc | plain L | smooth 0.05 | smooth 0.1 | smooth 0.2 | nearest 25% "
          "| steepest 50% |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for formula, d, low, high, threshold in CASES:
        concept = custom_concept(formula, d, low, high, threshold)
        names = concept.feature_names
        truth = gradient_function(parse_formula(formula, names), names)
        for flip in args.flips:
            for seed in args.seeds:
                data = make_concept_dataset(concept, 10_000, seed=seed, flip=flip)
                split = split_dataset(data, fractions=(0.7, 0.1, 0.2), seed=seed)
                scale = np.std(split.train.x, axis=0)
                for decay in args.decays:
                    classifier, _ = train_classifier(split.train, split.validation, hidden=(60, 60), activation="elu",
                                                     epochs=60, batch_size=128, learning_rate=3e-3,
                                                     weight_decay=decay, patience=10, seed=seed, progress=None)
                    x = np.concatenate([split.validation.x, split.test.x])
                    x = x[selection_margin(classifier, spec, x) < 9.2][:1000]
                    target = unit_rows(truth(x) * scale)
                    plain = neuron_gradients(classifier, spec, x) * scale
                    losses = [alignment_loss(plain, target)]
                    for sigma in (0.05, 0.1, 0.2):
                        losses.append(alignment_loss(smoothed(classifier, spec, x, scale, sigma, 16, seed) * scale,
                                                     target))
                    margin = selection_margin(classifier, spec, x)
                    near = margin <= np.quantile(margin, 0.25)
                    losses.append(alignment_loss(plain[near], target[near]))
                    norm = np.linalg.norm(plain, axis=1)
                    steep = norm >= np.median(norm)
                    losses.append(alignment_loss(plain[steep], target[steep]))
                    acc = accuracy(classifier, split.test)
                    print(f"| `{formula}` | {flip:g} | {decay:g} | {acc:.3f} | "
                          + " | ".join(f"{v:.3g}" for v in losses) + " |", flush=True)


if __name__ == "__main__":
    main()
