"""Result files written as the run goes, in the format the extension names.

Every writer takes :meth:`~ResultWriter.start` once with the columns, then
:meth:`~ResultWriter.append` per chunk of rows, then :meth:`~ResultWriter.close`.
Rows arrive as 8-byte cells (see :mod:`cosim.results.cells`).
"""

from __future__ import annotations

from pathlib import Path

from cosim import paths
from cosim.errors import ResultFileError

__all__ = ["FORMATS", "ResultWriter", "check_writable", "writer_for"]


class ResultWriter:
    """Base of the result writers: the file, the column names, the context manager.

    Parameters
    ----------
    path : str or Path
        The file to write; its folder must exist.
    strip_component : str, optional
        A component whose prefix the column names drop (``"spindle"``:
        ``"spindle.speed"`` -> ``"speed"``), as for a run of a single FMU;
        its name may hold dots and spaces.
    """

    suffix = ""

    def __init__(self, path, *, strip_component: str | None = None):
        self.path = check_writable(path)
        self.strip_component = strip_component

    def start(self, names: list[str], *, types: list[str] | None = None,
              units: list | None = None, descriptions: list | None = None,
              texts: dict | None = None) -> None:
        """Begin the file with the columns: ``names``, and per column its value type
        (float64 when not given), unit and description (None where unknown);
        ``texts`` maps string and binary columns to the tables of values their
        cells index (see :attr:`cosim.results.Result.texts`; they may grow
        between chunks)."""
        raise NotImplementedError

    def append(self, times, rows) -> None:
        """Write rows (len(times) x columns) of 8-byte cells."""
        raise NotImplementedError

    def _tables(self, types: list[str], texts: dict | None) -> dict:
        """The value table of every string and binary column."""
        from cosim.results.cells import TEXT_TYPES
        texts = texts or {}
        missing = [i for i, t in enumerate(types) if t in TEXT_TYPES and i not in texts]
        if missing:
            raise ValueError(f"{self.path}: no table of values for the string or binary "
                             f"columns {missing}")
        return texts

    def close(self) -> None:
        """Finish the file; it stays readable with the rows written so far."""

    def headers(self, names: list[str]) -> list[str]:
        """The column names as written: ``names`` less the stripped component's prefix."""
        if self.strip_component is None:
            return list(names)
        prefixes = (f"{self.strip_component}.", f"{paths.quote(self.strip_component)}.")
        return [next((name[len(p):] for p in prefixes if name.startswith(p)), name)
                for name in names]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_writable(path) -> Path:
    """``path`` as a Path, or ResultFileError when its folder does not exist or it is a folder."""
    if not isinstance(path, (str, Path)):
        raise ResultFileError(f"a result file is a path or a ResultWriter, not "
                              f"{type(path).__name__} {path!r}")
    path = Path(path)
    if path.is_dir():
        raise ResultFileError(f"result file {path} is a directory; give a file name "
                              f"such as {path / ('result' + (path.suffix or '.csv'))}")
    parent = path.parent
    if not parent.is_dir():
        raise ResultFileError(f"result file {path}: the directory {parent} does not exist; "
                              "create it first")
    return path


def open_for_writing(path: Path, mode: str, **options):
    """``open(path, mode)``, with ResultFileError naming the file when it cannot be written."""
    try:
        return open(path, mode, **options)
    except OSError as exc:
        raise ResultFileError(f"result file {path} cannot be written: {exc.strerror or exc}") \
            from None


class _Formats(dict):
    """Extension -> writer class, importing each writer's module only when asked."""

    _modules = {".csv": ("cosim.results.csv_file", "CsvWriter"),
                ".parquet": ("cosim.results.parquet_file", "ParquetWriter"),
                ".mat": ("cosim.results.mat_file", "MatWriter")}

    def __init__(self):
        super().__init__(dict.fromkeys(self._modules))

    def __getitem__(self, suffix):
        import importlib
        module, name = self._modules[suffix]
        return getattr(importlib.import_module(module), name)


#: The result formats by file extension: ``FORMATS[".parquet"]`` is the writer class.
FORMATS = _Formats()


def format_of(path) -> str:
    """The extension of ``path`` (lower case) when it names a result format, else ResultFileError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise ResultFileError(f"result file {path}: {shown} is not a result format; cosim writes "
                              f"{', '.join(FORMATS)} (CSV, Parquet, MATLAB), chosen by the "
                              "extension")
    return suffix


def writer_for(target, *, strip_component: str | None = None) -> ResultWriter:
    """A writer for ``target``, by its extension: ``.csv`` (:class:`CsvWriter`),
    ``.parquet`` (:class:`ParquetWriter`) or ``.mat`` (:class:`MatWriter`).

    A :class:`ResultWriter` is returned as it is.

    Raises
    ------
    ResultFileError
        For an extension that names none of the formats, or a folder that does not exist.
    """
    if isinstance(target, ResultWriter):
        return target
    check_writable(target)
    return FORMATS[format_of(target)](target, strip_component=strip_component)
