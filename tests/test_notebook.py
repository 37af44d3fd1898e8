"""Every shipped notebook runs top to bottom in a real Jupyter kernel, and its plot cells show images.

Each notebook runs alone, first, in a fresh copy of a clone's layout (``notebooks/`` holding only
that notebook, ``experiments/``, no ``runs/``), with the kernel's working directory in
``notebooks/`` as Jupyter sets it: a notebook makes what it needs itself, and writes nothing but
its own outputs (``OUTPUTS``), so no notebook depends on or overwrites another's.
"""

import json
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.e2e  # end-to-end: CI runs it; skip with -m "not e2e"

REPO = Path(__file__).parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# what each notebook may write in the clone (relative to its root); everything else it keeps in temporary folders
OUTPUTS = {"explore_run": {"runs/A1-notebook", "runs/seed15-notebook"}}


def clone_layout(root: Path, notebook: Path) -> Path:
    """A fresh clone's layout under ``root`` with ``notebook`` alone in ``notebooks/``; returns its copy."""
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(REPO / "experiments", root / "experiments")
    return Path(shutil.copy2(notebook, root / "notebooks" / notebook.name))


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def execute(path: Path) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a python3 kernel started in its folder; a failing cell raises
    CellExecutionError with the cell's traceback."""
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


@pytest.fixture
def kernel_env(monkeypatch):
    """The environment the kernel inherits, as a user's: no run named, the inline plot backend."""
    monkeypatch.delenv("SYMGRAD_RUN", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)


def test_notebooks_are_shipped():
    names = {p.name for p in NOTEBOOKS}
    assert {"quickstart.ipynb", "sklearn_mlp.ipynb", "hidden_layer.ipynb", "explore_run.ipynb"} <= names
    assert set(OUTPUTS) <= {p.stem for p in NOTEBOOKS}
    owned = [Path(out) for outs in OUTPUTS.values() for out in outs]
    shared = [(a, b) for i, a in enumerate(owned) for b in owned[i + 1:] if a == b or a in b.parents or b in a.parents]
    assert not shared, f"two notebooks write the same outputs: {shared}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_first_in_a_fresh_clone_and_plots_show(path, tmp_path, kernel_env):
    root = tmp_path / "clone"
    copy = clone_layout(root, path)
    before = files_under(root)
    notebook = execute(copy)

    plot_cells = [c for c in notebook.cells if "plot" in c.metadata.get("tags", [])]
    assert plot_cells, f"{path.name} has no cell tagged 'plot'"
    for cell in plot_cells:
        kinds = [set(o.get("data", {})) for o in cell.outputs]
        pngs = sum("image/png" in k for k in kinds)
        assert pngs == 1, f"{path.name}: plot cell {cell.source!r} shows {pngs} images (outputs {kinds})"
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors

    allowed = OUTPUTS.get(path.stem, set())
    written = files_under(root) - before
    stray = sorted(f for f in written if not any(f.startswith(out + "/") for out in allowed))
    assert not stray, f"{path.name} wrote outside its own outputs {sorted(allowed)}: {stray[:5]}"
    for out in allowed:
        assert (root / out).exists(), f"{path.name} did not make {out}"


def small_run(out, config_file, overrides):
    from symgrad.config import load_config
    from symgrad.pipeline import interpret

    config = load_config(config_file, overrides + ["search.backend=library", "progress=false"])
    return interpret(config, out=out, progress=None).path


@pytest.fixture(scope="module")
def a1_run(tmp_path_factory):
    """A small finished run standing where explore_run looks (a smaller network than the one it makes)."""
    return small_run(tmp_path_factory.mktemp("nb") / "run", None,
                     ["data.concept=A1", "data.n_samples=2000", "train.epochs=10", "model.hidden=[12, 12]"])


@pytest.fixture(scope="module")
def seed15_run(tmp_path_factory):
    """A small finished run of the 15-input network explore_run explores interactively."""
    return small_run(tmp_path_factory.mktemp("nb") / "run15", REPO / "experiments" / "seed15.yaml",
                     ["data.n_samples=2000", "train.epochs=10"])


def test_explore_run_uses_an_existing_run_and_leaves_it_alone(a1_run, seed15_run, tmp_path, kernel_env):
    """The cells that make the runs are skipped when the runs exist (a second opening, or the full run
    made by the command in its introduction): the notebook explores those runs and changes no file."""
    root = tmp_path / "clone"
    copy = clone_layout(root, REPO / "notebooks" / "explore_run.ipynb")
    run = root / "runs" / "A1-notebook"
    shutil.copytree(a1_run, run)
    shutil.copytree(seed15_run, root / "runs" / "seed15-notebook")
    before = {f: (root / f).read_bytes() for f in files_under(root)}
    notebook = execute(copy)

    assert {f: (root / f).read_bytes() for f in files_under(root)} == before, "the clone changed"
    shown = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    record = json.loads((run / "result.json").read_text())
    assert record["verdict"]["sentence"] in shown   # the run's own verdict, printed by the notebook
    record15 = json.loads((root / "runs" / "seed15-notebook" / "result.json").read_text())
    assert record15["statement"] in shown   # the explorer opens on the run's chosen formula
    widgets = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == 1 or not has_ipywidgets(), "the explorer did not show as a widget"


def has_ipywidgets() -> bool:
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None
