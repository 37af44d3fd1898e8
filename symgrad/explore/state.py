"""The explorer's state without widgets: ``Explorer`` holds the selected entry, the input pair and the
other inputs' values, computes a ``SliceView`` with numpy alone (the network's grids cached), compares
two entries and exports one (sympy, LaTeX, JAX, rule.py)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import SymgradError
from ..record import Neuron
from .drawing import slice_figure
from .views import FrontRow, SliceView

# 60 x 60 = 3,600 points a slice: a 2x60 network evaluates them in a few ms once compiled, and
# the boundary moves by at most one 60th of an input's range
RESOLUTION = 60
# network grids kept (one per input pair and slider position); each is 3 arrays of 3,600 floats
CACHE_SIZE = 64


class Explorer:
    """The explorer's state and computations, without widgets.

    Args:
        result: a ``symgrad.Result`` with its network and gradient samples (a run directory or
            ``explain``); its front must not be empty.
        resolution: grid points per axis of a slice.
    """

    def __init__(self, result: Any, *, resolution: int = RESOLUTION) -> None:
        from ..judging.assess import statement
        from ..judging.verdict import judge
        from ..search.screening import relevance

        if not len(result.front):
            raise SymgradError("the front is empty; there is no formula to explore")
        if len(result.features) < 2:
            raise SymgradError("a decision slice needs two inputs; this network has one")
        if int(resolution) < 3:
            raise SymgradError(f"resolution {resolution!r} is too small; use at least 3 grid points per axis")
        self.result, self.resolution = result, int(resolution)
        self.model = result.model()
        grads = result.gradients()
        self.reference = np.asarray(grads.get("x_reference", grads["x_holdout"]), dtype=np.float64)
        self.names = tuple(result.features)
        renamed = {new: old for old, new in ((result.record.data.renamed or {}) if result.record.data else {}).items()}
        self.labels = tuple(renamed.get(name, name) for name in self.names)
        self.low, self.high = self.reference.min(axis=0), self.reference.max(axis=0)
        self.median = np.median(self.reference, axis=0)
        self.neuron = result.record.neuron or Neuron()
        self.target = int(self.neuron.target_class if self.neuron.target_class is not None else 1)
        self.network_labels = (self.model.predict(self.reference) == self.target).astype(np.int64)
        # where loss_near is measured, as judging.verdict.conclude says it
        region = {"hidden": "near the unit's zero level", "function": "on the held-out points"}.get(
            self.neuron.kind, "near the decision boundary")
        entries = list(result.front)
        verdicts = [judge(e, result.front, decides=bool(self.neuron.decides), floor=result.record.floor,
                          region=region) for e in entries]
        self.rows = tuple(FrontRow(k, e.expression, e.complexity, e.loss, e.metrics.get("loss_near"),
                                   e.metrics.get("boundary_agreement"), v.kind, v.sentence, e == result.best)
                          for k, (e, v) in enumerate(zip(entries, verdicts)))
        self.statements = tuple(statement(e, self.neuron) for e in entries)
        self.relevance = relevance(grads["directions_holdout"] * grads.get("scale", 1.0))
        self.index = entries.index(result.best) if result.best in entries else 0
        self.pair = self.default_pair(self.index)
        self.values = self.median.copy()
        self._grids: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._formulas: dict[int, Callable[[np.ndarray], np.ndarray]] = {}
        self._latex: dict[int, str] = {}
        self.network_evaluations = 0  # grids the network was evaluated on (the rest came from the cache)

    # -- state

    def select(self, index: int) -> "Explorer":
        """Show front entry ``index`` (simplest first, as ``result.front``)."""
        self.index = self.entry_index(index)
        return self

    def set_pair(self, a: int | str, b: int | str) -> "Explorer":
        """Put inputs ``a`` (horizontal) and ``b`` (vertical) on the axes: indices or names."""
        i, j = self.input_index(a), self.input_index(b)
        if i == j:
            raise SymgradError(f"the axes need two different inputs; both are {self.labels[i]!r}")
        self.pair = (i, j)
        return self

    def set_value(self, name: int | str, value: float) -> "Explorer":
        """Hold input ``name`` at ``value`` (raw units) in the slice; an axis input's value is unused."""
        value = float(value)
        if not np.isfinite(value):
            raise SymgradError(f"value {value!r} for {name!r} is not a finite number")
        self.values[self.input_index(name)] = value
        return self

    def reset_values(self) -> "Explorer":
        """Every input back at its median over the reference points."""
        self.values = self.median.copy()
        return self

    def input_index(self, name: int | str) -> int:
        """The index of an input given by index, formula name or the user's column name."""
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool) and 0 <= name < len(self.names):
            return int(name)
        for names in (self.names, self.labels):
            if name in names:
                return names.index(name)
        raise SymgradError(f"{name!r} is not an input; use an index 0..{len(self.names) - 1} or one of "
                           f"{list(self.labels)}")

    def default_pair(self, index: int) -> tuple[int, int]:
        """The two most relevant inputs the entry uses (relevant unused inputs fill in)."""
        used = {str(s) for s in self.result.sympy(index).free_symbols}
        ranked = [int(k) for k in np.argsort(-self.relevance, kind="stable")]
        ordered = [k for k in ranked if self.names[k] in used] + [k for k in ranked if self.names[k] not in used]
        return min(ordered[:2]), max(ordered[:2])

    # -- computing

    def view(self, index: int | None = None) -> SliceView:
        """The current slice with entry ``index`` (default: the selected one) drawn over it."""
        index = self.index if index is None else self.entry_index(index)
        i, j = self.pair
        grid, a, b = self._grid()
        probability, margin = self._network(grid)
        r = self.resolution
        g = self._formula(index)(grid).reshape(r, r)
        metrics = self.result.front.entries[index].metrics
        threshold, orientation = metrics.get("threshold"), metrics.get("orientation")
        boundary = np.zeros((r, r), dtype=bool)
        agreement, wrong = None, np.zeros(0, dtype=np.int64)
        if threshold is not None:
            from ..judging.metrics import rule_labels

            rule = rule_labels(g, threshold, orientation).reshape(r, r)
            boundary[:, :-1] |= rule[:, :-1] != rule[:, 1:]
            boundary[:-1, :] |= rule[:-1, :] != rule[1:, :]
            held_out = rule_labels(self._formula(index)(self.reference), threshold, orientation)
            agreement = float(np.mean(held_out == self.network_labels))
            wrong = np.flatnonzero(held_out != self.network_labels)
        row = self.rows[index]
        return SliceView(index=index, expression=row.expression, pair=(i, j), names=(self.labels[i], self.labels[j]),
                         point=self.values.copy(), a=a, b=b, probability=probability, margin=margin,
                         network_side=margin > 0, formula=g,
                         threshold=threshold, orientation=orientation, boundary=boundary,
                         disagreements=self.reference[wrong][:, [i, j]], disagreement_index=wrong,
                         agreement=agreement, n_points=len(self.reference), verdict=row.verdict,
                         sentence=row.sentence, statement=self.statements[index], latex=self._latex_of(index))

    def compare(self, first: int, second: int) -> tuple[SliceView, SliceView]:
        """Two entries on the current slice (the network's grid is computed once)."""
        return self.view(first), self.view(second)

    def figure(self, compare: int | None = None):
        """The current slice as a matplotlib figure; with ``compare``, that entry's slice beside it."""
        views = [self.view()] + ([] if compare is None else [self.view(compare)])
        return slice_figure(views)

    def export(self, which: int | None = None, directory: str | Path | None = None) -> dict[str, Any]:
        """The exports of an entry (default: the selected one), written to ``directory`` if given.

        Returns:
            sympy (the expression), latex, jax (a jittable f(X (n, d)) -> (n,)), jax_source (a module
            defining it), rule (rule.py's source, for an entry with a threshold) and, with a
            directory, files: the paths of rule.py, formula_sympy.txt and formula_jax.py.
        """
        import sympy as sp
        from sympy.printing.numpy import JaxPrinter

        from ..expressions import symbols_for

        index = self.index if which is None else self.entry_index(which)
        expr = self.result.sympy(index)
        out: dict[str, Any] = {"sympy": expr, "latex": self._latex_of(index), "jax": self.result.jax(index)}
        # columns by position: a user's column name need not be a Python identifier
        columns = {s: sp.Symbol(f"_c{k}") for k, s in enumerate(symbols_for(self.names))}
        lines = ['"""g(X) of a symgrad formula; X is (n, d) with columns ' + ", ".join(self.labels) + '."""',
                 "import jax", "import jax.numpy", "", "", "def formula(X):",
                 f'    """{self.rows[index].expression}"""']
        lines += [f"    _c{k} = X[..., {k}]" for k, s in enumerate(symbols_for(self.names)) if s in expr.free_symbols]
        # broadcast: a constant formula still gives one value per row
        lines += [f"    return jax.numpy.broadcast_to({JaxPrinter().doprint(expr.xreplace(columns))}, X.shape[:-1])", ""]
        out["jax_source"] = "\n".join(lines)
        if "threshold" in self.result.front.entries[index].metrics:
            try:
                out["rule"] = self.result.rule(index)
            except SymgradError as error:  # a function the math module lacks: the other exports still stand
                out["rule_error"] = str(error)
        if directory is not None:
            folder = Path(directory)
            folder.mkdir(parents=True, exist_ok=True)
            texts = {"formula_sympy.txt": f"{expr}\n{sp.srepr(expr)}\n", "formula_jax.py": out["jax_source"]}
            if "rule" in out:
                texts["rule.py"] = out["rule"]
            for name, text in texts.items():
                (folder / name).write_text(text, encoding="utf-8")
            out["files"] = [folder / name for name in texts]
        return out

    def entry_index(self, index: int) -> int:
        """``index`` checked as an index into the front."""
        if not (isinstance(index, (int, np.integer)) and not isinstance(index, bool)
                and 0 <= index < len(self.rows)):
            raise SymgradError(f"front index {index!r} is out of range; the front has entries 0..{len(self.rows) - 1}")
        return int(index)

    def _grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        (i, j), r = self.pair, self.resolution
        a, b = np.linspace(self.low[i], self.high[i], r), np.linspace(self.low[j], self.high[j], r)
        A, B = np.meshgrid(a, b)
        grid = np.tile(self.values, (r * r, 1))
        grid[:, i], grid[:, j] = A.ravel(), B.ravel()
        return grid, a, b

    def _network(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(r, r) target-class probability and margin, cached by slice (pair and other inputs)."""
        others = self.values.copy()
        others[list(self.pair)] = 0.0
        key = (self.pair, others.tobytes())
        if key in self._grids:
            self._grids.move_to_end(key)
            return self._grids[key]
        probabilities = self.model.class_probabilities(grid)
        self.network_evaluations += 1
        r = self.resolution
        target = probabilities[:, self.target]
        others = np.delete(probabilities, self.target, axis=1).max(axis=1)
        # a smooth field whose zero level is the argmax boundary (for two classes, p = 0.5)
        value = (target.reshape(r, r), (target - others).reshape(r, r))
        self._grids[key] = value
        if len(self._grids) > CACHE_SIZE:
            self._grids.popitem(last=False)
        return value

    def _formula(self, index: int) -> Callable[[np.ndarray], np.ndarray]:
        if index not in self._formulas:
            from ..expressions import value_function

            self._formulas[index] = value_function(self.result.sympy(index), self.names)
        return self._formulas[index]

    def _latex_of(self, index: int) -> str:
        if index not in self._latex:
            self._latex[index] = self.result.latex(index)
        return self._latex[index]

    def __repr__(self) -> str:
        return (f"Explorer(entry {self.index}: {self.rows[self.index].expression}; axes "
                f"{self.labels[self.pair[0]]}, {self.labels[self.pair[1]]}; front of {len(self.rows)})")
