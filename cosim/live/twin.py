"""A running simulation that follows its plant.

:class:`LiveTwin` wraps a :class:`cosim.Simulation`.  At every communication
point it collects what the sources delivered, sets the bound inputs from the
plant's samples, compares the twin's outputs with the plant's measurements,
lets the estimators correct the twin, checks the alerts, and takes the step;
with ``realtime`` it first waits for the wall clock.
"""
from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from cosim.errors import ConfigurationError, CosimError
from cosim.execution.pacing import Pacer
from cosim.live.signals import SignalStore
from cosim.units import CATALOG, UnitError, conversion

if TYPE_CHECKING:
    from cosim.live.estimation import Estimator

log = logging.getLogger("cosim.live")

POLICIES = ("hold", "interpolate")


@dataclass(frozen=True)
class Binding:
    """Drive a twin input (or tunable parameter, or system input port) from a
    plant signal.

    Parameters
    ----------
    signal : str
        Name of the signal in the :class:`~cosim.live.signals.SignalStore`.
    target : str
        ``"component.variable"`` to set, as :meth:`cosim.Simulation.set` accepts.
    policy : {"hold", "interpolate"}
        Sample-and-hold of the latest sample at or before the communication
        point, or linear interpolation between the samples around it (holding
        the latest when the next has not arrived yet).
    max_age : float or None
        Seconds after which the value is flagged stale (it keeps being held,
        or ``stale_value`` is used).  None: never stale once a sample came.
    unit : str or None
        Unit of the samples; converted to the target's unit as connections are.
    scale, offset : float
        A linear transformation applied before the unit conversion.
    stale_value : float or None
        Value to use while stale (e.g. a safe setpoint); None holds the last.
    """

    signal: str
    target: str
    policy: str = "hold"
    max_age: float | None = None
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    stale_value: float | None = None


@dataclass(frozen=True)
class Comparison:
    """Compare a twin output with the plant's measurement of it.

    The residual at a communication point is ``measured - twin`` in the twin
    output's unit; it is recorded only when a measurement no older than
    ``max_age`` exists.
    """

    signal: str
    output: str
    unit: str | None = None
    max_age: float | None = None
    interpolate: bool = True


@dataclass(frozen=True)
class Alert:
    """Raise an alert when a value crosses a threshold.

    ``value`` names what is watched: a twin variable (``"spindle.remaining_life"``),
    ``"residual:<signal>"`` for a comparison's latest residual, or
    ``"estimate:<parameter>"`` for an estimator's latest estimate.  The alert
    fires when the value goes above ``above`` or below ``below``, and again
    only after it has come back (by ``hysteresis``).
    """

    name: str
    value: str
    above: float | None = None
    below: float | None = None
    hysteresis: float = 0.0


@dataclass(frozen=True)
class AlertEvent:
    """One firing of an :class:`Alert`."""

    name: str
    time: float
    value: float
    message: str


@dataclass
class BindingStatus:
    """Where a binding stands: the last value set, its sample's age, staleness
    and how many communication points it was stale at."""

    signal: str
    target: str
    value: float = math.nan
    age: float = math.inf
    stale: bool = True
    stale_points: int = 0
    points: int = 0


@dataclass
class _Recording:
    """A growing float64 table (one column per name) kept in numpy arrays."""

    names: list
    times: np.ndarray = field(default_factory=lambda: np.empty(1024))
    values: np.ndarray = field(init=False)      # rows as long as times, made from names
    n: int = 0

    def __post_init__(self):
        self.values = np.full((len(self.times), len(self.names)), np.nan)

    def append(self, t: float, row) -> None:
        if self.n == len(self.times):
            self.times = np.concatenate([self.times, np.empty(self.n)])
            self.values = np.concatenate([self.values, np.full_like(self.values, np.nan)])
        self.times[self.n] = t
        self.values[self.n] = row
        self.n += 1

    def window(self, start: float):
        """(times, values) of the rows at or after ``start``."""
        i = int(np.searchsorted(self.times[:self.n], start, side="left"))
        return self.times[i:self.n], self.values[i:self.n]


