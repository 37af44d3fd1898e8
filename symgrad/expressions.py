"""Safe parsing of formula strings, their complexity, and their input gradients."""

from __future__ import annotations

import ast
import functools
import math
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

# bounds that keep parsing fast: sympy evaluates constant arithmetic exactly
MAX_FORMULA_LENGTH = 10_000
# a safe formula name is cut to this length: a 31-node formula over 5000-character column names
# would exceed MAX_FORMULA_LENGTH, and a report cannot show such a name anyway
MAX_NAME_LENGTH = 48
MAX_LOG10 = 300
MAX_EXPONENT = 1000

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
    a name already taken by an earlier column gets ``_2``, ``_3``, ...; a name longer than
    ``MAX_NAME_LENGTH`` characters is cut to that length first.

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
        text = text[:MAX_NAME_LENGTH].rstrip("_")
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


def _shown(text: str) -> str:
    """A formula as quoted in a message: long ones are cut."""
    return text if len(text) <= 80 else text[:77] + "..."


def parse_formula(text: str, feature_names: Sequence[str]) -> sp.Expr:
    """Parse ``text`` into a sympy expression over ``feature_names`` without running code.

    Only numbers, the feature names, ``pi``, ``E``, arithmetic (+ - * / **, also ``^``) and
    the functions in ``ALLOWED_FUNCTIONS`` are accepted.

    Raises:
        SymgradError: the text is not such a formula (names the offending part).
    """
    if not isinstance(text, str) or not text.strip():
        raise SymgradError(f"formula {_shown(text)!r} is empty; give an expression in the features {list(feature_names)}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise SymgradError(f"formula of {len(text)} characters is too long; at most {MAX_FORMULA_LENGTH} are allowed")
    source = text.replace("^", "**")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise SymgradError(f"formula {_shown(text)!r} does not parse; use + - * / ** and functions such as exp, log, sin") from None
    names = set(feature_names)
    clashes = sorted(names & (set(ALLOWED_FUNCTIONS) | set(ALLOWED_CONSTANTS) | set(_PARSER_NAMES)))
    if clashes:
        raise SymgradError(f"the feature names {clashes} are names of formula functions or constants, so formulas "
                           "in them cannot be read unambiguously; rename them (symgrad.expressions.formula_names "
                           "gives safe names)")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise SymgradError(f"formula {_shown(text)!r} contains {type(node).__name__}, which is not allowed in a formula")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in ALLOWED_FUNCTIONS or node.keywords:
                raise SymgradError(f"formula {_shown(text)!r} calls something other than {sorted(ALLOWED_FUNCTIONS)}")
        elif isinstance(node, ast.Name):
            if node.id not in names and node.id not in ALLOWED_FUNCTIONS and node.id not in ALLOWED_CONSTANTS:
                raise SymgradError(f"formula {_shown(text)!r} uses unknown name {node.id!r}; allowed names are the features {sorted(names)}")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise SymgradError(f"formula {_shown(text)!r} contains the literal {node.value!r}; only numbers are allowed")
    _check_numbers(tree.body, text)
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
        raise SymgradError(f"formula {_shown(text)!r} could not be read by sympy ({type(exc).__name__})") from None
    expr = sp.sympify(expr)
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise SymgradError(f"formula {_shown(text)!r} is undefined (it divides by zero or is infinite); give a finite formula")
    return expr


def _check_numbers(node: ast.AST, text: str) -> float | None:
    """The value of a constant subtree (None if it involves a name or a call), after checking
    that no number in it is too large: sympy computes constant powers exactly, so 9**99999999
    would never finish. Raises SymgradError for a number beyond 1e300 or a division by zero."""
    def too_big(what: str) -> SymgradError:
        return SymgradError(f"formula {_shown(text)!r} contains {what}, beyond the numbers a formula may hold "
                            f"(magnitudes up to 1e{MAX_LOG10})")

    if isinstance(node, ast.Constant):
        try:
            value = float(node.value)
        except OverflowError:
            raise too_big(f"the number {str(node.value)[:20]}...") from None
        if abs(value) > 10.0**MAX_LOG10:
            raise too_big(f"the number {node.value!r}")
        return value
    if isinstance(node, ast.UnaryOp):
        value = _check_numbers(node.operand, text)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp):
        left, right = _check_numbers(node.left, text), _check_numbers(node.right, text)
        if isinstance(node.op, ast.Div) and right == 0:
            raise SymgradError(f"formula {_shown(text)!r} divides by zero; give a finite formula")
        if isinstance(node.op, ast.Pow) and right is not None:
            if left == 0 and right < 0:
                raise SymgradError(f"formula {_shown(text)!r} divides by zero (0 to a negative power); give a finite formula")
            if left is not None and abs(left) not in (0.0, 1.0) and abs(right) * math.log10(abs(left)) > MAX_LOG10:
                raise too_big(f"the power {ast.unparse(node)}")
            if left is None and abs(right) > MAX_EXPONENT:
                raise too_big(f"the exponent {ast.unparse(node.right)}")
        if left is None or right is None:
            return None
        try:
            value = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                     ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: float(abs(a) ** b)}[type(node.op)](left, right)
        except (OverflowError, ZeroDivisionError):
            raise too_big(f"the value of {ast.unparse(node)}") from None
        if not math.isfinite(value) or abs(value) > 10.0**MAX_LOG10:
            raise too_big(f"the value of {ast.unparse(node)}")
        return value
    if isinstance(node, ast.Call):
        for arg in node.args:
            _check_numbers(arg, text)
    return None


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

    Non-finite values are returned as they are, and a formula that is undefined (zoo, nan)
    or overflows Python's numbers gives NaN: the loss treats them as fully misaligned.
    """
    syms = symbols_for(feature_names)
    undefined = _undefined(expr)
    # only the inputs the formula uses: the other partials are 0, and compiling d partials over
    # d arguments each costs minutes at d = 200
    used = [i for i, s in enumerate(syms) if s in expr.free_symbols]
    args = [syms[i] for i in used]
    funcs = [(i, _lambdify(args, sp.diff(expr, syms[i]))) for i in used]

    def grad(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if undefined:
            return np.full_like(x, np.nan)
        cols = [x[:, i] for i in used]
        out = np.zeros_like(x)
        with np.errstate(all="ignore"):
            for i, f in funcs:
                out[:, i] = _evaluate(f, cols, x.shape[0])
        return out

    return grad


def value_function(expr: sp.Expr, feature_names: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    """Return ``g(x)`` mapping inputs ``(n, d)`` to formula values ``(n,)`` (NaN where undefined)."""
    syms = symbols_for(feature_names)
    undefined = _undefined(expr)
    f = _lambdify(syms, expr)

    def value(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if undefined:
            return np.full(x.shape[0], np.nan)
        with np.errstate(all="ignore"):
            return _evaluate(f, [x[:, i] for i in range(x.shape[1])], x.shape[0])

    return value


def _evaluate(f: Callable, columns: list[np.ndarray], n: int) -> np.ndarray:
    # huge exact integers (10**400 * x) overflow when they meet floats: no value, not a crash
    try:
        return np.broadcast_to(np.asarray(f(*columns), dtype=np.float64), (n,)).copy()
    except (OverflowError, ZeroDivisionError, TypeError, ValueError):
        return np.full(n, np.nan)


def _lambdify(symbols: Sequence[sp.Symbol], expr: sp.Expr) -> Callable:
    """A NumPy function of ``expr``; a formula NumPy cannot express is one SymgradError."""
    if _undefined(expr):
        return lambda *columns: np.nan
    try:
        return sp.lambdify(symbols, expr, modules="numpy")
    except Exception as exc:  # sympy's printers raise several types
        raise SymgradError(f"formula {_shown(str(expr))} cannot be evaluated numerically ({type(exc).__name__})") from None


def _undefined(expr: sp.Expr) -> bool:
    return bool(sp.sympify(expr).has(sp.zoo, sp.oo, -sp.oo, sp.nan))
