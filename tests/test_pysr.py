"""The PySR backend without Julia (generated Julia text, arguments, front conversion, errors)
and, where Julia and PySR are installed, one tiny real search."""

import ast
import importlib.util
import json
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from symgrad.errors import SymgradError
from symgrad.expressions import parse_formula
from symgrad.search import SearchProblem, make_backend
from symgrad.search.pysr import backend as backend_module
from symgrad.search.pysr.backend import (
    INSTALL_HINT, NO_JULIA_HINT, PySRBackend, PySROptions, equation_to_sympy, find_julia,
    fit_arguments, front_from_equations, julia_loss_source, pysr_available, regressor_kwargs,
)

AVAILABLE, WHY_NOT = pysr_available()
NAMES = ("length", "width")


def _directions(x: np.ndarray) -> np.ndarray:
    # unit gradients of g = length^2 + 2 width^2
    grad = np.stack([2 * x[:, 0], 4 * x[:, 1]], axis=1)
    return grad / np.linalg.norm(grad, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def problem() -> SearchProblem:
    rng = np.random.default_rng(0)
    x, x_holdout = rng.uniform(0.2, 2.0, (200, 2)), rng.uniform(0.2, 2.0, (150, 2))
    return SearchProblem(x, _directions(x), x_holdout, _directions(x_holdout), NAMES)


def _strip_comments(source: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


# --- the generated Julia loss ------------------------------------------------------------

HEADER = re.compile(r"^function (\w+)\((\w+), (\w+)::[\w.]+\{T,\s*L\}, (\w+)\)::L where \{T,\s*L\}\s*$", re.M)


@pytest.mark.parametrize("n_features", [1, 3, 15])
@pytest.mark.parametrize("oriented", [False, True])
def test_loss_source_is_one_three_argument_function_with_balanced_blocks(n_features, oriented):
    source = julia_loss_source(n_features, oriented)
    headers = HEADER.findall(source)
    assert len(headers) == 1 and headers[0][1:] == ("tree", "dataset", "options")
    assert len(re.findall(r"^function\b", source, re.M)) == 1
    code = _strip_comments(source)
    openers = re.findall(r"\b(function|for|if|while|let|begin|do|try|quote|struct|module)\b", code)
    assert len(openers) == len(re.findall(r"\bend\b", code)) >= 3
    assert code.count("(") == code.count(")") and code.count("[") == code.count("]")
    assert f"d = {n_features}\n" in code


def test_loss_source_rejects_trees_that_read_target_rows_and_invalid_trees():
    code = _strip_comments(julia_loss_source(4))
    reject = re.search(r"if any\(node -> node\.degree == 0 && !node\.constant && node\.feature > d, tree\)\s*"
                       r"return L\(Inf\)\s*end", code)
    assert reject is not None
    assert re.search(r"if !complete\s*return L\(Inf\)\s*end", code)
    # targets are read from rows d+1..2d and only the d input partials enter the cosine
    assert "X[d + i, k]" in code and "gradient[i, k]" in code and "for i in 1:d" in code
    assert "eval_grad_tree_array(tree, X, options; variable=true)" in code


def test_loss_source_counts_zero_or_nonfinite_gradients_as_misaligned():
    code = _strip_comments(julia_loss_source(2))
    guard = re.search(r"if !\(isfinite\(grad_norm\) && grad_norm > zero\(L\) && isfinite\(c\)\)\s*c = zero\(L\)\s*end",
                      code)
    assert guard is not None
    assert code.index("c = inner / grad_norm") < guard.start() < code.index("total +=")


def test_loss_source_sign_invariant_and_oriented_forms_differ_only_in_the_row_term():
    signed, oriented = julia_loss_source(3), julia_loss_source(3, oriented=True)
    assert "total += one(L) - abs(c)" in signed and "abs(c)" not in oriented
    assert "total += one(L) - c" in oriented
    body = lambda s: [line for line in s.splitlines()[1:] if "total +=" not in line]  # noqa: E731
    assert body(signed) == body(oriented)
    assert HEADER.findall(signed)[0][0] != HEADER.findall(oriented)[0][0]  # no clash in Julia's Main
    assert HEADER.findall(julia_loss_source(2))[0][0] != HEADER.findall(signed)[0][0]


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_loss_source_rejects_bad_feature_counts(bad):
    with pytest.raises(SymgradError, match="n_features"):
        julia_loss_source(bad)


def test_loss_source_parses_as_julia_when_a_julia_grammar_is_installed():
    ts = pytest.importorskip("tree_sitter")
    grammar = pytest.importorskip("tree_sitter_julia")
    parser = ts.Parser(ts.Language(grammar.language()))
    for oriented in (False, True):
        root = parser.parse(julia_loss_source(5, oriented).encode()).root_node
        assert not root.has_error
        assert [child.type for child in root.children] == ["function_definition"]
        signature = root.children[0].children[1]
        calls = [n for n in _walk(signature) if n.type == "argument_list"]
        assert len(calls[0].named_children) == 3


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


# --- PySRRegressor and fit arguments -------------------------------------------------------

def test_regressor_kwargs_seeded_search_is_deterministic_and_serial():
    options = PySROptions(seed=7, time_limit=12.5, max_size=17, niterations=9, populations=4)
    kwargs = regressor_kwargs(options, 3)
    assert kwargs["random_state"] == 7 and kwargs["deterministic"] is True and kwargs["parallelism"] == "serial"
    assert kwargs["timeout_in_seconds"] == 12.5 and kwargs["maxsize"] == 17
    assert kwargs["niterations"] == 9 and kwargs["populations"] == 4
    assert kwargs["loss_function"] == julia_loss_source(3, False)
    assert kwargs["temp_equation_file"] is True and kwargs["verbosity"] == 0 and kwargs["progress"] is False
    assert "early_stop_condition" not in kwargs and "complexity_of_operators" not in kwargs


def test_regressor_kwargs_without_seed_or_determinism_run_multithreaded():
    unseeded = regressor_kwargs(PySROptions(), 2)
    assert "random_state" not in unseeded and "deterministic" not in unseeded
    assert unseeded["parallelism"] == "multithreading"
    free = regressor_kwargs(PySROptions(seed=3, deterministic=False), 2)
    assert free["random_state"] == 3 and "deterministic" not in free and free["parallelism"] == "multithreading"
    assert regressor_kwargs(PySROptions(time_limit=None), 2)["timeout_in_seconds"] is None


def test_regressor_kwargs_map_operators_weights_threshold_and_orientation():
    options = PySROptions(operators=("+", "mul", "*", "pow", "^", "exp", "square", "log", "add"),
                          complexity_weights={"exp": 3, "pow": 2.5, "constant": 2, "variable": 1.5},
                          loss_threshold=1e-4, parsimony=0.01, oriented=True)
    kwargs = regressor_kwargs(options, 2)
    assert kwargs["binary_operators"] == ["+", "*", "^"]
    assert kwargs["unary_operators"] == ["exp", "square", "log"]
    assert kwargs["complexity_of_operators"] == {"exp": 3.0, "^": 2.5}
    assert kwargs["complexity_of_constants"] == 2.0
    assert kwargs["early_stop_condition"] == 1e-4 and kwargs["parsimony"] == 0.01
    assert kwargs["loss_function"] == julia_loss_source(2, oriented=True)


def test_fit_arguments_put_targets_beside_inputs_and_price_them_out(problem):
    options = PySROptions(max_size=12, complexity_weights={"variable": 2})
    args = fit_arguments(problem.x, problem.directions, options)
    assert args["X"].shape == (200, 4)
    np.testing.assert_array_equal(args["X"][:, :2], problem.x)
    np.testing.assert_array_equal(args["X"][:, 2:], problem.directions)
    assert args["y"].shape == (200,) and not np.any(args["y"])
    assert args["variable_names"] == ["x0", "x1", "n0", "n1"]
    assert args["complexity_of_variables"] == [2.0, 2.0, 13.0, 13.0]
    with pytest.raises(SymgradError, match="shape"):
        fit_arguments(problem.x, problem.directions[:, :1], options)


def _pysr_sources():
    spec = importlib.util.find_spec("pysr")
    if spec is None or spec.origin is None:
        pytest.skip("pysr is not installed")
    return Path(spec.origin).parent


def _method_parameters(source: Path, method: str) -> set[str]:
    tree = ast.parse((source / "sr.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "PySRRegressor":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    return {a.arg for a in item.args.args + item.args.kwonlyargs}
    raise AssertionError(f"PySRRegressor.{method} not found")


def test_arguments_are_parameters_of_the_installed_pysr():
    # read from PySR's source with ast: importing pysr would start Julia
    source = _pysr_sources()
    options = PySROptions(seed=1, loss_threshold=0.1, complexity_weights={"+": 2, "constant": 2})
    assert set(regressor_kwargs(options, 2)) <= _method_parameters(source, "__init__")
    assert set(fit_arguments(np.ones((3, 2)), np.ones((3, 2)), options)) <= _method_parameters(source, "fit")


# --- options ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, word", [
    ({"operators": ("+", "sinh")}, "operators"),
    ({"operators": ("sin", "cos")}, "binary"),
    ({"operators": "+-"}, "operators"),
    ({"max_size": 5}, "max_size"),
    ({"max_size": 10.0}, "max_size"),
    ({"time_limit": -1}, "time_limit"),
    ({"parsimony": -0.1}, "parsimony"),
    ({"niterations": 0}, "niterations"),
    ({"loss_threshold": float("nan")}, "loss_threshold"),
    ({"deterministic": "yes"}, "deterministic"),
    ({"complexity_weights": {"tanh": 2}}, "complexity_weights"),
    ({"complexity_weights": {"+": 0}}, "complexity_weights"),
])
def test_bad_options_raise_one_sentence_naming_the_option(kwargs, word):
    with pytest.raises(SymgradError, match=word) as info:
        PySROptions(**kwargs)
    assert "\n" not in str(info.value)


def test_bad_option_is_reported_before_missing_julia(monkeypatch):
    monkeypatch.setattr(backend_module, "_pysr_installed", lambda: False)
    with pytest.raises(SymgradError, match="max_size"):
        PySRBackend(max_size=3)
    with pytest.raises(SymgradError, match="not an option"):
        make_backend("pysr", {"maxsize": 20})


# --- equations table -> re-scored front ----------------------------------------------------

def test_equation_strings_map_to_feature_names_and_julia_floats():
    assert str(equation_to_sympy("(x0 * x0) + (2.0f0 * (x1 ^ 2))", NAMES)) == "length**2 + 2.0*width**2"
    assert equation_to_sympy("1.5f-1 * x0", ("a",)) == parse_formula("0.15 * a", ("a",))
    # a feature literally named like another's internal name is not renamed twice
    swapped = equation_to_sympy("x0 - square(x1)", ("x1", "x0"))
    assert swapped == parse_formula("x1 - x0**2", ("x1", "x0"))
    with pytest.raises(SymgradError):
        equation_to_sympy("x0 * n0", NAMES)


def test_front_from_equations_rescores_with_our_loss_on_held_out_points(problem):
    table = pd.DataFrame({
        "complexity": [3, 5, 7, 9, 4, 11],
        "loss": [0.2, 0.01, 0.0, 0.0, 0.5, 0.0],
        "equation": ["x0 + x1", "x0 * x1", "(x0 * x0) + (2.0f0 * (x1 * x1))", "x0 * n1", "bad((",
                     "-(square(x0)) - (x1 * (2.0 * x1))"],
        "score": [0.0] * 6,
    })
    messages = []
    front = front_from_equations(table, problem, progress=messages.append)
    assert len(front) == 4 and len(messages) == 2 and all("skipped" in m for m in messages)
    by_equation = {e.metrics["pysr_equation"]: e for e in front}
    for text, entry in by_equation.items():
        expr = parse_formula(entry.expression, NAMES)
        assert entry.source == "pysr"
        assert set(map(str, expr.free_symbols)) <= set(NAMES)
        assert entry.loss == pytest.approx(problem.loss(expr))
        assert entry.train_loss == pytest.approx(problem.loss(expr, holdout=False))
        assert entry.metrics["pysr_loss"] == float(table.loss[table.equation == text].iloc[0])
    # the true concept and its negation are exact; the wrong shapes are not
    assert by_equation["(x0 * x0) + (2.0f0 * (x1 * x1))"].loss < 1e-12
    assert by_equation["-(square(x0)) - (x1 * (2.0 * x1))"].loss < 1e-12
    assert by_equation["x0 + x1"].loss > 1e-2 and by_equation["x0 * x1"].loss > 1e-2
    assert [e.complexity for e in front] == sorted(e.complexity for e in front)


def test_front_from_equations_accepts_rows_and_empty_tables(problem):
    assert len(front_from_equations(pd.DataFrame({"equation": [], "complexity": [], "loss": []}), problem)) == 0
    front = front_from_equations([{"equation": "x1", "complexity": 1, "loss": 0.3}], problem)
    assert [e.expression for e in front] == ["width"] and front.entries[0].loss > 0.01


# --- availability and the one-sentence error ------------------------------------------------

def test_module_import_does_not_import_pysr_or_julia():
    code = "import sys, symgrad.search.pysr.backend; print(sorted({'pysr', 'juliacall', 'juliapkg'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _no_julia_anywhere(monkeypatch, tmp_path):
    for var in ("PYTHON_JULIAPKG_EXE", "PYTHON_JULIAPKG_PROJECT", "CONDA_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JULIA_DEPOT_PATH", str(tmp_path / "depot"))
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)


def test_find_julia_looks_on_path_and_in_pyjuliapkg_environment(monkeypatch, tmp_path):
    _no_julia_anywhere(monkeypatch, tmp_path)
    assert find_julia() is None
    exe = tmp_path / "bin" / "julia"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    project = tmp_path / "project"
    (project / "pyjuliapkg").mkdir(parents=True)
    (project / "pyjuliapkg" / "meta.json").write_text(json.dumps({"executable": str(exe)}))
    monkeypatch.setenv("PYTHON_JULIAPKG_PROJECT", str(project))
    assert find_julia() == str(exe)
    monkeypatch.delenv("PYTHON_JULIAPKG_PROJECT")
    monkeypatch.setenv("PATH", str(exe.parent))
    assert find_julia() == str(exe)
    monkeypatch.setenv("PYTHON_JULIAPKG_EXE", str(tmp_path / "missing"))
    assert find_julia() is None


def test_availability_names_what_to_install(monkeypatch, tmp_path):
    _no_julia_anywhere(monkeypatch, tmp_path)
    monkeypatch.setattr(backend_module, "_pysr_installed", lambda: False)
    assert pysr_available() == (False, INSTALL_HINT)
    monkeypatch.setattr(backend_module, "_pysr_installed", lambda: True)
    assert pysr_available() == (False, NO_JULIA_HINT)
    monkeypatch.setattr(backend_module, "find_julia", lambda: "/opt/julia/bin/julia")
    assert pysr_available() == (True, "")
    for hint in (INSTALL_HINT, NO_JULIA_HINT):
        assert "Julia" in hint and "docs/pysr.md" in hint and "\n" not in hint
        assert len(re.findall(r"[.!?](\s|$)", hint.replace("docs/pysr.md", "docs"))) <= 1


@pytest.mark.skipif(AVAILABLE, reason="PySR and Julia are installed here")
def test_choosing_the_backend_without_julia_fails_at_once_with_one_sentence():
    started = time.perf_counter()
    for build in (lambda: PySRBackend(), lambda: make_backend("pysr", {"time_limit": 5})):
        with pytest.raises(SymgradError, match="Julia") as info:
            build()
        message = str(info.value)
        assert message == WHY_NOT and "\n" not in message
        assert info.value.__cause__ is None and info.value.__context__ is None
    assert time.perf_counter() - started < 2.0
    assert "pysr" not in sys.modules and "juliacall" not in sys.modules


# --- search() with a stand-in for the pysr package ----------------------------------------

class _FakeRegressor:
    instances: list = []
    fail_with: BaseException | None = None

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        _FakeRegressor.instances.append(self)

    def fit(self, X, y, variable_names, complexity_of_variables):
        self.fit_args = {"X": X, "y": y, "variable_names": variable_names,
                         "complexity_of_variables": complexity_of_variables}
        table = pd.DataFrame({"complexity": [3, 7], "loss": [0.2, 0.0],
                              "equation": ["x0 + x1", "(x0 * x0) + (2.0 * (x1 * x1))"]})
        if self.fail_with is not None:
            self.saved = table.iloc[:1]
            raise self.fail_with
        self.equations_ = table

    def get_hof(self):
        return self.saved


@pytest.fixture()
def fake_pysr(monkeypatch):
    loaded = []
    package = types.ModuleType("pysr")
    package.PySRRegressor = _FakeRegressor
    package.__version__ = "0.0-fake"
    extensions = types.ModuleType("pysr.julia_extensions")
    extensions.load_package = lambda name, uuid: loaded.append((name, uuid))
    package.julia_extensions = extensions
    monkeypatch.setitem(sys.modules, "pysr", package)
    monkeypatch.setitem(sys.modules, "pysr.julia_extensions", extensions)
    monkeypatch.setattr(backend_module, "pysr_available", lambda: (True, ""))
    monkeypatch.setattr(_FakeRegressor, "instances", [])
    monkeypatch.setattr(_FakeRegressor, "fail_with", None)
    return loaded


def test_search_wires_arguments_and_rescores_the_front(fake_pysr, problem):
    backend = make_backend("pysr", {"max_size": 12, "time_limit": 5})
    lines = []
    found = backend.search(problem, seed=11, progress=lines.append)
    front = found.front
    assert fake_pysr == [("Zygote", backend_module.ZYGOTE_UUID)]
    (model,) = _FakeRegressor.instances
    assert model.kwargs == regressor_kwargs(PySROptions(max_size=12, time_limit=5, seed=11), 2)
    assert model.fit_args["X"].shape == (200, 4) and model.fit_args["complexity_of_variables"][2:] == [13.0, 13.0]
    assert [e.expression for e in front] == ["length + width", "length**2 + 2.0*width**2"]
    assert front.entries[1].loss < 1e-12 < front.entries[0].loss
    assert found.info["route"] == "loss_function" and found.interrupted is False
    assert any("best held-out L" in line for line in lines)


def test_search_returns_saved_front_when_interrupted(fake_pysr, problem):
    _FakeRegressor.fail_with = KeyboardInterrupt()
    backend = PySRBackend()
    found = backend.search(problem, seed=0)
    front = found.front
    assert found.interrupted is True
    assert [e.expression for e in front] == ["length + width"]


def test_search_reports_a_julia_start_failure_in_one_sentence(fake_pysr, monkeypatch, problem):
    def broken(name, uuid):
        raise RuntimeError("Pkg.add failed: no registry\nstack trace ...")

    monkeypatch.setattr(sys.modules["pysr.julia_extensions"], "load_package", broken)
    with pytest.raises(SymgradError, match="could not start Julia") as info:
        PySRBackend().search(problem, seed=0)
    assert "\n" not in str(info.value)


# --- a real search, only where Julia and PySR exist -----------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not AVAILABLE, reason=f"needs Julia and PySR ({WHY_NOT})")
def test_real_pysr_search_recovers_a_product():
    rng = np.random.default_rng(1)

    def directions(x):
        grad = np.stack([x[:, 1], x[:, 0]], axis=1)  # g = x0 * x1
        return grad / np.linalg.norm(grad, axis=1, keepdims=True)

    x, x_holdout = rng.uniform(0.5, 2.0, (300, 2)), rng.uniform(0.5, 2.0, (300, 2))
    problem = SearchProblem(x, directions(x), x_holdout, directions(x_holdout), ("a", "b"))
    backend = PySRBackend(operators=("+", "-", "*", "/"), max_size=9, niterations=30, populations=4,
                          time_limit=240, loss_threshold=1e-6)
    front = backend.search(problem, seed=0).front
    assert len(front) > 0 and all(e.source == "pysr" for e in front)
    assert min(e.loss for e in front) < 1e-4
