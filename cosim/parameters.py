"""Values given to a system before it runs: parameters and start values of
components, values of input ports, and paths into nested systems.  Each is
checked against the variable it sets (settable, type, range, shape) when the
user gives it, and the error names the variable.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np

from cosim.connections import article
from cosim.errors import ModelError, SystemStructureError
from cosim.fmi.model import ModelInfo, Variable
from cosim.references import ReferenceResolution

__all__ = ["check_parameter", "check_parameter_path", "check_value"]

_VALUE_TYPES = {"float64": numbers.Real, "float32": numbers.Real, "bool": (bool, np.bool_),
                "string": str}


def check_value(owner: str, var: Variable, value) -> None:
    """Refuse ``value`` for ``owner.var`` unless it fits the variable's type
    (and range, for integers; every element, for arrays)."""
    if var.shape:       # an FMI 3 array: a sequence of every element, each checked
        elements = np.asarray(value, dtype=object)
        if elements.size != var.size:
            raise SystemStructureError(
                f"{owner}.{var.name} is an array of shape {list(var.shape)} ({var.size} "
                f"elements); {value!r} has {elements.size}")
        scalar = dataclasses.replace(var, shape=(), dimension_parameters=())
        for element in elements.reshape(-1):
            check_value(owner, scalar, element)
        return
    allowed: Any = _VALUE_TYPES.get(var.type, numbers.Integral)
    is_bool = isinstance(value, (bool, np.bool_))
    if (var.type != "bool" and is_bool) or not isinstance(value, allowed):
        raise SystemStructureError(
            f"{owner}.{var.name} is {var.type}; {value!r} ({type(value).__name__}) does not fit")
    if allowed is numbers.Integral:
        info = np.iinfo(var.type)
        if not info.min <= value <= info.max:
            raise SystemStructureError(
                f"{owner}.{var.name} is {var.type}; {value} is outside [{info.min}, {info.max}]")


def check_parameter_path(system: ReferenceResolution, shown, path, value) -> None:
    """Refuse ``value`` for ``path`` in ``system`` (a component variable, an
    input port, or a path into a nested system); ``shown`` is the path as the
    user wrote it, for the message."""
    element, rest = system.split(path)
    node = system._graph.nodes[element]
    if node["kind"] == "system":
        inner = node["system"]
        port, inside = inner.split(rest)
        if not inside:
            if inner.ports[port].causality != "input":
                raise SystemStructureError(
                    f"{shown!r}: '{port}' is not an input port of '{element}'; give an input "
                    "port or a path to a component variable inside it")
            check_value(f"{system.name}.{element}", inner.ports[port], value)
            return
        check_parameter_path(inner, shown, rest, value)
    elif node["kind"] == "component":
        check_parameter(element, node["model"], rest, value)
    elif node["variable"].causality == "input":
        check_value(system.name, node["variable"], value)
    else:
        raise SystemStructureError(f"{shown!r}: '{element}' is an output port; only input "
                                   "ports take values")


def check_parameter(component: str, model: ModelInfo, var_name: str, value) -> None:
    """Refuse ``value`` for variable ``var_name`` of ``component``: unknown, not
    settable, constant, or not of its type."""
    try:
        var = model.variable(var_name, component=component)
    except ModelError as exc:
        raise SystemStructureError(str(exc)) from None
    if not var.is_settable or var.variability == "constant":
        raise SystemStructureError(
            f"{component}.{var_name} is {article(var.variability)} {var.causality}; only parameters "
            "and inputs can be given values")
    check_value(component, var, value)
