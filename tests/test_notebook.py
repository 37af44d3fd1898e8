"""Every shipped notebook runs top to bottom in a real Jupyter kernel, and its plot cells show images."""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def a1_run(tmp_path_factory):
    """A small finished run for the notebooks that explore one (``SYMGRAD_RUN``)."""
    from symgrad.config import load_config
    from symgrad.pipeline import interpret

    config = load_config(None, ["data.concept=A1", "data.n_samples=2000", "train.epochs=10", "model.hidden=[16, 16]",
                                "search.backend=library", "progress=false"])
    return interpret(config, out=tmp_path_factory.mktemp("nb") / "run", progress=None).path


def test_notebooks_are_shipped():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "sklearn_mlp.ipynb", "hidden_layer.ipynb", "explore_run.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_kernel_and_plots_show(path, a1_run, monkeypatch):
    monkeypatch.setenv("SYMGRAD_RUN", str(a1_run))  # the kernel inherits the environment
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's own (inline) backend, as for a user
    notebook = nbformat.read(path, as_version=4)
    # a failing cell raises CellExecutionError with the cell's traceback
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    plot_cells = [c for c in notebook.cells if "plot" in c.metadata.get("tags", [])]
    assert plot_cells, f"{path.name} has no cell tagged 'plot'"
    for cell in plot_cells:
        kinds = [set(o.get("data", {})) for o in cell.outputs]
        pngs = sum("image/png" in k for k in kinds)
        assert pngs == 1, f"{path.name}: plot cell {cell.source!r} shows {pngs} images (outputs {kinds})"
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
