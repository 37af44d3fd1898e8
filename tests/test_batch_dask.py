"""Batches on a real Dask LocalCluster (skipped without the dask extra)."""

import pytest
import yaml

distributed = pytest.importorskip("distributed")

from symgrad.batch.driver import run_batch  # noqa: E402
from symgrad.batch.grid import load_batch  # noqa: E402
from symgrad.errors import SymgradError  # noqa: E402

pytestmark = pytest.mark.e2e  # end-to-end: CI runs it; skip with -m "not e2e"


def small_batch(tmp_path):
    config = {"data": {"concept": "A1", "n_samples": 1000}, "model": {"hidden": [6]}, "train": {"epochs": 3},
              "search": {"backend": "library"}}
    (tmp_path / "a1.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "batch.yaml").write_text(yaml.safe_dump({"base": "a1.yaml", "seeds": [1],
                                                         "neurons": ["output", {"kind": "hidden", "unit": 2}]}))
    return load_batch(tmp_path / "batch.yaml")


def test_a_small_batch_runs_on_a_dask_local_cluster(tmp_path):
    batch = small_batch(tmp_path)
    outcome = run_batch(batch, tmp_path / "out", executor="dask", workers=1)
    assert outcome.counts["finished"] == 2, outcome.rows
    assert {r["network"] for r in outcome.rows} == {"batch-s1"}
    assert "Dask LocalCluster of 1 workers" in (tmp_path / "out" / "summary.md").read_text()
    for row in outcome.rows:
        assert (tmp_path / "out" / row["run_dir"] / "report.html").is_file()


def test_an_existing_cluster_is_used_by_its_scheduler_address(tmp_path):
    # a cluster started elsewhere (here: threads in this process, as dask-jobqueue would start
    # processes on other machines); the batch only connects to its scheduler
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    try:
        outcome = run_batch(small_batch(tmp_path), tmp_path / "out", executor="dask",
                            scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert outcome.counts["finished"] == 2, outcome.rows
    assert f"the Dask cluster at {cluster.scheduler_address} (1 worker threads)" in \
        (tmp_path / "out" / "summary.md").read_text()


def test_an_unreachable_scheduler_is_one_sentence(monkeypatch):
    import symgrad.batch.execution

    monkeypatch.setattr(symgrad.batch.execution, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(SymgradError, match="cannot reach the Dask scheduler"):
        from symgrad.batch.execution import make_runner

        make_runner("dask", None, 1, "tcp://127.0.0.1:9")
