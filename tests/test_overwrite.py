"""Run folders: --overwrite replaces only symgrad runs, new runs appear only when complete,
and failed runs never block a rerun."""

import json
import os
from pathlib import Path

import pytest

from symgrad.errors import SymgradError
from symgrad.rundir import foreign_entries, prepare_run_dir, replace_problem, run_status, safe_name
from symgrad.run import main

ROOT = Path(__file__).parent.parent
A1 = str(ROOT / "experiments/paper/A1.yaml")
TINY = ["data.n_samples=400", "train.epochs=2", "model.hidden=[8]", "search.backend=library",
        "gradients.n_points=40", "gradients.n_holdout=40", "gradients.band=null"]
LATE_FAILURE = ["gradients.band=1e-12"]  # passes every early check, fails after training


def sets(items):
    return [a for item in items for a in ("--set", item)]


def cli(args, capsys):
    code = main([*args, "--quiet"])
    return code, capsys.readouterr().err


def user_folder(path: Path) -> dict[str, str]:
    """A folder with the user's own files: the data, the config and a thesis in a subfolder."""
    (path / "sub").mkdir(parents=True)
    files = {"data.csv": "a,b,y\n1,2,0\n", "config.yaml": "seed: 0\n", "sub/thesis.txt": "four years of work"}
    for name, text in files.items():
        (path / name).write_text(text)
    return files


