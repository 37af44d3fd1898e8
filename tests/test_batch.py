"""Batches: the shipped hidden-layer batch recovers every first-layer unit exactly, resume,
failure isolation, Ctrl-C, local worker processes."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from symgrad.batch.driver import main, run_batch
from symgrad.batch.grid import load_batch
from symgrad.batch.summary import COLUMNS
from symgrad.expressions import gradient_function, parse_formula
from symgrad.network.model import Classifier
from symgrad.search.loss import alignment_loss

pytestmark = pytest.mark.e2e  # end-to-end: CI runs it; skip with -m "not e2e"

ROOT = Path(__file__).resolve().parents[1]
HIDDEN_LAYER = ROOT / "experiments" / "hidden_layer.yaml"
# tiny budgets: a short training and the library backend (no GP)
FAST = ["train.epochs=8", "data.n_samples=3000", "search.backend=library", "search.options={}"]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def hidden_batch(tmp_path_factory):
    """The shipped hidden-layer batch on a tiny budget: every first-layer pre-activation, one
    post-activation and two second-layer units, run in this process."""
    out = tmp_path_factory.mktemp("hidden") / "batch"
    neurons = ("neurons=[{kind: hidden, layer: 0, unit: all, preactivation: true}, "
               "{kind: hidden, layer: 0, unit: 0}, {kind: hidden, layer: 1, unit: [0, 1]}]")
    batch = load_batch(HIDDEN_LAYER, [*FAST, neurons])
    messages = []
    outcome = run_batch(batch, out, workers=0, progress=messages.append)
    return batch, outcome, messages


def test_hidden_layer_batch_recovers_every_first_layer_unit_exactly(hidden_batch):
    batch, outcome, _ = hidden_batch
    assert outcome.counts["finished"] == len(batch.items) == 11
    classifier = Classifier.load(outcome.path / "networks" / "hidden_layer-s0" / "model.npz")
    assert classifier.hidden_sizes == (8, 8)
    weights = classifier.layers[0][0]
    x = np.random.default_rng(0).uniform(-1, 1, size=(200, 3))
    rows = {r["item"]: r for r in read_csv(outcome.path / "summary.csv")}
    first_layer = [i for i in batch.items if i.neuron.layer == 0]
    assert len(first_layer) == 9
    for item in first_layer:
        # a first-layer unit is w.z + b with z = (x - mean) / scale (then an increasing elu):
        # its raw-unit gradient direction is w / scale everywhere
        truth = np.broadcast_to(weights[:, item.neuron.unit] / classifier.scale, x.shape)
        truth = truth / np.linalg.norm(truth, axis=1, keepdims=True)
        expression = rows[item.id]["expression"]
        found = gradient_function(parse_formula(expression, classifier.feature_names), classifier.feature_names)(x)
        loss = alignment_loss(found, truth)
        assert loss < 1e-6, (item.id, expression, loss)
        assert rows[item.id]["verdict"] == "faithful"


def test_second_layer_units_get_a_formula_or_an_honest_not_found(hidden_batch):
    batch, outcome, _ = hidden_batch
    rows = [r for r in read_csv(outcome.path / "summary.csv") if "layer 1" in r["neuron"]]
    assert len(rows) == 2
    for row in rows:
        assert row["status"] == "finished" and row["expression"]
        assert row["verdict"] in ("faithful", "approximate", "not_found")
        result = json.loads((outcome.path / row["run_dir"] / "result.json").read_text())
        bound = min(5 * result["floor"]["value"], 0.05)
        assert (row["verdict"] == "faithful") == (result["best"]["metrics"]["loss_near"] <= bound)
        # hidden units are judged where they vary, not at the network's decision boundary
        assert "own |pre-activation|" in row["points"]
        assert row["recovered"] == ""  # the known concept is the network's decision, not this unit's


def test_every_item_is_a_normal_run_directory_and_the_summary_links_it(hidden_batch):
    batch, outcome, _ = hidden_batch
    rows = read_csv(outcome.path / "summary.csv")
    assert list(rows[0]) == list(COLUMNS)
    page = (outcome.path / "summary.html").read_text()
    assert "Network hidden_layer-s0" in page
    for row in rows:
        path = outcome.path / row["run_dir"]
        result = json.loads((path / "result.json").read_text())
        assert result["format"] == "symgrad-result" and result["status"] == "finished"
        assert result["best"]["expression"] == row["expression"]
        assert result["model"]["training"]["history"]  # the network's training record travels with it
        for name in ("report.html", "report.md", "front.csv", "rule.py", "formula.tex", "config.yaml", "model.npz"):
            assert (path / name).is_file(), name
        assert f"href='{row['run_dir']}/report.html'" in page
        assert row["expression"].replace("*", "") in page.replace("*", "")
    assert "| hidden_layer-s0-h0u0pre |" in (outcome.path / "summary.md").read_text()


def test_a_second_run_does_no_work_and_rerun_redoes_it(hidden_batch, tmp_path):
    batch, outcome, _ = hidden_batch
    stamps = {p: p.stat().st_mtime_ns for p in outcome.path.glob("**/result.json")}
    model = outcome.path / "networks" / "hidden_layer-s0" / "model.npz"
    model_stamp = model.stat().st_mtime_ns
    messages = []
    again = run_batch(batch, outcome.path, workers=0, progress=messages.append)
    assert again.counts["finished"] == len(batch.items)
    assert f"{len(batch.items)} already finished, 0 networks to train" in messages[0]
    assert not any("training" in m or "finished " in m for m in messages[1:])
    assert {p: p.stat().st_mtime_ns for p in outcome.path.glob("**/result.json")} == stamps
    assert model.stat().st_mtime_ns == model_stamp
    # a changed setting makes the items it touches unfinished again, without retraining
    changed = load_batch(HIDDEN_LAYER, [*FAST, "neurons=[{kind: hidden, layer: 0, unit: 0, preactivation: true}]",
                                        "gradients.n_points=500"])
    messages = []
    run_batch(changed, outcome.path, workers=0, progress=messages.append)
    assert "0 already finished, 0 networks to train" in messages[0]
    assert model.stat().st_mtime_ns == model_stamp


@pytest.fixture()
def two_configs(tmp_path):
    """A batch of two configs sharing one tiny network; ``bad`` asks for a band no point is in."""
    base = {"data": {"concept": "A1", "n_samples": 1000}, "model": {"hidden": [6]}, "train": {"epochs": 3},
            "search": {"backend": "library"}}
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**base, "gradients": {"band": 1e-9}}))
    (tmp_path / "batch.yaml").write_text(yaml.safe_dump({"name": "two", "configs": ["good.yaml", "bad.yaml"],
                                                         "neurons": ["output", {"kind": "hidden", "unit": 1}]}))
    return tmp_path / "batch.yaml"


def test_a_failing_item_is_recorded_and_the_rest_finish_then_only_it_is_redone(two_configs, tmp_path):
    batch = load_batch(two_configs)
    assert [n.id for n in batch.networks] == ["good-s0"]  # band is not part of the network: trained once
    outcome = run_batch(batch, tmp_path / "out", workers=0)
    rows = {r["item"]: r for r in read_csv(tmp_path / "out" / "summary.csv")}
    assert rows["good-s0-output"]["status"] == rows["good-s0-h0u1"]["status"] == "finished"
    assert rows["bad-s0-output"]["status"] == "failed"
    assert "keeps none" in rows["bad-s0-output"]["error"] and "\n" not in rows["bad-s0-output"]["error"]
    # the hidden unit of 'bad' is banded on its own pre-activation, which no point has below 1e-9 either
    assert rows["bad-s0-h0u1"]["status"] == "failed"
    assert outcome.counts["failed"] == 2 and outcome.counts["finished"] == 2
    assert "failed" in (tmp_path / "out" / "summary.html").read_text()
    messages = []
    run_batch(batch, tmp_path / "out", workers=0, progress=messages.append)
    assert "2 already finished" in messages[0]
    redone = [m for m in messages if m.startswith("[")]
    assert len(redone) == 2 and all("bad-s0" in m for m in redone)


def test_an_unexpected_exception_is_one_sentence_with_its_traceback_kept(two_configs, tmp_path, monkeypatch):
    import symgrad.pipeline

    real = symgrad.pipeline.interpret

    def flaky(config, **kwargs):
        if config["neuron"]["kind"] == "hidden":
            raise RuntimeError("simulated bug\nsecond line")
        return real(config, **kwargs)

    monkeypatch.setattr(symgrad.pipeline, "interpret", flaky)
    batch = load_batch(two_configs, ["configs=[good.yaml]"])
    outcome = run_batch(batch, tmp_path / "out", workers=0)
    rows = {r["item"]: r for r in outcome.rows}
    assert rows["good-s0-output"]["status"] == "finished"
    error = rows["good-s0-h0u1"]["error"]
    assert error.startswith("RuntimeError: simulated bug (an unexpected error") and "second line" not in error
    assert "errors/good-s0-h0u1.log" in error
    assert "simulated bug" in (tmp_path / "out" / "errors" / "good-s0-h0u1.log").read_text()
    assert "errors/good-s0-h0u1.log'>traceback" in (tmp_path / "out" / "summary.html").read_text()


def test_ctrl_c_keeps_finished_items_and_a_valid_summary(two_configs, tmp_path, monkeypatch):
    import symgrad.pipeline

    real = symgrad.pipeline.interpret

    def interrupted(config, **kwargs):
        if config["neuron"]["kind"] == "hidden":
            raise KeyboardInterrupt
        return real(config, **kwargs)

    monkeypatch.setattr(symgrad.pipeline, "interpret", interrupted)
    batch = load_batch(two_configs, ["configs=[good.yaml]"])
    outcome = run_batch(batch, tmp_path / "out", workers=0)
    assert outcome.interrupted
    rows = {r["item"]: r for r in read_csv(tmp_path / "out" / "summary.csv")}
    assert rows["good-s0-output"]["status"] == "finished" and rows["good-s0-output"]["expression"]
    assert rows["good-s0-h0u1"]["status"] == "interrupted"
    monkeypatch.setattr(symgrad.pipeline, "interpret", real)
    resumed = run_batch(batch, tmp_path / "out", workers=0)
    assert resumed.counts["finished"] == 2 and not resumed.interrupted


def test_cli_exit_codes_and_one_sentence_errors(two_configs, tmp_path, capsys):
    assert main([str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: batch file {str(tmp_path / 'missing.yaml')!r} does not "
                                               "exist; give the path of a YAML batch file")
    # the default executor: spawned local worker processes
    assert main([str(two_configs), "--out", str(tmp_path / "out"), "--workers", "2", "--quiet"]) == 1  # 'bad' fails
    printed = capsys.readouterr().out
    assert "2 finished, 2 failed" in printed and "summary.html" in printed
    assert "2 local worker processes x 1 thread" in (tmp_path / "out" / "summary.md").read_text()
    assert main([str(two_configs), "--out", str(tmp_path / "x"), "--scheduler", "tcp://x:1"]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err


def test_a_batch_item_is_the_run_symgrad_run_makes(two_configs, tmp_path):
    from symgrad.pipeline import interpret

    batch = load_batch(two_configs, ["configs=[good.yaml]", "neurons=[{kind: hidden, unit: 1}]"])
    outcome = run_batch(batch, tmp_path / "batch", workers=0)
    alone = interpret(batch.items[0].config, out=tmp_path / "alone", progress=None)  # trains its own network
    in_batch = json.loads((tmp_path / "batch" / outcome.rows[0]["run_dir"] / "result.json").read_text())
    assert in_batch["model"]["test_accuracy"] == alone.result["model"]["test_accuracy"]
    assert [(e["expression"], e["loss"]) for e in in_batch["front"]] == \
        [(e["expression"], e["loss"]) for e in alone.result["front"]]
