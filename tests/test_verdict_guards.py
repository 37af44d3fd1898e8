"""The verdict says it cannot judge where agreement means nothing, and names the right class."""

import numpy as np
import pytest

from symgrad.judging.assess import statement
from symgrad.config import load_config
from symgrad.neurons import NeuronSpec
from symgrad.pipeline import interpret
from symgrad.judging.verdict import APPROXIMATE, CANNOT_JUDGE, FAITHFUL, NOT_FOUND, verdict
from symgrad.search.base import Entry

GOOD = {"loss": 0.005, "boundary_agreement": 0.99, "threshold": 1.0, "formula_min": 0.0, "formula_max": 3.0,
        "n_boundary_points": 400, "net_class_count": 180, "net_accuracy": 0.97, "majority_accuracy": 0.55,
        "target_class": 1, "target_class_name": "1"}


@pytest.mark.parametrize("change,words", [
    ({"net_class_count": 0}, "on 0 of the 400 test points"),
    ({"net_class_count": 396}, "on 396 of the 400"),
    ({"threshold": 3.5}, "outside the formula's range"),
    ({"formula_min": float("nan")}, "no finite value"),
    ({"net_accuracy": 0.55}, "no better than always predicting"),
])
def test_guards_say_why_they_cannot_judge(change, words):
    assert verdict(GOOD, [GOOD])[0] == FAITHFUL
    kind, sentence = verdict({**GOOD, **change}, [GOOD])
    assert kind == CANNOT_JUDGE and sentence.startswith("Cannot judge the formula: ") and words in sentence


def test_guards_leave_a_bad_fit_not_found():
    assert verdict({**GOOD, "loss": 0.2, "boundary_agreement": 0.9}, [GOOD])[0] == NOT_FOUND
    # the decisions without the gradients are an approximation of the decisions only
    kind, sentence = verdict({**GOOD, "loss": 0.2}, [GOOD])
    assert kind == APPROXIMATE and "but not its gradient directions" in sentence


def test_statement_names_the_neurons_class():
    entry = Entry("a + b", 3, 0.01, metrics={"threshold": 0.5, "orientation": 1, "target_class": 7,
                                              "target_class_name": "7"})
    text = statement(entry, NeuronSpec("class", unit=7))
    assert "predicts class 7 where a + b > 0.5" in text and "class 1" not in text
    named = Entry("a", 1, 0.01, metrics={"threshold": 0.5, "orientation": -1, "target_class": 1,
                                          "target_class_name": "yes"})
    assert "predicts class 1 ('yes') where a < 0.5" in statement(named, NeuronSpec())


def _run(tmp_path, x, y, extra):
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="a,b,c,label", comments="", fmt="%.6f")
    config = load_config(None, [f"data.path={path}", "data.label=label", "model.hidden=[12]", "train.epochs=3",
                                "search.backend=library", "gradients.band=null", "gradients.n_points=100",
                                "gradients.n_holdout=100", "progress=false", *extra])
    return interpret(config, out=tmp_path / "run", progress=None).result


def test_one_positive_row_cannot_be_judged(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2000, 3))
    y = np.zeros(2000)
    y[17] = 1
    result = _run(tmp_path, x, y, [])
    assert result["verdict"]["kind"] == CANNOT_JUDGE, result["verdict"]


def test_a_class_the_network_never_predicts_cannot_be_judged(tmp_path):
    # 50 classes of random labels: the network learns nothing about class 7
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2000, 3))
    y = rng.integers(0, 50, 2000)
    result = _run(tmp_path, x, y, ["neuron.kind=class", "neuron.unit=7"])
    assert result["verdict"]["kind"] == CANNOT_JUDGE, result["verdict"]
    assert "class 7" in result["verdict"]["sentence"]
    assert "class 1" not in result.get("statement", "")
