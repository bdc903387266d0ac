"""Pacing a run to the wall clock, for hardware-in-the-loop test benches.

A :class:`Pacer` holds the schedule of a real-time run: communication point
``t`` is due at wall time ``anchor + (t - t0) / factor`` (plus any slowdown
taken so far).  The thread that runs the twin calls :meth:`Pacer.wait` once
per communication point; it blocks until the point is due and returns how
late it woke.  Every point's lateness and jitter are kept in numpy arrays and
summarised by :meth:`Pacer.stats` as a :class:`RealtimeStats`.

Waiting sleeps until ``spin`` seconds before the due time, then reads the
clock in a loop until the due time: a sleep alone wakes tens of microseconds
to milliseconds late (timer slack, scheduler), the spin removes the typical
part of that.  The cost is CPU: the waiting thread is busy for up to ``spin``
seconds per point, at most ``spin * rate`` of a core (0.2 ms at 1 kHz: a
fifth); as the sleep itself overshoots into the spin window, about 10 % of a
core was measured at 1 kHz (``benchmarks/realtime.py``).  What no spin hides
is the machine taking the CPU away: on a shared virtual machine even a busy
loop stalls for milliseconds at times, and those stalls make the p99 and
maximum lateness.  On a test bench, give the twin's process a CPU of its own
(``taskset``, isolated CPUs) and a real-time priority (``chrt``).
Python threads that hold the GIL while the twin spins (a source parsing a
burst of messages) can still delay a wake-up by up to the interpreter's switch
interval (``sys.getswitchinterval()``, 5 ms by default).

Overrun policies
----------------
A point is *late* when the caller reaches it (calls :meth:`Pacer.wait`) after
its due time, because the work before it took too long; late points are not
waited for.  A point is an *overrun* when the wait returns more than
``max_lateness`` (default: one communication interval of wall time,
``step_size / factor``) after its due time, whether the work was too slow or
the operating system woke the waiting thread that late.  On an overrun:

``"skip"``
    Go on without waiting: the schedule stays where it was, so the run is back
    on it as soon as the work catches up.  :meth:`Pacer.overdue` tells the
    caller how many further points are already due, so that it can step them
    in one batch and wait on the first point that is not; the points stepped
    in a batch without a wait are counted as ``skipped``.
``"slow"``
    Shift the whole schedule by the point's lateness: the run continues in real
    time from now on, and ends that much later.  The shifts add up to
    ``slowdown``.
``"stop"``
    Raise :class:`~cosim.errors.RealtimeOverrun` naming the simulation time,
    the lateness and the limit, with the statistics so far attached.

Examples
--------
>>> pacer = Pacer(step_size=0.001, factor=10.0)
>>> pacer.start(0.0)
>>> for k in range(1, 11):
...     lateness = pacer.wait(k * 0.001)      # due every 0.1 ms of wall time
>>> pacer.stats().steps
10
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigurationError, RealtimeOverrun

__all__ = ["OVERRUN_POLICIES", "Pacer", "RealtimeStats"]

#: What a :class:`Pacer` does when a communication point is later than its limit.
OVERRUN_POLICIES = ("skip", "slow", "stop")

#: Seconds spun on the clock before each due time.  Sleeps of about 1 ms on the
#: machine this was tuned on (Linux, 50 us timer slack) overshoot by ~95 us at
#: the median and 120-200 us at the 90th-95th percentile: 200 us of spin hides
#: those and still sleeps through most of a 1 ms interval.
DEFAULT_SPIN = 200e-6

_NS = 1_000_000_000
_GROW = 4096            # initial capacity of the per-point records


@dataclass(frozen=True)
class RealtimeStats:
    """How well a real-time run kept to the wall clock.

    ``steps`` counts the communication points waited on (a batch of points
    stepped together counts once; ``skipped`` counts the others of the batch),
    ``wall_duration`` the wall seconds from :meth:`Pacer.start` to the last
    point.  ``lateness_*`` are seconds from each point's due time to the
    moment the wait returned; ``jitter_*`` the absolute difference, in
    seconds, between the wall interval from the previous point and the
    nominal one (``step_size / factor`` per communication interval spanned).
    ``late`` counts points the caller reached after their due time (its work
    took too long), ``overruns`` the points whose lateness exceeded
    ``max_lateness`` (late work or a late wake-up); ``slowdown`` is the total
    shift of the schedule under the ``"slow"`` policy.  Times are NaN when no point was
    waited on.
    """

    steps: int
    factor: float
    step_size: float
    overrun: str
    max_lateness: float
    spin: float
    wall_duration: float
    lateness_p50: float
    lateness_p99: float
    lateness_max: float
    jitter_p50: float
    jitter_p99: float
    jitter_max: float
    late: int
    overruns: int
    skipped: int
    slowdown: float

    def summary(self) -> str:
        """A few lines for a terminal or a log."""
        us = lambda s: "n/a" if math.isnan(s) else f"{1e6 * s:.1f}"
        return "\n".join([
            f"real time x{self.factor:g}: {self.steps} communication points of "
            f"{self.step_size:g} s in {self.wall_duration:.3f} s wall clock "
            f"(overrun policy '{self.overrun}', limit {1e3 * self.max_lateness:.3g} ms)",
            f"  lateness us  p50 {us(self.lateness_p50)}  p99 {us(self.lateness_p99)}  "
            f"max {us(self.lateness_max)}",
            f"  jitter us    p50 {us(self.jitter_p50)}  p99 {us(self.jitter_p99)}  "
            f"max {us(self.jitter_max)}",
            f"  late {self.late}, overruns {self.overruns}, skipped {self.skipped}, "
            f"slowdown {self.slowdown:.3f} s",
        ])


def positive_seconds(name: str, value, *, zero: bool = False) -> float:
    """``value`` as a float if it is a finite number > 0 (>= 0 with ``zero``)."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and (value >= 0 if zero else value > 0))
    if not ok:
        raise ConfigurationError(f"{name} must be a finite number {'>=' if zero else '>'} 0, "
                                 f"got {value!r}")
    return float(value)


