"""Connections of a system: what a valid one is, and what it does to a value.

A connection runs from an output (of a component or nested system) or an
own input port of the system, to an input or an own output port.  Both
ends must have the same type and dimensions; a clock connects only to a
triggered clock.  A float64 connection maps the value through
``factor*x + offset`` and then converts its unit (:mod:`cosim.units`);
:class:`cosim.System.connect` checks and stores both here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cosim.errors import InvalidConnectionError, UnitError
from cosim.fmi.model import Variable
from cosim.units import Unit, conversion

__all__ = ["EXCHANGED_TYPES", "Connection", "article", "check_endpoints", "linear_map"]

# Value types the master's loop carries over connections.
EXCHANGED_TYPES = ("float64", "int32", "bool", "float32", "int8", "uint8", "int16", "uint16",
                   "uint32", "int64", "uint64", "string", "binary")


def article(word: str) -> str:
    """``word`` with its indefinite article: "an input", "a parameter"."""
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


@dataclass(frozen=True)
class Connection:
    """One connection as composed: references, the explicit linear transformation,
    and the effective ``target = scale*source + shift`` (transformation, then units)."""

    source: str
    target: str
    factor: float | None = None
    offset: float | None = None
    suppress_unit_conversion: bool = False
    scale: float = 1.0
    shift: float = 0.0


def check_endpoints(source: str, target: str, src_var: Variable, dst_var: Variable, *,
                    src_is_own_port: bool, dst_is_own_port: bool) -> None:
    """Refuse connecting ``source`` (variable ``src_var``) to ``target``
    (``dst_var``) when direction, type, clock kind or dimensions do not fit.
    An own input port is a source inside the system; an own output port a
    target (``*_is_own_port``).

    Raises
    ------
    InvalidConnectionError
        Naming both ends and what would fix the connection.
    """
    src_ok = src_var.causality == ("input" if src_is_own_port else "output")
    dst_ok = dst_var.causality == ("output" if dst_is_own_port else "input")
    if not src_ok:
        reversed_ = src_var.causality == "input" and not src_is_own_port and \
            dst_var.causality == "output" and not dst_is_own_port
        hint = f"; did you mean to connect {target} -> {source}?" if reversed_ else ""
        what = "output port of this system" if src_is_own_port else src_var.causality
        raise InvalidConnectionError(
            f"cannot connect {source} -> {target}: {source} is {article(what)}, not "
            f"{'an input port of this system' if src_is_own_port else 'an output'}{hint}")
    if not dst_ok:
        what = "input port of this system" if dst_is_own_port else dst_var.causality
        raise InvalidConnectionError(
            f"cannot connect {source} -> {target}: {target} is {article(what)}, not "
            f"{'an output port of this system' if dst_is_own_port else 'an input'}")
    if "clock" in (src_var.type, dst_var.type) and src_var.type != dst_var.type:
        raise InvalidConnectionError(
            f"cannot connect {source} ({src_var.type}) -> {target} ({dst_var.type}): "
            "a clock connects only to a clock (an output clock to a triggered input clock)")
    if src_var.type != dst_var.type:
        raise InvalidConnectionError(
            f"cannot connect {source} ({src_var.type}) -> {target} ({dst_var.type}): "
            "the types differ")
    if dst_var.type == "clock" and dst_var.interval_variability != "triggered":
        raise InvalidConnectionError(
            f"cannot connect {source} -> {target}: {target} is a "
            f"{dst_var.interval_variability} clock, which ticks on its own schedule; "
            "only triggered input clocks take their ticks from a connection")
    if src_var.type not in EXCHANGED_TYPES and src_var.type != "clock":
        raise InvalidConnectionError(
            f"cannot connect {source} ({src_var.type}) -> {target} ({dst_var.type}): the "
            "master exchanges numbers, booleans, strings and binaries only")
    if src_var.type in ("string", "binary") and src_var.shape:
        raise InvalidConnectionError(
            f"cannot connect {source} {list(src_var.shape)} -> {target}: {src_var.type} "
            "arrays are not exchanged (scalars only)")
    if src_var.shape != dst_var.shape:
        raise InvalidConnectionError(
            f"cannot connect {source} {list(src_var.shape)} -> {target} {list(dst_var.shape)}: "
            "the dimensions differ")


def linear_map(source: str, src_var: Variable, target: str, dst_var: Variable, *,
               factor: float | None, offset: float | None, suppress: bool,
               unit_at: Callable[[str, str], Unit | None]) -> tuple[float, float]:
    """Effective (scale, shift) of a connection: the linear transformation
    ``factor*x + offset``, then the unit conversion (unless ``suppress``).
    ``unit_at(end, name)`` gives the definition of unit ``name`` as seen at
    the end "source" or "target" (None if unknown)."""
    explicit = factor is not None or offset is not None
    if src_var.type != "float64":
        if explicit:
            raise InvalidConnectionError(f"cannot connect {source} -> {target}: linear "
                                         f"transformations apply to float64 values, not {src_var.type}")
        return 1.0, 0.0
    a = 1.0 if factor is None else float(factor)
    b = 0.0 if offset is None else float(offset)
    if suppress or src_var.unit is None or dst_var.unit is None:
        return a, b
    src_unit = unit_at("source", src_var.unit)
    dst_unit = unit_at("target", dst_var.unit)
    if src_var.unit == dst_var.unit and src_unit == dst_unit:
        return a, b
    if src_unit is None or dst_unit is None:
        name, ref = (src_var.unit, source) if src_unit is None else (dst_var.unit, target)
        raise UnitError(
            f"cannot connect {source} [{src_var.unit}] -> {target} [{dst_var.unit}]: unit "
            f"{name!r} of {ref} is not defined; connect with suppress_unit_conversion=True "
            "(and a factor/offset if needed)")
    try:
        scale, shift = conversion(src_unit, dst_unit)
    except UnitError as exc:
        raise UnitError(f"cannot connect {source} [{src_var.unit}] -> {target} "
                        f"[{dst_var.unit}]: {exc}") from None
    return scale * a, scale * b + shift
