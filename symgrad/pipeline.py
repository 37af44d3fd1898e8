"""The pipeline: data -> train (or load) -> neuron gradients -> search -> run directory."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import config as config_mod
from .data.concepts import CONCEPTS, Concept, custom_concept, make_concept_dataset
from .data.tables import Dataset, load_csv, split_dataset
from .errors import SymgradError
from .model import Classifier
from .neurons import GradientSample, NeuronSpec, normalized_gradients
from .rundirs import prepare_run_dir
from .runs import RESULT_FORMAT, RESULT_VERSION, Run, load_run, versions, write_json
from .search import make_backend
from .search.base import Front, SearchProblem, SearchResult
from .search.focus import focus_on_boundary
from .search.select import select
from .train import TrainReport, accuracy, train_classifier
from .truth import compare_with_truth
from .assess import Evidence, assess_front, figures, statement, write_exports, write_report
from .report import FAITHFUL, FAITHFUL_MAX_LOSS, NOT_FOUND, verdict

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_data(config: dict[str, Any]) -> tuple[Dataset, Concept | None]:
    """The dataset described by ``config['data']`` and its known concept, if any."""
    data = config["data"]
    seed = config["seed"]
    if data["concept"] is not None:
        if data["concept"] not in CONCEPTS:
            raise SymgradError(f"data.concept {data['concept']!r} is unknown; built-in concepts are {sorted(CONCEPTS)}")
        concept = CONCEPTS[data["concept"]]
        return make_concept_dataset(concept, data["n_samples"], seed=seed), concept
    if data["formula"] is not None:
        concept = custom_concept(data["formula"], data["n_features"], data["low"], data["high"], data["threshold"])
        dataset = make_concept_dataset(concept, data["n_samples"], seed=seed)
        if dataset.y.min() == dataset.y.max():
            raise SymgradError(f"data.formula {data['formula']!r} with threshold {data['threshold']} labels every point "
                               f"{int(dataset.y[0])} on [{data['low']}, {data['high']}); change the threshold or domain")
        return dataset, concept
    if data["path"] is None:
        raise SymgradError("no data given; set data.concept, data.formula or data.path (points are needed for gradients)")
    return load_csv(data["path"], label=data["label"], features=data["features"]), None


def subsample(sample: GradientSample, n: int, rng: np.random.Generator) -> GradientSample:
    """At most ``n`` rows of ``sample``, drawn without replacement (order kept)."""
    if len(sample.x) <= n:
        return sample
    idx = np.sort(rng.choice(len(sample.x), size=n, replace=False))
    return GradientSample(sample.x[idx], sample.directions[idx], sample.values[idx], sample.margin[idx],
                          {**sample.counts, "subsampled_to": n})


def train_model(config: dict[str, Any], split, *, progress: Progress | None = None) -> tuple[Classifier, TrainReport]:
    """Train the network ``config['model']`` and ``config['train']`` describe on ``split``."""
    return train_classifier(
        split.train, split.validation, hidden=config["model"]["hidden"],
        activation=config["model"]["activation"], epochs=config["train"]["epochs"],
        batch_size=config["train"]["batch_size"], learning_rate=config["train"]["learning_rate"],
        weight_decay=config["train"]["weight_decay"], patience=config["train"]["patience"],
        seed=config["seed"], progress=progress)


def search_backend(config: dict[str, Any]):
    """The search backend ``config['search']`` describes and the options it was given; a missing
    optional engine or a bad option raises SymgradError here, before any work."""
    options = dict(config["search"]["options"])
    backend = make_backend(config["search"]["backend"], options, screen=config["search"]["screen"],
                           force_inputs=config["search"]["force_inputs"])
    return backend, options


def neuron_spec(config: dict[str, Any]) -> NeuronSpec:
    n = config["neuron"]
    return NeuronSpec(kind=n["kind"], layer=n["layer"], unit=n["unit"], other=n["other"],
                      preactivation=n["preactivation"])


def interpret(config: dict[str, Any], *, out: str | Path | None = None, model_path: str | Path | None = None,
              overwrite: bool | None = None, progress: Progress | None = _stderr,
              config_name: str = "run", classifier: Classifier | None = None,
              train_report: TrainReport | None = None) -> Run:
    """Run the whole pipeline for a validated config and write its run directory.

    Args:
        config: a validated configuration (``symgrad.config.load_config``).
        out: explicit run directory (must not exist or be empty unless ``overwrite``); default
            ``output.dir/<name>`` with a fresh numbered name if taken.
        model_path: a saved ``model.npz`` to interpret instead of training.
        classifier: an already loaded or trained network to interpret instead (batches train
            each network once); ``train_report`` is its training record, shown in the report.
        progress: receives one-line progress messages (None for silence).

    Returns:
        The loaded run (``symgrad.load_run`` of the directory written).
    """
    say = progress if (progress is not None and config["progress"]) else (lambda _m: None)
    seed = config["seed"]
    timings: dict[str, float] = {}
    overwrite = config["output"]["overwrite"] if overwrite is None else overwrite
    model_path = model_path or config["model"]["path"]

    # the backend first: a missing optional engine or a bad option must fail before any work
    backend_name = config["search"]["backend"]
    backend, options = search_backend(config)

    t0 = time.perf_counter()
    dataset, concept = load_data(config)
    if dataset.renamed:
        say("columns renamed to safe formula names: " + ", ".join(f"{a!r} -> {b!r}" for a, b in dataset.renamed.items()))
        force = config["search"]["force_inputs"]
        if force and any(name in dataset.renamed for name in force):
            # search.force_inputs names the CSV's columns; the search knows their safe names
            config = {**config, "search": {**config["search"],
                                           "force_inputs": [dataset.renamed.get(name, name) for name in force]}}
            backend, options = search_backend(config)
    split = split_dataset(dataset, fractions=config["data"]["split"], seed=seed)
    timings["data"] = time.perf_counter() - t0

    # load the model before creating the directory so that a bad path leaves nothing behind
    if classifier is None:
        classifier = Classifier.load(model_path) if model_path else None
    spec = neuron_spec(config)
    if classifier is not None:
        classifier.check_matches(dataset.feature_names, dataset.n_classes)
        spec.validate(classifier)
    else:
        # check the neuron against the network to be trained before spending time on training
        spec.validate(SimpleNamespace(n_classes=dataset.n_classes, hidden_sizes=tuple(config["model"]["hidden"])))

    # written into a hidden sibling and moved into place only when complete: an earlier run
    # there stays intact if this one fails
    run_folder = prepare_run_dir(out if out is not None else config["output"]["dir"], config["output"]["name"],
                                 stem=config_name, overwrite=overwrite, explicit=out is not None)
    say(f"run directory: {run_folder.target}")
    try:
        _write_run(run_folder.path, config, say, timings, dataset, concept, split, classifier, train_report, spec,
                   backend, backend_name, options)
    except BaseException as error:
        error.run_dir = run_folder.fail(error)  # where the failed run (and its error.log) lies
        raise
    run_dir = run_folder.commit()
    say(f"report: {run_dir / 'report.html'}")
    return load_run(run_dir)


def _write_run(run_dir: Path, config: dict[str, Any], say: Progress, timings: dict[str, float], dataset: Dataset,
               concept: Concept | None, split, classifier: Classifier | None, train_report: TrainReport | None,
               spec: NeuronSpec, backend,
               backend_name: str, options: dict[str, Any]) -> None:
    """Train (unless a model was given), take the gradients, search, assess and write ``run_dir``."""
    seed = config["seed"]
    (run_dir / "config.yaml").write_text(config_mod.dump(config))
    result: dict[str, Any] = {"format": RESULT_FORMAT, "version": RESULT_VERSION, "seed": seed,
                              "features": list(dataset.feature_names), "status": "started",
                              "versions": versions(), "timings": timings}
    write_json(run_dir / "result.json", result)

    if classifier is None:
        say(f"training a {config['model']['hidden']} {config['model']['activation']} MLP on "
            f"{len(split.train.y)} points ({dataset.n_features} inputs, {dataset.n_classes} classes)")
        t0 = time.perf_counter()
        classifier, train_report = train_model(config, split, progress=say)
        timings["train"] = time.perf_counter() - t0
        spec.validate(classifier)
    classifier.check_finite(split.train.x, trained=train_report is not None)
    classifier.save(run_dir / "model.npz")
    test_accuracy = accuracy(classifier, split.test)
    say(f"test accuracy: {test_accuracy:.4f}")
    if classifier.activation == "relu":
        say("warning: ReLU networks have piecewise-constant gradients; expect noisier formulas (elu or silu recommended)")

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    band = config["gradients"]["band"]
    # a decision neuron of a flat (noisy-label) network is searched nearest its boundary
    focus = (lambda sample: sample) if spec.kind == "hidden" else focus_on_boundary
    search_sample = subsample(focus(normalized_gradients(classifier, spec, split.train.x, band=band,
                                                         what="training points")),
                            config["gradients"]["n_points"], rng)
    holdout_sample = subsample(focus(normalized_gradients(classifier, spec,
                                                          np.concatenate([split.validation.x, split.test.x]),
                                                          band=band, what="held-out points")),
                             config["gradients"]["n_holdout"], rng)
    if "focused" in search_sample.counts:
        say(f"search gradients: {search_sample.counts['focused']}")
    timings["gradients"] = time.perf_counter() - t0
    for label, sample in (("search", search_sample), ("held-out", holdout_sample)):
        c = sample.counts
        say(f"{label} gradients: {c['kept']} of {c['offered']} points kept "
            f"({c['outside_band']} outside the band, {c['zero_gradient']} with zero gradient)")
    if len(search_sample.x) < 20:
        raise SymgradError(f"only {len(search_sample.x)} training points remain in the band {band}; widen gradients.band "
                           "or give more data")
    np.savez(run_dir / "gradients.npz", x=search_sample.x, directions=search_sample.directions,
             values=search_sample.values, x_holdout=holdout_sample.x, directions_holdout=holdout_sample.directions,
             values_holdout=holdout_sample.values)

    # gradients are compared in units of each input's spread (docs/method.md, "Units")
    scale = np.std(split.train.x, axis=0)
    problem = SearchProblem(search_sample.x, search_sample.directions, holdout_sample.x, holdout_sample.directions,
                            dataset.feature_names, oriented=config["search"]["oriented"],
                            margin=search_sample.margin).in_spread_units(scale)
    result.update(_model_summary(classifier, dataset, split, test_accuracy, train_report, spec, search_sample,
                                 holdout_sample, band))
    result["status"] = "searching"
    write_json(run_dir / "result.json", result)

    say(f"searching with the {backend_name} backend ...")
    t0 = time.perf_counter()
    try:
        found = backend.search(problem, seed=seed, progress=say)
    except KeyboardInterrupt:
        # backends return their best-so-far front themselves; reaching here means none existed
        found = SearchResult(Front(), interrupted=True)
    timings["search"] = time.perf_counter() - t0
    front, interrupted = found.front, found.interrupted
    result["search"] = {"backend": backend_name, "options": options, "info": found.info,
                        "interrupted": interrupted}
    result["front"] = front.to_list()  # saved before assessment so that nothing found is lost
    write_json(run_dir / "result.json", result)
    t0 = time.perf_counter()
    evidence = Evidence(classifier, spec, holdout_sample, split.validation, split.test, problem.scale)
    front = assess_front(front, evidence)
    best = _finish(result, front, config, concept, spec)
    timings["assessment"] = time.perf_counter() - t0
    companion_figures = {}
    if config["companions"]:
        from .companions import run_companions

        say("fitting the companions (surrogates, sensitivity, PReLU rules) ...")
        t0 = time.perf_counter()
        result["companions"], companion_figures = run_companions(config["companions"], evidence, split.train.x,
                                                                 best=best, seed=seed)
        timings["companions"] = time.perf_counter() - t0
    result["status"] = "interrupted" if interrupted else "finished"
    write_json(run_dir / "result.json", result)
    t0 = time.perf_counter()
    write_exports(run_dir, result, best)
    history = train_report.history if train_report else None
    write_report(run_dir, result, {**figures(result, evidence, front, best, history), **companion_figures})
    timings["report"] = time.perf_counter() - t0
    write_json(run_dir / "result.json", result)


def _model_summary(classifier, dataset, split, test_accuracy, train_report, spec, search_sample, holdout_sample, band):
    return {
        "neuron": spec.to_dict(),
        "data": {"n_rows": int(len(dataset.y)), "n_features": dataset.n_features, "n_classes": dataset.n_classes,
                 "class_names": list(dataset.class_names), "split": [len(split.train.y), len(split.validation.y),
                                                                      len(split.test.y)],
                 "truth": dataset.truth, "threshold": dataset.threshold, "renamed": dict(dataset.renamed)},
        "model": {"hidden": list(classifier.hidden_sizes), "activation": classifier.activation,
                  "test_accuracy": test_accuracy, "training": train_report.to_dict() if train_report else None},
        "gradients": {"band": band, "search": search_sample.counts, "holdout": holdout_sample.counts},
    }


def _finish(result: dict, front: Front, config: dict, concept: Concept | None, spec: NeuronSpec):
    result["front"] = front.to_list()
    result["best"] = None
    if not len(front):
        result["selection"] = {"rule": config["search"]["selection"], "reason": "the search returned no formula"}
        result["verdict"] = {"kind": NOT_FOUND, "sentence": "No closed form found within the budget: the search "
                                                            "returned no formula."}
        return None
    kwargs = {} if config["search"]["selection_factor"] is None else {"factor": config["search"]["selection_factor"]}
    best = select(front, rule=config["search"]["selection"], **kwargs)
    result["selection"] = {"rule": config["search"]["selection"], **kwargs}
    linear = result.get("search", {}).get("info", {}).get("linear_concept")
    linear_entries = [e for e in front if e.expression == linear]
    if linear_entries:
        # degenerate: a constant direction explains the band as well as anything, so curvature
        # in a fancier formula would be invented
        best = linear_entries[0]
        result["selection"]["degenerate"] = ("a linear formula fits the held-out gradients within the "
                                             "auto backend's linear_factor of the best one; it is reported instead")
    result["best"] = best.to_dict()
    result["best_index"] = front.entries.index(best)
    result["statement"] = statement(best, spec)
    if spec.kind == "hidden":
        # a hidden unit is not a decision: judge its formula by gradient alignment alone
        ok = best.metrics["loss"] <= FAITHFUL_MAX_LOSS
        kind, sentence = (FAITHFUL if ok else NOT_FOUND), (
            f"{'Faithful closed form' if ok else 'No closed form found within the budget'}: held-out alignment "
            f"loss L = {best.metrics['loss']:.3g} (bound {FAITHFUL_MAX_LOSS}).")
    else:
        kind, sentence = verdict(best.metrics, front.entries)
    result["verdict"] = {"kind": kind, "sentence": sentence}
    if concept is not None:
        result["truth"] = compare_with_truth(best.expression, concept)
        result["truth"]["formula"] = concept.formula
    return best
