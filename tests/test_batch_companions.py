"""A batch that asks for companions puts the tree and the logistic regression beside each formula
in its summary (the numbers come from each item's result.json)."""

import csv
import json

import pytest
import yaml

pytest.importorskip("sklearn")

from symgrad.batch.driver import run_batch  # noqa: E402
from symgrad.batch.grid import load_batch  # noqa: E402
from symgrad.batch.summary import COLUMNS  # noqa: E402

pytestmark = pytest.mark.e2e  # end-to-end: CI runs it; skip with -m "not e2e"


@pytest.fixture(scope="module")
def companion_batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("companions")
    (folder / "batch.yaml").write_text(yaml.safe_dump({
        "name": "companions",
        "base": {"data": {"concept": "B", "n_samples": 1500}, "model": {"hidden": [8]}, "train": {"epochs": 10},
                 "search": {"backend": "library"}},
        "set": {"companions": ["tree", "logistic"]},
        "neurons": ["output"]}))
    batch = load_batch(folder / "batch.yaml")
    outcome = run_batch(batch, folder / "out", workers=0)
    return outcome


def test_the_summary_holds_each_companions_fidelity_and_size_beside_the_formula(companion_batch):
    out = companion_batch.path
    with open(out / "summary.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    assert tuple(header[:len(COLUMNS)]) == COLUMNS  # the base columns stay first and unchanged
    assert [c for c in header[len(COLUMNS):]] == [f"{g}_{f}" for g in ("tree", "tree_small", "logistic")
                                                  for f in ("agreement", "auc", "nodes")]
    [row] = rows
    assert row["status"] == "finished"
    result = json.loads((out / row["run_dir"] / "result.json").read_text())
    methods = {r["method"]: r for r in result["companions"]["rows"]}
    # the same numbers as the run's own comparison, real fidelities and sizes
    assert float(row["tree_agreement"]) == pytest.approx(methods["decision tree"]["agreement"], abs=1e-4)
    assert float(row["logistic_agreement"]) == pytest.approx(methods["logistic regression"]["agreement"], abs=1e-4)
    for group in ("tree", "tree_small", "logistic"):
        assert 0.5 < float(row[f"{group}_agreement"]) <= 1.0
        assert 0.5 < float(row[f"{group}_auc"]) <= 1.0
        assert int(row[f"{group}_nodes"]) >= 2
    # the equal-size tree is no bigger than the formula
    if int(row["complexity"]) >= 3:  # (a tree has at least 3 nodes)
        assert int(row["tree_small_nodes"]) <= int(row["complexity"])
    markdown = (out / "summary.md").read_text()
    assert "## Companions" in markdown and "| formula | tree | tree (small) | logistic |" in markdown
    assert f"{float(row['logistic_agreement']):.4f} ({row['logistic_nodes']})" in markdown
    page = (out / "summary.html").read_text()
    assert "<h2>Companions</h2>" in page and f"{float(row['tree_agreement']):.4f} ({row['tree_nodes']})" in page


def test_a_batch_without_companions_keeps_its_columns(tmp_path):
    (tmp_path / "batch.yaml").write_text(yaml.safe_dump({
        "name": "plain", "base": {"data": {"concept": "A1", "n_samples": 800}, "model": {"hidden": [4]},
                                  "train": {"epochs": 2}, "search": {"backend": "library"}}}))
    outcome = run_batch(load_batch(tmp_path / "batch.yaml"), tmp_path / "out", workers=0)
    header = (outcome.path / "summary.csv").read_text().splitlines()[0].split(",")
    assert tuple(header) == COLUMNS
    assert "Companions" not in (outcome.path / "summary.md").read_text()
