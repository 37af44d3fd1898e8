"""Run the companions on the same network, points and labels as symgrad's formula.

Every companion is fitted to the network's labels on the training split, tuned (where it has a
knob) on the validation split, and scored against the network's labels on the test split: the
same points on which the formula's threshold rule gets its ``boundary_agreement``.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ..errors import SymgradError

COMPANIONS = ("tree", "logistic", "sensitivity", "prelu")
N_NEAR = 200  # boundary points each input is moved around
PRELU_HIDDEN = (5, 5, 5, 5)
PRELU_STEPS = 30_000  # 12 000 left 14 of 20 PReLUs nonlinear on concept B, 30 000 left 4
# On 0/1 labels a piecewise-linear fit keeps an error floor at the boundary's ramp, so the
# force starts at a mean squared error of 10^-1.5 (about 3%) instead of the worked example's 1%.
PRELU_FORCE_OFFSET = 1.5


def companion_names(setting: bool | Sequence[str]) -> tuple[str, ...]:
    """The companions a config's ``companions`` value asks for (false: none, true: all)."""
    if setting is False or setting is None:
        return ()
    if setting is True:
        return COMPANIONS
    if isinstance(setting, (list, tuple)) and all(isinstance(s, str) for s in setting):
        unknown = [s for s in setting if s not in COMPANIONS]
        if unknown:
            raise SymgradError(f"companions names {unknown}, which are not companions; allowed: {list(COMPANIONS)}")
        return tuple(s for s in COMPANIONS if s in setting)
    raise SymgradError(f"companions is {setting!r}; allowed: false, true or a list of {list(COMPANIONS)}")


