"""Batch files: grid expansion, networks shared by their neurons, one-sentence validation errors."""

from pathlib import Path

import pytest
import yaml

from symgrad.batch.execution import default_workers, thread_environment
from symgrad.batch.grid import load_batch
from symgrad.errors import SymgradError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, spec, name="batch.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture()
def configs(tmp_path):
    for name, concept in (("one", "A1"), ("two", "B")):
        write(tmp_path, {"data": {"concept": concept, "n_samples": 200}, "model": {"hidden": [4, 3]}}, f"{name}.yaml")
    return tmp_path


def test_configs_seeds_and_neurons_expand_into_items_grouped_by_network(configs):
    path = write(configs, {"configs": ["one.yaml", "t*.yaml"], "seeds": [0, 2],
                           "neurons": ["output", {"kind": "hidden", "layer": "all", "unit": "all",
                                                  "preactivation": "both"}]})
    batch = load_batch(path)
    assert [n.id for n in batch.networks] == ["one-s0", "one-s2", "two-s0", "two-s2"]
    per_network = 1 + 2 * (4 + 3)
    assert len(batch.items) == 4 * per_network
    items = batch.items_of("two-s2")
    assert [i.id for i in items[:4]] == ["two-s2-output", "two-s2-h0u0pre", "two-s2-h0u0", "two-s2-h0u1pre"]
    assert items[-1].id == "two-s2-h1u2"
    item = items[1]
    assert item.config["seed"] == 2 and item.config["data"]["concept"] == "B"
    assert item.config["neuron"] == {"kind": "hidden", "layer": 0, "unit": 0, "other": 1, "preactivation": True}
    assert item.config_name == "two" and item.network == "two-s2"


def test_base_set_and_command_line_overrides(configs):
    path = write(configs, {"base": "one.yaml", "set": {"train.epochs": 3, "model": {"activation": "tanh"}},
                           "neurons": [{"kind": "hidden", "unit": [1, 3]}]})
    batch = load_batch(path, ["train.epochs=4", "seeds=[5]"])
    assert [i.id for i in batch.items] == ["batch-s5-h0u1", "batch-s5-h0u3"]
    config = batch.items[0].config
    assert config["train"]["epochs"] == 4 and config["model"]["activation"] == "tanh" and config["seed"] == 5
    inline = write(configs, {"name": "inline", "base": {"data": {"concept": "A1"}, "model": {"hidden": [5]}}})
    batch = load_batch(inline)
    assert [i.id for i in batch.items] == ["inline-s0-output"]  # the config's own seed and neuron


def test_items_differing_only_in_search_settings_share_one_network(configs):
    write(configs, {"data": {"concept": "A1", "n_samples": 200}, "model": {"hidden": [4, 3]},
                    "search": {"backend": "library"}}, "three.yaml")
    batch = load_batch(write(configs, {"configs": ["one.yaml", "three.yaml"]}))
    assert [n.id for n in batch.networks] == ["one-s0"]
    assert [i.network for i in batch.items] == ["one-s0", "one-s0"]


def test_class_logits_and_pairs_of_a_binary_network_are_its_output(configs):
    batch = load_batch(write(configs, {"base": "one.yaml", "neurons": ["classes", "pairs", "output"]}))
    assert [i.id for i in batch.items] == ["batch-s0-output"]


