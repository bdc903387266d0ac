"""What reading a system file found (problems with their places, the system read), and
the small XML helpers the readers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from cosim.problems import Problem
from cosim.system import System

__all__ = ["Problem", "Report", "xml_child", "xml_children", "xml_local"]


@dataclass
class Report:
    """Everything found while reading a file."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    system: System | None = None
    strict: bool = False        # tolerated defects of the file are errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def xml_local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def xml_children(element, name: str):
    return [c for c in element if xml_local(c) == name]


def xml_child(element, name: str):
    found = xml_children(element, name)
    return found[0] if found else None
