"""The Operon fitness callback: gradient alignment of a tree from finite differences (with the
budget and stop checks of ``OperonOptions``), the size objective of Pareto runs, and the archive
of the best trees per length that becomes the front."""

from __future__ import annotations

import math
import queue
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .options import OperonOptions
from .tree import NodeRecord, node_kind, node_records

_WORST_FITNESS = 10.0  # returned for skipped evaluations; L itself never exceeds 2


@dataclass
class Archive:
    """Best few trees per Operon tree length, filled while the run evaluates candidates."""

    per_length: int
    best: dict[int, list[tuple[float, tuple[NodeRecord, ...]]]] = field(default_factory=dict)
    best_loss: float = math.inf

    def offer(self, length: int, loss: float, snapshot: Callable[[], tuple[NodeRecord, ...]]) -> None:
        bucket = self.best.setdefault(length, [])
        if len(bucket) >= self.per_length and loss >= bucket[-1][0]:
            return
        if any(abs(loss - kept) <= 1e-15 for kept, _ in bucket):
            return  # most likely the same tree again; keep the bucket diverse
        bucket.append((loss, snapshot()))
        bucket.sort(key=lambda item: item[0])
        del bucket[self.per_length:]
        self.best_loss = min(self.best_loss, loss)

    def trees(self, margin: float | None = None) -> list[tuple[float, tuple[NodeRecord, ...]]]:
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


class GradientFitness:
    """Operon's fitness callback: L of a tree from finite differences on the stacked rows."""

    def __init__(self, options: OperonOptions, directions: np.ndarray, forward_steps: np.ndarray,
                 backward_steps: np.ndarray | None, oriented: bool, archive: Archive,
                 variable_of_hash: dict[int, int], spread: np.ndarray | None = None) -> None:
        self.options = options
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
        self.weights = options.complexity_weights
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
        if self.options.parsimony > 0:
            fitness += self.options.parsimony * self._weighted_length(tree)
        self._check_budget(loss)
        return [fitness]

    def _loss(self, values: np.ndarray) -> float:
        n, d = self.directions.shape
        with np.errstate(all="ignore"):
            plus = values[n:n * (d + 1)].reshape(d, n)
            if self.options.finite_differences == "central":
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

    def _snapshot(self, tree: Any) -> tuple[NodeRecord, ...]:
        return node_records(tree, self.variable_of_hash)

    def _weighted_length(self, tree: Any) -> float:
        if not self.weights:
            return float(tree.Length)
        return sum(self.weights.get(node_kind(node), 1.0) for node in tree.Nodes)

    def _check_budget(self, loss: float) -> None:
        options = self.options
        if options.loss_threshold is not None and loss <= options.loss_threshold:
            self.request_stop(f"reached L <= {options.loss_threshold:g}")
        elif options.max_evaluations is not None and self.evaluations >= options.max_evaluations:
            self.request_stop("evaluation budget spent")
        elif options.stall_evaluations is not None and self._stalled(loss):
            self.request_stop(f"no {options.stall_factor:g}-fold improvement in {options.stall_evaluations} "
                              "evaluations")
        elif time.monotonic() > self.deadline:
            self.request_stop("time limit reached")

    def _stalled(self, loss: float) -> bool:
        if loss * self.options.stall_factor < self.mark_loss:
            self.mark_loss, self.mark_evaluation = loss, self.evaluations
            return False
        return self.evaluations - self.mark_evaluation >= self.options.stall_evaluations

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


class SizeObjective:
    """Operon callback for the second objective of a Pareto run: the weighted node count."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = dict(weights)

    def __call__(self, rng: Any, individual: Any) -> list[float]:
        tree = individual.Genotype
        if not self.weights:
            return [float(tree.Length)]
        return [float(sum(self.weights.get(node_kind(node), 1.0) for node in tree.Nodes))]
