"""Opening FMU archives: untrusted input, checked before anything is loaded.

An FMU is a zip archive.  Reading it checks that the file exists, is a zip,
holds a usable ``modelDescription.xml`` (see :func:`cosim.fmi.model.read_model_info`
for the defects tolerated with a warning) and a binary for this platform;
extraction refuses paths that escape the target folder, links, and archives
larger than a limit.  :func:`check_members` and :func:`extract_members` are
the same checks for any zip archive (SSP reading uses them), and an
:class:`UnpackBudget` bounds the bytes several archives unpack to in total
(a server's bound on what one request may write to disk).  Tolerated defects are logged as warnings on the
``cosim.fmu`` logger, naming the file, once per file.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import stat
import tempfile
import threading
import weakref
import zipfile
from pathlib import Path, PurePosixPath

from cosim.errors import ModelError
from cosim.fmi.model import ModelInfo, read_model_info

log = logging.getLogger("cosim.fmu")

# FMI platform folder names for this machine, per FMI version.
PLATFORMS = {"1.0": "linux64", "2.0": "linux64", "3.0": "x86_64-linux"}
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_MEMBERS = 100_000

__all__ = ["FmuArchive", "UnpackBudget", "UnpackLimitError", "check_members", "declared_size",
           "extract_members", "is_file", "read_model"]


class UnpackLimitError(ModelError):
    """Archives would unpack to more bytes than a limit allows."""


class UnpackBudget:
    """A bound on the bytes several archives may unpack to, together.

    Each archive is charged what its zip headers declare before anything
    is written (:meth:`charge`); extraction then counts the bytes really
    written against what was declared, so a header that understates a size
    cannot get past the bound.  ``hint`` ends every error message (say,
    the option that sets the limit).
    """

    def __init__(self, limit: int, *, hint: str = ""):
        if limit <= 0:
            raise ValueError(f"the unpack limit must be > 0 bytes, got {limit}")
        self.limit = limit
        self.used = 0
        self.hint = hint
        self._lock = threading.Lock()
        self._charged: set[Path] = set()

    def charge(self, what, nbytes: int) -> None:
        """Take ``nbytes`` for ``what`` (named in the error), or raise
        :class:`UnpackLimitError` and take nothing."""
        with self._lock:
            if self.used + nbytes > self.limit:
                raise UnpackLimitError(
                    f"{what} unpacks to {nbytes} bytes, which with the {self.used} bytes "
                    f"unpacked before it exceeds the limit of {self.limit} bytes{self.hint}")
            self.used += nbytes

    def charge_archive(self, path, what: str = "FMU") -> None:
        """Charge what the zip archive at ``path`` declares it unpacks to, once per
        file.  A file that is missing or no zip is left to the reading that
        reports why."""
        path = Path(path).resolve()
        if path in self._charged or not is_file(path):
            return
        try:
            size = declared_size(path, max_bytes=self.limit)
        except UnpackLimitError as exc:
            raise UnpackLimitError(f"{exc}{self.hint}") from None
        except ModelError:
            return
        self.charge(f"{what} {path.name}", size)
        self._charged.add(path)


def is_file(path) -> bool:
    """True if ``path`` is a file; False, not OSError, for a name the system
    refuses (too long, say): names come from files others wrote."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the FMU file {path}: {getattr(exc, 'strerror', exc)}") from None
    if not exists:
        raise ModelError(f"FMU file not found: {path}")
    if not path.is_file():
        raise ModelError(f"{path} is not a file")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelError(f"{path} is not an FMU: it is not a zip archive") from None


def check_members(path, zf: zipfile.ZipFile, max_bytes: int) -> int:
    """Check that every entry of ``zf`` (read from ``path``) stays in the folder it
    is extracted to, is no link, and that together they declare at most
    ``max_bytes``; returns the bytes declared.

    Raises
    ------
    ModelError
        Naming ``path`` and the entry at fault (:class:`UnpackLimitError`
        when the archive is too large).
    """
    members = zf.infolist()
    if len(members) > MAX_MEMBERS:
        raise ModelError(f"{path}: archive has {len(members)} entries (limit {MAX_MEMBERS})")
    total = 0
    for info in members:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
            raise ModelError(f"{path}: archive entry {info.filename!r} escapes the FMU folder")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ModelError(f"{path}: archive entry {info.filename!r} is a symbolic link")
        total += info.file_size
    if total > max_bytes:
        raise UnpackLimitError(f"{path}: archive unpacks to {total} bytes (limit {max_bytes})")
    return total


def extract_members(path, zf: zipfile.ZipFile, folder, max_bytes: int) -> int:
    """Extract ``zf`` (checked by :func:`check_members`) into ``folder``, writing
    at most ``max_bytes`` (pass what the headers declared: they are not
    trusted); returns the bytes written.  The folder is left readable by its
    owner only.

    Raises
    ------
    UnpackLimitError
        Once more than ``max_bytes`` would be written (the folder keeps what
        was written; remove it).
    """
    folder = Path(folder)
    written = 0
    for info in zf.infolist():
        target = folder / info.filename.replace("\\", "/")
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy in chunks and count real bytes: a header can understate a size.
        with zf.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise UnpackLimitError(f"{path}: archive unpacks to more than {max_bytes} bytes")
                dst.write(chunk)
    os.chmod(folder, 0o700)
    return written


