"""Resuming a finished batch: answered from the folder's plan, without JAX or workers, nothing
recomputed, the same output and summary as a full resume."""

import contextlib
import dataclasses
import io
import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from symgrad.batch.driver import main, resume_finished, run_batch
from symgrad.batch.grid import load_batch
from symgrad.batch.plan import PLAN_FILE, batch_inputs, planned_batch, write_plan

pytestmark = pytest.mark.e2e  # end-to-end: CI runs it; skip with -m "not e2e"

# what a resume with nothing to do must not load (each costs seconds of start-up)
HEAVY = ("jax", "jaxlib", "flax", "optax", "pyoperon", "matplotlib", "sympy")
# runs a batch command in a fresh interpreter, then says which heavy packages it loaded
RESUME = ("import json, sys\nfrom symgrad.batch.driver import main\ncode = main(sys.argv[1:])\n"
          f"print(json.dumps({{'code': code, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny batch (one network, two neurons) run to the end by the command, in this process."""
    root = tmp_path_factory.mktemp("resume")
    config = {"data": {"concept": "A1", "n_samples": 1000}, "model": {"hidden": [6]}, "train": {"epochs": 3},
              "search": {"backend": "library"}}
    (root / "tiny.yaml").write_text(yaml.safe_dump(config))
    batch = root / "batch.yaml"
    batch.write_text(yaml.safe_dump({"name": "tiny", "configs": ["tiny.yaml"],
                                     "neurons": ["output", {"kind": "hidden", "unit": 1}]}))
    out = root / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([str(batch), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    return batch, out, printed.getvalue()


def renew_plan(batch, out):
    """Write the plan again if the symgrad code changed since the fixture wrote it (the plan
    holds for one version of the code; in a working copy it may be edited while tests run)."""
    if planned_batch(batch, [], out) is None:
        run_batch(load_batch(batch), out, workers=0)


def resume(batch, out, *options):
    """The command run again in a new interpreter: (exit code, printed lines, heavy modules loaded)."""
    proc = subprocess.run([sys.executable, "-c", RESUME, str(batch), "--out", str(out), *options],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    *lines, last = proc.stdout.splitlines()
    report = json.loads(last)
    return report["code"], lines, report["heavy"], proc.stderr


def stamps(out):
    """Every file a run or a network left, with its modification time and content."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for folder in ("runs", "networks")
            for p in sorted((out / folder).rglob("*")) if p.is_file()}


def without_time(text):
    return re.sub(r"written \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "written", text)


def test_a_finished_batch_resumes_without_jax_and_recomputes_nothing(finished):
    batch, out, printed = finished
    renew_plan(batch, out)
    before = stamps(out)
    assert len([p for p in before if p.name == "result.json"]) == 2
    code, lines, heavy, stderr = resume(batch, out, "--workers", "2")
    assert heavy == []
    assert code == 0
    assert lines == printed.splitlines()  # "2 items: 2 finished, ...", "summary: ..."
    assert stderr.strip() == (f"batch tiny: 2 items on 1 networks, 2 already finished, 0 networks to train; "
                              f"running on 2 local worker processes x 1 thread; writing {out}")
    assert stamps(out) == before


def test_the_quick_resume_writes_the_summary_a_full_resume_writes(finished):
    batch, out, _ = finished
    names = ("summary.csv", "summary.md", "summary.html", "state.json")
    renew_plan(batch, out)
    code, _, heavy, _ = resume(batch, out, "--workers", "0", "--quiet")
    assert code == 0 and heavy == []
    quick = {name: without_time((out / name).read_text()) for name in names}
    messages = []
    full = run_batch(load_batch(batch), out, workers=0, progress=messages.append)  # expands the batch: JAX
    assert full.counts["finished"] == 2 and len(messages) == 1
    assert {name: without_time((out / name).read_text()) for name in names} == quick


def test_the_plan_is_the_expanded_batch_and_is_ignored_when_an_input_changes(finished):
    batch, out, _ = finished
    renew_plan(batch, out)
    loaded = load_batch(batch)
    planned = planned_batch(batch, [], out)
    assert [(i.id, i.network, i.config, i.neuron.describe(), i.neuron.tag()) for i in planned.items] == \
        [(i.id, i.network, i.config, i.neuron.describe(), i.neuron.tag()) for i in loaded.items]
    assert [(n.id, n.key, n.config) for n in planned.networks] == [(n.id, n.key, n.config) for n in loaded.networks]
    assert planned_batch(batch, ["train.epochs=4"], out) is None  # another override
    config = batch.parent / "tiny.yaml"
    text = config.read_text()
    try:
        config.write_text(text + "seed: 3\n")  # a config file the batch reads changed
        assert planned_batch(batch, [], out) is None
    finally:
        config.write_text(text)
    assert planned_batch(batch, [], out) is not None
    # a batch not made by load_batch does not know its inputs: no plan, a resume expands it
    assert not write_plan(dataclasses.replace(loaded, inputs=None), out)
    assert not (out / PLAN_FILE).exists() and planned_batch(batch, [], out) is None
    assert write_plan(loaded, out) and planned_batch(batch, [], out) is not None


def test_a_data_file_is_part_of_the_inputs(tmp_path):
    (tmp_path / "batch.yaml").write_text("base: {data: {concept: A1}}\n")
    data = tmp_path / "points.csv"
    data.write_text("x,y\n1,0\n")
    first = batch_inputs(tmp_path / "batch.yaml", [], [str(data)])
    data.write_text("x,y\n1,0\n2,1\n")
    assert batch_inputs(tmp_path / "batch.yaml", [], [str(data)]) != first


def test_a_resume_with_an_unfinished_item_is_left_to_the_full_run(finished, tmp_path):
    batch, out, _ = finished
    renew_plan(batch, out)
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    assert resume_finished(batch, [], copy, workers=0) is not None
    shutil.rmtree(copy / "runs" / "tiny-s0-h0u1")
    assert resume_finished(batch, [], copy, workers=0) is None
