"""Hosted systems kept on disk, so that a restarted server brings them back.

``cosim serve --state-dir DIR`` keeps one folder per hosted system, named by
its id, holding what it takes to rebuild it:

- ``system.pb``: the CreateSystem request (the SSP archive sent, or the
  server-side path), written when the system is created;
- ``initialize.pb``: the Initialize request (step size, parameters, record
  list, live inputs), written when it is initialized;
- ``state.bin``: the simulation's saved state (every FMU's serialized state
  and the master's values and held inputs, in the format of
  :mod:`cosim.execution.state`), written every ``--checkpoint-every``
  seconds while the system changes, and when the server stops;
- ``status.json``: the time and step of that state, or why the system failed.

Every file is written whole under a temporary name in the same folder and
then renamed over the old one, so that a server killed at any moment
(``kill -9`` included) leaves either the previous checkpoint or the new
one.  Terminate removes the folder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cosim.errors import ConfigurationError

__all__ = ["Saved", "StateDir"]

log = logging.getLogger("cosim.rpc")

SYSTEM_FILE, INITIALIZE_FILE, STATE_FILE, STATUS_FILE = (
    "system.pb", "initialize.pb", "state.bin", "status.json")
LOCK_FILE = ".lock"
# The most a state file may hold (a system's SSP archive is the largest).
MAX_FILE_BYTES = 1 << 30
# System ids are uuid4 hex strings: a folder named otherwise is not ours.
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class Saved:
    """What the state directory holds of one system; ``damage`` says which
    of its files cannot be read (the system then comes back failed)."""

    system_id: str
    create: bytes
    initialize: bytes | None
    state: bytes | None
    status: dict
    damage: str = ""


class StateDir:
    """A server's state directory: folders of hosted systems, written atomically.

    Raises ConfigurationError when ``path`` cannot be a private directory of
    this server (not a directory, a symbolic link, or not writable).
    """

    def __init__(self, path, *, checkpoint_every: float = 60.0):
        if not str(path).strip():
            raise ConfigurationError("--state-dir: give a directory, not an empty name")
        self.path = Path(path)
        if self.path.is_symlink():
            raise ConfigurationError(f"--state-dir {path}: is a symbolic link; give the directory "
                                     "itself")
        if self.path.exists() and not self.path.is_dir():
            raise ConfigurationError(f"--state-dir {path}: is not a directory")
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.path, prefix=".probe-")
            probe.close()
        except OSError as exc:
            raise ConfigurationError(f"--state-dir {path}: cannot write there "
                                     f"({exc.strerror or exc})") from None
        if not (checkpoint_every > 0 and checkpoint_every < float("inf")):
            raise ConfigurationError(f"--checkpoint-every must be a number of seconds > 0, "
                                     f"got {checkpoint_every!r}")
        self.checkpoint_every = float(checkpoint_every)
        # One server per directory: a second would overwrite the first's checkpoints.
        self._lock = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            raise ConfigurationError(f"--state-dir {path}: another server is using it (it holds "
                                     f"{LOCK_FILE} there); give each server its own") from None

    def close(self) -> None:
        """Let another server use the directory (the server has stopped)."""
        if self._lock >= 0:
            os.close(self._lock)        # releases the lock
            self._lock = -1

    def folder(self, system_id: str) -> Path:
        return self.path / system_id

    # -- writing --------------------------------------------------------------------

    def created(self, system_id: str, request) -> None:
        """Keep the CreateSystem request of a new system."""
        folder = self.folder(system_id)
        folder.mkdir(mode=0o700)
        _write(folder, SYSTEM_FILE, request.SerializeToString())

    def initialized(self, system_id: str, request) -> None:
        """Keep the Initialize request of a system (its state comes with the
        first checkpoint)."""
        _write(self.folder(system_id), INITIALIZE_FILE, request.SerializeToString())

    def checkpoint(self, system_id: str, state: bytes, *, time: float, steps: int) -> None:
        """Keep a saved state of a system at ``time`` (``steps`` steps in)."""
        _write(self.folder(system_id), STATE_FILE, state)
        self._status(system_id, state="running", time=time, steps=steps)

    def unsaveable(self, system_id: str, why: str, *, time: float) -> None:
        """Note that a system's state cannot be saved (it comes back failed, saying so)."""
        self._status(system_id, state="unsaveable", time=time, error=why)

    def failed(self, system_id: str, error: str, *, time: float) -> None:
        """Note that a system failed (it comes back failed, with ``error``)."""
        self._status(system_id, state="failed", time=time, error=error)

    def _status(self, system_id: str, **status) -> None:
        _write(self.folder(system_id), STATUS_FILE, json.dumps(status, allow_nan=True).encode())

    def forget(self, system_id: str) -> None:
        """Remove a terminated system's folder."""
        shutil.rmtree(self.folder(system_id), ignore_errors=True)

    # -- reading --------------------------------------------------------------------

    def saved(self) -> list[Saved]:
        """Every system kept here, oldest first; folders that are not a
        system's are named in a warning and left alone."""
        found = []
        for folder in sorted(self.path.iterdir(), key=_age):
            if folder.name.startswith("."):
                continue
            if not _ID.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
                log.warning("state directory %s: %s is not a hosted system's folder; left alone",
                            self.path, folder.name)
                continue
            for leftover in folder.glob("tmp-*"):     # a write cut short by a kill
                leftover.unlink(missing_ok=True)
            try:
                found.append(self._read(folder))
            except (OSError, ValueError) as exc:
                log.error("state directory %s: system %s cannot be read back (%s); its folder "
                          "is left as it is", self.path, folder.name, exc)
        return found

    @staticmethod
    def _read(folder: Path) -> Saved:
        """A system's files; without its request it cannot be rebuilt (ValueError)."""
        create = _read(folder / SYSTEM_FILE)
        if create is None:
            raise ValueError(f"{SYSTEM_FILE} is missing")
        files: dict[str, bytes | None] = {}
        damage = []
        for name in (INITIALIZE_FILE, STATE_FILE, STATUS_FILE):
            try:
                files[name] = _read(folder / name)
            except (OSError, ValueError) as exc:
                files[name] = None
                damage.append(str(exc))
        status: dict = {}
        text = files[STATUS_FILE]
        if text:
            try:
                found = json.loads(text)
            except ValueError:
                found = None
            if isinstance(found, dict):
                status = found
            else:
                damage.append(f"{STATUS_FILE} is not a JSON object")
        return Saved(folder.name, create, files[INITIALIZE_FILE], files[STATE_FILE], status,
                     "; ".join(damage))


def _age(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except OSError:
        return 0.0


def _read(path: Path) -> bytes | None:
    """The bytes of a regular file of at most MAX_FILE_BYTES, or None when
    there is none; never through a symbolic link, never waiting on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"{path.name} cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        raise ValueError(f"{path.name} holds {info.st_size} bytes, more than a state file may")
    with os.fdopen(fd, "rb") as file:
        return file.read()


def _write(folder: Path, name: str, data: bytes) -> None:
    """Replace ``folder/name`` with ``data`` in one step: written to a new file
    (created exclusively, so a planted link is never followed), flushed to
    disk, then renamed over the old one."""
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f"tmp-{name}-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
