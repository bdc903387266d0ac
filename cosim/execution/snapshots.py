"""Saving and restoring a running simulation: snapshots in memory, states as bytes.

:class:`StateAccess` is the part of :class:`~cosim.execution.Simulation` that
takes snapshots (FMU get state and the loop's values), restores them, and
saves and loads states as bytes in the format of :mod:`cosim.execution.state`.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from cosim.component import PythonComponent
from cosim.errors import ConfigurationError, ModelError
from cosim.execution.assembly import FMU_RUNTIMES, lacking, model_of
from cosim.execution.state import SavedState, Snapshot, decode_state, encode_state
from cosim.fmi.capabilities import SERIALIZE_FUNCTIONS, STATE_FUNCTIONS

__all__ = ["StateAccess"]


class StateAccess:
    """Snapshots and saved states of a simulation."""

    # set by Simulation
    system: Any
    result: Any
    start_time: float
    step_size: float
    _plan: Any
    _runtimes: list
    _core: Any
    _observers: Any
    _reanchor: bool
    _recovery: Any
    _require_running: Callable[[], None]
    _flush: Callable[[], None]
    _check: Callable[[Any], None]

    @property
    def time(self) -> float:
        raise NotImplementedError      # Simulation's

    def snapshot(self) -> Snapshot:
        """Save the state of every component and of the loop at the current time.

        Raises ModelError naming a component that cannot save its state.
        """
        self._require_running()
        for name, runtime in zip(self._plan.names, self._runtimes):
            model = model_of(self.system, name, runtime)
            if not model.can_get_and_set_state:
                raise ModelError(f"component '{name}' ({model.name}) cannot save its state "
                                 f"({lacking(runtime, model, STATE_FUNCTIONS, 'GetAndSet')})")
        states = [runtime.get_state() for runtime in self._runtimes]
        return Snapshot(self.time, self._core.step_index,
                        self._core.buffers(), states, id(self), self._core.history(),
                        self._core.inputs_set(), self._core.clock_schedules())

    def restore(self, snapshot: Snapshot) -> None:
        """Return every component and the loop to a snapshot of this simulation.

        Recorded results after the snapshot's time are dropped from
        :attr:`result`; an ``output_file`` keeps the rows as they were
        computed, so its time column goes back at the restore.
        """
        self._require_running()
        if snapshot.owner != id(self):
            raise ConfigurationError("the snapshot was taken from another simulation; "
                                     "load a saved state with load_state()")
        fault = self._core.rewind_fault(snapshot.step_index, snapshot.time, snapshot.values,
                                        snapshot.history)
        if fault is None:
            fault = self._clocks_fault(snapshot.clocks)
        if fault is not None:       # before any component is touched
            raise ConfigurationError(f"the saved state does not fit this simulation: {fault}")
        for runtime, state in zip(self._runtimes, snapshot.states):
            runtime.set_state(state)
        self._flush()
        self._core.rewind(snapshot.step_index, snapshot.time, snapshot.values, snapshot.history,
                          inputs=snapshot.inputs)
        if snapshot.clocks is not None:
            self._core.set_clock_schedules(snapshot.clocks)
        self._observers.rewound(snapshot.time)
        self._reanchor = True       # the paced schedule cannot go back in time
        if self._recovery is not None:      # a crash now goes back to here, not before
            self._recovery.checkpoint()

    def _clocks_fault(self, clocks) -> str | None:
        """Why the clock schedules ``clocks`` do not fit this simulation (None: they do)."""
        mine = self._core.clock_schedules()
        if clocks is None:
            having = [name for name, unit in zip(self._plan.names, mine) if unit is not None]
            return (None if not having else "it holds no schedule of the FMI 3 clocks of "
                    f"{', '.join(having)} (saved by a cosim before format version 8); save it "
                    "again with this version")
        for name, unit, saved in zip(self._plan.names, mine, clocks):
            if (unit is None) != (saved is None) or (unit and len(unit) != len(saved)):
                return (f"component '{name}' has {len(unit or [])} FMI 3 clocks; the state "
                        f"holds the schedules of {len(saved or [])}")
            for index, (clock, schedule) in enumerate(zip(unit or [], saved or [])):
                fault = _schedule_fault(clock[0], schedule)
                if fault:
                    return f"component '{name}', clock {index + 1}: {fault}"
        return None

    def _serialized(self, name: str, runtime, state):
        """(kind, data) of one component's state for :meth:`save_state`."""
        model = model_of(self.system, name, runtime)
        if isinstance(runtime, FMU_RUNTIMES) and model.can_serialize_state:
            return "fmu", runtime.serialize_state(state)
        if isinstance(runtime, PythonComponent):
            try:
                json.dumps(state, allow_nan=True)
            except (TypeError, ValueError) as exc:
                raise ModelError(f"component '{name}' ({model.name}): its state cannot be "
                                 f"saved ({exc}); a Python component's state is saved as JSON: "
                                 "numbers, strings, booleans, None, lists and dicts") from None
            return "python", state
        if isinstance(runtime, FMU_RUNTIMES):
            raise ModelError(f"component '{name}' ({model.name}) cannot serialize its state "
                             f"({lacking(runtime, model, SERIALIZE_FUNCTIONS, 'Serialize')})")
        raise ModelError(f"component '{name}' ({model.name}) cannot serialize its state")

    def save_state(self) -> bytes:
        """The current state as bytes (FMI serialized FMU states), to start other
        simulations of the same system from with :meth:`load_state`.  The
        format (:mod:`cosim.execution.state`) holds no code: it is safe to
        load from an untrusted file.

        Raises ModelError naming a component whose state cannot be serialized.
        """
        snapshot = self.snapshot()
        states = [self._serialized(name, runtime, state) for name, runtime, state
                  in zip(self._plan.names, self._runtimes, snapshot.states)]
        return encode_state(SavedState(
            names=self._plan.names, start_time=self.start_time, step_size=self.step_size,
            time=snapshot.time, step_index=snapshot.step_index, record=list(self.result.names),
            values=snapshot.values, history=snapshot.history, inputs=snapshot.inputs,
            states=states, clocks=snapshot.clocks))

    def load_state(self, data: bytes) -> None:
        """Continue from a state saved by :meth:`save_state` in a simulation of the
        same system (same components, start time and step size).  The result
        starts again at the state's time.

        Raises ConfigurationError if the data is not a saved state or belongs
        to another system or set-up.
        """
        self._require_running()
        saved = decode_state(data)
        if saved.names != self._plan.names:
            raise ConfigurationError(f"the saved state is of components {saved.names}, "
                                     f"this simulation has {self._plan.names}")
        if (saved.start_time, saved.step_size) != (self.start_time, self.step_size):
            raise ConfigurationError(
                f"the state was saved with start_time={saved.start_time} and step_size="
                f"{saved.step_size}; this simulation has {self.start_time} and {self.step_size}")
        if saved.time > self._core.end_time:
            raise ConfigurationError(f"the state's time {saved.time} s is after the stop time")
        if saved.record != self.result.names:
            raise ConfigurationError(
                f"the state was saved by a simulation recording {saved.record}; this one "
                f"records {self.result.names}: start it with the same record= list")
        states = []
        for name, runtime, (kind, blob) in zip(self._plan.names, self._runtimes, saved.states):
            expected = "python" if isinstance(runtime, PythonComponent) else "fmu"
            if kind != expected:
                raise ConfigurationError(f"the saved state of component '{name}' is of a "
                                         f"{kind} component; this one is not")
            states.append(runtime.deserialize_state(blob) if kind == "fmu" else blob)
        self.restore(Snapshot(saved.time, saved.step_index, saved.values, states, id(self),
                              saved.history, saved.inputs, saved.clocks))
        self._observers.rewound(-math.inf)          # earlier rows belong to another run
        self._check(self._core.record_now())
        self._flush()


# A saved schedule's ticks stay this far from the ends of the ns range, so
# that the ticks that follow them cannot overflow.
_NS_BOUND = 2**62


def _schedule_fault(kind: str, schedule: list) -> str | None:
    """Why a saved clock schedule cannot be the one of a clock of ``kind``
    (None: it can).  A schedule whose next tick does not follow from its base,
    count and interval would tick at times no run reaches, or without end."""
    saved, base, j, interval, nxt, _, pending = schedule
    if saved != kind:
        return f"it is a {kind} clock; the state holds the schedule of a {saved} clock"
    if pending != sorted(pending):
        return "its waiting ticks are not in order"
    if kind not in ("timed", "countdown"):
        return None
    if nxt == 2**63 - 1 and kind == "countdown":           # no countdown running
        return None
    span = (1 if kind == "countdown" else j) * interval * 1e9     # as the core computes it
    if not (interval > 0 and abs(base) < _NS_BOUND and abs(span) < _NS_BOUND
            and abs(nxt - (base + round(span))) <= 1):
        return (f"its next tick {nxt} ns does not follow from its schedule (base {base} ns, "
                f"tick {j}, interval {interval!r} s)")
    return None
