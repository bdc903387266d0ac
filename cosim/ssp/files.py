"""Reading system files: :func:`read` and :func:`load` for ``.ssp`` archives,
``.ssd`` files and OSP system structures, the unpacking of archives, and
the checks of the whole system once read.

An archive is unpacked into a private temporary folder, which lives as long
as a System read from it; its size is checked against the zip headers
before anything is written and counted as it is written.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
import zipfile
from pathlib import Path

from cosim.errors import CosimError, SspError
from cosim.fmi.archive import (MAX_UNCOMPRESSED_BYTES, UnpackBudget, UnpackLimitError,
                                check_members, extract_members, is_file)
from cosim.ssp.confine import Confinement, ReferenceRefused
from cosim.ssp.reader import Problem, Report, _Reader
from cosim.system import System

__all__ = ["load", "read"]

log = logging.getLogger("cosim")


class _Folder:
    """A temporary folder removed when no System using it is left."""

    def __init__(self, path: Path):
        self.path = path
        self._cleanup = weakref.finalize(self, shutil.rmtree, path, ignore_errors=True)

    def remove(self) -> None:
        """Remove the folder now (the system read from it is discarded)."""
        self._cleanup()


def _open_archive(path: Path, report: Report, reader: _Reader):
    """Extract an .ssp into a temporary folder; returns (folder, ssd path) or None."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        reader.error(path, None, "not an SSP archive: it is not a zip file")
        return None
    budget = reader.budget
    with zf:
        try:
            declared = check_members(path, zf, budget.limit if budget else MAX_UNCOMPRESSED_BYTES)
        except UnpackLimitError as exc:
            if budget is not None:
                raise UnpackLimitError(f"{exc}{budget.hint}") from None
            reader.error(path, None, str(exc).replace(f"{path}: ", ""))
            return None
        except CosimError as exc:
            reader.error(path, None, str(exc).replace(f"{path}: ", ""))
            return None
        names = zf.namelist()
        if "SystemStructure.ssd" not in names:
            ssds = [n for n in names if n.endswith(".ssd") and "/" not in n]
            reader.error(path, None, "the archive has no SystemStructure.ssd"
                         + (f" (it has {', '.join(ssds)})" if ssds else ""))
            return None
        if budget is not None:
            budget.charge(f"SSP archive {path.name}", declared)
        folder = Path(tempfile.mkdtemp(prefix="cosim-ssp-"))
        try:
            extract_members(path, zf, folder, declared)
        except (OSError, zipfile.BadZipFile, UnpackLimitError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, UnpackLimitError) and budget is not None:
                raise UnpackLimitError(f"{exc}{budget.hint}") from None
            reader.error(path, None, f"cannot extract: {exc}")
            return None
    return folder, folder / "SystemStructure.ssd"


