"""One call, no config file: interpret a neuron of a network (or a plain function) on given points."""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from .judging.assess import Evidence
from .errors import SymgradError
from .network.model import Classifier
from .neurons import NeuronSpec, neuron_values
from .result import Artifacts, Result

Progress = Callable[[str], None]


def explain(model: Any, x: np.ndarray, *, y: Sequence | None = None, neuron: NeuronSpec | None = None,
            feature_names: Sequence[str] | None = None, backend: str = "auto", options: dict[str, Any] | None = None,
            band: float | None = 9.2, holdout_fraction: float = 0.5, n_points: int = 1000,
            selection: str = "knee", selection_factor: float | None = None, seed: int = 0,
            progress: Progress | None = None) -> Result:
    """Find closed-form formulas for one neuron of ``model`` from points ``x``.

    Args:
        model: a ``Classifier``; a fitted scikit-learn ``MLPClassifier``; a PyTorch
            ``nn.Sequential`` of Linear layers and supported activations; or any JAX-traceable
            function ``f(x (d,)) -> scalar`` (interpreted by its gradients alone). Imports are
            checked to reproduce the original's outputs on ``x`` (``symgrad.network.importers``).
        x: (n, d) points in raw units. A seeded share ``1 - holdout_fraction`` of the rows gives
            the search points; the rest, split in halves, gives the held-out points that score
            every formula and the points on which each formula's threshold is fitted (to the
            network's labels there and on the search rows) and then compared with the network's
            decisions.
        y: optional (n,) true labels (class ids or the classifier's class names) for true-label
            accuracy.
        neuron: which neuron (default: the output logit of a binary classifier).
        feature_names: d input names (default: the model's, else x0..x{d-1}).
        backend: auto, library, operon or pysr; ``options`` are passed to it.
        band: keep points with decision margin |logit| < band; None keeps all points.
        n_points: at most this many search and held-out points each.
        selection: the rule picking ``best`` (``symgrad.search.select``).
        selection_factor: that rule's factor (None for its default).
        seed: seeds the split, the subsampling and the search.

    Returns:
        A ``Result`` with the front, the chosen formula, its verdict and statement; formulas are
        written in the feature names and equivalent up to a monotone transform. ``save(dir)``
        writes a run directory with its report.
    """
    from .network.importers import describe, import_model, is_network
    from .neurons import FunctionNeuron, from_function
    from .judging.judge import judge_front
    from .judging.law import law_form_choice, law_statement
    from .pipeline import neuron_record, run_search
    from .sampling import band_sample, gradient_arrays, subsample
    from .record import versions
    from .record import Data, Gradients, Model, Neuron, Record, Search
    from .search import make_backend
    from .search.base import SearchProblem

    x = _points(x)
    if not 0 < holdout_fraction < 1:
        raise SymgradError(f"holdout_fraction={holdout_fraction} must be between 0 and 1")
    if isinstance(model, (Classifier, FunctionNeuron)):
        subject = model
    elif callable(model) and not is_network(model):
        subject = from_function(model, x, feature_names=feature_names)
    else:
        subject = import_model(model, x, feature_names=feature_names)
    if isinstance(subject, Classifier) and feature_names is not None and tuple(feature_names) != subject.feature_names:
        subject = _renamed(subject, feature_names)
    engine = make_backend(backend, options)
    timings: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    search_rows, validation_rows, test_rows, rest = _split_rows(len(x), holdout_fraction, rng)
    t0 = time.perf_counter()
    if isinstance(subject, FunctionNeuron):
        spec = None
        search = subject.sample(x[search_rows], what="search points")
        holdout = subject.sample(x[rest], what="held-out points")
        names = subject.feature_names
    else:
        spec = neuron or _default_neuron(subject)
        spec.validate(subject)
        names = subject.feature_names
        search = band_sample(subject, spec, x[search_rows], band=band, what="search points")
        holdout = band_sample(subject, spec, x[rest], band=band, what="held-out points")
    search, holdout = subsample(search, n_points, rng), subsample(holdout, n_points, rng)
    for sample, what in ((search, "search"), (holdout, "held-out")):
        if len(sample.x) < 20:
            raise SymgradError(f"only {len(sample.x)} {what} points are in the band; give more points or widen the "
                               f"band (band={band})")
    timings["gradients"] = time.perf_counter() - t0
    # gradients are compared in units of each input's spread, as in the pipeline (docs/method.md, "Units")
    problem = SearchProblem(search.x, search.directions, holdout.x, holdout.directions, names,
                            margin=None if spec is None else search.margin,
                            values=None if spec is None else search.values,
                            sides_x=None if spec is None else x[search_rows],
                            sides_values=None if spec is None else neuron_values(subject, spec, x[search_rows]),
                            ).in_spread_units(np.std(x, axis=0))
    t0 = time.perf_counter()
    found = run_search(engine, problem, seed=seed, progress=progress or (lambda _m: None))
    front, info, interrupted = found.front, found.info, found.interrupted
    timings["search"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if spec is None:
        neuron = Neuron(kind="function", description=subject.description, decides=False)
        data = Data(n_rows=len(x), n_features=len(names))
        model_record = Model(extra={"source": subject.description})
        evidence = Evidence(None, None, holdout, scale=problem.scale, names=tuple(names))
    else:
        evidence, labelled = _network_evidence(subject, spec, holdout, x, y, search_rows, validation_rows, test_rows,
                                                problem.scale)
        neuron = neuron_record(subject, spec)
        data = Data(n_rows=len(x), n_features=len(names), n_classes=subject.n_classes,
                    class_names=tuple(subject.class_names),
                    split=(len(search_rows), len(validation_rows), len(test_rows)), extra={"labelled": labelled})
        model_record = Model(hidden=tuple(subject.hidden_sizes), activation=subject.activation,
                             test_accuracy=float(np.mean(subject.predict(x[test_rows]) == evidence.test.y))
                             if labelled else None, extra={"source": describe(model)})
    front, best, floor, conclusion = judge_front(front, problem, evidence, neuron=neuron, search_info=info,
                                                 rule=selection, factor=selection_factor)
    # the law's form and the rounded threshold, as the pipeline states them (judging/law.py)
    best, conclusion = law_form_choice(front, best, floor, conclusion, neuron=neuron, features=tuple(names),
                                       evidence=evidence)
    conclusion = law_statement(conclusion, evidence, neuron=neuron)
    record = Record(
        seed=seed, features=tuple(names), status="interrupted" if interrupted else "finished", versions=versions(),
        timings=timings, neuron=neuron, data=data, model=model_record,
        gradients=Gradients(band=band if spec is not None else None, search=search.counts, holdout=holdout.counts),
        search=Search(backend=backend, options=dict(options or {}), info=info, interrupted=interrupted),
        floor=floor).with_conclusion(conclusion)
    timings["assessment"] = time.perf_counter() - t0
    arrays = gradient_arrays(search, holdout, x[test_rows], problem.scale)
    artifacts = Artifacts(model=None if spec is None else subject, gradients=arrays,
                          function=subject.function if spec is None else None)
    return Result.from_record(record, artifacts=artifacts)


def _split_rows(n: int, holdout_fraction: float, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of ``explain``'s split of n points: (search, validation, test) each sorted, and
    the held-out rest (validation + test, in drawn order) whose band points score formulas."""
    order = rng.permutation(n)
    cut = int(n * (1 - holdout_fraction))
    rest = order[cut:]
    return np.sort(order[:cut]), np.sort(rest[: len(rest) // 2]), np.sort(rest[len(rest) // 2:]), rest


def _points(x: Any) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise SymgradError("x must be a numeric (n, d) array of points") from None
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise SymgradError(f"x has shape {x.shape}; expected (n, d) points with n >= 2")
    if not np.all(np.isfinite(x)):
        raise SymgradError("x contains NaN or infinite values; clean the points first")
    return x


def _default_neuron(classifier: Classifier) -> NeuronSpec:
    if classifier.n_classes != 2:
        raise SymgradError(f"the classifier has {classifier.n_classes} classes; say which neuron to interpret, e.g. "
                           "neuron=symgrad.NeuronSpec('class', unit=0) or NeuronSpec('log_odds', unit=0, other=1)")
    return NeuronSpec.output()


def _renamed(classifier: Classifier, names: Sequence[str]) -> Classifier:
    from dataclasses import replace

    if len(names) != classifier.n_features:
        raise SymgradError(f"feature_names has {len(names)} names; the model has {classifier.n_features} inputs")
    return replace(classifier, feature_names=tuple(str(n) for n in names))


def _class_ids(y: Sequence, classifier: Classifier, n: int) -> np.ndarray:
    values = np.asarray(y)
    if values.shape != (n,):
        raise SymgradError(f"y has shape {values.shape}; expected ({n},), one label per point")
    names = [str(c) for c in classifier.class_names]
    if names and all(str(v) in names for v in values):
        lookup = {c: i for i, c in enumerate(names)}
        return np.array([lookup[str(v)] for v in values], dtype=np.int32)
    if np.issubdtype(values.dtype, np.number) and np.all(np.isin(values, np.arange(classifier.n_classes))):
        return values.astype(np.int32)
    raise SymgradError(f"y holds labels {sorted(set(map(str, values)))[:5]} that are neither class ids "
                       f"0..{classifier.n_classes - 1} nor the classifier's class names {names}")


def _network_evidence(classifier, spec, holdout, x, y, training_rows, validation_rows, test_rows, scale):
    from .data.tables import Dataset

    labelled = y is not None
    ids = _class_ids(y, classifier, len(x)) if labelled else np.zeros(len(x), np.int32)

    def part(rows):
        return Dataset(x=x[rows], y=ids[rows], feature_names=classifier.feature_names, n_classes=classifier.n_classes,
                       class_names=classifier.class_names)

    if len(validation_rows) < 2 or len(test_rows) < 2:
        raise SymgradError(f"{len(x)} points are too few to fit and check thresholds; give at least 20")
    evidence = Evidence(classifier, spec, holdout, part(validation_rows), part(test_rows), scale=scale,
                        labelled=labelled, training=x[training_rows])
    return evidence, labelled


def judge_formulas(model: Any, x: np.ndarray, formulas: Sequence[str], *, y: Sequence | None = None,
                   seed: int = 0, band: float | None = 9.2, holdout_fraction: float = 0.5, n_points: int = 1000,
                   search: bool = False) -> dict[str, Any]:
    """Judge given formulas of a binary classifier's output logit as ``symgrad.explain`` judges a front.

    The points are split, sampled and scored exactly as ``explain`` does, and every formula is
    judged with the verdict it would get if chosen from a front holding all of them (and, with
    ``search``, a short library search's front too: the floor a real run would have).

    Args:
        model: a ``Classifier`` or a network ``explain`` imports (scikit-learn, PyTorch).
        x: (n, d) points in raw units; y: optional (n,) true labels.
        formulas: formula strings over the model's feature names.

    Returns:
        ``{"floor": the floor's dict, "formulas": [metrics of each formula plus "verdict" and
        "sentence"]}``.
    """
    from .expressions import parse_formula
    from .judging.judge import judge_front
    from .judging.verdict import judge
    from .network.importers import import_model
    from .pipeline import neuron_record
    from .sampling import band_sample, subsample
    from .search.base import Entry, Front, SearchProblem

    x = np.asarray(x, dtype=np.float64)
    classifier = model if isinstance(model, Classifier) else import_model(model, x)
    names = classifier.feature_names
    rng = np.random.default_rng(seed)
    search_rows, validation_rows, test_rows, rest = _split_rows(len(x), holdout_fraction, rng)
    spec = _default_neuron(classifier)
    sample = band_sample(classifier, spec, x[search_rows], band=band, what="search points")
    holdout = band_sample(classifier, spec, x[rest], band=band, what="held-out points")
    sample, holdout = subsample(sample, n_points, rng), subsample(holdout, n_points, rng)
    problem = SearchProblem(sample.x, sample.directions, holdout.x, holdout.directions, names,
                            margin=sample.margin, values=sample.values).in_spread_units(np.std(x, axis=0))
    evidence, _ = _network_evidence(classifier, spec, holdout, x, y, search_rows, validation_rows, test_rows,
                                     problem.scale)
    entries = [Entry.from_expr(parse_formula(f, names), problem, source="given") for f in formulas]
    found: list[Entry] = []
    if search:
        from .search import make_backend

        found = list(make_backend("library", {}).search(problem, seed=seed, progress=lambda _m: None).front)
    front = Front(tuple(entries + found))
    neuron = neuron_record(classifier, spec)
    front, _, floor, _ = judge_front(front, problem, evidence, neuron=neuron)
    assessed = {e.expression: e for e in front.entries if e.source == "given"}
    out = []
    for entry in (assessed[e.expression] for e in entries):
        verdict = judge(entry, front, decides=True, floor=floor)
        out.append({**entry.metrics, "verdict": verdict.kind, "sentence": verdict.sentence})
    return {"floor": floor.to_dict(), "formulas": out}
