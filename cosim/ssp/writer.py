"""Writing a :class:`cosim.System` as SSP 1.0: ``.ssd``, or ``.ssp`` with the FMUs inside.

Components, nested systems, ports (system connectors), parameter values
(inline parameter sets), connections with their linear transformations,
unit definitions, the default experiment, and the master settings (as a
cosim annotation) are written so that reading the file back gives the same
system.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from lxml import etree

from cosim.component import PythonComponent, RuntimeSource
from cosim.errors import SspError
from cosim.units import BASE_UNITS, CATALOG, Unit

from cosim.ssp.reader import COMPONENT_ANNOTATION, MASTER_ANNOTATION, MASTER_NAMESPACE

NS = {
    "ssd": "http://ssp-standard.org/SSP1/SystemStructureDescription",
    "ssc": "http://ssp-standard.org/SSP1/SystemStructureCommon",
    "ssv": "http://ssp-standard.org/SSP1/SystemStructureParameterValues",
    "cm": MASTER_NAMESPACE,
}
_TYPE_TAGS = {"float64": "Real", "int32": "Integer", "bool": "Boolean", "string": "String"}


def _e(prefix: str, tag: str, parent=None, **attributes):
    qname = f"{{{NS[prefix]}}}{tag}"
    attributes = {k: _text(v) for k, v in attributes.items() if v is not None}
    if parent is None:
        return etree.Element(qname, attributes, nsmap={k: v for k, v in NS.items() if k != "cm"})
    return etree.SubElement(parent, qname, attributes)


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class _Writer:
    def __init__(self, base: Path, fmu_names: dict[str, str] | None):
        self.base = base                  # folder the .ssd lives in
        self.fmu_names = fmu_names        # .ssp: FMU path -> name inside resources/
        self.units: dict[str, Unit | None] = {}     # None: a unit cosim has no definition of

    def source(self, path: Path) -> str:
        if self.fmu_names is not None:
            return f"resources/{self.fmu_names[str(Path(path).resolve())]}"
        return Path(os.path.relpath(Path(path).resolve(), self.base.resolve())).as_posix()

    def use_unit(self, name: str | None, definition) -> None:
        if name is not None and name not in self.units:
            self.units[name] = definition or CATALOG.get(name)

    def type_element(self, parent, var, owner_units) -> None:
        tag = _TYPE_TAGS.get(var.type)
        if tag is None:
            raise SspError(f"variable {var.name!r} of type {var.type} cannot be written to SSP")
        unit = var.unit if var.type == "float64" else None
        _e("ssc", tag, parent, unit=unit)
        self.use_unit(unit, owner_units(unit) if unit else None)

    def parameter_binding(self, parent, values: dict) -> None:
        """Inline parameter set for ``values`` (name -> value) under ``parent``."""
        if not values:
            return
        bindings = _e("ssd", "ParameterBindings", parent)
        binding = _e("ssd", "ParameterBinding", bindings)
        inline = _e("ssd", "ParameterValues", binding)
        pset = _e("ssv", "ParameterSet", inline, version="1.0", name="values")
        parameters = _e("ssv", "Parameters", pset)
        for name, value in values.items():
            parameter = _e("ssv", "Parameter", parameters, name=name)
            kind = ("Boolean" if isinstance(value, bool) else "Integer" if isinstance(value, int)
                    else "String" if isinstance(value, str) else "Real")
            _e("ssv", kind, parameter, value=value)

    def system(self, system, parent, name: str, instance_values: dict) -> None:
        self.fill_system(system, _e("ssd", "System", parent, name=name), instance_values)

    def fill_system(self, system, element, instance_values: dict) -> None:
        ports = system.ports
        if ports:
            connectors = _e("ssd", "Connectors", element)
            for port, var in ports.items():
                connector = _e("ssd", "Connector", connectors, name=port, kind=var.causality,
                               description=var.description)
                self.type_element(connector, var, lambda u: system.units.get(u))
        # Start values of input ports travel as parameters of the system.
        start_values = {p: v.start for p, v in ports.items() if v.start is not None}
        self.parameter_binding(element, {**start_values, **instance_values})
        graph = system.graph
        elements = _e("ssd", "Elements", element)
        used: dict[str, set[str]] = {}     # component -> variable names in connections
        for a, b, data in graph.edges(data=True):
            used.setdefault(a, set()).add(data["source"])
            used.setdefault(b, set()).add(data["target"])
        for node, data in graph.nodes(data=True):
            if data["kind"] == "component":
                self.component(elements, node, data, used.get(node, set()))
            elif data["kind"] == "system":
                self.system(data["system"], elements, node, dict(data["parameters"]))
        if graph.number_of_edges():
            connections = _e("ssd", "Connections", element)
            for a, b, data in graph.edges(data=True):
                start_port = graph.nodes[a]["kind"] == "port"
                end_port = graph.nodes[b]["kind"] == "port"
                connection = _e(
                    "ssd", "Connection", connections,
                    startElement=None if start_port else a, startConnector=data["source"],
                    endElement=None if end_port else b, endConnector=data["target"],
                    suppressUnitConversion=True if data["suppress_unit_conversion"] else None)
                if data["factor"] is not None or data["offset"] is not None:
                    _e("ssc", "LinearTransformation", connection,
                       factor=data["factor"] if data["factor"] is not None else None,
                       offset=data["offset"] if data["offset"] is not None else None)

    def component(self, elements, name, data, used: set) -> None:
        source = data["source"]
        if isinstance(source, PythonComponent):
            raise SspError(f"component '{name}' is a Python component ({type(source).__name__}); "
                           "SSP can only describe FMUs")
        element = _e("ssd", "Component", elements, name=name, type="application/x-fmu-sharedlibrary",
                     source=source.url if isinstance(source, RuntimeSource) else self.source(source))
        model = data["model"]
        names = [v for v in model.variables if v in used]
        if names:
            connectors = _e("ssd", "Connectors", element)
            for var_name in names:
                var = model.variables[var_name]
                connector = _e("ssd", "Connector", connectors, name=var_name, kind=var.causality)
                self.type_element(connector, var, model.unit)
        self.parameter_binding(element, data["parameters"])
        if data.get("isolate"):
            annotations = _e("ssd", "Annotations", element)
            annotation = _e("ssc", "Annotation", annotations, type=COMPONENT_ANNOTATION)
            etree.SubElement(annotation, f"{{{MASTER_NAMESPACE}}}Component", {"isolate": "true"},
                             nsmap={"cm": MASTER_NAMESPACE})

    def units_element(self, root) -> None:
        if not self.units:
            return
        units = _e("ssd", "Units", root)
        for name, unit in sorted(self.units.items()):
            element = _e("ssc", "Unit", units, name=name)
            attributes: dict[str, float] = {} if unit is None else {
                b: e for b, e in zip(BASE_UNITS, unit.exponents) if e}
            if unit is not None and unit.factor != 1.0:
                attributes["factor"] = unit.factor
            if unit is not None and unit.offset != 0.0:
                attributes["offset"] = unit.offset
            _e("ssc", "BaseUnit", element, **attributes)

    def experiment(self, root, settings: dict) -> None:
        if not settings:
            return
        experiment = _e("ssd", "DefaultExperiment", root, startTime=settings.get("start_time"),
                        stopTime=settings.get("stop_time"))
        master = {k: settings[s] for k, s in (("algorithm", "algorithm"), ("stepSize", "step_size"),
                                              ("outputInterval", "output_interval"),
                                              ("tolerance", "tolerance")) if s in settings}
        if master:
            annotations = _e("ssd", "Annotations", experiment)
            annotation = _e("ssc", "Annotation", annotations, type=MASTER_ANNOTATION)
            etree.SubElement(annotation, f"{{{MASTER_NAMESPACE}}}Master",
                             {k: _text(v) for k, v in master.items()}, nsmap={"cm": MASTER_NAMESPACE})


def _write_ssd(system, path: Path, fmu_names) -> None:
    writer = _Writer(path.parent, fmu_names)
    root = _e("ssd", "SystemStructureDescription", None, name=system.name, version="1.0")
    top = _e("ssd", "System", root, name=system.name)
    writer.fill_system(system, top, {})
    writer.units_element(root)
    writer.experiment(root, system.default_experiment)
    etree.ElementTree(root).write(str(path), pretty_print=True, xml_declaration=True,
                                  encoding="UTF-8")


def _fmu_paths(system) -> list[Path]:
    paths = []
    for data in (d for _, d in system.graph.nodes(data=True)):
        if data["kind"] == "component" and isinstance(data["source"], (str, Path)):
            paths.append(Path(data["source"]).resolve())
        elif data["kind"] == "system":
            paths.extend(_fmu_paths(data["system"]))
    return paths


def save(system, path) -> Path:
    """Write ``system`` to ``path``: an ``.ssp`` archive (with the FMUs) or an ``.ssd``.

    Raises
    ------
    SspError
        For another file extension, or a system SSP cannot describe (Python components).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".ssd":
        _write_ssd(system, path, None)
        return path
    if suffix != ".ssp":
        raise SspError(f"{path}: SSP files end in .ssp (archive) or .ssd (description)")
    names: dict[str, str] = {}
    for fmu in _fmu_paths(system):
        if str(fmu) not in names:
            stem, n = fmu.stem, 1
            while f"{stem}.fmu" in names.values():
                n += 1
                stem = f"{fmu.stem}_{n}"
            names[str(fmu)] = f"{stem}.fmu"
    with tempfile.TemporaryDirectory(prefix="cosim-ssp-") as tmp:
        ssd = Path(tmp) / "SystemStructure.ssd"
        _write_ssd(system, ssd, names)
        partial = path.with_suffix(".ssp.part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(ssd, "SystemStructure.ssd")
            for fmu_path, name in names.items():
                zf.write(fmu_path, f"resources/{name}")
        os.replace(partial, path)
    return path
