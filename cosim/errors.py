"""The exceptions cosim raises.

Every error derives from :class:`CosimError`, and every message names what is
at fault (file, component, variable, field) and, where it can, what would fix
it.
"""

from __future__ import annotations


class CosimError(Exception):
    """Base class of all cosim errors."""


class TwinNotFoundError(CosimError, LookupError):
    """A component twin name that cosim does not ship."""
