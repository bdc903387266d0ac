"""Loading an FMU for simulation: extract the archive, open its binary, and
hold the model description to what the binary really provides.

Some binaries do not export functions their description promises (state
functions behind ``canGetAndSetFMUstate="true"``, ``fmi2Reset``, ...).  The
FMU still loads: the capability flags are corrected, and each gap is logged
once, at load, as a warning on the ``cosim.fmu`` logger naming the file and
the functions.
"""

from __future__ import annotations

import dataclasses
import logging

from cosim.errors import ModelError
from cosim.fmi._binding import Library
from cosim.fmi.archive import FmuArchive
from cosim.fmi.capabilities import with_binary_functions
from cosim.fmi.model import ModelInfo
from cosim.isolation import isolation_of

__all__ = ["load_fmu"]

log = logging.getLogger("cosim.fmu")


def load_fmu(path, *, model: ModelInfo | None = None, isolate: bool = False,
             call_timeout: float | None = None,
             memory_limit: int | None = None) -> tuple[FmuArchive, Library]:
    """Extract the FMU at ``path`` and load its binary.

    With ``isolate`` (co-simulation FMUs), the binary is only loaded in
    worker processes, one per instance (see :mod:`cosim.isolation`), each
    call of an instance may last at most ``call_timeout`` seconds, and each
    worker may use at most ``memory_limit`` bytes (None: no limit).

    Returns the archive, whose ``model`` has its capability flags corrected
    to the functions the binary exports, and the loaded library.  Close the
    archive after freeing every instance.

    Raises
    ------
    ModelError
        The archive cannot be read or extracted, or the binary cannot be
        loaded or lacks a required function.
    """
    archive = FmuArchive(path, model=model)
    try:
        library = _open_library(archive, isolate, call_timeout, memory_limit)
    except BaseException:
        archive.close()
        raise
    corrected, warnings = with_binary_functions(archive.model, library.missing)
    for warning in warnings:
        log.warning("%s: %s", archive.path, warning)
    if warnings:
        corrected = dataclasses.replace(corrected, warnings=corrected.warnings + tuple(warnings))
    archive.model = corrected
    return archive, library


def _open_library(archive: FmuArchive, isolate: bool = False, call_timeout: float | None = None,
                  memory_limit: int | None = None) -> Library:
    model = archive.model
    if isolate and model.interface != "co-simulation":
        raise ModelError(f"{archive.path}: only co-simulation FMUs can be isolated; "
                         f"{model.name} runs as model exchange")

    def library(identifier=None):
        isolation = None
        if isolate:
            prefix = f"{identifier}_" if identifier else ""
            isolation = isolation_of(archive.binary, model.fmi_version, prefix, timeout=call_timeout)
        return Library(archive.binary, model.fmi_version, model_identifier=identifier,
                       interface=model.interface, isolation=isolation,
                       call_timeout=call_timeout or 0.0, memory_limit=memory_limit or 0)

    if model.fmi_version != "1.0":
        return library()
    # FMI 1.0 functions carry the model identifier as a prefix.  A binary
    # renamed after the FMU file (see _find_binary) may have been built under
    # either name, so its file name is tried when the identifier's is not there.
    try:
        return library(model.model_identifier)
    except ModelError as standard:
        if archive.binary.stem == archive.model.model_identifier:
            raise
        try:
            return library(archive.binary.stem)
        except ModelError:
            raise standard from None
