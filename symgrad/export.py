"""Formulas out: LaTeX, numpy and JAX callables, a standalone rule, and front tables."""

from __future__ import annotations

import csv
import json
import keyword
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from .errors import SymgradError
from .expressions import parse_formula, symbols_for
from .rundir import jsonable

_INDEXED_NAME = re.compile(r"^([A-Za-z]+)_?(\d+)$")
_LATEX_SPECIAL = {"\\": r"\backslash{}", "_": r"\_", "#": r"\#", "$": r"\$", "%": r"\%",
                  "&": r"\&", "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}", " ": r"\ "}
# Names the generated rule uses itself; features with these names get a private alias.
_RESERVED = {"math", "features", "kwargs", "values", "value", "name", "exc", "float", "abs",
             "max", "min", "dict", "KeyError", "ValueError", "ArithmeticError", "TypeError"}


def _as_expr(expr: sp.Expr | str, names: Sequence[str]) -> sp.Expr:
    return parse_formula(expr, names) if isinstance(expr, str) else sp.sympify(expr)


def latex_name(name: str) -> str:
    """Readable LaTeX for one feature name: ``x0`` -> ``x_{0}``, ``petal_length`` ->
    ``\\mathrm{petal\\_length}``, single letters and Greek names as they are."""
    match = _INDEXED_NAME.match(name)
    if match:
        stem, index = match.groups()
        stem_tex = sp.latex(sp.Symbol(stem)) if len(stem) == 1 or stem in _GREEK else rf"\mathrm{{{stem}}}"
        return f"{stem_tex}_{{{index}}}"
    if len(name) == 1 and name.isalpha():
        return name
    if name in _GREEK:
        return sp.latex(sp.Symbol(name))
    return r"\mathrm{" + "".join(_LATEX_SPECIAL.get(ch, ch) for ch in name) + "}"


_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
          "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
          "omega"}


def to_latex(expr: sp.Expr | str, feature_names: Sequence[str],
             latex_names: Mapping[str, str] | Sequence[str] | None = None) -> str:
    """LaTeX for a formula with the user's feature names rendered readably.

    Args:
        expr: sympy expression (or formula string) over ``feature_names``.
        feature_names: d input names.
        latex_names: optional LaTeX per feature, as a mapping name -> LaTeX or a sequence of d
            strings; features not given use :func:`latex_name`.

    Returns:
        The LaTeX string, without surrounding ``$``.
    """
    names = tuple(feature_names)
    expr = _as_expr(expr, names)
    if latex_names is None:
        custom: dict[str, str] = {}
    elif isinstance(latex_names, Mapping):
        unknown = sorted(set(latex_names) - set(names))
        if unknown:
            raise SymgradError(f"latex_names names unknown feature {unknown[0]!r}; features are {list(names)}")
        custom = dict(latex_names)
    else:
        latex_names = list(latex_names)
        if len(latex_names) != len(names):
            raise SymgradError(f"latex_names has {len(latex_names)} entries; expected {len(names)}, one per feature")
        custom = dict(zip(names, latex_names))
    symbol_names = {sym: custom.get(name, latex_name(name)) for name, sym in zip(names, symbols_for(names))}
    return sp.latex(expr, symbol_names=symbol_names)


def to_numpy(expr: sp.Expr | str, feature_names: Sequence[str]) -> Callable[[np.ndarray], np.ndarray]:
    """A numpy function ``f(X)`` mapping inputs (n, d) in raw units to formula values (n,).

    Invalid operations give NaN or inf (no warnings); they are not errors.
    """
    names = tuple(feature_names)
    expr = _as_expr(expr, names)
    fn = sp.lambdify(symbols_for(names), expr, modules="numpy")

    def formula(X: np.ndarray) -> np.ndarray:
        X = _check_inputs(np.asarray(X, dtype=np.float64), len(names))
        with np.errstate(all="ignore"):
            out = fn(*[X[:, i] for i in range(X.shape[1])])
        return np.broadcast_to(np.asarray(out, dtype=np.float64), (X.shape[0],)).copy()

    return formula


def to_jax(expr: sp.Expr | str, feature_names: Sequence[str]) -> Callable[[Any], Any]:
    """A jittable JAX function ``f(X)`` mapping inputs (n, d) to formula values (n,)."""
    import jax.numpy as jnp

    names = tuple(feature_names)
    expr = _as_expr(expr, names)
    fn = sp.lambdify(symbols_for(names), expr, modules="jax")

    def formula(X: Any) -> Any:
        X = jnp.asarray(X)
        _check_inputs(X, len(names))
        out = fn(*[X[:, i] for i in range(X.shape[1])])
        # A constant formula returns a scalar; keep the (n,) contract.
        return jnp.broadcast_to(jnp.asarray(out, dtype=X.dtype), (X.shape[0],))

    return formula


