"""The default strategy: screening, symmetry reduction, library fit, a GP portfolio, canonical forms."""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import sympy as sp

from ..errors import SymgradError
from .base import Entry, Front, Progress, SearchProblem, SearchResult
from .boundary_form import prefer_consistent, with_law_forms
from .canonical import canonicalize
from .dimensions import parse_unit
from .library.backend import LibraryBackend
from .loss import unit_rows
from .path import SMALL, additive_path_front, forward_path, linear_path_front
from .screening import relevance, screen_problem
from .select import select
from .symmetry import AUTO_KINDS, KINDS, reduce_repeatedly, substitute_back


class AutoBackend:
    """Library fit first, Operon GP where it is needed, everything re-scored on held-out points.

    Steps (docs/method.md, "The auto strategy"):

    1. Screening: only inputs whose mean |normalised gradient component| is at least
       ``screen_threshold`` times the largest are searched (``force_inputs`` are always kept).
    2. Symmetry reduction: pairs whose gradients show x_i + x_j, x_i - x_j, x_i·x_j or x_i / x_j
       dependence are replaced by one variable, and the reduction is repeated on the reduced
       problem so groups (x0 + x1 + x2, x0·x1·x2) become one variable too; formulas are
       substituted back afterwards.
    3. The sparse term-library fit on the reduced (and on the unreduced) inputs, with up to one
       term per searched input (4 to 12 terms; beam search when exhaustive search is too large).
    4. If the library's choice already has held-out L <= ``accept_loss`` (the noise level of a
       well-trained network's gradient directions), it is accepted and no GP runs. Otherwise one
       Operon GP run (integer coefficients) on the reduced problem; if it does not beat the
       library's choice ``accept_factor``-fold, the library result is accepted and the rest of
       the portfolio is skipped; otherwise the portfolio continues over ``gp_bands``
       (decision-margin bands; None = all search points) x ``gp_seeds`` runs. Every GP run
       stops after ``gp_stall`` evaluations without a 10 % better train L.
    5. Every candidate is canonicalised up to monotone transforms (constants, scale and outer
       monotone wrappers dropped; simple constants snapped when held-out L allows it) and the
       merged front is re-scored on the held-out points of the original problem.
    6. Degenerate case: if a linear formula in the screened inputs is within ``linear_factor``
       of the best held-out L, ``info["linear_concept"]`` of the result reports it.
    7. The sparse linear path (``symgrad.search.path``) over all inputs, screening aside:
       linear formulas of every size kept on the front (source "path"), a table's scorecard at
       each size; and additive formulas (log, square, ...), candidates like the library's.
    8. The law's forms (``symgrad.search.boundary_form``): products of powers fitted over the
       inputs of the best formulas and, with ``units``, dimensionless groups, scored like the rest.

    Args:
        screen, screen_threshold, force_inputs: input screening.
        max_inputs: most inputs searched (the most relevant of those passing screening; forced
            inputs count first). Bounds memory: the library fit stays within its
            ``memory_limit`` (512 MB) and a GP run stores (2 d + 1) x 1000 x (d + 1) float32
            values, 3.4 MB at d = 20; symmetry detection looks at d (d - 1) / 2 pairs.
        symmetry, symmetry_threshold: symmetry reduction and its acceptance threshold.
        symmetry_rounds: rounds of pair reduction; each later round may pair a variable made in
            the round before with another (1: pairs only; 4 can merge up to 16 inputs).
        symmetry_kinds: the pair symmetries tested, from ``symmetry.KINDS`` (default
            ``AUTO_KINDS``: sum, difference, product, ratio, difference of squares).
        library: options for ``LibraryBackend`` (screening is done here).
        operon: options for ``OperonBackend`` (``time_limit`` is set per run).
        gp: run GP at all.
        gp_seeds: GP runs per band.
        gp_bands: decision-margin bands for the portfolio (first entry is the first run).
        gp_evaluations: candidate evaluations per GP run. This budget, not the clock, ends a run,
            so the same seed gives the same front on the same machine.
        gp_stall: evaluations without progress that end a GP run (None: only the budget).
        gp_time_limit: safety limit in seconds per GP run (a run cut by it is not reproducible).
        time_limit: seconds for the whole search. It is checked before and inside every GP run,
            before constant polishing and before each candidate is scored; when it is spent the
            search returns the front found so far (the library's formulas at least) and
            ``info["cut_short"]`` says which steps were cut.
        accept_loss: held-out L at or below which the library's choice is accepted without GP
            (0.002: within the noise floors measured on trained networks, 1e-4 to 5e-3, where a
            GP result would have to reach 4e-4 to overrule it; 0 disables the shortcut).
        accept_factor: how much better the GP must be to overrule the library.
        linear_factor: tolerance of the degenerate-case check.
        path: add the sparse linear path to the front.
        path_max_inputs: the path runs over at most this many inputs (the most relevant); its
            memory is a (d, d) matrix and its time grows as d^2 small eigenproblems.
        tolerance: held-out L factor allowed when snapping constants.
        law_forms: propose the law's forms (``symgrad.search.boundary_form``): products of
            powers fitted to the directions over the inputs of the best formulas, and with
            ``units`` the dimensionless groups of those inputs; scored like every candidate.
        units: {input name: unit text} (``data.units``; ``symgrad.search.dimensions``); None
            changes nothing. Given, a dimensionally inconsistent formula stays on the front only
            if its held-out L is ``units_factor`` times below every consistent formula's.
        units_factor: how much better an inconsistent formula must fit to stay.
    """

    name = "auto"
    screens_inputs = True

    def __init__(self, *, screen: bool = True, screen_threshold: float = 0.1, force_inputs: Sequence[str] | None = None,
                 max_inputs: int = 20,
                 symmetry: bool = True, symmetry_threshold: float = 0.12, symmetry_rounds: int = 4,
                 symmetry_kinds: Sequence[str] = AUTO_KINDS, library: dict[str, Any] | None = None,
                 operon: dict[str, Any] | None = None, gp: bool = True, gp_seeds: int = 2,
                 gp_bands: Sequence[float | None] = (None, 2.0), gp_evaluations: int = 100_000,
                 gp_stall: int | None = 20_000, gp_time_limit: float = 60.0,
                 time_limit: float = 170.0, accept_loss: float = 0.002, accept_factor: float = 5.0,
                 linear_factor: float = 1.5, path: bool = True, path_max_inputs: int = 200,
                 tolerance: float = 1.25, law_forms: bool = True, units: dict[str, Any] | None = None,
                 units_factor: float = 3.0) -> None:
        for name, value in (("screen", screen), ("symmetry", symmetry), ("gp", gp), ("path", path),
                            ("law_forms", law_forms)):
            if not isinstance(value, bool):
                raise SymgradError(f"search.options.{name}={value!r} is not allowed; use true or false")
        for name, value, low in (("screen_threshold", screen_threshold, 0), ("symmetry_threshold", symmetry_threshold, 0),
                                 ("gp_time_limit", gp_time_limit, 0), ("time_limit", time_limit, 0),
                                 ("accept_factor", accept_factor, 1), ("linear_factor", linear_factor, 1),
                                 ("tolerance", tolerance, 1), ("units_factor", units_factor, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > low:
                raise SymgradError(f"search.options.{name}={value!r} is not allowed; use a number above {low}")
        if isinstance(gp_evaluations, bool) or not isinstance(gp_evaluations, int) or gp_evaluations < 100:
            raise SymgradError(f"search.options.gp_evaluations={gp_evaluations!r} is not allowed; use an integer >= 100")
        if gp_stall is not None and (isinstance(gp_stall, bool) or not isinstance(gp_stall, int) or gp_stall < 100):
            raise SymgradError(f"search.options.gp_stall={gp_stall!r} is not allowed; use an integer >= 100 or null")
        if isinstance(accept_loss, bool) or not isinstance(accept_loss, (int, float)) or not 0 <= accept_loss < 1:
            raise SymgradError(f"search.options.accept_loss={accept_loss!r} is not allowed; use a number in [0, 1)")
        if isinstance(max_inputs, bool) or not isinstance(max_inputs, int) or max_inputs < 1:
            raise SymgradError(f"search.options.max_inputs={max_inputs!r} is not allowed; use a positive integer")
        self.max_inputs = max_inputs
        if isinstance(path_max_inputs, bool) or not isinstance(path_max_inputs, int) or path_max_inputs < 1:
            raise SymgradError(f"search.options.path_max_inputs={path_max_inputs!r} is not allowed; use a positive "
                               "integer")
        self.path, self.path_max_inputs = path, path_max_inputs
        if units is not None and not isinstance(units, dict):
            raise SymgradError(f"units={units!r} is not allowed; use a mapping of column names to unit texts such as "
                               "{weight_kg: kg, height_m: m}")
        self.law_forms, self.units_factor = law_forms, float(units_factor)
        self.units = dict(units or {})
        self.dimensions = {str(name): parse_unit(text, str(name)) for name, text in self.units.items()}
        if isinstance(symmetry_rounds, bool) or not isinstance(symmetry_rounds, int) or symmetry_rounds < 1:
            raise SymgradError(f"search.options.symmetry_rounds={symmetry_rounds!r} is not allowed; use a positive "
                               "integer (1: pairs only)")
        self.symmetry_rounds = symmetry_rounds
        if isinstance(gp_seeds, bool) or not isinstance(gp_seeds, int) or gp_seeds < 1:
            raise SymgradError(f"search.options.gp_seeds={gp_seeds!r} is not allowed; use a positive integer")
        if not isinstance(gp_bands, (list, tuple)):
            raise SymgradError(f"search.options.gp_bands={gp_bands!r} is not allowed; use a list of positive "
                               "margins or null (all points)")
        for name, value in (("library", library), ("operon", operon)):
            if value is not None and not isinstance(value, dict):
                raise SymgradError(f"search.options.{name}={value!r} is not allowed; use a mapping of the {name} "
                                   "backend's options")
        gp_bands = tuple(gp_bands)
        if not gp_bands or any(b is not None and (isinstance(b, bool) or not isinstance(b, (int, float)) or b <= 0)
                               for b in gp_bands):
            raise SymgradError(f"search.options.gp_bands={list(gp_bands)} is not allowed; use a list of positive "
                               "margins or null (all points)")
        self.screen, self.screen_threshold = screen, float(screen_threshold)
        self.force_inputs = None if force_inputs is None else list(force_inputs)
        self.symmetry, self.symmetry_threshold = symmetry, float(symmetry_threshold)
        if isinstance(symmetry_kinds, str) or any(k not in KINDS for k in symmetry_kinds):
            raise SymgradError(f"search.options.symmetry_kinds={symmetry_kinds!r} is not allowed; use a list from "
                               f"{list(KINDS)}")
        self.symmetry_kinds = tuple(symmetry_kinds)
        self.library_options = dict(library or {})
        self.operon_options = dict(operon or {})
        self.gp, self.gp_seeds, self.gp_bands = gp, gp_seeds, gp_bands
        self.gp_evaluations, self.gp_stall = gp_evaluations, gp_stall
        self.accept_loss = float(accept_loss)
        self.gp_time_limit, self.time_limit = float(gp_time_limit), float(time_limit)
        self.accept_factor, self.linear_factor, self.tolerance = float(accept_factor), float(linear_factor), float(tolerance)
        # validate the sub-backends' options now, not after minutes of work
        LibraryBackend(**{**self.library_options, "screen": False})
        if gp:
            self._operon(0.0)
        self.deadline = math.inf

    def _operon(self, time_limit: float, polish: bool = True):
        from .operon.backend import OperonBackend

        options = {"max_evaluations": self.gp_evaluations, "stall_evaluations": self.gp_stall, **self.operon_options}
        if not polish:
            options["polish"] = False
        return OperonBackend(**{**options, "time_limit": max(time_limit, 0.5)})

    def search(self, problem: SearchProblem, *, seed: int, progress: Progress | None = None) -> SearchResult:
        say = progress or (lambda _m: None)
        start = time.monotonic()
        self.deadline = start + self.time_limit
        info: dict[str, Any] = {}
        interrupted = False
        candidates: list[tuple[sp.Expr, str]] = []
        path_entries: list[Entry] = []
        searched: tuple[str, ...] = ()
        self._check_units(problem, info, say)
        self._check_dimensions(problem)
        try:
            sub = self._screen(problem, info, say)
            searched = sub.feature_names
            reduced, substitution = self._reduce(sub, info, say)

            library_front = self._back(self._library(reduced).search(reduced, seed=seed).front, reduced, substitution,
                                       "library")
            if substitution:
                library_front = library_front.merge(self._back(self._library(sub).search(sub, seed=seed).front, sub, {},
                                                               "library"))
            candidates += [(e.sympy(problem.feature_names), e.source) for e in library_front]
            library_best = select(library_front) if len(library_front) else None
            if library_best is not None:
                say(f"auto: library chose {library_best.expression} (held-out L {library_best.loss:.3g})")
            self._linear(sub, problem, info, candidates)
            path_entries = self._path(problem, info, say, candidates)

            if self.gp and library_best is not None and library_best.loss <= self.accept_loss:
                say(f"auto: the library's formula reaches L <= {self.accept_loss:g}; no GP needed")
                info["accepted"] = "library"
            elif self.gp:
                self._portfolio(reduced, substitution, problem, library_best, seed, candidates, info, say)
        except KeyboardInterrupt:
            interrupted = True
            say("auto: interrupted; returning the formulas found so far")
        front = self._final_front(candidates, problem, info, say)
        if self.law_forms and len(front) and not interrupted and self._remaining() > 0:
            front = self._law_forms(front, problem, searched, info, say)
        if path_entries:
            front = front.merge(Front(tuple(path_entries)))
        if self.dimensions and len(front):
            front = self._prefer_consistent(front, problem, info, say)
        info["seconds"] = time.monotonic() - start
        return SearchResult(front, info, interrupted)

    @staticmethod
    def _check_units(problem: SearchProblem, info: dict, say: Progress) -> None:
        """Warn when the inputs' spreads differ by orders of magnitude (raw-unit gradients would
        then be dominated by the narrowest inputs; L here is compared in spread units)."""
        spread = np.std(problem.x, axis=0)
        spread = spread[spread > 0]
        ratio = float(spread.max() / spread.min()) if len(spread) else 1.0
        if ratio >= 100:
            how = ("gradients are compared in units of each input's spread" if problem.scale is not None
                   else "raw-unit gradients are dominated by the narrowest inputs")
            info["scale_warning"] = f"the inputs' spreads differ {ratio:.3g}-fold; {how}"
            say(f"auto: warning: {info['scale_warning']}")

    def _check_dimensions(self, problem: SearchProblem) -> None:
        unknown = sorted(set(self.dimensions) - set(problem.feature_names))
        if unknown:
            raise SymgradError(f"units are given for {unknown}, which are not inputs of the problem "
                               f"{list(problem.feature_names)}")

    def _law_forms(self, front: Front, problem: SearchProblem, searched: Sequence[str], info: dict,
                   say: Progress) -> Front:
        front, info["law_forms"] = with_law_forms(front, problem, searched, self.dimensions or None)
        if info["law_forms"]["kept"]:
            say(f"auto: the law's forms on the front: {', '.join(info['law_forms']['kept'])}")
        return front

    def _prefer_consistent(self, front: Front, problem: SearchProblem, info: dict, say: Progress) -> Front:
        front, info["dimensions"] = prefer_consistent(front, problem, self.units, self.dimensions, self.units_factor)
        if info["dimensions"].get("inconsistent_left_out"):
            say(f"auto: {info['dimensions']['inconsistent_left_out']} dimensionally inconsistent formulas left out")
        return front

    def _library(self, problem: SearchProblem) -> LibraryBackend:
        """The library fit; unless set in ``library``, its term budget grows with the inputs
        searched (one term per input, 4 to 12), so a sum over every input is reachable."""
        budget = min(max(4, problem.n_features), 12)
        return LibraryBackend(**{"max_terms": budget, **self.library_options, "screen": False})

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _cut(self, step: str, info: dict, say: Progress) -> None:
        """Record that ``step`` was cut short by the time limit."""
        info.setdefault("cut_short", []).append(step)
        say(f"auto: time limit of {self.time_limit:g} s reached; {step}")

    def _portfolio(self, reduced: SearchProblem, substitution: dict, problem: SearchProblem, library_best: Entry | None,
                   seed: int, candidates: list, info: dict, say: Progress) -> None:
        # without decision margins every band is the whole problem: run it once
        bands = self.gp_bands if reduced.margin is not None else (None,)
        runs = [(band, seed + k) for band in bands for k in range(self.gp_seeds)]
        for index, (band, run_seed) in enumerate(runs):
            remaining = self._remaining()
            if remaining < 2.0:
                self._cut(f"{len(runs) - index} of {len(runs)} GP runs skipped", info, say)
                return
            target = reduced if band is None else reduced.band(band)
            if len(target.x) < 20:
                continue
            say(f"auto: GP run {index + 1}/{len(runs)} (band {band or 'all'}, seed {run_seed})")
            # constant polishing after the run costs seconds; skip it when the clock is nearly spent
            operon = self._operon(min(self.gp_time_limit, remaining), polish=remaining > 0.25 * self.time_limit)
            run = operon.search(target, seed=run_seed, progress=say)
            gp_front = self._back(run.front, reduced, substitution, "operon")
            # only the GP's Pareto entries can shape the final front: canonical forms and re-scoring
            # of the dominated ones cost more than the run itself
            candidates += [(e.sympy(problem.feature_names), e.source) for e in gp_front.pareto()]
            stop = run.info.get("stop_reason")
            if run.interrupted:
                raise KeyboardInterrupt
            if stop == "time limit reached" and self._remaining() < 2.0:
                self._cut(f"GP run {index + 1} of {len(runs)} stopped by the clock", info, say)
            if index == 0 and library_best is not None and len(gp_front):
                gp_best = select(gp_front)
                if not gp_best.loss * self.accept_factor < library_best.loss:
                    say(f"auto: GP ({gp_best.expression}, L {gp_best.loss:.3g}) does not beat the library "
                        f"{self.accept_factor:g}-fold; accepting the library result")
                    info["accepted"] = "library"
                    return
        info["accepted"] = "portfolio"

    def _screen(self, problem: SearchProblem, info: dict, say: Progress) -> SearchProblem:
        if problem.n_features == 1:
            return problem
        if not (self.screen or self.force_inputs):
            kept = list(range(problem.n_features))
            scores = relevance(problem.directions)
            ranking = [int(i) for i in np.argsort(-scores, kind="stable")]
        else:
            # an input within the noise of a kept one, or paired with one by a symmetry, is kept with it
            screening = screen_problem(problem, threshold=self.screen_threshold, force=self.force_inputs,
                                       symmetry_threshold=self.symmetry_threshold if self.symmetry else None,
                                       kinds=self.symmetry_kinds)
            kept, scores, ranking = list(screening.kept), np.array(screening.scores), list(screening.ranking)
            info["screening"] = {"kept": list(screening.kept_names),
                                 "ranking": [[problem.feature_names[i], float(scores[i])] for i in ranking],
                                 "tied": [problem.feature_names[i] for i in screening.tied]}
        if len(kept) > self.max_inputs:
            # the memory and time of every later stage grow with the inputs searched
            forced = [i for i in ranking if problem.feature_names[i] in (self.force_inputs or ())]
            others = [i for i in ranking if i in kept and i not in forced]
            capped = sorted(forced + others[:max(0, self.max_inputs - len(forced))])
            say(f"auto: {len(kept)} inputs pass screening; the {len(capped)} most relevant are searched "
                f"(max_inputs {self.max_inputs})")
            info.setdefault("screening", {})["capped"] = {"passed": len(kept), "searched": len(capped)}
            kept = capped
        if len(kept) == problem.n_features:
            return problem
        info.setdefault("screening", {})["kept"] = [problem.feature_names[i] for i in kept]
        say(f"auto: screening kept {info['screening']['kept']} of {problem.n_features} inputs")
        return problem.subset(kept)

    def _reduce(self, sub: SearchProblem, info: dict, say: Progress) -> tuple[SearchProblem, dict]:
        if not self.symmetry or sub.n_features < 2:
            info["symmetries"] = []
            return sub, {}
        reduced, substitution, found = reduce_repeatedly(sub, threshold=self.symmetry_threshold,
                                                         kinds=self.symmetry_kinds, max_rounds=self.symmetry_rounds)
        info["symmetries"] = [{"kind": s.kind, "expression": str(expr), "statistic": float(s.statistic)}
                              for s, expr in found]
        if not found:
            return sub, {}
        say("auto: symmetries " + ", ".join(f"{name} = {expr}" for name, expr in substitution.items()
                                            if str(expr) != name))
        return reduced, substitution

    @staticmethod
    def _back(front: Front, reduced: SearchProblem, substitution: dict, source: str) -> Front:
        """Entries over the reduced names, rewritten in the original names (not yet re-scored)."""
        out = []
        for entry in front:
            try:
                expr = entry.sympy(reduced.feature_names)
            except SymgradError:  # a GP tree beyond the parser's bounds: no readable formula, dropped
                continue
            if substitution:
                expr = substitute_back(expr, substitution)
            out.append(Entry(str(expr), entry.complexity, entry.loss, entry.train_loss, entry.source or source,
                             dict(entry.metrics)))
        return Front(tuple(out))

    def _linear(self, sub: SearchProblem, problem: SearchProblem, info: dict, candidates: list) -> None:
        symbols = [sp.Symbol(n, real=True) for n in sub.feature_names]
        linear = LibraryBackend(include=("linear",), max_terms=min(len(symbols), 8), screen=False, elbow_factor=1.0001)
        front = linear.search(sub, seed=0).front
        if len(front):
            best = min(front, key=lambda e: e.loss)
            info["linear_candidate"] = best.expression
            candidates.append((best.sympy(problem.feature_names), "linear"))

    def _path(self, problem: SearchProblem, info: dict, say: Progress, candidates: list) -> list[Entry]:
        """The sparse linear path over the most relevant ``path_max_inputs`` inputs (all of them
        unless there are more), returned to stay on the front; the additive path's formulas join
        ``candidates`` (canonical forms and the Pareto filter, like the library's)."""
        if not self.path or problem.n_features < 2:
            return []
        columns = list(range(problem.n_features))
        if len(columns) > self.path_max_inputs:
            ranking = np.argsort(-relevance(problem.directions), kind="stable")
            columns = sorted(int(i) for i in ranking[:self.path_max_inputs])
        path = forward_path(unit_rows(problem.directions[:, columns]))  # one selection serves both paths
        entries = linear_path_front(problem, columns=columns, path=path)
        info["path"] = [[e.complexity, e.loss] for e in entries]
        candidates += [(e.sympy(problem.feature_names), "path")
                       for e in additive_path_front(problem, columns=columns, path=path[:SMALL])]
        say(f"auto: sparse linear path over {len(columns)} inputs, {len(entries)} sizes")
        return entries

    def _final_front(self, candidates: list, problem: SearchProblem, info: dict, say: Progress) -> Front:
        entries: dict[str, Entry] = {}
        for index, (expr, source) in enumerate(candidates):
            scored = []
            if index and self._remaining() < 0:
                # the library's candidates come first, so the front is never empty
                self._cut(f"{len(candidates) - index} of {len(candidates)} candidates were not scored", info, say)
                break
            for form in (expr, self._canonical(expr, problem)):
                try:
                    scored.append(Entry.from_expr(form, problem, source=source,
                                                  train_loss=problem.loss(form, holdout=False)))
                except Exception:  # a candidate that cannot be evaluated is not a candidate
                    continue
            if len(scored) == 2 and scored[1].loss <= self.tolerance * scored[0].loss + 1e-12:
                scored = scored[1:]  # the simple constants are as good: do not keep the raw ones beside them
            for entry in scored:
                if entry.expression not in entries or entry.loss < entries[entry.expression].loss:
                    entries[entry.expression] = entry
        front = Front(tuple(entries.values())).pareto()
        linear = [expr for expr, source in candidates if source == "linear"]
        if len(front) and linear:
            entry = Entry.from_expr(self._canonical(linear[0], problem), problem, source="linear")
            if entry.loss <= self.linear_factor * min(e.loss for e in front):
                info["linear_concept"] = entry.expression
                say(f"auto: a linear concept fits as well as anything: {entry.expression}")
                front = front.merge(Front((entry,)))
        return front

    def _canonical(self, expr: sp.Expr, problem: SearchProblem) -> sp.Expr:
        try:
            form = canonicalize(expr, problem, tolerance=self.tolerance)
        except SymgradError:
            return expr
        return self._rounded(form, problem)

    def _rounded(self, expr: sp.Expr, problem: SearchProblem) -> sp.Expr:
        """Floats cut to the fewest significant digits (2 to 4) that keep held-out L within
        ``tolerance``: a reader should see 0.757, not 0.756892230576441."""
        floats = [a for a in expr.atoms(sp.Float)]
        if not floats:
            return expr
        reference = problem.loss(expr)
        for digits in (2, 3, 4):
            candidate = expr.xreplace({f: sp.Float(float(f"{float(f):.{digits}g}"), digits) for f in floats})
            if problem.loss(candidate) <= self.tolerance * reference + 1e-12:
                return candidate
        return expr.xreplace({f: sp.Float(float(f"{float(f):.6g}"), 6) for f in floats})
