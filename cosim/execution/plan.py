"""Where every exchanged and recorded value lives in the master loop's buffers.

:class:`Plan` reads a flat system (see :func:`cosim.analysis.flatten`) once,
before anything is instantiated: which output fills which slot of its type's
buffer, which input is set from which slots (with the connection's linear
transformation), which values are fetched only at output points, and which
columns the result has.  An FMI 3 array variable takes one slot per element,
in row-major order.  Everything here is plain data; the core is built from it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

import numpy as np

from cosim import paths
from cosim.errors import ConfigurationError, CosimError
from cosim.master._core import GROUPS

__all__ = ["CLOCK_KINDS", "LOOP_TYPES", "LOOP_TYPES_TEXT", "NUMBER_TYPES", "NUMBER_TYPES_TEXT",
           "TEXT_TYPES", "InputLink", "OutputLink",
           "ClockedLink", "Plan", "element_names", "shape_text"]

# The value types the master's loop exchanges and records, in the core's group order.
LOOP_TYPES = tuple(GROUPS)
LOOP_TYPES_TEXT = "number, bool, string and binary (float64, float32, int8 to uint64, bool, " \
    "string, binary)"
# Strings and binaries are exchanged as they are, scalars only, held over each step.
TEXT_TYPES = ("string", "binary")
NUMBER_TYPES = tuple(t for t in LOOP_TYPES if t not in TEXT_TYPES)
NUMBER_TYPES_TEXT = "number and bool (float64, float32, int8 to uint64, bool)"
# intervalVariability of the FMI 3 input clocks the master ticks
CLOCK_KINDS = ("constant", "fixed", "tunable", "changing", "countdown", "triggered")


class OutputLink(NamedTuple):
    """A value fetched from a component into buffer slots (one per array element)."""

    group: str
    vr: int
    slots: list


class InputLink(NamedTuple):
    """A component input set from its source's slots, through ``scale*x + shift``."""

    group: str
    vr: int
    slots: list
    scale: float
    shift: float


class ClockedLink(NamedTuple):
    """A clocked input or output: set or fetched only when one of ``clocks`` ticks."""

    clocks: tuple
    group: str
    vr: int
    slots: list


def element_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """Names of the elements of an array variable, row-major: ``name[0]``,
    ``name[1]`` ... for one dimension, ``name[0,0]``, ``name[0,1]`` ... for more;
    ``[name]`` for a scalar."""
    if not shape:
        return [name]
    return [f"{name}[{','.join(map(str, index))}]" for index in np.ndindex(*shape)]


def shape_text(var) -> str:
    return f"[{', '.join(map(str, var.shape))}]" if var.shape else "scalar"


def _check_text(c, src, clocked) -> None:
    """A string or binary connection: the value as it is (held over the step),
    a scalar, not clocked."""
    if (c.scale, c.shift) != (1.0, 0.0):
        raise ConfigurationError(
            f"connection {c.source} -> {c.target}: {src.type} values take no linear "
            f"transformation (scale {c.scale}, shift {c.shift}); connect them without one")
    if src.shape:
        raise ConfigurationError(
            f"connection {c.source} -> {c.target}: {c.source} is a {src.type} array of shape "
            f"{shape_text(src)}; cosim exchanges {src.type} scalars only")
    for end in (c.source, c.target):
        if end in clocked:
            raise ConfigurationError(f"connection {c.source} -> {c.target}: {end} is a clocked "
                                     f"{src.type}; clocked {src.type} values are not exchanged")


