"""Config validation: unknown keys, wrong types, impossible values are one clear sentence."""

import pytest

from symgrad.config import defaults, load_config
from symgrad.errors import SymgradError


def test_defaults_are_valid():
    config = load_config(None, ["data.concept=A1"])
    assert config["model"]["activation"] == "elu"
    assert config["gradients"]["band"] == 9.2


def test_yaml_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  concept: B\ntrain:\n  epochs: 7\n")
    config = load_config(path, ["train.epochs=3", "model.hidden=[8, 8]"])
    assert config["data"]["concept"] == "B"
    assert config["train"]["epochs"] == 3
    assert config["model"]["hidden"] == [8, 8]


@pytest.mark.parametrize("overrides,message", [
    (["train.epoch=3"], "unknown config key 'train.epoch' (did you mean 'epochs'?)"),
    (["trian.epochs=3"], "unknown config key 'trian'"),
    (["train.epochs=abc"], "'train.epochs' has the value 'abc'"),
    (["train.epochs=true"], "'train.epochs' has the value True"),
    (["train.epochs=-2"], "'train.epochs' has the value -2"),
    (["seed=9223372036854775808"], "'seed' has the value 9223372036854775808; allowed: a non-negative integer below"),
    (["seed=-1"], "'seed' has the value -1"),
    (["model.activation=sigmoid"], "one of relu, elu, silu, tanh, gelu"),
    (["gradients.band=0"], "'gradients.band' has the value 0"),
    (["search.backend=magic"], "one of auto, library, operon, pysr"),
    (["data.split=[0.5, 0.5]"], "three positive fractions"),
    (["data.path=x.csv"], "give only one of"),
    (["neuron.unit=-1"], "'neuron.unit' has the value -1"),
    (["train=5"], "must be a mapping"),
    (["epochs"], "must look like section.key=value"),
])
def test_bad_values_are_one_sentence(overrides, message):
    with pytest.raises(SymgradError) as info:
        load_config(None, ["data.concept=A1", *overrides])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_csv_needs_a_label():
    with pytest.raises(SymgradError, match="data.label"):
        load_config(None, ["data.path=x.csv"])


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(SymgradError, match="does not exist"):
        load_config(tmp_path / "none.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    with pytest.raises(SymgradError, match="not valid YAML"):
        load_config(broken)


def test_every_shipped_experiment_validates():
    from pathlib import Path

    import yaml

    from symgrad.batch.grid import load_batch

    root = Path(__file__).parent.parent / "experiments"
    files = sorted(root.rglob("*.yaml"))
    assert len(files) >= 9
    for path in files:
        spec = yaml.safe_load(path.read_text()) or {}
        # batch files (symgrad.batch.driver) expand to many configs, each validated by load_batch
        if "base" in spec or "configs" in spec:
            assert load_batch(path).items
        else:
            load_config(path)


def test_defaults_are_a_fresh_copy():
    a = defaults()
    a["model"]["hidden"].append(3)
    assert defaults()["model"]["hidden"] == [60, 60]


def test_non_utf8_config_file_is_one_sentence(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("data:\n  concept: A1 # caf\xe9\n".encode("latin-1"))
    with pytest.raises(SymgradError, match="not UTF-8"):
        load_config(path)


def test_backend_options_from_file_and_several_overrides_add_up(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  concept: A1\nsearch:\n  backend: library\n  options: {max_terms: 3}\n")
    config = load_config(path, ["search.options.include=[linear, square]", "search.options.max_terms=2"])
    assert config["search"]["options"] == {"max_terms": 2, "include": ["linear", "square"]}
    # a whole mapping replaces them all
    assert load_config(path, ["search.options={}"])["search"]["options"] == {}


@pytest.mark.parametrize("text,key", [
    ("data: {concept: A1}\ntrain:\n  epochs: 3\n  epochs: 400\n", "epochs"),
    ("data: {concept: A1}\ndata: {concept: B}\n", "data"),
    ("data: {concept: A1}\nsearch: {options: {max_terms: 2, max_terms: 3}}\n", "max_terms"),
])
def test_a_key_given_twice_is_refused(tmp_path, text, key):
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    with pytest.raises(SymgradError, match=f"gives the key '{key}' twice"):
        load_config(path)


def test_a_key_given_twice_in_an_override_is_refused():
    with pytest.raises(SymgradError, match="gives the key 'max_terms' twice"):
        load_config(None, ["data.concept=A1", "search.options={max_terms: 2, max_terms: 3}"])


def test_yaml_merge_keys_are_not_repeats(tmp_path):
    # a key merged in from an anchor may be overridden: that is YAML's meaning, not a typo
    path = tmp_path / "merge.yaml"
    path.write_text("data: {concept: A1}\ntrain:\n  <<: {epochs: 3, patience: 2}\n  epochs: 5\n")
    assert load_config(path)["train"]["epochs"] == 5 and load_config(path)["train"]["patience"] == 2


@pytest.mark.parametrize("text", ["a: " + "[" * 5000 + "]" * 5000, "".join("  " * i + "k:\n" for i in range(3000))])
def test_deeply_nested_yaml_is_one_sentence(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    with pytest.raises(SymgradError, match="nested too deeply"):
        load_config(path)


def test_features_listed_twice_are_refused():
    with pytest.raises(SymgradError, match=r"data.features names \['a'\] more than once"):
        load_config(None, ["data.path=x.csv", "data.label=y", "data.features=[a, a, b]"])
