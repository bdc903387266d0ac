"""CSV result files: ``time`` plus one column per variable, flushed after every chunk."""

from __future__ import annotations

import csv
from typing import Any

import numpy as np

from cosim.results.cells import TEXT_TYPES, cell_dtype, decode
from cosim.results.writers import ResultWriter, open_for_writing

__all__ = ["CsvWriter"]


class CsvWriter(ResultWriter):
    """Write result rows to a CSV file, flushing after every chunk.

    The header is ``time`` and the column names, as fmpy writes them; a CSV
    file holds no units (Parquet and MAT files do).  Float values are written
    with every digit (``repr``), integers as integers, booleans as 0/1,
    strings as text (quoted where the CSV dialect needs it), binaries as
    hexadecimal digits.  Each
    chunk is flushed, so a run that fails, or a process that dies, leaves a
    readable file up to the last chunk.  Parameters: see
    :class:`~cosim.results.writers.ResultWriter`.
    """

    suffix = ".csv"

    def __init__(self, path, *, strip_component: str | None = None):
        super().__init__(path, strip_component=strip_component)
        self._file: Any = None  # opened by start: a run refused before it leaves the file alone

    def start(self, names: list[str], *, types: list[str] | None = None,
              units: list | None = None, descriptions: list | None = None,
              texts: dict | None = None) -> None:
        """Write the header; ``types`` gives each column's value type (float64
        when not given): integers are written as integers, booleans as 0/1.
        ``units`` and ``descriptions`` are not written (plain CSV has no place
        for them)."""
        self._types = list(types or ["float64"] * len(names))
        self._dtypes = [cell_dtype(t) for t in self._types]
        self._texts = self._tables(self._types, texts)
        self._plain = all(t in (None, "float64") for t in (types or []))
        self._file = open_for_writing(self.path, "w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(["time", *self.headers(names)])
        self._file.flush()

    def append(self, times: np.ndarray, rows: np.ndarray) -> None:
        """Write rows of 8-byte cells (see :func:`cell_dtype`)."""
        rows = np.asarray(rows)
        if self._plain:
            for t, row in zip(times.tolist(), rows.view(np.float64).tolist()):
                self._csv.writerow([repr(t), *map(repr, row)])
        else:
            columns = [self._column(rows[:, i], i) for i in range(len(self._dtypes))]
            for j, t in enumerate(times.tolist()):
                self._csv.writerow([repr(t), *(c[j] for c in columns)])
        self._file.flush()

    def _column(self, cells, i: int) -> list:
        """Column i's cells as the texts written."""
        type_ = self._types[i]
        if type_ == "binary":
            return [v.hex() for v in decode(cells, type_, self._texts[i])]
        if type_ in TEXT_TYPES:
            return decode(cells, type_, self._texts[i]).tolist()
        return list(map(repr, cells.view(self._dtypes[i]).tolist()))

    def close(self) -> None:
        """Close the file."""
        if self._file is not None and not self._file.closed:
            self._file.close()
