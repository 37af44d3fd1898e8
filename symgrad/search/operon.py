"""Genetic programming with pyoperon, scored by gradient alignment on stacked rows."""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from ..errors import SymgradError
from ..expressions import symbols_for
from .base import Entry, Front, Progress, SearchProblem, SearchResult
from .operon_tree import _NodeRecord, _node_kind, node_records as node_records, tree_to_sympy as tree_to_sympy
from .polish import _usable, polish_constants as polish_constants

# Operon function symbols a user may enable; aliases map the usual operator signs onto them.
OPERATORS: tuple[str, ...] = ("add", "sub", "mul", "div", "aq", "pow", "sin", "cos", "tan", "tanh",
                              "exp", "log", "sqrt", "square", "abs")
DEFAULT_OPERATORS: tuple[str, ...] = ("add", "sub", "mul", "div", "sin", "cos", "exp", "log", "sqrt",
                                      "square")
_ALIASES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
_WORST_FITNESS = 10.0  # returned for skipped evaluations; L itself never exceeds 2


@dataclass
class _Archive:
    """Best few trees per Operon tree length, filled while the run evaluates candidates."""

    per_length: int
    best: dict[int, list[tuple[float, tuple[_NodeRecord, ...]]]] = field(default_factory=dict)
    best_loss: float = math.inf

    def offer(self, length: int, loss: float, snapshot: Callable[[], tuple[_NodeRecord, ...]]) -> None:
        bucket = self.best.setdefault(length, [])
        if len(bucket) >= self.per_length and loss >= bucket[-1][0]:
            return
        if any(abs(loss - kept) <= 1e-15 for kept, _ in bucket):
            return  # most likely the same tree again; keep the bucket diverse
        bucket.append((loss, snapshot()))
        bucket.sort(key=lambda item: item[0])
        del bucket[self.per_length:]
        self.best_loss = min(self.best_loss, loss)

    def trees(self, margin: float | None = None) -> list[tuple[float, tuple[_NodeRecord, ...]]]:
        """Archived (train L, tree) pairs, shortest first. With ``margin``, only trees whose
        train L is below ``margin`` times the best L of every shorter tree: the others cannot
        reach the final front (held-out and train L track each other), and scoring them
        symbolically was most of a GP run's cost after the evolution."""
        items = [item for length in sorted(self.best) for item in self.best[length]]
        if margin is None:
            return items
        kept, best, length_best = [], math.inf, math.inf
        for length in sorted(self.best):
            best = min(best, length_best)
            for item in self.best[length]:
                if item[0] < margin * best:
                    kept.append(item)
            length_best = min(item[0] for item in self.best[length])
        return kept


