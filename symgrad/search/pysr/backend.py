"""Optional PySR backend: SymbolicRegression.jl searching for formulas whose gradients align with N.

Route. The objective is a full ``loss_function`` (tree, dataset, options) written in Julia that
calls ``eval_grad_tree_array(tree, X, options; variable=true)``; the targets N ride along as extra
rows of X (y is a dummy zero vector). It was chosen over a ``TemplateExpressionSpec`` with
``D(g, i)`` because (1) one Julia function states the whole objective exactly as
``symgrad.search.loss`` does, per row (zero or non-finite gradient = misaligned, sign-invariant or
oriented), where a template must express it through all-or-nothing ``ValidVector`` arithmetic;
(2) the front comes back as ordinary equations over named variables, while template members
print as ``g = #1 * #2`` with positional placeholders and have no sympy export; (3) it works
with every PySR >= 1.0, while ``D`` needs a recent SymbolicRegression and ``+`` and ``*`` among
the operators. Its costs: the Julia package Zygote (the derivative rules of the operators; it is
listed in ``symgrad/juliapkg.json`` (the package top level, where pyjuliapkg looks) and loaded at search time), and the search can see
the target rows as variables, so a tree that reads one is rejected with ``L(Inf)`` and target
variables are given a complexity above ``max_size`` so that mutations never keep them. The
template route stays possible: only ``regressor_kwargs`` (the objective) and the parsing in
``front_from_equations`` would change.

Nothing here imports ``pysr`` at module import: ``import pysr`` starts (and may download) Julia.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import sympy as sp

from ...errors import SymgradError
from ...expressions import parse_formula, symbols_for
from ..base import Entry, Front, Progress, SearchProblem, SearchResult
from .julia import find_julia, julia_loss_source

# symgrad operator name -> (arity, PySR operator name); add/sub/mul/div are the Operon
# backend's names, accepted so that one operator list serves both backends
OPERATORS: dict[str, tuple[int, str]] = {
    "+": (2, "+"), "-": (2, "-"), "*": (2, "*"), "/": (2, "/"), "^": (2, "^"), "pow": (2, "^"),
    "add": (2, "+"), "sub": (2, "-"), "mul": (2, "*"), "div": (2, "/"),
    "sin": (1, "sin"), "cos": (1, "cos"), "tan": (1, "tan"), "exp": (1, "exp"), "log": (1, "log"),
    "sqrt": (1, "sqrt"), "square": (1, "square"), "cube": (1, "cube"), "abs": (1, "abs"),
    "tanh": (1, "tanh"),
}
DEFAULT_OPERATORS = ("+", "-", "*", "/", "sin", "cos", "exp", "log", "sqrt", "square")
# keys of complexity_weights that are not operators
LEAF_WEIGHTS = ("constant", "variable")
MIN_MAX_SIZE = 7  # PySR refuses smaller maxsize values

ZYGOTE_UUID = "e88e6eb3-aa80-5325-afca-941959d7151f"
INSTALL_HINT = "the pysr backend needs Julia and PySR: pip install 'symgrad[pysr]' and see docs/pysr.md"
NO_JULIA_HINT = ("the pysr backend needs Julia, which was not found: install it (julialang.org, or run "
                 "python -c 'import pysr' once with network access so that PySR installs it) and see docs/pysr.md")


@dataclass(frozen=True)
class PySROptions:
    """Validated options of the PySR backend.

    Attributes:
        operators: symgrad operator names (keys of ``OPERATORS``); at least one binary.
        max_size: PySR ``maxsize``, the largest formula complexity (>= 7).
        complexity_weights: complexity of each operator (by symgrad name), and optionally of
            "constant" and "variable" leaves; unnamed ones weigh 1.
        parsimony: PySR ``parsimony``, loss added per unit of complexity during the search.
        time_limit: seconds before the search stops and returns its front (None: no limit).
        niterations: PySR ``niterations``.
        populations: PySR ``populations``.
        population_size: PySR ``population_size``.
        loss_threshold: stop as soon as a formula's search loss is below this (None: never).
        deterministic: with a seed, run serially and reproducibly; False runs multithreaded.
        seed: PySR ``random_state``; set by ``search`` from its seed.
        oriented: use the orientation-sensitive loss; set by ``search`` from the problem.
    """

    operators: tuple[str, ...] = DEFAULT_OPERATORS
    max_size: int = 25
    complexity_weights: Mapping[str, float] = field(default_factory=dict)
    parsimony: float = 0.0
    time_limit: float | None = 60.0
    niterations: int = 100
    populations: int = 15
    population_size: int = 27
    loss_threshold: float | None = None
    deterministic: bool = True
    seed: int | None = None
    oriented: bool = False

    def __post_init__(self) -> None:
        ops = self.operators
        if isinstance(ops, str) or not isinstance(ops, Iterable):
            raise SymgradError(f"pysr option operators={ops!r} must be a list of names from {sorted(OPERATORS)}")
        ops = tuple(ops)
        unknown = [op for op in ops if op not in OPERATORS]
        if unknown or not ops:
            raise SymgradError(f"pysr option operators={list(ops)!r} must be a non-empty list of names from "
                               f"{sorted(OPERATORS)}")
        if not any(OPERATORS[op][0] == 2 for op in ops):
            raise SymgradError(f"pysr option operators={list(ops)!r} needs at least one binary operator (+ - * / ^)")
        object.__setattr__(self, "operators", tuple(dict.fromkeys(ops)))
        _check_int("max_size", self.max_size, MIN_MAX_SIZE)
        _check_int("niterations", self.niterations, 1)
        _check_int("populations", self.populations, 1)
        _check_int("population_size", self.population_size, 2)
        if not _is_number(self.parsimony) or self.parsimony < 0:
            raise SymgradError(f"pysr option parsimony={self.parsimony!r} must be a number >= 0")
        if self.time_limit is not None and (not _is_number(self.time_limit) or self.time_limit <= 0):
            raise SymgradError(f"pysr option time_limit={self.time_limit!r} must be a number of seconds > 0 or null")
        if self.loss_threshold is not None and (not _is_number(self.loss_threshold) or self.loss_threshold < 0):
            raise SymgradError(f"pysr option loss_threshold={self.loss_threshold!r} must be a number >= 0 or null")
        if not isinstance(self.deterministic, bool):
            raise SymgradError(f"pysr option deterministic={self.deterministic!r} must be true or false")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            raise SymgradError(f"pysr seed {self.seed!r} must be a non-negative integer or null")
        weights = self.complexity_weights
        if not isinstance(weights, Mapping):
            raise SymgradError(f"pysr option complexity_weights={weights!r} must be a mapping of names to numbers")
        allowed = set(self.operators) | set(LEAF_WEIGHTS)
        for key, value in weights.items():
            if key not in allowed:
                raise SymgradError(f"pysr option complexity_weights has the key {key!r}; allowed are the chosen "
                                   f"operators and {list(LEAF_WEIGHTS)}")
            if not _is_number(value) or value <= 0:
                raise SymgradError(f"pysr option complexity_weights[{key!r}]={value!r} must be a number > 0")
        object.__setattr__(self, "complexity_weights", dict(weights))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SymgradError(f"pysr option {name}={value!r} must be an integer >= {minimum}")


def input_names(n_features: int) -> list[str]:
    """PySR variable names of the inputs: x0 .. x{d-1} (mapped back to feature names later)."""
    return [f"x{i}" for i in range(n_features)]


def target_names(n_features: int) -> list[str]:
    """PySR variable names of the target-direction columns: n0 .. n{d-1}."""
    return [f"n{i}" for i in range(n_features)]


def regressor_kwargs(options: PySROptions, n_features: int) -> dict[str, Any]:
    """Keyword arguments of ``pysr.PySRRegressor`` for ``options`` on d = ``n_features`` inputs.

    Pure (no Julia needed). Variable complexities go to ``fit`` instead (see ``fit_arguments``).

    Args:
        options: validated backend options (``seed`` and ``oriented`` filled in).
        n_features: d, the number of inputs.

    Returns:
        A dict of PySRRegressor arguments.
    """
    binary = [OPERATORS[op][1] for op in options.operators if OPERATORS[op][0] == 2]
    unary = [OPERATORS[op][1] for op in options.operators if OPERATORS[op][0] == 1]
    kwargs: dict[str, Any] = {
        "binary_operators": list(dict.fromkeys(binary)),
        "unary_operators": list(dict.fromkeys(unary)),
        "maxsize": options.max_size,
        "niterations": options.niterations,
        "populations": options.populations,
        "population_size": options.population_size,
        "parsimony": float(options.parsimony),
        "timeout_in_seconds": None if options.time_limit is None else float(options.time_limit),
        "loss_function": julia_loss_source(n_features, options.oriented),
        # the hall-of-fame files go to a temporary directory that PySR deletes afterwards
        "temp_equation_file": True,
        "delete_tempfiles": True,
        "verbosity": 0,
        "progress": False,
    }
    operator_weights = {OPERATORS[k][1]: float(v) for k, v in options.complexity_weights.items()
                        if k not in LEAF_WEIGHTS}
    if operator_weights:
        kwargs["complexity_of_operators"] = operator_weights
    if "constant" in options.complexity_weights:
        kwargs["complexity_of_constants"] = float(options.complexity_weights["constant"])
    if options.loss_threshold is not None:
        kwargs["early_stop_condition"] = float(options.loss_threshold)
    if options.seed is not None:
        kwargs["random_state"] = options.seed
    if options.seed is not None and options.deterministic:
        # PySR is reproducible only single-threaded with a fixed random_state
        kwargs["deterministic"] = True
        kwargs["parallelism"] = "serial"
    else:
        kwargs["parallelism"] = "multithreading"
    return kwargs


def fit_arguments(x: np.ndarray, directions: np.ndarray, options: PySROptions) -> dict[str, Any]:
    """Keyword arguments of ``PySRRegressor.fit``: inputs and targets side by side, y = 0.

    Args:
        x: (n, d) search points.
        directions: (n, d) unit target directions.
        options: validated backend options.

    Returns:
        ``X`` (n, 2d) = [x, directions], ``y`` (n,) zeros, ``variable_names`` (x0.., n0..) and
        ``complexity_of_variables`` (2d,): the inputs' weight, and max_size + 1 for the target
        columns so that no tree using one fits within max_size.
    """
    x = np.asarray(x, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    if x.ndim != 2 or x.shape != directions.shape or x.shape[0] == 0:
        raise SymgradError(f"points {x.shape} and directions {directions.shape} must be non-empty arrays of one (n, d) shape")
    d = x.shape[1]
    variable_weight = float(options.complexity_weights.get("variable", 1))
    return {
        "X": np.concatenate([x, directions], axis=1),
        "y": np.zeros(x.shape[0]),
        "variable_names": input_names(d) + target_names(d),
        "complexity_of_variables": [variable_weight] * d + [float(options.max_size + 1)] * d,
    }


_JULIA_FLOAT = re.compile(r"(\d(?:\.\d*)?|\.\d+)f([+-]?\d+)")  # 1.5f0, 2.0f-3 (Float32 literals)


def equation_to_sympy(text: str, feature_names: Sequence[str]) -> sp.Expr:
    """Parse one PySR equation string over x0..x{d-1} into sympy over ``feature_names``.

    Raises:
        SymgradError: the text is not a formula in the inputs (for example it reads a target).
    """
    if not isinstance(text, str):
        raise SymgradError(f"PySR equation {text!r} is not a string")
    internal = input_names(len(feature_names))
    expr = parse_formula(_JULIA_FLOAT.sub(r"\1e\2", text), internal)
    # simultaneous replacement, so a feature literally named "x1" cannot be renamed twice
    mapping = dict(zip(symbols_for(internal), symbols_for(feature_names)))
    return expr.xreplace(mapping)


def _records(equations: Any) -> list[dict[str, Any]]:
    if hasattr(equations, "to_dict"):
        return list(equations.to_dict("records"))
    return [dict(row) for row in equations]


def front_from_equations(equations: Any, problem: SearchProblem, *, source: str = "pysr",
                         progress: Progress | None = None) -> Front:
    """Re-score a PySR front with symgrad's loss on the problem's points.

    PySR's own loss (float32, search points) is kept as ``metrics["pysr_loss"]``; ``loss`` is
    recomputed on the held-out points and ``train_loss`` on the search points, because
    hall-of-fame values of custom losses have been seen to differ from a recomputation.

    Args:
        equations: PySR's ``equations_`` table (or any rows with "equation", "complexity" and
            "loss").
        problem: the problem searched; its feature names replace x0..x{d-1}.
        source: the ``Entry.source`` label.
        progress: receives one line per row that could not be used.

    Returns:
        The re-scored entries (rows that are not formulas in the inputs are skipped).
    """
    entries: list[Entry] = []
    for row in _records(equations):
        text = row.get("equation")
        try:
            expr = equation_to_sympy(text, problem.feature_names)
        except SymgradError:
            if progress is not None:
                progress(f"pysr: skipped equation {text!r}, which is not a formula in the inputs")
            continue
        entry = Entry.from_expr(expr, problem, source=source, train_loss=problem.loss(expr, holdout=False))
        metrics = {"pysr_equation": text}
        for key in ("loss", "complexity"):
            value = row.get(key)
            if isinstance(value, (int, float, np.integer, np.floating)):
                metrics[f"pysr_{key}"] = float(value)
        entries.append(dataclasses.replace(entry, metrics=metrics))
    return Front(tuple(entries))


def _pysr_installed() -> bool:
    return importlib.util.find_spec("pysr") is not None


def pysr_available() -> tuple[bool, str]:
    """Whether PySR and a Julia executable are present, and if not, one sentence saying why.

    Does not import pysr (that would start Julia and may download it).
    """
    if not _pysr_installed():
        return False, INSTALL_HINT
    if find_julia() is None:
        return False, NO_JULIA_HINT
    return True, ""


def _load_zygote(pysr_module: Any) -> None:
    # eval_grad_tree_array differentiates the operators with Zygote (a weak dependency of
    # DynamicExpressions); PySR's helper installs it into its environment if it is missing
    try:
        from pysr.julia_extensions import load_package
    except ImportError:
        pysr_module.jl.seval("using Zygote: Zygote")
    else:
        load_package("Zygote", ZYGOTE_UUID)


def _is_interrupt(exc: BaseException) -> bool:
    return isinstance(exc, KeyboardInterrupt) or "InterruptException" in f"{type(exc).__name__} {exc}"


class PySRBackend:
    """Genetic programming in PySR (SymbolicRegression.jl) on the gradient-alignment loss.

    For users who have Julia: larger, multithreaded searches with PySR's operators and
    constant optimisation. The search runs on the problem's search points; every formula of
    PySR's front is then re-scored with ``SearchProblem.loss`` on the held-out points.

    Raises:
        SymgradError: at construction, for a bad option or when PySR or Julia is missing
            (one sentence naming what to install); nothing is imported or downloaded then.
    """

    name = "pysr"
    screens_inputs = False

    def __init__(self, *, operators: Sequence[str] = DEFAULT_OPERATORS, max_size: int = 25,
                 complexity_weights: Mapping[str, float] | None = None, parsimony: float = 0.0,
                 time_limit: float | None = 60.0, niterations: int = 100, populations: int = 15,
                 population_size: int = 27, loss_threshold: float | None = None,
                 deterministic: bool = True) -> None:
        self.options = PySROptions(
            operators=operators, max_size=max_size, complexity_weights=dict(complexity_weights or {}),
            parsimony=parsimony, time_limit=time_limit, niterations=niterations, populations=populations,
            population_size=population_size, loss_threshold=loss_threshold, deterministic=deterministic)
        available, reason = pysr_available()
        if not available:
            raise SymgradError(reason)

    def search(self, problem: SearchProblem, *, seed: int, progress: Progress | None = None) -> SearchResult:
        """Run PySR on ``problem`` and return its front, re-scored on held-out points.

        Args:
            problem: search and held-out points with unit target directions.
            seed: PySR ``random_state`` (with ``deterministic``: serial and reproducible).
            progress: receives short status lines.

        Returns:
            The re-scored front (after an interrupt, whatever PySR had saved, possibly empty) and
            ``info`` with the route, PySR version, number of equations and seed.
        """
        say = progress or (lambda _line: None)
        options = dataclasses.replace(self.options, seed=seed, oriented=problem.oriented)
        interrupted = False
        say("pysr: starting Julia (the first run compiles for several minutes)")
        try:
            import pysr
            _load_zygote(pysr)
        except Exception as exc:  # juliacall and Pkg raise their own types
            raise SymgradError(f"the pysr backend could not start Julia ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else 'no message'}); see docs/pysr.md") from None
        model = pysr.PySRRegressor(**regressor_kwargs(options, problem.n_features))
        say(f"pysr: searching {len(problem.x)} points, max_size={options.max_size}, "
            f"time_limit={options.time_limit} s")
        try:
            model.fit(**fit_arguments(problem.x, problem.raw_directions(), options))
        except BaseException as exc:
            if not _is_interrupt(exc):
                raise
            interrupted = True
            say("pysr: interrupted; keeping the equations saved so far")
        equations = getattr(model, "equations_", None)
        if equations is None and interrupted:
            try:
                equations = model.get_hof()
            except Exception:  # nothing was saved before the interrupt
                equations = None
        front = Front() if equations is None else front_from_equations(equations, problem, progress=say)
        info = {"route": "loss_function", "pysr_version": getattr(pysr, "__version__", "unknown"),
                "n_equations": len(front), "seed": seed}
        if len(front):
            best = min(front, key=lambda e: e.loss)
            say(f"pysr: {len(front)} formulas; best held-out L = {best.loss:.3g} for {best.expression}")
        return SearchResult(front, info, interrupted)
