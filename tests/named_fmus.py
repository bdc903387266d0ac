"""FMUs whose names are spelled as other exporters spell them, built at test time
from the gain twin (its binary knows variables by value reference only)."""

from __future__ import annotations

import zipfile

from cosim import twins

# FMI 2 structured names for the gain's k, b, u and y.
DOTTED_NAMES = {"k": "k", "b": "b.c", "u": "in.u[1]", "y": "der(out.y)"}


def rewrite_gain(target, *, names=None, identifier=None):
    """A copy of the gain FMU at ``target`` with variables renamed (``{old: new}``)
    and, with ``identifier``, a modelIdentifier and binary of that name."""
    with zipfile.ZipFile(twins.path("gain")) as zin:
        xml = zin.read("modelDescription.xml").decode()
        for old, new in (names or {}).items():
            xml = xml.replace(f'ScalarVariable name="{old}"', f'ScalarVariable name="{new}"')
        binary = zin.read("binaries/linux64/gain.so")
    if identifier is not None:
        xml = xml.replace('modelIdentifier="gain"', f'modelIdentifier="{identifier}"')
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        zout.writestr("modelDescription.xml", xml)
        zout.writestr(f"binaries/linux64/{identifier or 'gain'}.so", binary)
    return target
