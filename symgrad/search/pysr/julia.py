"""The Julia side of the optional PySR backend: the objective as Julia source, and where a Julia
executable is. Nothing here imports or starts Julia."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ...errors import SymgradError


def julia_loss_source(n_features: int, oriented: bool = False) -> str:
    """Julia text of the PySR ``loss_function``: the alignment loss of a tree's input gradient.

    The data matrix X (features x rows) holds the d inputs in rows 1..d and the unit target
    directions N in rows d+1..2d. Per row k, with G_k the tree's gradient over the inputs,
    the loss is 1 - |cos(G_k, N_k)| (``oriented``: 1 - cos); a zero or non-finite |G_k| counts
    as fully misaligned (cos = 0). A tree that reads a target row, or whose value or gradient
    is not finite somewhere (``complete`` false), is invalid: L(Inf). Any monotone transform of
    a formula scores the same in the sign-invariant form.

    Args:
        n_features: d, the number of inputs.
        oriented: score orientation too.

    Returns:
        Source of one function taking exactly (tree, dataset, options), as PySR 2.x requires.
    """
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise SymgradError(f"n_features={n_features!r} must be a positive integer")
    d = n_features
    kind = "oriented" if oriented else "signed"
    per_row = "one(L) - c" if oriented else "one(L) - abs(c)"
    return f"""\
function symgrad_alignment_loss_{d}_{kind}(tree, dataset::SymbolicRegression.Dataset{{T,L}}, options)::L where {{T,L}}
    # symgrad gradient alignment: d = {d} inputs in rows 1:{d} of X, unit targets in rows {d + 1}:{2 * d}
    d = {d}
    # a formula may read only the inputs; the target rows are data, not variables
    if any(node -> node.degree == 0 && !node.constant && node.feature > d, tree)
        return L(Inf)
    end
    # batched datasets hold a view; the gradient evaluator wants a dense Matrix
    X = dataset.X isa Matrix ? dataset.X : Matrix(dataset.X)
    _, gradient, complete = SymbolicRegression.eval_grad_tree_array(tree, X, options; variable=true)
    if !complete
        return L(Inf)
    end
    total = zero(L)
    for k in axes(X, 2)
        inner = zero(L)
        squared = zero(L)
        for i in 1:d
            g = L(gradient[i, k])
            inner += g * L(X[d + i, k])
            squared += g * g
        end
        grad_norm = sqrt(squared)
        c = inner / grad_norm
        # zero or non-finite gradient: fully misaligned (cos = 0), never NaN in the mean
        if !(isfinite(grad_norm) && grad_norm > zero(L) && isfinite(c))
            c = zero(L)
        end
        c = clamp(c, -one(L), one(L))
        total += {per_row}
    end
    return total / L(size(X, 2))
end
"""


def _juliapkg_projects() -> list[Path]:
    # where pyjuliapkg keeps its Julia environment (mirrors juliapkg's own lookup order)
    projects: list[Path] = []
    if os.environ.get("PYTHON_JULIAPKG_PROJECT"):
        projects.append(Path(os.environ["PYTHON_JULIAPKG_PROJECT"]))
    if sys.prefix != sys.base_prefix:
        projects.append(Path(sys.prefix) / "julia_env")
    if os.environ.get("CONDA_PREFIX"):
        projects.append(Path(os.environ["CONDA_PREFIX"]) / "julia_env")
    depot = os.environ.get("JULIA_DEPOT_PATH", "").split(os.pathsep)[0] or str(Path.home() / ".julia")
    projects.append(Path(depot) / "environments" / "pyjuliapkg")
    return projects


def find_julia() -> str | None:
    """Path of a Julia executable that PySR would use, or None; cheap, starts nothing.

    Looks at PYTHON_JULIAPKG_EXE, ``julia`` and ``juliaup`` on PATH, ~/.juliaup, and the
    executable recorded in (or installed into) pyjuliapkg's environment.
    """
    override = os.environ.get("PYTHON_JULIAPKG_EXE")
    if override:
        return override if Path(override).is_file() else None
    for name in ("julia", "juliaup"):
        found = shutil.which(name)
        if found:
            return found
    juliaup = Path.home() / ".juliaup" / "bin" / "julia"
    if juliaup.is_file():
        return str(juliaup)
    for project in _juliapkg_projects():
        meta = project / "pyjuliapkg" / "meta.json"
        try:
            executable = json.loads(meta.read_text()).get("executable")
        except (OSError, ValueError, AttributeError):
            executable = None
        if isinstance(executable, str) and Path(executable).is_file():
            return executable
        installed = project / "pyjuliapkg" / "install" / "bin" / "julia"
        if installed.is_file():
            return str(installed)
    return None
