"""One Operon run: the Operon objects built from the backend's ``OperonOptions``, evolved in a
worker thread so that the main thread can take KeyboardInterrupt; and the guarded progress
callback (``SafeProgress``). pyoperon is imported only here, when a run starts."""

from __future__ import annotations

import math
import queue
import threading
import time

import numpy as np

from ...errors import SymgradError
from ..base import Progress, SearchProblem
from .fitness import Archive, GradientFitness, SizeObjective
from .options import OperonOptions


class SafeProgress:
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


class OperonRun:
    """One Operon run. Operon keeps raw pointers to everything built here, so every object lives
    in an attribute of this instance until the run has finished."""

    def __init__(self, options: OperonOptions, problem: SearchProblem, seed: int, notify: SafeProgress) -> None:
        self.options = options
        self.problem = problem
        self.seed = seed
        self.notify = notify
        x, directions = np.asarray(problem.x, dtype=np.float64), np.asarray(problem.directions, dtype=np.float64)
        if x.ndim != 2 or x.shape != directions.shape or x.shape[0] < 2:
            raise SymgradError(f"problem points {x.shape} and directions {directions.shape} must be "
                               f"equal (n, d) arrays with n >= 2")
        if x.shape[0] > options.max_points:
            rows = np.sort(np.random.default_rng(seed).choice(x.shape[0], options.max_points, replace=False))
            x, directions = x[rows], directions[rows]
        self.x, self.directions = x, directions

    def execute(self) -> tuple[Archive, str]:
        import pyoperon as op

        options = self.options
        x, directions = self.x, self.directions
        n, d = x.shape
        scale = np.std(x, axis=0)
        steps = options.finite_difference_step * np.where(scale > 0, scale, 1.0)
        blocks = [x] + [x + steps[i] * np.eye(d)[i] for i in range(d)]
        if options.finite_differences == "central":
            blocks += [x - steps[i] * np.eye(d)[i] for i in range(d)]
        stacked = np.vstack(blocks)
        # float32, Fortran order: the layout Operon reads without a copy; it must outlive the run
        self.data = np.asfortranarray(np.column_stack([stacked, np.zeros(len(stacked))]).astype(np.float32))
        # the steps actually taken after rounding to float32, per row (matters far from zero)
        stored = self.data.astype(np.float64)
        base = stored[:n, :d]
        forward_steps = np.stack([stored[(i + 1) * n:(i + 2) * n, i] - base[:, i] for i in range(d)])
        backward_steps = None
        if options.finite_differences == "central":
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
        for name in options.operators:
            config_bits |= int(getattr(op.NodeType, name.capitalize()))
        self.problem_op.ConfigurePrimitiveSet(config_bits)
        self.pset = self.problem_op.PrimitiveSet
        self.dtable = op.DispatchTable()

        self.archive = Archive(per_length=options.per_length)
        variable_of_hash = {v.Hash: v.Index for v in variables[:-1]}
        self.fitness = GradientFitness(options, directions, forward_steps, backward_steps,
                                        self.problem.oriented, self.archive, variable_of_hash,
                                        self.problem.spread)
        self.fitness.operon, self.fitness.dtable = op, self.dtable
        self.fitness.dataset, self.fitness.rows = self.dataset, self.rows
        # budgets are counted in the fitness callback (Operon's own count differs per evaluator
        # kind); Operon only sees an unlimited budget until the callback sets it to 0
        budget = 2**62
        self.alignment_evaluator = op.UserDefinedEvaluator(self.problem_op, self.fitness)
        self.alignment_evaluator.Budget = budget
        pareto = options.objective == "pareto"
        if pareto:
            # second objective: the (weighted) size, so that small trees of every size survive
            self.size_objective = SizeObjective(options.complexity_weights)
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
        if options.coefficients == "integer":
            self.coefficient_init = op.UniformIntCoefficientAnalyzer()
            self.coefficient_init.ParameterizeDistribution(-options.integer_range, options.integer_range)
            self.one_point = op.UniformIntOnePointMutation()
            self.one_point.ParameterizeDistribution(-options.integer_range, options.integer_range)
            self.multi_point = op.UniformIntMultiPointMutation()
            self.multi_point.ParameterizeDistribution(-options.integer_range, options.integer_range)
        else:
            self.coefficient_init = op.NormalCoefficientInitializer()
            self.coefficient_init.ParameterizeDistribution(0, 1)
            self.one_point = op.NormalOnePointMutation()
            self.one_point.ParameterizeDistribution(0, 1)
            self.multi_point = op.NormalMultiPointMutation()
            self.multi_point.ParameterizeDistribution(0, 1)
        self.change_variable = op.ChangeVariableMutation(self.inputs)
        self.change_function = op.ChangeFunctionMutation(self.pset)
        self.replace_subtree = op.ReplaceSubtreeMutation(self.creator, self.coefficient_init, options.max_depth,
                                                         options.max_length)
        self.insert_subtree = op.InsertSubtreeMutation(self.creator, self.coefficient_init, options.max_depth,
                                                       options.max_length)
        self.remove_subtree = op.RemoveSubtreeMutation(self.pset)
        self.mutation = op.MultiMutation()
        self.mutations = [self.one_point, self.multi_point, self.change_variable, self.change_function,
                          self.replace_subtree, self.insert_subtree, self.remove_subtree]
        for mutation in self.mutations:
            self.mutation.Add(mutation, 1.0)
        self.crossover = op.SubtreeCrossover(0.9, options.max_depth, options.max_length)
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
        self.tree_init.ParameterizeDistribution(min_arity + 1, min(10, options.max_length))
        self.tree_init.MinDepth = 1
        self.tree_init.MaxDepth = 1000
        time_limit = options.time_limit
        self.config = op.GeneticAlgorithmConfig(
            generations=options.generations, max_evaluations=budget, local_iterations=0,
            population_size=options.population_size, pool_size=options.population_size,
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

        options = self.options
        self.notify(f"operon: {options.population_size} individuals, {len(self.x)} points, "
                    f"{self.x.shape[1]} inputs, {options.coefficients} coefficients")
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
