"""Physical dimensions of the input columns: a small SI unit parser, the dimension of a formula,
and the dimensionless groups (Buckingham pi) of a set of inputs.

A unit is written as a product of powers of unit names, e.g. ``kg``, ``m/s**2``, ``kg*m^-3``,
``Pa*s``, ``L/min``, ``1`` or ``dimensionless``. Only the dimension matters (a column in mm and
one in m both have the dimension of a length); the user's unit text is kept for display.
Dimensions are vectors of exponents over the base dimensions ``BASE`` (the seven SI bases and
``currency``, so that money ratios such as debt / income are dimensionless too).
"""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from typing import Mapping, Sequence

import numpy as np
import sympy as sp

from ..errors import SymgradError

BASE = ("kg", "m", "s", "K", "A", "mol", "cd", "currency")

# name -> exponents over BASE
_NAMED: dict[str, tuple[int, ...]] = {
    "kg": (1, 0, 0, 0, 0, 0, 0, 0), "g": (1, 0, 0, 0, 0, 0, 0, 0), "m": (0, 1, 0, 0, 0, 0, 0, 0),
    "s": (0, 0, 1, 0, 0, 0, 0, 0), "K": (0, 0, 0, 1, 0, 0, 0, 0), "A": (0, 0, 0, 0, 1, 0, 0, 0),
    "mol": (0, 0, 0, 0, 0, 1, 0, 0), "cd": (0, 0, 0, 0, 0, 0, 1, 0), "currency": (0, 0, 0, 0, 0, 0, 0, 1),
    "N": (1, 1, -2, 0, 0, 0, 0, 0), "J": (1, 2, -2, 0, 0, 0, 0, 0), "W": (1, 2, -3, 0, 0, 0, 0, 0),
    "Pa": (1, -1, -2, 0, 0, 0, 0, 0), "Hz": (0, 0, -1, 0, 0, 0, 0, 0), "V": (1, 2, -3, 0, -1, 0, 0, 0),
    "C": (0, 0, 1, 0, 1, 0, 0, 0), "ohm": (1, 2, -3, 0, -2, 0, 0, 0), "L": (0, 3, 0, 0, 0, 0, 0, 0),
    "rad": (0,) * 8, "sr": (0,) * 8, "deg": (0,) * 8, "percent": (0,) * 8,
}
# names taking no SI prefix (a prefix would make them ambiguous or they are not SI)
_UNPREFIXED: dict[str, tuple[int, ...]] = {
    "min": (0, 0, 1, 0, 0, 0, 0, 0), "h": (0, 0, 1, 0, 0, 0, 0, 0), "day": (0, 0, 1, 0, 0, 0, 0, 0),
    "year": (0, 0, 1, 0, 0, 0, 0, 0), "yr": (0, 0, 1, 0, 0, 0, 0, 0), "bar": (1, -1, -2, 0, 0, 0, 0, 0),
    "atm": (1, -1, -2, 0, 0, 0, 0, 0), "mmHg": (1, -1, -2, 0, 0, 0, 0, 0), "USD": (0,) * 7 + (1,),
    "EUR": (0,) * 7 + (1,), "GBP": (0,) * 7 + (1,), "dimensionless": (0,) * 8, "1": (0,) * 8,
}
_PREFIXES = {"da": 1, "G": 9, "M": 6, "k": 3, "h": 2, "d": -1, "c": -2, "m": -3, "u": -6, "µ": -6, "n": -9, "p": -12}
# log10 of the SI value of one unit (1 where not listed); currencies have no fixed rate (nan)
_LOG_SCALE = {"g": -3.0, "L": -3.0, "deg": float(np.log10(np.pi / 180)), "percent": -2.0, "min": float(np.log10(60)),
              "h": float(np.log10(3600)), "day": float(np.log10(86400)), "year": float(np.log10(3.15576e7)),
              "yr": float(np.log10(3.15576e7)), "bar": 5.0, "atm": float(np.log10(101325)),
              "mmHg": float(np.log10(133.322)), "USD": float("nan"), "EUR": float("nan"), "GBP": float("nan")}
