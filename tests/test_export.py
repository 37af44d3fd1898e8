"""Exports: LaTeX names, numpy/JAX agreement, the standalone rule, front tables."""

from __future__ import annotations

import ast
import csv
import json
import math

import jax
import numpy as np
import pytest
import sympy as sp

from symgrad.errors import SymgradError
from symgrad.expressions import symbols_for
from symgrad.export import front_to_csv, front_to_json, rule_source, to_jax, to_latex, to_numpy
from symgrad.judging.metrics import fit_threshold, rule_labels

IRIS = ("petal_length", "petal_width", "sepal_length")


def test_latex_renders_user_names():
    tex = to_latex("petal_length/petal_width + exp(sepal_length)", IRIS)
    assert r"\mathrm{petal\_length}" in tex and r"\mathrm{petal\_width}" in tex
    assert r"\frac" in tex and "petal_length" not in tex.replace(r"petal\_length", "")
    assert to_latex("x0**2 + sin(x1 + x12)", ["x0", "x1", "x12"]) == r"x_{0}^{2} + \sin{\left(x_{1} + x_{12} \right)}"
    assert to_latex("alpha*b", ["alpha", "b"]) == r"\alpha b"


def test_latex_custom_names_and_errors():
    assert to_latex("petal_length*petal_width", IRIS[:2], {"petal_length": "L"}) == r"L \mathrm{petal\_width}"
    assert to_latex("petal_length*petal_width", IRIS[:2], ["L", "W"]) == "L W"
    with pytest.raises(SymgradError, match="latex_names has 1 entries"):
        to_latex("petal_length", IRIS[:2], ["L"])
    with pytest.raises(SymgradError, match="unknown feature 'sepal'"):
        to_latex("petal_length", IRIS[:2], {"sepal": "S"})


def test_numpy_and_jax_agree():
    expr = "exp(petal_length - petal_width) - 3.25*sepal_length + sqrt(Abs(petal_width))*sin(sepal_length)"
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 3))
    by_hand = np.exp(x[:, 0] - x[:, 1]) - 3.25 * x[:, 2] + np.sqrt(np.abs(x[:, 1])) * np.sin(x[:, 2])
    np.testing.assert_allclose(to_numpy(expr, IRIS)(x), by_hand, rtol=1e-12)
    jitted = jax.jit(to_jax(expr, IRIS))
    np.testing.assert_allclose(np.asarray(jitted(x.astype(np.float32))), by_hand, rtol=1e-5, atol=1e-5)


def test_constant_formula_keeps_shape():
    x = np.zeros((5, 3))
    assert to_numpy("2", IRIS)(x).shape == (5,)
    assert jax.jit(to_jax("2", IRIS))(x).shape == (5,)
    with pytest.raises(SymgradError, match="expected \\(n, 3\\)"):
        to_numpy("2", IRIS)(np.zeros((5, 2)))


def _load_rule(source: str, name: str = "classify"):
    namespace: dict = {}
    exec(compile(source, "<rule>", "exec"), namespace)  # a fresh namespace: no symgrad inside
    return namespace[name]


def test_rule_reproduces_thresholded_labels():
    names = ("petal length", "class", "x")  # not all are Python identifiers
    length, klass, x_sym = symbols_for(names)
    expr = sp.exp(x_sym - klass) - sp.pi * length
    x = np.random.default_rng(3).uniform(-1, 1, size=(400, 3))
    values = to_numpy(expr, names)(x)
    labels = (values < 0.4).astype(int)  # class 1 below the level: orientation -1
    threshold, orientation, accuracy = fit_threshold(values, labels)
    assert accuracy == 1.0 and orientation == -1
    source = rule_source(expr, names, threshold, orientation, function_name="is_iris")
    imports = [node for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [alias.name for node in imports for alias in node.names] == ["math"]
    rule = _load_rule(source, "is_iris")
    by_mapping = [rule(dict(zip(names, row))) for row in x]
    by_keywords = [rule(**{"petal length": a, "class": b, "x": c, "unused": 1.0}) for a, b, c in x]
    assert by_mapping == by_keywords == list(rule_labels(values, threshold, orientation)) == list(labels)


def test_rule_refuses_undefined_points_and_bad_arguments():
    rule = _load_rule(rule_source("log(x0)", ["x0"], 0.0, 1))
    assert rule({"x0": math.e}) == 1 and rule(x0=0.5) == 0
    with pytest.raises(ValueError, match="undefined"):
        rule(x0=-1.0)
    with pytest.raises(KeyError):
        rule(y=1.0)
    with pytest.raises(SymgradError, match="orientation 0"):
        rule_source("x0", ["x0"], 0.0, 0)
    with pytest.raises(SymgradError, match="not a finite number"):
        rule_source("x0", ["x0"], float("nan"), 1)
    with pytest.raises(SymgradError, match="not a Python identifier"):
        rule_source("x0", ["x0"], 0.0, 1, function_name="class")


def test_front_tables_round_trip(tmp_path):
    front = [
        {"expression": "x0", "complexity": 1, "loss": 0.3, "train_loss": None, "source": "library",
         "metrics": {"boundary_agreement": 0.7, "alignment_quantiles": [0.1, 0.5, 0.9]}},
        {"expression": "x0**2 + 2*x1**2", "complexity": 7, "loss": float(np.float64(1e-4)),
         "train_loss": 2e-4, "source": "operon", "metrics": {"boundary_agreement": 0.999, "loss": float("nan")}},
    ]
    with front_to_csv(front, tmp_path / "front.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["expression"] for r in rows] == ["x0", "x0**2 + 2*x1**2"]
    assert float(rows[1]["loss"]) == 1e-4 and rows[0]["train_loss"] == ""
    assert float(rows[1]["boundary_agreement"]) == 0.999
    assert json.loads(rows[0]["alignment_quantiles"]) == [0.1, 0.5, 0.9]
    assert rows[1]["metrics.loss"] == "nan"  # a metric named like a column keeps both
    loaded = json.loads(front_to_json(front, tmp_path / "sub" / "front.json").read_text())
    assert loaded[1]["metrics"]["loss"] is None  # strict JSON: NaN becomes null
    assert loaded[0] == front[0]


def test_rule_takes_original_column_names_and_returns_the_users_labels():
    source = rule_source("mean_radius**2 + mean_texture", ["mean_radius", "mean_texture"], 2.0, 1,
                         original_names={"mean_radius": "mean radius", "mean_texture": "mean texture"},
                         labels=("benign", "malignant"))
    namespace: dict = {}
    exec(source, namespace)
    classify = namespace["classify"]
    assert classify({"mean radius": 1.5, "mean texture": 0.5}) == "malignant"
    assert classify({"mean radius": 0.5, "mean texture": 0.5}) == "benign"
    assert classify(mean_radius=1.5, mean_texture=0.5) == "malignant"  # the formula's names still work
    with pytest.raises(KeyError):
        classify({"mean radius": 1.5})
