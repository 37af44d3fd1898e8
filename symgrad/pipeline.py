"""The pipeline: data -> train (or load) -> neuron gradients -> search -> assessment -> run directory."""

from __future__ import annotations

import time
from dataclasses import replace
from types import SimpleNamespace
from pathlib import Path
from typing import Any

import numpy as np

from . import config as config_mod
from .judging.assess import Evidence
from .judging.judge import judge_front
from .judging.law import law_form_choice, law_statement
from .data.concepts import CONCEPTS, Concept, custom_concept, make_concept_dataset
from .data.datasets import keep_classes, load_shipped
from .data.tables import Dataset, Split, load_csv, split_dataset, without_constant
from .errors import SymgradError
from .network.model import Classifier
from .neurons import NeuronSpec, neuron_values, target_class
from .sampling import gradient_arrays, gradient_samples
from .result import Artifacts, Result, load_run, write_outputs
from . import record as record_mod
from .record import versions
from .rundir import RESULT_FILE, prepare_run_dir, write_json
from .search import make_backend
from .search.base import Front, SearchProblem, SearchResult
from .network.train import TrainReport, accuracy, train_classifier
from .judging.truth import compare_with_truth

from .progress import Progress, stderr_line as _stderr, steps


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
    if data["dataset"] is not None:
        dataset = load_shipped(data["dataset"], label=data["label"], features=data["features"])
    elif data["path"] is not None:
        dataset = load_csv(data["path"], label=data["label"], features=data["features"])
    else:
        raise SymgradError("no data given; set data.concept, data.formula, data.path or data.dataset (points are "
                           "needed for gradients)")
    if data["classes"] is not None:
        dataset = keep_classes(dataset, [str(c) for c in data["classes"]])
    return dataset, None


def data_source(config: dict[str, Any]) -> dict[str, str | None]:
    """Where the data came from, as the report names it: ``source`` (the CSV file's name, the
    shipped data set or the concept) and ``label`` (the label column, if any)."""
    data = config["data"]
    if data["concept"] is not None:
        source = f"concept {data['concept']}"
    elif data["formula"] is not None:
        source = f"concept {data['formula']}"
    elif data["dataset"] is not None:
        source = str(data["dataset"])
    else:
        source = Path(str(data["path"])).name
    return {"source": source, "label": data["label"]}


def neuron_spec(config: dict[str, Any]) -> NeuronSpec:
    """The neuron named by ``config['neuron']``."""
    return NeuronSpec.from_config(config["neuron"])


def search_backend(config: dict[str, Any], renamed: dict[str, str] | None = None) -> tuple[Any, dict[str, Any]]:
    """The search backend ``config['search']`` describes and the options it was given; a missing
    optional engine or a bad option raises SymgradError here, before any work. ``data.units``
    goes to the auto backend (in feature names: ``renamed`` maps CSV headers to them)."""
    options = dict(config["search"]["options"])
    engine_options = dict(options)
    if feature_units(config, renamed) and config["search"]["backend"] == "auto":
        engine_options["units"] = feature_units(config, renamed)
    backend = make_backend(config["search"]["backend"], engine_options, screen=config["search"]["screen"],
                           force_inputs=config["search"]["force_inputs"])
    return backend, options


def feature_units(config: dict[str, Any], renamed: dict[str, str] | None = None) -> dict[str, str]:
    """``data.units`` keyed by feature (formula) names; empty when no units are given."""
    units = config["data"].get("units") or {}
    return {(renamed or {}).get(str(column), str(column)): unit for column, unit in units.items()}


def network_data(dataset: Dataset, split: Split, classifier: Classifier | None) -> tuple[Dataset, Split]:
    """The data as the network reads it: without the columns constant on the training rows
    (``without_constant``) for a network symgrad trains (``classifier`` None) or trained (here, in
    a batch or an earlier run, so it lacks them); unchanged for a network that has every column."""
    if classifier is None or classifier.feature_names != dataset.feature_names:
        return without_constant(dataset, split)
    return dataset, split


def check_model(classifier: Classifier, dataset: Dataset, spec: NeuronSpec) -> None:
    """Refuse a saved model that does not fit the data or lacks the neuron."""
    classifier.check_matches(dataset.feature_names, dataset.n_classes)
    spec.validate(classifier)


