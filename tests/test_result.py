"""The one result object: explain(), save() and load_run() agree; one place chooses the formula."""

import json

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.errors import SymgradError
from symgrad.judging.verdict import choose
from symgrad.result import Result, load_run
from symgrad.search.base import Entry, Front, SearchResult


def _same_level_sets(expression: str, truth: str, names=("x0", "x1")) -> bool:
    """True when expression = c * truth + constant (the same concept up to a monotone map)."""
    symbols = sp.symbols(names)
    local = dict(zip(names, symbols))
    g, t = sp.sympify(expression, locals=local), sp.sympify(truth, locals=local)
    ratio = sp.simplify(sp.diff(g, symbols[0]) / sp.diff(t, symbols[0]))
    return ratio.is_number and all(sp.simplify(sp.diff(g, s) - ratio * sp.diff(t, s)) == 0 for s in symbols)


@pytest.fixture(scope="module")
def explained(trained_a1):
    classifier, split, _ = trained_a1
    points = np.concatenate([split.validation.x, split.test.x])
    labels = np.concatenate([split.validation.y, split.test.y])
    return symgrad.explain(classifier, points, y=labels, backend="library", seed=0)


def test_explain_recovers_a1_with_verdict_and_statement(explained):
    assert isinstance(explained, Result)
    assert _same_level_sets(explained.best.expression, "x0**2 + 2*x1**2"), explained.best.expression
    assert explained.verdict["kind"] == "faithful", explained.verdict
    assert explained.statement.startswith("the decision boundary is {")
    metrics = explained.metrics()
    assert metrics["boundary_agreement"] >= 0.95 and 0.9 <= metrics["true_label_accuracy"] <= 1.0
    assert callable(explained.numpy()) and explained.latex() and "def classify" in explained.rule()


def test_save_writes_a_run_directory_that_loads_back_the_same(explained, tmp_path):
    saved = explained.save(tmp_path / "run")
    for name in ("result.json", "report.html", "report.md", "model.npz", "gradients.npz", "rule.py", "front.csv"):
        assert (tmp_path / "run" / name).is_file(), name
    again = load_run(tmp_path / "run")
    assert again.front == explained.front and again.best == explained.best
    assert again.verdict == explained.verdict and again.statement == explained.statement
    assert json.loads((tmp_path / "run" / "result.json").read_text())["best"]["expression"] == saved.best.expression
    x = again.gradients()["x_holdout"][:5]
    np.testing.assert_allclose(again.model().logits(x), explained.model().logits(x), rtol=1e-6)
    with pytest.raises(SymgradError, match="already holds a finished run"):
        explained.save(tmp_path / "run")


def test_short_repr_html_table_and_dataframe(explained):
    text = repr(explained)
    assert len(text) < 300 and explained.best.expression in text and "faithful" in text
    page = explained._repr_html_()
    assert "<table>" in page and explained.best.expression.replace("*", "") in page.replace("*", "")
    assert "Verdict" in page
    assert repr(explained.front).startswith(f"Front({len(explained.front)} formulas")
    pd = pytest.importorskip("pandas")
    frame = explained.front.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(explained.front)
    assert list(frame["expression"]) == [e.expression for e in explained.front]


def test_a_jax_function_as_neuron_gives_its_formula():
    points = np.random.default_rng(0).uniform(-1, 1, size=(1500, 2))
    result = symgrad.explain(lambda x: x[0] ** 2 + 2 * x[1] ** 2, points, backend="library")
    assert _same_level_sets(result.best.expression, "x0**2 + 2*x1**2"), result.best.expression
    assert result.verdict["kind"] == "faithful" and "threshold" not in result.best.metrics
    assert result.statement == f"the function f(x) is a monotone function of {result.best.expression}"
    with pytest.raises(SymgradError, match="no network"):
        result.model()


def test_a_function_that_is_not_scalar_is_refused_in_one_sentence():
    points = np.zeros((50, 2))
    with pytest.raises(SymgradError, match="must return a scalar"):
        symgrad.explain(lambda x: x * 2, points, backend="library")


def _front():
    return Front((Entry("x0", 1, 0.05), Entry("x0 + x1", 3, 0.04), Entry("x0**2 + x1", 4, 0.001)))


def test_choose_applies_the_linear_concept_override():
    best, selection = choose(_front(), rule="knee")
    assert best.expression == "x0**2 + x1" and selection.degenerate is None
    best, selection = choose(_front(), rule="knee", search_info={"linear_concept": "x0 + x1"})
    assert best.expression == "x0 + x1" and selection.degenerate is not None
    assert choose(Front(), rule="knee")[0] is None


def test_explain_and_the_pipeline_share_the_override(trained_a1, monkeypatch):
    """explain() reads the backend's linear concept exactly as the CLI pipeline does."""
    classifier, split, _ = trained_a1

    class Fixed:
        name = "fixed"

        def search(self, problem, *, seed, progress=None):
            return SearchResult(_front(), info={"linear_concept": "x0 + x1"})

    monkeypatch.setattr(symgrad.search, "make_backend", lambda name, options=None, **_: Fixed())
    result = symgrad.explain(classifier, split.test.x, backend="fixed")
    assert result.best.expression == "x0 + x1" and result.record.selection.degenerate is not None


def test_load_run_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(SymgradError, match="not a symgrad run directory"):
        load_run(tmp_path)
    (tmp_path / "result.json").write_text('{"format": "other"}')
    with pytest.raises(SymgradError, match="not a symgrad result"):
        load_run(tmp_path)


def test_explain_is_deterministic_for_a_seed(trained_a1):
    classifier, split, _ = trained_a1
    first = symgrad.explain(classifier, split.test.x, backend="library", seed=3)
    second = symgrad.explain(classifier, split.test.x, backend="library", seed=3)
    assert first.front == second.front and first.best == second.best
    np.testing.assert_array_equal(first.gradients()["x"], second.gradients()["x"])
