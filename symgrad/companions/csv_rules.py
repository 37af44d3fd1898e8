"""PReLU-collapse rules straight from a CSV file: the labels of a binary (two-class) column.

    python -m symgrad.companions.csv_rules data.csv --label LABEL [--features a b ...] [--seed 0]
                                           [--steps 12000] [--hidden 5 5 5 5]

Trains a PReLU network on the file's own labels (class 1 = the second label value in sorted
order) with the slope force and prints the linear rules, with their agreement on a held-out
fifth of the rows. Inside a symgrad run the same companion is fitted to the network's labels
instead (``companions: [prelu]``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.tables import load_csv, split_dataset
from ..errors import EXIT_BAD_INPUT, EXIT_FINISHED, SymgradError
from .collapse import CollapsedRules, collapse
from .compare import PRELU_FORCE_OFFSET, PRELU_HIDDEN, PRELU_STEPS
from .prelu import train_prelu


def rules_from_csv(path: str | Path, label: str, *, features: Sequence[str] | None = None, seed: int = 0,
                   steps: int = PRELU_STEPS, hidden: Sequence[int] = PRELU_HIDDEN) -> tuple[CollapsedRules, float]:
    """Collapsed PReLU rules for a two-class CSV file.

    Returns:
        (the rules, their agreement with the file's labels on the held-out test rows).
    """
    data = load_csv(path, label=label, features=features)
    if data.n_classes != 2:
        raise SymgradError(f"label column {label!r} has {data.n_classes} values {list(data.class_names)}; "
                           "PReLU rules from a CSV need a two-class label")
    split = split_dataset(data, fractions=(0.7, 0.1, 0.2), seed=seed)
    network = train_prelu(split.train.x, split.train.y, feature_names=data.feature_names,
                          output_names=(f"score_{data.class_names[1]}",), hidden=hidden, steps=steps,
                          batch_size=256, force_offset=PRELU_FORCE_OFFSET, seed=seed)
    rules = collapse(network, split.train.x)
    predicted = network.outputs(split.test.x, collapsed=True)[:, 0] > 0.5
    return rules, float(np.mean(predicted.astype(np.int32) == split.test.y))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--label", required=True)
    parser.add_argument("--features", nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=PRELU_STEPS)
    parser.add_argument("--hidden", type=int, nargs="+", default=list(PRELU_HIDDEN))
    args = parser.parse_args(argv)
    try:
        rules, agreement = rules_from_csv(args.path, args.label, features=args.features, seed=args.seed,
                                          steps=args.steps, hidden=args.hidden)
    except SymgradError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"class 1 where the score > 0.5; agreement with the labels on held-out rows: {agreement:.4f}\n")
    print(rules.text(max_regions=32))
    return EXIT_FINISHED


if __name__ == "__main__":
    raise SystemExit(main())
