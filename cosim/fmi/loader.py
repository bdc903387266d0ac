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

__all__ = ["load_fmu"]

log = logging.getLogger("cosim.fmu")


def load_fmu(path, *, model: ModelInfo | None = None) -> tuple[FmuArchive, Library]:
    """Extract the FMU at ``path`` and load its binary.

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
        library = _open_library(archive)
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


def _open_library(archive: FmuArchive) -> Library:
    if archive.model.fmi_version != "1.0":
        return Library(archive.binary, archive.model.fmi_version,
                       interface=archive.model.interface)
    # FMI 1.0 functions carry the model identifier as a prefix.  A binary
    # renamed after the FMU file (see _find_binary) may have been built under
    # either name, so its file name is tried when the identifier's is not there.
    try:
        return Library(archive.binary, "1.0", model_identifier=archive.model.model_identifier)
    except ModelError as standard:
        if archive.binary.stem == archive.model.model_identifier:
            raise
        try:
            return Library(archive.binary, "1.0", model_identifier=archive.binary.stem)
        except ModelError:
            raise standard from None
