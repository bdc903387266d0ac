"""Reading OSP system structures (``OspSystemStructure.xml``) into a :class:`cosim.System`.

The Open Simulation Platform (libcosim, cosim-cli) describes a co-simulation
in one XML file: the simulators (FMUs) with their initial values, the
connections between their variables, and the time settings.  This module
reads version 0.1 of that format:

``StartTime``, ``EndTime``, ``BaseStepSize``
    become ``system.default_experiment`` ``start_time``, ``stop_time`` and
    ``step_size``.
``Algorithm``
    ``fixedStep`` (the default) becomes cosim's ``"jacobi"``: libcosim's
    fixed-step master also steps every simulator from the values of the
    previous communication point.  Other algorithms (``ecco``) are errors.
``Simulators/Simulator``
    ``name`` and ``source`` (a path relative to the XML file, or a
    ``file:`` URI), with ``InitialValues`` as parameters and start values.
    cosim steps every component at the base step size, so a simulator's own
    ``stepSize`` is ignored, with a warning unless it equals the base step.
``Connections/VariableConnection``
    Two ``Variable`` endpoints, output first; written input first they are
    turned round.  An optional ``LinearTransformation`` child gives a
    ``factor`` and an ``offset``.  As in libcosim, values pass unconverted
    between variables of different units (a warning says so).
``Connections/VariableGroupConnection``
    Two ``VariableGroup`` endpoints (simulator and group name), the groups
    read from the ``<modelName>_OspModelDescription.xml`` beside the FMU or
    beside the system structure; connected variable by variable as libcosim
    does (see :mod:`cosim.ssp.osp_model`).

Function blocks (``Functions``) and signal connections are reported as not
supported.  As for SSP, every problem is
collected with its file, line and element; :func:`load_osp` raises
:class:`cosim.SspError` listing the errors.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from urllib.parse import unquote, urlparse

from lxml import etree

from cosim.errors import CosimError, SspError
from cosim.fmi.archive import UnpackBudget, is_file
from cosim.ssp.confine import Confinement, ReferenceRefused, shown
from cosim.ssp.files import _check_structure, _confinement
from cosim.ssp.osp_connections import OspConnections
from cosim.ssp.report import Problem, Report, xml_child, xml_children, xml_local
from cosim.system import System

__all__ = ["FILE_NAME", "NAMESPACE", "is_osp", "load_osp", "read_osp"]

log = logging.getLogger("cosim")

NAMESPACE = "http://opensimulationplatform.com/MSMI/OSPSystemStructure"
FILE_NAME = "OspSystemStructure.xml"
ROOT = "OspSystemStructure"
VERSION = "0.1"

# OSP algorithm name (lower case) -> cosim master algorithm.
_ALGORITHMS = {"fixedstep": "jacobi"}

_TOP_LEVEL = ("StartTime", "EndTime", "BaseStepSize", "Algorithm", "Simulators", "Functions",
              "Connections", "EccoConfiguration")

# Value element of an InitialValue -> the cosim variable types it may set.
_VALUE_KINDS = {
    "Real": ("float64", "float32"),
    "Integer": ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                "float64", "float32"),          # an integer is a fine value for a real
    "Boolean": ("bool",),
    "String": ("string",),
}


def _expected_kind(type_: str) -> str:
    if type_ in ("float64", "float32"):
        return "Real"
    return {"bool": "Boolean", "string": "String"}.get(type_, "Integer")


def _parse_value(kind: str, text: str):
    """The Python value of ``<kind value=text/>``; ValueError if it is not one."""
    if kind == "Real":
        return float(text)
    if kind == "Integer":
        return int(text.strip())
    if kind == "Boolean":         # xs:boolean
        word = text.strip()
        if word in ("true", "1"):
            return True
        if word in ("false", "0"):
            return False
        raise ValueError(text)
    return text


class _OspReader:
    def __init__(self, path: Path, report: Report, *, confine: Confinement | None = None,
                 budget: UnpackBudget | None = None):
        self.path = path
        self.report = report
        self.confine = confine
        self.budget = budget
        self.failed: set[str] = set()       # simulators that could not be added

    # -- problems -------------------------------------------------------------------

    def where(self, element=None) -> str:
        if element is None:
            return str(self.path)
        shown = " ".join(f"{key}={element.get(key)!r}" for key in ("simulator", "name", "variable")
                         if element.get(key) is not None)
        return f"{self.path}:{element.sourceline} <{xml_local(element)}{' ' + shown if shown else ''}>"

    def error(self, element, message: str) -> None:
        self.report.problems.append(Problem("error", self.where(element), message))

    def warning(self, element, message: str) -> None:
        self.report.problems.append(Problem("warning", self.where(element), message))

    def tolerate(self, element, message: str) -> None:
        """A defect whose meaning is unambiguous: accepted with a warning, an error when strict."""
        if self.report.strict:
            self.error(element, f"{message} (accepted without strict)")
        else:
            self.warning(element, message)

    def attempt(self, element, action) -> bool:
        """Run an edit of the system; a cosim error becomes a problem at ``element``."""
        try:
            action()
            return True
        except CosimError as exc:
            self.error(element, str(exc))
            return False

    # -- document -------------------------------------------------------------------

    def parse(self):
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        try:
            return etree.parse(str(self.path), parser).getroot()
        except OSError as exc:
            self.error(None, f"cannot read: {exc}")
        except etree.XMLSyntaxError as exc:
            self.report.problems.append(Problem("error", f"{self.path}:{exc.lineno}",
                                                f"malformed XML: {exc.msg}"))
        return None

    def read(self) -> System | None:
        root = self.parse()
        if root is None:
            return None
        if xml_local(root) != ROOT:
            self.error(root, f"not an OSP system structure: the root element must be {ROOT}, "
                             f"not {xml_local(root)}")
            return None
        version = root.get("version")
        if version != VERSION:
            self.tolerate(root, f"version {version!r}: cosim reads version {VERSION} of the OSP "
                               "system structure format; reading the file as that version"
                         if version is not None else
                         f"no version attribute; reading the file as version {VERSION}")
        sections = self.sections(root)
        system = System(_system_name(self.path))
        system.default_experiment.update(self.read_experiment(sections))
        simulators = sections.get("Simulators")
        if simulators is None:
            self.error(root, "the system structure has no Simulators")
        else:
            self.read_simulators(system, simulators, system.default_experiment.get("step_size"))
        functions = sections.get("Functions")
        if functions is not None:
            found = ", ".join(f"{xml_local(f)} {f.get('name')!r}" if f.get("name") else xml_local(f)
                              for f in functions if xml_local(f))
            self.error(functions, "Functions is not supported: cosim has no OSP function blocks"
                                  + (f" (found {found})" if found else ""))
        connections = sections.get("Connections")
        if connections is not None:
            OspConnections(self).read(system, connections)
        return system

    def sections(self, root) -> dict:
        """The top-level elements by local name; duplicates and unknown names are reported."""
        found: dict = {}
        for element in root:
            name = xml_local(element)
            if not name:
                continue                      # comments, processing instructions
            if name not in _TOP_LEVEL:
                self.tolerate(element, f"unknown element {name} ignored (an OspSystemStructure holds "
                                      f"{', '.join(_TOP_LEVEL)})")
            elif name in found:
                self.error(element, f"{name} appears more than once (first at line "
                                    f"{found[name].sourceline})")
            else:
                found[name] = element
        return found

    # -- time settings and algorithm ----------------------------------------------------

    def number(self, element) -> float | None:
        text = (element.text or "").strip()
        try:
            value = float(text)
        except ValueError:
            self.error(element, f"{xml_local(element)} must be a number, not {text!r}")
            return None
        if not math.isfinite(value):
            self.error(element, f"{xml_local(element)} must be finite, not {text!r}")
            return None
        return value

    def read_experiment(self, sections: dict) -> dict:
        settings: dict = {}
        for tag, key in (("StartTime", "start_time"), ("EndTime", "stop_time"),
                         ("BaseStepSize", "step_size")):
            element = sections.get(tag)
            if element is None:
                continue
            value = self.number(element)
            if value is None:
                continue
            if key == "step_size" and value <= 0:
                self.error(element, f"BaseStepSize must be > 0, not {value:g}")
                continue
            settings[key] = value
        if "stop_time" in settings and settings["stop_time"] <= settings.get("start_time", 0.0):
            self.error(sections["EndTime"], f"EndTime ({settings['stop_time']:g}) must be after "
                                            f"StartTime ({settings.get('start_time', 0.0):g})")
            del settings["stop_time"]
        element = sections.get("Algorithm")
        name = (element.text or "").strip() if element is not None else "fixedStep"
        algorithm = _ALGORITHMS.get(name.lower())
        if algorithm is None:
            self.error(element, f"algorithm {name!r} is not supported: cosim runs OSP system "
                                "structures with fixedStep only (as its Jacobi master)")
        else:
            settings["algorithm"] = algorithm
        ecco = sections.get("EccoConfiguration")
        if ecco is not None and algorithm is not None:
            self.warning(ecco, "EccoConfiguration ignored: it configures the ecco algorithm, and "
                               "this system uses fixedStep")
        return settings

    # -- simulators ---------------------------------------------------------------------------

    def read_simulators(self, system: System, simulators, base_step: float | None) -> None:
        for element in simulators:
            kind = xml_local(element)
            if not kind:
                continue
            if kind != "Simulator":
                self.tolerate(element, f"unknown element {kind} in Simulators ignored")
                continue
            self.read_simulator(system, element, base_step)

    def read_simulator(self, system: System, element, base_step: float | None) -> None:
        name, source = element.get("name"), element.get("source")
        if not name:
            self.error(element, "Simulator without a name")
            return
        if not source:
            self.error(element, f"simulator {name!r} has no source")
            self.failed.add(name)
            return
        fmu = self.resolve(element, source)
        if fmu is None:
            scheme = urlparse(source).scheme
            what = ("remote FMU proxies (proxy-fmu://)" if scheme == "proxy-fmu"
                    else f"sources with the URI scheme {scheme!r}")
            self.error(element, f"simulator {name!r}: {what} are not supported; give a path "
                                f"relative to {self.path.name} or a file: URI ({shown(source)})")
            self.failed.add(name)
            return
        if self.budget is not None:
            self.budget.charge_archive(fmu)
        if not self.attempt(element, lambda: system.add(name, fmu)):
            self.failed.add(name)
            return
        self.check_step_size(element, name, base_step)
        initial = xml_child(element, "InitialValues")
        for value in xml_children(initial, "InitialValue") if initial is not None else []:
            self.read_initial_value(system, name, value)

    def resolve(self, element, source: str) -> Path | None:
        """The FMU ``source`` names (None for a URI scheme other than file:);
        ReferenceRefused when confined and it leads out."""
        scheme = urlparse(source).scheme
        if self.confine is None or (scheme and scheme != "file" and len(scheme) != 1):
            return _resolve_source(source, self.path.parent)
        try:
            return self.confine.resolve(source, self.path.parent)
        except ReferenceRefused as exc:
            raise ReferenceRefused(f"{self.where(element)}: {exc}") from None

    def check_step_size(self, element, name: str, base_step: float | None) -> None:
        text = element.get("stepSize")
        if text is None:
            return
        try:
            step = float(text)
        except ValueError:
            self.error(element, f"simulator {name!r}: stepSize must be a number, not {text!r}")
            return
        if base_step is not None and math.isclose(step, base_step, rel_tol=1e-9, abs_tol=0.0):
            return
        base = f"the base step size ({base_step:g} s)" if base_step is not None else \
            "the base step size"
        self.warning(element, f"simulator {name!r}: its own step size ({step:g} s) is ignored; cosim "
                              f"steps every component at {base}")

    def read_initial_value(self, system: System, simulator: str, element) -> None:
        variable = element.get("variable")
        if not variable:
            self.error(element, f"InitialValue of simulator {simulator!r} without a variable")
            return
        values = [c for c in element if xml_local(c)]
        if len(values) != 1 or xml_local(values[0]) not in _VALUE_KINDS:
            self.error(element, f"InitialValue of {simulator}.{variable} must hold exactly one "
                                "Real, Integer, Boolean or String element")
            return
        kind = xml_local(values[0])
        text = values[0].get("value")
        if text is None:
            self.error(element, f"the <{kind}> of {simulator}.{variable} has no value attribute")
            return
        try:
            value = _parse_value(kind, text)
        except ValueError:
            hint = " (write true, false, 1 or 0)" if kind == "Boolean" else ""
            self.error(element, f"{text!r} is not a valid {kind} value for {simulator}.{variable}{hint}")
            return
        var = system.model(simulator).variables.get(variable)
        if var is not None and var.type not in _VALUE_KINDS[kind]:
            self.error(element, f"{simulator}.{variable} is {var.type}: give its value as "
                                f"<{_expected_kind(var.type)}>, not <{kind}>")
            return
        if var is not None and var.type in ("float64", "float32"):
            value = float(value)
        self.attempt(element, lambda: system.set_parameter(system.reference(simulator, variable),
                                                           value))




def _system_name(path: Path) -> str:
    """An OSP configuration is usually the OspSystemStructure.xml of a folder named
    after the system; other files are named after themselves."""
    if path.name.lower() == FILE_NAME.lower() and path.resolve().parent.name:
        return path.resolve().parent.name
    return path.stem


def _resolve_source(source: str, base: Path) -> Path | None:
    """The FMU a simulator's source names: a relative path or a file URI; None otherwise."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if len(parsed.scheme) == 1:                  # a Windows drive letter: C:\models\a.fmu
        return Path(source)
    if parsed.scheme:
        return None
    return (base / unquote(source)).resolve()