def assert_intact(path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        assert (path / name).read_text() == text, name


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("old") / "run"
    assert main([A1, "--out", str(out), "--quiet", *sets(TINY)]) == 0
    return out


def test_a_finished_run_holds_only_run_files(finished_run):
    # a file a run writes but rundir does not know would make --overwrite refuse every run
    assert foreign_entries(finished_run) == []
    assert run_status(finished_run) == "finished"


def test_overwrite_refuses_a_folder_with_foreign_files(tmp_path, capsys):
    files = user_folder(tmp_path / "mine")
    code, err = cli([A1, "--out", str(tmp_path / "mine"), "--overwrite", *sets(TINY)], capsys)
    assert code == 2 and "not part of a symgrad run" in err, err
    assert_intact(tmp_path / "mine", files)


def test_overwrite_refuses_a_run_folder_with_foreign_files(finished_run, tmp_path, capsys):
    # a run folder into which the user put a file of their own is no longer the run's alone
    copy = tmp_path / "run"
    copy.mkdir()
    for f in finished_run.iterdir():
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    (copy / "notes.txt").write_text("mine")
    code, err = cli([A1, "--out", str(copy), "--overwrite", *sets(TINY)], capsys)
    assert code == 2 and "'notes.txt'" in err, err
    assert (copy / "notes.txt").read_text() == "mine"


def test_out_dot_is_refused_even_with_overwrite(tmp_path, capsys, monkeypatch):
    files = user_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    for out in (".", "..", str(tmp_path), "sub/.."):
        code, err = cli([A1, "--out", out, "--overwrite", *sets(TINY)], capsys)
        assert code == 2 and "current folder" in err, (out, err)
    assert_intact(tmp_path, files)


def test_home_and_root_are_never_run_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert "home folder" in replace_problem(tmp_path, overwrite=True)
    assert "root" in replace_problem(Path("/"), overwrite=True)


def test_output_name_dotdot_stays_inside_output_dir(tmp_path, capsys):
    files = user_folder(tmp_path)
    runs = tmp_path / "runs"
    code, err = cli([A1, *sets([*TINY, f"output.dir={runs}", "output.name=..", "output.overwrite=true"])], capsys)
    assert code == 0, err
    assert_intact(tmp_path, files)
    assert [p.name for p in runs.iterdir()] == ["run"]
    assert run_status(runs / "run") == "finished"


@pytest.mark.parametrize("name,expected", [("..", "run"), (".", "run"), ("a/../b", "a_.._b"), ("/etc", "_etc"),
                                           ("../../x", "_.._x"), ("", "run"), ("ok-1.2", "ok-1.2")])
def test_names_are_one_plain_folder(name, expected):
    assert safe_name(name) == expected
    assert "/" not in safe_name(name) and safe_name(name) not in (".", "..")


def test_late_failure_keeps_the_old_run(finished_run, capsys):
    before = {f.name: f.read_bytes() for f in finished_run.iterdir() if f.is_file()}
    code, err = cli([A1, "--out", str(finished_run), "--overwrite", *sets([*TINY, *LATE_FAILURE])], capsys)
    assert code == 2 and "keeps none" in err, err
    after = {f.name: f.read_bytes() for f in finished_run.iterdir() if f.is_file()}
    assert after == before
    leftovers = [p.name for p in finished_run.parent.iterdir() if p.name != finished_run.name]
    assert leftovers == [], leftovers  # no hidden half-written folder stays behind


def test_overwrite_replaces_a_finished_run(finished_run, tmp_path, capsys):
    out = tmp_path / "again"
    assert main([A1, "--out", str(out), "--quiet", *sets(TINY)]) == 0
    (out / "result.json").write_text((out / "result.json").read_text().replace('"seed": 0', '"seed": 0 '))
    code, err = cli([A1, "--out", str(out), "--overwrite", *sets([*TINY, "seed=1"])], capsys)
    assert code == 0, err
    assert json.loads((out / "result.json").read_text())["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]


def test_a_failed_run_does_not_block_a_rerun(tmp_path, capsys):
    out = tmp_path / "run"
    code, err = cli([A1, "--out", str(out), *sets([*TINY, *LATE_FAILURE])], capsys)
    assert code == 2
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "failed" and "keeps none" in result["error"]
    code, err = cli([A1, "--out", str(out), *sets(TINY)], capsys)  # no --overwrite needed
    assert code == 0, err
    assert run_status(out) == "finished"


def test_old_unfinished_runs_are_replaced_without_overwrite(tmp_path):
    for status in ("started", "searching", "failed"):
        folder = tmp_path / status
        folder.mkdir()
        (folder / "result.json").write_text(json.dumps({"format": "symgrad-result", "status": status}))
        assert replace_problem(folder, overwrite=False) is None
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "result.json").write_text(json.dumps({"format": "symgrad-result", "status": "finished"}))
    assert "--overwrite" in replace_problem(tmp_path / "done", overwrite=False)
    assert replace_problem(tmp_path / "done", overwrite=True) is None


def test_out_that_is_a_file_or_cannot_be_created(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, err = cli([A1, "--out", str(tmp_path / "afile"), *sets(TINY)], capsys)
    assert code == 2 and "is a file" in err, err
    code, err = cli([A1, "--out", str(tmp_path / "afile" / "run"), *sets(TINY)], capsys)
    assert code == 2 and "cannot create the run folder" in err, err
    assert "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_out_in_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(SymgradError, match="cannot create the run folder"):
            prepare_run_dir(locked / "run", None, stem="x", overwrite=False, explicit=True)
    finally:
        locked.chmod(0o700)


def test_default_place_skips_foreign_folders(tmp_path):
    files = user_folder(tmp_path / "A1")
    folder = prepare_run_dir(tmp_path, None, stem="A1", overwrite=True)
    assert folder.target == tmp_path / "A1-2"
    assert_intact(tmp_path / "A1", files)
    folder.path.rmdir()


def test_overwrite_of_a_run_this_user_cannot_modify_stops_before_any_work(finished_run, tmp_path, capsys,
                                                                          monkeypatch):
    import symgrad.pipeline

    # root may write anywhere, so the permission is taken away where symgrad asks for it
    locked = os.path.realpath(finished_run)
    real_access = os.access
    monkeypatch.setattr("symgrad.rundir.os.access",
                        lambda path, mode: False if os.path.realpath(path) == locked else real_access(path, mode))
    monkeypatch.setattr(symgrad.pipeline, "train_classifier", lambda *a, **k: pytest.fail("training started"))
    code = main([A1, "--out", str(finished_run), "--overwrite", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot be replaced: it is not writable by this user" in err and err.count("\n") == 1


def test_two_runs_finishing_at_one_name_both_keep_their_result(tmp_path):
    # both chose runs/A1 when they started; the second to finish takes the next numbered name
    first = prepare_run_dir(tmp_path, None, stem="A1", overwrite=False)
    second = prepare_run_dir(tmp_path, None, stem="A1", overwrite=False)
    for folder, seed in ((first, 1), (second, 2)):
        (folder.path / "result.json").write_text(json.dumps({"format": "symgrad-result", "status": "finished",
                                                             "seed": seed}))
    assert first.target == second.target == tmp_path / "A1"
    assert first.commit() == tmp_path / "A1" and second.commit() == tmp_path / "A1-2"
    assert [json.loads((tmp_path / n / "result.json").read_text())["seed"] for n in ("A1", "A1-2")] == [1, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_explicit_out_taken_meanwhile_keeps_the_run_hidden_and_says_so(tmp_path):
    folder = prepare_run_dir(tmp_path / "out", None, stem="x", overwrite=False, explicit=True)
    (folder.path / "result.json").write_text(json.dumps({"format": "symgrad-result", "status": "finished"}))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(SymgradError, match="the new run is kept in"):
        folder.commit()
    assert folder.path.is_dir() and (tmp_path / "out" / "notes.txt").read_text() == "mine"
