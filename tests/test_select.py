"""Selecting one entry of a front by relative rules on held-out loss."""

import math

import pytest

from symgrad.errors import SymgradError
from symgrad.search.base import Entry, Front
from symgrad.search.select import RULES, select


def _front(*pairs: tuple[int, float]) -> Front:
    return Front(tuple(Entry(expression=f"f{c}", complexity=c, loss=loss) for c, loss in pairs))


def test_elbow_moves_only_for_factor_fold_gains_over_the_current_choice():
    # 0.3 -> 0.05 is 6x (move); 0.05 -> 0.02 is 2.5x (stay); 0.05 -> 1e-4 is 500x (move).
    front = _front((3, 0.3), (5, 0.05), (7, 0.02), (11, 1e-4))
    assert select(front).complexity == 11
    front = _front((3, 0.3), (5, 0.05), (7, 0.03), (11, 0.02))
    assert select(front, "elbow").complexity == 5
    assert select(front, "elbow", factor=1.4).complexity == 11
    # No step reaches the factor: the simplest entry stays.
    assert select(_front((3, 0.1), (5, 0.05)), "elbow").complexity == 3


def test_within_and_best():
    front = _front((3, 0.3), (5, 0.05), (7, 0.03), (11, 0.02))
    assert select(front, "within").complexity == 7  # simplest with L <= 2 * 0.02
    assert select(front, "within", factor=3).complexity == 5
    assert select(front, "best").complexity == 11


def test_dominated_and_non_finite_entries_are_ignored():
    front = _front((3, 0.3), (4, math.nan), (5, 0.4), (7, 0.01))
    assert select(front, "elbow").complexity == 7
    assert select(front, "best").complexity == 7
    assert select(_front((3, 0.3), (9, 0.5)), "best").complexity == 3


def test_round_off_losses_are_ties():
    # 1e-11 -> 1e-12 is no real improvement: both count as the floor 1e-10.
    front = _front((3, 1e-3), (5, 1e-11), (9, 1e-12))
    assert select(front, "elbow").complexity == 5
    assert select(front, "best").complexity == 5
    assert select(front, "best", floor=0.0).complexity == 9


def test_bad_input_raises_one_sentence():
    front = _front((3, 0.1))
    with pytest.raises(SymgradError, match="allowed rules are") as error:
        select(front, "pareto")
    for rule in RULES:
        assert rule in str(error.value)
    with pytest.raises(SymgradError, match="factor"):
        select(front, "elbow", factor=1.0)
    with pytest.raises(SymgradError, match="factor"):
        select(front, "within", factor=0.5)
    with pytest.raises(SymgradError, match="no entry"):
        select(Front(), "best")


def test_knee_is_not_trapped_by_a_cheaper_look_alike():
    from symgrad.search.base import Entry, Front
    from symgrad.search.select import select

    front = Front((
        Entry("x1", 1, 0.237), Entry("-x1**2 + cos(x0)", 7, 6.9e-4), Entry("x0**2 + 2*x1**2", 9, 2.1e-4),
        Entry("monster", 36, 1.9e-4), Entry("bigger monster", 40, 5e-5),
    ))
    assert select(front).expression == "x0**2 + 2*x1**2"
    # the elbow walk stalls at the look-alike, then jumps to the noise-fitting monster
    assert select(front, rule="elbow").expression == "bigger monster"
    assert select(front, rule="knee", factor=1.01).expression == "bigger monster"


def _sum_front(k: int, truth_loss: float) -> Front:
    """A front climbing term by term towards a sum of k similar 4-node terms (a*x_i**2):
    L falls slowly until the last term, as for a 10-term additive concept on network gradients."""
    losses = [0.73 * ((k - 1 - j) / (k - 1)) ** 0.8 + truth_loss for j in range(k)]
    entries = [Entry(f"sum{j + 1}", 4 * (j + 1) - 1, loss) for j, loss in enumerate(losses)]
    entries.append(Entry("noise-fit", 4 * k + 30, truth_loss / 2))  # fits network noise
    return Front(tuple(entries))


def test_a_many_term_sum_is_selected_when_the_front_supports_it():
    front = _sum_front(10, 0.011)
    assert select(front, fidelity_factor=None).expression == "sum1"  # the per-node price alone fails
    assert select(front).expression == "sum10"
    assert select(front, "elbow").expression == "sum10"


def test_the_guard_still_rejects_noise_fitting_and_look_alikes():
    # paper-concept fronts: truth (9 nodes) 2x above a 33-node noise fit; a look-alike 3x worse
    front = _front((1, 0.24), (7, 0.0007), (9, 0.0002), (17, 0.00019), (33, 0.0001))
    assert select(front).complexity == 9
    front = _front((1, 0.3), (8, 0.0021), (10, 0.0007), (40, 0.0004))
    assert select(front).complexity == 10


def test_the_guard_leaves_noise_level_choices_alone():
    # everything at or below the noise level: the per-node price decides as before
    front = _front((5, 7e-5), (11, 5e-6), (31, 2e-6))
    assert select(front).complexity == select(front, fidelity_factor=None).complexity == 11
    with pytest.raises(SymgradError, match="fidelity factor"):
        select(front, fidelity_factor=0.5)