def train_model(config: dict[str, Any], split: Split, *, progress: Progress | None = None,
                ) -> tuple[Classifier, TrainReport]:
    """Train the network ``config['model']`` and ``config['train']`` describe on ``split``."""
    dataset = split.train
    progress = progress or (lambda _m: None)
    progress(f"training a {config['model']['hidden']} {config['model']['activation']} MLP on "
             f"{len(dataset.y)} points ({dataset.n_features} inputs, {dataset.n_classes} classes)")
    return train_classifier(
        split.train, split.validation, hidden=config["model"]["hidden"],
        activation=config["model"]["activation"], epochs=config["train"]["epochs"],
        batch_size=config["train"]["batch_size"], learning_rate=config["train"]["learning_rate"],
        weight_decay=config["train"]["weight_decay"], patience=config["train"]["patience"],
        seed=config["seed"], progress=progress)


def run_search(backend: Any, problem: SearchProblem, *, seed: int, progress: Progress) -> SearchResult:
    """The backend's ``SearchResult`` (front, information, interrupted); Ctrl-C keeps what was found."""
    try:
        with steps(progress, None, "searching"):
            return backend.search(problem, seed=seed, progress=progress)
    except KeyboardInterrupt:
        # backends return their best-so-far front themselves; reaching here means none existed
        return SearchResult(Front(), interrupted=True)


def neuron_record(classifier: Classifier, spec: NeuronSpec) -> record_mod.Neuron:
    """The neuron as recorded: the spec, whether it decides, and the class (id and the user's
    label) it decides for."""
    target = target_class(classifier.n_classes, spec)
    names = classifier.class_names

    def label(k: int) -> str | None:
        # built-in concepts label their classes "0"/"1": no name beyond the id
        return names[k] if k < len(names) and names[k] != str(k) else None

    return record_mod.Neuron.from_dict({**spec.to_dict(), "decides": spec.kind != "hidden", "target_class": target,
                                        "target_label": label(target),
                                        **({"other_label": label(0)} if classifier.n_classes == 2 else {})})


def interpret(config: dict[str, Any], *, out: str | Path | None = None, model_path: str | Path | None = None,
              overwrite: bool | None = None, progress: Progress | None = _stderr,
              config_name: str = "run", classifier: Classifier | None = None,
              train_report: TrainReport | None = None) -> Result:
    """Run the whole pipeline for a validated config and write its run directory.

    Stages (each callable on its own, e.g. to interpret many neurons of one trained network):
    ``load_data`` -> ``split_dataset`` -> ``train_model`` (or ``Classifier.load``) ->
    ``interpret_neuron`` (``gradient_samples`` -> ``run_search`` -> assessment -> files).

    Args:
        config: a validated configuration (``symgrad.config.load_config``).
        out: explicit run directory (see ``symgrad.rundir.prepare_run_dir``); default
            ``output.dir/<name>`` with a fresh numbered name if taken.
        model_path: a saved ``model.npz`` to interpret instead of training.
        progress: receives one-line progress messages (None for silence).
        classifier: an already loaded or trained network to interpret instead (batches train
            each network once); ``train_report`` is its training record, shown in the report.

    Returns:
        The result, read back from the run directory written.
    """
    say = progress if (progress is not None and config["progress"]) else (lambda _m: None)
    overwrite = config["output"]["overwrite"] if overwrite is None else overwrite
    model_path = model_path or config["model"]["path"]
    backend, options = search_backend(config)

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    dataset, concept = load_data(config)
    split = split_dataset(dataset, fractions=config["data"]["split"], seed=config["seed"])
    timings["data"] = time.perf_counter() - t0
    if dataset.left_out:
        say(f"left out the row-index column(s) {list(dataset.left_out)} (they number the rows); list the features "
            "in data.features to use them")
    if config["data"].get("units"):
        from .search.dimensions import parse_units

        parse_units(config["data"]["units"], dataset.feature_names, dataset.renamed)  # unknown columns stop here
        if config["search"]["backend"] != "auto":
            say(f"data.units is used by the auto backend only; the {config['search']['backend']} backend ignores it")
    if dataset.renamed:
        say("columns renamed to safe formula names: " + ", ".join(f"{a!r} -> {b!r}" for a, b in dataset.renamed.items()))
        force = config["search"]["force_inputs"]
        if force and any(name in dataset.renamed for name in force):
            # search.force_inputs names the CSV's columns; the search knows their safe names
            config = {**config, "search": {**config["search"],
                                           "force_inputs": [dataset.renamed.get(name, name) for name in force]}}
        backend, options = search_backend(config, dataset.renamed)

    # load the model before creating the directory so that a bad path leaves nothing behind
    if classifier is None:
        classifier = Classifier.load(model_path) if model_path else None
    dataset, split = network_data(dataset, split, classifier)
    if dataset.constant:
        say(f"left out the column(s) {list(dataset.constant)}: they take one value on the training rows, so "
            "neither the network nor a formula can use them")
    spec = neuron_spec(config)
    if classifier is not None:
        check_model(classifier, dataset, spec)
    else:
        # check the neuron against the network to be trained before spending time on training
        spec.validate(SimpleNamespace(n_classes=dataset.n_classes, hidden_sizes=tuple(config["model"]["hidden"])))

    # written into a hidden sibling and moved into place only when complete: an earlier run
    # there stays intact if this one fails
    run_folder = prepare_run_dir(out if out is not None else config["output"]["dir"], config["output"]["name"],
                                 stem=config_name, overwrite=overwrite, explicit=out is not None)
    say(f"run directory: {run_folder.target}")
    try:
        run_dir = run_folder.path
        (run_dir / "config.yaml").write_text(config_mod.dump(config))
        write_json(run_dir / RESULT_FILE, _record_start(config, dataset, timings).to_dict())
        if classifier is None:
            t0 = time.perf_counter()
            classifier, train_report = train_model(config, split, progress=say)
            timings["train"] = time.perf_counter() - t0
            spec.validate(classifier)
        interpret_neuron(config, classifier, spec, dataset, split, run_dir, concept=concept,
                         train_report=train_report, backend=(backend, options), timings=timings, progress=say)
    except BaseException as error:
        error.run_dir = run_folder.fail(error)  # where the failed run (and its error.log) lies
        raise
    announced = run_folder.target
    run_dir = run_folder.commit()
    if run_dir != announced:
        say(f"{announced} was taken by another run meanwhile; this run is in {run_dir}")
    say(f"report: {run_dir / 'report.html'}")
    return load_run(run_dir)


