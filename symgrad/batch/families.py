"""Families of formulas: the chosen formulas of runs that differ only in seed, grouped by the
decision boundary they draw on the data, not by their strings.

Two formulas g1, g2 (each with the threshold and orientation its run fitted to its network's
decisions) are in one family when, on the runs' pooled test points,

* each one, at its best level, reproduces the other's decisions on at least ``MIN_AGREEMENT``
  of the points (the same boundary shape: any strictly monotone transform of a formula,
  ``log(g)``, ``-g``, ``3*g + 1``, scores 1.0), and
* their decisions at their own thresholds agree on at least ``MIN_OWN_AGREEMENT`` (a level far
  from the other's, such as a rule that predicts one class only, is another boundary).

Families are formed greedily, best runs first (verdict, then recovery of a known concept, then
boundary agreement): a formula joins the first family with all of whose members it shares its
boundary, so a family never chains together formulas that do not match each other.

The members, points and comparisons use numpy and sympy; a batch's families are kept in its
``families.json`` and computed again only for a (config, neuron) whose chosen formulas changed,
so that a resume with nothing to do reads them without sympy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import SymgradError
from ..record import Record
from ..rundir import RESULT_FILE, write_text

if TYPE_CHECKING:
    from .items import Batch, Item

# Measured on the paper suite (concepts A-G and seed15, seeds 0-4, default search; docs/batch.md,
# "Families"): chosen formulas of one concept on different seeds, and front formulas that reach
# the concept (agreement with the truth >= 0.985), scored >= 0.985 at their best level
# (x0**2 + 2*x1**2 against -x1**2 + cos(x0) on A1: 0.987); the closest front formulas that
# miss the concept (truth agreement < 0.98) scored <= 0.974 (5*x0**2 + 2*x1*x2 against
# x0**2 + sin(x1 + x2) on B). 0.98 lies in that gap.
MIN_AGREEMENT = 0.98
# At their own thresholds, the same string on two seeds agreed on 0.96-1.0 of the points (each
# network puts its boundary at a slightly different level: seed15, test accuracy 0.97-0.98), so
# this bound only catches a level that is far off, never network noise.
MIN_OWN_AGREEMENT = 0.9
# the pooled points are subsampled to at most this many (deterministically)
MAX_POINTS = 20_000
FAMILIES_FILE = "families.json"
_VERDICT_ORDER = {"faithful": 0, "approximate": 1, "cannot_judge": 2, "not_found": 3}


@dataclass(frozen=True)
class Member:
    """One run's chosen formula as a family compares it.

    Attributes:
        item: the run's name (a batch item id, or a run folder's name).
        expression: the formula, a sympy-parsable string in the run's inputs.
        threshold: the level fitted to the network's decisions on the run's training and validation rows.
        orientation: +1 or -1; the run predicts its target class where
            ``orientation * g > orientation * threshold``.
        verdict: the run's verdict kind ("" when none).
        agreement: the formula's boundary agreement with its network (None when unknown).
        recovered: whether it recovered a known concept (None when there is none).
        seed: the run's seed (None when unknown).
    """

    item: str
    expression: str
    threshold: float
    orientation: int
    verdict: str = ""
    agreement: float | None = None
    recovered: bool | None = None
    seed: int | None = None

    def rank(self) -> tuple[int, bool, float]:
        """Sort key: faithful before approximate, a recovered concept first, higher agreement first."""
        return (_VERDICT_ORDER.get(self.verdict, 4), self.recovered is not True,
                -(self.agreement if self.agreement is not None else -1.0))


@dataclass(frozen=True)
class Family:
    """Formulas of one (config, neuron) that draw the same decision boundary.

    Attributes:
        config: the experiment (a batch item's config name; "" outside a batch).
        neuron: the neuron's description ("output logit").
        index: 1 for the family with most runs, then 2, ... (ties: best first member first).
        items: the runs in it, best first (``Member.rank``).
        expressions: their formulas, in the same order.
        seeds: their seeds, in the same order (None where unknown).
        runs: how many runs of this (config, neuron) there are, finished or not.
        share: ``len(items) / runs``.
    """

    config: str
    neuron: str
    index: int
    items: tuple[str, ...]
    expressions: tuple[str, ...]
    seeds: tuple[int | None, ...]
    runs: int
    share: float


# ----------------------------------------------------------------------------- comparing formulas


def level_agreement(values: np.ndarray, labels: np.ndarray) -> float:
    """How well ``values`` reproduce ``labels`` at their best level and orientation.

    Args:
        values: (n,) a formula's values on the points (infinite where it overflows, NaN where
            it is undefined).
        labels: (n,) another formula's decisions, 0 or 1, -1 where it has none.

    Returns:
        The share of all n points the best rule ``orientation * values > orientation * level``
        gets right; a point where either formula is undefined counts as a miss. Any strictly
        monotone transform of ``values`` gives the same share.
    """
    from ..judging.metrics import fit_threshold

    ok = ~np.isnan(values) & (labels >= 0)
    if not ok.any():
        return 0.0
    kept = values[ok]
    if np.isinf(kept).any():  # an overflow is still ordered: compare ranks (ties kept)
        kept = np.unique(kept, return_inverse=True)[1].astype(np.float64)
    return fit_threshold(kept, labels[ok])[2] * float(ok.mean())


def boundary_scores(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(best-level agreement, own-threshold agreement) of two formulas on the same points.

    Args:
        first: (values, decisions) of one formula, as ``formula_decisions`` gives them: (n,)
            its values and (n,) its decisions at its own threshold (0/1, -1 where undefined).
        second: the same for the other formula, on the same n points.

    Returns:
        The smaller of "second at its best level reproduces first's decisions" and the reverse,
        and the share of points where the two decide alike at their own thresholds.
    """
    (values_1, labels_1), (values_2, labels_2) = first, second
    best_level = min(level_agreement(values_2, labels_1), level_agreement(values_1, labels_2))
    own = float(np.mean((labels_1 == labels_2) & (labels_1 >= 0)))
    return best_level, own


