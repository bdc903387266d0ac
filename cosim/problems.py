"""A problem found in a system file: shared by the SSP readers and the gRPC
client (which must not import the readers' XML and graph libraries)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem"]


@dataclass
class Problem:
    """One finding: severity "error" or "warning", where, and what."""

    severity: str
    location: str
    message: str

    def __str__(self):
        return f"{self.location}: {self.severity}: {self.message}"
