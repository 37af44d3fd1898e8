"""The term library: unary functions of each input and pairwise products, their input
gradients, and the memory they take."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp

from ...expressions import symbols_for

FAMILIES = ("linear", "square", "cube", "sin", "cos", "exp", "log", "inverse", "product")
# exp(x) beyond this spans > 1e21 across the data: useless as a term and risks overflow.
_MAX_EXP_ARGUMENT = 50.0


@dataclass(frozen=True)
class Term:
    """One library function of the (screened) inputs.

    Attributes:
        family: one of ``FAMILIES``.
        inputs: column indices into the screened inputs (two for "product").
        expression: the term as a sympy expression over the original feature names.
    """

    family: str
    inputs: tuple[int, ...]
    expression: sp.Expr



def library_bytes(n: int, d: int, include: Sequence[str] = FAMILIES) -> int:
    """Peak memory of the library fit, in bytes, for n points and d inputs.

    The dense term gradients (n, d, m) dominate, then A and B (m, m) and the projections (n, m),
    with m <= 8 d + d (d - 1) / 2 terms (every unary family, pairwise products).
    """
    unary = sum(f in include for f in FAMILIES if f != "product")
    m = unary * d + (d * (d - 1) // 2 if "product" in include else 0)
    return 8 * (3 * n * d * m + 2 * m * m + 2 * n * m)  # three (n, d, m) arrays live at the peak


def build_library(x: np.ndarray, x_holdout: np.ndarray, feature_names: Sequence[str],
                  include: Sequence[str] = FAMILIES) -> list[Term]:
    """The term library over the given inputs.

    Args:
        x: (n, d) search points; x_holdout: (m, d) held-out points. log and 1/x are added only
            for inputs strictly positive on both, exp only where its argument stays below 50.
        feature_names: the d names (the formula symbols).
        include: families to use.

    Returns:
        Terms in a fixed order: per input the unary families, then the pairwise products.
    """
    symbols = symbols_for(feature_names)
    both = np.concatenate([x, x_holdout], axis=0)
    terms: list[Term] = []
    unary = {
        "linear": lambda s: s, "square": lambda s: s**2, "cube": lambda s: s**3, "sin": sp.sin,
        "cos": sp.cos, "exp": sp.exp, "log": sp.log, "inverse": lambda s: 1 / s,
    }
    for i, symbol in enumerate(symbols):
        positive = bool(np.all(both[:, i] > 0))
        for family, make in unary.items():
            if family not in include:
                continue
            if family in ("log", "inverse") and not positive:
                continue
            if family == "exp" and np.max(both[:, i]) > _MAX_EXP_ARGUMENT:
                continue
            terms.append(Term(family, (i,), make(symbol)))
    if "product" in include:
        for i, j in itertools.combinations(range(len(symbols)), 2):
            terms.append(Term("product", (i, j), symbols[i] * symbols[j]))
    return terms


def term_gradients(terms: Sequence[Term], x: np.ndarray) -> np.ndarray:
    """Input gradients of every term at every point.

    Args:
        terms: m library terms.
        x: (n, d) points.

    Returns:
        (n, d, m) array; column j holds grad phi_j.
    """
    n, d = x.shape
    out = np.zeros((n, d, len(terms)))
    with np.errstate(all="ignore"):
        for j, term in enumerate(terms):
            i = term.inputs[0]
            v = x[:, i]
            if term.family == "product":
                out[:, i, j] = x[:, term.inputs[1]]
                out[:, term.inputs[1], j] = v
                continue
            out[:, i, j] = {
                "linear": lambda: np.ones(n), "square": lambda: 2 * v, "cube": lambda: 3 * v**2,
                "sin": lambda: np.cos(v), "cos": lambda: -np.sin(v), "exp": lambda: np.exp(v),
                "log": lambda: 1 / v, "inverse": lambda: -1 / v**2,
            }[term.family]()
    return out


def scaled_gradients(terms: Sequence[Term], x: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Term gradients in spread units (rows times ``spread`` (d,)) with each column scaled to
    unit root-mean-square norm, and the column scales.

    The column scaling equalises terms such as exp(x) and x (conditioning of B) and makes the
    ridge relative; coefficients are divided by the scales again afterwards.
    """
    gradients = term_gradients(terms, x) * spread[None, :, None]
    gradients[~np.isfinite(gradients)] = 0.0
    scales = np.sqrt(np.mean(np.sum(gradients**2, axis=1), axis=0))
    scales = np.where(scales > 0, scales, 1.0)
    return gradients / scales, scales

