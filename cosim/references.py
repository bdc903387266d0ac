"""Resolving references to a system's elements: ``"comp.var"``, quoted paths and tuples.

:class:`ReferenceResolution` is the part of :class:`cosim.System` that reads
a reference (see :mod:`cosim.paths` for how references are written) against
the system's graph: which element it names and what it names inside it, with
errors that name close matches, colliding paths and ambiguous readings.
"""

from __future__ import annotations

from typing import Any

from cosim import paths
from cosim.errors import (AmbiguousReferenceError, InvalidConnectionError, ModelError,
                          SystemStructureError, did_you_mean)

__all__ = ["ReferenceResolution"]


def _described(path: str, variable: str) -> str:
    """One reading of a reference, and how to write it so that it means only that."""
    if not variable:
        return f"port '{path}' (write {paths.quote(path)!r}, or ({path!r},) in Python)"
    return (f"component '{path}', variable '{variable}' (write {paths.explicit(path, variable)!r}, "
            f"or ({path!r}, {variable!r}) in Python)")


class ReferenceResolution:
    """Reference resolution of a system (its graph, name and component paths)."""

    # set by System
    name: str
    _graph: Any

    def _component_paths(self):
        raise NotImplementedError       # System's

    def reference(self, element: str, variable: str = "") -> str:
        raise NotImplementedError       # System's

    def interface(self) -> Any:
        raise NotImplementedError       # System's

    def split(self, reference) -> tuple[str, str]:
        """(element, rest) of a reference resolved in this system.

        ``rest`` is the variable name for a component, empty for a port of this
        system, and the reference inside for a nested system.  The reference is
        written as :mod:`cosim.paths` tells: ``"comp.var"`` (the component path
        is the one that exists and is followed by a dot; the variable name may
        hold dots), ``'"a.b".c'`` (quoting ends the component path) or a tuple
        ``("a.b", "c")``.

        Raises
        ------
        SystemStructureError
            No such element (naming close matches); two components whose
            paths read alike (``a.b`` and ``b`` of a nested ``a``), naming both.
        InvalidConnectionError
            The component has no such variable (naming close matches).
        AmbiguousReferenceError
            Two readings name something, e.g. component ``a.b`` with variable
            ``c`` and component ``a`` with variable ``b.c``; the message
            names both and how to write each.
        """
        reads = paths.readings(reference)
        found = self._matches(reads)
        if len(found) == 1:
            return found[0][:2]
        if len({(full, var) for _, _, full, var in found}) < len(found) and (
                collision := self._collision()):
            raise collision
        if found:
            raise AmbiguousReferenceError(
                f"{reference!r} is ambiguous in system '{self.name}': it names "
                + " and ".join(_described(full, var) for _, _, full, var in found))
        raise self._not_found(reference, reads)

    def _collision(self) -> SystemStructureError | None:
        """The error for two components whose paths read alike, which a system
        changed after it was nested can bring (``add`` refuses the others)."""
        taken: dict[str, tuple] = {}
        for path, names in self._component_paths():
            if path in taken:
                return paths.collision(self.name, path, taken[path], names)
            taken[path] = names
        return None

    def _matches(self, reads) -> list[tuple[str, str, str, str]]:
        """(element, rest, full path, variable) of each reading that names something."""
        found: dict = {}
        for path, rest in reads:
            for match in self._named(path, rest):
                found.setdefault(match[:2], match)
        if not found and len(reads) == 1 and reads[0][1] and reads[0][0] not in self._graph:
            # A quoted path ending at a system a flattened system dissolved:
            # '"line".spindle.speed' reads on inside it.
            path, rest = reads[0]
            inner = paths.readings(rest)
            return self._matches([(f"{path}.{p}", r) for p, r in inner])
        return list(found.values())

    def _named(self, path: str, rest: str):
        """The matches of the reading (path, rest): an element named ``path``,
        or a nested system whose name begins ``path`` followed by a dot."""
        if path in self._graph:
            node = self._graph.nodes[path]
            if node["kind"] == "component":
                if rest and rest in node["model"].variables:
                    yield path, rest, path, rest
            elif node["kind"] == "port":
                if not rest:
                    yield path, "", path, ""
            elif rest:
                yield from self._inside(path, paths.readings(rest))
        for i, char in enumerate(path):
            if char == "." and self._graph.nodes.get(path[:i], {}).get("kind") == "system":
                yield from self._inside(path[:i], [(path[i + 1:], rest)])

    def _inside(self, element: str, reads):
        inner = self._graph.nodes[element]["system"]
        for name, rest, full, var in inner._matches(reads):
            yield element, inner.reference(name, rest), f"{element}.{full}", var

    def _not_found(self, reference, reads) -> SystemStructureError:
        """The error for a reference that names nothing, about the longest
        reading whose element exists."""
        for path, rest in reads:
            node = self._graph.nodes.get(path)
            if node is None:
                continue
            if node["kind"] == "port" and rest:
                return SystemStructureError(f"{reference!r}: '{path}' is a port and has no variables")
            if not rest:
                break       # a component or system named bare: no variable
            if node["kind"] == "system" and "." in rest:    # a path inside: its own error
                try:
                    node["system"].split(rest)
                except SystemStructureError as exc:
                    return exc
                continue
            model = node["model"] if node["kind"] == "component" else node["system"].interface()
            try:
                model.variable(rest, component=path)
            except ModelError as exc:
                return InvalidConnectionError(str(exc))
        else:
            for path, rest in reads:        # a path through a nested system
                head = next((path[:i] for i, c in enumerate(path) if c == "." and
                             self._graph.nodes.get(path[:i], {}).get("kind") == "system"), None)
                if head is not None:
                    inner = self._graph.nodes[head]["system"]
                    return inner._not_found(reference, [(path[len(head) + 1:], rest)])
            element = reads[-1][0]
            return SystemStructureError(f"system '{self.name}' has no element {element!r}"
                                        f"{did_you_mean(element, self._graph.nodes)}")
        return SystemStructureError(
            f"{reference!r} names no variable; write 'component.variable' "
            "(a bare name refers to a port of this system)")
