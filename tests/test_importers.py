"""Networks trained elsewhere: imported exactly, checked numerically, refused in one sentence."""

import warnings

import numpy as np
import pytest

import symgrad
from symgrad.data import make_concept_dataset
from symgrad.errors import SymgradError
from symgrad.network.importers import from_arrays, from_sklearn

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402


def _same_concept_a1(expression: str) -> bool:
    from tests.test_result import _same_level_sets

    return _same_level_sets(expression, "x0**2 + 2*x1**2")


def _quick_mlp(x, y, activation, hidden=(8,), iterations=30):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(hidden, activation=activation, max_iter=iterations, random_state=0).fit(x, y)


@pytest.fixture(scope="module")
def a1_data():
    data = make_concept_dataset("A1", 3000, seed=0)
    labels = np.where(data.y == 1, "outside", "inside")
    return data.x, labels


@pytest.fixture(scope="module")
def sklearn_a1(a1_data):
    x, labels = a1_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((32, 32), activation="relu", max_iter=400, random_state=0).fit(x, labels)


def test_sklearn_mlp_passed_as_object_is_interpreted(sklearn_a1, a1_data, tmp_path):
    x, labels = a1_data
    result = symgrad.explain(sklearn_a1, x, y=labels, backend="library")
    model = result.model()
    np.testing.assert_allclose(model.class_probabilities(x), sklearn_a1.predict_proba(x), atol=1e-5)
    assert _same_concept_a1(result.best.expression), result.best.expression
    assert result.verdict["kind"] == "faithful", result.verdict
    assert "predicts class 1 ('outside') where" in result.statement
    namespace: dict = {}
    exec(result.rule(), namespace)  # the generated rule returns the user's labels
    assert {namespace["classify"](x0=0.0, x1=0.0), namespace["classify"](x0=0.95, x1=0.95)} == {"inside", "outside"}
    saved = result.save(tmp_path / "sk")
    assert (saved.path / "report.html").is_file() and saved.verdict == result.verdict
    assert "scikit-learn" in saved.record.model.extra["source"]


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_every_sklearn_activation_binary_and_multiclass_reproduces_predict_proba(activation):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    binary = (x[:, 0] + x[:, 1] ** 2 > 0.5).astype(int)
    three = np.argmax(np.column_stack([x[:, 0], x[:, 1], -x[:, 0] - x[:, 1]]), axis=1)
    for y in (binary, three):
        mlp = _quick_mlp(x, y, activation, hidden=(6, 5))
        model = from_sklearn(mlp, x)
        assert model.n_classes == len(set(y)) and model.hidden_sizes == (6, 5)
        np.testing.assert_allclose(model.class_probabilities(x), mlp.predict_proba(x), atol=1e-5)


def test_sklearn_pipeline_with_scaler_and_feature_names():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(2)
    x = rng.normal(loc=[10.0, -3.0], scale=[5.0, 0.1], size=(300, 2))
    y = (x[:, 0] / 5 + (x[:, 1] + 3) / 0.1 > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=50, random_state=0)).fit(x, y)
    model = from_sklearn(pipe, x, feature_names=["bill length", "depth"])
    assert model.feature_names == ("bill_length", "depth")
    np.testing.assert_allclose(model.class_probabilities(x), pipe.predict_proba(x), atol=1e-5)


def test_sklearn_refusals_are_one_sentence(a1_data):
    from sklearn.linear_model import LogisticRegression

    x, labels = a1_data
    with pytest.raises(SymgradError, match="LogisticRegression is not supported"):
        symgrad.explain(LogisticRegression().fit(x, labels), x)
    with pytest.raises(SymgradError, match="not fitted"):
        from_sklearn(MLPClassifier(), x)
    with pytest.raises(SymgradError, match="3 inputs"):
        from_sklearn(_quick_mlp(np.c_[x, x[:, :1]][:200], labels[:200], "tanh"), x)


def test_plain_arrays_in_keras_layout_and_a_transposed_square_layer_is_caught():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 4))
    w1, b1 = rng.normal(size=(4, 4)), rng.normal(size=4)
    w2, b2 = rng.normal(size=(4, 1)), rng.normal(size=1)
    logits = np.tanh(x @ w1 + b1) @ w2 + b2  # what the original network computes
    model = from_arrays([w1, w2], [b1, b2], activation="tanh", x=x, outputs=logits)
    np.testing.assert_allclose(model.logits(x), logits, rtol=1e-5, atol=1e-5)
    probabilities = 1 / (1 + np.exp(-logits))
    from_arrays([w1.T, w2.T], [b1, b2], activation="tanh", x=x, outputs=probabilities, layout="out_in",
                output="probabilities")
    with pytest.raises(SymgradError, match="does not reproduce"):
        from_arrays([w1.T, w2], [b1, b2], activation="tanh", x=x, outputs=logits)  # forgot a transpose
    with pytest.raises(SymgradError, match="does not reproduce"):
        from_arrays([w1, w2], [b1, b2], activation="relu", x=x, outputs=logits)  # wrong activation
    with pytest.raises(SymgradError, match="activation 'softplus' is not supported"):
        from_arrays([w1, w2], [b1, b2], activation="softplus", x=x, outputs=logits)
    with pytest.raises(SymgradError, match="weight shape"):
        from_arrays([w1, w2.T], [b1, b2], activation="tanh", x=x, outputs=logits)


def test_a_function_jax_cannot_trace_is_refused():
    x = np.zeros((30, 2))
    with pytest.raises(SymgradError, match="cannot be traced by JAX"):
        symgrad.explain(lambda p: float(p[0]) ** 2, x)
