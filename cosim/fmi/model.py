"""What cosim knows about a model from its modelDescription.xml.

:class:`ModelInfo` is read once per FMU (through fmpy) and is enough to
compose and validate a system without loading any binary.

An FMU offers co-simulation, model exchange or both.  Its ModelInfo
describes the interface cosim uses: co-simulation when the FMU offers it,
else model exchange; :meth:`ModelInfo.for_interface` gives the other one.

Real exporters get the description wrong in small ways (duplicate names,
integers declared continuous, calculated outputs with start values).  fmpy
refuses such files; :func:`read_model_info` reads them again without
validation, repairs what it can and keeps one warning per problem in
:attr:`ModelInfo.warnings`.  Only what cannot be repaired (malformed XML,
no modelIdentifier) is an error.
"""

from __future__ import annotations

import dataclasses
import threading
import zipfile
from dataclasses import dataclass, field
from typing import Any

from cosim.errors import ModelError, did_you_mean
from cosim.fmi.fmi1 import (Fmi1Details, Fmi1Variable, fmi1_dependencies,
                            fmi1_roles, read_fmi1_details)
from cosim.units import CATALOG, Unit, unit_from_definition

# libxml2's XML Schema code is not safe to use from several threads at once
# (clients creating systems together on one server failed with "Internal
# error: xmlSchemaPValAttrNodeValue"): every schema check takes this lock.
XML_SCHEMA_LOCK = threading.Lock()

# FMI type names mapped onto one canonical name per value representation;
# connections are type-compatible when their canonical names are equal.
CANONICAL_TYPES = {
    "Real": "float64", "Float64": "float64", "Float32": "float32",
    "Integer": "int32", "Int32": "int32", "Int8": "int8", "UInt8": "uint8",
    "Int16": "int16", "UInt16": "uint16", "UInt32": "uint32",
    "Int64": "int64", "UInt64": "uint64",
    "Boolean": "bool", "String": "string", "Binary": "binary", "Clock": "clock",
}
# Enumerations travel as Integer in FMI 1 and 2 and as Int64 in FMI 3.
ENUMERATION_TYPE = {"1.0": "int32", "2.0": "int32", "3.0": "int64"}
CAUSALITIES = ("parameter", "calculatedParameter", "structuralParameter", "input", "output",
               "local", "independent")
VARIABILITIES = ("constant", "fixed", "tunable", "discrete", "continuous")
INITIALS = (None, "exact", "approx", "calculated")
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
    # per dimension: the structural parameter that sizes it, or None for a fixed size
    dimension_parameters: tuple[str | None, ...] = ()
    # FMI 3 clocked variables: the clocks whose ticks they change (and may be set or read) at
    clocks: tuple[str, ...] = ()
    # FMI 3 clocks: intervalVariability, and intervalDecimal and shiftDecimal where declared
    interval_variability: str | None = None
    interval: float | None = None
    shift: float | None = None

    @property
    def size(self) -> int:
        """Number of elements: 1 for a scalar."""
        count = 1
        for d in self.shape:
            count *= d
        return count

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
    can_interpolate_inputs: bool = False
    # highest derivative order of outputs the FMU computes (maxOutputDerivativeOrder)
    max_output_derivative_order: int = 0
    # FMI 3 co-simulation: the FMU can hand its events to the importer's event
    # mode (hasEventMode), and may end fmi3DoStep before the communication
    # point (mightReturnEarlyFromDoStep); both False otherwise
    has_event_mode: bool = False
    might_return_early: bool = False
    units: dict[str, Unit] = field(default_factory=dict)
    # Defects found in the FMU and tolerated, each a sentence naming the
    # variable, function or file concerned.
    warnings: tuple[str, ...] = ()
    interface: str = CO_SIMULATION
    number_of_states: int = 0
    # the continuous states (ModelStructure/Derivatives), in their order there
    states: tuple[str, ...] = ()
    number_of_event_indicators: int = 0
    # interface -> (model_identifier, can_get_and_set_state, can_serialize_state,
    # can_handle_variable_step, can_interpolate_inputs, max_output_derivative_order)
    # for each interface the FMU offers
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
        identifier, state, serialize, variable_step, interpolate, derivatives = \
            self.interface_details[interface]
        _check_identifier(self.path, interface, identifier)
        # Only co-simulation has event mode and early return; only model
        # exchange can be asked for here (co-simulation is the default).
        return dataclasses.replace(
            self, interface=interface, model_identifier=identifier, can_get_and_set_state=state,
            can_serialize_state=serialize, can_handle_variable_step=variable_step,
            can_interpolate_inputs=interpolate, max_output_derivative_order=derivatives,
            has_event_mode=False, might_return_early=False)

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
    """A start value from its XML text, as the Python value of its canonical type
    (a tuple of them for the start of an FMI 3 array)."""
    if text is None:
        return None
    if type_ not in ("string", "binary", "clock") and len(str(text).split()) > 1:
        # FMI 3 arrays give their start values as one space-separated list
        return tuple(parse_start(type_, item) for item in str(text).split())
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
                         "(cosim runs FMI 2.0 model exchange and FMI 1.0/2.0/3.0 co-simulation FMUs)")


