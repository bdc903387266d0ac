"""Reading SSP: ``.ssp`` archives and bare ``.ssd`` files into a :class:`cosim.System`.

Every problem found is collected with its location (file, line, element)
instead of stopping at the first, so that validation can report them all;
:func:`cosim.ssp.load` raises :class:`SspError` listing the errors (the entry
points and the unpacking of archives are in :mod:`cosim.ssp.files`).

SSP 2.0 files (``version="2.0"``; SSP 2.0 keeps the SSP1 namespace URIs)
are read as SSP 1.0 ones, with the 2.0 value types (``Float64``, ``Int32``,
...).  Defects of other tools' files whose meaning is unambiguous are
accepted with a warning, or reported as errors with ``strict=True``:
connections written from the input to the output, and parameter values
naming variables the system does not have (SSP says to ignore them).
System connectors of kind ``parameter`` pass their value (bound to the
system) to the parameters they are connected to.

Untrusted files (a server reading what a client sent) are read with
``confine_to``, which refuses references to files outside the archive or a
root folder (see :mod:`cosim.ssp.confine`), and ``max_unpacked_bytes``,
which bounds what the archive and the FMUs in it unpack to, together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from lxml import etree

from cosim.errors import CosimError, did_you_mean
from cosim.fmi.archive import UnpackBudget, is_file
from cosim.fmi.model import XML_SCHEMA_LOCK
from cosim.ssp.confine import Confinement, ReferenceRefused, shown
from cosim.ssp.report import Problem, Report, xml_child, xml_children, xml_local
from cosim.system import System
from cosim.units import BASE_UNITS, CATALOG, Unit, UnitError, conversion

if TYPE_CHECKING:
    from cosim.ssp.files import _Folder

log = logging.getLogger("cosim")

MASTER_ANNOTATION = "org.cosim.master"
# On a component: how cosim runs it (<cm:Component isolate="true"/>).
COMPONENT_ANNOTATION = "org.cosim.component"
MASTER_NAMESPACE = "https://cosim.dev/ssp/master/1"
_SCHEMA_DIR = "ssp/schema"      # inside the fmpy package
# Type and value elements (SSP 1.0, and the FMI 3 types SSP 2.0 adds) -> cosim types.
_TYPES = {"Real": "float64", "Float64": "float64", "Float32": "float32",
          "Integer": "int32", "Int8": "int8", "UInt8": "uint8", "Int16": "int16",
          "UInt16": "uint16", "Int32": "int32", "UInt32": "uint32", "Int64": "int64",
          "UInt64": "uint64", "Boolean": "bool", "String": "string", "Enumeration": "int32"}
# Ports carry float64, int32 or bool; a string connector reads as a float one, as it always did.
_PORT_TYPES = {"float64": "float64", "float32": "float64", "bool": "bool", "string": "float64"}
_PARAMETER_KINDS = ("parameter", "calculatedParameter")


def _float(text, default=None):
    return default if text is None else float(text)


def _parse_value(kind: str, text):
    """The Python value of an SSV value element; TypeError or ValueError if invalid."""
    if kind == "Boolean":
        return text.strip().lower() in ("true", "1")
    if kind == "String":
        return str(text)
    return float(text) if _TYPES[kind].startswith("float") else int(text)


@dataclass
class _Exposed:
    """A system connector of kind parameter or calculatedParameter: its value
    (bound to the system) goes to ``targets``, (path, scale, shift) inside the system."""

    element: object
    unit: str | None
    value: object = None
    targets: list = field(default_factory=list)


def _transformed(value, scale: float, shift: float):
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)
                                     and (scale, shift) != (1.0, 0.0)):
        return scale * value + shift
    return value


class _Reader:
    # the unpacked .ssp's folder, shared by every System read from it
    resources: _Folder | None = None

    def __init__(self, report: Report, parameter_set: str | None, *,
                 confine: Confinement | None = None, budget: UnpackBudget | None = None):
        self.report = report
        self.parameter_set = parameter_set
        self.confine = confine
        self.budget = budget
        self.set_names: set[str] = set()
        self.units: dict[str, Unit] = {}
        self.exposed: dict[System, dict[str, _Exposed]] = {}    # parameter connectors by system
        # components that could not be added (already reported), whose connections are skipped
        self.unloaded: dict[System, set[str]] = {}

    # -- problems -------------------------------------------------------------------

    def where(self, file: Path, element=None) -> str:
        if element is None:
            return str(file)
        name = element.get("name")
        what = f"<{xml_local(element)}{f' name={name!r}' if name else ''}>"
        return f"{file}:{element.sourceline} {what}"

    def error(self, file, element, message):
        self.report.problems.append(Problem("error", self.where(file, element), message))

    def warning(self, file, element, message):
        self.report.problems.append(Problem("warning", self.where(file, element), message))

    def tolerate(self, file, element, message):
        """A defect whose meaning is unambiguous: accepted with a warning, an error when strict."""
        if self.report.strict:
            self.error(file, element, f"{message} (accepted without strict)")
        else:
            self.warning(file, element, message)

    def attempt(self, file, element, action):
        """Run an edit of the system; a cosim error becomes a problem at ``element``."""
        try:
            action()
            return True
        except CosimError as exc:
            self.error(file, element, str(exc))
            return False

    # -- references to other files ---------------------------------------------------

    def referenced(self, path, element, reference: str, base: Path) -> Path | None:
        """The file ``reference`` names (None if it is no relative or file URI);
        raises ReferenceRefused, naming ``element``, when confined and it leads out."""
        if self.confine is None:
            return _resolve_uri(reference, base)
        try:
            return self.confine.resolve(reference, base)
        except ReferenceRefused as exc:
            raise ReferenceRefused(f"{self.where(path, element)}: {exc}") from None

    def remote(self, path, element, source: str) -> str:
        if self.confine is None:
            return source
        try:
            return self.confine.remote(source)
        except ReferenceRefused as exc:
            raise ReferenceRefused(f"{self.where(path, element)}: {exc}") from None

    # -- XML --------------------------------------------------------------------------

    def parse(self, path: Path, validate: bool = True):
        # No entities from outside the file: they could name any file on the machine.
        parser = etree.XMLParser(remove_blank_text=False, resolve_entities=False, no_network=True)
        try:
            tree = etree.parse(str(path), parser)
        except OSError as exc:
            self.error(path, None, f"cannot read: {exc}")
            return None
        except etree.XMLSyntaxError as exc:
            self.report.problems.append(Problem(
                "error", f"{path}:{exc.lineno}", f"malformed XML: {exc.msg}"))
            return None
        root = tree.getroot()
        if validate:
            self.validate_schema(path, tree)
        return root

    def validate_schema(self, path: Path, tree) -> None:
        root = tree.getroot()
        schema_file = {"SystemStructureDescription": "SystemStructureDescription.xsd",
                       "ParameterSet": "SystemStructureParameterValues.xsd",
                       "ParameterMapping": "SystemStructureParameterMapping.xsd"}.get(xml_local(root))
        version = str(root.get("version", "1.0"))
        if schema_file is not None and not version.startswith(("1.", "2.")):
            self.tolerate(path, root, f"SSP version {version!r}: cosim reads SSP 1.0 and 2.0; "
                                      "reading the file as SSP 2.0")
        if schema_file is None or not version.startswith("1."):
            return      # the bundled schemas are those of SSP 1.0; 2.0 files are read structurally
        with XML_SCHEMA_LOCK:       # a schema object and its error log are shared
            schema = _schema(schema_file)
            if schema is None or schema.validate(tree):
                return
            errors = [(entry.line, entry.message) for entry in schema.error_log]
        for line, message in errors:
            self.report.problems.append(Problem("error", f"{path}:{line}",
                                                f"does not follow the SSP schema: {message}"))

    # -- descriptions -------------------------------------------------------------------

    def read_ssd(self, path: Path) -> System | None:
        root = self.parse(path)
        if root is None:
            return None
        if xml_local(root) != "SystemStructureDescription":
            self.error(path, root, "not an SSD file: the root element must be SystemStructureDescription")
            return None
        self.units = self.read_units(path, xml_child(root, "Units"))
        top = xml_child(root, "System")
        if top is None:
            self.error(path, root, "the description has no System")
            return None
        system = self.read_system(path, top, path.parent)
        experiment = xml_child(root, "DefaultExperiment")
        if experiment is not None and system is not None:
            system.default_experiment.update(self.read_experiment(path, experiment))
        return system

    def read_units(self, path, units) -> dict[str, Unit]:
        found = {}
        for unit in xml_children(units, "Unit") if units is not None else []:
            base = xml_child(unit, "BaseUnit")
            if base is None:
                self.error(path, unit, "unit without BaseUnit")
                continue
            exponents = tuple(int(base.get(b, 0)) for b in BASE_UNITS)
            found[unit.get("name")] = Unit(unit.get("name"), exponents, _float(base.get("factor"), 1.0),
                                           _float(base.get("offset"), 0.0))
        return found

    def read_experiment(self, path, element) -> dict:
        settings: dict[str, float | str] = {}
        for attribute, key in (("startTime", "start_time"), ("stopTime", "stop_time")):
            if element.get(attribute) is not None:
                settings[key] = float(element.get(attribute))
        for annotation in _annotations(element, MASTER_ANNOTATION):
            master = xml_child(annotation, "Master")
            if master is None:
                self.warning(path, annotation, "cosim master annotation without a Master element")
                continue
            for attribute, key, kind in (("algorithm", "algorithm", str), ("stepSize", "step_size", float),
                                         ("outputInterval", "output_interval", float),
                                         ("tolerance", "tolerance", float)):
                if master.get(attribute) is not None:
                    settings[key] = kind(master.get(attribute))
        return settings

    def read_isolation(self, path, element) -> bool:
        """Whether a component's cosim annotation asks for it to run isolated."""
        isolate = False
        for annotation in _annotations(element, COMPONENT_ANNOTATION):
            settings = xml_child(annotation, "Component")
            value = settings.get("isolate") if settings is not None else None
            if value not in ("true", "false", "1", "0"):
                self.warning(path, annotation, "cosim component annotation without a Component "
                             "element whose isolate is true or false; ignored")
                continue
            isolate = value in ("true", "1")
        return isolate

    def read_system(self, path: Path, element, base: Path) -> System | None:
        system = System(element.get("name") or "system")
        system.units = dict(self.units)
        # System.resources is not annotated (it reads as None to mypy); it holds this folder
        system.resources = self.resources
        for connector in self.connectors(element):
            self.read_port(path, system, connector)
        elements = xml_child(element, "Elements")
        for child in list(elements) if elements is not None else []:
            kind = xml_local(child)
            if kind == "Component":
                self.read_component(path, system, child, base)
                if child.get("name") not in system:
                    self.unloaded.setdefault(system, set()).add(child.get("name"))
            elif kind == "System":
                inner = self.read_system(path, child, base)
                if inner is not None:
                    self.attempt(path, child, lambda c=child, s=inner: system.add(c.get("name"), s))
            elif kind == "SignalDictionaryReference":
                self.error(path, child, "signal dictionaries are not supported")
        self.read_bindings(path, system, element, base, owner=None)
        connections = xml_child(element, "Connections")
        for connection in xml_children(connections, "Connection") if connections is not None else []:
            self.read_connection(path, system, connection)
        self.propagate(path, system)
        return system

    def propagate(self, path, system) -> None:
        """Give the parameters connected to the system's parameter connectors the
        connectors' values: SSP passes them on at initialization, before any step."""
        for exposed in self.exposed.get(system, {}).values():
            if exposed.value is None:
                continue            # the connected parameters keep their own values
            for target, scale, shift in exposed.targets:
                value = _transformed(exposed.value, scale, shift)
                self.attempt(path, exposed.element, lambda t=target, v=value: system.set_parameter(t, v))

    def connectors(self, element):
        connectors = xml_child(element, "Connectors")
        return xml_children(connectors, "Connector") if connectors is not None else []

    def read_port(self, path, system, connector):
        kind = connector.get("kind")
        type_element = next((c for c in connector if xml_local(c) in _TYPES), None)
        unit = type_element.get("unit") if type_element is not None else None
        if kind in _PARAMETER_KINDS:
            self.exposed.setdefault(system, {})[connector.get("name")] = _Exposed(connector, unit)
            return
        if kind not in ("input", "output"):
            self.error(path, connector, f"system connectors of kind {kind!r} are not supported "
                                        "(only input, output, parameter and calculatedParameter)")
            return
        type_ = _TYPES.get(xml_local(type_element), "float64") if type_element is not None else "float64"
        self.attempt(path, connector, lambda: system.add_port(
            connector.get("name"), kind, type=_PORT_TYPES.get(type_, "int32"),
            unit=unit, description=connector.get("description")))

    def read_component(self, path, system, element, base: Path):
        name, source = element.get("name"), element.get("source")
        type_ = element.get("type", "application/x-fmu-sharedlibrary")
        if type_ != "application/x-fmu-sharedlibrary":
            self.error(path, element, f"component type {type_!r} is not supported (only FMUs)")
            return
        if source is None:
            self.error(path, element, "component without source")
            return
        # A remote twin (its token comes from COSIM_TOKEN, its CA from COSIM_TLS_CA).
        fmu: str | Path | None
        if source.startswith("grpc://"):
            fmu = self.remote(path, element, source)
        else:
            fmu = self.referenced(path, element, source, base)
        if fmu is None:
            self.error(path, element, f"source {shown(source)} is not a relative or file URI")
            return
        if isinstance(fmu, Path) and self.budget is not None:
            self.budget.charge_archive(fmu)
        isolate = self.read_isolation(path, element)
        if not self.attempt(path, element, lambda: system.add(name, fmu, isolate=isolate)):
            return
        model = system.model(name)
        for connector in self.connectors(element):
            cname = connector.get("name")
            if cname not in model.variables:
                label = fmu.name if isinstance(fmu, Path) else fmu
                self.error(path, connector, f"component '{name}' ({label}) has no variable "
                                            f"{cname!r}{did_you_mean(cname, model.variables)}")
        self.read_bindings(path, system, element, base, owner=name)

    # -- parameters -----------------------------------------------------------------------

    def read_bindings(self, path, system, element, base, *, owner):
        """Apply the element's parameter bindings in order.  The sets bound to one
        element are alternatives when one of them has the selected name: then
        only sets of that name apply there."""
        bindings = xml_child(element, "ParameterBindings")
        loaded = []
        for binding in xml_children(bindings, "ParameterBinding") if bindings is not None else []:
            values_file, values = self.binding_values(path, binding, base)
            if values is not None:
                self.set_names.add(values.get("name"))
                loaded.append((binding, values_file, values))
        if any(values.get("name") == self.parameter_set for _, _, values in loaded):
            loaded = [entry for entry in loaded if entry[2].get("name") == self.parameter_set]
        for binding, values_file, values in loaded:
            mapping = self.read_mapping(path, binding, base)
            parameters = xml_child(values, "Parameters")
            for parameter in xml_children(parameters, "Parameter") if parameters is not None else []:
                self.read_parameter(values_file, system, parameter, binding.get("prefix", ""),
                                    mapping, owner)

    def binding_values(self, path, binding, base):
        """(file, ParameterSet element) of a binding: from its source file or inline."""
        if binding.get("source"):
            values_file = self.referenced(path, binding, binding.get("source"), base)
            if values_file is None or not is_file(values_file):
                self.error(path, binding, f"parameter values {shown(binding.get('source'))} not found")
                return path, None
            return values_file, self.parse(values_file)
        inline = xml_child(binding, "ParameterValues")
        return path, xml_child(inline, "ParameterSet") if inline is not None else None

    def read_mapping(self, path, binding, base) -> dict:
        element = xml_child(binding, "ParameterMapping")
        if element is None:
            return {}
        file = path
        if element.get("source"):
            file = self.referenced(path, element, element.get("source"), base)
            if file is None or not is_file(file):
                self.error(path, element, f"parameter mapping {shown(element.get('source'))} not found")
                return {}
            root = self.parse(file)
        else:
            root = xml_child(element, "ParameterMapping")
        mapping = {}
        for entry in xml_children(root, "MappingEntry") if root is not None else []:
            transform = xml_child(entry, "LinearTransformation")
            factor = _float(transform.get("factor"), 1.0) if transform is not None else 1.0
            offset = _float(transform.get("offset"), 0.0) if transform is not None else 0.0
            mapping[entry.get("source")] = (entry.get("target"), factor, offset)
        return mapping

    def read_parameter(self, file, system, parameter, prefix, mapping, owner):
        name = prefix + (parameter.get("name") or "")
        value_element = next((c for c in parameter if xml_local(c) in _TYPES), None)
        if value_element is None:
            self.error(file, parameter, "parameter without a value element (Real, Integer, ...)")
            return
        kind, text = xml_local(value_element), value_element.get("value")
        try:
            value = _parse_value(kind, text)
        except (TypeError, ValueError):
            self.error(file, parameter, f"{kind} value {text!r} of parameter {name!r} is not valid")
            return
        if name in mapping:
            name, factor, offset = mapping[name]
            if isinstance(value, float):
                value = factor * value + offset
        target = system.reference(owner, name) if owner else name
        unknown = self.unknown_name(system, target)
        if unknown:
            self.tolerate(file, parameter, f"parameter {target!r} is ignored: {unknown} "
                                           "(SSP ignores values that match no variable)")
            return
        exposed = self.exposed_at(system, target)
        if exposed is not None:
            self.bind_exposed(file, parameter, system, target, exposed, value)
            return
        self.attempt(file, parameter, lambda: system.set_parameter(target, value))

    def exposed_at(self, system, reference) -> _Exposed | None:
        """The parameter connector ``reference`` names: an own one ("P") or one of a
        nested system ("sub.P"); None if it names none."""
        own = self.exposed.get(system, {})
        if isinstance(reference, str) and reference in own:
            return own[reference]
        found = self.nested_connector(system, reference)
        return None if found is None else found[1]

    def nested_connector(self, system, reference) -> tuple[str, _Exposed] | None:
        """(element, connector) when ``reference`` is "sub.P", a parameter
        connector P of the nested system sub (not a port, so the system's own
        resolver does not know it); None otherwise."""
        if not isinstance(reference, str):
            return None
        for element, inner in system.subsystems.items():
            if reference.startswith(element + "."):
                exposed = self.exposed.get(inner, {}).get(reference[len(element) + 1:])
                if exposed is not None:
                    return element, exposed
        return None

    def bind_exposed(self, file, parameter, system, target, exposed, value) -> None:
        if target in self.exposed.get(system, {}):
            exposed.value = value       # passed on once the system's connections are known
            return
        nested = self.nested_connector(system, target)
        assert nested is not None       # exposed_at found target as a nested system's connector
        element = nested[0]
        # A nested system's connector: its value goes to what it is connected to inside,
        # for this instance only; values bound higher up take precedence.
        for inner_target, scale, shift in exposed.targets:
            inner_value = _transformed(value, scale, shift)
            self.attempt(file, parameter, lambda t=inner_target, v=inner_value:
                         system.set_parameter(system.reference(element, t), v))

    def unknown_name(self, system, target: str) -> str | None:
        """Why ``target`` names nothing in ``system`` (element, variable or connector), or None."""
        if self.exposed_at(system, target) is not None:
            return None
        try:
            element, rest = system.split(target)
        except CosimError as exc:
            return str(exc)
        node = system.graph.nodes[element]
        if node["kind"] == "system" and rest:
            inner = node["system"]
            return None if rest in inner.ports else self.unknown_name(inner, rest)
        return None

    # -- connections ------------------------------------------------------------------------

    def read_connection(self, path, system, element):
        if {element.get("startElement"), element.get("endElement")} & self.unloaded.get(system, set()):
            return      # its component's error says what is wrong
        start = _ref(system, element.get("startElement"), element.get("startConnector"))
        end = _ref(system, element.get("endElement"), element.get("endConnector"))
        transform = xml_child(element, "LinearTransformation")
        for other in ("BooleanMappingTransformation", "IntegerMappingTransformation",
                      "EnumerationMappingTransformation"):
            if xml_child(element, other) is not None:
                self.error(path, element, f"{other} is not supported")
                return
        factor = _float(transform.get("factor")) if transform is not None else None
        offset = _float(transform.get("offset")) if transform is not None else None
        suppress = element.get("suppressUnitConversion", "false").lower() == "true"
        if self.exposed_at(system, start) or self.exposed_at(system, end):
            self.read_parameter_connection(path, system, element, start, end, factor, offset)
            return
        ends = self.orient(path, system, element, start, end)
        if ends is not None:
            self.attempt(path, element, lambda: system.connect(
                *ends, factor=factor, offset=offset, suppress_unit_conversion=suppress))

    def orient(self, path, system, element, start, end):
        """(source, target) of a connection: turned round, with a warning, when it is
        written from an input to an output; None after reporting two inputs or two outputs."""
        roles = [_role(system, start, own=element.get("startElement") is None),
                 _role(system, end, own=element.get("endElement") is None)]
        if None in roles or roles == ["source", "sink"]:
            return start, end       # as written; System.connect reports what is wrong
        if roles == ["sink", "source"]:
            self.tolerate(path, element, f"connection written from {start} (receives data) to "
                                         f"{end} (provides data); read as {end} -> {start}")
            return end, start
        what = "inputs (or output connectors of this system)" if roles[0] == "sink" else \
            "outputs (or input connectors of this system)"
        self.error(path, element, f"cannot connect {start} and {end}: both are {what}; a connection "
                                  "goes from an output to an input")
        return None

    def read_parameter_connection(self, path, system, element, start, end, factor, offset):
        """A connection of a parameter connector: the value it is given goes to the
        parameter (or input start value) at the other end, as SSP passes it on
        at initialization."""
        own = [r for r in (start, end) if r in self.exposed.get(system, {})]
        if len(own) != 1:
            self.error(path, element, f"cannot connect {start} and {end}: cosim passes the value "
                                      "of a parameter connector of this system to a parameter "
                                      "inside it, and one end must be such a connector")
            return
        source = self.exposed[system][own[0]]
        target = end if own[0] == start else start
        nested = self.exposed_at(system, target)
        if nested is not None:              # a nested system's parameter connector
            element_name = self.nested_connector(system, target)[0]
            targets = [(system.reference(element_name, t), s, b) for t, s, b in nested.targets]
        else:
            found = self.parameter_target(path, system, element, target, source.unit)
            if found is None:
                return
            targets = [found]
        a = 1.0 if factor is None else factor
        b = 0.0 if offset is None else offset
        source.targets.extend((t, scale * a, scale * b + shift) for t, scale, shift in targets)

    def parameter_target(self, path, system, element, target, unit: str | None):
        """(target, scale, shift) for a variable given the value of a parameter
        connector in ``unit``, with the unit conversion; None after reporting why not."""
        try:
            node, var = system.resolve(target)
        except CosimError as exc:
            self.error(path, element, str(exc))
            return None
        if var.causality not in ("parameter", "input") or var.variability == "constant":
            self.error(path, element, f"cannot connect a parameter connector to {target}: its "
                                      f"causality is {var.causality}; only parameters and inputs "
                                      "take the connector's value")
            return None
        source_unit = self.units.get(unit) or CATALOG.get(unit) if unit else None
        target_unit = system.model(node).unit(var.unit) if var.unit else None
        if source_unit is None or target_unit is None or unit == var.unit:
            return target, 1.0, 0.0
        try:
            return (target, *conversion(source_unit, target_unit))
        except UnitError as exc:
            self.error(path, element, f"cannot connect [{unit}] -> {target} [{var.unit}]: {exc}")
            return None


