"""Connections of an OSP system structure: ``VariableConnection`` (two
variables, with an optional ``LinearTransformation``) and
``VariableGroupConnection`` (two variable groups of the simulators' OSP
model descriptions, connected variable by variable as libcosim does).

Problems go to the reader of the whole file (:mod:`cosim.ssp.osp`), each
with its file, line and element.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from cosim.errors import CosimError, SspError, did_you_mean
from cosim.ssp import osp_model
from cosim.ssp.report import xml_child, xml_children, xml_local
from cosim.system import System

if TYPE_CHECKING:
    from cosim.ssp.osp import _OspReader

_UNSUPPORTED_CONNECTIONS = {
    "SignalConnection": "it connects a variable to a function block, and cosim has no OSP "
                        "functions; connect the variables directly with a VariableConnection "
                        "(a LinearTransformation child scales and shifts the value)",
    "SignalGroupConnection": "it connects a variable group to a function block, and cosim has "
                             "no OSP functions",
}


class OspConnections:
    """Reads the ``Connections`` of an OSP file for ``reader``, which reports
    the problems and knows the simulators that failed to load."""

    def __init__(self, reader: _OspReader):
        self.reader = reader
        self.error, self.warning = reader.error, reader.warning
        self.tolerate, self.attempt = reader.tolerate, reader.attempt
        self.groups: dict[str, tuple | None] = {}   # simulator -> (file, groups by name), read when used

    def read(self, system: System, connections) -> None:
        """Connect ``system`` as the ``Connections`` element says."""
        for element in connections:
            kind = xml_local(element)
            if not kind:
                continue
            if kind == "VariableConnection":
                self.read_variable_connection(system, element)
            elif kind == "VariableGroupConnection":
                self.read_group_connection(system, element)
            elif kind in _UNSUPPORTED_CONNECTIONS:
                self.error(element, f"{kind} is not supported: {_UNSUPPORTED_CONNECTIONS[kind]}")
            else:
                self.tolerate(element, f"unknown element {kind} in Connections ignored")

    def simulator(self, system: System, end, kind: str) -> tuple:
        """(simulator, name) of endpoint ``end`` (a ``kind`` element); (None, None)
        after reporting why not, or silently when its simulator could not be
        loaded (that was reported)."""
        simulator, name = end.get("simulator"), end.get("name")
        if not simulator or not name:
            self.error(end, f"{kind} needs both a simulator and a name attribute")
            return None, None
        if simulator in self.reader.failed:
            return None, None
        if simulator not in system.components:
            self.error(end, f"there is no simulator {simulator!r}"
                            f"{did_you_mean(simulator, system.components)}")
            return None, None
        return simulator, name

    def endpoint(self, system: System, element):
        """The (simulator, Variable) an endpoint names; None after reporting why
        not (see :meth:`simulator`)."""
        simulator, name = self.simulator(system, element, "Variable")
        if simulator is None:
            return None
        try:
            return simulator, system.model(simulator).variable(name, component=simulator)
        except CosimError as exc:
            self.error(element, str(exc))
            return None

    def read_variable_connection(self, system: System, element) -> None:
        ends = xml_children(element, "Variable")
        if len(ends) != 2:
            self.error(element, f"a VariableConnection needs two Variable elements, not {len(ends)}")
            return
        resolved = [self.endpoint(system, end) for end in ends]
        if None in resolved:
            return
        (first, first_var), (second, second_var) = resolved
        if first_var.causality == "input" and second_var.causality == "output":
            (first, first_var), (second, second_var) = (second, second_var), (first, first_var)
        factor = offset = None
        transform = xml_child(element, "LinearTransformation")
        if transform is not None:
            try:
                factor = _optional_float(transform.get("factor"))
                offset = _optional_float(transform.get("offset"))
            except ValueError:
                self.error(transform, f"factor {transform.get('factor')!r} and offset "
                                      f"{transform.get('offset')!r} must be numbers")
                return
        source = system.reference(first, first_var.name)
        target = system.reference(second, second_var.name)
        # libcosim copies values as they are: no unit conversion.
        if self.attempt(element, lambda: system.connect(source, target, factor=factor, offset=offset,
                                                        suppress_unit_conversion=True)):
            if transform is None and first_var.unit and second_var.unit and \
                    first_var.unit != second_var.unit:
                self.warning(element, f"{source} [{first_var.unit}] -> {target} "
                                      f"[{second_var.unit}]: the units differ; as in libcosim the "
                                      "value passes unconverted (add a LinearTransformation to "
                                      "convert it)")

    # -- variable groups ----------------------------------------------------------------------

    def read_group_connection(self, system: System, element) -> None:
        ends = xml_children(element, "VariableGroup")
        if len(ends) != 2:
            self.error(element, f"a VariableGroupConnection needs two VariableGroup elements, "
                                f"not {len(ends)}")
            return
        groups = [self.group(system, end) for end in ends]
        if None in groups:
            return
        (first, a), (second, b) = groups
        try:
            pairs = osp_model.pair_variables(a, b)
        except SspError as exc:
            self.error(element, f"{first}.{a.name} <-> {second}.{b.name}: {exc}")
            return
        connections = [self.group_pair(system, element, first, second, pair) for pair in pairs]
        if None in connections:
            return                  # connect a group whole or not at all
        for source, target in connections:
            # libcosim copies values as they are: no unit conversion.
            self.attempt(element, lambda s=source, t=target: system.connect(
                s, t, suppress_unit_conversion=True))

    def group(self, system: System, end):
        """(simulator, VariableGroup) an endpoint names; None after reporting why not."""
        simulator, name = self.simulator(system, end, "VariableGroup")
        if simulator is None:
            return None
        if simulator not in self.groups:
            self.groups[simulator] = self.read_groups(system, simulator, end)
        found = self.groups[simulator]
        if found is None:
            return None
        file, groups = found
        if name not in groups:
            self.error(end, f"simulator {simulator!r} has no variable group {name!r} in {file}"
                            f"{did_you_mean(name, groups)}")
            return None
        return simulator, groups[name]

    def read_groups(self, system: System, simulator: str, end) -> tuple | None:
        """(file, groups by name) of a simulator's OSP model description; None after
        reporting that there is none or that it cannot be read."""
        model = system.model(simulator)
        path = osp_model.find(system.source(simulator), model.name, self.reader.path.parent,
                              confine=self.reader.confine)
        if path is None:
            self.error(end, f"simulator {simulator!r} has no OSP model description: there is no "
                            f"{model.name}{osp_model.FILE_SUFFIX} beside "
                            f"{Path(system.source(simulator)).name} or beside {self.reader.path.name}")
            return None
        try:
            return path, osp_model.read_groups(path)
        except SspError as exc:
            self.error(end, f"simulator {simulator!r}: {exc}")
            return None

    def group_pair(self, system: System, element, first: str, second: str, pair):
        """(source, target) of one variable pair of a group connection; None after
        reporting an unknown variable or two variables of the same causality."""
        group_a, name_a, group_b, name_b = pair
        variables = []
        for simulator, group, name in ((first, group_a, name_a), (second, group_b, name_b)):
            model = system.model(simulator)
            if name not in model.variables:
                self.error(element, f"variable group {group} of simulator {simulator!r} names "
                                    f"the variable {name!r}, which {model.name} does not have"
                                    f"{did_you_mean(name, model.variables)}")
                return None
            variables.append(model.variables[name])
        ends = f"{first}.{name_a}", f"{second}.{name_b}"
        causalities = [v.causality for v in variables]
        if causalities == ["output", "input"]:
            return ends
        if causalities == ["input", "output"]:
            return ends[1], ends[0]
        self.error(element, f"variable group {group_a} of simulator {first!r} and {group_b} of "
                            f"simulator {second!r}: {ends[0]} ({causalities[0]}) and {ends[1]} "
                            f"({causalities[1]}) cannot be connected; one must be an output and "
                            "the other an input")
        return None


def _optional_float(text: str | None) -> float | None:
    if text is None:
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value