def run_companions(setting: bool | Sequence[str], evidence, train_x: np.ndarray, *, best=None,
                   seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit and score the requested companions.

    Args:
        setting: the config's ``companions`` value.
        evidence: the ``symgrad.judging.assess.Evidence`` the formula was judged on.
        train_x: (n, d) training inputs (raw units) the companions are fitted on.
        best: the chosen formula's entry (its complexity sizes the equal-size tree), or None.
        seed: seeds every companion.

    Returns:
        (the ``companions`` section of ``result.json``, report figures by name).
    """
    names = companion_names(setting)
    y_train = evidence.network_labels(train_x)
    x_test = evidence.test.x
    rows: list[dict[str, Any]] = []
    section: dict[str, Any] = {"methods": list(names), "n_train": int(len(train_x)), "n_test": int(len(x_test)),
                               "seconds": {}}
    figures: dict[str, Any] = {}
    for name in names:
        t0 = time.perf_counter()
        try:
            _run_one(name, evidence, train_x, y_train, best, seed, rows, section, figures)
        except SymgradError as exc:
            # a companion that cannot run (a missing extra, one-sided labels) must not sink the run
            section.setdefault("errors", {})[name] = str(exc)
            rows.append({"method": name, "agreement": None, "auc": None, "nodes": None, "size": None,
                         "rule": f"not available: {exc}", "details": {}})
        section["seconds"][name] = time.perf_counter() - t0
    # agreement against size for the surrogates that ran (the report sets it beside the front's)
    fitted = {"tree": "tree", "logistic": "logistic_l1"}
    wanted = [fitted[n] for n in names if n in fitted and n not in section.get("errors", {})]
    if wanted:
        from .surrogates import size_paths

        t0 = time.perf_counter()
        try:
            paths = size_paths(train_x, y_train, x_test, evidence.test_labels, seed=seed)
            section["paths"] = {k: v for k, v in paths.items() if k in wanted}
        except SymgradError as exc:
            section.setdefault("errors", {})["paths"] = str(exc)
        section["seconds"]["paths"] = time.perf_counter() - t0
    section["rows"] = rows
    return section, figures


def _run_one(name, evidence, train_x, y_train, best, seed, rows, section, figures) -> None:
    """Fit one companion; its rows, summary and figures go into ``rows``, ``section`` and ``figures``."""
    features = list(evidence.feature_names)
    x_val, y_val = evidence.validation.x, evidence.validation_labels
    x_test, y_test = evidence.test.x, evidence.test_labels
    if name == "tree":
        from .surrogates import fit_tree, fit_tree_of_size

        rows.append(fit_tree(train_x, y_train, x_val, y_val, x_test, y_test, features, seed=seed).to_dict())
        if best is not None:
            rows.append(fit_tree_of_size(train_x, y_train, x_test, y_test, features, best.complexity,
                                         seed=seed).to_dict())
    elif name == "logistic":
        from .surrogates import fit_logistic

        rows.append(fit_logistic(train_x, y_train, x_test, y_test, features, seed=seed).to_dict())
    elif name == "sensitivity":
        row, section["sensitivity"], figs = _sensitivity(evidence, train_x, x_val, y_val, x_test, y_test, seed)
        rows.append(row)
        figures.update(figs)
    elif name == "prelu":
        row, section["prelu"] = _prelu(train_x, y_train, x_test, y_test, features, seed)
        rows.append(row)


def _sensitivity(evidence, train_x, x_val, y_val, x_test, y_test, seed):
    from ..neurons import neuron_values
    from .sensitivity import additive_fidelity, dependence_plot, perturbation_plot, sensitivity

    holdout = evidence.holdout
    near = holdout.x[np.argsort(holdout.margin, kind="stable")[:N_NEAR]]
    spec, classifier = evidence.spec, evidence.classifier
    # the screening's units: gradient components times each input's spread
    directions = holdout.directions * (1.0 if evidence.scale is None else evidence.scale)
    result = sensitivity(lambda x: neuron_values(classifier, spec, x), evidence.network_labels, directions,
                         near, train_x, evidence.feature_names, seed=seed)
    fidelity = additive_fidelity(result, x_val, y_val, x_test, y_test)
    d, g = result.grid.shape  # each curve is read as a table of g (input value, neuron value) pairs
    ranked = ", ".join(f"{s['input']} ({s['relevance']:.2f})" for s in result.summary())
    row = {"method": "partial dependence, read additively", "agreement": fidelity["agreement"],
           "auc": fidelity["auc"], "nodes": int(2 * d * g), "size": f"{d} curves of {g} points",
           "rule": f"class 1 where the sum of the {d} curves {'>' if fidelity['orientation'] > 0 else '<'} "
                   f"{fidelity['threshold']:.4g}; inputs by relevance: {ranked}",
           "details": {"threshold": fidelity["threshold"], "orientation": fidelity["orientation"]}}
    summary = {"inputs": result.summary(), "fractions": [float(f) for f in result.fractions],
               "n_near": int(len(near))}
    what = spec.describe()
    figures = {"Sensitivity: perturbation curves": perturbation_plot(result, neuron_name=what),
               "Sensitivity: partial dependence": dependence_plot(result, neuron_name=what)}
    return row, summary, figures


def _prelu(train_x, y_train, x_test, y_test, features, seed):
    from ..judging.metrics import auc_score
    from .collapse import collapse
    from .prelu import train_prelu

    network = train_prelu(train_x, y_train, feature_names=features, output_names=("score",), hidden=PRELU_HIDDEN,
                          steps=PRELU_STEPS, batch_size=256, force_offset=PRELU_FORCE_OFFSET, seed=seed)
    rules = collapse(network, train_x)
    score = network.outputs(x_test, collapsed=True)[:, 0]
    text = rules.text(max_regions=8)
    row = {"method": "PReLU network collapsed into linear rules", "agreement":
           float(np.mean((score > 0.5).astype(np.int32) == y_test)), "auc": auc_score(score, y_test),
           "nodes": rules.node_count(),
           "size": f"{len(rules.nonlinear)} nonlinear PReLUs of {rules.n_units}, {len(rules.regions)} regions",
           "rule": "class 1 where score > 0.5; " + text, "details": {}}
    summary = {"nonlinear": [list(u) for u in rules.nonlinear], "n_units": rules.n_units,
               "n_regions": len(rules.regions), "hidden": list(PRELU_HIDDEN), "steps": PRELU_STEPS,
               "final_error": network.history["error"][-1], "rules": rules.text(max_regions=64)}
    return row, summary