ALLOWED = ("SI bases kg, m, s, K, A, mol, cd; derived N, J, W, Pa, Hz, V, C, ohm, L; rad, deg, percent; "
           "min, h, day, year, bar, atm, mmHg; currency (USD, EUR, GBP); SI prefixes (mm, ms, kPa, ...); "
           "dimensionless or 1; products and powers such as m/s**2 or kg*m^-3")
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-zµ]+)|(?P<number>\d+(?:\.\d+)?)|(?P<op>\*\*|\^|[*/()])|(?P<minus>-))")


def unit_dimension(name: str) -> tuple[int, ...] | None:
    """Exponents over ``BASE`` of one unit name (``mm``, ``kPa``, ``year``); None if unknown."""
    found = _unit(name)
    return None if found is None else found[0]


def _unit(name: str) -> tuple[tuple[int, ...], float] | None:
    """(exponents over ``BASE``, log10 of its SI value) of one unit name; None if unknown."""
    if name in _UNPREFIXED:
        return _UNPREFIXED[name], _LOG_SCALE.get(name, 0.0)
    if name in _NAMED:
        return _NAMED[name], _LOG_SCALE.get(name, 0.0)
    for prefix, power in _PREFIXES.items():
        rest = name[len(prefix):]
        if name.startswith(prefix) and rest in _NAMED and rest != "kg":
            return _NAMED[rest], power + _LOG_SCALE.get(rest, 0.0)
    return None


def parse_unit(text: str | int | float, column: str = "?") -> np.ndarray:
    """The dimension of a unit expression as exponents over ``BASE``.

    ``unit_scale`` gives its SI value (1 mm = 0.001 m).

    Args:
        text: e.g. ``"kg/m**2"``, ``"Pa*s"``, ``"m^-1"``, ``"1"``.
        column: the column it belongs to, for the error message.

    Returns:
        (len(BASE),) float exponents (fractional powers such as ``m**0.5`` are allowed).

    Raises:
        SymgradError: an unknown unit name or a malformed expression, naming the column.
    """
    def bad(why: str) -> SymgradError:
        return SymgradError(f"data.units gives column {column!r} the unit {text!r}, which {why}; use {ALLOWED}")

    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise bad("is not text")
    if isinstance(text, (int, float)):
        if text != 1:
            raise bad("is a number other than 1")
        return np.zeros(len(BASE))
    return _parse(text, column)[:-1]


def unit_scale(text: str | int | float) -> float:
    """The SI value of one ``text`` (``mm``: 0.001, ``L/min``: 1.67e-5); nan for currencies."""
    if not isinstance(text, str):
        return 1.0
    return float(10.0 ** _parse(text, "?")[-1])


