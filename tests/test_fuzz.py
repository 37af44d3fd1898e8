"""Fuzzed CSV files and config values through the command line: every run ends with exit code
0 or 2 and one sentence, never a traceback, and never leaves a run folder that blocks a rerun."""

import contextlib
import io
import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symgrad.rundir import replace_problem, run_status
from symgrad.run import main

NAMES = ["b", "a", "pi", "E", "lambda", "None", "x 1", "1x", "a_b", "a b", "", "größe", "sin", "label", "I"]
CELLS = ["nan", "", "abc", "inf", "1e999", "-0", "1e-320", " 2 "]
LABELS = ["0", "1", "1.0", "yes", "no", "", "2", "nan"]


@st.composite
def csv_files(draw):
    """(bytes of a CSV file, the label column's name)."""
    n_features = draw(st.integers(1, 3))
    header = draw(st.lists(st.sampled_from(NAMES), min_size=n_features, max_size=n_features,
                           unique=draw(st.integers(0, 4)) < 4)) + ["label"]
    if draw(st.integers(0, 4)) == 4:
        header[-1] = draw(st.sampled_from(NAMES))
    n_rows = draw(st.sampled_from([200, 80, 200, 5, 0]))
    # hypothesis favours small draws, so the rare, hostile choices sit at the top of each range
    clean = draw(st.integers(0, 3)) < 3
    seed = draw(st.integers(0, 2**16))
    rows = []
    for i in range(n_rows):
        # a clean file is learnable: the label follows the first feature's sign
        values = [((i * 7919 + j * 104729 + seed) % 2001) / 1000 - 1 for j in range(n_features)]
        cells = [f"{v:.4f}" for v in values]
        label = "1" if values[0] > 0 else "0"
        if not clean and draw(st.integers(0, 9)) == 9:
            cells[draw(st.integers(0, n_features - 1))] = draw(st.sampled_from(CELLS))
        if not clean and draw(st.integers(0, 19)) == 19:
            label = draw(st.sampled_from(LABELS))
        if not clean and draw(st.integers(0, 39)) == 39:
            cells = cells[:-1]
        rows.append(",".join([*cells, label]))
    text = "\n".join([",".join(header), *rows]) + "\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-8"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    if not clean and draw(st.integers(0, 9)) == 9:
        data = data + b"\xff\xfe,1\n"
    return data, header[-1]


valid_configs = st.fixed_dictionaries({
    "seed": st.integers(0, 3),
    "train": st.fixed_dictionaries({"epochs": st.sampled_from([1, 2]), "batch_size": st.sampled_from([16, 64])}),
    "model": st.fixed_dictionaries({"hidden": st.sampled_from([[4], [6, 3]]),
                                    "activation": st.sampled_from(["elu", "tanh", "relu"])}),
    "neuron": st.fixed_dictionaries({"kind": st.sampled_from(["output", "output", "class", "hidden"]),
                                     "unit": st.integers(0, 2), "layer": st.integers(0, 1)}),
    "gradients": st.fixed_dictionaries({"band": st.sampled_from([None, None, 9.2, 0.5]),
                                        "n_points": st.sampled_from([20, 40]), "n_holdout": st.sampled_from([20, 40])}),
    "search": st.fixed_dictionaries({"backend": st.just("library"), "selection": st.sampled_from(["knee", "best"]),
                                     "options": st.sampled_from([{}, {"max_terms": 2}])}),
    "output": st.fixed_dictionaries({"name": st.one_of(st.none(), st.text(max_size=8),
                                                       st.sampled_from(["..", ".", "/", "a/../../b"]))}),
    "data": st.fixed_dictionaries({"split": st.sampled_from([[0.7, 0.1, 0.2], [0.96, 0.02, 0.02]])}),
})
# one bad value at a time, so that the rest of the config still reaches the data and the run
MUTATIONS = [(("seed",), v) for v in (-1, 2**63, 2**64, True, "7")] + [
    (("train", "epochs"), 0), (("train", "epochs"), "x"), (("model", "hidden"), []), (("model", "hidden"), [0]),
    (("model", "activation"), "sigmoid"), (("neuron", "kind"), "log_odds"), (("gradients", "band"), 1e-12),
    (("gradients", "band"), -1), (("gradients", "n_points"), 10), (("search", "backend"), "nonsense"),
    (("search", "selection"), "x"), (("search", "options"), {"max_terms": "2"}), (("search", "options"), {"x": 1}),
    (("data", "split"), [0.5, 0.5]), (("neuron", "unit"), 99)]


