"""What the live view plots, kept decimated apart from the run.

The view never reads a running simulation per step.  A :class:`Tap` keeps
at most ``per_chunk`` rows of each batch it is given, evenly spaced, in a
ring of ``keep`` rows, which the pages read under a lock.  For a hosted
system the feed gives it the rows recorded since its last look, read
between two slices (:meth:`Tap.take`); for a twin its own program steps, the
tap is an :class:`~cosim.execution.observers.Observer` of the run, handed
each chunk of rows as the run records them.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from cosim.execution.observers import Observer

__all__ = ["Tap", "decimate"]

_INTEGER_TYPES = ("int8", "int16", "int32", "int64", "bool", "enumeration")
_UNSIGNED_TYPES = ("uint8", "uint16", "uint32", "uint64")


def decimate(times: np.ndarray, values: np.ndarray, limit: int):
    """At most ``limit`` rows of ``(times, values)``, evenly spaced, the last one kept."""
    n = len(times)
    if n <= limit:
        return times, values
    stride = math.ceil(n / limit)
    picked = np.arange(n - 1, -1, -stride)[::-1]
    return times[picked], values[picked]


class Tap(Observer):
    """Keeps a decimated copy of a run's numeric columns for the live view.

    Parameters
    ----------
    keep : int
        Rows kept in the ring (the oldest are overwritten).
    per_chunk : int
        Rows kept of each chunk the run hands over, at most.
    """

    def __init__(self, *, keep: int = 4000, per_chunk: int = 64):
        self.keep, self.per_chunk = keep, per_chunk
        self.names: list[str] = []
        self.units: dict[str, str] = {}
        self.total = 0              # rows ever kept (the readers' cursor)
        self.generation = 0         # bumped when the run rewinds: readers start over
        self._lock = threading.Lock()
        self._columns = np.zeros(0, dtype=np.intp)
        self._kinds: list[str] = []
        self._times = np.zeros(keep)
        self._values = np.zeros((keep, 0))

    def started(self, result) -> None:
        picked = [i for i, t in enumerate(result.types)
                  if t in ("float64", "float32") or t in _INTEGER_TYPES or t in _UNSIGNED_TYPES]
        with self._lock:
            self.names = [result.names[i] for i in picked]
            self.units = {result.names[i]: result.units[i] or "" for i in picked}
            self._kinds = ["f" if result.types[i] in ("float64", "float32")
                           else "u" if result.types[i] in _UNSIGNED_TYPES else "i" for i in picked]
            self._columns = np.array(picked, dtype=np.intp)
            self._values = np.zeros((self.keep, len(picked)))
            self.total = 0

    def rows(self, times, rows) -> None:
        times, rows = decimate(times, rows, self.per_chunk)
        cells = np.ascontiguousarray(rows[:, self._columns]).view(np.uint64)
        values = np.empty(cells.shape)
        for j, kind in enumerate(self._kinds):
            column = cells[:, j]
            values[:, j] = (column.view(np.float64) if kind == "f"
                            else column.view(np.int64) if kind == "i" else column)
        self._keep(times, values)

    def take(self, times: np.ndarray, rows: np.ndarray) -> None:
        """Keep rows of a result read as float64 values (every column of the
        result, as :meth:`cosim.results.Result.since` gives them), decimated."""
        times, rows = decimate(times, rows, self.per_chunk)
        self._keep(times, rows[:, self._columns])

    def _keep(self, times: np.ndarray, values: np.ndarray) -> None:
        with self._lock:
            for t, row in zip(times, values):    # at most per_chunk rows
                k = self.total % self.keep
                self._times[k] = t
                self._values[k] = row
                self.total += 1

    def rewound(self, time) -> None:
        with self._lock:
            self.total = 0
            self.generation += 1

    def since(self, cursor: int, columns: list[int], limit: int):
        """``(times, values, cursor)``: rows kept after ``cursor`` (the oldest
        still in the ring when it fell behind), decimated to ``limit``, of the
        given column indices, and the cursor to pass next time."""
        with self._lock:
            first = max(cursor, self.total - self.keep)
            index = np.arange(first, self.total) % self.keep
            times = self._times[index]
            values = self._values[index][:, columns] if columns else np.zeros((len(index), 0))
            total = self.total
        times, values = decimate(times, values, limit)
        return times, values, total