class OperonBackend:
    """Operon genetic programming on L(g) = mean(1 - |cos(grad g, N)|).

    The gradient of each candidate tree comes from central finite differences: the tree is
    evaluated once on the stacked rows [X; X + h e_1; ...; X - h e_d] and differenced. A zero or
    non-finite gradient counts as fully misaligned. Any monotone transform of a formula scores
    the same (orientation too unless the problem is ``oriented``), so the front holds
    representatives of equivalence classes, not unique formulas.

    Args:
        operators: function symbols, from ``OPERATORS`` (``+ - * /`` accepted as aliases).
        max_length: most nodes in a tree.
        max_depth: deepest tree.
        population_size: individuals per generation.
        generations: generation limit.
        coefficients: ``"integer"`` (small integer weights, no drift; the reliable mode) or
            ``"real"`` (normal-distributed weights, mutated by Gaussian steps).
        integer_range: integer weights are drawn from [-integer_range, integer_range].
        parsimony: fitness = L + parsimony * weighted node count (meant for ``objective="single"``;
            a fixed per-node price misleads on noisy targets, see docs/method.md, "Genetic programming").
        complexity_weights: cost per operator name (also ``"variable"`` and ``"constant"``) in
            the weighted node count; 1 for anything not named.
        time_limit: wall-clock seconds for the evolutionary run (polishing comes after it).
        max_evaluations: candidate evaluations before stopping; None for no limit.
        loss_threshold: stop as soon as a candidate reaches this L; None to never stop early.
        stall_evaluations: stop once this many evaluations passed without the best train L
            falling ``stall_factor``-fold below its value at the last such improvement; None to
            never stop on stagnation. Counted in evaluations, not seconds, so the same seed
            still gives the same front.
        stall_factor: improvement (> 1) that counts as progress for ``stall_evaluations``.
        max_points: search points used for evolution (a seeded random subset if there are more).
        finite_difference_step: step h relative to each input's standard deviation.
        finite_differences: ``"central"`` (2d+1 stacked blocks) or ``"forward"`` (d+1, faster,
            O(h) error).
        polish: refit numeric constants on the exact loss with scipy after the run.
        per_length: trees kept per tree length in the archive that becomes the front.
        front_margin: only archived trees whose train L is below this factor times that of
            every shorter tree are scored and polished (None: all of them).
        objective: ``"pareto"`` (default: NSGA-II on L and the weighted node count, which keeps
            small trees of every size in the population) or ``"single"`` (L plus the parsimony
            term). Measured on exact gradients over nine known formulas, 2 seeds each: pareto
            recovered 17 of 18 runs within 20 s, single 12 of 18 within 30 s, failing every
            symmetry-reduced case (it settles on look-alikes such as 4*x0**2 + cos(2*u0) for
            x0**2 + sin(u0)).

    ``search`` returns the front with ``info`` holding the run's evaluations, generations,
    seconds (of the evolutionary run), stop reason and best training L (finite-difference
    estimate).
    """

    name = "operon"
    screens_inputs = False

    def __init__(self, *, operators: Sequence[str] = DEFAULT_OPERATORS, max_length: int = 30,
                 max_depth: int = 10, population_size: int = 500, generations: int = 1000,
                 coefficients: str = "integer", integer_range: int = 5, parsimony: float = 0.0,
                 complexity_weights: Mapping[str, float] | None = None,
                 time_limit: float | None = 60.0, max_evaluations: int | None = None,
                 loss_threshold: float | None = None, stall_evaluations: int | None = None,
                 stall_factor: float = 1.1, max_points: int = 1000,
                 finite_difference_step: float = 1e-2, finite_differences: str = "central",
                 polish: bool = True, per_length: int = 2, front_margin: float | None = 1.0,
                 objective: str = "pareto") -> None:
        if isinstance(operators, str) or not isinstance(operators, Sequence) or not operators:
            raise SymgradError(f"operators {operators!r} must be a non-empty list of names from {list(OPERATORS)}")
        names = []
        for op_name in operators:
            canonical = _ALIASES.get(op_name, op_name)
            if canonical not in OPERATORS:
                raise SymgradError(f"operator {op_name!r} is not supported; choose from {list(OPERATORS)}")
            if canonical not in names:
                names.append(canonical)
        self.operators = tuple(names)
        self.max_length = _check_int("max_length", max_length, 3, 1000)
        self.max_depth = _check_int("max_depth", max_depth, 2, 100)
        self.population_size = _check_int("population_size", population_size, 2, 1_000_000)
        self.generations = _check_int("generations", generations, 1, 10**9)
        if coefficients not in ("integer", "real"):
            raise SymgradError(f"coefficients {coefficients!r} is not allowed; use 'integer' or 'real'")
        self.coefficients = coefficients
        self.integer_range = _check_int("integer_range", integer_range, 1, 1000)
        self.parsimony = _check_float("parsimony", parsimony, 0.0, math.inf)
        weights = dict(complexity_weights or {})
        for key, value in weights.items():
            if _ALIASES.get(key, key) not in (*OPERATORS, "variable", "constant"):
                raise SymgradError(f"complexity_weights key {key!r} is not an operator, 'variable' or 'constant'")
            _check_float(f"complexity_weights[{key!r}]", value, 0.0, math.inf)
        self.complexity_weights = {_ALIASES.get(k, k): float(v) for k, v in weights.items()}
        self.time_limit = None if time_limit is None else _check_float("time_limit", time_limit, 0.0, math.inf,
                                                                       open_low=True)
        self.max_evaluations = None if max_evaluations is None else _check_int(
            "max_evaluations", max_evaluations, 1, 10**15)
        self.loss_threshold = None if loss_threshold is None else _check_float(
            "loss_threshold", loss_threshold, 0.0, 2.0)
        self.stall_evaluations = None if stall_evaluations is None else _check_int(
            "stall_evaluations", stall_evaluations, 1, 10**15)
        self.stall_factor = _check_float("stall_factor", stall_factor, 1.0, math.inf, open_low=True)
        self.max_points = _check_int("max_points", max_points, 2, 10**8)
        self.finite_difference_step = _check_float("finite_difference_step", finite_difference_step, 0.0, 1.0,
                                                   open_low=True)
        if finite_differences not in ("central", "forward"):
            raise SymgradError(f"finite_differences {finite_differences!r} is not allowed; use 'central' or 'forward'")
        self.finite_differences = finite_differences
        if not isinstance(polish, bool):
            raise SymgradError(f"polish {polish!r} must be True or False")
        self.polish = polish
        self.per_length = _check_int("per_length", per_length, 1, 100)
        self.front_margin = None if front_margin is None else _check_float("front_margin", front_margin, 1.0, math.inf)
        if objective not in ("single", "pareto"):
            raise SymgradError(f"objective {objective!r} is not allowed; use 'single' or 'pareto'")
        self.objective = objective

    def search(self, problem: SearchProblem, *, seed: int, progress: Progress | None = None) -> SearchResult:
        """Evolve formulas for ``problem`` and return their front, scored on held-out points.

        Repeatable for a given ``seed`` unless a time limit ends the run. KeyboardInterrupt (also
        from ``progress``) or an exhausted budget ends the run early and returns the front found
        so far.

        Args:
            problem: points (n, d) and unit target directions (n, d), plus held-out copies.
            seed: non-negative integer seed.
            progress: called with short status lines.

        Returns:
            Front of sympy-parsable formulas over ``problem.feature_names`` (source "operon"),
            with the run's statistics as ``info``.
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SymgradError(f"seed {seed!r} must be a non-negative integer")
        notify = _SafeProgress(progress)
        run = _OperonRun(self, problem, int(seed), notify)
        started = time.monotonic()
        archive, stop_reason = run.execute()
        trees = archive.trees(margin=self.front_margin)
        info = {"evaluations": run.fitness.evaluations, "generations": run.generation,
                "seconds": time.monotonic() - started, "stop_reason": stop_reason,
                "best_train_loss": archive.best_loss}
        notify(f"operon: {stop_reason}; {run.fitness.evaluations} evaluations, best train L "
               f"{archive.best_loss:.3g}; scoring {len(trees)} candidates")
        polish = self.polish and not notify.interrupted and stop_reason != "interrupted"
        front = _front_from_archive(trees, problem, integer=self.coefficients == "integer", polish=polish,
                                    notify=notify)
        return SearchResult(front, info, interrupted=notify.interrupted or stop_reason == "interrupted")


class _SafeProgress:
    """Calls the user's progress function; an exception there asks the run to stop."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.interrupted = False
        self.error: BaseException | None = None

    def __call__(self, message: str) -> None:
        if self.progress is None or self.interrupted or self.error is not None:
            return
        try:
            self.progress(message)
        except KeyboardInterrupt:
            self.interrupted = True
        except Exception as exc:  # re-raised once the run has stopped cleanly
            self.error = exc