class LiveTwin:
    """A simulation kept in step with its plant.

    Parameters
    ----------
    simulation : cosim.Simulation
        A started simulation (fixed step).  The twin steps it; do not step it
        from elsewhere while the twin runs.
    sources : list of Source
        Started by the twin (:meth:`open`) and stopped by :meth:`close`.
    bindings : list of Binding
    comparisons : list of Comparison
    estimators : list of cosim.live.estimation.Estimator
    alerts : list of Alert
    on_alert : callable or None
        Called with each :class:`AlertEvent` (also logged as a warning and kept
        in :attr:`alerts_fired`).
    realtime : bool or float
        Pace communication points on the wall clock (a number is the factor).
    overrun : {"skip", "slow", "stop"}
        What the pacer does when the twin falls behind (see :class:`cosim.execution.pacing.Pacer`).
    store : SignalStore or None
        Where sources deliver; by default one for the bound and compared
        signals, with ``time_origin``, ``max_lead`` and ``history``.
    """

    def __init__(self, simulation, *, sources=(), bindings=(), comparisons=(), estimators=(),
                 alerts=(), on_alert=None, realtime: bool | float = False, overrun: str = "skip",
                 store: SignalStore | None = None, time_origin: float = 0.0,
                 max_lead: float | None = 60.0, history: float = 60.0):
        if simulation.variable_step:
            raise ConfigurationError("a live twin steps at fixed communication points; start "
                                     "the simulation without variable_step")
        self.simulation = simulation
        self.sources = list(sources)
        self.bindings = list(bindings)
        self.comparisons = list(comparisons)
        self.estimators = list(estimators)
        self.alerts = list(alerts)
        self.on_alert = on_alert
        signals = {b.signal for b in self.bindings} | {c.signal for c in self.comparisons}
        for source in self.sources:
            signals.update(source.signals)
        self.store = store or SignalStore(signals, time_origin=time_origin, max_lead=max_lead,
                                          history=history)
        self._check_bindings()
        self._write = simulation.writer([b.target for b in self.bindings])
        self._bind_scale = np.empty(len(self.bindings))
        self._bind_shift = np.empty(len(self.bindings))
        for i, b in enumerate(self.bindings):
            scale, shift = self._unit_conversion(b.unit, b.target, f"binding {b.signal} -> {b.target}")
            self._bind_scale[i] = b.scale * scale
            self._bind_shift[i] = b.offset * scale + shift
        outputs = [c.output for c in self.comparisons]
        self._read_compared = simulation.reader(outputs)
        self._cmp_scale = np.empty(len(outputs))
        self._cmp_shift = np.empty(len(outputs))
        for i, c in enumerate(self.comparisons):
            self._cmp_scale[i], self._cmp_shift[i] = self._unit_conversion(
                c.unit, c.output, f"comparison {c.signal} ~ {c.output}")
        self.status = [BindingStatus(b.signal, b.target) for b in self.bindings]
        self._inputs = np.full(len(self.bindings), np.nan)
        self.inputs = _Recording([b.target for b in self.bindings])
        self.measured = _Recording([c.signal for c in self.comparisons])
        self.residuals = _Recording([c.signal for c in self.comparisons])
        self.alerts_fired: list[AlertEvent] = []
        self._alert_armed = [True] * len(self.alerts)
        self._alert_read = self._alert_readers()
        self.pacer = None
        self._paced_to = -math.inf
        if realtime:
            self.pacer = Pacer(step_size=simulation.step_size,
                               factor=1.0 if realtime is True else realtime, overrun=overrun)
        for estimator in self.estimators:
            estimator.attach(self)
        self.points = 0
        self.step_seconds = 0.0      # wall time spent in the simulation's steps
        self.live_seconds = 0.0      # wall time spent on live data, estimation and alerts
        self._opened = False
        self._lock = threading.RLock()

    # -- set-up checks -------------------------------------------------------------------

    def _check_bindings(self) -> None:
        seen: dict[str, str] = {}     # target -> signal bound to it
        for b in self.bindings:
            if b.policy not in POLICIES:
                raise ConfigurationError(f"binding {b.signal} -> {b.target}: policy must be one "
                                         f"of {', '.join(POLICIES)}, got {b.policy!r}")
            if b.max_age is not None and not b.max_age > 0:
                raise ConfigurationError(f"binding {b.signal} -> {b.target}: max_age must be "
                                         f"> 0, got {b.max_age!r}")
            if b.target in seen:
                raise ConfigurationError(f"{b.target} is bound twice (to {seen[b.target]} "
                                         f"and {b.signal})")
            seen[b.target] = b.signal

    def _unit_conversion(self, unit, name, what) -> tuple[float, float]:
        if unit is None:
            return 1.0, 0.0
        var = self.simulation.variable(name)
        if var.unit is None or var.unit == unit:
            if var.unit is None:
                raise ConfigurationError(f"{what}: {name} has no unit to convert {unit!r} into")
            return 1.0, 0.0
        model = self.simulation.system.model(self.simulation.component_of(name))
        target = model.unit(var.unit) or CATALOG.get(var.unit)
        source = CATALOG.get(unit)
        if source is None or target is None:
            raise ConfigurationError(f"{what}: unit {unit if source is None else var.unit!r} "
                                     "is not defined")
        try:
            return conversion(source, target)
        except UnitError as exc:
            raise ConfigurationError(f"{what}: {exc}") from None

    def _alert_readers(self) -> list[Callable[[], float]]:
        readers: list[Callable[[], float]] = []
        self._last_residual = np.full(len(self.comparisons), np.nan)

        # Each reader is made by a call so that it keeps its own index, estimator or reader.
        def residual(i: int) -> Callable[[], float]:
            return lambda: self._last_residual[i]

        def estimate(e: Estimator, name: str) -> Callable[[], float]:
            return lambda: e.estimate.get(name, math.nan)

        def variable(read: Callable[[], np.ndarray]) -> Callable[[], float]:
            return lambda: float(read()[0])

        comparison_index = {c.signal: i for i, c in enumerate(self.comparisons)}
        for alert in self.alerts:
            if alert.above is None and alert.below is None:
                raise ConfigurationError(f"alert {alert.name!r} needs above= or below=")
            kind, _, name = alert.value.partition(":")
            if kind == "residual" and name:
                if name not in comparison_index:
                    raise ConfigurationError(f"alert {alert.name!r}: no comparison of signal "
                                             f"{name!r}")
                readers.append(residual(comparison_index[name]))
            elif kind == "estimate" and name:
                owner = next((e for e in self.estimators if name in e.parameters), None)
                if owner is None:
                    raise ConfigurationError(f"alert {alert.name!r}: no estimator of {name!r}")
                readers.append(estimate(owner, name))
            else:
                readers.append(variable(self.simulation.reader([alert.value])))
        return readers

    # -- running -------------------------------------------------------------------------

    @property
    def time(self) -> float:
        return self.simulation.time

    def open(self) -> LiveTwin:
        """Start the sources (and the pacer's clock at the current time)."""
        if not self._opened:
            for source in self.sources:
                source.start(self.store)
            self._opened = True
            if self.pacer is not None and not self.pacer.started:
                self.start_pacing()
        return self

    def start_pacing(self, *, keep_stats: bool = False) -> None:
        """Make the current communication point due now on the wall clock (at
        :meth:`open`; again after a pause, keeping the statistics if asked)."""
        if self.pacer is None:
            raise ConfigurationError("start_pacing: the twin is not paced; create it with "
                                     "LiveTwin(..., realtime=True) or a real-time factor")
        if keep_stats:
            self.pacer.resume(self.time)
        else:
            self.pacer.start(self.time)
        self._paced_to = self.time

    def pace(self) -> None:
        """Wait until the current time is due on the wall clock (real time only)."""
        t = self.time
        if self.pacer is not None and t > self._paced_to:
            self.pacer.wait(t)
            self._paced_to = t

    def close(self) -> None:
        """Stop the sources and free the estimators' shadow simulations (the
        simulation stays open: stop it separately)."""
        for source in self.sources:
            source.stop()
        for estimator in self.estimators:
            estimator.close()
        self._opened = False

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def step(self, *, wait: bool = True) -> float:
        """Take one communication step following the plant; returns the new time.

        With ``realtime``, it then waits until the new time is due on the wall
        clock, so the twin's outputs at time t appear when the plant is at t and
        the next step reads what arrived by then; ``wait=False`` leaves the
        wait to a caller that calls :meth:`pace` itself (e.g. to serve other
        requests meanwhile).
        """
        self.open()
        with self._lock:
            sim = self.simulation
            began = _time.perf_counter()
            self._follow(sim.time)
            middle = _time.perf_counter()
            sim.step(1)
            self.step_seconds += _time.perf_counter() - middle
            self.live_seconds += middle - began
            self.points += 1
        if wait:
            self.pace()
        return sim.time

    def run_until(self, time: float) -> float:
        """Step until ``time`` (or the simulation's stop time)."""
        sim = self.simulation
        stop = sim.stop_time if sim.stop_time is not None else math.inf
        while sim.time + 0.5 * sim.step_size <= min(time, stop):
            self.step()
        return sim.time

    def _follow(self, t: float) -> None:
        """Everything done at communication point ``t`` before the step."""
        for source in self.sources:
            source.poll(t)
        self.store.drain(t)
        self._apply(t)
        if self.comparisons:
            self._compare(t)
        for estimator in self.estimators:
            estimator.at(t)
        if self.alerts:
            self._check_alerts(t)

    def _apply(self, t: float) -> None:
        values = self._inputs
        store = self.store
        for i, (b, status) in enumerate(zip(self.bindings, self.status)):
            got = store.value_at(b.signal, t, interpolate=b.policy == "interpolate")
            status.points += 1
            if got is None:
                status.stale = True
                status.stale_points += 1
                # Before the first sample the input keeps its start value.
                if b.stale_value is not None:
                    values[i] = (b.stale_value - self._bind_shift[i]) / self._bind_scale[i]
                continue
            value, sample_time = got
            status.age = t - sample_time
            status.stale = b.max_age is not None and status.age > b.max_age
            if status.stale:
                status.stale_points += 1
                if b.stale_value is not None:
                    value = (b.stale_value - self._bind_shift[i]) / self._bind_scale[i]
            values[i] = value
            status.value = value * self._bind_scale[i] + self._bind_shift[i]
        known = ~np.isnan(values)
        if known.all():
            self._write(values * self._bind_scale + self._bind_shift)
        elif known.any():
            self._write_known(values, known)
        self.inputs.append(t, values * self._bind_scale + self._bind_shift)

    def _write_known(self, values, known) -> None:
        # Only while some signal has never arrived: write the others one by one.
        for i in np.flatnonzero(known):
            self.simulation.set(self.bindings[i].target,
                                float(values[i] * self._bind_scale[i] + self._bind_shift[i]))

    def _compare(self, t: float) -> None:
        twin = self._read_compared()
        measured = np.full(len(self.comparisons), np.nan)
        for i, c in enumerate(self.comparisons):
            got = self.store.value_at(c.signal, t, interpolate=c.interpolate)
            if got is None or (c.max_age is not None and t - got[1] > c.max_age):
                continue
            measured[i] = got[0] * self._cmp_scale[i] + self._cmp_shift[i]
        residual = measured - twin
        self._last_residual = residual
        self.measured.append(t, measured)
        self.residuals.append(t, residual)

    def _check_alerts(self, t: float) -> None:
        for k, (alert, read) in enumerate(zip(self.alerts, self._alert_read)):
            value = read()
            if not math.isfinite(value):
                continue
            crossed = ((alert.above is not None and value > alert.above)
                       or (alert.below is not None and value < alert.below))
            if crossed and self._alert_armed[k]:
                self._alert_armed[k] = False
                side = (f"above {alert.above:g}" if alert.above is not None and value > alert.above
                        else f"below {alert.below:g}")
                event = AlertEvent(alert.name, t, value,
                                   f"{alert.name}: {alert.value} = {value:g} is {side} at t={t:g} s")
                self.alerts_fired.append(event)
                log.warning("%s", event.message)
                if self.on_alert is not None:
                    self.on_alert(event)
            elif not crossed and not self._alert_armed[k]:
                back = ((alert.above is None or value < alert.above - alert.hysteresis)
                        and (alert.below is None or value > alert.below + alert.hysteresis))
                self._alert_armed[k] = back

    # -- reporting -----------------------------------------------------------------------

    def residual_stats(self, window: float | None = None) -> dict:
        """Per compared signal: {"rms", "mean", "max_abs", "points"} of the
        residuals over the last ``window`` seconds (all when None)."""
        start = -math.inf if window is None else self.time - window
        _, values = self.residuals.window(start)
        out = {}
        for i, c in enumerate(self.comparisons):
            r = values[:, i][~np.isnan(values[:, i])]
            out[c.signal] = {"points": int(len(r)),
                             "rms": float(np.sqrt(np.mean(r ** 2))) if len(r) else math.nan,
                             "mean": float(np.mean(r)) if len(r) else math.nan,
                             "max_abs": float(np.max(np.abs(r))) if len(r) else math.nan}
        return out

    def report(self) -> str:
        """A text summary: time, points, what arrived and was rejected, stale
        bindings, residuals, estimates, alerts and pacing."""
        lines = [f"live twin at t={self.time:g} s after {self.points} communication points "
                 f"(steps {self.step_seconds:.3f} s, live data {self.live_seconds:.3f} s of wall time)"]
        stats = self.store.stats()
        received = sum(s.received for s in stats.values())
        lines.append(f"samples: {received} kept" + "".join(
            f", {n} {reason}" for reason, n in sorted(self.store.rejected.items())))
        for s in self.status:
            if s.stale_points:
                lines.append(f"  {s.signal} -> {s.target}: stale at {s.stale_points} of "
                             f"{s.points} points")
        for signal, r in self.residual_stats().items():
            lines.append(f"  residual {signal}: rms {r['rms']:.4g}, mean {r['mean']:.4g}, "
                         f"max |r| {r['max_abs']:.4g} over {r['points']} points")
        for estimator in self.estimators:
            lines.append("  " + estimator.summary())
        for event in self.alerts_fired:
            lines.append(f"  ALERT {event.message}")
        if self.pacer is not None:
            lines.append(self.pacer.stats().summary())
        return "\n".join(lines)

    # -- what-if -------------------------------------------------------------------------

    def fork(self, *, stop_time: float, changes: dict | None = None, **options):
        """A new :class:`cosim.Simulation` of the same system starting from the
        twin's current state, with ``changes`` (name -> value) set on it, to
        run a scenario offline (e.g. in :meth:`what_if`) while the twin goes on.

        Inputs that the twin binds keep their current values in the fork
        unless ``changes`` sets them.
        """
        sim = self.simulation
        with self._lock:
            state = sim.save_state()
        # The same recorded variables as the twin: the saved state holds their buffers.
        fork = sim.composed.start(step_size=sim.step_size, start_time=sim.start_time,
                                  stop_time=stop_time,
                                  **{**sim.coupling, "record": sim.result.names, **options})
        try:
            fork.load_state(state)
            for name, value in (changes or {}).items():
                fork.set(name, value)
        except CosimError:
            fork.stop()
            raise
        return fork

    def what_if(self, *, stop_time: float, changes: dict | None = None, **options) -> "WhatIf":
        """Run a scenario from the current state to ``stop_time`` in a background
        thread (the native loop runs without the GIL, so the twin keeps
        following the plant); returns a :class:`WhatIf` handle."""
        return WhatIf(self.fork(stop_time=stop_time, changes=changes, **options))


class WhatIf:
    """A scenario running in a background thread; :meth:`result` waits for it."""

    def __init__(self, simulation):
        self.simulation = simulation
        self.start_time = simulation.time
        self._result = None
        self._error = None
        self.wall_seconds = math.nan
        self._thread = threading.Thread(target=self._run, name="what-if", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        began = _time.perf_counter()
        try:
            self.simulation.run()
            self._result = self.simulation.stop()
        except Exception as exc:        # noqa: BLE001 - handed to result() in the caller's thread
            self._error = exc
            self._result = self.simulation.stop()
        self.wall_seconds = _time.perf_counter() - began

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float | None = None):
        """The scenario's :class:`cosim.Result`; raises its error if it failed
        (the partial result is then in ``error.result`` if the error carries one)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the what-if run is still going after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall second of the finished run."""
        span = self.simulation.stop_time - self.start_time
        return span / self.wall_seconds if self.wall_seconds > 0 else math.nan