def _parse(text: str, column: str) -> np.ndarray:
    """(len(BASE) + 1,) exponents over ``BASE`` and, last, log10 of the unit's SI value."""
    def bad(why: str) -> SymgradError:
        return SymgradError(f"data.units gives column {column!r} the unit {text!r}, which {why}; use {ALLOWED}")

    source = text.strip()
    if not source:
        raise bad("is empty")
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            raise bad(f"has an unexpected character at {source[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    index = 0

    def peek() -> tuple[str, str] | None:
        return tokens[index] if index < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal index
        if index >= len(tokens):
            raise bad("ends too early")
        index += 1
        return tokens[index - 1]

    def exponent(grouped: bool = False) -> float:
        sign = 1.0
        if peek() == ("op", "("):
            take()
            value = exponent(grouped=True)
            if peek() != ("op", ")"):
                raise bad("has an unclosed parenthesis")
            take()
            return value
        if peek() is not None and peek()[0] == "minus":
            take()
            sign = -1.0
        kind, value = take()
        if kind != "number":
            raise bad(f"has {value!r} where a power was expected")
        if grouped and peek() == ("op", "/"):  # a fractional power such as m**(1/2)
            take()
            kind, denominator = take()
            if kind != "number" or float(denominator) == 0:
                raise bad("has a malformed fractional power")
            return sign * float(value) / float(denominator)
        return sign * float(value)

    def factor() -> np.ndarray:
        kind, value = take()
        if kind == "op" and value == "(":
            inner = product()
            if peek() != ("op", ")"):
                raise bad("has an unclosed parenthesis")
            take()
            base = inner
        elif kind == "name":
            found = _unit(value)
            if found is None:
                raise bad(f"names the unknown unit {value!r}")
            base = np.array([*found[0], found[1]], dtype=np.float64)
        elif kind == "number" and float(value) == 1:
            base = np.zeros(len(BASE) + 1)
        else:
            raise bad(f"has {value!r} where a unit was expected")
        if peek() in (("op", "**"), ("op", "^")):
            take()
            base = base * exponent()
        return base

    def product() -> np.ndarray:
        total = factor()
        while peek() in (("op", "*"), ("op", "/")):
            _, op = take()
            total = total + factor() if op == "*" else total - factor()
        return total

    result = product()
    if index != len(tokens):
        raise bad(f"has {tokens[index][1]!r} left over")
    return result


def parse_units(units: Mapping[str, str], features: Sequence[str], renamed: Mapping[str, str] | None = None
                ) -> dict[str, np.ndarray]:
    """Each named column's dimension, keyed by its feature (formula) name.

    Args:
        units: {column: unit text} as in ``data.units`` (the CSV's column names).
        features: the feature names of the data.
        renamed: {CSV header: feature name} for columns renamed to safe formula names.

    Raises:
        SymgradError: a column that is not a feature, or a unit that cannot be read.
    """
    renamed = dict(renamed or {})
    out: dict[str, np.ndarray] = {}
    for column, text in units.items():
        name = renamed.get(column, column)
        if name not in features:
            raise SymgradError(f"data.units names the column {column!r}, which is not a feature; features are "
                               f"{list(features)}")
        out[name] = parse_unit(text, column)
    return out


def format_dimension(exponents: Sequence[float]) -> str:
    """Exponents over ``BASE`` as a unit text, e.g. ``kg/m**2``; ``1`` when dimensionless."""
    up, down = [], []
    for name, value in zip(BASE, exponents):
        power = Fraction(float(value)).limit_denominator(6)
        if power == 0:
            continue
        magnitude = abs(power)
        text = name if magnitude == 1 else f"{name}**{magnitude}" if magnitude.denominator == 1 \
            else f"{name}**({magnitude})"
        (up if power > 0 else down).append(text)
    if not up and not down:
        return "1"
    numerator = "*".join(up) or "1"
    if not down:
        return numerator
    return f"{numerator}/{down[0]}" if len(down) == 1 else f"{numerator}/({'*'.join(down)})"


def expression_dimension(expr: sp.Expr, dims: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """The dimension of ``expr`` when it is dimensionally consistent, else None.

    Numbers are dimensionless; the terms of a sum must share one dimension (a numeric coefficient
    carries none); the arguments of exp, log, sin, ... must be dimensionless; powers multiply the
    dimension. A column without a unit makes every formula using it unjudgeable (None).
    """
    size = len(BASE)

    def walk(node: sp.Expr) -> np.ndarray | None:
        if node.is_Number or node.is_NumberSymbol:
            return np.zeros(size)
        if node.is_Symbol:
            value = dims.get(str(node))
            return None if value is None else np.asarray(value, dtype=np.float64)
        if node.is_Add:
            parts = [walk(a) for a in node.args if a.free_symbols]
            if any(p is None for p in parts):
                return None
            # an additive constant (a threshold) is left out: it can carry the sum's unit
            if any(not np.allclose(p, parts[0]) for p in parts[1:]):
                return None
            return parts[0] if parts else np.zeros(size)
        if node.is_Mul:
            total = np.zeros(size)
            for arg in node.args:
                part = walk(arg)
                if part is None:
                    return None
                total = total + part
            return total
        if node.is_Pow:
            base, power = node.as_base_exp()
            if power.free_symbols:
                return None
            part = walk(base)
            return None if part is None else part * float(power)
        if isinstance(node, sp.Abs):
            return walk(node.args[0])
        # transcendental functions take and return pure numbers
        for arg in node.args:
            part = walk(arg)
            if part is None or not np.allclose(part, 0):
                return None
        return np.zeros(size)

    return walk(sp.sympify(expr))


def pi_groups(dims: Sequence[np.ndarray], *, max_power: int = 3) -> list[np.ndarray]:
    """Integer exponent vectors v with sum_i v_i dims_i = 0 (Buckingham's dimensionless groups).

    A basis of the rational null space of the dimension matrix, each vector scaled to coprime
    integers with a positive first non-zero entry; then the small integer combinations of two
    basis vectors (entries up to ``max_power``), since the basis sympy returns is only one of
    many and the law's group may be a combination.

    Args:
        dims: one dimension vector (over ``BASE``) per input.
        max_power: largest |exponent| kept in a combined group.

    Returns:
        A list of (len(dims),) integer arrays, the basis first; empty when no group exists.
    """
    if not dims:
        return []
    matrix = sp.Matrix([[sp.Rational(Fraction(float(v)).limit_denominator(12)) for v in d] for d in dims]).T
    basis = []
    for vector in matrix.nullspace():
        denominators = [sp.fraction(sp.nsimplify(v))[1] for v in vector]
        scale = sp.ilcm(*denominators) if denominators else 1
        ints = [int(v * scale) for v in vector]
        divisor = np.gcd.reduce([abs(i) for i in ints if i]) if any(ints) else 1
        ints = [i // int(divisor) for i in ints]
        first = next(i for i in ints if i)
        basis.append(np.array(ints if first > 0 else [-i for i in ints], dtype=np.int64))
    groups = list(basis)
    for a, b in itertools.combinations(range(len(basis)), 2):
        for p, q in ((1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1)):
            vector = p * basis[a] + q * basis[b]
            if not vector.any() or np.abs(vector).max() > max_power:
                continue
            vector = vector // np.gcd.reduce(np.abs(vector[vector != 0]))
            vector = vector if vector[np.flatnonzero(vector)[0]] > 0 else -vector
            if not any(np.array_equal(vector, g) for g in groups):
                groups.append(vector)
    return groups


def threshold_unit(expr: sp.Expr, units: Mapping[str, str]) -> str | None:
    """The unit of a threshold on ``expr``, written with the user's own unit texts.

    ``weight_kg/height_m**2`` with ``{weight_kg: kg, height_m: m}`` gives ``kg/m**2``; a
    dimensionless formula gives ``""`` when the units cancel (Pa*s against kg/m**3 m/s m) and
    their product otherwise (``m*urad/nm``: dimensionless, but a threshold in those units,
    1.23 being 0.00123 m*urad/nm). None when the formula is
    dimensionally inconsistent or uses a column without a unit.

    Args:
        expr: the formula over the feature names.
        units: {feature name: unit text} (``data.units``, in feature names).
    """
    expr = sp.sympify(expr)
    dimensions = {name: parse_unit(text, name) for name, text in units.items()}
    if expression_dimension(expr, dimensions) is None:
        return None
    symbols = {str(s) for s in expr.free_symbols}
    term = next((t for t in sp.Add.make_args(expr) if t.free_symbols), expr)
    unit, dimension, log_scale = sp.Integer(1), np.zeros(len(BASE)), 0.0
    for factor, power in term.as_powers_dict().items():
        if factor.is_Symbol and str(factor) in symbols:
            unit *= _unit_expression(units[str(factor)]) ** power
            dimension = dimension + float(power) * dimensions[str(factor)]
            log_scale += float(power) * np.log10(unit_scale(units[str(factor)]))
    if unit == 1 or (np.allclose(dimension, 0) and abs(log_scale) < 1e-9):
        return ""  # dimensionless in units that cancel (Reynolds: kg/m**3 m/s m / (Pa s))
    return str(unit)


def _unit_expression(text: str | int | float) -> sp.Expr:
    """A user's unit text as a sympy expression over unit-name symbols (``kg*m^-3``)."""
    if not isinstance(text, str):
        return sp.Integer(1)
    names = {name: sp.Symbol(name, positive=True) for name in re.findall(r"[A-Za-zµ]+", text)}
    try:
        return sp.parse_expr(text.replace("^", "**").replace("µ", "u"), local_dict={
            k.replace("µ", "u"): v for k, v in names.items()}, evaluate=True)
    except Exception:  # shown as written
        return sp.Symbol(f"({text})", positive=True)
