"""Opening FMU archives: untrusted input, checked before anything is loaded.

An FMU is a zip archive.  Reading it checks that the file exists, is a zip,
holds a ``modelDescription.xml`` that passes the FMI schema, and a binary
for this platform; extraction refuses paths that escape the target folder,
links, and archives larger than a limit.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import tempfile
import weakref
import zipfile
from pathlib import Path, PurePosixPath

from cosim.errors import ModelError
from cosim.fmi.model import ModelInfo, model_info_from_description, read_fmi1_details

# FMI platform folder names for this machine, per FMI version.
PLATFORMS = {"1.0": "linux64", "2.0": "linux64", "3.0": "x86_64-linux"}
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_MEMBERS = 100_000

__all__ = ["FmuArchive", "read_model"]


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise ModelError(f"FMU file not found: {path}")
    if not path.is_file():
        raise ModelError(f"{path} is not a file")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelError(f"{path} is not an FMU: it is not a zip archive") from None


def _check_members(path: Path, zf: zipfile.ZipFile, max_bytes: int) -> None:
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
        raise ModelError(f"{path}: archive unpacks to {total} bytes (limit {max_bytes})")


def _binary_name(model: ModelInfo) -> str:
    return f"binaries/{PLATFORMS[model.fmi_version]}/{model.model_identifier}.so"


def _check_binary(path: Path, zf: zipfile.ZipFile, model: ModelInfo) -> None:
    names = set(zf.namelist())
    if _binary_name(model) in names:
        return
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

    Raises
    ------
    ModelError
        Naming the file and the problem: missing, not a zip, no or invalid
        modelDescription.xml, unsafe entries, no binary for this platform.
    """
    path = Path(path)
    try:
        info = path.resolve().stat()
    except OSError:
        info = None
    if info is None or not path.is_file():
        return _read_model(path, max_bytes)      # raises the specific error
    return _read_model_cached(str(path.resolve()), info.st_size, info.st_mtime_ns, max_bytes)


@functools.lru_cache(maxsize=256)
def _read_model_cached(path: str, size: int, mtime_ns: int, max_bytes: int) -> ModelInfo:
    return _read_model(Path(path), max_bytes)


def _read_model(path: Path, max_bytes: int) -> ModelInfo:
    import fmpy

    with _open_zip(path) as zf:
        _check_members(path, zf, max_bytes)
        if "modelDescription.xml" not in zf.namelist():
            raise ModelError(f"{path} is not an FMU: it has no modelDescription.xml")
        try:
            md = fmpy.read_model_description(str(path), validate=True)
        except Exception as exc:  # fmpy raises plain exceptions and lxml errors
            raise ModelError(f"{path}: invalid modelDescription.xml: {exc}") from None
        if md.fmiVersion not in PLATFORMS and not md.fmiVersion.startswith("3."):
            raise ModelError(f"{path}: FMI version {md.fmiVersion} is not supported "
                             "(supported: 1.0 co-simulation, 2.0, 3.0)")
        fmi1 = None
        if md.fmiVersion == "1.0":      # what fmpy leaves out of FMI 1.0 descriptions
            fmi1 = read_fmi1_details(zf.read("modelDescription.xml"), str(path))
        model = model_info_from_description(md, str(path), fmi1=fmi1)
        _check_binary(path, zf, model)
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
                _check_members(self.path, zf, max_bytes)
                self._extract(zf, max_bytes)
        except (zipfile.BadZipFile, OSError) as exc:
            self.close()
            raise ModelError(f"{self.path}: cannot extract the FMU: {exc}") from None
        except BaseException:
            self.close()
            raise
        self.binary = self.directory / _binary_name(self.model)

    def _extract(self, zf: zipfile.ZipFile, max_bytes: int) -> None:
        # Copy in chunks and count real bytes: a header can understate a size.
        written = 0
        for info in zf.infolist():
            target = self.directory / info.filename.replace("\\", "/")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise ModelError(f"{self.path}: archive unpacks to more than {max_bytes} bytes")
                    dst.write(chunk)
        os.chmod(self.directory, 0o700)

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
