"""Units of the input columns: the parser, formula dimensions, dimensionless groups, threshold units."""

import numpy as np
import pytest
import sympy as sp

from symgrad.config import load_config
from symgrad.errors import SymgradError
from symgrad.search.dimensions import (BASE, expression_dimension, format_dimension, parse_unit, parse_units,
                                       pi_groups, threshold_unit, unit_scale)


def dim(**powers) -> np.ndarray:
    return np.array([powers.get(b, 0) for b in BASE], dtype=float)


@pytest.mark.parametrize("text, expected", [
    ("kg", dim(kg=1)), ("m/s**2", dim(m=1, s=-2)), ("kg*m^-3", dim(kg=1, m=-3)), ("kg*m^-3/s", dim(kg=1, m=-3, s=-1)),
    ("Pa*s", dim(kg=1, m=-1, s=-1)), ("N", dim(kg=1, m=1, s=-2)), ("J/(mol*K)", dim(kg=1, m=2, s=-2, mol=-1, K=-1)),
    ("L/min", dim(m=3, s=-1)), ("mm", dim(m=1)), ("kPa", dim(kg=1, m=-1, s=-2)), ("mmHg", dim(kg=1, m=-1, s=-2)),
    ("m**(1/2)", dim(m=0.5)), ("1", dim()), ("dimensionless", dim()), ("USD", dim(currency=1)), ("1/min", dim(s=-1)),
])
def test_units_parse_to_base_dimensions(text, expected):
    np.testing.assert_allclose(parse_unit(text, "c"), expected)


@pytest.mark.parametrize("text, what", [("kgg", "unknown unit 'kgg'"), ("m/", "ends too early"),
                                        ("kg*(m", "unclosed parenthesis"), ("m**x", "where a power was expected"),
                                        ("", "is empty"), ("m % s", "unexpected character")])
def test_a_unit_typo_is_one_sentence_naming_the_column(text, what):
    with pytest.raises(SymgradError) as error:
        parse_unit(text, "weight_kg")
    message = str(error.value)
    assert "'weight_kg'" in message and what in message and "m/s**2" in message and "\n" not in message


def test_config_checks_units_and_unknown_columns_are_refused():
    config = load_config(None, ["data.path=x.csv", "data.label=y", "data.units={weight_kg: kg, height_m: m}"])
    assert config["data"]["units"] == {"weight_kg": "kg", "height_m": "m"}
    assert load_config(None, ["data.path=x.csv", "data.label=y"])["data"]["units"] is None
    with pytest.raises(SymgradError, match="column 'height_m' the unit 'meter'"):
        load_config(None, ["data.path=x.csv", "data.label=y", "data.units={weight_kg: kg, height_m: meter}"])
    with pytest.raises(SymgradError, match="allowed: a mapping of column names"):
        load_config(None, ["data.path=x.csv", "data.label=y", "data.units=kg"])
    with pytest.raises(SymgradError, match="'size', which is not a feature"):
        parse_units({"size": "m"}, ["weight_kg", "height_m"])
    assert set(parse_units({"Weight (kg)": "kg"}, ["weight_kg"], {"Weight (kg)": "weight_kg"})) == {"weight_kg"}


def test_formula_dimensions():
    w, h, v, t = sp.symbols("w h v t", real=True)
    dims = {"w": dim(kg=1), "h": dim(m=1), "v": dim(m=1, s=-1), "t": dim(s=1)}
    np.testing.assert_allclose(expression_dimension(w / h**2, dims), dim(kg=1, m=-2))
    np.testing.assert_allclose(expression_dimension(v * t - 3 * h + 7, dims), dim(m=1))  # + 7: a threshold
    np.testing.assert_allclose(expression_dimension(sp.exp(v * t / h), dims), dim())
    assert expression_dimension(w / 10 - sp.Rational(5, 2) * h**2, dims) is None  # kg + m**2
    assert expression_dimension(sp.log(w), dims) is None  # log of a mass
    assert expression_dimension(w * sp.Symbol("q"), dims) is None  # a column without a unit
    assert format_dimension(dim(kg=1, m=-2)) == "kg/m**2" and format_dimension(dim()) == "1"


def test_pi_groups_are_buckingham_groups():
    reynolds = [parse_unit(u) for u in ("kg/m**3", "m/s", "m", "Pa*s")]
    groups = pi_groups(reynolds)
    assert len(groups) == 1 and list(groups[0]) == [1, 1, 1, -1]
    assert pi_groups([parse_unit("kg"), parse_unit("m")]) == []  # BMI: no dimensionless group
    two = pi_groups([parse_unit(u) for u in ("kg/m**3", "m/s", "m", "Pa*s", "m")])
    for group in two:
        total = sum(g * d for g, d in zip(group, [parse_unit(u) for u in ("kg/m**3", "m/s", "m", "Pa*s", "m")]))
        np.testing.assert_allclose(total, 0)
    assert any(list(g) == [0, 0, 1, 0, -1] for g in two)  # roughness / diameter


def test_threshold_units_use_the_users_texts():
    w, h, c, b = sp.symbols("weight_kg height_m flow area", real=True)
    assert threshold_unit(w / h**2, {"weight_kg": "kg", "height_m": "m"}) == "kg/m**2"
    assert threshold_unit(c / b, {"flow": "L/min", "area": "m**2"}) == "L/(m**2*min)"
    assert threshold_unit(c / b, {"flow": "USD", "area": "USD"}) == ""
    assert threshold_unit(w - 3 * h, {"weight_kg": "kg", "height_m": "m"}) is None
    r, v, d, mu = sp.symbols("rho v d mu", real=True)
    reynolds = {"rho": "kg/m**3", "v": "m/s", "d": "m", "mu": "Pa*s"}
    assert threshold_unit(r * v * d / mu, reynolds) == ""  # dimensionless: Pa*s cancels against kg/(m*s)
    assert threshold_unit(r * v * d / mu, {**reynolds, "d": "mm"}) == "kg*mm/(Pa*m**2*s**2)"  # a factor 1e-3 remains
    assert unit_scale("mm") == pytest.approx(1e-3) and unit_scale("L/min") == pytest.approx(1e-3 / 60)
