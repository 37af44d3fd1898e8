"""The main job end to end on a tiny budget, its run directory, and its one-sentence errors."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symgrad.run import main
from symgrad import load_run

ROOT = Path(__file__).parent.parent
A1 = str(ROOT / "experiments/paper/A1.yaml")
FAST = ["data.n_samples=3000", "train.epochs=15", "model.hidden=[24, 24]", "search.backend=library",
        "gradients.n_points=400", "gradients.n_holdout=400"]


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sets(items):
    return [a for item in items for a in ("--set", item)]


@pytest.fixture(scope="module")
def a1_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "a1"
    assert main([A1, "--out", str(out), "--quiet", *sets(FAST)]) == 0
    return out


def test_run_directory_contents(a1_run):
    for name in ("config.yaml", "model.npz", "gradients.npz", "result.json"):
        assert (a1_run / name).is_file(), name
    result = json.loads((a1_run / "result.json").read_text())
    assert result["status"] == "finished"
    assert result["features"] == ["x0", "x1"]
    assert result["neuron"]["kind"] == "output"
    assert result["front"] and result["best"] in result["front"]
    for entry in result["front"]:
        assert {"expression", "complexity", "loss"} <= set(entry)
    assert result["model"]["test_accuracy"] > 0.9
    assert set(result["timings"]) >= {"data", "train", "gradients", "search"}
    assert result["versions"]["jax"]


def test_load_run_round_trip(a1_run):
    run = load_run(a1_run)
    assert run.best.expression == json.loads((a1_run / "result.json").read_text())["best"]["expression"]
    assert run.sympy().free_symbols
    assert run.gradients()["directions"].shape[1] == 2
    assert run.model().n_features == 2


def test_existing_run_directory_is_not_overwritten(a1_run, capsys):
    before = (a1_run / "result.json").read_text()
    code, _, err = run_cli([A1, "--out", str(a1_run), "--quiet", *sets(FAST)], capsys)
    assert code == 2
    assert "already holds a finished run" in err and "--overwrite" in err
    assert (a1_run / "result.json").read_text() == before


def test_default_directory_gets_a_fresh_name(tmp_path, capsys):
    args = [A1, "--quiet", *sets([*FAST, f"output.dir={tmp_path}", "train.epochs=2", "gradients.band=null"])]
    assert run_cli(args, capsys)[0] == 0
    assert run_cli(args, capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A1", "A1-2"]


def test_reusing_a_model_for_a_hidden_neuron(a1_run, tmp_path, capsys):
    out = tmp_path / "hidden"
    code, _, err = run_cli([A1, "--model", str(a1_run / "model.npz"), "--out", str(out), "--quiet",
                            *sets([*FAST, "neuron.kind=hidden", "neuron.layer=1", "neuron.unit=3",
                                   "gradients.band=null"])], capsys)
    assert code == 0, err
    result = json.loads((out / "result.json").read_text())
    assert result["neuron"]["description"].startswith("hidden layer 1 unit 3")
    assert result["model"]["training"] is None
    np.testing.assert_array_equal(np.load(out / "model.npz")["w0"], np.load(a1_run / "model.npz")["w0"])


@pytest.mark.parametrize("extra,message", [
    (["--set", "train.epcohs=3"], "unknown config key 'train.epcohs'"),
    (["--set", "neuron.kind=hidden", "--set", "neuron.unit=99"], "neuron.unit=99 is out of range"),
    (["--set", "gradients.band=1e-12"], "keeps none"),
    (["--model", "/nonexistent/model.npz"], "does not exist"),
])
def test_bad_input_is_one_line(tmp_path, capsys, extra, message):
    code, out, err = run_cli([A1, "--out", str(tmp_path / "bad"), "--quiet", *sets(FAST), *extra], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in err


def test_csv_label_column_missing(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(60)))
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  path: {csv}\n  label: target\n")
    code, _, err = run_cli([str(config), "--out", str(tmp_path / "r"), "--quiet"], capsys)
    assert code == 2 and "data.label 'target' is not a column" in err


def test_module_entry_point_runs_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "symgrad.run", A1, "--set", "train.epcohs=1"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown config key")


def test_pysr_backend_without_julia_fails_at_once(tmp_path, capsys):
    from symgrad.search.pysr.backend import pysr_available

    if pysr_available()[0]:
        pytest.skip("Julia and PySR are installed here; the missing-Julia message cannot be shown")
    out = tmp_path / "pysr"
    code, _, err = run_cli([A1, "--out", str(out), "--set", "search.backend=pysr"], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Julia" in lines[0] and "docs/pysr.md" in lines[0]
    assert not out.exists()  # nothing was trained or written


TINY = ["data.n_samples=400", "train.epochs=2", "model.hidden=[8]", "search.backend=library",
        "gradients.n_points=40", "gradients.n_holdout=40", "gradients.band=null"]


@pytest.mark.parametrize("args", [
    ["--set", "train.epcohs=1"],
    ["--set", "seed=-1"],
    ["--out", "."],
])
def test_bad_config_stops_before_jax_is_imported(tmp_path, args):
    code = ("import sys; from symgrad.run import main; rc = main(sys.argv[1:]); "
            "print(rc, 'jax' in sys.modules, 'sympy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, A1, "--quiet", *args], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1


def test_internal_error_exits_1_with_a_log(tmp_path, capsys, monkeypatch):
    import symgrad.pipeline

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(symgrad.pipeline, "accuracy", broken)
    out = tmp_path / "run"
    code, _, err = run_cli([A1, "--out", str(out), "--quiet", *sets(TINY)], capsys)
    assert code == 1
    assert err.startswith("error: internal error (RuntimeError: boom); the traceback is in ") and "Traceback" not in err
    log = Path(err.strip().rsplit(" ", 1)[-1])
    assert log == out / "error.log" and "RuntimeError: boom" in log.read_text()
    assert json.loads((out / "result.json").read_text())["status"] == "failed"


def test_interrupted_search_exits_130_with_its_run(tmp_path, capsys, monkeypatch):
    from symgrad.search.library.backend import LibraryBackend

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(LibraryBackend, "search", interrupted)
    out = tmp_path / "run"
    code, stdout, _ = run_cli([A1, "--out", str(out), "--quiet", *sets(TINY)], capsys)
    assert code == 130
    assert json.loads((out / "result.json").read_text())["status"] == "interrupted"
    assert "search was interrupted" in stdout


def test_interrupted_training_exits_130_and_does_not_block_a_rerun(tmp_path, capsys, monkeypatch):
    import symgrad.pipeline

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(symgrad.pipeline, "train_classifier", interrupted)
        code, _, err = run_cli([A1, "--out", str(out), "--quiet", *sets(TINY)], capsys)
    assert code == 130 and err.startswith("interrupted")
    assert json.loads((out / "result.json").read_text())["status"] == "failed"
    assert run_cli([A1, "--out", str(out), "--quiet", *sets(TINY)], capsys)[0] == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("extra,message", [
    (["--set", "search.backend=auto", "--set", "search.options={gp_bands: 5}"], "search.options.gp_bands=5"),
    (["--set", "search.backend=auto", "--set", "search.options={library: 5}"], "search.options.library=5"),
    (["--set", "search.options={max_terms: [1]}"], "max_terms [1] is not allowed"),
    (["--set", "data.concept=null", "--set", "data.formula=9**99999999 + x0", "--set", "data.n_features=2"],
     "beyond the numbers"),
    (["--set", "data.concept=null", "--set", "data.formula=x0 + 10**400", "--set", "data.n_features=2"],
     "beyond the numbers"),
    (["--set", "train.learning_rate=1e30"], "training diverged"),
])
def test_more_bad_input_is_one_line(tmp_path, capsys, extra, message):
    code, _, err = run_cli([A1, "--out", str(tmp_path / "bad"), "--quiet", *sets(TINY), *extra], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_binary_model_on_fifty_class_data_is_refused(a1_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    csv = tmp_path / "fifty.csv"
    np.savetxt(csv, np.column_stack([rng.uniform(-1, 1, (500, 2)), rng.integers(0, 50, 500)]), delimiter=",",
               header="x0,x1,label", comments="", fmt="%.6f")
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{path: {csv}, label: label}}\nneuron: {{kind: class, unit: 7}}\n")
    code, _, err = run_cli([str(config), "--model", str(a1_run / "model.npz"), "--out", str(tmp_path / "r"),
                            "--quiet"], capsys)
    assert code == 2 and "the model predicts 2 classes but the data has 50" in err, err
    assert not (tmp_path / "r").exists()


def test_summary_survives_missing_figures(a1_run):
    from symgrad.report.summary import summary_text

    run = load_run(a1_run)
    result = {**run.result, "truth": {"formula": "x0**2", "faithful_loss": float("nan"), "exact_loss": None}}
    text = summary_text(type(run).from_record(result, path=run.path).record, run.path)
    assert "faithful L n/a, exact L n/a" in text


def test_every_public_name_resolves_lazily():
    import symgrad
    import symgrad.explain  # noqa: F401  (a submodule named like a public function)

    assert callable(symgrad.explain)

    assert symgrad.__all__ and set(symgrad.__all__) <= set(dir(symgrad))
    for name in symgrad.__all__:
        assert getattr(symgrad, name) is not None, name
    with pytest.raises(AttributeError):
        symgrad.no_such_name


def test_sigterm_stops_the_run_with_a_message(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    args = [sys.executable, "-m", "symgrad.run", A1, "--out", str(out), *sets(TINY),
            "--set", "train.epochs=100000", "--set", "train.patience=100000"]
    proc = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until training is under way
        lines.append(proc.stderr.readline())
        if lines[-1].startswith("training a"):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, lines + [err]
    assert "terminated (SIGTERM); the unfinished run is in" in err and "Traceback" not in err
    assert json.loads((out / "result.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("where", ["gc callback", "weakref callback"])
def test_ctrl_c_inside_a_callback_that_swallows_exceptions_still_stops_the_run(where):
    import gc
    import os
    import signal
    import time
    import weakref

    from symgrad.run import _stop_signals

    fired = []

    def interrupt_here(*_args):
        # JAX registers such callbacks; an exception raised inside one is printed and dropped
        if not fired:
            fired.append(True)
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(100_000):  # the handler runs here, inside the callback
                pass

    class Thing:
        pass

    with _stop_signals():  # the handlers first: a collection may start at any allocation
        gc.callbacks.append(interrupt_here) if where == "gc callback" else None
        try:
            with pytest.raises(KeyboardInterrupt):
                if where == "gc callback":
                    gc.collect()
                else:
                    thing = Thing()
                    reference = weakref.ref(thing, interrupt_here)
                    del thing
                time.sleep(5)
        finally:
            if interrupt_here in gc.callbacks:
                gc.callbacks.remove(interrupt_here)
    assert fired and (where == "gc callback" or reference() is None)


def test_a_network_too_big_for_memory_is_refused_before_allocating(tmp_path, capsys):
    code, _, err = run_cli([A1, "--out", str(tmp_path / "big"), "--quiet", *sets(TINY),
                            "--set", "model.hidden=[100000, 100000]"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "model.hidden [100000, 100000] gives 10,000,500,001 parameters" in err


@pytest.mark.e2e
def test_the_first_readme_command_is_short_and_shows_a_bar_on_a_terminal(tmp_path):
    import os
    import pty

    # the README's first command, on a terminal (stderr a pseudo-terminal) and in a log
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "symgrad.run", A1, "--out", str(tmp_path / "tty")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=follower, env={**os.environ, "COLUMNS": "100"})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    stdout = proc.communicate(timeout=600)[0].decode()
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, terminal
    assert "training" in terminal and "━" in terminal, terminal  # rich's bar
    logged = subprocess.run([sys.executable, "-m", "symgrad.run", A1, "--out", str(tmp_path / "log")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    lines = (logged.stdout + logged.stderr).splitlines()
    assert logged.returncode == 0 and len(lines) <= 30, lines
    assert "━" not in logged.stderr and not re.search(r"epoch +\d+/\d+", logged.stderr)  # no line per epoch
    assert "best formula: x0**2 + 2*x1**2" in stdout and "best formula: x0**2 + 2*x1**2" in logged.stdout


def test_ctrl_c_while_the_summary_prints_says_where_the_finished_run_is(tmp_path, capsys, monkeypatch):
    import symgrad.report.summary

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(symgrad.report.summary, "print_summary", interrupted)
    out = tmp_path / "run"
    code, _, err = run_cli([A1, "--out", str(out), "--quiet", *sets(TINY)], capsys)
    assert code == 130 and f"interrupted while printing the summary; the finished run is in {out}" in err
    assert json.loads((out / "result.json").read_text())["status"] == "finished"