def test_every_class_and_every_pair_of_a_multi_class_network(tmp_path):
    rows = ["x0,x1,label"] + [f"{i % 7},{i % 5},{'abc'[i % 3]}" for i in range(60)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    base = {"data": {"path": str(tmp_path / "data.csv"), "label": "label", "n_samples": 60}}
    batch = load_batch(write(tmp_path, {"base": base, "neurons": ["classes", "pairs",
                                                                   {"kind": "log_odds", "unit": 2, "other": "all"}]}))
    tags = [i.neuron.tag() for i in batch.items]
    assert tags == ["class0", "class1", "class2", "logodds0v1", "logodds0v2", "logodds1v2", "logodds2v0", "logodds2v1"]


BAD = [
    ({"seeds": [0, -1]}, "batch key 'seeds' has the value \\[0, -1\\]; allowed: a non-empty list of non-negative"),
    ({"colour": 1}, "batch key 'colour' is not known; allowed keys are"),
    ({"neurons": ["every"]}, "neurons\\[0\\] is 'every'; allowed words are"),
    ({"neurons": [{"kind": "hidden", "unit": "some"}]}, "neurons\\[0\\] has unit 'some'; allowed: a non-negative"),
    ({"neurons": [{"kind": "hidden", "units": 1}]}, "neurons\\[0\\] has the unknown key 'units'"),
    ({"neurons": [{"kind": "neuron"}]}, "neurons\\[0\\] has kind 'neuron'; allowed"),
    ({"neurons": [{"kind": "hidden", "layer": 0, "unit": 9}]}, "neuron unit 9 is out of range; hidden layer 0 has units 0..3"),
    ({"neurons": [{"kind": "hidden", "layer": 2}]}, "neuron layer 2 is out of range; the network has hidden layers 0..1"),
    ({"neurons": [{"kind": "class", "unit": 1}]}, "neuron.kind 'class' needs a multi-class classifier"),
    ({"configs": ["nothing*.yaml"]}, "configs entry 'nothing\\*.yaml' matches no file"),
    ({"base": "missing.yaml"}, "base config .*missing.yaml' does not exist"),
    ({"set": {"train.epoch": 3}}, "unknown config key 'train.epoch' \\(did you mean 'epochs'\\?\\)"),
    ({"set": {"train.epochs": 0}}, "config one: config key 'train.epochs' has the value 0"),
    ({"set": {"search.options": {"gp_evaluation": 5}}}, "config one: search.options.gp_evaluation is not an option"),
    ({"configs": ["one.yaml", "sub/one.yaml"]}, "two configs are both named 'one'"),
]


@pytest.mark.parametrize("update,message", BAD, ids=[m.split(";")[0][:40] for _, m in BAD])
def test_bad_batch_files_are_one_sentence(configs, update, message):
    (configs / "sub").mkdir()
    write(configs / "sub", {"data": {"concept": "A1"}}, "one.yaml")
    spec = {"configs": ["one.yaml"], **update}
    with pytest.raises(SymgradError, match=message) as error:
        load_batch(write(configs, spec))
    assert "\n" not in str(error.value)


def test_unreadable_batch_files(tmp_path):
    (tmp_path / "broken.yaml").write_text("configs: [a\n")
    with pytest.raises(SymgradError, match="is not valid YAML"):
        load_batch(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(SymgradError, match="must be a mapping"):
        load_batch(tmp_path / "list.yaml")


def test_shipped_batches_expand():
    hidden = load_batch(ROOT / "experiments" / "hidden_layer.yaml")
    assert len(hidden.networks) == 1 and len(hidden.items) == 8 * 2 + 8
    suite = load_batch(ROOT / "experiments" / "paper_suite.yaml")
    assert len(suite.networks) == 9 * 3 and len(suite.items) == 9 * 3
    assert {i.config_name for i in suite.items} == {"A", "A1", "B", "C", "D", "E", "F", "G", "seed15"}
    assert {i.seed for i in suite.items} == {0, 1, 2}


def _environment_value(key):
    import os

    return os.environ.get(key)


def test_local_workers_get_the_thread_limits_and_the_parent_keeps_its_environment(monkeypatch):
    import os

    from symgrad.batch.execution import LocalRunner

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    runner = LocalRunner(1, 2)
    try:
        assert runner.submit(_environment_value, "OMP_NUM_THREADS").result(timeout=300) == "2"
        assert "intra_op_parallelism_threads=2" in runner.submit(_environment_value, "XLA_FLAGS").result(timeout=300)
    finally:
        runner.close()
    assert "OMP_NUM_THREADS" not in os.environ and "XLA_FLAGS" not in os.environ


def test_threads_rule():
    env = thread_environment(1)
    assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert thread_environment(4)["OMP_NUM_THREADS"] == "4"
    assert default_workers(1) >= 1 and default_workers(10_000) == 1


def test_a_key_given_twice_in_a_batch_file_is_refused(tmp_path):
    path = tmp_path / "batch.yaml"
    path.write_text("base: null\nseeds: [0]\nseeds: [1, 2]\n")
    with pytest.raises(SymgradError, match="gives the key 'seeds' twice"):
        load_batch(path)