@st.composite
def configs(draw):
    config = draw(valid_configs)
    if draw(st.integers(0, 3)) == 3:
        (section, *key), value = draw(st.sampled_from(MUTATIONS))
        if key:
            config[section] = {**config[section], key[0]: value}
        else:
            config[section] = value
    return config


# SYMGRAD_FUZZ_EXAMPLES=500 explores further (the default keeps the suite fast and repeatable)
@settings(max_examples=int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", 15)), deadline=None,
          derandomize="SYMGRAD_FUZZ_EXAMPLES" not in os.environ, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(csv=csv_files(), config=configs(), use_out=st.booleans(), overwrite=st.booleans())
def test_fuzzed_inputs_end_cleanly(csv, config, use_out, overwrite):
    data, label = csv
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "data.csv").write_bytes(data)
        config = {**config, "progress": False, "data": {**config["data"], "path": str(tmp / "data.csv"),
                                                         "label": label, "n_samples": 50}}
        config["output"] = {**config["output"], "dir": str(tmp / "runs")}
        (tmp / "config.yaml").write_text(yaml.safe_dump(config))
        args = [str(tmp / "config.yaml"), "--quiet"] + (["--out", str(tmp / "out")] if use_out else []) \
            + (["--overwrite"] if overwrite else [])
        stderr, stdout = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            code = main(args)
        err = stderr.getvalue()
        if os.environ.get("SYMGRAD_FUZZ_LOG"):
            with open(os.environ["SYMGRAD_FUZZ_LOG"], "a") as log:
                log.write(f"{code} {err.strip()[:150]}\n")
        assert code in (0, 2), (code, err)
        assert "Traceback" not in err
        if code == 2:
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), err
        # whatever was left behind: a finished or failed run, never a half-written one, and
        # nothing that a rerun (with --overwrite for a finished run) could not replace
        places = [tmp / "out"] if use_out else (list((tmp / "runs").iterdir()) if (tmp / "runs").exists() else [])
        for place in places:
            hidden = [p.name for p in place.parent.iterdir() if p.name.startswith(".") and "partial" in p.name]
            assert not hidden, hidden
            if place.exists():
                assert run_status(place) in ("finished", "interrupted", "failed"), os.listdir(place)
                assert replace_problem(place, overwrite=True) is None
                if run_status(place) == "failed":
                    assert replace_problem(place, overwrite=False) is None


@st.composite
def hostile_yaml(draw):
    """(YAML text of a config with a repeated key or nesting no config has, the word the
    refusal must contain): every one is refused before any work, in one sentence."""
    config = {"data": {"concept": "A1"}, "train": {"epochs": 2}, "seed": 0}
    lines = yaml.safe_dump(config, sort_keys=False).splitlines()
    kind = draw(st.sampled_from(["repeat_section", "repeat_key", "deep_list", "deep_map", "deep_value"]))
    if kind == "repeat_section":
        section = draw(st.sampled_from(["data:\n  concept: B", "train:\n  epochs: 400", "seed: 3"]))
        lines.insert(draw(st.integers(0, len(lines))), section)
        return "\n".join(lines) + "\n", "twice"
    if kind == "repeat_key":
        return "\n".join(lines) + "\n" + "train:\n  epochs: 3\n  patience: 1\n  epochs: 400\n".replace(
            "train:\n", "model:\n  hidden: [4]\n  hidden: [8]\n" if draw(st.booleans()) else "train:\n"), "twice"
    depth = draw(st.sampled_from([2000, 5000, 20000]))
    opening, closing = {"deep_list": ("[", "]"), "deep_map": ("{k: ", "}"), "deep_value": ("[{k: ", "}]")}[kind]
    return "\n".join(lines) + "\ncompanions: " + opening * depth + "1" + closing * depth + "\n", "nested too deeply"


@settings(max_examples=int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", 15)), deadline=None,
          derandomize="SYMGRAD_FUZZ_EXAMPLES" not in os.environ, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=hostile_yaml())
def test_repeated_keys_and_deep_yaml_are_one_sentence(case):
    text, word = case
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.yaml").write_text(text)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main([str(Path(tmp) / "config.yaml"), "--out", str(Path(tmp) / "out")])
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and word in lines[0], lines
        assert not (Path(tmp) / "out").exists()