def rule_source(expr: sp.Expr | str, feature_names: Sequence[str], threshold: float, orientation: int,
                function_name: str = "classify", *, original_names: Mapping[str, str] | None = None,
                labels: tuple[Any, Any] | None = None) -> str:
    """Source of a standalone Python classifier ``class 1 iff orientation*g > orientation*threshold``.

    The generated function needs only the standard ``math`` module (no symgrad, no numpy). It
    takes one sample as a mapping ``{feature name: value}`` and/or keyword arguments (extra
    keys are ignored) and returns 0 or 1, or the user's labels. Where the formula is undefined
    (domain error, overflow, NaN) it raises ValueError instead of guessing a class.

    ``original_names`` maps formula names to the data's own column names (e.g. ``mean_radius``
    -> ``mean radius``); the rule then accepts either key. ``labels`` = (label of class 0,
    label of class 1) makes it return those instead of 0/1.

    Args:
        expr: sympy expression (or formula string) over ``feature_names``.
        feature_names: d input names (need not be Python identifiers).
        threshold: the decision threshold on g (see ``symgrad.judging.metrics.fit_threshold``).
        orientation: +1 (class 1 above the threshold) or -1 (class 1 below).
        function_name: name of the generated function, a Python identifier.

    Returns:
        Python source text defining ``function_name`` (and importing math).
    """
    names = tuple(feature_names)
    expr = _as_expr(expr, names)
    if orientation not in (1, -1):
        raise SymgradError(f"orientation {orientation!r} is not allowed; use +1 or -1")
    threshold = float(threshold)
    if not math.isfinite(threshold):
        raise SymgradError(f"threshold {threshold!r} is not a finite number")
    if not function_name.isidentifier() or keyword.iskeyword(function_name):
        raise SymgradError(f"function_name {function_name!r} is not a Python identifier")
    variables = []
    for i, name in enumerate(names):
        ok = name.isidentifier() and not keyword.iskeyword(name) and name not in _RESERVED \
            and name != function_name and not name.startswith("_")
        variables.append(name if ok else f"_x{i}")
    replaced = expr.xreplace({sym: sp.Symbol(var, real=True) for sym, var in zip(symbols_for(names), variables)})
    from sympy.printing.pycode import pycode

    try:
        body = pycode(replaced, fully_qualified_modules=True)
    except Exception as exc:  # sympy raises several types for unprintable functions
        raise SymgradError(f"formula {expr} uses a function plain Python cannot evaluate "
                           f"({type(exc).__name__})") from None
    if "numpy" in body or "scipy" in body or "Not supported" in body:
        raise SymgradError(f"formula {expr} uses a function the math module does not provide")
    compare = ">" if orientation == 1 else "<"
    negative, positive = (0, 1) if labels is None else tuple(labels)
    original_names = dict(original_names or {})
    lines = [
        "import math",
        "",
        "",
        f"def {function_name}(features=None, /, **kwargs):",
        f'    """Return {_docstring_safe(repr(positive))} if g {compare} {threshold!r}, else '
        f'{_docstring_safe(repr(negative))}, for one sample.',
        "",
        f"    g = {_docstring_safe(str(expr))}",
        "    Pass the features as a mapping, as keyword arguments, or both.",
        "    Generated by symgrad; needs only the standard library.",
        '    """',
        "    values = dict(features or {}, **kwargs)",
    ]
    for name, var in zip(names, variables):
        original = original_names.get(name)
        if original is not None and original != name:
            lines.append(f"    {var} = float(values[{original!r}] if {original!r} in values else values[{name!r}])")
        else:
            lines.append(f"    {var} = float(values[{name!r}])")
    lines += [
        "    try:",
        f"        value = {body}",
        "    except (ArithmeticError, ValueError) as exc:",
        "        raise ValueError(f'the formula is undefined at this sample ({exc})') from None",
        "    if not math.isfinite(value):",
        "        raise ValueError('the formula is not finite at this sample')",
        f"    return {positive!r} if value {compare} {threshold!r} else {negative!r}",
        "",
    ]
    return "\n".join(lines)


def front_to_json(front_entries: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write front entries (dicts: expression, complexity, loss, metrics, ...) as a JSON list.

    Non-finite floats become null so the file is strict JSON.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([jsonable(dict(e)) for e in front_entries], indent=2, allow_nan=False) + "\n")
    return path


def front_to_csv(front_entries: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write front entries as CSV, one row per formula.

    Top-level keys become columns in first-seen order, followed by the keys of each entry's
    ``metrics`` dict (prefixed ``metrics.`` only where a name clashes). Lists and dicts are
    written as JSON text, None as an empty cell.
    """
    path = Path(path)
    top: list[str] = []
    metric_keys: list[str] = []
    for entry in front_entries:
        for key in entry:
            if key != "metrics" and key not in top:
                top.append(key)
        for key in entry.get("metrics") or {}:
            if key not in metric_keys:
                metric_keys.append(key)
    metric_columns = {key: (f"metrics.{key}" if key in top else key) for key in metric_keys}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(top + list(metric_columns.values()))
        for entry in front_entries:
            metrics = entry.get("metrics") or {}
            row = [_cell(entry.get(key)) for key in top] + [_cell(metrics.get(key)) for key in metric_keys]
            writer.writerow(row)
    return path


def _docstring_safe(text: str) -> str:
    """Text that cannot end or escape the generated docstring."""
    return text.replace("\\", "\\\\").replace('"' * 3, "'" * 3)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(jsonable(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _check_inputs(X: Any, d: int) -> Any:
    if X.ndim != 2 or X.shape[1] != d:
        raise SymgradError(f"inputs have shape {tuple(X.shape)}; expected (n, {d}), one column per feature")
    return X