def _check_identifier(path: str, interface: str, identifier) -> None:
    if not identifier:
        element = "CoSimulation" if interface == CO_SIMULATION else "ModelExchange"
        raise ModelError(f"{path}: the {element} element has no modelIdentifier, which names "
                         "the FMU's binary; the FMU cannot be loaded without it")


def _interface_details(md, fmi1: Fmi1Details | None) -> dict:
    details = {}
    if fmi1 is not None:
        # FMI 1.0 co-simulation: no FMU state; input derivatives are set for FMI 2.0 only.
        return {CO_SIMULATION: (md.coSimulation.modelIdentifier, False, False,
                                fmi1.can_handle_variable_step, False, 0)}
    if md.coSimulation is not None:
        cs = md.coSimulation
        details[CO_SIMULATION] = (cs.modelIdentifier, bool(cs.canGetAndSetFMUstate),
                                  bool(cs.canSerializeFMUstate),
                                  bool(cs.canHandleVariableCommunicationStepSize),
                                  bool(getattr(cs, "canInterpolateInputs", False)),
                                  _derivative_order(cs))
    if md.modelExchange is not None:
        me = md.modelExchange
        # The solver picks the step sizes, so any communication step will do.
        details[MODEL_EXCHANGE] = (me.modelIdentifier, bool(me.canGetAndSetFMUstate),
                                   bool(me.canSerializeFMUstate), True, False, 0)
    return details


def _derivative_order(cs) -> int:
    """maxOutputDerivativeOrder of a CoSimulation element (0 when absent or unreadable)."""
    try:
        return max(int(getattr(cs, "maxOutputDerivativeOrder", 0) or 0), 0)
    except (TypeError, ValueError):
        return 0


def model_info_from_description(md, path: str, *, fmi1: Fmi1Details | None = None) -> ModelInfo:
    """Build a :class:`ModelInfo` from an fmpy ``ModelDescription``.

    It describes co-simulation if the FMU offers it, else model exchange.  An
    FMI 1.0 description also needs ``fmi1``, read from the same file with
    :func:`cosim.fmi.fmi1.read_fmi1_details`.
    """
    version = _version(md, path, fmi1)
    details = _interface_details(md, fmi1 if version == "1.0" else None)
    if not details:
        raise ModelError(f"{path}: the FMU offers neither co-simulation nor model exchange "
                         "(its modelDescription.xml has no CoSimulation or ModelExchange element)")
    interface = CO_SIMULATION if CO_SIMULATION in details else MODEL_EXCHANGE
    _check_supported(path, version, interface)
    identifier, can_get_and_set, can_serialize, variable_step, interpolate, derivative_order = \
        details[interface]
    _check_identifier(path, interface, identifier)
    fmi1_variables = fmi1.variables if version == "1.0" and fmi1 is not None else {}
    variables = {}
    for position, v in enumerate(md.modelVariables, start=1):
        variable = _variable(v, position, path, version, fmi1_variables)
        if variable is not None:
            variables[v.name] = variable
    cs = md.coSimulation if version == "3.0" and interface == CO_SIMULATION else None
    return ModelInfo(
        path=path, name=md.modelName, fmi_version=version, token=_token(md, path, version),
        model_identifier=identifier, description=md.description or "",
        variables=variables, dependencies=_dependencies(md, variables, version, fmi1),
        default_experiment=_default_experiment(md.defaultExperiment),
        can_get_and_set_state=can_get_and_set, can_serialize_state=can_serialize,
        can_handle_variable_step=variable_step, can_interpolate_inputs=interpolate,
        max_output_derivative_order=derivative_order,
        # FMI 1.0 has only display units, no SI definitions.
        units={} if version == "1.0" else {
            u.name: unit_from_definition(u.name, u.baseUnit) for u in md.unitDefinitions},
        has_event_mode=bool(getattr(cs, "hasEventMode", False)),
        might_return_early=bool(getattr(cs, "mightReturnEarlyFromDoStep", False)),
        interface=interface, number_of_states=len(md.derivatives or ()),
        states=tuple(d.variable.derivative.name for d in md.derivatives or ()
                     if d.variable.derivative is not None),
        number_of_event_indicators=int(md.numberOfEventIndicators or 0),
        interface_details=details)


