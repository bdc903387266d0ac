"""Systems of components: a networkx graph, validated on every edit.

Nodes are component instances (FMUs or Python-backed components), nested
systems, and the system's own ports (its connectors to the outside); edges
are connections from an output to an input.  Every rule that can be checked
without running is checked when the system is edited, and errors name the
component, the variable and what would fix it.

Connections are unit-aware: a value in degC reaching an input in K arrives
+273.15, rpm reaching rad/s is scaled; incompatible units are refused.  A
connection can add a linear transformation ``target = factor*source + offset``
(applied before the unit conversion, or instead of it with
``suppress_unit_conversion=True``), as in SSP.

References: ``"comp.var"`` is a variable of a component, ``"sub.port"`` a
port of a nested system, and a bare ``"port"`` a port of this system.  Names
are any non-empty strings without control characters (``"DP Controller"``,
``"a.b"``); :mod:`cosim.paths` tells how references to them are written
(plain, quoted as ``'"a.b".c'``, or as a tuple ``("a.b", "c")``), and
:meth:`System.split` resolves them, refusing the ambiguous ones.

Examples
--------
>>> from cosim import System, twins
>>> line = System("line")
>>> line.add("feed", twins.path("source"), parameters={"waveform": 0, "amplitude": 0.5})
>>> line.add("belt", twins.path("conveyor"))
>>> line.connect("feed.y", "belt.part_flow_in")
>>> line.connections
[('feed.y', 'belt.part_flow_in')]
"""

from __future__ import annotations

import dataclasses
from typing import Any
from pathlib import Path

import networkx as nx

from cosim import paths, sources
from cosim.component import PythonComponent, RuntimeSource
from cosim.connections import Connection, check_endpoints, linear_map
from cosim.errors import (ConfigurationError, InvalidConnectionError,
                          SystemStructureError, did_you_mean)
from cosim.fmi.archive import read_model
from cosim.fmi.model import MODEL_EXCHANGE, ModelInfo, Variable
from cosim.fmi.solver import Solver
from cosim.parameters import check_parameter, check_parameter_path, check_value
from cosim.references import ReferenceResolution
from cosim.units import CATALOG

__all__ = ["Connection", "System"]

_PORT_KINDS = ("input", "output")