def same_boundary(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], *,
                  min_agreement: float = MIN_AGREEMENT, min_own_agreement: float = MIN_OWN_AGREEMENT) -> bool:
    """Whether two formulas draw the same decision boundary on the points (module docstring)."""
    best_level, own = boundary_scores(first, second)
    return best_level >= min_agreement and own >= min_own_agreement


def formula_decisions(member: Member, features: Sequence[str], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, decisions) of a member's formula on ``x`` (n, d): (n,) floats (NaN where
    undefined, infinite where it overflows) and (n,) 0/1 decisions at its own threshold, -1
    where it is undefined.

    Raises:
        SymgradError: the expression is not a formula in ``features``.
    """
    from ..expressions import parse_formula, value_function

    values = value_function(parse_formula(member.expression, features), features)(x)
    with np.errstate(invalid="ignore"):
        above = member.orientation * values > member.orientation * member.threshold
    return values, np.where(np.isnan(values), -1, above.astype(np.int64))


def group_families(members: Sequence[Member], features: Sequence[str], x: np.ndarray, *,
                   min_agreement: float = MIN_AGREEMENT,
                   min_own_agreement: float = MIN_OWN_AGREEMENT) -> list[tuple[Member, ...]]:
    """The members grouped into families, largest first, each family best member first.

    Args:
        members: chosen formulas of runs that differ only in seed.
        features: the input names the expressions are written in.
        x: (n, d) the points they are compared on (the runs' pooled test points).
        min_agreement: the least best-level agreement of two formulas of one family.
        min_own_agreement: the least agreement of their decisions at their own thresholds.

    Returns:
        Families as tuples of members. A formula that cannot be evaluated is a family of its own.
    """
    x = np.asarray(x, dtype=np.float64)
    families: list[list[tuple[Member, tuple[np.ndarray, np.ndarray] | None]]] = []
    for member in sorted(members, key=Member.rank):
        try:
            decisions = formula_decisions(member, features, x) if len(x) else None
        except SymgradError:
            decisions = None
        home = None
        for family in families:
            if all(_alike(member, decisions, other, theirs, min_agreement, min_own_agreement)
                   for other, theirs in family):
                home = family
                break
        if home is None:
            families.append([(member, decisions)])
        else:
            home.append((member, decisions))
    ordered = sorted(range(len(families)), key=lambda i: (-len(families[i]), i))
    return [tuple(m for m, _ in families[i]) for i in ordered]


def _alike(member: Member, decisions, other: Member, theirs, min_agreement: float, min_own_agreement: float) -> bool:
    if decisions is None or theirs is None:  # no points, or a formula without values: by its string only
        return member.expression == other.expression and decisions is None and theirs is None
    return same_boundary(decisions, theirs, min_agreement=min_agreement, min_own_agreement=min_own_agreement)


def pooled_points(files: Iterable[Path], *, limit: int = MAX_POINTS) -> np.ndarray:
    """(n, d) the test points of runs' gradients.npz files (``x_reference``; the held-out
    gradient points for older runs), stacked and cut to ``limit`` rows by a fixed draw. Files
    that are missing or unreadable are skipped; (0, 0) when none can be read."""
    blocks = []
    for file in files:
        try:
            with np.load(file, allow_pickle=False) as data:
                key = next((k for k in ("x_reference", "x_holdout", "x") if k in data.files), None)
                if key is not None and data[key].ndim == 2:
                    blocks.append(np.asarray(data[key], dtype=np.float64))
        except (OSError, ValueError, EOFError):
            continue
    widths = {b.shape[1] for b in blocks}
    if not blocks or len(widths) != 1:
        return np.zeros((0, 0))
    x = np.concatenate(blocks)
    if len(x) > limit:
        x = x[np.sort(np.random.default_rng(0).choice(len(x), size=limit, replace=False))]
    return x


# ----------------------------------------------------------------------------- runs and results


def member_of(record: Record, item: str, seed: int | None = None) -> Member | None:
    """The record's chosen formula as a ``Member``, or None when it has none that decides (no
    formula, an unfinished run, or a neuron without decisions such as a hidden unit)."""
    best = record.best
    if record.status != "finished" or best is None:
        return None
    threshold, orientation = best.metrics.get("threshold"), best.metrics.get("orientation")
    if threshold is None or orientation is None:
        return None
    truth = record.truth
    recovered = None if truth is None or truth.recovered_faithful is None else bool(truth.recovered_faithful)
    agreement = best.metrics.get("boundary_agreement")
    return Member(item=item, expression=best.expression, threshold=float(threshold), orientation=int(orientation),
                  verdict=record.verdict.kind if record.verdict is not None else "",
                  agreement=None if agreement is None else float(agreement), recovered=recovered,
                  seed=record.seed if seed is None else seed)


def families_of(results: Sequence[Any], *, min_agreement: float = MIN_AGREEMENT,
                min_own_agreement: float = MIN_OWN_AGREEMENT) -> list[Family]:
    """The families of the chosen formulas of runs of one experiment on different seeds.

    Args:
        results: ``symgrad.Result`` objects (``symgrad.load_run``) of the same data, network
            shape and neuron; their gradients.npz test points are pooled.
        min_agreement: the least best-level agreement of two formulas of one family.
        min_own_agreement: the least agreement of their decisions at their own thresholds.

    Returns:
        The families, largest first; ``runs`` counts every result given, so a run without a
        formula lowers each family's share.

    Raises:
        SymgradError: the results are not written in the same inputs.
    """
    results = list(results)
    features = {tuple(r.features) for r in results if r.features}
    if len(features) > 1:
        raise SymgradError(f"the results are in different inputs ({sorted(features)}); families compare runs of one "
                           "experiment on different seeds")
    members, points = [], []
    for i, result in enumerate(results):
        name = result.path.name if result.path is not None else f"run{i}"
        member = member_of(result.record, name)
        if member is not None:
            members.append(member)
            try:
                arrays = result.gradients()
            except SymgradError:
                continue
            points.append(np.asarray(arrays.get("x_reference", arrays["x_holdout"]), dtype=np.float64))
    x = np.concatenate(points) if points else np.zeros((0, 0))
    if len(x) > MAX_POINTS:
        x = x[np.sort(np.random.default_rng(0).choice(len(x), size=MAX_POINTS, replace=False))]
    neuron = results[0].record.neuron.description if results and results[0].record.neuron is not None else ""
    groups = group_families(members, next(iter(features), ()), x, min_agreement=min_agreement,
                            min_own_agreement=min_own_agreement)
    return _as_families(groups, "", neuron, len(results))


def families_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Family]:
    """The families a batch's summary.csv lists (its ``family`` column), in the order of its
    (config, neuron) pairs, then by index; read with the standard library, nothing compared again."""
    runs: dict[tuple[str, str], int] = {}  # in the order of the rows
    members: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for row in rows:
        group = (str(row.get("config", "")), str(row.get("neuron", "")))
        runs[group] = runs.get(group, 0) + 1
        if str(row.get("family", "")).strip():
            members.setdefault((*group, int(row["family"])), []).append(row)
    order = {group: i for i, group in enumerate(runs)}
    return [Family(config=config, neuron=neuron, index=index, items=tuple(str(r["item"]) for r in mine),
                   expressions=tuple(str(r.get("expression", "")) for r in mine),
                   seeds=tuple(_seed(r.get("seed")) for r in mine), runs=runs[(config, neuron)],
                   share=len(mine) / runs[(config, neuron)])
            for (config, neuron, index), mine in sorted(members.items(), key=lambda kv: (order[kv[0][:2]], kv[0][2]))]


def _seed(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_families(groups: Sequence[tuple[Member, ...]], config: str, neuron: str, runs: int) -> list[Family]:
    return [Family(config=config, neuron=neuron, index=i, items=tuple(m.item for m in group),
                   expressions=tuple(m.expression for m in group), seeds=tuple(m.seed for m in group), runs=runs,
                   share=len(group) / runs)
            for i, group in enumerate(groups, start=1)]


# ----------------------------------------------------------------------------- a batch folder


def batch_families(batch: Batch, batch_dir: Path, finished: Iterable[str]) -> list[Family]:
    """The families of every (config, neuron) of a batch, in the batch's order.

    Args:
        batch: the expanded batch (its items name config, neuron and seed).
        batch_dir: the batch folder; each item's run is read from ``runs/<item>``.
        finished: the ids of the items that finished.

    Returns:
        Per (config, neuron), its families. Groups with more than one formula are compared on
        their runs' pooled test points; the answer is kept in ``families.json`` and reused while
        the group's formulas and thresholds stay the same (without sympy).
    """
    finished = set(finished)
    cache = _read_cache(batch_dir)
    kept: dict[str, Any] = {}
    out: list[Family] = []
    for (config, neuron), items in batch_groups(batch).items():
        members = []
        for item in items:
            member = _item_member(batch_dir, item) if item.id in finished else None
            if member is not None:
                members.append(member)
        key = f"{config}|{neuron}"
        stamp = [[m.item, m.expression, m.threshold, m.orientation, m.verdict] for m in members]
        entry = cache.get(key)
        if len(members) > 1 and entry is not None and entry.get("members") == stamp:
            by_item = {m.item: m for m in members}
            groups = [tuple(by_item[i] for i in group) for group in entry["families"]]
        else:
            groups = _compute(batch_dir, members)
        if len(members) > 1:
            kept[key] = {"members": stamp, "families": [[m.item for m in group] for group in groups]}
        out += _as_families(groups, config, items[0].neuron.describe(), len(items))
    if kept != cache:
        write_text(batch_dir / FAMILIES_FILE, json.dumps({"rule": _rule(), "groups": kept}, indent=2))
    return out


def item_families(families: Iterable[Family]) -> dict[str, tuple[int, float]]:
    """Per item id in a family: (its family's index, the family's share)."""
    return {item: (family.index, family.share) for family in families for item in family.items}


def batch_groups(batch: Batch) -> dict[tuple[str, str], list[Item]]:
    """The batch's items by (config name, neuron tag), in the batch's order: items that differ
    only in seed."""
    out: dict[tuple[str, str], list[Item]] = {}
    for item in batch.items:
        out.setdefault((item.config_name, item.neuron.tag()), []).append(item)
    return out


def _item_member(batch_dir: Path, item: Item) -> Member | None:
    path = batch_dir / "runs" / item.id / RESULT_FILE
    try:
        record = Record.from_dict(json.loads(path.read_text()), where=str(path))
    except (OSError, ValueError):  # SymgradError is a ValueError: a damaged record has no formula
        return None
    return member_of(record, item.id, item.seed)


def _compute(batch_dir: Path, members: list[Member]) -> list[tuple[Member, ...]]:
    if len(members) < 2:  # nothing to compare: no points, no sympy
        return [(m,) for m in members]
    x = pooled_points(batch_dir / "runs" / m.item / "gradients.npz" for m in members)
    features = _features(batch_dir, members[0])
    return group_families(members, features, x if features and x.shape[1] == len(features) else np.zeros((0, 0)))


def _features(batch_dir: Path, member: Member) -> tuple[str, ...]:
    try:
        return tuple(json.loads((batch_dir / "runs" / member.item / RESULT_FILE).read_text()).get("features") or ())
    except (OSError, ValueError):
        return ()


def _rule() -> dict[str, Any]:
    # this file's hash: families.json is reused only under the same rule and code
    return {"code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16], "min_agreement": MIN_AGREEMENT,
            "min_own_agreement": MIN_OWN_AGREEMENT, "max_points": MAX_POINTS}


def _read_cache(batch_dir: Path) -> dict[str, Any]:
    """The groups of ``families.json`` if it was written under the current rule, else {}."""
    try:
        data = json.loads((batch_dir / FAMILIES_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("rule") != _rule() or not isinstance(data.get("groups"), dict):
        return {}
    return data["groups"]