class Plan:
    """Where every exchanged and recorded value lives in the loop's buffers.

    Works on a flat system (see :func:`cosim.analysis.flatten`).  A value is
    one slot of its type's buffer; an FMI 3 array variable takes one slot per
    element, in row-major order.
    """

    def __init__(self, system, record):
        self.system = system
        self.names = list(system.components)
        self.index = {name: k for k, name in enumerate(self.names)}
        self.slot_counts = dict.fromkeys(LOOP_TYPES, 0)
        self.source_slot: dict[str, tuple[str, list[int]]] = {}   # output -> (group, slots)
        self.outputs = defaultdict(list)     # k -> [OutputLink] fetched every step
        self.recorded = defaultdict(list)    # k -> [OutputLink] fetched at output points
        self.inputs = defaultdict(list)      # k -> [InputLink]
        self.connected_inputs = {}
        self.slot_owner = {}                 # float64 source slot -> unit writing it
        self.slot_names = {}                 # float64 source slot -> "comp.var" or "comp.var[i]"
        self._plan_clocks()
        self._refuse_resized_arrays()
        self.clocked_inputs = defaultdict(list)   # k -> [ClockedLink], from source slots
        self.clocked_outputs = defaultdict(list)  # k -> [ClockedLink]
        for connection in system.connection_details:
            self._link(connection)
        # Float64 slots below this hold exchanged values (the step-size control watches them).
        self.exchanged_float64 = self.slot_counts["float64"]
        self._plan_columns(record)

    def _link(self, c) -> None:
        """Plan one connection: its source's slots (once per source) and the
        target input set from them."""
        src_comp, src = self.variable(c.source)
        dst_comp, dst = self.variable(c.target)
        group = src.type
        if group == "clock":
            self.clock_links.append((src_comp, src.name, dst_comp, dst.name))
            return
        if group not in LOOP_TYPES:
            raise ConfigurationError(
                f"connection {c.source} -> {c.target}: {group} values cannot be exchanged by "
                f"the master yet (it exchanges {LOOP_TYPES_TEXT} values)")
        if group in TEXT_TYPES:
            _check_text(c, src, self.clocked)
        if src.shape != dst.shape:
            raise ConfigurationError(
                f"connection {c.source} -> {c.target}: {c.source} has shape "
                f"{shape_text(src)} ({src.size} elements) and {c.target} has shape "
                f"{shape_text(dst)} ({dst.size}); array connections need the same shape")
        if c.source not in self.source_slot:
            slots = [self._new_slot(group) for _ in range(src.size)]
            self.source_slot[c.source] = (group, slots)
            if c.source in self.clocked:
                self.clocked_outputs[self.index[src_comp]].append(
                    ClockedLink(src.clocks, group, src.value_reference, slots))
            else:
                self.outputs[self.index[src_comp]].append(
                    OutputLink(group, src.value_reference, slots))
            if group == "float64":
                for slot, name in zip(slots, element_names(c.source, src.shape)):
                    self.slot_owner[slot] = self.index[src_comp]
                    self.slot_names[slot] = name
        if c.target in self.clocked:
            if (c.scale, c.shift) != (1.0, 0.0):
                raise ConfigurationError(f"connection {c.source} -> {c.target}: clocked "
                                         "inputs take their source's value as it is")
            self.clocked_inputs[self.index[dst_comp]].append(
                ClockedLink(dst.clocks, group, dst.value_reference,
                            self.source_slot[c.source][1]))
        else:
            self.inputs[self.index[dst_comp]].append(
                InputLink(group, dst.value_reference, self.source_slot[c.source][1],
                          c.scale, c.shift))
        self.connected_inputs[c.target] = c.source

    def _plan_columns(self, record) -> None:
        """The result's columns: (group, slot), one per element of arrays; ports
        of the system show a leaf output through a transformation applied to the
        recorded rows."""
        self.columns: list[tuple[str, int]] = []
        self.column_names: list[str] = []
        self.column_transforms: dict[int, tuple[float, float]] = {}
        # the models' units and descriptions (results metadata)
        self.column_units: list[str | None] = []
        self.column_descriptions: list[str | None] = []
        self.arrays = {}        # recorded array name -> (shape, its column indices)
        for name in self._recorded_names(record):
            leaf, scale, shift = self.leaf_of(name)
            comp, var = self.variable(leaf)
            if var.type in TEXT_TYPES and var.shape:
                raise ConfigurationError(f"record: {name} is a {var.type} array; cosim records "
                                         f"{var.type} scalars only")
            if var.type in TEXT_TYPES and (scale, shift) != (1.0, 0.0):
                raise ConfigurationError(f"record: output port {name} shows the {var.type} "
                                         f"{leaf} through scale {scale} and shift {shift}; "
                                         f"{var.type} values take no transformation")
            if leaf in self.source_slot:
                group, slots = self.source_slot[leaf]
            elif leaf in self.clocked:
                group, slots = self.clocked_slots(leaf)
            else:
                # Inputs too are read from their component: under Jacobi a
                # connected input holds the previous point's value, not its
                # source's new one.
                group, slots = var.type, [self._new_slot(var.type) for _ in range(var.size)]
                self.recorded[self.index[comp]].append(
                    OutputLink(var.type, var.value_reference, slots))
            if var.shape:
                self.arrays[name] = (var.shape, list(range(len(self.columns),
                                                           len(self.columns) + var.size)))
            for slot, column_name in zip(slots, element_names(name, var.shape)):
                if (scale, shift) != (1.0, 0.0):
                    self.column_transforms[len(self.columns)] = (scale, shift)
                self.columns.append((group, slot))
                self.column_names.append(column_name)
                # a transformed port is in another unit than its leaf: unknown
                self.column_units.append(var.unit if (scale, shift) == (1.0, 0.0) else None)
                self.column_descriptions.append(var.description)

    def _refuse_resized_arrays(self) -> None:
        """Array dimensions come from structural parameters' start values: cosim
        does not enter configuration mode, so it cannot give them other values."""
        for name, model in self.system.components.items():
            user = self.system.parameters(name)
            for var in model.variables.values():
                for dim, parameter in zip(var.shape, var.dimension_parameters):
                    if parameter is None or parameter not in user:
                        continue
                    if user[parameter] != model.variables[parameter].start:
                        raise ConfigurationError(
                            f"component '{name}' ({model.path}): structural parameter "
                            f"{parameter} sizes array {name}.{var.name} (shape "
                            f"{shape_text(var)} at its start value {dim}); cosim does not enter "
                            f"configuration mode to resize arrays, so {parameter} cannot be set "
                            f"to {user[parameter]!r}: remove it from the parameters")

    def _plan_clocks(self) -> None:
        """FMI 3 clocks: which components have them, the clock connections, and
        where clocked values live (they are set and fetched at ticks only)."""
        self.clocks: dict[str, list] = {}      # component -> its input and output clock Variables
        # (source component, clock, target component, clock)
        self.clock_links: list[tuple[str, str, str, str]] = []
        self.clocked: dict[str, Any] = {}      # "comp.var" of a clocked input or output -> Variable
        for name, model in self.system.components.items():
            clocks = [v for v in model.variables.values()
                      if v.type == "clock" and v.causality in ("input", "output")]
            if not clocks:
                continue
            for var in clocks:
                if var.causality == "input" and var.interval_variability not in CLOCK_KINDS:
                    raise ConfigurationError(
                        f"component '{name}' ({model.path}): clock {var.name} is a "
                        f"{var.interval_variability} clock, which cosim does not schedule "
                        f"(it runs input clocks that are {', '.join(CLOCK_KINDS)})")
            if not model.has_event_mode:
                raise ConfigurationError(
                    f"component '{name}' ({model.path}): it has clocks "
                    f"({', '.join(v.name for v in clocks)}) but no event mode (hasEventMode), "
                    "which co-simulation clocks need")
            self.clocks[name] = clocks
            ticking = {v.name for v in clocks}
            for var in model.variables.values():
                if var.clocks and var.causality in ("input", "output"):
                    if not set(var.clocks) & ticking:
                        continue
                    reference = self.system.reference(name, var.name)
                    if var.type not in NUMBER_TYPES:
                        raise ConfigurationError(f"{reference}: clocked {var.type} values are "
                                                 "not supported")
                    self.clocked[reference] = var

    def clocked_slots(self, name: str) -> tuple[str, list[int]]:
        """(group, slots) of a clocked value: an output is fetched into them at its
        clock's ticks, an input is read from them (from its source)."""
        if name in self.source_slot:
            return self.source_slot[name]
        if name in self.connected_inputs:
            return self.source_slot[self.connected_inputs[name]]
        component, var = self.variable(name)
        if var.causality != "output":
            raise ConfigurationError(f"{name} is a clocked input; its value is set at its "
                                     "clock's ticks from the output connected to it")
        slots = [self._new_slot(var.type) for _ in range(var.size)]
        self.source_slot[name] = (var.type, slots)
        self.clocked_outputs[self.index[component]].append(
            ClockedLink(var.clocks, var.type, var.value_reference, slots))
        return var.type, slots

    def _new_slot(self, group: str) -> int:
        slot = self.slot_counts[group]
        self.slot_counts[group] += 1
        return slot

    def variable(self, name):
        """(component, Variable) of a reference to a component's variable (any
        form :meth:`cosim.System.split` reads); ConfigurationError if unknown."""
        try:
            component, var = self.system.resolve(name)
        except CosimError as exc:
            raise ConfigurationError(str(exc)) from None
        if component not in self.index:
            raise ConfigurationError(f"{name!r} is a port; it has no value of its own")
        return component, var

    def port(self, name) -> tuple[str, dict] | tuple[None, None]:
        """(name, entry) of a port of the system in ``port_map``, or (None, None)."""
        try:
            key = paths.text(name)
        except CosimError as exc:
            raise ConfigurationError(str(exc)) from None
        entry = self.system.port_map.get(key)
        return (key, entry) if entry is not None else (None, None)

    def key(self, name) -> str:
        """The one text of a variable or port reference: its column name in results."""
        port, _ = self.port(name)
        if port is not None:
            return port
        component, var = self.variable(name)
        return self.system.reference(component, var.name)

    def leaf_of(self, name) -> tuple[str, float, float]:
        """The leaf variable behind a name, and the transformation from it (for output ports)."""
        _, entry = self.port(name)
        if entry is None:
            return name, 1.0, 0.0
        if entry["kind"] != "output":
            raise ConfigurationError(f"{name!r} is an input port; record the inputs it drives")
        return entry["source"], entry["scale"], entry["shift"]

    def _recorded_names(self, record):
        if record is None:
            names = [self.system.reference(c, v.name) for c, model in self.system.components.items()
                     for v in model.outputs if v.type in LOOP_TYPES]
            return names + [p for p, e in self.system.port_map.items() if e["kind"] == "output"]
        names = [record] if isinstance(record, str) else list(record)
        for name in names:
            var = self.variable(self.leaf_of(name)[0])[1]
            if var.type not in LOOP_TYPES:
                raise ConfigurationError(f"record: {name} is {var.type}; only "
                                         f"{LOOP_TYPES_TEXT} values can be recorded")
        # Two spellings of one variable ("it's.y", "'it''s'.y") are one column, where first given.
        return list(dict.fromkeys(self.key(name) for name in names))


