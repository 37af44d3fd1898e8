"""Best single-feature threshold on the penguins example, next to symgrad's formula.

    python scripts/penguins_threshold.py [RUN_DIR]

Uses the split of experiments/penguins.yaml (same seed). Each feature's threshold and side are
chosen on the training + validation birds (the labels symgrad's network was trained and
stopped on) and scored on the test birds; with a run directory, the run's formula (its
threshold fitted to the network's labels on the validation birds) is scored on the same test
birds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from symgrad.config import load_config
from symgrad.data.tables import split_dataset
from symgrad.judging.metrics import fit_threshold, rule_labels
from symgrad.pipeline import load_data

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "penguins.yaml"


def main(run_dir: str | None = None) -> None:
    config = load_config(str(CONFIG), ["progress=false"])
    dataset, _ = load_data(config)
    split = split_dataset(dataset, fractions=config["data"]["split"], seed=config["seed"])
    fit_x = np.concatenate([split.train.x, split.validation.x])
    fit_y = np.concatenate([split.train.y, split.validation.y])
    print(f"{len(dataset.y)} birds ({', '.join(f'{(dataset.y == k).sum()} {n}' for k, n in enumerate(dataset.class_names))}); "
          f"fit on {len(fit_y)}, test on {len(split.test.y)}")
    print(f"{'rule':60s} {'fit acc.':>9s} {'test acc.':>9s}")
    for j, name in enumerate(dataset.feature_names):
        threshold, orientation, fit_accuracy = fit_threshold(fit_x[:, j], fit_y)
        test_accuracy = np.mean(rule_labels(split.test.x[:, j], threshold, orientation) == split.test.y)
        side = ">" if orientation == 1 else "<"
        print(f"{f'{dataset.class_names[1]} iff {name} {side} {threshold:.4g}':60s} {fit_accuracy:9.3f} {test_accuracy:9.3f}")
    if run_dir:
        import symgrad

        run = symgrad.load_run(run_dir)
        g = run.numpy()
        m = run.best.metrics
        predicted = rule_labels(g(split.test.x), m["threshold"], m["orientation"])
        side = ">" if m["orientation"] == 1 else "<"
        fit_accuracy = np.mean(rule_labels(g(fit_x), m["threshold"], m["orientation"]) == fit_y)
        text = f"symgrad: {run.best.expression} {side} {m['threshold']:.4g}"
        print(f"{text:60s} {fit_accuracy:9.3f} {np.mean(predicted == split.test.y):9.3f}")
        print(f"network test accuracy {run.record.model.test_accuracy:.3f}; formula vs network on the test "
              f"birds: {100 * m['boundary_agreement']:.1f}% agreement")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
