"""Variable groups of OSP model descriptions (``<modelName>_OspModelDescription.xml``).

The OSP interface specification (OSP-IS) describes, beside an FMU, groups of
its variables with a physical meaning: a ``Force`` or a ``LinearVelocity``
(one to three variables), ports that pair them (``LinearMechanicalPort``:
one ``Force`` and one ``LinearVelocity`` of opposite causality;
``AngularMechanicalPort``, ``HydraulicPort``, ...), and ``Generic`` groups
that hold variables and any groups, nested.  A group is an element under
``VariableGroups`` whose tag is its type; ``Variable ref="..."`` children
name FMU variables.

A ``VariableGroupConnection`` of an OSP system structure connects two groups
of the same type and shape as libcosim does: the nested groups pair by
position (a mechanical port's force with the other's force, its velocity
with the other's velocity), then the variables by position, each pair
directed from its output to its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from cosim.errors import SspError
from cosim.ssp.report import xml_local
from cosim.fmi.archive import is_file

FILE_SUFFIX = "_OspModelDescription.xml"


@dataclass
class VariableGroup:
    """One variable group: its type (the element's tag), where it is written,
    its variables (FMU variable names, in order) and its nested groups."""

    name: str
    type: str
    file: Path
    line: int
    variables: list[str] = field(default_factory=list)
    groups: list[VariableGroup] = field(default_factory=list)

    def __str__(self):
        return f"{self.type} {self.name!r} ({self.file}:{self.line})"


def find(fmu: Path, model_name: str, config_folder: Path, *, confine=None) -> Path | None:
    """The OSP model description of an FMU: beside the FMU, else beside the system
    structure (libcosim looks in the same two places); None if there is none.

    With ``confine`` (a :class:`cosim.ssp.confine.Confinement`), a name that
    would lead out of its folder raises ReferenceRefused before any file is
    looked at: the model name comes from the FMU.
    """
    name = f"{model_name}{FILE_SUFFIX}"
    for folder in (Path(fmu).parent, config_folder):
        candidate = folder / name
        if confine is not None:
            candidate = confine.inside(Path(folder).resolve() / name, name)
        if is_file(candidate):
            return candidate
    return None


def read_groups(path: Path) -> dict[str, VariableGroup]:
    """Every variable group of an OSP model description by name, nested ones too.

    Raises
    ------
    SspError
        Unreadable or malformed XML, a root other than OspModelDescription, a
        group without a name, a variable without ``ref``, or two groups of one name.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.parse(str(path), parser).getroot()
    except OSError as exc:
        raise SspError(f"{path}: cannot read: {exc}") from None
    except etree.XMLSyntaxError as exc:
        raise SspError(f"{path}:{exc.lineno}: malformed XML: {exc.msg}") from None
    if xml_local(root) != "OspModelDescription":
        raise SspError(f"{path}:{root.sourceline}: not an OSP model description: the root "
                       f"element must be OspModelDescription, not {xml_local(root)}")
    found: dict[str, VariableGroup] = {}
    for container in (c for c in root if xml_local(c) == "VariableGroups"):
        for element in container:
            if xml_local(element):
                _read_group(path, element, found)
    return found


def _read_group(path: Path, element, found: dict) -> VariableGroup:
    name = element.get("name")
    if not name:
        raise SspError(f"{path}:{element.sourceline}: variable group <{xml_local(element)}> has no name")
    if name in found:
        raise SspError(f"{path}:{element.sourceline}: a second variable group named {name!r} "
                       f"(the first is {found[name]}); group names must be unique")
    group = VariableGroup(name, xml_local(element), path, element.sourceline)
    found[name] = group
    for child in element:
        kind = xml_local(child)
        if kind == "Variable":
            if not child.get("ref"):
                raise SspError(f"{path}:{child.sourceline}: a Variable of {group} has no ref")
            group.variables.append(child.get("ref"))
        elif kind:
            group.groups.append(_read_group(path, child, found))
    return group


def pair_variables(a: VariableGroup, b: VariableGroup) -> list[tuple[VariableGroup, str, VariableGroup, str]]:
    """(group of a, variable of a, group of b, variable of b) for every pair the
    connection of ``a`` and ``b`` makes: nested groups by position, then variables.

    Raises
    ------
    SspError
        The groups (or nested groups) differ in type or in size.
    """
    if a.type != b.type:
        raise SspError(f"cannot connect variable group {a} to {b}: the group types differ")
    for what, left, right in (("nested groups", a.groups, b.groups),
                              ("variables", a.variables, b.variables)):
        if len(left) != len(right):
            raise SspError(f"cannot connect variable group {a} to {b}: the sizes differ "
                           f"({len(left)} {what} against {len(right)})")
    pairs = []
    for inner_a, inner_b in zip(a.groups, b.groups):
        pairs.extend(pair_variables(inner_a, inner_b))
    pairs.extend((a, x, b, y) for x, y in zip(a.variables, b.variables))
    return pairs