def _version(md, path: str, fmi1: Fmi1Details | None) -> str:
    """The FMI version ("1.0", "2.0", "3.0"), refusing what cosim cannot run."""
    version = "3.0" if md.fmiVersion.startswith("3.") else md.fmiVersion
    if version not in ENUMERATION_TYPE:
        raise ModelError(f"{path}: FMI version {md.fmiVersion} is not supported "
                         "(supported: 1.0 co-simulation, 2.0, 3.0)")
    if version == "1.0":
        if fmi1 is None:
            raise TypeError("an FMI 1.0 description needs fmi1=read_fmi1_details(...)")
        if md.coSimulation is None or fmi1.implementation is None:
            raise ModelError(f"{path}: FMI 1.0 model exchange is not supported; cosim runs FMI 1.0 "
                             "co-simulation FMUs (with <Implementation><CoSimulation_StandAlone>) "
                             "and FMI 2.0/3.0 co-simulation FMUs. Export the model for co-simulation")
    return version


def _variable(v, position: int, path: str, version: str,
              fmi1_variables: dict[str, Fmi1Variable]) -> Variable | None:
    """One model variable, checked; None for one cosim leaves out."""
    if not v.name or v.valueReference is None:
        raise ModelError(f"{path}: model variable #{position} ({v.name or 'no name'}) has "
                         f"{'no valueReference' if v.name else 'no name'}")
    causality, variability = v.causality, v.variability
    if version == "1.0":
        raw = fmi1_variables[v.name]
        # A negated alias shares its value reference with a variable of the
        # opposite sign; reading it through the reference would give the
        # wrong sign, so it is left out (its original is there).
        if raw.alias == "negatedAlias":
            return None
        # fmpy reads the variability as FMI 1.0 means it (and carries the
        # lenient reader's repairs); the causality needs FMI 1.0's rules.
        causality = fmi1_roles(raw)[0]
    type_ = ENUMERATION_TYPE[version] if v.type == "Enumeration" else CANONICAL_TYPES.get(v.type)
    if type_ is None:
        raise ModelError(f"{path}: variable {v.name!r} has unknown type {v.type!r}")
    for attribute, value, allowed in (("causality", causality, CAUSALITIES),
                                      ("variability", variability, VARIABILITIES),
                                      ("initial", v.initial, INITIALS)):
        if value not in allowed:
            # cosim cannot guess what an unknown role means for setting or stepping.
            raise ModelError(f"{path}: invalid modelDescription.xml: variable {v.name!r} has "
                             f"{attribute}={value!r}; expected one of "
                             f"{', '.join(a for a in allowed if a)}")
    try:
        start = parse_start(type_, v.start)
    except (TypeError, ValueError):
        raise ModelError(f"{path}: variable {v.name!r} has start value {v.start!r}, "
                         f"which is not a {v.type} value") from None
    unit = v.unit or (v.declaredType.unit if v.declaredType is not None else None)
    return Variable(
        name=v.name, value_reference=int(v.valueReference), type=type_,
        causality=causality, variability=variability, initial=v.initial,
        start=start, unit=unit, description=v.description,
        shape=tuple(v.shape or ()),
        dimension_parameters=tuple(d.variable.name if d.start is None and d.variable is not None
                                   else None for d in (v.dimensions or ())),
        clocks=tuple(c.name for c in (v.clocks or ()) if hasattr(c, "name")),
        interval_variability=getattr(v, "intervalVariability", None))


