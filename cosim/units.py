"""Units of measure as FMI and SSP define them, and conversion between them.

A unit is a product of SI base units with integer exponents (kg, m, s, A,
K, mol, cd, and rad kept apart from dimensionless), a factor and an offset:
``value_SI = factor * value + offset``.  Two units are compatible when
their exponents agree; a value then converts as ``y = scale * x + shift``.

Examples
--------
>>> conversion(CATALOG["degC"], CATALOG["K"])
(1.0, 273.15)
>>> round(conversion(CATALOG["rpm"], CATALOG["rad/s"])[0], 6)
0.10472
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cosim.errors import UnitError

__all__ = ["CATALOG", "Unit", "UnitError", "conversion", "unit_from_definition"]

BASE_UNITS = ("kg", "m", "s", "A", "K", "mol", "cd", "rad")


@dataclass(frozen=True)
class Unit:
    """A unit: base-unit exponents (in BASE_UNITS order), factor and offset."""

    name: str
    exponents: tuple[int, ...] = (0,) * len(BASE_UNITS)
    factor: float = 1.0
    offset: float = 0.0

    def dimension(self) -> str:
        """The exponents as text, e.g. 'kg.m2.s-3' ('1' when dimensionless)."""
        parts = [f"{b}{e if e != 1 else ''}" for b, e in zip(BASE_UNITS, self.exponents) if e]
        return ".".join(parts) or "1"


def unit_from_definition(name: str, base_unit) -> Unit:
    """A Unit from an FMI/SSP BaseUnit (any object with kg..rad, factor, offset attributes)."""
    if base_unit is None:
        return Unit(name)
    exponents = tuple(int(getattr(base_unit, b, 0) or 0) for b in BASE_UNITS)
    return Unit(name, exponents, float(getattr(base_unit, "factor", 1.0) or 1.0),
                float(getattr(base_unit, "offset", 0.0) or 0.0))


def _unit(name, factor=1.0, offset=0.0, **exponents) -> Unit:
    return Unit(name, tuple(exponents.get(b, 0) for b in BASE_UNITS), factor, offset)


# Units found by name when a model uses one without defining it.
CATALOG = {u.name: u for u in [
    _unit("1"), _unit("s", s=1), _unit("min", 60.0, s=1), _unit("h", 3600.0, s=1),
    _unit("ms", 1e-3, s=1), _unit("1/s", s=-1), _unit("Hz", s=-1),
    _unit("m", m=1), _unit("mm", 1e-3, m=1), _unit("cm", 1e-2, m=1), _unit("km", 1e3, m=1),
    _unit("m/s", m=1, s=-1), _unit("mm/s", 1e-3, m=1, s=-1), _unit("km/h", 1 / 3.6, m=1, s=-1),
    _unit("m/min", 1 / 60, m=1, s=-1), _unit("m/s2", m=1, s=-2),
    _unit("kg", kg=1), _unit("g", 1e-3, kg=1), _unit("t", 1e3, kg=1),
    _unit("kg/s", kg=1, s=-1), _unit("kg/h", 1 / 3600, kg=1, s=-1), _unit("kg.m2", kg=1, m=2),
    _unit("N", kg=1, m=1, s=-2), _unit("kN", 1e3, kg=1, m=1, s=-2),
    _unit("N.m", kg=1, m=2, s=-2), _unit("Pa", kg=1, m=-1, s=-2),
    _unit("bar", 1e5, kg=1, m=-1, s=-2),
    _unit("J", kg=1, m=2, s=-2), _unit("kJ", 1e3, kg=1, m=2, s=-2),
    _unit("kWh", 3.6e6, kg=1, m=2, s=-2),
    _unit("W", kg=1, m=2, s=-3), _unit("kW", 1e3, kg=1, m=2, s=-3),
    _unit("MW", 1e6, kg=1, m=2, s=-3),
    _unit("K", K=1), _unit("degC", 1.0, 273.15, K=1),
    _unit("degF", 5 / 9, 273.15 - 32 * 5 / 9, K=1),
    _unit("rad", rad=1), _unit("deg", math.pi / 180, rad=1),
    _unit("rad/s", rad=1, s=-1), _unit("rpm", math.pi / 30, rad=1, s=-1),
    _unit("V", kg=1, m=2, s=-3, A=-1), _unit("A", A=1),
]}


def conversion(source: Unit, target: Unit) -> tuple[float, float]:
    """(scale, shift) with ``target_value = scale * source_value + shift``.

    Raises
    ------
    UnitError
        If the dimensions differ.
    """
    if source.exponents != target.exponents:
        raise UnitError(f"unit {source.name} ({source.dimension()}) cannot be converted to "
                        f"{target.name} ({target.dimension()})")
    scale = source.factor / target.factor
    shift = (source.offset - target.offset) / target.factor
    return scale, shift
