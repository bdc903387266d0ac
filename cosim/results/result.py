"""Recorded results in memory: time series kept in the chunks the master hands over."""

from __future__ import annotations

import numpy as np

from cosim import paths
from cosim.errors import CosimError, MissingExtraError, did_you_mean
from cosim.results.cells import TEXT_TYPES, cell_dtype
from cosim.results.cells import decode as _decode

__all__ = ["Result"]


class Result:
    """Time series of recorded variables.

    ``result.time`` is the time of each row; ``result["comp.var"]`` the
    values of one variable, as a numpy array of the variable's type
    (float64, float32, int8 ... uint64, bool; ``types`` names them per
    column, float64 when not given); a string or binary column gives an
    object array of str or bytes.  An FMI 3
    array variable is recorded as one column per element, named
    ``"comp.arr[0]"``, ``"comp.arr[1]"`` ... (``"comp.arr[0,1]"`` for more
    dimensions, row-major); ``result["comp.arr"]`` gives them all, shaped
    ``(rows, *array shape)``.
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
    ``units`` and ``descriptions`` give each column's unit and description
    from the model descriptions (None where a model declares none); see
    :meth:`unit`.  ``texts`` maps each string or binary column to its table
    of distinct values, which that column's cells index (the simulation
    extends the tables as values appear; columns may share one).

    A result goes to a file with :meth:`save` (CSV, Parquet or MAT by the
    extension), to a pandas DataFrame with :meth:`to_pandas` and to a plot
    with :meth:`plot`; :func:`cosim.results.read_result` reads a file back.

    A long or open-ended run keeps a bounded window in memory: with
    ``keep_rows`` only the last that many rows, with ``keep_seconds`` only the
    rows of the last that many simulation seconds (the output file of the run
    still gets every row).  ``len`` and the columns cover the rows kept;
    ``total`` counts every row recorded, the ones dropped from the window
    included, and :meth:`since` takes such counts.
    """

    def __init__(self, names: list[str], *, arrays: dict | None = None,
                 types: list[str] | None = None, units: list | None = None,
                 descriptions: list | None = None, keep_rows: int | None = None,
                 keep_seconds: float | None = None, texts: dict | None = None):
        self.names = list(names)
        self.types = list(types) if types is not None else ["float64"] * len(self.names)
        self.units = list(units) if units is not None else [None] * len(self.names)
        self.descriptions = (list(descriptions) if descriptions is not None
                             else [None] * len(self.names))
        self._index = {name: i for i, name in enumerate(self.names)}
        self.texts: dict[int, list] = {i: [] for i, t in enumerate(self.types) if t in TEXT_TYPES}
        self.texts.update(texts or {})
        # array name -> (shape, indices of its element columns)
        self.arrays = dict(arrays or {})
        self._times: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._length = 0    # rows in all chunks: len() must not join them at every step
        self._dropped = 0   # rows recorded before the window kept in memory
        self.keep_rows = keep_rows
        self.keep_seconds = keep_seconds
        self._cache = None
        self.stats: dict = {}     # component -> ComponentStats, filled when the simulation stops
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
            if self.keep_rows is not None or self.keep_seconds is not None:
                self._drop_before(self._window_start())

    @property
    def total(self) -> int:
        """Rows recorded so far, those dropped from the window kept in memory included."""
        return self._dropped + self._length

    def _window_start(self) -> int:
        """How many of the rows in memory fall before the window."""
        excess = self._length - self.keep_rows if self.keep_rows is not None else 0
        if self.keep_seconds is not None:
            cutoff = self._times[-1][-1] - self.keep_seconds
            before, seen = 0, 0
            for t in self._times:       # chunks in time order: count whole ones cheaply
                if t[-1] < cutoff:
                    seen += len(t)
                    continue
                before = seen + int(np.searchsorted(t, cutoff, side="left"))
                break
            excess = max(excess, before)
        return max(excess, 0)

    def _drop_before(self, count: int) -> None:
        """Forget the first ``count`` rows in memory (whole chunks, then a slice)."""
        while count and count >= len(self._times[0]):
            count -= len(self._times[0])
            self._dropped += len(self._times[0])
            self._length -= len(self._times[0])
            del self._times[0], self._rows[0]
        if count:
            # copies: a view would keep the whole chunk in memory
            self._times[0], self._rows[0] = self._times[0][count:].copy(), self._rows[0][count:].copy()
            self._dropped += count
            self._length -= count

    def since(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, rows) from row ``start`` on (counted as :attr:`total` counts:
        rows dropped from the window are gone), as float64 rows, joining only
        the chunks that hold them (a stream of rows after each step stays
        linear in the run)."""
        start = max(start - self._dropped, 0)
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
        """Rows of cells as float64 values (booleans as 0/1, strings and binaries NaN)."""
        if all(t == "float64" for t in self.types):
            return cells.view(np.float64)
        out = np.empty(cells.shape)
        for i, type_ in enumerate(self.types):
            out[:, i] = np.nan if type_ in TEXT_TYPES else cells[:, i].view(cell_dtype(type_))
        return out

    def truncate(self, time: float) -> None:
        """Drop the rows after ``time`` (a simulation restored to an earlier
        point); ``-inf`` starts the result afresh."""
        if time == -np.inf:
            self._dropped = 0
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
        return _decode(rows[:, i], self.types[i], self.texts.get(i))

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

    def unit(self, name) -> str | None:
        """The unit of a recorded variable (or array), None when its model declares none."""
        name = self.column(name)
        index = self.arrays[name][1][0] if name in self.arrays else self._index[name]
        return self.units[index]

    def save(self, path, *, strip_component: str | None = None) -> None:
        """Write ``time`` plus one column per variable to ``path``, in the format
        its extension names: ``.csv``, ``.parquet`` or ``.mat`` (see
        :func:`cosim.results.writer_for`).

        Parameters
        ----------
        path : str or Path
            The file to write; its folder must exist.
        strip_component : str, optional
            A component whose prefix the column names drop (``"spindle.speed"``
            is written ``"speed"``).

        Raises
        ------
        ResultFileError
            For an extension that names no format, or a folder that does not exist.
        """
        from cosim.results.writers import writer_for
        with writer_for(path, strip_component=strip_component) as writer:
            writer.start(self.names, types=self.types, units=self.units,
                         descriptions=self.descriptions, texts=self.texts)
            writer.append(*self._arrays())

    def to_csv(self, path, *, strip_component: str | None = None) -> None:
        """Write ``time`` plus one column per variable as CSV (see :class:`~cosim.results.CsvWriter`)."""
        self._save_as(path, ".csv", strip_component)

    def to_parquet(self, path) -> None:
        """Write ``time`` plus one column per variable, of its type, as Parquet,
        with each column's unit and description in its field metadata (see
        :class:`~cosim.results.ParquetWriter`)."""
        self._save_as(path, ".parquet", None)

    def to_mat(self, path) -> None:
        """Write the result as a MAT file in the Modelica result layout that Dymola
        and OpenModelica write (see :class:`~cosim.results.MatWriter`)."""
        self._save_as(path, ".mat", None)

    def _save_as(self, path, suffix: str, strip_component) -> None:
        from cosim.results.writers import FORMATS
        with FORMATS[suffix](path, strip_component=strip_component) as writer:
            writer.start(self.names, types=self.types, units=self.units,
                         descriptions=self.descriptions, texts=self.texts)
            writer.append(*self._arrays())

    def to_pandas(self):
        """The result as a pandas DataFrame: one column per variable, of its type,
        indexed by ``time``; ``frame.attrs["units"]`` and
        ``frame.attrs["descriptions"]`` map column names to units and descriptions.

        Raises
        ------
        MissingExtraError
            When pandas is not installed (``pip install 'cosim[pandas]'``).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise MissingExtraError("Result.to_pandas needs pandas; install it with "
                                    "pip install 'cosim[pandas]'") from exc
        times, rows = self._arrays()
        frame = pd.DataFrame({name: _decode(rows[:, i], self.types[i], self.texts.get(i))
                              for i, name in enumerate(self.names)},
                             index=pd.Index(times, name="time"))
        frame.attrs["units"] = dict(zip(self.names, self.units))
        frame.attrs["descriptions"] = dict(zip(self.names, self.descriptions))
        return frame

    def plot(self, variables=None, path=None):
        """Plot variables against time, one panel per unit, sharing the time axis.

        Parameters
        ----------
        variables : list, optional
            References of recorded variables or arrays (default: every column).
        path : str or Path, optional
            Also save the figure there (the format by its extension: .png,
            .svg, .pdf, ...).

        Returns
        -------
        matplotlib.figure.Figure
            One axes per unit (variables without a unit share a panel), each
            with a legend naming its lines.

        Raises
        ------
        KeyError
            For a variable that was not recorded, naming close matches.
        MissingExtraError
            When matplotlib is not installed (``pip install 'cosim[plot]'``).
        """
        from cosim.results.plot import plot_result
        return plot_result(self, variables, path)