def _dependencies(md, variables: dict[str, Variable], version: str,
                  fmi1: Fmi1Details | None) -> dict[str, tuple[str, ...]]:
    """Output -> the inputs it depends on directly (all of them where undeclared)."""
    inputs = tuple(v.name for v in variables.values() if v.causality == "input")
    dependencies: dict[str, tuple[str, ...]] = {}
    if version == "1.0":
        assert fmi1 is not None     # an FMI 1.0 description without it was refused by _version
        dependencies = fmi1_dependencies(variables, fmi1, inputs)
    for unknown in md.outputs:
        if unknown.dependencies is None:        # not declared: depends on every input
            dependencies[unknown.variable.name] = inputs
        else:
            dependencies[unknown.variable.name] = tuple(
                d.name for d in unknown.dependencies if d.causality == "input")
    for v in variables.values():               # outputs missing from ModelStructure
        if v.causality == "output" and v.name not in dependencies:
            dependencies[v.name] = inputs
    return dependencies


def _default_experiment(exp) -> DefaultExperiment:
    if exp is None:
        return DefaultExperiment()

    def as_float(x):
        return float(x) if x is not None else None

    return DefaultExperiment(as_float(exp.startTime), as_float(exp.stopTime),
                             as_float(exp.stepSize), as_float(exp.tolerance))


def _token(md, path: str, version: str) -> str:
    token = md.guid if version in ("1.0", "2.0") else (md.instantiationToken or md.guid)
    if not token:
        raise ModelError(f"{path}: modelDescription.xml has no "
                         f"{'instantiationToken' if version == '3.0' else 'guid'}, which the FMU "
                         "needs to be instantiated")
    return token


# -- tolerated defects ---------------------------------------------------------------

FLOAT_TYPES = ("Real", "Float64", "Float32")
def read_model_info(path: str) -> ModelInfo:
    """Read the model description of the FMU at ``path``, tolerating common defects.

    The description is read strictly first (FMI schema and fmpy's checks).
    If that fails on validation only, it is read again without validation:
    duplicate variable names keep their first declaration, non-Real
    variables declared continuous become discrete, start values of
    calculated variables are dropped, and every problem, repaired or not,
    becomes a sentence in :attr:`ModelInfo.warnings`.  FMI 1.0 descriptions
    also get what fmpy does not read (:func:`read_fmi1_details`).

    Raises
    ------
    ModelError
        Naming ``path``: malformed XML, unsupported FMI version, no
        co-simulation interface or modelIdentifier, variables without name
        or value reference, start values of the wrong type.
    """
    import fmpy
    from fmpy.model_description import ValidationError

    try:
        with XML_SCHEMA_LOCK:
            md = fmpy.read_model_description(path, validate=True)
        warnings = []
    except ValidationError as exc:
        md, warnings = _read_leniently(path, exc.problems)
    except Exception as exc:  # fmpy raises plain exceptions and lxml errors
        raise ModelError(f"{path}: invalid modelDescription.xml: {exc}") from None
    fmi1 = None
    if md.fmiVersion == "1.0":      # what fmpy leaves out of FMI 1.0 descriptions
        with zipfile.ZipFile(path) as zf:
            fmi1 = read_fmi1_details(zf.read("modelDescription.xml"), path)
    model = model_info_from_description(md, path, fmi1=fmi1)
    model.warnings = tuple(warnings)
    if any(v.type == "clock" for v in model.variables.values()):
        with zipfile.ZipFile(path) as zf:
            model.variables = with_clock_timing(model.variables, zf.read("modelDescription.xml"),
                                                path)
    return model


