"""A system instantiated, initialized and stepped: the lifecycle of a run.

:class:`Simulation` owns the component instances and the native step loop;
:func:`simulate` runs a system from start to stop in one call.  Options are
checked in :mod:`~cosim.execution.options`, the buffers planned in
:mod:`~cosim.execution.plan`, the loop built in
:mod:`~cosim.execution.assembly`; values are read and written through
:mod:`~cosim.execution.values`, states saved through
:mod:`~cosim.execution.snapshots`, and rows go to
:mod:`~cosim.execution.observers`.

Initialization sets every parameter and input start value explicitly (some
FMUs only behave when the importer does), then propagates connected values
through direct-feedthrough chains in execution order before leaving
initialization mode, so that every input starts at its source's value.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np

from cosim.analysis import execution_order, flatten
from cosim.errors import (AlgebraicLoopError, ConfigurationError, CosimError, FmiCallError,
                           RealtimeOverrun, SimulationTerminated)
from cosim.execution import assembly
from cosim.execution.failures import failure_error, failure_reason
from cosim.execution.initialize import (holds_its_starts, set_missing_starts, set_start_values,
                                        tolerance_for)
from cosim.execution.observers import Observers, ResultRecorder, WriterObserver
from cosim.execution.options import Options
from cosim.execution.pacing import Pacer
from cosim.execution.plan import LOOP_TYPES, TEXT_TYPES, Plan
from cosim.execution.recovery import recovery_for
from cosim.execution.snapshots import StateAccess
from cosim.execution.stats import ComponentStats
from cosim.execution.threads import calibrate
from cosim.execution.values import ValueAccess
from cosim.fmi._binding import Instance
from cosim.master._core import (RUN_CHUNK_FULL, RUN_DONE, RUN_FAILED, RUN_LOOP_FAILED, RUN_TERMINATED,
                                STEP_TERMINATED, Core)
from cosim.results import Result, writer_for
from cosim.timegrid import check_seconds

__all__ = ["Simulation", "simulate"]

log = logging.getLogger("cosim")

# Any run hands its rows to the result and the output file at least this often
# (the core reads the clock), a real-time run more often: it is watched as it goes.
FLUSH_INTERVAL_S = 1.0
REALTIME_FLUSH_INTERVAL_S = 0.25


class Simulation(ValueAccess, StateAccess):
    """A system instantiated, initialized and ready to step.

    Create it with :meth:`cosim.System.start` (same options, keyword-only).
    Call :meth:`step`, :meth:`run_until` or :meth:`run`, read and write
    values with :meth:`get` and :meth:`set`, and finish with :meth:`stop`,
    which frees every instance and returns the :class:`~cosim.results.Result`.
    It is also a context manager that stops on exit.

    Parameters
    ----------
    system : cosim.System
    options : Options or None
        All options as data (see :class:`~cosim.execution.options.Options`);
        keyword options given beside it replace its values.
    **keywords
        The options as keywords (``step_size`` is required; ``stop_time``,
        ``algorithm``, ``record``, ``output_file``, ``variable_step``,
        ``realtime``, ...), each described in
        :meth:`~cosim.execution.options.Options.from_keywords`; an unknown
        one is named with its closest match.
    observers : list of Observer
        Told of the run's columns, every chunk of rows, rewinds and the end
        (see :mod:`cosim.execution.observers`); also :meth:`observe`.

    Raises
    ------
    ConfigurationError, AlgebraicLoopError, ModelError, FmiCallError, RealtimeOverrun
    """

    def __init__(self, system, options: Options | None = None, **keywords):
        observers = keywords.pop("observers", ())
        if options is None:
            options = Options.from_keywords(**keywords)
        elif keywords:
            options = options.replace(**keywords)
        self.options = o = options
        self.start_time, self.stop_time, self.step_size = o.start_time, o.stop_time, o.step_size
        self.tolerance = o.coupling.tolerance
        self._grid = o.grid()
        realtime = o.realtime
        self._pacer = None if realtime.factor is None else Pacer(
            step_size=o.step_size, factor=realtime.factor, overrun=realtime.overrun,
            max_lateness=realtime.max_lateness)
        self._reanchor = True
        self.composed = system
        self.system = system = flatten(system)
        if not system.components:
            raise ConfigurationError(f"system '{system.name}' has no components")
        multiples = self._check_multiples(o.coupling.step_multiples or {})
        order = execution_order(system)
        self._plan = plan = Plan(system, o.recording.record)
        threads = o.threads
        if plan.clocks:
            threads = assembly.check_clocked(
                plan, order, algorithm=o.coupling.algorithm, threads=threads,
                variable_step=o.step_control.variable_step, multiples=multiples)
        self._clock_index: dict = {}
        self._runtimes: list = []
        self._libraries: dict = {}
        self._stopped = False
        self._recovery = None
        self._stats: dict[str, ComponentStats] = {}
        # string and binary columns: one table of values per buffer slot, shared
        # by the columns that show it, extended from the core's stores
        self._text_tables: dict = {}
        for column, (group, slot) in enumerate(plan.columns):
            if group in TEXT_TYPES:
                self._text_tables.setdefault((group, slot), ([], []))[1].append(column)
        self.result = Result(plan.column_names, arrays=plan.arrays,
                             types=[group for group, _ in plan.columns],
                             units=plan.column_units, descriptions=plan.column_descriptions,
                             keep_rows=o.recording.keep_rows,
                             keep_seconds=o.recording.keep_seconds,
                             texts={c: table for table, columns in self._text_tables.values()
                                    for c in columns})
        self._observers = Observers([ResultRecorder(self.result), *observers])
        if o.recording.output_file is not None:     # a bad file name fails before instantiating
            self._observers.attach(WriterObserver(writer_for(o.recording.output_file)))
        self._core = Core(len(plan.names), [plan.slot_counts[g] for g in LOOP_TYPES])
        try:
            self._build(order, multiples)
            self._recovery = recovery_for(self)
            self._observers.started(self.result)
            self._initialize([plan.index[n] for n in order])
            if self._recovery is not None:
                self._recovery.checkpoint()
            self._choose_threads(threads)
        except BaseException as exc:
            self._release(reason=failure_reason(exc) if isinstance(exc, CosimError) else None)
            if isinstance(exc, (FmiCallError, AlgebraicLoopError, SimulationTerminated)):
                exc.partial_result = self.result
            raise

    @property
    def coupling(self) -> dict:
        """How the master couples the components, as keyword options (for runs
        forked from this one)."""
        return dataclasses.asdict(self.options.coupling)

    def observe(self, observer) -> None:
        """Attach an :class:`~cosim.execution.observers.Observer` to the run."""
        self._observers.attach(observer)

    # -- set-up ---------------------------------------------------------------------

    def _check_multiples(self, multiples: dict) -> dict:
        for name in multiples:
            if name not in self.system.components:
                raise ConfigurationError(f"step_multiples: no component {name!r} in system "
                                         f"'{self.system.name}'")
        return multiples

    def _build(self, order: list[str], multiples: dict) -> None:
        """Instantiate every component and give the core its ports, loops and grid."""
        o, plan, core = self.options, self._plan, self._core
        self._runtimes = assembly.instantiate(self.system, plan, core, self._libraries,
                                              logging_on=o.recording.logging_on,
                                              isolation=o.isolation)
        self._models = [assembly.model_of(self.system, name, runtime)
                        for name, runtime in zip(plan.names, self._runtimes)]
        position = {plan.index[n]: j for j, n in enumerate(order)}
        assembly.build_ports(core, plan, self._models, extrapolation=o.coupling.extrapolation,
                             algorithm=o.coupling.algorithm, position=position)
        for name, multiple in multiples.items():
            core.set_multiple(plan.index[name], multiple)
        self._loops = assembly.add_loops(core, plan, self.system, order)
        core.loop_tolerance = o.coupling.loop_tolerance
        core.loop_max_iterations = o.coupling.loop_max_iterations
        core.profile = o.recording.profile
        # A native crash (which no isolation catches in process) loses at most
        # this much wall clock of rows: they reach the output file this often.
        core.flush_interval = FLUSH_INTERVAL_S if self._pacer is None else REALTIME_FLUSH_INTERVAL_S
        core.configure(algorithm=o.coupling.algorithm, order=[plan.index[n] for n in order],
                       grid=self._grid, columns=plan.columns)
        self.variable_step = o.step_control.variable_step and assembly.can_vary_step(
            plan, self._runtimes, self._models, self.step_size)
        if self.variable_step:
            for runtime in self._runtimes:      # rejected steps set earlier states
                runtime.restores_states(True)
            core.configure_variable(self._grid, rtol=o.step_control.rtol,
                                    atol=o.step_control.atol, estimated=plan.exchanged_float64)

    def _choose_threads(self, threads: int | None) -> None:
        cores = len(os.sched_getaffinity(0))
        # Only FMU units step in parallel; Python-backed ones stay on this thread.
        self._fmu_units = [k for k, r in enumerate(self._runtimes) if isinstance(r, Instance)]
        # Calibration times unpaced steps; a real-time run keeps to one thread
        # unless told otherwise.
        self._calibrating = (threads is None and self.options.coupling.algorithm == "jacobi"
                             and cores > 1 and len(self._fmu_units) > 1
                             and not self.variable_step and self._pacer is None)
        self._core.threads = threads or 1
        self._cores = cores

    def _initialize(self, order: list[int]) -> None:
        core = self._core
        for name, runtime in zip(self._plan.names, self._runtimes):
            runtime.setup_experiment(self.start_time, self.stop_time,
                                     tolerance_for(runtime, self.tolerance))
            set_start_values(self.system, name, runtime)
            runtime.enter_initialization_mode()
            if holds_its_starts(runtime):
                set_missing_starts(self.system, name, runtime)
        # Every output once, then passes in execution order (set inputs, get
        # outputs) until no exchanged value changes: with no algebraic loop
        # this settles within one pass per component along the longest
        # feedthrough chain, and the last pass leaves every input at its
        # source's final value.
        for k in order:
            self._check(core.pull(k))
        for _ in range(len(order) + 1):
            before = core.buffers()
            for k in order:
                self._check(core.push(k))
                self._check(core.pull(k))
            self._solve_loops()
            if self._settled(before, core.buffers()):
                break
        else:
            log.warning("initial values of system '%s' did not settle in %d passes",
                        self.system.name, len(order) + 1)
        self._clock_index = assembly.setup_clocks(core, self._plan, self._runtimes,
                                                  self.start_time)
        for name in self._plan.clocks:     # the clocked outputs' initial values
            self._check(core.pull_clocked(self._plan.index[name]))
        for runtime in self._runtimes:
            runtime.exit_initialization_mode()
        core.derivatives_live = True        # FMUs give output derivatives from here on
        for k in order:
            self._check(core.pull(k))
        self._solve_loops()
        self._check(core.record_now())
        self._flush()

    def _solve_loops(self) -> None:
        self._check(self._core.solve_loops())
        if self._core.loop_error is not None:
            error, self._core.loop_error = self._core.loop_error, None
            raise error

    def _settled(self, before: bytes, after: bytes) -> bool:
        """Whether a pass left the exchanged values as they were (within the loop
        tolerance for float64 values when there are algebraic loops to solve)."""
        if before == after or not self._loops:
            return before == after
        n = 8 * max(self._plan.slot_counts["float64"], 1)
        old, new = np.frombuffer(before[:n]), np.frombuffer(after[:n])
        return before[n:] == after[n:] and bool(np.all(
            np.abs(new - old) <= 10 * self._core.loop_tolerance * (1 + np.abs(new))))

    # -- stepping -------------------------------------------------------------------

    @property
    def time(self) -> float:
        """Simulation time of the current communication point (the last one once stopped)."""
        return self._core.time if self._core is not None else self._final_time

    @property
    def step_index(self) -> int:
        """Communication steps taken since the start time."""
        return self._core.step_index if self._core is not None else self._final_step

    @property
    def stats(self) -> dict[str, ComponentStats]:
        """Per component: steps, rejected steps, rollbacks, loop iterations and (when
        profiling) time in do step, since the start.  Also ``result.stats`` once stopped."""
        if self._core is None:
            return self._stats
        restarts = self._recovery.restarts if self._recovery is not None else {}
        return {name: ComponentStats(*entry, restarts=restarts.get(name, 0))
                for name, entry in zip(self._plan.names, self._core.statistics())}

    @property
    def names(self) -> list[str]:
        """Component names."""
        return list(self._plan.names)

    def step(self, n: int = 1) -> float:
        """Take ``n`` communication steps; returns the new time.

        :meth:`step`, :meth:`run_until` and :meth:`run` raise
        SimulationTerminated when a component asks to end the simulation:
        the simulation is then stopped (components terminated and freed), its
        :attr:`result` (also the error's ``partial_result``) holds the rows up
        to there and says who ended it (``terminated_by``, ``end_time``,
        ``end_reason``), and further steps raise ConfigurationError.
        """
        self._require_running()
        if self.variable_step:
            raise ConfigurationError("step(n) counts fixed steps; with variable_step use "
                                     "run_until(time) or run()")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ConfigurationError(f"step(n) takes a whole number of steps, got {n!r}")
        if n < 0:
            raise ConfigurationError(f"cannot step a negative number of steps ({n})")
        if self._core.step_index + n > self._core.n_steps:
            raise ConfigurationError(f"{n} steps from t={self.time:g} s would pass the stop time "
                                     f"{self.stop_time:g} s")
        self._forward(self._core.step_index + n)
        return self.time

    def run_until(self, time: float) -> float:
        """Step until the communication point at or just after ``time``
        (with ``variable_step``: exactly ``time``, or the stop time)."""
        self._require_running()
        time = check_seconds(time, "time")
        if self.variable_step:
            self._advance_variable(max(time, self._core.time))
            return self.time
        self._forward(max(self._grid.step_at_or_after(time), self._core.step_index))
        return self.time

    def run(self, *, progress=None) -> Result:
        """Step to the stop time; ``progress(time, stop_time)`` is called as the run goes.

        Raises SimulationTerminated when a component ends the simulation (see
        :meth:`step`); :func:`simulate` takes that as a normal end.
        """
        self._require_running()
        if self.stop_time is None:
            raise ConfigurationError("run() needs a stop_time; use step() or run_until() instead")
        core = self._core
        if self.variable_step:
            span = core.end_time - core.start_time
            while core.time < core.end_time:
                self._advance_variable(core.time + span / 200 if progress else core.end_time)
                if progress:
                    progress(self.time, self.stop_time)
        elif progress is None or self._pacer is not None:
            self._forward(core.n_steps, progress=progress)
        else:
            slice_ = max(1, core.n_steps // 200)
            while core.step_index < core.n_steps:
                self._advance(min(core.step_index + slice_, core.n_steps))
                progress(self.time, self.stop_time)
        return self.result

    @property
    def threads(self) -> int:
        """Threads the Jacobi loop steps FMUs on (1 = serial)."""
        return self._core.threads if self._core is not None else 1

    def _calibrate(self, until_step: int) -> None:
        """Time serial and parallel stepping on real steps of the run; keep the faster."""
        self._calibrating = False
        calibrate(self._core, self._advance, fmu_units=self._fmu_units,
                  n_units=len(self._runtimes), cores=self._cores, until_step=until_step)

    def _advance(self, until_step: int) -> None:
        if self._calibrating:
            self._calibrate(until_step)
        core, recovery = self._core, self._recovery
        while core.step_index < until_step:
            if recovery is None:
                self._outcome(core.run(until_step))
                continue
            self._outcome(core.run(recovery.bound(until_step)))
            recovery.after_run()

    def _forward(self, until_step: int, *, progress=None) -> None:
        """Fixed steps to ``until_step``, paced to the wall clock in a real-time run."""
        if self._pacer is None:
            self._advance(until_step)
        else:
            self._advance_paced(until_step, progress)

    def _advance_paced(self, until_step: int, progress) -> None:
        """Step one communication point at a time and wait until each is due.

        Under the "skip" policy a caller that is behind steps every point
        already due in one core run, and waits on the first one that is not.
        """
        pacer, core = self._pacer, self._core
        assert pacer is not None      # only real-time runs come here
        if self._reanchor:
            pacer.resume(self.time)
            self._reanchor = False
        skip = pacer.overrun == "skip"
        try:
            while core.step_index < until_step:
                target = min(core.step_index + 1 + (pacer.overdue() if skip else 0), until_step)
                while core.step_index < target:
                    reason = core.run(target)
                    if reason != RUN_DONE:      # rows handed over, a failure raised
                        self._outcome(reason)
                        if progress is not None and reason == RUN_CHUNK_FULL:
                            progress(self.time, self.stop_time)
                pacer.wait(self.time)
        except RealtimeOverrun as exc:
            self._flush()
            exc.partial_result = self.result
            self.result.realtime = exc.stats
            self._reanchor = True       # going on after this starts a new schedule from now
            raise
        self._flush()

    @property
    def pacer(self) -> Pacer | None:
        """The wall-clock schedule of a real-time run (None when not real time)."""
        return self._pacer

    @property
    def realtime_stats(self):
        """:class:`~cosim.execution.pacing.RealtimeStats` of a real-time run so far
        (None when not real time); also ``result.realtime`` once stopped."""
        if self._pacer is None:
            return None
        return self._pacer.stats() if not self._stopped else self.result.realtime

    def _advance_variable(self, until: float) -> None:
        core = self._core
        until = min(until, core.end_time)
        while core.time < until:
            self._outcome(core.run_variable(until))

    def _outcome(self, reason: int) -> None:
        """Flush what a core run recorded; raise if it stopped on a failure or
        on a component's request to terminate."""
        self._flush()
        if reason == RUN_FAILED:
            failures = self._core.failures_list()
            # Failures weigh more than a request to terminate in the same step.
            failed = [f for f in failures if f[3] != STEP_TERMINATED]
            if failures and not failed:
                self._end_terminated()
            if self._recovery is not None and self._recovery.recover(failed):
                return      # back at the checkpoint, to step on from there
            error = self._error(failed, self._core.time)
            self._fail(self._recovery.annotated(error) if self._recovery is not None else error)
        elif reason == RUN_LOOP_FAILED:
            error, self._core.loop_error = self._core.loop_error, None
            self._fail(error)
        elif reason == RUN_TERMINATED:
            self._end_terminated()

    def _end_terminated(self) -> None:
        """Stop the run (terminate and free every component) because FMUs asked
        to end the simulation; the result says so.  Raise SimulationTerminated
        with the result."""
        asked = sorted(self._core.terminations(), key=lambda entry: entry[1])
        names = [self._plan.names[k] for k, _ in asked]
        end = float(self.result.time[-1]) if len(self.result) else None
        error = SimulationTerminated(names[0], asked[0][1], others=tuple(names[1:]), result_end=end,
                                     request=self._runtimes[asked[0][0]].termination_request)
        log.info("%s", error)
        self.stop()
        self.result.terminated_by = error.instances
        self.result.end_time = error.time
        self.result.end_reason = str(error)
        error.partial_result = self.result
        raise error

    def _flush(self) -> None:
        times, rows = self._core.take_rows()
        keep = self._recovery.fresh(times) if self._recovery is not None else None
        if keep is not None:        # rows taken again after a restart, handed over before
            times, rows = times[keep], rows[keep]
        floats = rows.view(np.float64)      # transformed columns are float64 ones
        for column, (scale, shift) in self._plan.column_transforms.items():
            floats[:, column] = scale * floats[:, column] + shift
        for (group, slot), (table, _) in self._text_tables.items():
            table.extend(self._core.text_values(group, slot, len(table)))
        self._observers.rows(times, rows)
        for runtime in self._runtimes:
            runtime.drain_log()

    # -- errors and shutdown ----------------------------------------------------------

    def _check(self, failures) -> None:
        if failures:
            raise self._error(failures, self._core.time)

    def _error(self, failures, time: float) -> FmiCallError:
        python_errors = dict(self._core.python_errors)
        self._core.python_errors.clear()
        return failure_error(failures, self._runtimes, self._plan.names, python_errors, time)

    def _fail(self, error: FmiCallError | AlgebraicLoopError) -> None:
        self._flush()
        error.partial_result = self.result
        self._release(reason=failure_reason(error))
        raise error

    def _require_running(self) -> None:
        if self._stopped:
            raise ConfigurationError(f"the simulation has stopped: {self.result.end_reason}")

    def _release(self, *, reason: str | None = None) -> None:
        """Free every instance and close files; safe to call more than once.
        ``reason`` says why the run ended (default: the stop time was reached,
        or the caller stopped it before)."""
        if self._stopped:
            return
        self._stopped = True
        self._final_time = self._core.time
        self._final_step = self._core.step_index
        self._stats = self.stats
        self.result.stats = self._stats
        self.result.end_time = self._final_time
        self.result.end_reason = reason or (
            "reached the stop time" if self._core.time >= self._core.end_time
            else f"stopped at t={self._final_time:g} s")
        if self._pacer is not None:
            self.result.realtime = self._pacer.stats()
        self._core.free_states()
        for runtime in self._runtimes:
            try:
                runtime.free()
            except CosimError as exc:
                log.warning("freeing %s: %s", runtime, exc)
        self._runtimes = []
        self._core = None
        for archive, _ in self._libraries.values():
            archive.close()
        self._libraries = {}
        self._observers.stopped(self.result)

    def stop(self) -> Result:
        """Terminate and free every component; returns the result."""
        if not self._stopped:
            errors = []
            for name, runtime in zip(self._plan.names, self._runtimes):
                crashed = getattr(runtime, "crashed", None)
                if crashed is not None and crashed() is not None:
                    continue        # its worker is gone (a crash, or an interrupted call)
                try:
                    runtime.terminate()
                except CosimError as exc:
                    errors.append(f"{name}: {exc}")
            self._flush()
            self._release()
            if errors:
                log.warning("terminate failed for %s", "; ".join(errors))
        return self.result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def simulate(system, options: Options | None = None, *, progress=None, **keywords) -> Result:
    """Run ``system`` from its start time to ``stop_time`` and return the result.

    ``options`` (an :class:`~cosim.execution.options.Options`) and the
    keyword options are those of :class:`Simulation`; ``progress(time,
    stop_time)`` is called as the run goes.  When a component
    fails, the FmiCallError names it, the function and the time, and carries
    ``partial_result`` (also on disk when ``output_file`` is given).

    A component that asks to end the simulation (FMI 3 terminateSimulation,
    FMI 2 a discarded step with fmi2Terminated) ends the run normally, as
    in fmpy: the result holds the rows up to there, and its
    ``terminated_by``, ``end_time`` and ``end_reason`` say who ended it, when
    and why.  Asking during initialization, before any result exists,
    raises SimulationTerminated.
    """
    sim = Simulation(system, options, **keywords)
    with sim:
        try:
            sim.run(progress=progress)
        except SimulationTerminated:
            pass        # a normal end, described by the result
    return sim.result
