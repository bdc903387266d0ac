"""Reading the system files clients send or name, for the Orchestrator.

A client's file is untrusted: every file it refers to must lie inside its
``.ssp`` archive (sent as bytes) or inside the server's root (named by
path), and the archive and its FMUs may unpack to a bounded number of bytes
(see :mod:`cosim.ssp.confine` and :class:`cosim.fmi.archive.UnpackBudget`).
Refusals become request errors whose messages name files as the client
knows them (not by the server's temporary folder or root) and fit in a
gRPC status.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc

from cosim.errors import CosimError, SspError
from cosim.fmi.archive import UnpackLimitError, is_file
from cosim.rpc.common import RequestError, problem_list
from cosim.rpc.quotas import SharedBudget, SystemBudget
from cosim.ssp.confine import Confinement, ReferenceRefused, shown

__all__ = ["Loader", "Opened"]

LIMIT_HINT = " (the server option --max-unpacked-bytes sets the limit)"


@dataclass
class Opened:
    """A request's system file, ready to read: where its references may lead,
    its unpack budget, and the private folder it was written to (if sent)."""

    path: Path
    confine: Confinement
    budget: SystemBudget
    workdir: Path | None
    shown_as: Path          # the folder messages name files relative to

    def hidden(self, text: str) -> str:
        return text.replace(f"{self.shown_as}/", "")

    def remove(self) -> None:
        self.budget.release()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


class Loader:
    """Opens, loads and checks the system files of CreateSystem requests."""

    def __init__(self, root: Path, *, max_unpacked_bytes: int, allow_remote: bool,
                 total: SharedBudget | None = None):
        self.root = root
        self.max_unpacked_bytes = max_unpacked_bytes
        # what every system unpacks to, together (unbounded when not given)
        self.total = total or SharedBudget(2**63)
        self.allow_remote = allow_remote

    def open(self, request) -> Opened:
        """The request's file: its bytes written to a private folder, or its path
        checked to lie under the root."""
        source = request.WhichOneof("source")
        if source not in ("ssp", "path"):
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               "source: give the system as ssp (bytes) or path")
        if source == "ssp" and not request.ssp:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "ssp: the system file sent is empty")
        if source == "path" and not request.path.strip():
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "path: the path is empty")
        budget = SystemBudget(self.max_unpacked_bytes, self.total, hint=LIMIT_HINT)
        if source == "path":
            confine = Confinement(self.root, label="the server's root directory",
                                  allow_remote=self.allow_remote)
            return Opened(self.server_path(request.path), confine, budget, None, self.root)
        workdir = Path(tempfile.mkdtemp(prefix="cosim-system-"))
        try:
            budget.charge("the system sent", len(request.ssp))
            if request.ssp[:2] == b"PK":
                path, label = workdir / "system.ssp", "the SSP archive"
            else:
                path, label = workdir / "system.ssd", ("the request: an .ssd sent as bytes refers "
                                                       "to no other file (send an .ssp archive "
                                                       "holding them)")
            path.write_bytes(request.ssp)
        except BaseException as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            budget.release()
            if isinstance(exc, UnpackLimitError):
                raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)) from None
            raise
        confine = Confinement(workdir, label=label, allow_remote=self.allow_remote)
        return Opened(path, confine, budget, workdir, workdir)

    def server_path(self, text: str) -> Path:
        """The file ``text`` names under the root (an absolute path too, if it is there)."""
        confine = Confinement(self.root)
        try:
            path = (confine.inside(Path(text), text) if Path(text).is_absolute()
                    else confine.resolve(text, self.root))
        except (ReferenceRefused, ValueError):
            raise RequestError(grpc.StatusCode.PERMISSION_DENIED,
                               f"{shown(text)} is outside the server's root directory") from None
        if not is_file(path):
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"no file {shown(text)} under the server's root")
        return path

    def load(self, request):
        """(System, private folder or None, budget) of a CreateSystem request; the
        folder holds the system's files and the budget its share of the server's
        total until the system is terminated."""
        opened = self.open(request)
        from cosim.ssp import load
        try:
            with _refusals(opened):
                system = load(opened.path, parameter_set=request.parameter_set or None,
                              confine_to=opened.confine, max_unpacked_bytes=opened.budget)
        except BaseException:
            opened.remove()
            raise
        return system, opened.workdir, opened.budget

    def check(self, request) -> list:
        """Every problem (errors and warnings) found reading the request's file,
        as (severity, location, message), files named as the client knows them."""
        opened = self.open(request)
        from cosim.ssp import read
        try:
            with _refusals(opened):
                report = read(opened.path, parameter_set=request.parameter_set or None,
                              confine_to=opened.confine, max_unpacked_bytes=opened.budget)
            resources = report.system.resources if report.system is not None else None
            if resources is not None:
                resources.remove()
            return [(p.severity, opened.hidden(p.location), opened.hidden(p.message))
                    for p in report.problems]
        finally:
            opened.remove()


class _refusals:
    """Reading errors as request errors: a reference leading out is
    PERMISSION_DENIED, too many bytes RESOURCE_EXHAUSTED, the rest
    INVALID_ARGUMENT with at most a few problems listed."""

    def __init__(self, opened: Opened):
        self.opened = opened

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        hidden = self.opened.hidden
        if isinstance(exc, ReferenceRefused):
            raise RequestError(grpc.StatusCode.PERMISSION_DENIED, hidden(str(exc))) from None
        if isinstance(exc, UnpackLimitError):
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, hidden(str(exc))) from None
        if isinstance(exc, SspError) and exc.problems:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, problem_list(
                hidden(str(self.opened.path)), [hidden(str(p)) for p in exc.problems],
                more="CheckSystem lists them all")) from None
        if isinstance(exc, CosimError):
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, hidden(str(exc))) from None
        return False