def with_clock_timing(variables: dict[str, Variable], xml: bytes, path: str) -> dict[str, Variable]:
    """``variables`` with the intervalDecimal and shiftDecimal of their clocks,
    read from the text of an FMI 3 ``modelDescription.xml`` (fmpy does not keep them)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(xml, parser=parser)
    timed = dict(variables)
    for element in root.iterfind("ModelVariables/Clock"):
        var = variables.get(element.get("name"))
        if var is None or var.type != "clock":
            continue
        values: dict[str, float | None] = {"interval": var.interval, "shift": var.shift}
        for attribute, key in (("intervalDecimal", "interval"), ("shiftDecimal", "shift")):
            text = element.get(attribute)
            if text is None:
                continue
            try:
                values[key] = float(text)
            except ValueError:
                raise ModelError(f"{path}: clock {var.name!r} has {attribute}={text!r}, "
                                 "which is not a number") from None
        timed[var.name] = dataclasses.replace(var, interval=values["interval"], shift=values["shift"])
    return timed


def _read_leniently(path: str, strict_problems: list[str]):
    """(description, warnings) of a description that failed validation."""
    import fmpy

    try:
        md = fmpy.read_model_description(path, validate=False)
    except Exception as exc:  # noqa: BLE001 - whatever fmpy trips on makes the file unreadable
        problems = "; ".join(strict_problems)
        raise ModelError(f"{path}: invalid modelDescription.xml: {exc} (validation: {problems})") from None
    # fmpy stops at the first failing stage: when the schema failed, its
    # checks of the content never ran, and the problems are schema problems.
    content_problems = _content_problems(md)
    warnings = [f"modelDescription.xml does not follow the FMI schema: {p}"
                for p in strict_problems if p not in content_problems]
    warnings += _repair(md)
    warnings += [f"modelDescription.xml: {p}" for p in _content_problems(md)]
    return md, warnings


def untolerated_problems(path: str) -> list[str]:
    """What ``fmpy.validation.validate_fmu`` finds in the FMU at ``path`` that
    :func:`read_model_info` does not tolerate (those it tolerates end up in
    :attr:`ModelInfo.warnings`, one sentence each).

    fmpy's own reading stops at its first failing check; validate_fmu also
    checks variable names and the model structure.  Its findings from the
    check that made the strict reading fail are tolerated; so are later ones
    that go away with the repairs.  Whatever is left is a defect cosim does
    not know how to handle.

    Raises ModelError when the description cannot be read at all.
    """
    import fmpy
    from fmpy.model_description import ValidationError
    from fmpy.validation import validate_fmu, validate_model_description

    with XML_SCHEMA_LOCK:
        found = validate_fmu(path)
    try:
        with XML_SCHEMA_LOCK:
            fmpy.read_model_description(path, validate=True)
        return found
    except ValidationError as exc:
        tolerated = set(exc.problems)
    except Exception as exc:  # fmpy raises plain exceptions and lxml errors
        raise ModelError(f"{path}: invalid modelDescription.xml: {exc}") from None

    def full_check(md) -> set[str]:
        try:
            return set(validate_model_description(md, validate_variable_names=True,
                                                  validate_model_structure=True))
        except Exception:  # noqa: BLE001 - fmpy's checks assume a schema-valid file
            return set()

    md = fmpy.read_model_description(path, validate=False)
    before = full_check(md)
    _repair(md)
    tolerated |= before - full_check(md)
    return [p for p in found if p not in tolerated]


def _content_problems(md) -> list[str]:
    from fmpy.validation import validate_model_description

    try:
        return validate_model_description(md)
    except Exception as exc:  # noqa: BLE001 - fmpy's checks assume a schema-valid file
        return [f"its content could not be checked completely ({type(exc).__name__}: {exc})"]


def _repair(md) -> list[str]:
    """Fix, in place, the defects cosim knows how to tolerate; one warning each."""
    warnings = []
    first: dict[str, Any] = {}          # fmpy's ModelVariable objects, by name
    kept: list[Any] = []
    dropped: set[int] = set()
    for v in md.modelVariables:
        if v.name in first:
            warnings.append(
                f"variable name {v.name!r} is declared twice (value references "
                f"{first[v.name].valueReference} and {v.valueReference}); the first is used, "
                f"value reference {v.valueReference} is not reachable by name")
            dropped.add(id(v))
            continue
        first[v.name] = v
        kept.append(v)
    if dropped:
        md.modelVariables[:] = kept
        for unknowns in (md.outputs, md.initialUnknowns, md.derivatives):
            unknowns[:] = [u for u in unknowns if id(u.variable) not in dropped]
            for u in unknowns:
                if u.dependencies is not None:
                    keep = [k for k, d in enumerate(u.dependencies) if id(d) not in dropped]
                    u.dependencies = [u.dependencies[k] for k in keep]
                    if u.dependenciesKind is not None:
                        u.dependenciesKind = [u.dependenciesKind[k] for k in keep]
    for v in md.modelVariables:
        if v.variability == "continuous" and v.type not in FLOAT_TYPES:
            warnings.append(f"variable {v.name!r} is {v.type} but declared "
                            'variability="continuous", which only Real variables may be; '
                            "it is treated as discrete")
            v.variability = "discrete"
        if v.initial == "calculated" and v.start is not None:
            warnings.append(f'variable {v.name!r} has initial="calculated" and a start value '
                            f"({v.start}); the start value is ignored")
            v.start = None
    return warnings
