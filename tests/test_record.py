"""result.json read back: runs written by earlier versions load, and a damaged or hand-edited
file is refused in one sentence naming what is wrong (never loaded into an inconsistent Result)."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.errors import SymgradError
from symgrad.record import Formula, Neuron, Record, Verdict

# runs written by symgrad before the record was checked on load (result version 1)
OLD_RUNS = Path(__file__).parent / "data" / "runs_v1"


def without_nulls(value):
    """JSON with null-valued keys dropped: a typed record leaves unset (None) fields out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["a1", "failed", "hidden"])
def test_runs_written_by_earlier_versions_load(name):
    run = symgrad.load_run(OLD_RUNS / name)
    record = json.loads((OLD_RUNS / name / "result.json").read_text())
    # every section typed, nothing lost: the record writes back what it read
    assert isinstance(run.record, Record) and without_nulls(run.record.to_dict()) == without_nulls(record)
    assert run.record.status == record["status"] and list(run.record.features) == record["features"]
    if record["status"] == "finished":
        assert run.best is not None and run.best == run.front.entries[record["best_index"]]
        assert run.gradients()["x"].shape[1] == len(run.features)


def damaged_copy(tmp_path, change=None, *, run="a1"):
    target = tmp_path / run
    shutil.copytree(OLD_RUNS / run, target)
    if change is not None:
        record = json.loads((target / "result.json").read_text())
        change(record)
        (target / "result.json").write_text(json.dumps(record))
    return target


def drop(key):
    return lambda record: record.pop(key)


def put(key, value):
    return lambda record: record.__setitem__(key, value)


@pytest.mark.parametrize("change,message", [
    (put("verdict", 5), "'verdict' section is of type int"),
    (put("verdict", {"kind": "great", "sentence": "x"}), "verdict's kind 'great'"),
    (put("verdict", {"kind": "faithful", "sentence": 3}), "verdict's sentence is not text"),
    (put("best_index", 99), "'best_index' 99 is not an index into the front of"),
    (put("best_index", "1"), "'best_index' '1' is not an index"),
    (put("best_index", 0), "points at"),
    (drop("front"), "a finished run has no 'front'"),
    (put("front", {"a": 1}), "'front' is of type dict"),
    (put("front", [{"expression": "x0", "complexity": 1}]), "front entry 0 has the loss None"),
    (put("front", [{"expression": "", "complexity": 1, "loss": 0.1}]), "front entry 0 has no expression"),
    (put("best", "x0"), "the chosen entry 'best' is of type str"),
    (put("features", ["a"]), "names 1 inputs ['a'], but its network model.npz takes 2"),
    (put("features", "x0"), "'features' must be a list of input names"),
    (put("features", ["x0", "x0"]), "names an input twice"),
    (put("status", "done"), "its status 'done'"),
    (put("version", 99), "written by a newer symgrad"),
    (put("version", "one"), "its version 'one'"),
    (put("format", "other"), "is not a symgrad result"),
    (put("neuron", [1]), "'neuron' section is of type list"),
    (put("data", "x"), "'data' section is of type str"),
    (put("model", 3), "'model' section is of type int"),
    (put("floor", []), "'floor' section is of type list"),
    (put("statement", 7), "'statement' is not text"),
    (put("versions", "3.11"), "'versions' section is of type str"),
    (put("timings", [1.0]), "'timings' section is of type list"),
    (put("gradients", 1), "'gradients' section is of type int"),
    (put("search", "auto"), "'search' section is of type str"),
    (put("selection", "knee"), "'selection' section is of type str"),
    (put("truth", ["x0"]), "'truth' section is of type list"),
    (put("companions", True), "'companions' section is of type bool"),
])
def test_a_damaged_result_json_is_one_sentence(tmp_path, change, message):
    with pytest.raises(SymgradError, match="damaged|newer symgrad|not a symgrad result") as info:
        symgrad.load_run(damaged_copy(tmp_path, change))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["{", "[1, 2]", "\xff\xfe", "[" * 100000 + "]" * 100000])
def test_result_json_that_is_not_a_record(tmp_path, text):
    run = damaged_copy(tmp_path)
    (run / "result.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(SymgradError, match="not valid JSON|not a symgrad result"):
        symgrad.load_run(run)


@pytest.mark.parametrize("write", [
    lambda path: path.write_bytes(b"garbage" * 20),
    lambda path: path.write_bytes(pickle.dumps({"x": [1, 2]})),
    lambda path: np.save(path.open("wb"), np.zeros(3)),
    lambda path: np.savez(path.open("wb"), x=np.zeros(3)),
    lambda path: np.savez(path.open("wb"), **{k: np.zeros((5, 3)) for k in (
        "x", "directions", "values", "x_holdout", "directions_holdout", "values_holdout")}),
])
def test_a_damaged_gradients_file_is_one_sentence(tmp_path, write):
    run = damaged_copy(tmp_path)
    write(run / "gradients.npz")
    loaded = symgrad.load_run(run)  # the formulas do not need the gradient samples
    with pytest.raises(SymgradError, match="gradients.npz' is damaged or not a symgrad gradients file") as info:
        loaded.gradients()
    assert "allow_pickle" not in str(info.value)


def test_typed_fields_and_unknown_keys_survive_a_round_trip():
    record = json.loads((OLD_RUNS / "a1" / "result.json").read_text())
    record["a_tools_note"] = {"kept": True}
    record["neuron"]["colour"] = "blue"
    typed = Record.from_dict(record)
    assert isinstance(typed.neuron, Neuron) and isinstance(typed.verdict, Verdict)
    assert isinstance(typed.best, Formula) and typed.best == typed.front[typed.best_index]
    assert typed.neuron.extra == {"colour": "blue"} and typed.extra == {"a_tools_note": {"kept": True}}
    assert without_nulls(typed.to_dict()) == without_nulls(record)


def test_a_result_saved_again_loads_the_same(tmp_path):
    run = symgrad.load_run(OLD_RUNS / "hidden")
    again = run.save(tmp_path / "again")
    assert again.record == run.record and again.best == run.best
