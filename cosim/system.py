"""Systems of components: a networkx graph, validated on every edit.

Nodes are component instances (FMUs or Python-backed components); edges are
connections from an output variable to an input variable.  Every rule that
can be checked without running is checked when the system is edited, and
errors name the component, the variable and what would fix it.

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

import numbers
import re
from pathlib import Path

import networkx as nx
import numpy as np

from cosim.component import PythonComponent
from cosim.errors import InvalidConnectionError, ModelError, SystemStructureError, did_you_mean
from cosim.fmi.archive import read_model
from cosim.fmi.model import ModelInfo, Variable

__all__ = ["System"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VALUE_TYPES = {"float64": numbers.Real, "float32": numbers.Real, "bool": (bool, np.bool_),
                "string": str}


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _check_value(owner: str, var: Variable, value):
    allowed = _VALUE_TYPES.get(var.type, numbers.Integral)
    is_bool = isinstance(value, (bool, np.bool_))
    if (var.type != "bool" and is_bool) or not isinstance(value, allowed):
        raise SystemStructureError(
            f"{owner}.{var.name} is {var.type}; {value!r} ({type(value).__name__}) does not fit")
    if allowed is numbers.Integral:
        info = np.iinfo(var.type)
        if not info.min <= value <= info.max:
            raise SystemStructureError(
                f"{owner}.{var.name} is {var.type}; {value} is outside [{info.min}, {info.max}]")


class System:
    """A composition of components and the connections between them.

    Parameters
    ----------
    name : str
        Name of the system (used in results and files).
    """

    def __init__(self, name: str = "system"):
        self.name = name
        self._graph = nx.MultiDiGraph(name=name)

    # -- inspection -------------------------------------------------------------

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The networkx graph: node attributes ``model``, ``source``, ``parameters``;
        one edge per connection with attributes ``source`` and ``target`` (variable names)."""
        return self._graph

    @property
    def components(self) -> dict[str, ModelInfo]:
        """Component name -> model info, in the order they were added."""
        return {name: data["model"] for name, data in self._graph.nodes(data=True)}

    @property
    def connections(self) -> list[tuple[str, str]]:
        """(``"a.y"``, ``"b.u"``) for every connection."""
        return [(f"{a}.{d['source']}", f"{b}.{d['target']}")
                for a, b, d in self._graph.edges(data=True)]

    def parameters(self, component: str) -> dict:
        """Values set on ``component`` (parameters and input start values)."""
        return dict(self._node(component)["parameters"])

    def model(self, component: str) -> ModelInfo:
        return self._node(component)["model"]

    def source(self, component: str):
        """What the component was created from: an FMU path or a Python component."""
        return self._node(component)["source"]

    def __contains__(self, component: str) -> bool:
        return component in self._graph

    def __repr__(self):
        return (f"System({self.name!r}, {self._graph.number_of_nodes()} components, "
                f"{self._graph.number_of_edges()} connections)")

    # -- editing ------------------------------------------------------------------

    def add(self, name: str, source, *, parameters: dict | None = None) -> None:
        """Add a component.

        Parameters
        ----------
        name : str
            Instance name: a letter or underscore, then letters, digits, underscores.
        source : str, pathlib.Path or PythonComponent
            An FMU file, or a Python-backed component (instance or subclass).
        parameters : dict, keyword-only
            Values for parameters (or start values of inputs) by variable name.

        Raises
        ------
        SystemStructureError
            Bad or duplicate name, unknown parameter, value of the wrong type.
        ModelError
            The FMU cannot be used (missing, not a zip, invalid, no binary).
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise SystemStructureError(
                f"component name {name!r} is not valid: use a letter or underscore followed by "
                "letters, digits or underscores (no dots)")
        if name in self._graph:
            raise SystemStructureError(f"system '{self.name}' already has a component named {name!r}")
        if isinstance(source, type) and issubclass(source, PythonComponent):
            source = source()
        if isinstance(source, PythonComponent):
            model = source.model
        elif isinstance(source, (str, Path)):
            if str(source).startswith("grpc://"):
                raise SystemStructureError(f"component {name!r}: remote twins ({source}) are not "
                                           "supported yet")
            source = Path(source)
            model = read_model(source)
        else:
            raise SystemStructureError(
                f"component {name!r}: source must be an FMU path or a PythonComponent, "
                f"not {type(source).__name__}")
        values = dict(parameters or {})
        for var_name, value in values.items():
            self._check_parameter(name, model, var_name, value)
        self._graph.add_node(name, model=model, source=source, parameters=values)

    def set_parameter(self, target: str, value) -> None:
        """Set ``"component.variable"`` (a parameter or an input's start value)."""
        component, var_name = self._split(target)
        node = self._node(component)
        self._check_parameter(component, node["model"], var_name, value)
        node["parameters"][var_name] = value

    def _check_parameter(self, component: str, model: ModelInfo, var_name: str, value):
        try:
            var = model.variable(var_name, component=component)
        except ModelError as exc:
            raise SystemStructureError(str(exc)) from None
        if not var.is_settable or var.variability == "constant":
            raise SystemStructureError(
                f"{component}.{var_name} is {_a(var.variability)} {var.causality}; only parameters "
                "and inputs can be given values")
        _check_value(component, var, value)

    def connect(self, source: str, target: str) -> None:
        """Connect output ``"a.y"`` to input ``"b.u"``.

        Raises
        ------
        SystemStructureError
            A component does not exist.
        InvalidConnectionError
            Unknown variable, wrong causality, incompatible types, or the input
            already has a source.
        """
        src_comp, src_var = self._variable(source)
        dst_comp, dst_var = self._variable(target)
        reversed_ = src_var.causality == "input" and dst_var.causality == "output"
        hint = f"; did you mean to connect {target} -> {source}?" if reversed_ else ""
        if src_var.causality != "output":
            raise InvalidConnectionError(
                f"cannot connect {source} -> {target}: {source} is {_a(src_var.causality)}, "
                f"not an output{hint}")
        if dst_var.causality != "input":
            raise InvalidConnectionError(
                f"cannot connect {source} -> {target}: {target} is {_a(dst_var.causality)}, "
                f"not an input")
        if src_var.type != dst_var.type:
            raise InvalidConnectionError(
                f"cannot connect {source} ({src_var.type}) -> {target} ({dst_var.type}): "
                "the types differ")
        if src_var.shape != dst_var.shape:
            raise InvalidConnectionError(
                f"cannot connect {source} {list(src_var.shape)} -> {target} {list(dst_var.shape)}: "
                "the dimensions differ")
        existing = self.source_of(target)
        if existing is not None:
            raise InvalidConnectionError(
                f"cannot connect {source} -> {target}: {target} is already connected to "
                f"{existing}; disconnect it first")
        self._graph.add_edge(src_comp, dst_comp, key=(src_var.name, dst_var.name),
                             source=src_var.name, target=dst_var.name)

    def source_of(self, target: str) -> str | None:
        """The output connected to input ``"b.u"``, or None."""
        component, var_name = self._split(target)
        for a, _, data in self._graph.in_edges(component, data=True):
            if data["target"] == var_name:
                return f"{a}.{data['source']}"
        return None

    def disconnect(self, source: str, target: str) -> None:
        """Remove the connection ``source -> target``."""
        src_comp, src_name = self._split(source)
        dst_comp, dst_name = self._split(target)
        key = (src_name, dst_name)
        if not self._graph.has_edge(src_comp, dst_comp, key=key):
            raise SystemStructureError(f"there is no connection {source} -> {target}")
        self._graph.remove_edge(src_comp, dst_comp, key=key)

    def remove(self, component: str) -> None:
        """Remove a component and all its connections."""
        self._node(component)
        self._graph.remove_node(component)

    # -- running ------------------------------------------------------------------

    def simulate(self, **options):
        """Run the system; see :func:`cosim.execution.simulate` for the options."""
        from cosim.execution import simulate
        return simulate(self, **options)

    def start(self, **options):
        """Instantiate and initialize for step-wise control; see :class:`cosim.execution.Simulation`."""
        from cosim.execution import Simulation
        return Simulation(self, **options)

    # -- helpers ------------------------------------------------------------------

    def _node(self, component: str) -> dict:
        if component not in self._graph:
            raise SystemStructureError(
                f"system '{self.name}' has no component {component!r}"
                f"{did_you_mean(component, self._graph.nodes)}")
        return self._graph.nodes[component]

    @staticmethod
    def _split(reference: str) -> tuple[str, str]:
        if not isinstance(reference, str) or "." not in reference:
            raise SystemStructureError(
                f"{reference!r} is not a variable reference; write 'component.variable'")
        component, _, var_name = reference.partition(".")
        return component, var_name

    def _variable(self, reference: str) -> tuple[str, Variable]:
        component, var_name = self._split(reference)
        model = self._node(component)["model"]
        try:
            return component, model.variable(var_name, component=component)
        except ModelError as exc:
            raise InvalidConnectionError(str(exc)) from None