class _GradientFitness:
    """Operon's fitness callback: L of a tree from finite differences on the stacked rows."""

    def __init__(self, backend: OperonBackend, directions: np.ndarray, forward_steps: np.ndarray,
                 backward_steps: np.ndarray | None, oriented: bool, archive: _Archive,
                 variable_of_hash: dict[int, int], spread: np.ndarray | None = None) -> None:
        self.backend = backend
        self.directions = directions
        self.directions_t = np.ascontiguousarray(directions.T)
        # (d, n) reciprocal steps: forward, backward and across both sides
        # times each input's spread (d, 1): the differences come out in spread units directly
        spread = np.ones((directions.shape[1], 1)) if spread is None else np.asarray(spread, dtype=np.float64)[:, None]
        self.inverse_forward = spread / forward_steps
        if backward_steps is not None:
            self.inverse_backward = spread / backward_steps
            self.inverse_central = spread / (forward_steps + backward_steps)
        self.oriented = oriented
        self.archive = archive
        self.variable_of_hash = variable_of_hash
        self.weights = backend.complexity_weights
        self.evaluations = 0
        # stagnation: the best L at the last stall_factor-fold improvement, and when it happened
        self.mark_loss = math.inf
        self.mark_evaluation = 0
        self.stop_reason: str | None = None
        self.messages: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.deadline = math.inf
        self.started = time.monotonic()
        self.last_message = -math.inf
        # set after construction, once the Operon objects exist
        self.operon: Any = None
        self.dtable: Any = None
        self.dataset: Any = None
        self.rows: Any = None
        self.evaluator: Any = None

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.evaluator is not None:
            self.evaluator.Budget = 0  # Operon's generator terminates once the budget is spent

    def __call__(self, rng: Any, individual: Any) -> list[float]:
        try:
            return self._evaluate(individual)
        except BaseException as exc:  # an exception must not unwind through Operon's C++ frames
            self.request_stop("interrupted" if isinstance(exc, KeyboardInterrupt) else f"error: {exc!r}")
            return [_WORST_FITNESS]

    def _evaluate(self, individual: Any) -> list[float]:
        if self.stop_reason is not None:
            self.request_stop(self.stop_reason)
            return [_WORST_FITNESS]
        tree = individual.Genotype
        values = self.operon.Evaluate(self.dtable, tree, self.dataset, self.rows)
        loss = self._loss(values)
        self.evaluations += 1
        self.archive.offer(tree.Length, loss, lambda: self._snapshot(tree))
        fitness = loss
        if self.backend.parsimony > 0:
            fitness += self.backend.parsimony * self._weighted_length(tree)
        self._check_budget(loss)
        return [fitness]

    def _loss(self, values: np.ndarray) -> float:
        n, d = self.directions.shape
        with np.errstate(all="ignore"):
            plus = values[n:n * (d + 1)].reshape(d, n)
            if self.backend.finite_differences == "central":
                minus = values[n * (d + 1):].reshape(d, n)
                grads = np.subtract(plus, minus, dtype=np.float64)
                grads *= self.inverse_central
                if not np.isfinite(grads.sum()):
                    # one-sided differences where one side leaves the formula's domain (log, sqrt, /)
                    base = values[:n]
                    forward = np.subtract(plus, base, dtype=np.float64) * self.inverse_forward
                    backward = np.subtract(base, minus, dtype=np.float64) * self.inverse_backward
                    grads = np.where(np.isfinite(grads), grads,
                                     np.where(np.isfinite(forward), forward, backward))
            else:
                grads = np.subtract(plus, values[:n], dtype=np.float64)
                grads *= self.inverse_forward
            cos = np.einsum("ij,ij->j", grads, self.directions_t) / np.sqrt(np.einsum("ij,ij->j", grads, grads))
        cos[np.isnan(cos)] = 0.0  # zero or non-finite gradient: fully misaligned
        if self.oriented:
            return float(1.0 - np.clip(cos, -1.0, 1.0).mean())
        return float(1.0 - np.minimum(np.abs(cos), 1.0).mean())

    def _snapshot(self, tree: Any) -> tuple[_NodeRecord, ...]:
        return node_records(tree, self.variable_of_hash)

    def _weighted_length(self, tree: Any) -> float:
        if not self.weights:
            return float(tree.Length)
        return sum(self.weights.get(_node_kind(node), 1.0) for node in tree.Nodes)

    def _check_budget(self, loss: float) -> None:
        backend = self.backend
        if backend.loss_threshold is not None and loss <= backend.loss_threshold:
            self.request_stop(f"reached L <= {backend.loss_threshold:g}")
        elif backend.max_evaluations is not None and self.evaluations >= backend.max_evaluations:
            self.request_stop("evaluation budget spent")
        elif backend.stall_evaluations is not None and self._stalled(loss):
            self.request_stop(f"no {backend.stall_factor:g}-fold improvement in {backend.stall_evaluations} "
                              "evaluations")
        elif time.monotonic() > self.deadline:
            self.request_stop("time limit reached")

    def _stalled(self, loss: float) -> bool:
        if loss * self.backend.stall_factor < self.mark_loss:
            self.mark_loss, self.mark_evaluation = loss, self.evaluations
            return False
        return self.evaluations - self.mark_evaluation >= self.backend.stall_evaluations

    def report_generation(self, generation: int) -> None:
        """Operon's per-generation callback: queue a status line (at most about one a second)."""
        try:
            now = time.monotonic()
            if now - self.last_message < 1.0 and generation > 1:
                return
            self.last_message = now
            rate = self.evaluations / max(now - self.started, 1e-9)
            self.messages.put(f"operon: generation {generation}, best L {self.archive.best_loss:.3g}, "
                              f"{rate:.0f} evaluations/s")
        except BaseException as exc:
            self.request_stop("interrupted" if isinstance(exc, KeyboardInterrupt) else f"error: {exc!r}")


