"""Start values and tolerances handed to components before and in initialization.

Initialization sets the values the user gave explicitly (some FMUs only
behave when the importer does); FMI 2/3 binaries keep the start values they
hold, and only those a binary turns out not to hold are set, with a warning.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict

import numpy as np

from cosim.errors import ModelError
from cosim.fmi._binding import TYPE_CODES, Instance
from cosim.execution.assembly import FMU_RUNTIMES

__all__ = ["holds_its_starts", "set_missing_starts", "set_start_values", "tolerance_for"]

log = logging.getLogger("cosim")

# Types whose start values are compared with what a binary holds.
_COMPARABLE = ("float64", "float32", "int8", "uint8", "int16", "uint16", "int32", "uint32",
               "int64", "uint64", "bool")


def holds_its_starts(runtime) -> bool:
    """Whether ``runtime`` is an FMI 2/3 binary, which holds its own start values
    and can be read in initialization mode (FMI 1.0 cannot be read before it is
    initialized)."""
    return isinstance(runtime, FMU_RUNTIMES) and runtime.model.fmi_version != "1.0"


def tolerance_for(runtime, tolerance: float | None) -> float | None:
    """The relative tolerance handed to ``runtime``'s own solver: ``tolerance``
    if given, else a co-simulation FMU's default experiment's (if valid)."""
    if tolerance is not None or not isinstance(runtime, Instance):
        return tolerance
    tolerance = runtime.model.default_experiment.tolerance
    if tolerance is not None and not (tolerance > 0 and math.isfinite(tolerance)):
        log.warning("%s: the default experiment's tolerance %r is not a positive number; "
                    "the FMU gets none", runtime.model.path, tolerance)
        return None
    return tolerance


def set_start_values(system, name: str, runtime) -> None:
    """Before initialization: set the values the user gave, structural
    parameters first, in configuration mode where the FMU has it (else with
    the others, in the instantiated state).  An FMI 2/3 binary holds its own
    start values, as fmpy and libcosim assume: setting them again makes some
    exporters' FMUs fail, so only :func:`set_missing_starts` sets those it
    turns out not to hold; every other component gets every start value."""
    model = system.model(name)
    user = system.parameters(name)
    structural = [var for var in model.variables.values()
                  if var.causality == "structuralParameter" and var.name in user]
    if structural and isinstance(runtime, Instance) and runtime.can_configure():
        runtime.enter_configuration_mode()
        _set_batched(runtime, structural, user)
        runtime.exit_configuration_mode()
        structural = []
    settable = [var for var in model.variables.values()
                if var.causality in ("parameter", "input") and var.variability != "constant"]
    if holds_its_starts(runtime):
        settable = [var for var in settable if var.name in user]
    _set_batched(runtime, structural + settable, user)


def set_missing_starts(system, name: str, runtime) -> None:
    """In initialization mode: set the start values of modelDescription.xml
    that an FMU binary does not hold (some binaries leave parameters unset
    until the importer sets them), with a warning naming them."""
    user = system.parameters(name)
    batches = defaultdict(list)
    for var in runtime.model.variables.values():
        if (var.causality in ("parameter", "input") and var.variability != "constant"
                and var.initial != "calculated" and var.start is not None
                and var.name not in user and var.type in _COMPARABLE):
            batches[var.type].append(var)
    missing = []
    for type_, variables in batches.items():
        counts = [var.size for var in variables]
        vrs = [v.value_reference for v in variables]
        held = np.asarray(runtime.get(type_, vrs, counts=counts) if any(c != 1 for c in counts)
                          else runtime.get(type_, vrs))
        at = 0
        for var, count in zip(variables, counts):
            start = np.broadcast_to(np.asarray(var.start, dtype=held.dtype).ravel(), (count,))
            if held[at:at + count].tobytes() != start.tobytes():      # bit for bit
                missing.append(var)
            at += count
    if missing:
        log.warning("component '%s' (%s): its binary does not hold the start values of %s "
                    "that modelDescription.xml declares; cosim sets them", name,
                    runtime.model.name, ", ".join(v.name for v in missing))
        _set_batched(runtime, missing, {})


def _set_batched(runtime, variables, user: dict) -> None:
    """Set ``variables`` to their values in ``user`` or their start values,
    in one call per type."""
    batches: dict = defaultdict(lambda: ([], [], []))
    for var in variables:
        value = user.get(var.name, var.start)
        if value is None or var.type not in TYPE_CODES:
            continue
        if var.type == "binary" and isinstance(value, str):
            try:
                value = bytes.fromhex(value)        # a Binary start is written in hex
            except ValueError:
                raise ModelError(f"{runtime.name}.{var.name}: Binary start value {value!r} "
                                 "is not hex digits") from None
        vrs, values, counts = batches[var.type]
        vrs.append(var.value_reference)
        if var.shape:
            # an array's start lists every element; a single value stands for all
            elements = np.ravel(np.asarray(value, dtype=object))
            values.extend(elements if elements.size == var.size else [elements[0]] * var.size)
        else:
            values.append(value)
        counts.append(var.size)
    for type_, (vrs, values, counts) in batches.items():
        if any(c != 1 for c in counts):
            runtime.set(type_, vrs, values, counts=counts)
        else:
            runtime.set(type_, vrs, values)
