"""What the page's controls do: the Orchestrator's own calls, made in process.

A control calls the same servicer method a gRPC client would (Initialize,
RunUntil, SetValues, GetLiveReport), with a :class:`CallContext` standing
in for the gRPC context: the checks, the queueing on the system's thread and
the pacing of live systems are the service's, not the view's.  A refused
call raises :class:`ActionError` with the service's message.
"""

from __future__ import annotations

import math
import threading
import time as _time

from cosim.errors import CosimError
from cosim.rpc.common import RequestError
from cosim.v1 import orchestrator_pb2 as pb
from cosim.v1.values_pb2 import NamedValue, Value

__all__ = ["ActionError", "CallContext", "Controls"]


class ActionError(CosimError):
    """A control the service refused; the message is the service's."""


class CallContext:
    """The part of a gRPC servicer context the Orchestrator uses; the call is
    active until ``stop`` is set (a paused run) or ``timeout`` seconds have
    passed (a call still queued then is dropped unrun)."""

    def __init__(self, stop: threading.Event | None = None, timeout: float | None = None):
        self.stop = stop or threading.Event()
        self.deadline = None if timeout is None else _time.monotonic() + timeout

    def is_active(self) -> bool:
        return not self.stop.is_set() and (self.deadline is None
                                            or _time.monotonic() < self.deadline)

    def time_remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - _time.monotonic()

    def cancel(self) -> None:
        self.stop.set()

    def add_callback(self, callback) -> bool:
        return True

    def invocation_metadata(self) -> tuple:
        return ()

    def abort(self, code, details: str):
        raise ActionError(details)


def number(text: str, what: str) -> float:
    """``text`` as a finite number, or an ActionError naming ``what``."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ActionError(f"{what}: {str(text)[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ActionError(f"{what}: must be a finite number, got {text!r}")
    return value


class Controls:
    """The controls of the systems of one Orchestrator service: one run at a
    time per system, paused by ending its call."""

    def __init__(self, service):
        self.service = service
        # Systems a program steps itself (see cosim.web.local): watched, never driven.
        self.external: set[str] = getattr(service, "external", set())
        self._runs: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _driven(self, system_id: str) -> None:
        if system_id in self.external:
            raise ActionError(f"system {system_id} is run by its own program; the view only "
                              "watches it")

    def initialize(self, system_id: str, *, realtime_factor: float = 0.0, step_size: float = 0.0,
                   stop_time: float | None = None) -> None:
        """Initialize the system (paced at ``realtime_factor``, 0: as fast as
        possible; ``step_size`` 0: the system's default)."""
        self._driven(system_id)
        if realtime_factor < 0:
            raise ActionError(f"real-time factor must be >= 0, got {realtime_factor:g}")
        if step_size < 0:
            raise ActionError(f"step size must be > 0, got {step_size:g}")
        request = pb.InitializeSystemRequest(system_id=system_id, realtime_factor=realtime_factor,
                                             step_size=step_size)
        if stop_time is not None:
            request.stop_time = stop_time
        self.service.Initialize(request, CallContext())

    def run_until(self, system_id: str, time: float) -> tuple[float, bool]:
        """Run to ``time`` (blocking; :meth:`pause` ends it early); returns the
        time reached and whether the run was paused."""
        self._driven(system_id)
        stop = threading.Event()
        with self._lock:
            if system_id in self._runs:
                raise ActionError(f"system {system_id} is already running; pause it first")
            self._runs[system_id] = stop
        try:
            for _ in self.service.RunUntil(pb.RunUntilRequest(system_id=system_id, time=time),
                                           CallContext(stop)):
                pass
            return self.time(system_id), stop.is_set()
        finally:
            with self._lock:
                self._runs.pop(system_id, None)

    def time(self, system_id: str) -> float:
        """The system's simulation time."""
        systems = self.service.ListSystems(pb.ListSystemsRequest(), CallContext()).systems
        for status in systems:
            if status.system_id == system_id:
                return status.time
        raise ActionError(f"system: no system {system_id!r}")

    def running(self, system_id: str) -> bool:
        with self._lock:
            return system_id in self._runs

    def pause(self, system_id: str) -> bool:
        """End the system's run at its next slice; False if it was not running."""
        with self._lock:
            stop = self._runs.get(system_id)
        if stop is None:
            return False
        stop.set()
        return True

    def pause_all(self) -> None:
        with self._lock:
            for stop in self._runs.values():
                stop.set()

    def set_value(self, system_id: str, name: str, text: str) -> float:
        """Set input or tunable parameter ``name`` to the number ``text``."""
        self._driven(system_id)
        name = name.strip()
        if not name:
            raise ActionError("name: give the variable to set (component.variable)")
        value = number(text, name)
        # A whole number travels as an integer, which a float64 variable takes too.
        message = (Value(integer=int(value)) if value.is_integer() and abs(value) < 2**31
                   else Value(real=value))
        request = pb.SetValuesRequest(system_id=system_id,
                                      values=[NamedValue(name=name, value=message)])
        self.service.SetValues(request, CallContext())
        return value

    def fork(self, system_id: str, until: float, changes: dict[str, float], names: list[str]):
        """A what-if run: the system's current state copied into a new simulation
        (on the system's thread, between two slices), ``changes`` set on it,
        run to ``until`` here; returns ``(times, {name: values})`` of ``names``."""
        self._driven(system_id)
        hosted = next((h for h in self.service.hosted_systems() if h.id == system_id), None)
        if hosted is None:
            raise ActionError(f"system: no system {system_id!r}")

        def copy(h):
            sim = h.require_running()
            if until <= sim.time:
                raise ActionError(f"what-if until: {until:g} s is not after the current time "
                                  f"{sim.time:g} s")
            state = sim.save_state()
            fork = sim.composed.start(step_size=sim.step_size, start_time=sim.start_time,
                                      stop_time=until,
                                      **{**sim.coupling, "record": sim.result.names})
            try:
                fork.load_state(state)
                for name, value in changes.items():
                    fork.set(name, value)
            except CosimError as exc:
                fork.stop()
                raise ActionError(str(exc)) from None
            return fork

        try:
            fork = hosted.do(copy)
        except RequestError as exc:
            raise ActionError(exc.message) from None
        try:
            fork.run()
        finally:
            result = fork.stop()
        return result.time, {n: result[n] for n in names if n in result}

    def live_report(self, system_id: str, *, timeout: float | None = None):
        """The system's LiveReport (pacing and live-input figures); an
        ActionError if the system's thread is busy for ``timeout`` seconds."""
        return self.service.GetLiveReport(pb.SystemRequest(system_id=system_id),
                                          CallContext(timeout=timeout))
