"""Timestamped samples of named plant signals, as they arrive.

Sources (file replay, MQTT, OPC UA, gRPC) call :meth:`SignalStore.push` from
their own threads; the thread that runs the twin calls :meth:`SignalStore.drain`
at each communication point, which sorts what arrived into one time series per
signal, and then reads values at the communication time with
:meth:`SignalStore.value_at`.  Pushing only appends to a queue, so a burst of
samples never blocks the twin and a slow twin never blocks a source.
"""
from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigurationError

#: Reasons a sample can be rejected, as counted in :attr:`SignalStore.rejected`.
REJECTIONS = ("malformed", "unknown", "non-numeric", "non-finite", "future")

_GROW = 4096        # initial capacity of a series, in samples
_NUMERIC_KINDS = "biuf"     # numpy dtype kinds taken as numbers: bool, ints, floats


@dataclass(frozen=True)
class SignalStats:
    """What arrived for one signal: ``received`` samples kept, ``out_of_order``
    samples older than one already stored (inserted in place), ``duplicates``
    samples at a time already stored (the later arrival wins), ``late`` samples
    older than a communication point that had already read the signal (they
    come too late for that point but are kept for later ones)."""

    received: int
    out_of_order: int
    duplicates: int
    late: int
    last_time: float
    last_value: float


class _Series:
    """One signal's samples in time order, in two growing numpy arrays."""

    __slots__ = ("times", "values", "n", "out_of_order", "duplicates", "late", "received",
                 "read_until")

    def __init__(self):
        self.times = np.empty(_GROW)
        self.values = np.empty(_GROW)
        self.n = 0
        self.received = self.out_of_order = self.duplicates = self.late = 0
        self.read_until = -math.inf     # latest time a communication point read

    def add(self, times: np.ndarray, values: np.ndarray) -> None:
        """Merge a batch (any order) into the series."""
        self.received += len(times)
        late = int(np.count_nonzero(times <= self.read_until))
        self.late += late
        in_order = len(times) == 1 or bool(np.all(times[1:] > times[:-1]))
        if in_order and (self.n == 0 or times[0] > self.times[self.n - 1]):
            self._append(times, values)
            return
        # The slow path: out of order, or duplicate times.  Rare in practice.
        for t, v in zip(times.tolist(), values.tolist()):
            self._insert(t, v)

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > len(self.times):
            size = max(need, 2 * len(self.times))
            for name in ("times", "values"):
                grown = np.empty(size)
                grown[:self.n] = getattr(self, name)[:self.n]
                setattr(self, name, grown)

    def _append(self, times, values) -> None:
        self._reserve(len(times))
        self.times[self.n:self.n + len(times)] = times
        self.values[self.n:self.n + len(times)] = values
        self.n += len(times)

    def _insert(self, t: float, v: float) -> None:
        n = self.n
        i = int(np.searchsorted(self.times[:n], t, side="left"))
        if i < n and self.times[i] == t:
            self.duplicates += 1
            self.values[i] = v
            return
        if i < n:
            self.out_of_order += 1
        self._reserve(1)
        self.times[i + 1:n + 1] = self.times[i:n].copy()
        self.values[i + 1:n + 1] = self.values[i:n].copy()
        self.times[i] = t
        self.values[i] = v
        self.n += 1

    def forget_before(self, time: float) -> None:
        """Drop samples no read at or after ``time`` can need (keep one before it)."""
        keep_from = int(np.searchsorted(self.times[:self.n], time, side="right")) - 1
        if keep_from > 0:
            left = self.n - keep_from
            self.times[:left] = self.times[keep_from:self.n]
            self.values[:left] = self.values[keep_from:self.n]
            self.n = left


