"""Analysis of a system's structure: dependencies, execution order, algebraic loops.

All functions take the system first and leave it unchanged.

Examples
--------
>>> from cosim import System, twins
>>> s = System()
>>> s.add("a", twins.path("gain")); s.add("b", twins.path("gain"))
>>> s.connect("a.y", "b.u")
>>> execution_order(s)
['a', 'b']
>>> s.connect("b.y", "a.u")
>>> algebraic_loops(s)
[['a.u', 'a.y', 'b.u', 'b.y']]
"""

from __future__ import annotations

import dataclasses

import networkx as nx

from cosim import paths
from cosim.errors import SystemStructureError

__all__ = ["algebraic_loops", "dependency_graph", "execution_order", "flatten", "loop_components"]


def flatten(system):
    """The leaf graph of a system: nested systems dissolved, ports resolved.

    Components get dotted paths as names (``"line2.spindle"``; see
    :mod:`cosim.paths`, two paths that read alike are refused); each leaf
    input is connected straight to the leaf output that drives it through
    any chain of ports, with the chain's transformations composed.  Values
    set on nested systems and start values of undriven input ports become
    parameters of the leaf components.  ``flat.port_map`` tells, for each output port
    (at any level, by dotted name such as ``"line2.power"``), the leaf output it
    shows, and for each input port of ``system`` itself the leaf inputs it drives.
    A system without nesting or ports is returned as it is.

    Raises
    ------
    SystemStructureError
        If ports are connected in a circle.
    """
    if not system.is_composite:
        return system
    return _Flattening(system).flat()


class _Flattening:
    """One flattening of a composite system: walk it, then wire the leaves.

    An endpoint is ("leaf", component path, variable) or ("port", prefix,
    port name); ``drivers`` maps each endpoint to what drives it, with the
    connection's (scale, shift).
    """

    def __init__(self, system) -> None:
        from cosim.system import System

        self.system = system
        self.result = System(system.name)
        self.result.resources = system.resources   # files the components live in (a loaded .ssp)
        self.result.default_experiment = dict(system.default_experiment)
        self.result.units = dict(system.units)
        self.drivers: dict = {}     # endpoint -> (source endpoint, scale, shift)
        self.ports: dict = {}       # port endpoint -> Variable
        self.origins: dict = {}     # leaf path -> its names, to refuse two that read alike

    def flat(self):
        self._walk(self.system, "", {}, ())
        for end in [e for e in self.drivers if e[0] == "leaf"]:
            self._wire_leaf(end)
        for (_, prefix, name), var in self.ports.items():
            self._map_port(prefix, name, var)
        return self.result

    @staticmethod
    def _endpoint(sys, prefix, node, var):
        kind = sys.graph.nodes[node]["kind"]
        if kind == "component":
            return ("leaf", prefix + node, var)
        if kind == "system":
            return ("port", prefix + node + ".", var)
        return ("port", prefix, node)

    @staticmethod
    def _inside(sys, overrides) -> dict:
        """Values set from outside, by element of ``sys``: {element: {rest: value}}."""
        grouped: dict = {}
        for reference, value in overrides.items():
            element, rest = sys.split(reference)
            grouped.setdefault(element, {})[rest] = value
        return grouped

    def _walk(self, sys, prefix, overrides, names):
        given = self._inside(sys, overrides)
        for name, data in sys.graph.nodes(data=True):
            if data["kind"] == "component":
                self._place(prefix + name, data, given.get(name, {}), (*names, name))
            elif data["kind"] == "system":
                self._walk(data["system"], f"{prefix}{name}.",
                           {**data["parameters"], **given.get(name, {})}, (*names, name))
            else:
                var = data["variable"]
                if "" in given.get(name, {}):       # an input port given a value from outside
                    var = dataclasses.replace(var, start=given[name][""])
                self.ports[("port", prefix, name)] = var
        for a, b, data in sys.graph.edges(data=True):
            self.drivers[self._endpoint(sys, prefix, b, data["target"])] = (
                self._endpoint(sys, prefix, a, data["source"]), data["scale"], data["shift"])

    def _place(self, path, data, given, names):
        if path in self.origins:
            raise paths.collision(self.system.name, path, self.origins[path], names)
        self.origins[path] = names
        self.result.place(path, model=data["model"], source=data["source"],
                          parameters={**data["parameters"], **given}, solver=data.get("solver"),
                          isolate=data.get("isolate", False))

    def _trace(self, end):
        """[(endpoint, scale, shift)] from ``end`` back to its root driver, with the
        transformation from each endpoint on the way to ``end``."""
        chain, scale, shift = [(end, 1.0, 0.0)], 1.0, 0.0
        while end in self.drivers:
            end, a, b = self.drivers[end]
            scale, shift = scale * a, scale * b + shift
            if any(end == e for e, _, _ in chain):
                raise SystemStructureError(f"system '{self.system.name}': ports are connected "
                                           f"in a circle through {end[1]}{end[2]}")
            chain.append((end, scale, shift))
        return chain

    def _wire_leaf(self, end):
        """Connect a leaf input to its root driver, or give it the start value of
        the undriven input port at the root; record the top-level input ports
        on the way."""
        flat = self.result
        chain = self._trace(end)
        root, scale, shift = chain[-1]
        leaf, var = end[1], end[2]
        if root[0] == "leaf":
            flat.place_connection((root[1], root[2]), (leaf, var), scale=scale, shift=shift)
        elif self.ports[root].start is not None:
            start = self.ports[root].start
            flat.graph.nodes[leaf]["parameters"][var] = (
                scale * start + shift if self.ports[root].type == "float64" else start)
        for point, a, b in chain[1:]:
            if point[0] == "port" and point[1] == "":
                entry = flat.port_map.setdefault(point[2], {"kind": "input", "targets": []})
                entry["targets"].append((flat.reference(leaf, var), a, b))

    def _map_port(self, prefix, name, var):
        flat = self.result
        if var.causality == "output":
            root, scale, shift = self._trace(("port", prefix, name))[-1]
            if root[0] == "leaf":
                flat.port_map[prefix + name] = {"kind": "output",
                                                "source": flat.reference(root[1], root[2]),
                                                "scale": scale, "shift": shift}
        elif prefix == "":
            flat.port_map.setdefault(name, {"kind": "input", "targets": []})


