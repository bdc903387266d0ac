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

import networkx as nx

from cosim.errors import AlgebraicLoopError

__all__ = ["algebraic_loops", "dependency_graph", "execution_order"]


def dependency_graph(system) -> nx.DiGraph:
    """Variable-level graph: connections (output -> input) and direct
    feedthrough inside components (input -> output it depends on).

    Nodes are ``"component.variable"`` strings.
    """
    graph = nx.DiGraph()
    for component, model in system.components.items():
        for output, inputs in model.dependencies.items():
            graph.add_node(f"{component}.{output}")
            for name in inputs:
                graph.add_edge(f"{component}.{name}", f"{component}.{output}")
    for source, target in system.connections:
        graph.add_edge(source, target)
    return graph


def algebraic_loops(system) -> list[list[str]]:
    """Loops of direct-feedthrough connections, one sorted list of
    ``"component.variable"`` names per loop (a strongly connected component
    of :func:`dependency_graph`)."""
    return _loops(dependency_graph(system))


def _loops(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(scc) for scc in nx.strongly_connected_components(graph) if len(scc) > 1)


def execution_order(system) -> list[str]:
    """Component names in the order Gauss-Seidel steps them.

    Components are ordered by the first of their connected outputs in a
    topological order of :func:`dependency_graph`: a component whose input
    feeds through to an output it passes on comes after the component driving
    that input, and feedback loops without direct feedthrough are broken where
    an output does not depend on the loop's inputs.  Ties keep the order of
    addition.

    Raises
    ------
    AlgebraicLoopError
        If direct-feedthrough connections form a loop; the message names its variables.
    """
    graph = dependency_graph(system)
    loops = _loops(graph)
    if loops:
        described = "; ".join(" -> ".join(loop) for loop in loops)
        raise AlgebraicLoopError(
            f"system '{system.name}' has algebraic loop(s) through {described}. cosim cannot "
            "solve algebraic loops yet: break the loop, or use a component without direct "
            "feedthrough on it", loops)
    components = list(system.components)
    position = {name: i for i, name in enumerate(components)}
    sources = {source for source, _ in system.connections}
    key = lambda node: (position[node.partition(".")[0]], node)
    rank = {}
    for i, node in enumerate(nx.lexicographical_topological_sort(graph, key=key)):
        component = node.partition(".")[0]
        if node in sources and component not in rank:
            rank[component] = i
    last = len(graph)
    return sorted(components, key=lambda c: (rank.get(c, last), position[c]))
