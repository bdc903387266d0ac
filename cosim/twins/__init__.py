"""The component twin FMUs shipped with cosim.

The FMUs are compiled from the C sources in ``fmus/`` when the package is
built; each exists as an FMI 2.0 and an FMI 3.0 co-simulation FMU.

Examples
--------
>>> from cosim import twins
>>> twins.path("spindle").name
'spindle.fmu'
>>> "furnace" in twins.names()
True
"""

from __future__ import annotations

from pathlib import Path

from cosim.errors import TwinNotFoundError

_HERE = Path(__file__).resolve().parent
_FOLDERS = {"2.0": "fmi2", "3.0": "fmi3"}

__all__ = ["names", "path"]


def names() -> list[str]:
    """Names of the installed twins, sorted."""
    return sorted(p.stem for p in (_HERE / "fmi2").glob("*.fmu"))


def path(name: str, fmi_version: str = "2.0") -> Path:
    """Path of the FMU of twin ``name`` for ``fmi_version`` ("2.0" or "3.0").

    Raises
    ------
    TwinNotFoundError
        If no twin of that name is installed; the message lists the known ones.
    ValueError
        If ``fmi_version`` is not "2.0" or "3.0".
    """
    if fmi_version not in _FOLDERS:
        raise ValueError(f"fmi_version must be one of {sorted(_FOLDERS)}, got {fmi_version!r}")
    fmu = _HERE / _FOLDERS[fmi_version] / f"{name}.fmu"
    if not fmu.is_file():
        known = names()
        if not known:
            raise TwinNotFoundError(
                f"no twin FMUs are built in {_HERE}; install the package with 'pip install .' "
                "(or 'pip install -e .') so that the build compiles them")
        raise TwinNotFoundError(f"unknown twin {name!r}; known twins: {', '.join(known)}")
    return fmu
