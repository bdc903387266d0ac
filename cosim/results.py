"""Recorded results: in memory as numpy arrays, and on disk as the run goes.

Rows arrive in chunks from the master; :class:`CsvWriter` appends and flushes
each chunk, so a run that fails leaves a readable file up to the failure.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from cosim import paths
from cosim.errors import CosimError, did_you_mean

__all__ = ["CsvWriter", "Result"]

# Rows arrive as 8-byte cells, one per column: a double for float types, an
# int64 for signed integers and bools, a uint64 for unsigned integers, so
# that every value (int64 and uint64 extremes too) is kept exactly.
_UNSIGNED = ("uint8", "uint16", "uint32", "uint64")


def cell_dtype(type_: str):
    """The numpy dtype of the cells of a column of value type ``type_``."""
    if type_ in ("float64", "float32"):
        return np.float64
    return np.uint64 if type_ in _UNSIGNED else np.int64


def _decode(cells: np.ndarray, type_: str) -> np.ndarray:
    """A column of cells as values of ``type_`` (a new array)."""
    values = np.ascontiguousarray(cells).view(np.uint64).view(cell_dtype(type_))
    return values.astype(np.dtype(type_) if type_ != "bool" else bool)


class Result:
    """Time series of recorded variables.

    ``result.time`` is the time of each row; ``result["comp.var"]`` the
    values of one variable, as a numpy array of the variable's type
    (float64, float32, int8 ... uint64, bool; ``types`` names them per
    column, float64 when not given).  An FMI 3
    array variable is recorded as one column per element, named
    ``"comp.arr[0]"``, ``"comp.arr[1]"`` ... (``"comp.arr[0,1]"`` for more
    dimensions, row-major); ``result["comp.arr"]`` gives them all, shaped
    (rows, *array shape).
    Column names are references as :meth:`cosim.System.reference` writes
    them (``"DP Controller.y"``, ``'"a.b".c'`` where a plain one would read
    two ways); ``result[...]`` also takes the other spellings of a reference
    (quoted, or a tuple such as ``("a.b", "c")``, see :mod:`cosim.paths`).
    Once the simulation stops, ``stats`` holds its per-component statistics
    and, for a real-time run, ``realtime`` its
    :class:`~cosim.execution.pacing.RealtimeStats` (None otherwise).  It also says
    where and why the run ended: ``end_time`` is the simulation time reached
    (when a component asked to end the simulation inside a step, the time it
    asked, after the last row), ``end_reason`` a sentence ("reached the stop
    time", the component's request to terminate, "failed: ..."), and
    ``terminated_by`` names the components that asked to end the simulation
    (empty when none did).
    """

    def __init__(self, names: list[str], *, arrays: dict | None = None,
                 types: list[str] | None = None):
        self.names = list(names)
        self.types = list(types) if types is not None else ["float64"] * len(self.names)
        self._index = {name: i for i, name in enumerate(self.names)}
        # array name -> (shape, indices of its element columns)
        self.arrays = dict(arrays or {})
        self._times: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._length = 0    # rows in all chunks: len() must not join them at every step
        self._cache = None
        self.stats = {}     # component -> ComponentStats, filled when the simulation stops
        self.realtime = None    # RealtimeStats of a real-time run, filled when it stops
        self.end_time: float | None = None      # filled when the simulation stops
        self.end_reason: str | None = None
        self.terminated_by: tuple[str, ...] = ()

    def append(self, times: np.ndarray, rows: np.ndarray) -> None:
        """Add rows (shape: len(times) x len(names)) of 8-byte cells (see
        :func:`cell_dtype`; float64 rows suit float64 columns)."""
        if len(times):
            self._times.append(times)
            self._rows.append(np.asarray(rows).view(np.uint64))
            self._length += len(times)
            self._cache = None

    def since(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, rows) from row ``start`` on, as float64 rows, joining only the
        chunks that hold them (a stream of rows after each step stays linear
        in the run)."""
        times, rows, end = [], [], self._length
        for t, r in zip(reversed(self._times), reversed(self._rows)):
            if end <= start:
                break
            skip = max(start - (end - len(t)), 0)
            times.append(t[skip:])
            rows.append(r[skip:])
            end -= len(t)
        if not times:
            return np.empty(0), np.empty((0, len(self.names)))
        return np.concatenate(times[::-1]), self._floats(np.concatenate(rows[::-1]))

    def _floats(self, cells: np.ndarray) -> np.ndarray:
        """Rows of cells as float64 values (booleans as 0/1)."""
        if all(t == "float64" for t in self.types):
            return cells.view(np.float64)
        out = np.empty(cells.shape)
        for i, type_ in enumerate(self.types):
            out[:, i] = cells[:, i].view(cell_dtype(type_))
        return out

    def truncate(self, time: float) -> None:
        """Drop the rows after ``time`` (a simulation restored to an earlier point)."""
        times, rows = self._arrays()
        keep = int(np.searchsorted(times, time, side="right"))
        self._times, self._rows = [times[:keep]], [rows[:keep]]
        self._length = keep
        self._cache = None

    def _arrays(self):
        if self._cache is None:
            times = np.concatenate(self._times) if self._times else np.empty(0)
            rows = (np.concatenate(self._rows) if self._rows
                    else np.empty((0, len(self.names)), dtype=np.uint64))
            self._cache = (times, rows)
        return self._cache

    @property
    def time(self) -> np.ndarray:
        return self._arrays()[0]

    def column(self, name) -> str:
        """The column (or array) name a reference spells; KeyError if it was not
        recorded or could name two columns."""
        if isinstance(name, str) and (name in self._index or name in self.arrays):
            return name
        try:
            reads = paths.readings(name)
        except CosimError as exc:
            raise KeyError(str(exc)) from None
        found = []
        for path, variable in reads:
            for spelled in {paths.reference(path, variable), paths.explicit(path, variable)}:
                if (spelled in self._index or spelled in self.arrays) and spelled not in found:
                    found.append(spelled)
        if len(found) == 1:
            return found[0]
        if found:
            raise KeyError(f"{name!r} could mean the columns {' or '.join(map(repr, found))}; "
                           "give one of them")
        shown = name if isinstance(name, str) else paths.text(name)
        raise KeyError(f"{name!r} was not recorded"
                       f"{did_you_mean(shown, [*self.names, *self.arrays])}")

    def __getitem__(self, name) -> np.ndarray:
        name = self.column(name)
        rows = self._arrays()[1]
        if name in self.arrays:
            shape, columns = self.arrays[name]
            return _decode(rows[:, columns], self.types[columns[0]]).reshape(len(rows), *shape)
        i = self._index[name]
        return _decode(rows[:, i], self.types[i])

    def __contains__(self, name) -> bool:
        try:
            self.column(name)
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return self._length

    def __repr__(self):
        return f"Result({len(self.names)} variables, {len(self)} rows)"

    def to_csv(self, path, *, strip_component: str | None = None) -> None:
        """Write ``time`` plus one column per variable (see :class:`CsvWriter`)."""
        with CsvWriter(path, strip_component=strip_component) as writer:
            writer.start(self.names, types=self.types)
            writer.append(*self._arrays())

    def to_parquet(self, path) -> None:
        """Write ``time`` plus one column per variable, of its type, as Parquet."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        times, rows = self._arrays()
        columns = {"time": times, **{name: _decode(rows[:, i], self.types[i])
                                     for i, name in enumerate(self.names)}}
        pq.write_table(pa.table(columns), path)


class CsvWriter:
    """Write result rows to a CSV file, flushing after every chunk.

    Call :meth:`start` with the column names, then :meth:`append` per chunk.
    ``strip_component`` names a component whose prefix the headers drop
    (``"spindle"``: ``"spindle.speed"`` -> ``"speed"``), as for a run of a
    single FMU; its name may hold dots and spaces.
    """

    def __init__(self, path, *, strip_component: str | None = None):
        self.path = Path(path)
        self.strip_component = strip_component
        self._file = open(self.path, "w", newline="")
        self._csv = csv.writer(self._file)

    def start(self, names: list[str], *, types: list[str] | None = None) -> None:
        """Write the header; ``types`` gives each column's value type (float64
        when not given): integers are written as integers, booleans as 0/1."""
        self._dtypes = [cell_dtype(t) for t in (types or ["float64"] * len(names))]
        self._plain = all(t in (None, "float64") for t in (types or []))
        if self.strip_component is not None:
            prefixes = (f"{self.strip_component}.", f"{paths.quote(self.strip_component)}.")
            names = [next((name[len(p):] for p in prefixes if name.startswith(p)), name)
                     for name in names]
        self._csv.writerow(["time", *names])
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
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
