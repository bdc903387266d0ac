"""CSV result files: ``time`` plus one column per variable, flushed after every chunk."""

from __future__ import annotations

import csv

import numpy as np

from cosim.results.cells import cell_dtype
from cosim.results.writers import ResultWriter

__all__ = ["CsvWriter"]


class CsvWriter(ResultWriter):
    """Write result rows to a CSV file, flushing after every chunk.

    The header is ``time`` and the column names, as fmpy writes them; a CSV
    file holds no units (Parquet and MAT files do).  Float values are written
    with every digit (``repr``), integers as integers, booleans as 0/1.  Each
    chunk is flushed, so a run that fails, or a process that dies, leaves a
    readable file up to the last chunk.  Parameters: see
    :class:`~cosim.results.writers.ResultWriter`.
    """

    suffix = ".csv"

    def __init__(self, path, *, strip_component: str | None = None):
        super().__init__(path, strip_component=strip_component)
        self._file = open(self.path, "w", newline="")
        self._csv = csv.writer(self._file)

    def start(self, names: list[str], *, types: list[str] | None = None,
              units: list | None = None, descriptions: list | None = None) -> None:
        """Write the header; ``types`` gives each column's value type (float64
        when not given): integers are written as integers, booleans as 0/1.
        ``units`` and ``descriptions`` are not written (plain CSV has no place
        for them)."""
        self._dtypes = [cell_dtype(t) for t in (types or ["float64"] * len(names))]
        self._plain = all(t in (None, "float64") for t in (types or []))
        self._csv.writerow(["time", *self.headers(names)])
        self._file.flush()

    def append(self, times: np.ndarray, rows: np.ndarray) -> None:
        """Write rows of 8-byte cells (see :func:`cell_dtype`)."""
        rows = np.asarray(rows)
        if self._plain:
            for t, row in zip(times.tolist(), rows.view(np.float64).tolist()):
                self._csv.writerow([repr(t), *map(repr, row)])
        else:
            columns = [rows[:, i].view(dtype).tolist() for i, dtype in enumerate(self._dtypes)]
            for j, t in enumerate(times.tolist()):
                self._csv.writerow([repr(t), *(repr(c[j]) for c in columns)])
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if not self._file.closed:
            self._file.close()
