"""Families of formulas across seeds: formulas with one decision boundary on the data land in one
family whatever their strings; a batch over seeds reports each item's family and its share."""

import contextlib
import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from symgrad.batch import families_of
from symgrad.batch.driver import main, run_batch
from symgrad.batch.explorer import BatchExplorer
from symgrad.batch.grid import load_batch
from symgrad.batch.plan import planned_batch
from symgrad.batch.families import (FAMILIES_FILE, MIN_AGREEMENT, Member, boundary_scores, formula_decisions,
                                    group_families, level_agreement)
from symgrad.batch.summary import COLUMNS
from symgrad.expressions import parse_formula, value_function
from symgrad.judging.metrics import fit_threshold

A1 = ("x0", "x1")


@pytest.fixture(scope="module")
def a1_points():
    """(4000, 2) points uniform on concept A1's box [-1, 1)^2 and the concept's labels there."""
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(4000, 2))
    return x, (x[:, 0] ** 2 + 2 * x[:, 1] ** 2 > 1.0).astype(np.int64)


def fitted(expression, x, labels):
    """A member whose threshold and orientation are fitted to ``labels``, as a run fits them to
    its network's decisions."""
    threshold, orientation, _ = fit_threshold(value_function(parse_formula(expression, A1), A1)(x), labels)
    return Member(item=expression, expression=expression, threshold=threshold, orientation=orientation)


def test_two_strings_with_one_boundary_land_in_one_family(a1_points):
    x, labels = a1_points
    same = ["x0**2 + 2*x1**2", "-3*x1**2 + pi*cos(x0)", "log(x0**2 + 2*x1**2)"]  # A1 seed 1's look-alike
    different = ["x0**2 + x1**2", "x1"]  # a circle and a line: other boundaries on the same box
    members = [fitted(e, x, labels) for e in same + different]
    families = group_families(members, A1, x)
    assert [m.expression for m in families[0]] == same
    assert sorted(m.expression for f in families[1:] for m in f) == sorted(different)
    assert all(len(f) == 1 for f in families[1:])
    scores = {m.expression: boundary_scores(formula_decisions(members[0], A1, x), formula_decisions(m, A1, x))[0]
              for m in members[1:]}
    assert scores["-3*x1**2 + pi*cos(x0)"] >= MIN_AGREEMENT > scores["x0**2 + x1**2"]


def test_one_string_at_a_level_far_from_the_others_is_another_boundary(a1_points):
    x, labels = a1_points
    near = fitted("x0**2 + 2*x1**2", x, labels)
    # the same formula fitted to a concept at level 0.3: a much smaller ellipse
    far = fitted("x0**2 + 2*x1**2", x, (x[:, 0] ** 2 + 2 * x[:, 1] ** 2 > 0.3).astype(np.int64))
    far = Member(item="far", expression=far.expression, threshold=far.threshold, orientation=far.orientation)
    assert len(group_families([near, far], A1, x)) == 2
    slightly = Member(item="slightly", expression=near.expression, threshold=near.threshold * 1.03,
                      orientation=near.orientation)  # a network's own level differs a little: same family
    assert len(group_families([near, slightly], A1, x)) == 1


def test_best_level_agreement_ignores_monotone_transforms_and_overflow(a1_points):
    x, labels = a1_points
    values = x[:, 0] ** 2 + 2 * x[:, 1] ** 2
    with np.errstate(over="ignore"):
        overflowing = np.exp(np.exp(6.0 * values))  # +inf beyond v = 1.09, still ordered like values
    assert np.isinf(overflowing).any()
    assert level_agreement(values, labels) == level_agreement(-np.log(values), labels) == 1.0
    assert level_agreement(overflowing, labels) == pytest.approx(1.0)
    undefined = np.where(x[:, 0] > 0.9, np.nan, values)  # undefined points count as misses
    assert level_agreement(undefined, labels) == pytest.approx(1.0 - np.mean(x[:, 0] > 0.9))


# runs a batch command in a fresh interpreter, then says whether it loaded JAX or sympy
RESUME = ("import json, sys\nfrom symgrad.batch.driver import main\ncode = main(sys.argv[1:])\n"
          "print(json.dumps({'code': code, 'heavy': [m for m in ('jax', 'sympy') if m in sys.modules]}))")


@pytest.fixture(scope="module")
def seeds_batch(tmp_path_factory):
    """Concept A1 on two seeds (two small networks, the library search), run by the command."""
    root = tmp_path_factory.mktemp("families")
    config = {"data": {"concept": "A1", "n_samples": 1500}, "model": {"hidden": [16, 16]},
              "train": {"epochs": 20}, "search": {"backend": "library"}}
    (root / "a1.yaml").write_text(yaml.safe_dump(config))
    batch = root / "batch.yaml"
    batch.write_text(yaml.safe_dump({"name": "seeds", "configs": ["a1.yaml"], "seeds": [0, 1]}))
    out = root / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([str(batch), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    with open(out / "summary.csv", newline="") as handle:
        return batch, out, list(csv.DictReader(handle))


@pytest.mark.e2e
def test_a_batch_over_seeds_reports_families_and_shares(seeds_batch):
    from symgrad import load_run

    batch, out, rows = seeds_batch
    assert list(rows[0]) == list(COLUMNS) and COLUMNS[-2:] == ("family", "family_share")
    assert [r["status"] for r in rows] == ["finished", "finished"]
    # both seeds find concept A1 (whatever their strings): one family holding every seed
    assert [(r["family"], r["family_share"]) for r in rows] == [("1", "1.0"), ("1", "1.0")]
    [family] = BatchExplorer(out).families
    assert (family.config, family.index, family.share, sorted(family.seeds)) == ("a1", 1, 1.0, [0, 1])
    # the same answer from the runs loaded in Python
    [again] = families_of([load_run(out / r["run_dir"]) for r in rows])
    assert sorted(again.items) == sorted(family.items) and again.share == 1.0
    summary = (out / "summary.md").read_text()
    assert "## Stability across seeds" in summary and "| a1 | output logit | 1 | 0, 1 | 2/2 = 1.00 |" in summary
    assert "Stability across seeds" in (out / "summary.html").read_text()
    assert json.loads((out / FAMILIES_FILE).read_text())["groups"]


@pytest.mark.e2e
def test_a_resume_reads_the_families_without_sympy(seeds_batch):
    batch, out, rows = seeds_batch
    if planned_batch(batch, [], out) is None:  # symgrad's code changed since the fixture ran (a working copy)
        run_batch(load_batch(batch), out, workers=0)
    before = (out / "summary.csv").read_text()
    proc = subprocess.run([sys.executable, "-c", RESUME, str(batch), "--out", str(out), "--workers", "0", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"code": 0, "heavy": []}
    assert (out / "summary.csv").read_text() == before