def interpret_neuron(config: dict[str, Any], classifier: Classifier, spec: NeuronSpec, dataset: Dataset,
                     split: Split, run_dir: Path, *, concept: Concept | None = None,
                     train_report: TrainReport | None = None, backend: tuple[Any, dict] | None = None,
                     timings: dict[str, float] | None = None, progress: Progress = lambda _m: None) -> Result:
    """Gradients -> search -> assessment -> run directory, for one neuron of a trained network.

    Args:
        config: the validated configuration (its ``gradients``, ``search`` and ``seed`` are used).
        classifier, spec: the network and the neuron to interpret.
        dataset, split: the data the network was trained on, and its train/validation/test split.
        run_dir: an existing folder to write the run's files into (``interpret`` gives the hidden
            folder of ``symgrad.rundir.prepare_run_dir``, published when complete).
        concept: the known concept, for built-in data (adds ``truth`` to the result).
        train_report: the training's report, if symgrad trained the network.
        backend: (engine, options) from ``search_backend``; built from the config if None.
        timings: seconds of earlier stages, extended here.

    Returns:
        The result (its ``path`` is ``run_dir``).
    """
    say = progress
    seed = config["seed"]
    timings = dict(timings or {})
    engine, options = backend if backend is not None else search_backend(config)
    if not (run_dir / "config.yaml").exists():
        (run_dir / "config.yaml").write_text(config_mod.dump(config))
    record = _record_start(config, dataset, timings)
    classifier.check_finite(split.train.x, trained=train_report is not None)
    classifier.save(run_dir / "model.npz")
    test_accuracy = accuracy(classifier, split.test)
    say(f"test accuracy: {test_accuracy:.4f}")
    if classifier.activation == "relu":
        say("warning: ReLU networks have piecewise-constant gradients; expect noisier formulas (elu or silu recommended)")

    def save(changed: record_mod.Record) -> record_mod.Record:
        changed = replace(changed, timings=dict(timings))
        write_json(run_dir / RESULT_FILE, changed.to_dict())
        return changed

    t0 = time.perf_counter()
    search_sample, holdout_sample = gradient_samples(classifier, spec, split, config)
    if "focused" in search_sample.counts:
        say(f"search gradients: {search_sample.counts['focused']}")
    timings["gradients"] = time.perf_counter() - t0
    for label, sample in (("search", search_sample), ("held-out", holdout_sample)):
        c = sample.counts
        say(f"{label} gradients: {c['kept']} of {c['offered']} points kept "
            f"({c['outside_band']} outside the band, {c['zero_gradient']} with zero gradient)")
    # gradients are compared in units of each input's spread (docs/method.md, "Units")
    problem = SearchProblem(search_sample.x, search_sample.directions, holdout_sample.x, holdout_sample.directions,
                            dataset.feature_names, oriented=config["search"]["oriented"],
                            margin=search_sample.margin, values=search_sample.values,
                            # the sparse path reads the network's two sides on every training row
                            sides_x=split.train.x, sides_values=neuron_values(classifier, spec, split.train.x),
                            ).in_spread_units(np.std(split.train.x, axis=0))
    arrays = gradient_arrays(search_sample, holdout_sample, split.test.x, problem.scale)
    np.savez(run_dir / "gradients.npz", **arrays)
    record = save(replace(
        record, status="searching", neuron=neuron_record(classifier, spec),
        data=_data_record(config, dataset, split),
        model=record_mod.Model(hidden=tuple(classifier.hidden_sizes), activation=classifier.activation,
                               test_accuracy=test_accuracy, training=train_report.to_dict() if train_report else None),
        gradients=record_mod.Gradients(band=config["gradients"]["band"], search=search_sample.counts,
                                       holdout=holdout_sample.counts)))

    say(f"searching with the {config['search']['backend']} backend ...")
    t0 = time.perf_counter()
    found = run_search(engine, problem, seed=seed, progress=say)
    front, interrupted = found.front, found.interrupted
    timings["search"] = time.perf_counter() - t0
    # saved before assessment so that nothing found is lost
    record = save(replace(record, search=record_mod.Search(backend=config["search"]["backend"], options=options,
                                                           info=found.info, interrupted=interrupted),
                          front=tuple(record_mod.Formula.from_dict(e.to_dict()) for e in front)))

    t0 = time.perf_counter()
    evidence = Evidence(classifier, spec, holdout_sample, split.validation, split.test, scale=problem.scale,
                        training=split.train.x)
    front, best, floor, conclusion = judge_front(front, problem, evidence, neuron=record.neuron,
                                                 search_info=found.info, rule=config["search"]["selection"],
                                                 factor=config["search"]["selection_factor"])
    best, conclusion = law_form_choice(front, best, floor, conclusion, neuron=record.neuron,
                                       features=dataset.feature_names, evidence=evidence)
    conclusion = law_statement(conclusion, evidence, neuron=record.neuron,
                               units=feature_units(config, dataset.renamed))
    record = replace(record, floor=floor).with_conclusion(conclusion)
    if concept is not None and best is not None:
        record = replace(record, truth=record_mod.Truth.from_dict(
            {**compare_with_truth(best.expression, concept), "formula": concept.formula}))
    timings["assessment"] = time.perf_counter() - t0
    companion_figures = {}
    if config["companions"]:
        from .companions import run_companions

        say("fitting the companions (surrogates, sensitivity, PReLU rules) ...")
        t0 = time.perf_counter()
        companions, companion_figures = run_companions(config["companions"], evidence, split.train.x, best=best,
                                                       seed=seed)
        record = replace(record, companions=companions)
        timings["companions"] = time.perf_counter() - t0
    record = save(replace(record, status="interrupted" if interrupted else "finished"))

    t0 = time.perf_counter()
    result = Result.from_record(record, path=run_dir, artifacts=Artifacts(classifier, arrays))
    write_outputs(run_dir, result, extra_figures=companion_figures)
    timings["report"] = time.perf_counter() - t0
    save(record)
    return result


def _record_start(config: dict[str, Any], dataset: Dataset, timings: dict[str, float]) -> record_mod.Record:
    return record_mod.Record(seed=config["seed"], features=tuple(dataset.feature_names), status="started",
                             versions=versions(), timings=dict(timings))


def _data_record(config: dict[str, Any], dataset: Dataset, split: Split) -> record_mod.Data:
    return record_mod.Data(
        n_rows=int(len(dataset.y)), n_features=dataset.n_features, n_classes=dataset.n_classes,
        class_names=tuple(dataset.class_names), split=(len(split.train.y), len(split.validation.y), len(split.test.y)),
        truth=dataset.truth, threshold=dataset.threshold, renamed=dict(dataset.renamed),
        left_out=tuple(dataset.left_out), **data_source(config),
        extra={"constant": list(dataset.constant)} if dataset.constant else {})