class _SizeObjective:
    """Operon callback for the second objective of a Pareto run: the weighted node count."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = dict(weights)

    def __call__(self, rng: Any, individual: Any) -> list[float]:
        tree = individual.Genotype
        if not self.weights:
            return [float(tree.Length)]
        return [float(sum(self.weights.get(_node_kind(node), 1.0) for node in tree.Nodes))]


class _OperonRun:
    """One Operon run. Operon keeps raw pointers to everything built here, so every object lives
    in an attribute of this instance until the run has finished."""

    def __init__(self, backend: OperonBackend, problem: SearchProblem, seed: int, notify: _SafeProgress) -> None:
        self.backend = backend
        self.problem = problem
        self.seed = seed
        self.notify = notify
        x, directions = np.asarray(problem.x, dtype=np.float64), np.asarray(problem.directions, dtype=np.float64)
        if x.ndim != 2 or x.shape != directions.shape or x.shape[0] < 2:
            raise SymgradError(f"problem points {x.shape} and directions {directions.shape} must be "
                               f"equal (n, d) arrays with n >= 2")
        if x.shape[0] > backend.max_points:
            rows = np.sort(np.random.default_rng(seed).choice(x.shape[0], backend.max_points, replace=False))
            x, directions = x[rows], directions[rows]
        self.x, self.directions = x, directions

    def execute(self) -> tuple[_Archive, str]:
        import pyoperon as op

        backend = self.backend
        x, directions = self.x, self.directions
        n, d = x.shape
        scale = np.std(x, axis=0)
        steps = backend.finite_difference_step * np.where(scale > 0, scale, 1.0)
        blocks = [x] + [x + steps[i] * np.eye(d)[i] for i in range(d)]
        if backend.finite_differences == "central":
            blocks += [x - steps[i] * np.eye(d)[i] for i in range(d)]
        stacked = np.vstack(blocks)
        # float32, Fortran order: the layout Operon reads without a copy; it must outlive the run
        self.data = np.asfortranarray(np.column_stack([stacked, np.zeros(len(stacked))]).astype(np.float32))
        # the steps actually taken after rounding to float32, per row (matters far from zero)
        stored = self.data.astype(np.float64)
        base = stored[:n, :d]
        forward_steps = np.stack([stored[(i + 1) * n:(i + 2) * n, i] - base[:, i] for i in range(d)])
        backward_steps = None
        if backend.finite_differences == "central":
            backward_steps = np.stack([base[:, i] - stored[(d + i + 1) * n:(d + i + 2) * n, i]
                                       for i in range(d)])
        self.dataset = op.Dataset(self.data)
        variables = sorted(self.dataset.Variables, key=lambda v: v.Index)
        self.target = variables[-1]
        self.inputs = [v.Hash for v in variables[:-1]]
        self.rows = op.Range(0, self.dataset.Rows)
        self.problem_op = op.Problem(self.dataset)
        self.problem_op.TrainingRange = self.rows
        self.problem_op.TestRange = op.Range(0, self.dataset.Rows)
        self.problem_op.Target = self.target
        self.problem_op.InputHashes = self.inputs
        config_bits = int(op.NodeType.Constant) | int(op.NodeType.Variable)
        for name in backend.operators:
            config_bits |= int(getattr(op.NodeType, name.capitalize()))
        self.problem_op.ConfigurePrimitiveSet(config_bits)
        self.pset = self.problem_op.PrimitiveSet
        self.dtable = op.DispatchTable()

        self.archive = _Archive(per_length=backend.per_length)
        variable_of_hash = {v.Hash: v.Index for v in variables[:-1]}
        self.fitness = _GradientFitness(backend, directions, forward_steps, backward_steps,
                                        self.problem.oriented, self.archive, variable_of_hash,
                                        self.problem.spread)
        self.fitness.operon, self.fitness.dtable = op, self.dtable
        self.fitness.dataset, self.fitness.rows = self.dataset, self.rows
        # budgets are counted in the fitness callback (Operon's own count differs per evaluator
        # kind); Operon only sees an unlimited budget until the callback sets it to 0
        budget = 2**62
        self.alignment_evaluator = op.UserDefinedEvaluator(self.problem_op, self.fitness)
        self.alignment_evaluator.Budget = budget
        pareto = backend.objective == "pareto"
        if pareto:
            # second objective: the (weighted) size, so that small trees of every size survive
            self.size_objective = _SizeObjective(backend.complexity_weights)
            self.size_evaluator = op.UserDefinedEvaluator(self.problem_op, self.size_objective)
            self.size_evaluator.Budget = budget
            self.evaluator = op.MultiEvaluator(self.problem_op)
            self.evaluator.Add(self.alignment_evaluator)
            self.evaluator.Add(self.size_evaluator)
            self.evaluator.Budget = budget
        else:
            self.evaluator = self.alignment_evaluator
        self.fitness.evaluator = self.evaluator

        self.creator = op.BalancedTreeCreator(self.pset, self.inputs, 0.0)
        if backend.coefficients == "integer":
            self.coefficient_init = op.UniformIntCoefficientAnalyzer()
            self.coefficient_init.ParameterizeDistribution(-backend.integer_range, backend.integer_range)
            self.one_point = op.UniformIntOnePointMutation()
            self.one_point.ParameterizeDistribution(-backend.integer_range, backend.integer_range)
            self.multi_point = op.UniformIntMultiPointMutation()
            self.multi_point.ParameterizeDistribution(-backend.integer_range, backend.integer_range)
        else:
            self.coefficient_init = op.NormalCoefficientInitializer()
            self.coefficient_init.ParameterizeDistribution(0, 1)
            self.one_point = op.NormalOnePointMutation()
            self.one_point.ParameterizeDistribution(0, 1)
            self.multi_point = op.NormalMultiPointMutation()
            self.multi_point.ParameterizeDistribution(0, 1)
        self.change_variable = op.ChangeVariableMutation(self.inputs)
        self.change_function = op.ChangeFunctionMutation(self.pset)
        self.replace_subtree = op.ReplaceSubtreeMutation(self.creator, self.coefficient_init, backend.max_depth,
                                                         backend.max_length)
        self.insert_subtree = op.InsertSubtreeMutation(self.creator, self.coefficient_init, backend.max_depth,
                                                       backend.max_length)
        self.remove_subtree = op.RemoveSubtreeMutation(self.pset)
        self.mutation = op.MultiMutation()
        self.mutations = [self.one_point, self.multi_point, self.change_variable, self.change_function,
                          self.replace_subtree, self.insert_subtree, self.remove_subtree]
        for mutation in self.mutations:
            self.mutation.Add(mutation, 1.0)
        self.crossover = op.SubtreeCrossover(0.9, backend.max_depth, backend.max_length)
        self.comparison = op.CrowdedComparison() if pareto else op.SingleObjectiveComparison(0)
        self.female_selector = op.TournamentSelector(self.comparison)
        self.female_selector.TournamentSize = 5
        self.male_selector = op.TournamentSelector(self.comparison)
        self.male_selector.TournamentSize = 5
        self.reinserter = op.KeepBestReinserter(self.comparison)
        # Operon's coefficient optimiser fits squared error to a target: it must never run here
        self.optimizer = op.LMOptimizer(self.dtable, self.problem_op, 0, 0)
        self.coefficient_optimizer = op.CoefficientOptimizer(self.optimizer)
        self.generator = op.BasicOffspringGenerator(self.evaluator, self.crossover, self.mutation,
                                                    self.female_selector, self.male_selector,
                                                    self.coefficient_optimizer)
        self.tree_init = op.UniformLengthTreeInitializer(self.creator)
        min_arity, _ = self.pset.FunctionArityLimits()
        self.tree_init.ParameterizeDistribution(min_arity + 1, min(10, backend.max_length))
        self.tree_init.MinDepth = 1
        self.tree_init.MaxDepth = 1000
        time_limit = backend.time_limit
        self.config = op.GeneticAlgorithmConfig(
            generations=backend.generations, max_evaluations=budget, local_iterations=0,
            population_size=backend.population_size, pool_size=backend.population_size,
            p_crossover=1.0, p_mutation=0.25, p_local=0.0, p_lamarck=0.0, epsilon=1e-5,
            seed=self.seed, max_time=2**62 if time_limit is None else int(math.ceil(time_limit)) + 1)
        if pareto:
            self.sorter = op.RankSorter()
            self.algorithm = op.NSGA2Algorithm(self.config, self.problem_op, self.tree_init, self.coefficient_init,
                                               self.generator, self.reinserter, self.sorter)
        else:
            self.algorithm = op.GeneticProgrammingAlgorithm(self.config, self.problem_op, self.tree_init,
                                                            self.coefficient_init, self.generator,
                                                            self.reinserter)
        self.random = op.RandomGenerator(self.seed)
        self.generation = 0
        try:
            return self.archive, self._run_in_thread(time_limit)
        finally:
            self.fitness.evaluator = None  # break the cycle evaluator -> fitness -> evaluator

    def _on_generation(self) -> None:
        self.generation += 1
        self.fitness.report_generation(self.generation)

    def _run_in_thread(self, time_limit: float | None) -> str:
        """Run Operon in a worker thread so that this (main) thread can take KeyboardInterrupt:
        Python delivers signals only to the main thread, which would otherwise sit inside C++."""
        fitness = self.fitness
        failure: list[BaseException] = []

        def target() -> None:
            try:
                self.algorithm.Run(self.random, self._on_generation, 1)  # one thread: the callback holds the GIL
            except BaseException as exc:
                failure.append(exc)

        backend = self.backend
        self.notify(f"operon: {backend.population_size} individuals, {len(self.x)} points, "
                    f"{self.x.shape[1]} inputs, {backend.coefficients} coefficients")
        fitness.started = time.monotonic()
        fitness.deadline = math.inf if time_limit is None else fitness.started + time_limit
        worker = threading.Thread(target=target, name="symgrad-operon", daemon=True)
        worker.start()
        while worker.is_alive():
            try:
                worker.join(0.05)
                self._drain_messages()
                if self.notify.interrupted or self.notify.error is not None:
                    fitness.request_stop("interrupted")
            except KeyboardInterrupt:
                self.notify.interrupted = True
                fitness.request_stop("interrupted")
        self._drain_messages()
        if self.notify.error is not None:
            raise self.notify.error
        if failure and fitness.stop_reason is None:
            raise SymgradError(f"Operon stopped with an error ({failure[0]!r})")
        if fitness.stop_reason is not None and fitness.stop_reason.startswith("error"):
            raise SymgradError(f"the Operon fitness callback failed ({fitness.stop_reason[7:]})")
        return fitness.stop_reason or f"finished {self.generation} generations"

    def _drain_messages(self) -> None:
        while True:
            try:
                message = self.fitness.messages.get_nowait()
            except queue.Empty:
                return
            self.notify(message)


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise SymgradError(f"{name} {value!r} must be an integer between {low} and {high}")
    return int(value)


def _check_float(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"greater than {low:g}" if open_low else f"at least {low:g}"
        limit = "" if math.isinf(high) else f" and at most {high:g}"
        raise SymgradError(f"{name} {value!r} must be a finite number {bound}{limit}")
    return float(value)


# ----------------------------------------------------------------------------------------------
# From archive to front: sympy conversion, constant polishing, held-out scoring.


def _front_from_archive(trees: list[tuple[float, tuple[_NodeRecord, ...]]], problem: SearchProblem, *,
                        integer: bool, polish: bool, notify: _SafeProgress, polish_best: int = 8) -> Front:
    """Score every archived tree (and its expanded form) on held-out points, then polish the
    constants of the Pareto entries and of the ``polish_best`` lowest-loss ones."""
    symbols = symbols_for(problem.feature_names)
    raw: dict[str, Entry] = {}
    exprs: dict[str, sp.Expr] = {}
    try:
        for _, nodes in trees:
            expr = tree_to_sympy(nodes, symbols, integer=integer)
            for form in (expr, _expanded(expr)):
                key = str(form)
                if key in exprs or not _usable(form, symbols):
                    continue
                exprs[key] = form
                raw[key] = Entry.from_expr(form, problem, source="operon",
                                           train_loss=problem.loss(form, holdout=False))
        front = Front(tuple(raw.values()))
        if not polish:
            return front
        chosen = {e.expression: e for e in front.pareto()}
        chosen.update((e.expression, e) for e in sorted(front, key=lambda e: e.loss)[:polish_best])
        polished: list[Entry] = []
        for entry in sorted(chosen.values(), key=lambda e: (e.complexity, e.loss)):
            better = polish_constants(exprs[entry.expression], problem)
            if str(better) != entry.expression:
                polished.append(Entry.from_expr(better, problem, source="operon",
                                                train_loss=problem.loss(better, holdout=False)))
        return front.merge(Front(tuple(polished)))
    except KeyboardInterrupt:
        notify.interrupted = True
        return Front(tuple(raw.values()))


def _expanded(expr: sp.Expr) -> sp.Expr:
    """Products and integer powers of sums multiplied out (exp and log left alone): Operon's
    trees often hide a simple polynomial, e.g. (a x2 + a x3)**2 - a (x2 - x3)**2 = 4 a x2 x3."""
    if sp.count_ops(expr) > 60:
        return expr
    return sp.expand(expr, power_exp=False, power_base=False, log=False)