def dependency_graph(system) -> nx.DiGraph:
    """Variable-level graph: connections (output -> input) and direct
    feedthrough inside components (input -> output it depends on).

    Nodes are ``"component.variable"`` references (of the flattened system,
    see :meth:`cosim.System.reference`) with the attribute ``component``.
    """
    system = flatten(system)
    graph = nx.DiGraph()
    for component, model in system.components.items():
        for output, inputs in model.dependencies.items():
            graph.add_node(system.reference(component, output), component=component)
            for name in inputs:
                graph.add_node(system.reference(component, name), component=component)
                graph.add_edge(system.reference(component, name), system.reference(component, output))
    for c in system.connection_details:
        for end in (c.source, c.target):
            if end not in graph:
                graph.add_node(end, component=system.split(end)[0])
        graph.add_edge(c.source, c.target)
    return graph


def algebraic_loops(system) -> list[list[str]]:
    """Loops of direct-feedthrough connections, one sorted list of
    ``"component.variable"`` names per loop (a strongly connected component
    of :func:`dependency_graph`)."""
    return _loops(dependency_graph(system))


def _loops(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(scc) for scc in nx.strongly_connected_components(graph) if len(scc) > 1)


def execution_order(system) -> list[str]:
    """Component names (of the flattened system) in the order Gauss-Seidel steps them.

    Components are ordered by the first of their connected outputs in a
    topological order of :func:`dependency_graph`: a component whose input
    feeds through to an output it passes on comes after the component driving
    that input, and feedback loops without direct feedthrough are broken where
    an output does not depend on the loop's inputs.  The variables of an
    algebraic loop count as one node, so a loop's members come together, in
    the order of addition, where the loop's earliest driver allows.
    Ties keep the order of addition.
    """
    system = flatten(system)
    graph = dependency_graph(system)
    components = list(system.components)
    position = {name: i for i, name in enumerate(components)}
    sources = {source for source, _ in system.connections}
    dag = nx.condensation(graph)
    owner = nx.get_node_attributes(graph, "component")
    first = {node: min(data["members"], key=lambda v: (position[owner[v]], v))
             for node, data in dag.nodes(data=True)}
    key = lambda node: (position[owner[first[node]]], first[node])
    rank = {}
    for i, node in enumerate(nx.lexicographical_topological_sort(dag, key=key)):
        for variable in sorted(dag.nodes[node]["members"],
                               key=lambda v: (position[owner[v]], v)):
            component = owner[variable]
            if variable in sources and component not in rank:
                rank[component] = i
    last = len(graph)
    return sorted(components, key=lambda c: (rank.get(c, last), position[c]))


def loop_components(system) -> list[list[str]]:
    """The components of each algebraic loop, in order of addition."""
    system = flatten(system)
    position = {name: i for i, name in enumerate(system.components)}
    graph = dependency_graph(system)
    return [sorted({graph.nodes[v]["component"] for v in scc}, key=lambda c: position[c])
            for scc in _loops(graph)]