def read(path, *, parameter_set: str | None = None, strict: bool = False,
         confine_to=None, max_unpacked_bytes=None) -> Report:
    """Read an .ssp or .ssd file; the report holds the system and every problem found.

    Parameters
    ----------
    strict
        Report the defects cosim tolerates in other tools' files as errors.
    confine_to
        A folder (or a :class:`~cosim.ssp.confine.Confinement`): every file the
        system refers to must lie inside the ``.ssp`` archive, or inside this
        folder for a bare ``.ssd`` or OSP file.  Give it for files from
        someone else (a server does); by default any path is followed.
    max_unpacked_bytes
        An int (or an :class:`~cosim.fmi.archive.UnpackBudget`): the bytes the
        archive and every FMU it refers to may unpack to, together.  By
        default each archive may unpack to 2 GiB.

    Raises
    ------
    ReferenceRefused
        When confined, for the first reference that leads out.
    UnpackLimitError
        When the archives would unpack to more than ``max_unpacked_bytes``.
    """
    path = Path(path)
    confine = _confinement(confine_to)
    budget = (max_unpacked_bytes if isinstance(max_unpacked_bytes, UnpackBudget) or
              max_unpacked_bytes is None else UnpackBudget(max_unpacked_bytes))
    report = Report(path, strict=strict)
    reader = _Reader(report, parameter_set, confine=confine, budget=budget)
    if confine is not None:
        confine.check(path, str(path))
    if not is_file(path):
        reader.error(path, None, "file not found")
        return report
    from cosim.ssp.osp import is_osp, read_osp
    if is_osp(path):
        if parameter_set is not None:
            reader.error(path, None, "parameter sets apply to SSP files, not OSP system structures")
            return report
        return read_osp(path, strict=strict, confine_to=confine, max_unpacked_bytes=budget)
    folder = None
    resources: _Folder | None = None
    ssd = path
    if path.suffix.lower() == ".ssp":
        opened = _open_archive(path, report, reader)
        if opened is None:
            return report
        folder, ssd = opened
        resources = reader.resources = _Folder(folder)
        if confine is not None:
            reader.confine = confine.within(folder, "the SSP archive")
    try:
        system = reader.read_ssd(ssd)
    except BaseException as exc:
        if resources is None:
            raise
        resources.remove()
        if not isinstance(exc, (ReferenceRefused, UnpackLimitError)):
            raise
        # Name the archive, not the temporary folder.
        raise type(exc)(str(exc).replace(str(folder), f"{path}!")) from None
    if folder is not None:
        # Problems name the archive, not the temporary folder.
        for problem in report.problems:
            problem.location = problem.location.replace(str(folder), f"{path}!")
            problem.message = problem.message.replace(str(folder), f"{path}!")
    if parameter_set is not None and parameter_set not in reader.set_names:
        known = ", ".join(sorted(reader.set_names)) or "none"
        report.problems.append(Problem("error", str(path), f"no parameter set named {parameter_set!r} "
                                                           f"(parameter sets in the file: {known})"))
    report.system = system
    if system is not None:
        _check_structure(system, report)
    return report


def _confinement(confine_to) -> Confinement | None:
    if confine_to is None or isinstance(confine_to, Confinement):
        return confine_to
    return Confinement(confine_to)


def _check_structure(system: System, report: Report) -> None:
    """Checks of the whole system: loops, undriven ports."""
    from cosim.analysis import algebraic_loops
    for loop in _safe(lambda: algebraic_loops(system), report) or []:
        report.problems.append(Problem("warning", str(report.path),
                                       f"algebraic loop through {' -> '.join(loop)}: it is solved "
                                       "by iteration at every communication point"))
    _undriven_ports(system, "", report)


def _undriven_ports(system: System, prefix: str, report: Report) -> None:
    for name, sub in system.subsystems.items():
        for port, var in sub.ports.items():
            if var.causality == "input" and var.start is None and \
                    system.source_of(system.reference(name, port)) is None:
                report.problems.append(Problem(
                    "warning", str(report.path),
                    f"input port {prefix}{name}.{port} is not connected and has no start value; "
                    "the inputs it drives keep their own start values"))
        _undriven_ports(sub, f"{prefix}{name}.", report)


def _safe(action, report):
    try:
        return action()
    except CosimError as exc:
        report.problems.append(Problem("error", str(report.path), str(exc)))
        return None


def load(path, *, parameter_set: str | None = None, strict: bool = False,
         confine_to=None, max_unpacked_bytes=None) -> System:
    """Read an SSP file (``.ssp`` or ``.ssd``) into a :class:`cosim.System`.

    ``parameter_set`` applies only the parameter sets with that name (plus
    unnamed ones); by default every binding applies in document order.
    ``strict`` refuses the defects of other tools' files that cosim otherwise
    accepts with a logged warning.  ``confine_to`` and ``max_unpacked_bytes``
    bound what an untrusted file may refer to and unpack (see :func:`read`).

    Raises
    ------
    SspError
        Listing every error found, each with its file, line and element.
    ReferenceRefused
        When confined, for a reference that leads out (see :func:`read`).
    UnpackLimitError
        When the archives would unpack to more than ``max_unpacked_bytes``.
    """
    report = read(path, parameter_set=parameter_set, strict=strict, confine_to=confine_to,
                  max_unpacked_bytes=max_unpacked_bytes)
    for warning in report.warnings:
        log.warning("%s", warning)
    if report.errors:
        if report.system is not None and report.system.resources is not None:
            report.system.resources.remove()      # now, not when the system is collected
        raise SspError(report)
    assert report.system is not None        # every reading that yields no system reports an error
    return report.system
