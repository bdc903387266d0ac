"""What watches a run: the in-memory result, output files and the caller's own hooks.

An :class:`Observer` attaches to a :class:`~cosim.execution.Simulation`
(``observers=`` or :meth:`Simulation.observe`) and is told, on the thread
that runs the simulation:

- :meth:`Observer.started` once, with the (still empty) result: its column
  names, types, units and descriptions;
- :meth:`Observer.rows` with every chunk of recorded rows, as the run goes
  (at least every 0.25 s of wall clock in a real-time run);
- :meth:`Observer.rewound` when the simulation returns to an earlier time
  (a restored snapshot or a loaded state; ``-inf`` when earlier rows belong
  to another run);
- :meth:`Observer.stopped` once, with the final result, however the run ended.

The in-memory :class:`~cosim.results.Result` and the ``output_file`` are
observers like any other.  Rows are 8-byte cells, one per column (see
:func:`cosim.results.cell_dtype`); an observer must copy what it keeps.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Observer", "Observers", "ResultRecorder", "WriterObserver"]


class Observer:
    """Base class of run observers: every hook does nothing unless overridden."""

    def started(self, result) -> None:
        """The run's columns are known (``result.names``, ``types``, ``units``,
        ``descriptions``), before the first rows."""

    def rows(self, times: np.ndarray, rows: np.ndarray) -> None:
        """Rows recorded since the last call."""

    def rewound(self, time: float) -> None:
        """The simulation went back to ``time``; rows after it are no longer its past."""

    def stopped(self, result) -> None:
        """The run ended (stop time, failure, termination or stop()); ``result`` is final."""


class ResultRecorder(Observer):
    """Keeps the rows in a :class:`~cosim.results.Result`."""

    def __init__(self, result):
        self.result = result

    def rows(self, times, rows):
        self.result.append(times, rows)

    def rewound(self, time):
        self.result.truncate(time)


class WriterObserver(Observer):
    """Streams rows to a result writer (:class:`~cosim.results.ResultWriter`:
    ``start``, ``append``, ``close``), as the run goes: a run that fails leaves a readable file.  A
    file keeps rows as they were computed: after a rewind, its time column
    goes back."""

    def __init__(self, writer):
        self.writer = writer

    def started(self, result):
        # texts only where there are any: writers written before them take none
        extra = {"texts": result.texts} if result.texts else {}
        self.writer.start(result.names, types=result.types, units=result.units,
                          descriptions=result.descriptions, **extra)

    def rows(self, times, rows):
        self.writer.append(times, rows)

    def stopped(self, result):
        self.writer.close()


class Observers:
    """The observers of one run, told in the order they were attached."""

    def __init__(self, observers=()):
        self._observers = list(observers)
        self._result = None

    def attach(self, observer: Observer) -> None:
        """Add ``observer``; if the run has started, it is told the columns at once."""
        self._observers.append(observer)
        if self._result is not None:
            observer.started(self._result)

    def started(self, result) -> None:
        self._result = result
        for observer in self._observers:
            observer.started(result)

    def rows(self, times, rows) -> None:
        if len(times):
            for observer in self._observers:
                observer.rows(times, rows)

    def rewound(self, time) -> None:
        for observer in self._observers:
            observer.rewound(time)

    def stopped(self, result) -> None:
        """Tell every observer, even when one fails (files must close); the
        first failure is raised after all were told."""
        first = None
        for observer in self._observers:
            try:
                observer.stopped(result)
            except Exception as exc:    # noqa: BLE001 - raised below, after the others
                first = first or exc
        if first is not None:
            raise first