def is_osp(path) -> bool:
    """True if ``path`` is an OSP system structure: named OspSystemStructure.xml, or
    an .xml file whose root element is OspSystemStructure."""
    path = Path(path)
    if path.name.lower() == FILE_NAME.lower():
        return True
    if path.suffix.lower() != ".xml" or not is_file(path):
        return False
    try:
        for _, element in etree.iterparse(str(path), events=("start",), resolve_entities=False,
                                          no_network=True):
            return xml_local(element) == ROOT
    except (OSError, etree.XMLSyntaxError):
        return False
    return False


def read_osp(path, *, strict: bool = False, confine_to=None, max_unpacked_bytes=None) -> Report:
    """Read an OSP system structure; the report holds the system and every problem found.

    ``strict`` reports the defects cosim tolerates as errors; ``confine_to``
    and ``max_unpacked_bytes`` are those of :func:`cosim.ssp.read`.
    """
    path = Path(path)
    report = Report(path, strict=strict)
    confine = _confinement(confine_to)
    if confine is not None:
        confine.check(path, str(path))
    budget = (max_unpacked_bytes if isinstance(max_unpacked_bytes, UnpackBudget) or
              max_unpacked_bytes is None else UnpackBudget(max_unpacked_bytes))
    reader = _OspReader(path, report, confine=confine, budget=budget)
    if not is_file(path):
        reader.error(None, "file not found")
        return report
    system = reader.read()
    report.system = system
    if system is not None:
        _check_structure(system, report)
    return report


def load_osp(path, *, strict: bool = False, confine_to=None, max_unpacked_bytes=None) -> System:
    """Read an OSP system structure (``OspSystemStructure.xml``) into a :class:`cosim.System`.

    Time settings and the algorithm go to ``system.default_experiment``.

    Raises
    ------
    SspError
        Listing every error found, each with its file, line and element.
    """
    report = read_osp(path, strict=strict, confine_to=confine_to,
                      max_unpacked_bytes=max_unpacked_bytes)
    for warning in report.warnings:
        log.warning("%s", warning)
    if report.errors:
        raise SspError(report)
    assert report.system is not None        # every reading that yields no system reports an error
    return report.system
