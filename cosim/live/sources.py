"""Where live samples come from: the source interface and file replay.

A source delivers timestamped samples of named signals into a
:class:`~cosim.live.signals.SignalStore`.  Network sources (MQTT, OPC UA, the
gRPC input stream) push from their own threads as messages arrive; a replay
either paces itself on the wall clock or, when run as fast as possible, is
polled by the twin at each communication point for the samples up to it.
"""
from __future__ import annotations

import threading
import time as _time
from pathlib import Path

import numpy as np

from cosim.errors import ConfigurationError


class Source:
    """A producer of samples.

    Call order: :meth:`start` once with the store to fill, then the twin calls
    :meth:`poll` before each communication point, and :meth:`stop` at the end.
    A source must never raise out of :meth:`poll` for bad data: it counts bad
    messages with :meth:`SignalStore.reject <cosim.live.signals.SignalStore.reject>`.
    """

    #: Signal names this source can deliver, when known in advance.
    signals: tuple[str, ...] = ()

    def __init__(self):
        self.store = None

    def start(self, store) -> None:
        """Begin delivering samples into ``store``."""
        self.store = store

    def poll(self, until: float) -> None:
        """Deliver what is due by simulation time ``until`` (polled sources only)."""

    def stop(self) -> None:
        """Stop delivering and release connections and threads (idempotent)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Replay(Source):
    """Replay of recorded samples from a CSV or Parquet file.

    The file has a time column and one column per signal (a wide table, as
    :class:`cosim.Result` and ``cosim run`` write).

    Parameters
    ----------
    path : str or Path
        ``.csv`` or ``.parquet`` file.
    time_column : str
    columns : dict or list or None
        Which columns to replay: ``{column: signal_name}`` to rename, a list of
        column names, or None for every column but the time.
    speed : float or None
        None: polled by the twin, delivering each sample when the twin reaches
        its time (as fast as the twin runs).  A number: a thread delivers the
        samples on the wall clock, ``speed`` recorded seconds per wall second
        (1 = as recorded), starting at :meth:`start`.
    time_offset : float
        Added to the recorded times (e.g. to replay a recording that starts at
        t=3600 s from t=0 with ``time_offset=-3600``).
    """

    def __init__(self, path, *, time_column: str = "time", columns=None,
                 speed: float | None = None, time_offset: float = 0.0):
        super().__init__()
        if speed is not None and not speed > 0:
            raise ConfigurationError(f"replay speed must be > 0 or None, got {speed!r}")
        self.path = Path(path)
        self.speed = speed
        table = _read_table(self.path)
        if time_column not in table:
            raise ConfigurationError(f"{self.path}: no time column {time_column!r} (columns: "
                                     f"{', '.join(table) or 'none'})")
        if columns is None:
            mapping = {c: c for c in table if c != time_column}
        elif isinstance(columns, dict):
            mapping = dict(columns)
        else:
            mapping = {c: c for c in columns}
        missing = [c for c in mapping if c not in table]
        if missing:
            raise ConfigurationError(f"{self.path}: no column {', '.join(map(repr, missing))} "
                                     f"(columns: {', '.join(table)})")
        times = _numeric_column(self.path, time_column, table[time_column]) + time_offset
        if not np.all(np.isfinite(times)):
            row = int(np.argmax(~np.isfinite(times))) + 1
            raise ConfigurationError(f"{self.path}: time column {time_column!r} has no valid "
                                     f"time at data row {row}")
        if len(times) > 1 and np.any(np.diff(times) < 0):
            row = int(np.argmax(np.diff(times) < 0)) + 2
            raise ConfigurationError(f"{self.path}: time column {time_column!r} goes back at "
                                     f"data row {row}; sort the recording by time")
        self.times = times
        # Gaps (NaN) in a signal column are kept: the store counts them as non-finite.
        self.columns = {signal: _numeric_column(self.path, column, table[column])
                        for column, signal in mapping.items()}
        self.signals = tuple(self.columns)
        self.delivered = 0          # rows delivered so far
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, store) -> None:
        super().start(store)
        if self.speed is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._paced, name=f"replay {self.path.name}",
                                            daemon=True)
            self._thread.start()

    def poll(self, until: float) -> None:
        if self.speed is None and self.store is not None:
            self._deliver(int(np.searchsorted(self.times, until, side="right")))

    def _deliver(self, end: int) -> None:
        start = self.delivered
        if end <= start:
            return
        for signal, values in self.columns.items():
            self.store.push_many(signal, self.times[start:end], values[start:end])
        self.delivered = end

    def _paced(self) -> None:
        # Sleep until the next sample is due, then deliver everything due: a
        # 1 kHz recording arrives sample by sample, a faster one in small batches.
        speed = self.speed
        assert speed is not None        # start() runs this thread only for a paced replay
        origin = _time.perf_counter()
        first = self.times[0] if len(self.times) else 0.0
        while self.delivered < len(self.times) and not self._stop.is_set():
            due = first + (_time.perf_counter() - origin) * speed
            self._deliver(int(np.searchsorted(self.times, due, side="right")))
            if self.delivered < len(self.times):
                wait = (self.times[self.delivered] - first) / speed \
                    - (_time.perf_counter() - origin)
                if wait > 0:
                    self._stop.wait(wait)

    @property
    def finished(self) -> bool:
        """Whether every recorded sample has been delivered."""
        return self.delivered >= len(self.times)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _read_table(path: Path) -> dict:
    """Columns of a CSV or Parquet file as {name: pyarrow array}."""
    if not path.is_file():
        raise ConfigurationError(f"replay file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq
            table = pq.read_table(path)
        elif suffix in (".csv", ".txt"):
            import pyarrow.csv as pacsv
            table = pacsv.read_csv(path)
        else:
            raise ConfigurationError(f"replay file {path}: expected a .csv or .parquet file")
    except ConfigurationError:
        raise
    except Exception as exc:        # pyarrow raises several error types for bad files
        raise ConfigurationError(f"replay file {path} cannot be read: {exc}") from None
    return {name: table.column(name) for name in table.column_names}


def _numeric_column(path: Path, name: str, column) -> np.ndarray:
    try:
        values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{path}: column {name!r} is not numeric "
                                 f"(type {column.type})") from None
    return values
