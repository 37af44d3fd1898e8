"""Safe parsing of formula strings, their complexity, and their input gradients."""

from __future__ import annotations

import ast
import functools
import re
import unicodedata
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from .errors import SymgradError

# Functions a formula may call; parse_expr evaluates text, so nothing else gets through.
ALLOWED_FUNCTIONS: dict[str, object] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log,
    "sqrt": sp.sqrt, "Abs": sp.Abs, "abs": sp.Abs, "tanh": sp.tanh, "sinh": sp.sinh,
    "cosh": sp.cosh, "atan": sp.atan, "asin": sp.asin, "acos": sp.acos,
    "square": lambda a: a**2, "cube": lambda a: a**3,
}
ALLOWED_CONSTANTS: dict[str, object] = {"pi": sp.pi, "E": sp.E}

# names the formula parser itself emits (sympy's number transformations)
_PARSER_NAMES = ("Integer", "Float", "Symbol", "Rational")

_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd,
)


@functools.lru_cache(maxsize=1)
def reserved_names() -> frozenset[str]:
    """Names a feature may not have: Python keywords and built-ins, every public sympy name
    (functions and constants such as pi, E, I, S, N, O, Q, exp, sin, gamma), the names the
    formula parser and the exported code use. A feature with such a name would change a
    formula's meaning when its string is read back by sympy or run as code."""
    import builtins
    import keyword

    names = set(keyword.kwlist) | set(getattr(keyword, "softkwlist", ())) | set(dir(builtins))
    names |= {n for n in dir(sp) if not n.startswith("_")}
    names |= set(ALLOWED_FUNCTIONS) | set(ALLOWED_CONSTANTS) | set(_PARSER_NAMES)
    names |= {"math", "np", "numpy", "jnp", "jax"}
    return frozenset(names)


def formula_names(columns: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Safe formula names for column headers, in column order, and what was renamed.

    Each header becomes a Python identifier (other characters become ``_``, a leading digit
    gets ``x_``, Unicode is NFKC-normalised as Python does); a reserved name
    (``reserved_names``) gets a trailing ``_`` (``pi`` -> ``pi_``, ``lambda`` -> ``lambda_``);
    a name already taken by an earlier column gets ``_2``, ``_3``, ...

    Returns:
        (names, renamed): d names; {original header: name} for every header that changed.
    """
    reserved = reserved_names()
    names: list[str] = []
    renamed: dict[str, str] = {}
    for column in columns:
        text = re.sub(r"\W+", "_", unicodedata.normalize("NFKC", str(column)).strip()).strip("_") or "x"
        if text[0].isdigit():
            text = f"x_{text}"
        while text in reserved:
            text += "_"
        name, counter = text, 2
        while name in names or name in reserved:
            name, counter = f"{text}_{counter}", counter + 1
        names.append(name)
        if name != column:
            renamed[str(column)] = name
    return tuple(names), renamed


def symbols_for(feature_names: Sequence[str]) -> tuple[sp.Symbol, ...]:
    """Real sympy symbols named after the features, in input order."""
    return tuple(sp.Symbol(name, real=True) for name in feature_names)


def parse_formula(text: str, feature_names: Sequence[str]) -> sp.Expr:
    """Parse ``text`` into a sympy expression over ``feature_names`` without running code.

    Only numbers, the feature names, ``pi``, ``E``, arithmetic (+ - * / **, also ``^``) and
    the functions in ``ALLOWED_FUNCTIONS`` are accepted.

    Raises:
        SymgradError: the text is not such a formula (names the offending part).
    """
    if not isinstance(text, str) or not text.strip():
        raise SymgradError(f"formula {text!r} is empty; give an expression in the features {list(feature_names)}")
    source = text.replace("^", "**")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise SymgradError(f"formula {text!r} does not parse; use + - * / ** and functions such as exp, log, sin") from None
    names = set(feature_names)
    clashes = sorted(names & (set(ALLOWED_FUNCTIONS) | set(ALLOWED_CONSTANTS) | set(_PARSER_NAMES)))
    if clashes:
        raise SymgradError(f"the feature names {clashes} are names of formula functions or constants, so formulas "
                           "in them cannot be read unambiguously; rename them (symgrad.expressions.formula_names "
                           "gives safe names)")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise SymgradError(f"formula {text!r} contains {type(node).__name__}, which is not allowed in a formula")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in ALLOWED_FUNCTIONS or node.keywords:
                raise SymgradError(f"formula {text!r} calls something other than {sorted(ALLOWED_FUNCTIONS)}")
        elif isinstance(node, ast.Name):
            if node.id not in names and node.id not in ALLOWED_FUNCTIONS and node.id not in ALLOWED_CONSTANTS:
                raise SymgradError(f"formula {text!r} uses unknown name {node.id!r}; allowed names are the features {sorted(names)}")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise SymgradError(f"formula {text!r} contains the literal {node.value!r}; only numbers are allowed")
    local = {name: sym for name, sym in zip(feature_names, symbols_for(feature_names))}
    local.update(ALLOWED_FUNCTIONS)
    for name, value in ALLOWED_CONSTANTS.items():
        local.setdefault(name, value)
    from sympy.parsing.sympy_parser import parse_expr, standard_transformations

    try:
        expr = parse_expr(source, local_dict=local, global_dict={"Integer": sp.Integer, "Float": sp.Float,
                                                                  "Symbol": sp.Symbol, "Rational": sp.Rational},
                          transformations=standard_transformations, evaluate=True)
    except Exception as exc:  # sympy raises many types for malformed input
        raise SymgradError(f"formula {text!r} could not be read by sympy ({type(exc).__name__})") from None
    return sp.sympify(expr)


def complexity(expr: sp.Expr) -> int:
    """Number of nodes of the expression tree, counting n-ary + and * as n-1 binary nodes."""
    if expr.is_Atom:
        return 1
    if isinstance(expr, sp.Mul) and expr.args[0] == -1:  # a leading minus sign is one node
        rest = sp.Mul(*expr.args[1:], evaluate=False) if len(expr.args) > 2 else expr.args[1]
        return 1 + complexity(rest)
    children = sum(complexity(arg) for arg in expr.args)
    if isinstance(expr, (sp.Add, sp.Mul)):
        return children + len(expr.args) - 1
    return 1 + children


def gradient_function(expr: sp.Expr, feature_names: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``grad(x)`` mapping inputs ``(n, d)`` to the formula's input gradients ``(n, d)``.

    Non-finite values are returned as they are; the loss treats them as fully misaligned.
    """
    syms = symbols_for(feature_names)
    partials = [sp.diff(expr, s) for s in syms]
    funcs = [sp.lambdify(syms, p, modules="numpy") for p in partials]

    def grad(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        cols = [x[:, i] for i in range(x.shape[1])]
        out = np.empty_like(x)
        with np.errstate(all="ignore"):
            for i, f in enumerate(funcs):
                out[:, i] = np.broadcast_to(np.asarray(f(*cols), dtype=np.float64), (x.shape[0],))
        return out

    return grad


def value_function(expr: sp.Expr, feature_names: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``g(x)`` mapping inputs ``(n, d)`` to formula values ``(n,)``."""
    syms = symbols_for(feature_names)
    f = sp.lambdify(syms, expr, modules="numpy")

    def value(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(f(*[x[:, i] for i in range(x.shape[1])]), dtype=np.float64),
                                   (x.shape[0],)).copy()

    return value
