"""The shipped notebook runs top to bottom on a fresh run directory."""

import json
from pathlib import Path

from symgrad.config import load_config
from symgrad.pipeline import interpret

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "explore_run.ipynb"


def test_notebook_cells_run(tmp_path, monkeypatch):
    config = load_config(None, ["data.concept=A1", "data.n_samples=2000", "train.epochs=10", "model.hidden=[16, 16]",
                                "search.backend=library", "progress=false"])
    run_dir = interpret(config, out=tmp_path / "run", progress=None).path
    monkeypatch.setenv("SYMGRAD_RUN", str(run_dir))
    namespace: dict = {}
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 5
    for cell in cells:
        source = "".join(cell["source"])
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    assert namespace["hidden"].best is not None
