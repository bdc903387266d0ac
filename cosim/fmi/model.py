"""What cosim knows about a model from its modelDescription.xml.

:class:`ModelInfo` is read once per FMU (through fmpy) and is enough to
compose and validate a system without loading any binary.

An FMU offers co-simulation, model exchange or both.  Its ModelInfo
describes the interface cosim uses: co-simulation when the FMU offers it,
else model exchange; :meth:`ModelInfo.for_interface` gives the other one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from cosim.errors import ModelError, did_you_mean
from cosim.units import CATALOG, Unit, unit_from_definition

# FMI type names mapped onto one canonical name per value representation;
# connections are type-compatible when their canonical names are equal.
CANONICAL_TYPES = {
    "Real": "float64", "Float64": "float64", "Float32": "float32",
    "Integer": "int32", "Int32": "int32", "Int8": "int8", "UInt8": "uint8",
    "Int16": "int16", "UInt16": "uint16", "UInt32": "uint32",
    "Int64": "int64", "UInt64": "uint64",
    "Boolean": "bool", "String": "string", "Binary": "binary", "Clock": "clock",
}
# Enumerations travel as Integer in FMI 2 and as Int64 in FMI 3.
ENUMERATION_TYPE = {"2.0": "int32", "3.0": "int64"}
CO_SIMULATION = "co-simulation"
MODEL_EXCHANGE = "model-exchange"
INTERFACES = (CO_SIMULATION, MODEL_EXCHANGE)


@dataclass(frozen=True)
class Variable:
    """One model variable (a scalar, or an FMI 3 array with ``shape``)."""

    name: str
    value_reference: int
    type: str                      # canonical: float64, int32, bool, string, ...
    causality: str
    variability: str
    initial: str | None = None
    start: object = None
    unit: str | None = None
    description: str | None = None
    shape: tuple[int, ...] = ()

    @property
    def is_settable(self) -> bool:
        """Inputs and non-constant parameters can be set by the importer."""
        return self.causality in ("input", "parameter", "structuralParameter")


@dataclass(frozen=True)
class DefaultExperiment:
    start_time: float | None = None
    stop_time: float | None = None
    step_size: float | None = None
    tolerance: float | None = None


@dataclass
class ModelInfo:
    """A model description reduced to what composition and stepping need."""

    path: str
    name: str
    fmi_version: str
    token: str
    model_identifier: str
    description: str = ""
    variables: dict[str, Variable] = field(default_factory=dict)
    dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default_experiment: DefaultExperiment = field(default_factory=DefaultExperiment)
    can_get_and_set_state: bool = False
    can_serialize_state: bool = False
    can_handle_variable_step: bool = False
    units: dict[str, Unit] = field(default_factory=dict)
    interface: str = CO_SIMULATION
    number_of_states: int = 0
    number_of_event_indicators: int = 0
    # interface -> (model_identifier, can_get_and_set_state, can_serialize_state,
    # can_handle_variable_step) for each interface the FMU offers
    interface_details: dict = field(default_factory=dict)

    @property
    def interfaces(self) -> tuple[str, ...]:
        """The interfaces the FMU offers ("co-simulation", "model-exchange")."""
        return tuple(i for i in INTERFACES if i in self.interface_details) or (self.interface,)

    def for_interface(self, interface: str) -> ModelInfo:
        """This model as used through ``interface`` ("co-simulation" or "model-exchange").

        A model exchange FMU runs as a component integrated by a solver
        (:mod:`cosim.fmi.model_exchange`); to the system it looks the same.

        Raises
        ------
        ModelError
            If the FMU does not offer ``interface``, or it is FMI 3.0 model
            exchange (not supported).
        """
        if interface not in INTERFACES:
            raise ModelError(f"{self.path}: interface must be one of {', '.join(INTERFACES)}, "
                             f"not {interface!r}")
        if interface == self.interface:
            return self
        if interface not in self.interface_details:
            raise ModelError(f"{self.path}: the FMU does not offer {interface} "
                             f"(it offers {', '.join(self.interfaces)})")
        _check_supported(self.path, self.fmi_version, interface)
        identifier, state, serialize, variable_step = self.interface_details[interface]
        return dataclasses.replace(
            self, interface=interface, model_identifier=identifier, can_get_and_set_state=state,
            can_serialize_state=serialize, can_handle_variable_step=variable_step)

    def unit(self, name: str | None) -> Unit | None:
        """The definition of unit ``name``: the model's own, else cosim's catalog; None if unknown."""
        if name is None:
            return None
        return self.units.get(name) or CATALOG.get(name)

    def variable(self, name: str, *, component: str | None = None) -> Variable:
        """The variable ``name``; a ModelError names close matches if there is none."""
        try:
            return self.variables[name]
        except KeyError:
            owner = f"component '{component}' ({self.name})" if component else f"model '{self.name}'"
            raise ModelError(f"{owner} has no variable {name!r}"
                             f"{did_you_mean(name, self.variables)}") from None

    def of_causality(self, causality: str) -> list[Variable]:
        return [v for v in self.variables.values() if v.causality == causality]

    @property
    def inputs(self) -> list[Variable]:
        return self.of_causality("input")

    @property
    def outputs(self) -> list[Variable]:
        return self.of_causality("output")

    @property
    def parameters(self) -> list[Variable]:
        return self.of_causality("parameter")


def parse_start(type_: str, text):
    """A start value from its XML text, as the Python value of its canonical type."""
    if text is None:
        return None
    if type_ == "bool":
        return str(text).strip().lower() in ("true", "1")
    if type_ in ("float64", "float32"):
        return float(text)
    if type_ in ("string", "binary", "clock"):
        return text
    return int(text)


def _check_supported(path: str, version: str, interface: str) -> None:
    if interface == MODEL_EXCHANGE and version != "2.0":
        raise ModelError(f"{path}: FMI {version} model exchange is not supported "
                         "(cosim runs FMI 2.0 model exchange and FMI 2.0/3.0 co-simulation FMUs)")


def _interface_details(md) -> dict:
    details = {}
    if md.coSimulation is not None:
        cs = md.coSimulation
        details[CO_SIMULATION] = (cs.modelIdentifier, bool(cs.canGetAndSetFMUstate),
                                  bool(cs.canSerializeFMUstate),
                                  bool(cs.canHandleVariableCommunicationStepSize))
    if md.modelExchange is not None:
        me = md.modelExchange
        # The solver picks the step sizes, so any communication step will do.
        details[MODEL_EXCHANGE] = (me.modelIdentifier, bool(me.canGetAndSetFMUstate),
                                   bool(me.canSerializeFMUstate), True)
    return details


def model_info_from_description(md, path: str) -> ModelInfo:
    """Build a :class:`ModelInfo` from an fmpy ``ModelDescription``.

    It describes co-simulation if the FMU offers it, else model exchange.
    """
    version = "3.0" if md.fmiVersion.startswith("3") else md.fmiVersion
    details = _interface_details(md)
    if not details:
        raise ModelError(f"{path}: the FMU offers neither co-simulation nor model exchange "
                         "(its modelDescription.xml has no CoSimulation or ModelExchange element)")
    interface = CO_SIMULATION if CO_SIMULATION in details else MODEL_EXCHANGE
    _check_supported(path, version, interface)
    identifier, can_state, can_serialize, variable_step = details[interface]
    variables = {}
    for v in md.modelVariables:
        type_ = ENUMERATION_TYPE[version] if v.type == "Enumeration" else CANONICAL_TYPES.get(v.type)
        if type_ is None:
            raise ModelError(f"{path}: variable {v.name!r} has unknown type {v.type!r}")
        unit = v.unit or (v.declaredType.unit if v.declaredType is not None else None)
        variables[v.name] = Variable(
            name=v.name, value_reference=int(v.valueReference), type=type_,
            causality=v.causality, variability=v.variability, initial=v.initial,
            start=parse_start(type_, v.start), unit=unit, description=v.description,
            shape=tuple(v.shape or ()))
    inputs = tuple(v.name for v in md.modelVariables if v.causality == "input")
    dependencies = {}
    for unknown in md.outputs:
        if unknown.dependencies is None:        # not declared: depends on every input
            dependencies[unknown.variable.name] = inputs
        else:
            dependencies[unknown.variable.name] = tuple(
                d.name for d in unknown.dependencies if d.causality == "input")
    for v in md.modelVariables:                # outputs missing from ModelStructure
        if v.causality == "output" and v.name not in dependencies:
            dependencies[v.name] = inputs
    exp = md.defaultExperiment
    default = DefaultExperiment()
    if exp is not None:
        as_float = lambda x: float(x) if x is not None else None
        default = DefaultExperiment(as_float(exp.startTime), as_float(exp.stopTime),
                                    as_float(exp.stepSize), as_float(exp.tolerance))
    return ModelInfo(
        path=path, name=md.modelName, fmi_version=version,
        token=md.guid if version == "2.0" else (md.instantiationToken or md.guid),
        model_identifier=identifier, description=md.description or "",
        variables=variables, dependencies=dependencies, default_experiment=default,
        can_get_and_set_state=can_state, can_serialize_state=can_serialize,
        can_handle_variable_step=variable_step,
        units={u.name: unit_from_definition(u.name, u.baseUnit) for u in md.unitDefinitions},
        interface=interface, number_of_states=len(md.derivatives or ()),
        number_of_event_indicators=int(md.numberOfEventIndicators or 0),
        interface_details=details)