class System(ReferenceResolution):
    """A composition of components, nested systems and the connections between them.

    Parameters
    ----------
    name : str
        Name of the system (used in results and files).
    """

    def __init__(self, name: str = "system"):
        self.name = name
        self._graph = nx.MultiDiGraph(name=name)
        self.default_experiment: dict = {}     # start_time, stop_time, step_size, algorithm, ...
        self.units: dict = {}                  # unit definitions for ports (name -> cosim.units.Unit)
        self.port_map: dict = {}               # set by flatten: what each top-level port reaches
        # The files a loaded SSP's components live in, kept alive with the system.
        self.resources: Any = None

    # -- inspection -------------------------------------------------------------

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The networkx graph.  Node attribute ``kind`` is "component" (with
        ``model``, ``source``, ``parameters``), "system" (with ``system`` and
        ``parameters``) or "port" (with ``variable``); each connection is an
        edge with attributes ``source``/``target`` (variable or port names)
        and its transformation."""
        return self._graph

    def _nodes_of(self, kind: str) -> dict:
        return {n: d for n, d in self._graph.nodes(data=True) if d["kind"] == kind}

    @property
    def components(self) -> dict[str, ModelInfo]:
        """Component name -> model info (not nested systems), in the order added."""
        return {n: d["model"] for n, d in self._nodes_of("component").items()}

    @property
    def subsystems(self) -> dict[str, System]:
        """Nested system name -> System."""
        return {n: d["system"] for n, d in self._nodes_of("system").items()}

    @property
    def ports(self) -> dict[str, Variable]:
        """This system's ports (connectors to the outside), by name."""
        return {n: d["variable"] for n, d in self._nodes_of("port").items()}

    @property
    def is_composite(self) -> bool:
        """True if the system nests systems or has ports (it runs flattened)."""
        return any(d["kind"] != "component" for _, d in self._graph.nodes(data=True))

    @property
    def connections(self) -> list[tuple[str, str]]:
        """(source, target) references of every connection."""
        return [(c.source, c.target) for c in self.connection_details]

    @property
    def connection_details(self) -> list[Connection]:
        """Every connection with its transformation and effective scale and shift."""
        return [Connection(self._ref(a, d["source"]), self._ref(b, d["target"]), d["factor"],
                           d["offset"], d["suppress_unit_conversion"], d["scale"], d["shift"])
                for a, b, d in self._graph.edges(data=True)]

    def _ref(self, node: str, var: str) -> str:
        return self.reference(node, "" if self._graph.nodes[node]["kind"] == "port" else var)

    def reference(self, element: str, variable: str = "") -> str:
        """The reference text of ``variable`` of ``element`` (of the port
        ``element`` if no variable) that reads back to it in this system:
        ``"spindle.speed"``, ``"DP Controller.y"``, quoted as ``'"a.b".c'``
        only where a plain one would also name something else."""
        return paths.reference(element, variable, exists=self._graph.__contains__)

    def parameters(self, element: str) -> dict:
        """Values set on a component (or, for a nested system, on its inside by relative path)."""
        return dict(self._element(element)["parameters"])

    def model(self, element: str) -> ModelInfo:
        """The model of a component, or the port interface of a nested system."""
        node = self._element(element)
        return node["model"] if node["kind"] == "component" else node["system"].interface()

    def source(self, component: str):
        """What a component was created from: an FMU path or a Python component."""
        return self._element(component)["source"]

    def isolated(self, component: str) -> bool:
        """Whether a component was added with ``isolate=True`` (runs in a worker process)."""
        return bool(self._element(component).get("isolate", False))

    def solver(self, component: str) -> Solver | None:
        """How a model exchange component is integrated; None for other components."""
        return self._element(component).get("solver")

    def interface(self) -> ModelInfo:
        """This system seen from outside: its ports as variables."""
        ports = self.ports
        inputs = tuple(n for n, v in ports.items() if v.causality == "input")
        return ModelInfo(path=f"<system {self.name}>", name=self.name, fmi_version="system",
                         token="", model_identifier=self.name, variables=dict(ports),
                         dependencies={n: inputs for n, v in ports.items() if v.causality == "output"})

    def __contains__(self, element: str) -> bool:
        return element in self._graph

    def __repr__(self):
        return (f"System({self.name!r}, {len(self.components)} components, "
                f"{len(self.subsystems)} subsystems, {len(self.ports)} ports, "
                f"{self._graph.number_of_edges()} connections)")

    # -- editing ------------------------------------------------------------------

    def _check_new_name(self, name: str) -> None:
        paths.check_name(name)
        if name in self._graph:
            raise SystemStructureError(f"system '{self.name}' already has an element named {name!r}")

    def add(self, name: str, source, *, parameters: dict | None = None,
            token: str | None = None, interface: str | None = None, solver=None,
            isolate: bool = False) -> None:
        """Add a component or a nested system.

        Parameters
        ----------
        name : str
            Instance name: any non-empty string without control characters,
            unique in this system (``"DP Controller"``, ``"rollback-end"``,
            ``"a.b"``); see :mod:`cosim.paths` for referring to it.
        source : str, pathlib.Path, PythonComponent, RemoteTwin or System
            An FMU file; a remote twin as ``"grpc://host:port"`` (or a
            :class:`cosim.rpc.RemoteTwin` for TLS and other options); a
            Python-backed component (instance or subclass); or a system to
            nest (its ports become the element's inputs and outputs; one
            System may be nested several times).
        parameters : dict, keyword-only
            Values by variable name (parameters, or start values of inputs); for a
            nested system by path inside it (``{"spindle.initial_wear": 0.4}``).
        token : str, keyword-only
            Bearer token of a ``grpc://`` source.
        interface : {"co-simulation", "model-exchange"} or None, keyword-only
            FMU sources: which FMI interface to use.  None takes co-simulation
            when the FMU offers it, else model exchange.  A model exchange
            component is integrated by a solver between communication points
            and otherwise behaves like any other component.
        solver : cosim.Solver, str, dict or None, keyword-only
            Model exchange components: the solver and its tolerances, as a
            :class:`cosim.Solver`, a method name ("cvode", "bdf", "lsoda",
            "radau", "rk45", ...) or a dict of Solver options; None for the
            defaults (CVode, rtol 1e-6).
        isolate : bool, keyword-only
            Co-simulation FMU sources: run each instance in a worker process
            of its own, so that a crash or a hang of the FMU ends in a
            :class:`~cosim.errors.ComponentCrashedError` instead of taking
            the simulating process down (see ``call_timeout`` of
            :func:`cosim.simulate`).

        Raises
        ------
        SystemStructureError
            Bad or duplicate name, unknown parameter, value of the wrong type,
            a system nested in itself, a component whose path would read like
            another's (``a.b`` beside a nested ``a`` holding ``b``).
        ModelError
            The FMU cannot be used (missing, not a zip, invalid, no binary), or
            does not offer the interface asked for.
        ConfigurationError
            Invalid solver options.
        """
        self._check_new_name(name)
        is_fmu = isinstance(source, (str, Path)) and not str(source).startswith("grpc://")
        if (interface is not None or solver is not None or isolate) and not is_fmu:
            raise SystemStructureError(f"component {name!r}: interface=, solver= and isolate= "
                                       "apply to FMU files only")
        if not isinstance(isolate, bool):
            raise SystemStructureError(f"component {name!r}: isolate must be True or False, "
                                       f"got {isolate!r}")
        if isinstance(source, System):
            self._nest(name, source, parameters)
            return
        opener = sources.opener_for(source)
        if token is not None and opener is None:
            raise SystemStructureError(f"component {name!r}: token= is for grpc:// sources only")
        if opener is not None:
            try:
                source = opener(source, token=token, name=name)
            except ConfigurationError as exc:
                raise SystemStructureError(f"component {name!r}: {exc}") from None
        if isinstance(source, type) and issubclass(source, PythonComponent):
            source = source()
        if isinstance(source, (PythonComponent, RuntimeSource)):
            model = source.model            # Python-backed or remote
        elif isinstance(source, (str, Path)):
            source = Path(source)
            model, solver = self._fmu_model(name, source, interface, solver, isolate)
        else:
            raise SystemStructureError(
                f"component {name!r}: source must be an FMU path, a grpc:// URL, a RemoteTwin, "
                "a PythonComponent or a System, "
                f"not {type(source).__name__}")
        values = dict(parameters or {})
        for var_name, value in values.items():
            check_parameter(name, model, var_name, value)
        self._refuse_collision(name, [("", ())])
        self._graph.add_node(name, kind="component", model=model, source=source, parameters=values,
                             solver=solver, isolate=isolate)

    def _nest(self, name: str, system: System, parameters: dict | None) -> None:
        """Add ``system`` as the element ``name``, with values set inside it."""
        if system is self or self in system._all_subsystems():
            raise SystemStructureError(f"system '{system.name}' cannot be nested in itself")
        values = dict(parameters or {})
        for path, value in values.items():
            check_parameter_path(system, f"{name}.{path}", path, value)
        self._refuse_collision(name, system._component_paths())
        self._graph.add_node(name, kind="system", system=system, parameters=values)

    @staticmethod
    def _fmu_model(name: str, source: Path, interface, solver, isolate: bool):
        """(model, solver) of an FMU file for the component ``name``, checked."""
        model = read_model(source)
        if interface is not None:
            model = model.for_interface(interface)
        if model.interface == MODEL_EXCHANGE:
            try:
                solver = Solver.coerce(solver)
            except ConfigurationError as exc:
                raise ConfigurationError(f"component {name!r}: {exc}") from None
        elif solver is not None:
            raise SystemStructureError(
                f"component {name!r}: solver= is for model exchange components; {source} runs "
                "as co-simulation (add interface='model-exchange' if it offers that)")
        if isolate and model.interface == MODEL_EXCHANGE:
            raise SystemStructureError(
                f"component {name!r}: only co-simulation FMUs can be isolated; {source} runs "
                "as model exchange")
        return model, solver

    def add_port(self, name: str, kind: str, *, type: str = "float64", unit: str | None = None,
                 start=None, description: str | None = None) -> None:
        """Add a port: a connector through which the system is connected when nested.

        ``kind`` is "input" or "output"; an input port with a ``start`` value
        gives that value to the inputs it drives when nothing drives the port.
        """
        self._check_new_name(name)
        if kind not in _PORT_KINDS:
            raise SystemStructureError(f"port {name!r}: kind must be input or output, not {kind!r}")
        if type not in ("float64", "int32", "bool"):
            raise SystemStructureError(f"port {name!r}: type must be float64, int32 or bool")
        variable = Variable(name=name, value_reference=-1, type=type, causality=kind,
                            variability="continuous" if type == "float64" else "discrete",
                            start=start, unit=unit, description=description)
        if start is not None:
            check_value(self.name, variable, start)
        self._graph.add_node(name, kind="port", variable=variable)

    def place(self, path: str, *, model: ModelInfo, source, parameters: dict,
              solver: Solver | None = None, isolate: bool = False) -> None:
        """Put a component that was already read and checked at ``path``, as it is:
        no model is read and nothing is validated.  For systems derived from a
        checked one (:func:`cosim.analysis.flatten`); use :meth:`add` otherwise."""
        self._graph.add_node(path, kind="component", model=model, source=source,
                             parameters=parameters, solver=solver, isolate=isolate)

    def place_connection(self, source: tuple[str, str], target: tuple[str, str], *,
                         scale: float = 1.0, shift: float = 0.0) -> None:
        """Connect (component, variable) ``source`` to ``target`` through
        ``scale*x + shift`` as it is, unchecked (see :meth:`place`)."""
        self._graph.add_edge(source[0], target[0], key=(source[1], target[1]), source=source[1],
                             target=target[1], factor=None, offset=None,
                             suppress_unit_conversion=False, scale=scale, shift=shift)

    def set_parameter(self, target, value) -> None:
        """Set ``"component.variable"`` (a parameter or an input's start value), a
        path into a nested system such as ``"line1.spindle.initial_wear"``, or the
        start value of an input port of this system (its bare name).  ``target``
        is any reference :meth:`split` reads (``'"DP Controller".k'``,
        ``("a.b", "k")``)."""
        element, rest = self.split(target)
        node = self._graph.nodes[element]
        if node["kind"] == "port":
            if node["variable"].causality != "input":
                raise SystemStructureError(f"{target!r}: '{element}' is an output port; only "
                                           "input ports take values")
            variable = dataclasses.replace(node["variable"], start=value)
            check_value(self.name, variable, value)
            node["variable"] = variable
            return
        check_parameter_path(self, target, target, value)
        node["parameters"][rest] = value

    def connect(self, source: str, target: str, *, factor: float | None = None,
                offset: float | None = None, suppress_unit_conversion: bool = False) -> None:
        """Connect ``source`` to ``target`` (``"a.y"``, ``"sub.port"`` or an own ``"port"``).

        Information flows from an output (of a component or nested system) or
        an own input port, to an input or an own output port.  ``factor`` and
        ``offset`` add the linear transformation ``factor*value + offset``.

        Raises
        ------
        SystemStructureError
            An element does not exist.
        InvalidConnectionError
            Unknown variable, wrong direction, incompatible types or units, or
            the target already has a source.
        """
        src_node, src_var, src_is_own_port = self._endpoint(source)
        dst_node, dst_var, dst_is_own_port = self._endpoint(target)
        check_endpoints(source, target, src_var, dst_var, src_is_own_port=src_is_own_port,
                        dst_is_own_port=dst_is_own_port)
        existing = self.source_of(target)
        if existing is not None:
            raise InvalidConnectionError(
                f"cannot connect {source} -> {target}: {target} is already connected to "
                f"{existing}; disconnect it first")
        ends = {"source": src_node, "target": dst_node}
        scale, shift = linear_map(source, src_var, target, dst_var, factor=factor, offset=offset,
                                  suppress=suppress_unit_conversion,
                                  unit_at=lambda end, name: self._unit(ends[end], name))
        self._graph.add_edge(src_node, dst_node, key=(src_var.name, dst_var.name),
                             source=src_var.name, target=dst_var.name, factor=factor,
                             offset=offset, suppress_unit_conversion=bool(suppress_unit_conversion),
                             scale=scale, shift=shift)

    def _unit(self, node: str, name: str):
        """The definition of unit ``name`` as seen at ``node`` (None if unknown)."""
        data = self._graph.nodes[node]
        if data["kind"] == "component":
            return data["model"].unit(name)
        owner = self if data["kind"] == "port" else data["system"]
        return owner.units.get(name) or CATALOG.get(name)

    def source_of(self, target: str) -> str | None:
        """What drives ``target`` (an input, or an own output port), or None."""
        node, var, _ = self._endpoint(target)
        for a, _, data in self._graph.in_edges(node, data=True):
            if data["target"] == var.name:
                return self._ref(a, data["source"])
        return None

    def disconnect(self, source: str, target: str) -> None:
        """Remove the connection ``source -> target``."""
        src_node, src_var, _ = self._endpoint(source)
        dst_node, dst_var, _ = self._endpoint(target)
        key = (src_var.name, dst_var.name)
        if not self._graph.has_edge(src_node, dst_node, key=key):
            raise SystemStructureError(f"there is no connection {source} -> {target}")
        self._graph.remove_edge(src_node, dst_node, key=key)

    def remove(self, element: str) -> None:
        """Remove a component, nested system or port, and its connections."""
        self._element(element)
        self._graph.remove_node(element)

    # -- running and files ------------------------------------------------------------

    def simulate(self, **options):
        """Run the system; see :func:`cosim.execution.simulate` for the options."""
        return sources.action("simulate")(self, **options)

    def start(self, **options):
        """Instantiate and initialize for step-wise control; see :class:`cosim.execution.Simulation`."""
        return sources.action("start")(self, **options)

    def save(self, path) -> Path:
        """Write the system as SSP: ``.ssp`` (an archive with the FMUs) or ``.ssd``."""
        return sources.action("save")(self, path)

    # -- helpers ------------------------------------------------------------------

    def _component_paths(self):
        """(path, names) of every component, nested ones included: ``("a.b", ("a", "b"))``."""
        for name, data in self._graph.nodes(data=True):
            if data["kind"] == "component":
                yield name, (name,)
            elif data["kind"] == "system":
                for path, names in data["system"]._component_paths():
                    yield f"{name}.{path}", (name, *names)

    def _refuse_collision(self, name: str, inside) -> None:
        """Refuse adding ``name`` whose components (``inside``, as (path, names)
        below it) would have the path of a component already here."""
        fulls = [(f"{name}.{path}" if path else name, names) for path, names in inside]
        if not any("." in full for full, _ in fulls):
            return      # only a path with a dot can read like a nested one; keeps add O(1)
        taken = dict(self._component_paths())
        for full, names in fulls:
            if full in taken:
                raise paths.collision(self.name, full, taken[full], (name, *names))

    def _all_subsystems(self) -> set:
        found = set()
        for sub in self.subsystems.values():
            found.add(sub)
            found |= sub._all_subsystems()
        return found

    def _element(self, element: str) -> dict:
        if element not in self._graph:
            raise SystemStructureError(
                f"system '{self.name}' has no element {element!r}"
                f"{did_you_mean(element, self._graph.nodes)}")
        return self._graph.nodes[element]

    def resolve(self, reference) -> tuple[str, Variable]:
        """(element, variable) of ``"component.variable"`` or a port name."""
        node, var, _ = self._endpoint(reference)
        return node, var

    def _endpoint(self, reference) -> tuple[str, Variable, bool]:
        """(node, variable, is_own_port) of a reference."""
        element, rest = self.split(reference)
        node = self._graph.nodes[element]
        if node["kind"] == "port":
            return element, node["variable"], True
        if node["kind"] == "component":
            return element, node["model"].variables[rest], False
        inner = node["system"]
        port, inside = inner.split(rest)
        if inside:
            raise InvalidConnectionError(
                f"{reference!r}: {rest!r} is inside the nested system '{element}'; connect "
                f"to one of its ports ({', '.join(inner.ports) or 'it has none'})")
        return element, inner.ports[port], False
