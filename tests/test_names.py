"""Column names never change a formula's meaning: reserved names are renamed at load, the
renaming is reported, and every formula of a real front survives a string round trip."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad.data import load_csv
from symgrad.errors import SymgradError
from symgrad.expressions import formula_names, parse_formula, symbols_for
from symgrad.run import main
from symgrad.search import make_backend
from symgrad.search.synthetic import exact_problem

HOSTILE = ["pi", "E", "lambda", "None", "exp", "sin", "I", "S", "N", "O", "Q", "Integer", "gamma"]


def write_csv(path: Path, header: list[str], x: np.ndarray, y: np.ndarray) -> Path:
    rows = [",".join(header + ["label"])] + [",".join([*(f"{v:.6f}" for v in row), str(int(t))])
                                              for row, t in zip(x, y)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("name", HOSTILE)
def test_reserved_names_are_renamed(name):
    names, renamed = formula_names([name, "x0"])
    assert names[0] != name and names[0].startswith(name) and renamed == {name: names[0]}
    assert names[1] == "x0"


def test_collisions_after_sanitising_get_distinct_names():
    names, renamed = formula_names(["a b", "a_b", "a-b", "1x"])
    assert names == ("a_b", "a_b_2", "a_b_3", "x_1x")
    assert renamed == {"a b": "a_b", "a_b": "a_b_2", "a-b": "a_b_3", "1x": "x_1x"}


def test_parse_refuses_feature_names_that_shadow_functions():
    with pytest.raises(SymgradError, match="rename them"):
        parse_formula("pi + pi*x", ("pi", "x"))


def test_load_csv_keeps_the_original_names(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (60, 3))
    data = load_csv(write_csv(tmp_path / "d.csv", ["pi", "a b", "a_b"], x, x[:, 0] > 0), label="label")
    assert data.feature_names == ("pi_", "a_b", "a_b_2")
    assert data.renamed == {"pi": "pi_", "a b": "a_b", "a_b": "a_b_2"}
    expr = parse_formula("pi + pi*pi_", data.feature_names)
    assert expr == sp.pi + sp.pi * symbols_for(data.feature_names)[0]


def test_renaming_columns_does_not_change_the_front():
    # the same gradients under other names: the front must be the same formulas, symbol for symbol
    problem = exact_problem("x1 - x0 + 0.5*x2", 3, -1, 1, n=300, noise=0.05, seed=1)
    renamed = dataclasses.replace(problem, feature_names=("zz", "b", "a"))
    plain = make_backend("library", {}).search(problem, seed=0).front
    other = make_backend("library", {}).search(renamed, seed=0).front
    back = {new: old for new, old in zip(symbols_for(renamed.feature_names), symbols_for(problem.feature_names))}
    assert len(plain) == len(other) >= 3
    for a, b in zip(plain, other):
        assert parse_formula(b.expression, renamed.feature_names).xreplace(back) == \
            parse_formula(a.expression, problem.feature_names)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    # class 1 where lambda + pi·E > 0.5: a π in the true formula next to columns named pi and E
    tmp = tmp_path_factory.mktemp("names")
    rng = np.random.default_rng(1)
    header = ["pi", "E", "lambda", "None", "sin"]
    x = rng.uniform(-1, 1, (2500, len(header)))
    y = x[:, 2] + np.pi * x[:, 1] > 0.5
    csv = write_csv(tmp / "hostile.csv", header, x, y)
    config = tmp / "hostile.yaml"
    config.write_text(f"data: {{path: {csv}, label: label}}\nmodel: {{hidden: [16, 16]}}\n"
                      "train: {epochs: 20}\nsearch: {backend: library, force_inputs: [pi]}\n"
                      "gradients: {n_points: 300, n_holdout: 300}\n")
    out = tmp / "run"
    assert main([str(config), "--out", str(out), "--quiet"]) == 0
    return json.loads((out / "result.json").read_text())


def test_hostile_columns_run_and_report_their_renaming(hostile_run):
    assert hostile_run["status"] == "finished"
    assert hostile_run["features"] == ["pi_", "E_", "lambda_", "None_", "sin_"]
    assert hostile_run["data"]["renamed"] == {"pi": "pi_", "E": "E_", "lambda": "lambda_", "None": "None_",
                                              "sin": "sin_"}
    best = parse_formula(hostile_run["best"]["expression"], hostile_run["features"])
    assert {str(s) for s in best.free_symbols} <= {"E_", "lambda_", "pi_"} and {"E_", "lambda_"} <= \
        {str(s) for s in best.free_symbols}
    # search.force_inputs names the CSV's column 'pi': the search was given its safe name
    assert "pi_" in hostile_run["search"]["info"]["screening"]["kept"]


def test_every_front_formula_survives_a_string_round_trip(hostile_run):
    names = hostile_run["features"]
    ours = dict(zip(names, symbols_for(names)))
    assert len(hostile_run["front"]) >= 2
    for entry in hostile_run["front"]:
        expr = parse_formula(entry["expression"], names)
        assert parse_formula(str(expr), names) == expr
        # sympy's own parser reads the same formula: no feature is taken for a constant or function
        plain = sp.sympify(entry["expression"])
        assert plain.xreplace({s: ours[s.name] for s in plain.free_symbols}) == expr
        assert {s.name for s in plain.free_symbols} <= set(names)