class SignalStore:
    """Thread-safe store of timestamped samples for named signals.

    Parameters
    ----------
    names : iterable of str or None
        The signals to keep; samples for any other name are counted as
        ``"unknown"`` and dropped.  None keeps every name.
    time_origin : float
        Subtracted from every sample time, so that samples stamped with the
        plant's clock (e.g. Unix seconds) land on simulation time.
    max_lead : float or None
        Samples more than this many seconds ahead of the time of the
        communication point that drains them are rejected as ``"future"``
        (a wrong clock or a corrupt stamp).  None accepts any time.
    history : float
        Seconds of samples kept behind the latest communication point.

    Notes
    -----
    Rejected samples are counted by reason in :attr:`rejected`; the last few
    reasons, with the offending name and value, are kept in :attr:`problems`.
    Nothing a source pushes can raise in the thread that runs the twin.
    """

    def __init__(self, names=None, *, time_origin: float = 0.0, max_lead: float | None = 60.0,
                 history: float = 60.0):
        if max_lead is not None and not max_lead >= 0:
            raise ConfigurationError(f"max_lead must be >= 0 or None, got {max_lead!r}")
        if not history >= 0:
            raise ConfigurationError(f"history must be >= 0, got {history!r}")
        self.names = None if names is None else frozenset(names)
        self.time_origin = float(time_origin)
        self.max_lead = max_lead
        self.history = float(history)
        self._queue: deque = deque()
        self._series: dict[str, _Series] = {}
        self.rejected: Counter = Counter()
        self.problems: deque = deque(maxlen=20)
        self.unknown_names: Counter = Counter()
        self._lock = threading.Lock()   # guards the counters written from source threads

    # -- any thread ---------------------------------------------------------------------

    def push(self, name: str, time: float, value) -> None:
        """Queue one sample (thread-safe, never blocks on the twin)."""
        self._queue.append((name, time, value))

    def push_many(self, name: str, times, values) -> None:
        """Queue a batch of samples of one signal (sequences of equal length)."""
        self._queue.append((name, times, values, None))

    def reject(self, reason: str, detail: str, count: int = 1) -> None:
        """Count ``count`` samples or messages rejected for ``reason`` (one of
        :data:`REJECTIONS`); ``detail`` says which and why."""
        with self._lock:
            self.rejected[reason] += count
            self.problems.append(f"{reason}: {detail}")

    # -- the twin's thread ----------------------------------------------------------------

    def drain(self, now: float) -> int:
        """Sort every queued sample into its series; returns how many were kept.

        ``now`` is the simulation time of the communication point about to
        read the store: samples beyond ``now + max_lead`` are rejected, and
        samples older than ``now - history`` are forgotten.
        """
        batches: dict[str, tuple[list, list]] = {}
        queue = self._queue
        for _ in range(len(queue)):
            item = queue.popleft()
            if not isinstance(item[0], str):
                # Also keeps unhashable names (a list, a dict) from raising here.
                self._bad_name(item)
            elif len(item) == 3:
                name, t, v = item
                entry = batches.get(name)
                if entry is None:
                    entry = batches[name] = ([], [])
                entry[0].append(t)
                entry[1].append(v)
            else:
                self._batch(batches, item)
        kept = 0
        for name, (times, values) in batches.items():
            kept += self._store(name, times, values, now)
        return kept

    def _bad_name(self, item) -> None:
        count = 1
        if len(item) == 4:
            try:
                count = len(item[1])
            except TypeError:
                pass
        self.reject("unknown", f"signal name {item[0]!r} is not a string", count)

    def _batch(self, batches, item) -> None:
        name, times, values, _ = item
        try:
            if len(times) != len(values):
                raise ValueError(f"{len(times)} times but {len(values)} values")
        except (TypeError, ValueError) as exc:
            self.reject("malformed", f"batch for {name!r}: {exc}")
            return
        entry = batches.setdefault(name, ([], []))
        entry[0].extend(times)
        entry[1].extend(values)

    def _store(self, name, times, values, now) -> int:
        if self.names is not None and name not in self.names:
            self.unknown_names[str(name)] += len(times)
            if len(self.unknown_names) > 1000:          # a flood of junk names: keep the top
                self.unknown_names = Counter(dict(self.unknown_names.most_common(100)))
            self.reject("unknown", f"no signal named {name!r}", len(times))
            return 0
        try:
            t, v = np.asarray(times), np.asarray(values)
            # numpy would parse text ("12.5") as a number: text goes the slow way.
            numeric = t.dtype.kind in _NUMERIC_KINDS and v.dtype.kind in _NUMERIC_KINDS
        except (TypeError, ValueError):     # ragged
            numeric = False
        if numeric:
            t, v = t.astype(float), v.astype(float)
        else:
            t, v = self._numeric(name, times, values)
        if t.ndim != 1 or v.ndim != 1:
            self.reject("malformed", f"samples of {name!r} are not scalars", len(times))
            return 0
        good = np.isfinite(t) & np.isfinite(v)
        if not good.all():
            self.reject("non-finite", f"{name!r} got a NaN or infinite time or value",
                        int(np.count_nonzero(~good)))
            t, v = t[good], v[good]
        t = t - self.time_origin
        if self.max_lead is not None:
            ahead = t > now + self.max_lead
            if ahead.any():
                self.reject("future", f"{name!r} sample at t={float(t[ahead][0]):g} s, more "
                            f"than {self.max_lead:g} s after t={now:g} s",
                            int(np.count_nonzero(ahead)))
                t, v = t[~ahead], v[~ahead]
        if not len(t):
            return 0
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = _Series()
        series.add(t, v)
        series.forget_before(now - self.history)
        return len(t)

    def _numeric(self, name, times, values):
        """Keep the samples whose time and value are numbers; count the rest."""
        kept_t, kept_v = [], []
        for t, v in zip(times, values):
            try:
                if isinstance(v, (str, bytes)):   # "12.5" is text, not a measurement
                    raise TypeError
                time, value = float(t), float(v)
            except (TypeError, ValueError):
                self.reject("non-numeric", f"{name!r} got time {t!r}, value {v!r}")
                continue
            kept_t.append(time)
            kept_v.append(value)
        return np.asarray(kept_t, dtype=float), np.asarray(kept_v, dtype=float)

    def value_at(self, name: str, time: float, *, interpolate: bool = False):
        """``(value, sample_time)`` of signal ``name`` at ``time``, or None before
        its first sample.

        Sample-and-hold gives the latest sample at or before ``time``.
        Interpolation is linear between the samples around ``time``; past the
        latest sample it holds that sample (the next one has not arrived).
        ``sample_time`` is the time of the sample the value rests on (the
        older one when interpolating), from which the reader tells its age.
        """
        series = self._series.get(name)
        if series is None or series.n == 0:
            return None
        series.read_until = max(series.read_until, time)
        n, times, values = series.n, series.times, series.values
        i = int(np.searchsorted(times[:n], time, side="right")) - 1
        if i < 0:
            return None
        if interpolate and i + 1 < n and times[i] < time:
            t0, t1 = times[i], times[i + 1]
            w = (time - t0) / (t1 - t0)
            return float(values[i] + w * (values[i + 1] - values[i])), float(t0)
        return float(values[i]), float(times[i])

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the (times, values) kept for ``name`` (empty if none)."""
        s = self._series.get(name)
        if s is None:
            return np.empty(0), np.empty(0)
        return s.times[:s.n].copy(), s.values[:s.n].copy()

    def stats(self) -> dict[str, SignalStats]:
        """Per signal, what arrived (see :class:`SignalStats`)."""
        return {name: SignalStats(s.received, s.out_of_order, s.duplicates, s.late,
                                  float(s.times[s.n - 1]) if s.n else math.nan,
                                  float(s.values[s.n - 1]) if s.n else math.nan)
                for name, s in self._series.items()}

    @property
    def pending(self) -> int:
        """Queued items not yet drained."""
        return len(self._queue)