def check_factor(value) -> float:
    """The real-time factor as a float; ConfigurationError unless a finite number > 0."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0):
        raise ConfigurationError(f"the real-time factor must be a finite number > 0 "
                                 f"(1 = real time, 10 = ten times faster), got {value!r}")
    return float(value)


def check_policy(value) -> str:
    """``value`` if it names an overrun policy; ConfigurationError otherwise."""
    if value not in OVERRUN_POLICIES:
        raise ConfigurationError(f"overrun must be one of {', '.join(OVERRUN_POLICIES)}, "
                                 f"got {value!r}")
    return value


class Pacer:
    """The wall-clock schedule of a real-time run.

    Parameters
    ----------
    step_size : float
        Communication interval in simulation seconds.  Points may be further
        apart (a batch of overdue points); the interval sets the default limit
        and tells how many points a wait spans.
    factor : float
        Real-time factor: simulation seconds per wall second (1 = real time,
        10 = ten times faster than real time).
    overrun : {"skip", "slow", "stop"}
        What to do when a point is later than ``max_lateness`` (see the module
        documentation).
    max_lateness : float or None
        Wall seconds a point may be late before it counts as an overrun;
        None for one communication interval (``step_size / factor``).
    spin : float
        Wall seconds before each due time spent reading the clock in a loop
        instead of sleeping: more spin, less jitter and more CPU.  0 only
        sleeps.

    Notes
    -----
    Call :meth:`start` once, then :meth:`wait` for each communication point in
    increasing time, from the thread that runs the twin.  A pacer is not
    thread-safe.
    """

    def __init__(self, *, step_size: float, factor: float = 1.0, overrun: str = "skip",
                 max_lateness: float | None = None, spin: float = DEFAULT_SPIN):
        self.step_size = positive_seconds("step_size", step_size)
        self.factor = check_factor(factor)
        self.overrun = check_policy(overrun)
        interval = self.step_size / self.factor
        self.max_lateness = interval if max_lateness is None else positive_seconds(
            "max_lateness", max_lateness, zero=True)
        self.spin = positive_seconds("spin", spin, zero=True)
        self._interval_ns = interval * _NS
        self._limit_ns = round(self.max_lateness * _NS)
        self._spin_ns = round(self.spin * _NS)
        self._started = False
        self._reset_records()

    def _reset_records(self) -> None:
        # Per point: simulation time, lateness and jitter (ns); 24 bytes a point.
        self._times = np.empty(_GROW)
        self._lateness = np.empty(_GROW, dtype=np.int64)
        self._jitter = np.empty(_GROW, dtype=np.int64)
        self._n = 0
        self._late = self._overruns = self._skipped = 0
        self._slowdown_ns = 0

    # -- schedule -----------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether :meth:`start` anchored the schedule."""
        return self._started

    def start(self, sim_time: float) -> None:
        """Anchor the schedule: ``sim_time`` is due now.  Clears the statistics."""
        self._reset_records()
        self._anchor(sim_time)
        self._first_wall = self._anchor_wall

    def resume(self, sim_time: float) -> None:
        """Anchor the schedule again (``sim_time`` is due now), keeping the statistics:
        after a pause, or after the simulation went back to an earlier time."""
        if not self._started:
            self.start(sim_time)
            return
        self._anchor(sim_time)

    def _anchor(self, sim_time: float) -> None:
        if not isinstance(sim_time, (int, float)) or not math.isfinite(sim_time):
            raise ConfigurationError(f"sim_time must be a finite number of seconds, "
                                     f"got {sim_time!r}")
        self._anchor_time = float(sim_time)
        self._anchor_wall = time.perf_counter_ns()
        self._shift_ns = 0
        self._last_time = self._anchor_time
        self._last_wall = self._last_due = self._anchor_wall
        self._started = True

    def due(self, sim_time: float) -> int:
        """Wall time (``time.perf_counter_ns()``) at which ``sim_time`` is due."""
        offset = (sim_time - self._anchor_time) / self.factor
        return self._anchor_wall + self._shift_ns + round(offset * _NS)

    def overdue(self) -> int:
        """How many communication points after the last one waited on are already
        due, one ``step_size`` apart: the points a caller that is behind can
        step in one batch before waiting again.  0 when on time."""
        if not self._started:
            return 0
        behind = time.perf_counter_ns() - self._last_due
        return int(behind // self._interval_ns) if behind > 0 else 0

    # -- waiting ------------------------------------------------------------------

    def wait(self, sim_time: float) -> float:
        """Block until communication point ``sim_time`` is due; returns its
        lateness in seconds (wake-up time minus due time, >= 0).

        A point reached after its due time returns at once.  Raises
        RealtimeOverrun when it is later than ``max_lateness`` and the policy
        is ``"stop"``; ConfigurationError when not started or when ``sim_time``
        does not come after the previous point.
        """
        if not self._started:
            raise ConfigurationError("Pacer.wait() before Pacer.start(): anchor the schedule "
                                     "to the wall clock first")
        if not sim_time > self._last_time:
            raise ConfigurationError(
                f"communication point t={sim_time!r} s does not come after the previous one "
                f"(t={self._last_time:g} s); after going back in time call Pacer.resume()")
        due = self.due(sim_time)
        now = time.perf_counter_ns()
        if now < due:
            woke = self._sleep_until(due)
        else:
            woke = now
            self._late += 1
        lateness = woke - due
        overran = lateness > self._limit_ns
        if overran:
            self._overruns += 1
            if self.overrun == "slow":
                # From now on every point is due that much later.
                self._shift_ns += lateness
                self._slowdown_ns += lateness
        self._record(sim_time, due, woke)
        if overran and self.overrun == "stop":
            raise RealtimeOverrun(sim_time, lateness / _NS, self.max_lateness, stats=self.stats())
        return lateness / _NS

    def _sleep_until(self, due: int) -> int:
        clock = time.perf_counter_ns
        rest = due - self._spin_ns - clock()
        if rest > 0:
            time.sleep(rest / _NS)
        now = clock()
        while now < due:
            now = clock()
        return now

    def _record(self, sim_time: float, due: int, woke: int) -> None:
        spanned = max(1, math.ceil((sim_time - self._last_time) / self.step_size - 1e-6))
        self._skipped += spanned - 1
        interval = woke - self._last_wall
        nominal = (sim_time - self._last_time) / self.factor * _NS
        n = self._n
        if n == len(self._lateness):
            self._times = np.concatenate([self._times, np.empty(n)])
            self._lateness = np.concatenate([self._lateness, np.empty(n, dtype=np.int64)])
            self._jitter = np.concatenate([self._jitter, np.empty(n, dtype=np.int64)])
        self._times[n] = sim_time
        self._lateness[n] = woke - due
        self._jitter[n] = round(abs(interval - nominal))
        self._n = n + 1
        self._last_time, self._last_wall, self._last_due = sim_time, woke, due

    # -- results ------------------------------------------------------------------

    def records(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of ``(times, lateness, jitter)`` of every point waited on, in
        order: simulation times, and lateness and jitter in wall seconds."""
        n = self._n
        return self._times[:n].copy(), self._lateness[:n] / _NS, self._jitter[:n] / _NS

    def stats(self) -> RealtimeStats:
        """The statistics since :meth:`start` (see :class:`RealtimeStats`)."""
        n = self._n
        if n:
            late_q = np.percentile(self._lateness[:n], [50, 99]) / _NS
            jitter_q = np.percentile(self._jitter[:n], [50, 99]) / _NS
            late_max = float(self._lateness[:n].max()) / _NS
            jitter_max = float(self._jitter[:n].max()) / _NS
            wall = (self._last_wall - self._first_wall) / _NS
        else:
            late_q = jitter_q = np.array([math.nan, math.nan])
            late_max = jitter_max = math.nan
            wall = 0.0
        return RealtimeStats(
            steps=n, factor=self.factor, step_size=self.step_size, overrun=self.overrun,
            max_lateness=self.max_lateness, spin=self.spin, wall_duration=wall,
            lateness_p50=float(late_q[0]), lateness_p99=float(late_q[1]), lateness_max=late_max,
            jitter_p50=float(jitter_q[0]), jitter_p99=float(jitter_q[1]), jitter_max=jitter_max,
            late=self._late, overruns=self._overruns, skipped=self._skipped,
            slowdown=self._slowdown_ns / _NS)
