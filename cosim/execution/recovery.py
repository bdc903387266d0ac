"""Restarting crashed isolated components from checkpoints (``on_crash="restart"``).

Every ``checkpoint_interval`` the master saves the state of the whole
system: each component's FMU state (in memory), the serialized state of each
isolated one (its in-memory state lives in its worker process and dies with
it) and the loop's values.  When the native loop reports that isolated
components crashed, exited or timed out, their workers are started again,
the FMUs instantiated and initialized anew and given their serialized
states, every other component and the loop go back to the checkpoint too,
and the loop takes the steps since then again.

Rolling the whole system back keeps the result exact: the steps are taken
again from the same state with the same inputs (those set from outside
since the checkpoint are set again at the same steps), so they give the same
rows, bit for bit.  Rows already handed to the result and the output file are
not handed over twice (:meth:`Recovery.fresh`), so both hold each row once,
as a run without the crash does.

A checkpoint costs one Python call per interval (a few FMI calls per
component), never one per step.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from cosim.errors import ComponentCrashedError, ConfigurationError, FmiCallError
from cosim.execution.assembly import lacking, model_of
from cosim.execution.initialize import set_start_values, tolerance_for
from cosim.fmi._binding import Instance
from cosim.fmi.capabilities import SERIALIZE_FUNCTIONS, STATE_FUNCTIONS

__all__ = ["Recovery", "recovery_for"]

log = logging.getLogger("cosim")


def recovery_for(sim) -> Recovery | None:
    """The :class:`Recovery` of a simulation started with ``on_crash="restart"``
    (None otherwise), once its components are instantiated.

    Raises
    ------
    ConfigurationError
        No component is isolated, or one cannot save (an isolated one:
        serialize) its state; the message names it.
    """
    isolation = sim.options.isolation
    if isolation.on_crash != "restart":
        return None
    isolated = [k for k, runtime in enumerate(sim._runtimes)
                if isinstance(runtime, Instance) and runtime.library.isolated]
    if not isolated:
        raise ConfigurationError("on_crash='restart' restarts isolated components, and none is "
                                 "isolated: add isolate=True (to the run or to the components)")
    for k, (name, runtime) in enumerate(zip(sim._plan.names, sim._runtimes)):
        model = model_of(sim.system, name, runtime)
        if not model.can_get_and_set_state:
            raise ConfigurationError(
                f"on_crash='restart' puts every component back to a checkpoint, and component "
                f"'{name}' ({model.name}) cannot save its state "
                f"({lacking(runtime, model, STATE_FUNCTIONS, 'GetAndSet')})")
        if k in isolated and not model.can_serialize_state:
            raise ConfigurationError(
                f"on_crash='restart' restarts isolated component '{name}' ({model.name}) from "
                f"its serialized state, and it cannot serialize its state "
                f"({lacking(runtime, model, SERIALIZE_FUNCTIONS, 'Serialize')}); isolate it "
                "with on_crash='fail'")
    every = max(1, round(isolation.checkpoint_interval / sim.step_size))
    return Recovery(sim, isolated, every, isolation.max_restarts)


def _what_happened(crash: ComponentCrashedError) -> str:
    """What a crash did, in a few words: "crashed (SIGSEGV)", "exited with status 3"."""
    if crash.signal is not None:
        return f"crashed ({crash.signal})"
    if crash.reason == "out of memory":
        return "passed its memory_limit"
    if crash.exit_code is not None:
        return f"exited with status {crash.exit_code}"
    if crash.reason == "timed out":
        return f"did not return from {crash.function} within call_timeout"
    return "became unreachable"


class Recovery:
    """The checkpoints of a run and its restarts after crashes.

    Parameters
    ----------
    sim : Simulation
    isolated : list of int
        The units of isolated components.
    every : int
        Steps between checkpoints.
    max_restarts : int
        Restarts allowed per component.
    """

    def __init__(self, sim, isolated: list[int], every: int, max_restarts: int):
        self.sim = sim
        self.isolated = isolated
        self.every = every
        self.max_restarts = max_restarts
        self.restarts = dict.fromkeys(sim._plan.names, 0)
        self.step = 0               # the checkpoint's step index
        self.time = 0.0
        self.loop: tuple = ()       # the loop's values, history, inputs set and clock schedules
        self.states: list = []
        self.blobs: dict[int, bytes] = {}
        self.inputs: list = []      # (step index, function, arguments) set since the checkpoint
        self.replay: list = []      # those still to set again after a restart
        self.delivered = -math.inf  # rows up to this time were handed over before a restart
        self.last_row = -math.inf

    # -- checkpoints -----------------------------------------------------------------

    def checkpoint(self) -> None:
        """Save the state of every component and of the loop at the current step."""
        core, runtimes = self.sim._core, self.sim._runtimes
        self.states = [runtime.get_state() for runtime in runtimes]
        self.blobs = {k: runtimes[k].serialize_state(self.states[k]) for k in self.isolated}
        self.loop = (core.buffers(), core.history(), core.inputs_set(), core.clock_schedules())
        self.step, self.time = core.step_index, core.time
        self.inputs = []
        # after a restore (Simulation.restore) the rows after it are not the run's any more
        self.last_row = min(self.last_row, core.time)

    def bound(self, until_step: int) -> int:
        """Where the next core run must stop: at ``until_step``, the next
        checkpoint, or the next input set again after a restart."""
        stop = min(until_step, self.step + self.every)
        return min(stop, self.replay[0][0]) if self.replay else stop

    def after_run(self) -> None:
        """Take the checkpoint and set the inputs due at the step the loop stopped at."""
        step = self.sim._core.step_index
        if step >= self.step + self.every:
            try:
                self.checkpoint()
            except FmiCallError as error:   # a worker that died saving its state
                self.sim._fail(self.annotated(error))
        while self.replay and self.replay[0][0] <= step:
            _, function, arguments = self.replay.pop(0)
            function(*arguments)

    def note_input(self, function, *arguments) -> None:
        """Remember an input set from outside, to set it again at the same step
        after a restart (``function(*arguments)`` sets it)."""
        self.inputs.append((self.sim._core.step_index, function, arguments))

    def fresh(self, times: np.ndarray) -> np.ndarray | None:
        """Which of the rows at ``times`` to hand over (None: all): after a
        restart, those up to the crash were handed over before."""
        if len(times):
            self.last_row = max(self.last_row, float(times[-1]))
        if self.delivered == -math.inf:
            return None
        keep = times > self.delivered
        if keep.any():
            self.delivered = -math.inf
        return keep

    # -- restarts --------------------------------------------------------------------

    def recover(self, failures) -> bool:
        """Restart after the failures a core run reported, if every one is a
        crash of an isolated component with restarts left; False otherwise
        (the run then fails as without recovery)."""
        sim = self.sim
        time = sim._core.time
        crashed = []
        for unit, *_ in failures:
            runtime = sim._runtimes[unit]
            crash = runtime.crashed(time) if isinstance(runtime, Instance) else None
            if (crash is None or crash.reason == "interrupted"
                    or self.restarts[sim._plan.names[unit]] >= self.max_restarts):
                return False
            crashed.append((unit, crash))
        try:
            for unit, crash in crashed:
                self._restart(unit, crash)
            self._rewind()
        except FmiCallError as error:
            sim._fail(self.annotated(error))
        return True

    def _restart(self, unit: int, crash: ComponentCrashedError) -> None:
        """A new worker for ``unit``, its FMU initialized and set to the checkpoint's state."""
        sim = self.sim
        name, runtime = sim._plan.names[unit], sim._runtimes[unit]
        self.restarts[name] += 1
        log.warning("component '%s' %s at t=%g s; restarting it from the checkpoint at t=%g s "
                    "(restart %d of at most %d)", name, _what_happened(crash), crash.time,
                    self.time, self.restarts[name], self.max_restarts)
        runtime.respawn()
        runtime.setup_experiment(sim.start_time, sim.stop_time,
                                 tolerance_for(runtime, sim.tolerance))
        set_start_values(sim.system, name, runtime)
        runtime.enter_initialization_mode()
        runtime.exit_initialization_mode()
        self.states[unit] = runtime.deserialize_state(self.blobs[unit])

    def _rewind(self) -> None:
        """Every component and the loop back to the checkpoint; the inputs set
        since then to be set again."""
        core = self.sim._core
        for runtime, state in zip(self.sim._runtimes, self.states):
            runtime.set_state(state)
        values, history, inputs, clocks = self.loop
        core.rewind(self.step, self.time, values, history, inputs=inputs)
        core.set_clock_schedules(clocks)
        self.delivered = max(self.delivered, self.last_row)
        self.replay, self.inputs = self.inputs, []
        self.after_run()

    def annotated(self, error: FmiCallError) -> FmiCallError:
        """``error`` with the restarts of crashed components it names."""
        failures = [self._counted(failure) for failure in error.failures]
        if all(new is old for new, old in zip(failures, error.failures)):
            return error
        combined = FmiCallError.combine(failures)
        combined.__cause__ = error.__cause__
        return combined

    def _counted(self, error: FmiCallError) -> FmiCallError:
        restarts = self.restarts.get(error.instance, 0)
        if not isinstance(error, ComponentCrashedError) or not restarts:
            return error
        return ComponentCrashedError(
            error.function, error.instance, error.time, fmu=error.fmu, reason=error.reason,
            detail=error.detail, signal=error.signal, exit_code=error.exit_code,
            log_lines=error.log_lines, restarts=restarts)
