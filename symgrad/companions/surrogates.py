"""Surrogates fitted to the network's own labels: a depth-limited decision tree and a logistic regression.

Both are trained on the network's predictions (not the true labels), so that their agreement
with the network on held-out points measures how well they describe the network. scikit-learn
is an optional dependency (``pip install -e ".[companions]"``), imported here only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import SymgradError
from ..judging.metrics import auc_score


@dataclass(frozen=True)
class SurrogateResult:
    """One companion's description of the network and how faithful it is.

    Attributes:
        method: short name ("decision tree", "logistic regression", ...).
        agreement: fraction of held-out points where it gives the network's label.
        auc: AUC of its score against the network's labels (None without a score).
        nodes: size as nodes of an expression tree (tree: splits + leaves; formulas: symgrad's
            node count), comparable across methods.
        size: size in the method's own units, as text ("7 leaves, depth 3").
        rule: the human-readable output, in the user's column names.
        details: method-specific numbers for ``result.json``.
    """

    method: str
    agreement: float
    auc: float | None
    nodes: int
    size: str
    rule: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "agreement": self.agreement, "auc": self.auc, "nodes": self.nodes,
                "size": self.size, "rule": self.rule, "details": self.details}


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise SymgradError("the surrogate companions need scikit-learn; install it with "
                           "pip install -e \".[companions]\" or leave them out of the companions key") from None
    import sklearn.linear_model
    import sklearn.tree

    return sklearn


def _check(x: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int32).ravel()
    if x.ndim != 2 or x.shape[0] != labels.shape[0] or x.shape[0] == 0:
        raise SymgradError(f"{what}: inputs of shape {x.shape} and {labels.shape[0]} labels do not match; "
                           "give (n, d) inputs and n network labels")
    return x, labels


def fit_tree(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
             x_test: np.ndarray, y_test: np.ndarray, feature_names: Sequence[str], *, max_depth: int = 8,
             max_leaves: int | None = 64, seed: int = 0, method: str = "decision tree") -> SurrogateResult:
    """A decision tree on the network's labels; its depth is the one with the best validation agreement.

    Depths 1..``max_depth`` are tried (each with at most ``max_leaves`` leaves); the shallowest
    depth within 0.2 percentage points of the best validation agreement is kept, so that extra
    depth has to buy agreement.

    Args:
        x_train, y_train: (n, d) raw inputs and (n,) network labels to fit on.
        x_val, y_val: points and network labels that choose the depth.
        x_test, y_test: held-out points and network labels that score the tree.
        feature_names: d column names used in the printed rule.
        max_depth: deepest tree tried; max_leaves: leaf limit (None for none).
        seed: the tree's random_state.

    Returns:
        The tree's ``SurrogateResult`` (its rule is scikit-learn's ``export_text``).
    """
    sklearn = _sklearn()
    x_train, y_train = _check(x_train, y_train, "tree training points")
    x_val, y_val = _check(x_val, y_val, "tree validation points")
    x_test, y_test = _check(x_test, y_test, "tree test points")
    if max_depth < 1 or (max_leaves is not None and max_leaves < 2):
        raise SymgradError(f"tree max_depth={max_depth} and max_leaves={max_leaves} must be >= 1 and >= 2")
    trees, scores = [], []
    for depth in range(1, max_depth + 1):
        tree = sklearn.tree.DecisionTreeClassifier(max_depth=depth, max_leaf_nodes=max_leaves, random_state=seed)
        tree.fit(x_train, y_train)
        trees.append(tree)
        scores.append(float(np.mean(tree.predict(x_val) == y_val)))
        if tree.get_depth() < depth:  # the tree stopped growing: deeper ones are the same tree
            break
    best = max(scores)
    chosen = next(i for i, s in enumerate(scores) if s >= best - 0.002)
    tree = trees[chosen]
    return _tree_result(sklearn, tree, x_test, y_test, feature_names, method,
                        {"validation_agreement": scores, "chosen_depth": chosen + 1, "max_leaves": max_leaves})


def fit_tree_of_size(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     feature_names: Sequence[str], nodes: int, *, seed: int = 0) -> SurrogateResult:
    """The best-first tree with at most ``nodes`` nodes (splits + leaves): a tree as small as a formula."""
    sklearn = _sklearn()
    x_train, y_train = _check(x_train, y_train, "tree training points")
    x_test, y_test = _check(x_test, y_test, "tree test points")
    leaves = max(2, (int(nodes) + 1) // 2)  # a binary tree with L leaves has 2L - 1 nodes
    tree = sklearn.tree.DecisionTreeClassifier(max_leaf_nodes=leaves, random_state=seed).fit(x_train, y_train)
    return _tree_result(sklearn, tree, x_test, y_test, feature_names, f"decision tree (<= {2 * leaves - 1} nodes)",
                        {"max_leaves": leaves})


def _tree_result(sklearn, tree, x_test, y_test, feature_names, method, details) -> SurrogateResult:
    names = [str(n) for n in feature_names]
    predicted = tree.predict(x_test)
    proba = tree.predict_proba(x_test)
    score = proba[:, list(tree.classes_).index(1)] if 1 in tree.classes_ else np.zeros(len(x_test))
    leaves, depth = int(tree.get_n_leaves()), int(tree.get_depth())
    rule = sklearn.tree.export_text(tree, feature_names=names, decimals=3)
    return SurrogateResult(method, float(np.mean(predicted == y_test)), auc_score(score, y_test),
                           int(tree.tree_.node_count), f"{leaves} leaves, depth {depth}", rule.rstrip(),
                           {**details, "leaves": leaves, "depth": depth})


def fit_logistic(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 feature_names: Sequence[str], *, seed: int = 0) -> SurrogateResult:
    """A logistic regression on the raw inputs, fitted to the network's labels.

    Inputs are standardised for fitting (so the default L2 penalty treats them alike) and the
    coefficients are reported back in raw units: class 1 where w·x + b > 0.
    """
    sklearn = _sklearn()
    x_train, y_train = _check(x_train, y_train, "logistic training points")
    x_test, y_test = _check(x_test, y_test, "logistic test points")
    if np.unique(y_train).shape[0] < 2:
        raise SymgradError("the network gives one label to every training point; a logistic surrogate needs both")
    mean, scale = x_train.mean(axis=0), x_train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = sklearn.linear_model.LogisticRegression(max_iter=2000, random_state=seed)
    model.fit((x_train - mean) / scale, y_train)
    weights = model.coef_[0] / scale
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / scale))
    score = x_test @ weights + bias
    from .collapse import linear_nodes, linear_text

    names = [str(n) for n in feature_names]
    rule = f"class 1 where {linear_text(weights, bias, names, significant=3)} > 0"
    return SurrogateResult("logistic regression", float(np.mean((score > 0).astype(np.int32) == y_test)),
                           auc_score(score, y_test), linear_nodes(weights, bias, significant=3),
                           f"{len(weights) + 1} parameters", rule,
                           {"weights": [float(w) for w in weights], "bias": bias})



def _l1() -> dict[str, Any]:
    """The L1 penalty as this scikit-learn spells it (1.8 moved it from ``penalty`` to ``l1_ratio``)."""
    import sklearn

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    return {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}


# the sizes the size paths try: best-first trees of 2..64 leaves, L1 logistic regressions over
# a grid of penalties (from one input to all of them)
PATH_LEAVES = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
PATH_PENALTIES = tuple(float(c) for c in np.logspace(-3, 2, 16))


def size_paths(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
               seed: int = 0) -> dict[str, list[list[float]]]:
    """Agreement with the network against size for the usual surrogates, to set beside the front.

    Args:
        x_train, y_train: (n, d) raw inputs and (n,) network labels to fit on.
        x_test, y_test: held-out points and network labels that score each fit.
        seed: random_state of every fit.

    Returns:
        {"tree": [[nodes, agreement], ...], "logistic_l1": [[nodes, agreement], ...]}: best-first
        trees of ``PATH_LEAVES`` leaves, and L1-penalised logistic regressions (standardised
        inputs) over ``PATH_PENALTIES``, sizes counted as expression-tree nodes like formulas.
    """
    from .collapse import linear_nodes

    sklearn = _sklearn()
    x_train, y_train = _check(x_train, y_train, "path training points")
    x_test, y_test = _check(x_test, y_test, "path test points")
    trees = []
    for leaves in PATH_LEAVES:
        tree = sklearn.tree.DecisionTreeClassifier(max_leaf_nodes=leaves, random_state=seed).fit(x_train, y_train)
        trees.append([int(tree.tree_.node_count), float(np.mean(tree.predict(x_test) == y_test))])
        if tree.get_n_leaves() < leaves:  # the tree stopped growing: larger ones are the same tree
            break
    logistic = []
    if np.unique(y_train).shape[0] == 2:
        mean, scale = x_train.mean(axis=0), x_train.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        for penalty in PATH_PENALTIES:
            model = sklearn.linear_model.LogisticRegression(C=penalty, solver="liblinear", max_iter=2000,
                                                            random_state=seed, **_l1())
            model.fit((x_train - mean) / scale, y_train)
            weights = model.coef_[0] / scale
            if not np.any(weights):
                continue
            bias = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / scale))
            predicted = (x_test @ weights + bias > 0).astype(np.int32)
            logistic.append([int(linear_nodes(weights, bias, significant=3)), float(np.mean(predicted == y_test))])
    return {"tree": trees, "logistic_l1": logistic}