def _ref(system: System, element: str | None, connector: str | None) -> str:
    return system.reference(element, connector or "") if element else (connector or "")


def _role(system, reference: str, *, own: bool) -> str | None:
    """"source" if data flows out of ``reference`` into the system's connections (an
    output, or an input connector of the system), "sink" if in; None if unknown."""
    try:
        _, var = system.resolve(reference)
    except CosimError:
        return None
    if var.causality not in ("input", "output"):
        return None
    return "source" if (var.causality == "output") != own else "sink"


def _annotations(element, type_: str):
    annotations = xml_child(element, "Annotations")
    return [a for a in (xml_children(annotations, "Annotation") if annotations is not None else [])
            if a.get("type") == type_]


def _resolve_uri(uri: str, base: Path) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme:
        return None
    return (base / unquote(uri)).resolve()


_SCHEMAS: dict = {}


def _schema(name: str):
    """The bundled SSP 1.0 schema ``name`` (from fmpy), or None if it is unavailable."""
    if name not in _SCHEMAS:
        import fmpy
        file = Path(fmpy.__file__).parent / _SCHEMA_DIR / name
        try:
            _SCHEMAS[name] = etree.XMLSchema(etree.parse(str(file)))
        except (OSError, etree.XMLSchemaParseError) as exc:
            log.debug("SSP schema %s unavailable: %s", name, exc)
            _SCHEMAS[name] = None
    return _SCHEMAS[name]
