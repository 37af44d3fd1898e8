"""Strict, fast settings shared by the test-suite, and small trained networks reused by tests."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_debug_nans", False)

# Fast budgets, in one place.
FAST_TRAIN = {"epochs": 25, "batch_size": 128, "patience": 8}
FAST_SAMPLES = 4000


@pytest.fixture(scope="session")
def trained_a1():
    """A small ELU network trained on paper concept A1 (x0² + 2·x1² > 1), with its data split."""
    from symgrad.data import make_concept_dataset, split_dataset
    from symgrad.network.train import train_classifier

    data = make_concept_dataset("A1", FAST_SAMPLES, seed=0)
    split = split_dataset(data, seed=0)
    classifier, report = train_classifier(split.train, split.validation, hidden=(32, 32), seed=0, **FAST_TRAIN)
    return classifier, split, report