def declared_size(path, *, max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> int:
    """The bytes the archive at ``path`` declares it unpacks to, after
    :func:`check_members` (raises ModelError as it does, or if ``path`` is no zip)."""
    path = Path(path)
    with _open_zip(path) as zf:
        return check_members(path, zf, max_bytes)


def _binary_name(model: ModelInfo) -> str:
    return f"binaries/{PLATFORMS[model.fmi_version]}/{model.model_identifier}.so"


def _find_binary(path: Path, names, model: ModelInfo) -> tuple[str, str | None]:
    """The archive member holding the binary, and a warning if it is not the standard one.

    Some exporters name the binary after the FMU file instead of the model
    identifier; the only ``.so`` of the platform folder, or the one named
    after the file, is taken then.
    """
    expected = _binary_name(model)
    names = set(names)
    if expected in names:
        return expected, None
    folder = f"binaries/{PLATFORMS[model.fmi_version]}/"
    candidates = sorted(n for n in names if n.startswith(folder) and n.endswith(".so")
                        and "/" not in n[len(folder):])
    after_file = f"{folder}{path.stem}.so"
    if after_file in candidates:
        chosen, why = after_file, "named after the FMU file"
    elif len(candidates) == 1:
        chosen, why = candidates[0], f"the only binary in {folder}"
    elif candidates:
        listed = ", ".join(PurePosixPath(c).name for c in candidates)
        raise ModelError(f"{path}: no binary {expected} for modelIdentifier "
                         f"{model.model_identifier!r}, and {len(candidates)} other binaries in "
                         f"{folder} ({listed}), none named after the model identifier or the "
                         f"FMU file; rename the right one to {model.model_identifier}.so")
    else:
        _no_binary(path, names, model)
    return chosen, (f"the binary for modelIdentifier {model.model_identifier!r} should be {expected}; "
                    f"using {chosen}, {why}")


def _no_binary(path: Path, names: set[str], model: ModelInfo) -> None:
    platforms = sorted({n.split("/")[1] for n in names
                        if n.startswith("binaries/") and n.count("/") >= 2 and n.split("/")[1]})
    if platforms:
        found = f"it has binaries for {', '.join(platforms)}"
    elif any(n.startswith("sources/") for n in names):
        found = "it carries sources only; compile it first (e.g. 'fmpy compile')"
    else:
        found = "it has no binaries"
    raise ModelError(f"{path}: no binary for this platform ({_binary_name(model)}); {found}")


def read_model(path, *, max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> ModelInfo:
    """Read and check an FMU archive without extracting it.

    The result is shared by every read of the same unchanged file (same path,
    size and modification time), so a system of thousands of instances of
    one FMU reads it once.  Treat it as read-only.

    Defects that can be tolerated are logged as warnings and kept in
    ``ModelInfo.warnings``.

    Raises
    ------
    ModelError
        Naming the file and the problem: missing, not a zip, no or unusable
        modelDescription.xml, unsafe entries, no binary for this platform.
    """
    path = Path(path)
    try:
        info = path.resolve().stat()
    except (OSError, ValueError):
        info = None
    if info is None or not is_file(path):
        return _read_model(path, max_bytes)      # raises the specific error
    return _read_model_cached(str(path.resolve()), info.st_size, info.st_mtime_ns, max_bytes)


@functools.lru_cache(maxsize=256)
def _read_model_cached(path: str, size: int, mtime_ns: int, max_bytes: int) -> ModelInfo:
    return _read_model(Path(path), max_bytes)


def _read_model(path: Path, max_bytes: int) -> ModelInfo:
    with _open_zip(path) as zf:
        check_members(path, zf, max_bytes)
        if "modelDescription.xml" not in zf.namelist():
            raise ModelError(f"{path} is not an FMU: it has no modelDescription.xml")
        model = read_model_info(str(path))
        _, warning = _find_binary(path, zf.namelist(), model)
    if warning is not None:
        model.warnings += (warning,)
    # Reads are cached per file, so each defect is reported once, not per instance.
    for warning in model.warnings:
        log.warning("%s: %s", path, warning)
    return model


class FmuArchive:
    """An FMU extracted to a private temporary folder, removed on :meth:`close`.

    Several instances of the same FMU share one archive (and one loaded
    library).
    """

    def __init__(self, path, *, model: ModelInfo | None = None,
                 max_bytes: int = MAX_UNCOMPRESSED_BYTES):
        self.path = Path(path)
        self.model = model if model is not None else read_model(self.path, max_bytes=max_bytes)
        self.directory = Path(tempfile.mkdtemp(prefix=f"cosim-{self.model.model_identifier}-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)
        try:
            with _open_zip(self.path) as zf:
                declared = check_members(self.path, zf, max_bytes)
                extract_members(self.path, zf, self.directory, declared)
                member, _ = _find_binary(self.path, zf.namelist(), self.model)
        except (zipfile.BadZipFile, OSError) as exc:
            self.close()
            raise ModelError(f"{self.path}: cannot extract the FMU: {exc}") from None
        except BaseException:
            self.close()
            raise
        self.binary = self.directory / member

    @functools.cached_property
    def resources_uri(self) -> str:
        """The resources folder as a file URI (FMI 2 fmuResourceLocation)."""
        return (self.directory / "resources").as_uri()

    @functools.cached_property
    def resources_path(self) -> str:
        """The resources folder as a path ending in a separator (FMI 3 resourcePath)."""
        return str(self.directory / "resources") + os.sep

    def close(self) -> None:
        """Remove the extracted files; instances of this FMU must be freed first."""
        self._cleanup()
