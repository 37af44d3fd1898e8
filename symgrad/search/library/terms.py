"""The term library: unary functions of each input, pairwise products and (for a few inputs)
products times the cosine of a third input, their input gradients, and the memory they take."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp

from ...expressions import symbols_for

FAMILIES = ("linear", "square", "cube", "sin", "cos", "exp", "log", "inverse", "product", "product_cos")
# exp(x) beyond this spans > 1e21 across the data: useless as a term and risks overflow.
_MAX_EXP_ARGUMENT = 50.0
# x_i x_j cos(x_k) terms (the law of cosines' 2ab cos C) number d (d - 1) (d - 2) / 2: 3 at three
# inputs, 12 at four, where they would push the default 4-term search past 100 000 supports and
# off the exhaustive search (the four-input cases of tests/test_library.py); so three inputs
# only, which is what screening leaves for such a law.
PRODUCT_COS_MAX_INPUTS = 3


@dataclass(frozen=True)
class Term:
    """One library function of the (screened) inputs.

    Attributes:
        family: one of ``FAMILIES``.
        inputs: column indices into the screened inputs (two for "product", three (i, j, k) for
            "product_cos": x_i x_j cos(x_k)).
        expression: the term as a sympy expression over the original feature names.
    """

    family: str
    inputs: tuple[int, ...]
    expression: sp.Expr



def library_bytes(n: int, d: int, include: Sequence[str] = FAMILIES) -> int:
    """Peak memory of the library fit, in bytes, for n points and d inputs.

    The dense term gradients (n, d, m) dominate, then A and B (m, m) and the projections (n, m),
    with m <= 8 d + d (d - 1) / 2 terms (every unary family, pairwise products), plus
    d (d - 1) (d - 2) / 2 product-cosine terms when d <= ``PRODUCT_COS_MAX_INPUTS``.
    """
    unary = sum(f in include for f in FAMILIES if f not in ("product", "product_cos"))
    m = unary * d + (d * (d - 1) // 2 if "product" in include else 0)
    if "product_cos" in include and 3 <= d <= PRODUCT_COS_MAX_INPUTS:
        m += d * (d - 1) * (d - 2) // 2
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
        Terms in a fixed order: per input the unary families, then the pairwise products, then
        the product-cosine terms (three to ``PRODUCT_COS_MAX_INPUTS`` inputs only).
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
    if "product_cos" in include and 3 <= len(symbols) <= PRODUCT_COS_MAX_INPUTS:
        for i, j in itertools.combinations(range(len(symbols)), 2):
            for k in range(len(symbols)):
                if k not in (i, j):
                    terms.append(Term("product_cos", (i, j, k), symbols[i] * symbols[j] * sp.cos(symbols[k])))
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
            if term.family == "product_cos":
                other, angle = x[:, term.inputs[1]], x[:, term.inputs[2]]
                out[:, i, j] = other * np.cos(angle)
                out[:, term.inputs[1], j] = v * np.cos(angle)
                out[:, term.inputs[2], j] = -v * other * np.sin(angle)
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

