"""The classifier: save/load round trip without pickle, imports from plain arrays, training."""

import numpy as np
import pytest

from symgrad.errors import SymgradError
from symgrad.network.model import Classifier
from symgrad.network.train import accuracy


def test_save_load_round_trip(tmp_path, trained_a1):
    classifier, split, _ = trained_a1
    path = classifier.save(tmp_path / "model.npz")
    loaded = Classifier.load(path)
    np.testing.assert_array_equal(loaded.logits(split.test.x), classifier.logits(split.test.x))
    assert loaded.feature_names == classifier.feature_names
    assert loaded.hidden_sizes == (32, 32)


def test_saved_model_needs_no_pickle(tmp_path, trained_a1):
    path = trained_a1[0].save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:  # raises if any object array were stored
        assert "meta" in data.files


def test_loading_garbage_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(SymgradError, match="not a symgrad model"):
        Classifier.load(bad)
    with pytest.raises(SymgradError, match="does not exist"):
        Classifier.load(tmp_path / "missing.npz")


def test_from_arrays_checks_shapes():
    with pytest.raises(SymgradError, match="layer 1"):
        Classifier.from_arrays([np.ones((2, 3)), np.ones((4, 1))], [np.ones(3), np.ones(1)], activation="tanh",
                               feature_names=["a", "b"], n_classes=2)


def test_training_reaches_high_accuracy(trained_a1):
    classifier, split, report = trained_a1
    assert accuracy(classifier, split.test) > 0.95
    assert report.best_epoch >= 1
    assert len(report.history["val_loss"]) == report.epochs_run


def test_training_is_deterministic():
    from symgrad.data import make_concept_dataset, split_dataset
    from symgrad.network.train import train_classifier

    split = split_dataset(make_concept_dataset("A1", 600, seed=3), seed=3)
    a, _ = train_classifier(split.train, split.validation, hidden=(8,), epochs=3, seed=5)
    b, _ = train_classifier(split.train, split.validation, hidden=(8,), epochs=3, seed=5)
    np.testing.assert_array_equal(a.logits(split.test.x), b.logits(split.test.x))


def test_multiclass_training():
    from symgrad.data.tables import Dataset, split_dataset
    from symgrad.network.train import train_classifier

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(1500, 2))
    y = np.digitize(x[:, 0] + x[:, 1], [-0.5, 0.5]).astype(np.int32)
    split = split_dataset(Dataset(x, y, ("a", "b"), 3, ("0", "1", "2")), seed=0)
    classifier, _ = train_classifier(split.train, split.validation, hidden=(16,), epochs=30, seed=0)
    assert classifier.logits(split.test.x).shape == (len(split.test.y), 3)
    assert accuracy(classifier, split.test) > 0.9


def _tiny(feature_names=("a", "b"), n_classes=2):
    rng = np.random.default_rng(0)
    out = 1 if n_classes == 2 else n_classes
    return Classifier.from_arrays([rng.normal(size=(len(feature_names), 4)), rng.normal(size=(4, out))],
                                  [np.zeros(4), np.zeros(out)], activation="elu", feature_names=feature_names,
                                  n_classes=n_classes)


def _rewrite_header(path, **changes):
    import json

    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta.update(changes)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(SymgradError, match="is a folder; give the model.npz inside a previous run"):
        Classifier.load(tmp_path)


def test_truncated_model_file_is_one_sentence(tmp_path):
    path = _tiny().save(tmp_path / "model.npz")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(SymgradError, match="damaged"):
        Classifier.load(path)


@pytest.mark.parametrize("field,value", [("n_layers", "two"), ("n_layers", 7), ("activation", 5),
                                         ("feature_names", 5), ("feature_names", [1, 2]), ("n_classes", 1.5),
                                         ("n_classes", 1), ("class_names", "ab")])
def test_bad_header_fields_are_one_sentence(tmp_path, field, value):
    path = _tiny().save(tmp_path / "model.npz")
    _rewrite_header(path, **{field: value})
    with pytest.raises(SymgradError) as info:
        Classifier.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("names,n_classes,words", [(("a", "b", "c"), 2, "takes 2 inputs"),
                                                   (("b", "a"), 2, "differ from the features"),
                                                   (("a", "b"), 50, "predicts 2 classes but the data has 50")])
def test_reused_model_must_match_the_data(names, n_classes, words):
    with pytest.raises(SymgradError, match=words):
        _tiny().check_matches(names, n_classes)
    _tiny().check_matches(("a", "b"), 2)


def test_a_nan_model_gets_its_own_sentence(tmp_path):
    model = _tiny()
    broken = Classifier(((model.layers[0][0] * np.nan, model.layers[0][1]), model.layers[1]), model.activation,
                        model.mean, model.scale, model.feature_names, model.n_classes)
    with pytest.raises(SymgradError, match="weights are not finite numbers: the model file is damaged"):
        broken.check_finite(np.zeros((3, 2)))
    with pytest.raises(SymgradError, match="training diverged"):
        broken.check_finite(np.zeros((3, 2)), trained=True)
    huge = Classifier(((model.layers[0][0] * 1e38, model.layers[0][1]), (model.layers[1][0] * 1e38,
                                                                        model.layers[1][1])),
                      model.activation, model.mean, model.scale, model.feature_names, model.n_classes)
    with pytest.raises(SymgradError, match="outputs are not finite"):
        huge.check_finite(np.full((3, 2), 1e3))
    model.check_finite(np.zeros((3, 2)))
