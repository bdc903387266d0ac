"""Model exchange FMUs as co-simulation components.

A model exchange FMU computes derivatives and event indicators; the importer
owns time and the continuous states.  :class:`ModelExchangeInstance` wraps
one (an :class:`~cosim.fmi._binding.MEInstance`) and integrates it over each
communication step with an ODE solver, so that the master drives it like a
co-simulation instance: ``set`` inputs, ``do_step(t, h)``, ``get`` outputs,
save and restore state.

Within a step it handles, in time order:

- state events: an event indicator changes between > 0 and <= 0.  CVode
  locates the crossing with its root finding; the scipy solvers by bisection
  on the step's dense output, to ``Solver.event_tolerance``.  The event is
  handled at the first point found on the far side of the crossing.
- time events: the next event time reported by fmi2NewDiscreteStates; the
  solver stops exactly there.
- step events: fmi2CompletedIntegratorStep asks for event mode after an
  integrator step.
- input events: a discrete input or a parameter set between steps is set in
  event mode; a continuous input set between steps restarts the solver, and
  an indicator that changes domain with it triggers an event at once.

Each event runs the event iteration (fmi2NewDiscreteStates until no new
discrete states are needed) and restarts the solver from the new states.
Inputs are held constant over a communication step, as for co-simulation.
"""

from __future__ import annotations

import ctypes
import math
import struct

import numpy as np

from cosim.errors import FmiCallError, ModelError
from cosim.fmi._binding import Library, MEInstance
from cosim.fmi.solver import SOLVERS, Solver

__all__ = ["SOLVERS", "ModelExchangeInstance", "Solver"]

_SCIPY_NAMES = {"bdf": "BDF", "lsoda": "LSODA", "radau": "Radau", "rk45": "RK45",
                "rk23": "RK23", "dop853": "DOP853"}
MAX_EVENTS_PER_STEP = 10_000
MAX_EVENT_ITERATIONS = 1_000
STATUS_ERROR = 3
_STATE_MAGIC = b"COSIMME1"


def _changed(z_before: np.ndarray, z_after: np.ndarray) -> bool:
    """Whether an event indicator moved between the domains z > 0 and z <= 0."""
    return bool(np.any((z_before > 0.0) != (z_after > 0.0)))


class _MEState:
    """A saved model exchange component: the FMU state and the runtime's own."""

    __slots__ = ("fmu_state", "time", "next_event_time", "z")

    def __init__(self, fmu_state, time, next_event_time, z):
        self.fmu_state = fmu_state
        self.time = time
        self.next_event_time = next_event_time
        self.z = z


class ModelExchangeInstance:
    """A model exchange FMU integrated by a solver, with the interface of a
    co-simulation :class:`~cosim.fmi._binding.Instance`.

    Call order as for co-simulation: ``setup_experiment``,
    ``enter_initialization_mode``, ``set``/``get``,
    ``exit_initialization_mode`` (which runs the initial event iteration),
    then ``do_step``/``set``/``get`` at communication points, ``terminate``
    and ``free``.  FMI errors raise :class:`~cosim.errors.FmiCallError`
    naming the component, the FMI function and the simulation time; a
    solver failure names the solver.

    Parameters
    ----------
    archive : cosim.fmi.archive.FmuArchive
        The extracted FMU; ``archive.model`` must describe model exchange
        (see :meth:`cosim.fmi.model.ModelInfo.for_interface`).
    library : Library
        Its binary, loaded with ``interface="model-exchange"``.
    name : str
        Component name.
    solver : Solver, str, dict or None, keyword-only
        Solver options (see :class:`Solver`); None for the defaults.
    logging_on : bool, keyword-only
        FMU debug logging.
    """

    def __init__(self, archive, library: Library, name: str, *, solver=None,
                 logging_on: bool = False):
        self.options = Solver.coerce(solver)
        self.model = archive.model
        self.name = name
        self.fmu = MEInstance(archive, library, name, logging_on=logging_on)
        self.nx = self.fmu.n_states
        self.nz = self.fmu.n_event_indicators
        self.x = np.zeros(self.nx)
        self.z = np.zeros(self.nz)           # indicators at the current time, after events
        self.time = 0.0
        self.next_event_time = math.inf
        self._initialized = False
        self._restart = True                 # the solver must start afresh from the FMU's states
        self._input_changed = False
        self._last_inputs: dict = {}
        # (type, vr) of variables that may only be set in event mode
        self._event_mode_vrs = {
            (v.type, v.value_reference) for v in self.model.variables.values()
            if v.causality == "parameter" or v.type != "float64" or v.variability != "continuous"}
        self._integrator = (_CVodeIntegrator(self) if self.options.method == "cvode" and self.nx
                            else _ScipyIntegrator(self))

    def __repr__(self):
        return f"<ModelExchangeInstance {self.name!r} ({self.model.name}, {self.options.method})>"

    @property
    def alive(self) -> bool:
        return self.fmu.alive

    @property
    def library(self) -> Library:
        """The loaded binary (its ``missing`` functions)."""
        return self.fmu.library

    # -- life cycle -----------------------------------------------------------------

    def setup_experiment(self, start_time: float = 0.0, stop_time=None, tolerance=None):
        """Fix the start time; the FMU gets the solver's relative tolerance."""
        self.time = start_time
        self.fmu.setup_experiment(start_time, stop_time,
                                  tolerance if tolerance is not None else self.options.rtol)

    def enter_initialization_mode(self):
        self.fmu.enter_initialization_mode()

    def exit_initialization_mode(self):
        """Leave initialization, run the initial event iteration, enter continuous-time mode."""
        self.fmu.exit_initialization_mode()
        self._event_iteration(self.time)       # FMI 2: exit initialization enters event mode
        self._initialized = True

    def terminate(self):
        self.fmu.terminate()

    def free(self):
        """Free the FMU instance and the solver."""
        self._integrator.close()
        self.fmu.free()

    def drain_log(self, *, errors_raised: bool = False, final: bool = False):
        self.fmu.drain_log(errors_raised=errors_raised, final=final)

    def check(self, status: int, function: str) -> int:
        return self.fmu.check(status, function)

    def call_error(self, function: str, status: int, time):
        """The FmiCallError of a failed call (see :meth:`Instance.call_error`)."""
        return self.fmu.call_error(function, status, time)

    # -- values -------------------------------------------------------------------

    def get(self, value_type: str, vrs):
        """Values at the current time (see :meth:`cosim.fmi._binding.Instance.get`)."""
        return self.fmu.get(value_type, vrs)

    def set(self, value_type: str, vrs, values):
        """Set inputs or parameters for the next step.

        Discrete values and parameters are set in event mode (with an event
        iteration); a change of a continuous input restarts the solver.
        Setting the values that are already there changes nothing.
        """
        if not self._initialized:
            self.fmu.set(value_type, vrs, values)
            return
        vrs = np.asarray(vrs, dtype=np.uint32)
        key = (value_type, vrs.tobytes())
        values = list(values) if value_type == "string" else np.array(values)
        last = self._last_inputs.get(key)
        if last is not None and (last == values if value_type == "string"
                                 else np.array_equal(last, values)):
            return
        self._last_inputs[key] = values
        if any((value_type, int(vr)) in self._event_mode_vrs for vr in vrs):
            self.fmu.enter_event_mode()
            self.fmu.set(value_type, vrs, values)
            self._event_iteration(self.time)
        else:
            self.fmu.set(value_type, vrs, values)
            self._input_changed = True
            self._restart = True

    # -- stepping -------------------------------------------------------------------

    def do_step(self, t: float, h: float):
        """Integrate from communication point ``t`` to ``t + h``, handling every event."""
        if not self._initialized:
            raise ModelError(f"component '{self.name}': do_step before initialization")
        t_end = t + h
        self.time = t
        if self._input_changed:
            self._input_changed = False
            z = np.empty(self.nz)
            self.fmu.get_event_indicators(z)
            if _changed(self.z, z):
                self.fmu.enter_event_mode()
                self._event_iteration(t)
            else:
                self.z = z
        events = 0
        while t < t_end:
            if self.next_event_time <= t:
                self.fmu.set_time(t)
                self.fmu.enter_event_mode()
                self._event_iteration(t)
                events += 1
            if self._restart:
                self._integrator.restart(t)
                self._restart = False
            t_stop = min(t_end, self.next_event_time)
            t, event = self._integrator.advance(t_stop)
            if event or t >= self.next_event_time:
                self.fmu.enter_event_mode()
                self._event_iteration(t)
                events += 1
            if events > MAX_EVENTS_PER_STEP:
                raise FmiCallError("fmi2NewDiscreteStates", self.name, STATUS_ERROR, t,
                                   f"more than {MAX_EVENTS_PER_STEP} events in one step "
                                   "(the model chatters)")
        self.time = t_end

    def completed_step(self, t: float) -> bool:
        """Tell the FMU an integrator step ended at ``t``; whether it asks for
        event mode.  Raises FmiCallError if it asks to terminate."""
        enter, terminate = self.fmu.completed_integrator_step(True)
        if terminate:
            raise FmiCallError("fmi2CompletedIntegratorStep", self.name, STATUS_ERROR, t,
                               "the FMU asked to terminate the simulation")
        return bool(enter)

    def _event_iteration(self, t: float) -> None:
        """In event mode at ``t``: iterate fmi2NewDiscreteStates, enter continuous-time mode."""
        self.time = t
        for _ in range(MAX_EVENT_ITERATIONS):
            needed, terminate, _, _, next_time = self.fmu.new_discrete_states()
            if terminate:
                raise FmiCallError("fmi2NewDiscreteStates", self.name, STATUS_ERROR, t,
                                   "the FMU asked to terminate the simulation")
            if not needed:
                break
        else:
            raise FmiCallError("fmi2NewDiscreteStates", self.name, STATUS_ERROR, t,
                               f"the event iteration did not settle in {MAX_EVENT_ITERATIONS} "
                               "iterations")
        self.next_event_time = math.inf if next_time is None else next_time
        if self.next_event_time < t:
            raise FmiCallError("fmi2NewDiscreteStates", self.name, STATUS_ERROR, t,
                               f"the next event time {self.next_event_time:g} s is in the past")
        self.fmu.enter_continuous_time_mode()
        self.fmu.get_continuous_states(self.x)
        self.fmu.get_event_indicators(self.z)
        self._restart = True

    # -- state ------------------------------------------------------------------------

    def get_state(self):
        """Save the component (FMU state and event bookkeeping).

        The solver restarts at this point, so a run restored to it replays
        the same steps exactly.
        """
        self._restart = True
        return _MEState(self.fmu.get_state(), self.time, self.next_event_time, self.z.copy())

    def set_state(self, state: _MEState):
        """Restore a state saved by :meth:`get_state` or :meth:`deserialize_state`."""
        if not isinstance(state, _MEState):
            raise ModelError(f"component '{self.name}': not a model exchange state: {state!r}")
        self.fmu.set_state(state.fmu_state)
        self.time = state.time
        self.next_event_time = state.next_event_time
        self.z = state.z.copy()
        self.fmu.get_continuous_states(self.x)
        self._last_inputs.clear()
        self._input_changed = False
        self._restart = True

    def serialize_state(self, state: _MEState) -> bytes:
        """The bytes of a saved state: the runtime's bookkeeping, then the FMU's own."""
        header = struct.pack("<8sddI", _STATE_MAGIC, state.time, state.next_event_time, self.nz)
        return header + state.z.astype("<f8").tobytes() + self.fmu.serialize_state(state.fmu_state)

    def deserialize_state(self, data: bytes) -> _MEState:
        """A state from :meth:`serialize_state` bytes; apply it with :meth:`set_state`."""
        size = struct.calcsize("<8sddI")
        if len(data) < size or data[:8] != _STATE_MAGIC:
            raise ModelError(f"component '{self.name}': the data is not a saved model exchange state")
        _, time, next_event_time, nz = struct.unpack_from("<8sddI", data)
        if nz != self.nz or len(data) < size + 8 * nz:
            raise ModelError(f"component '{self.name}': the saved state has {nz} event indicators, "
                             f"the model {self.nz}")
        z = np.frombuffer(data, dtype="<f8", count=nz, offset=size).astype(float)
        fmu_state = self.fmu.deserialize_state(bytes(data[size + 8 * nz:]))
        return _MEState(fmu_state, time, next_event_time, z)


class _ScipyIntegrator:
    """scipy.integrate's step-wise solvers, one solver object per stretch between stops."""

    def __init__(self, owner: ModelExchangeInstance):
        from scipy import integrate

        self.owner = owner
        self.method = getattr(integrate, _SCIPY_NAMES.get(owner.options.method, "BDF"))
        self.t = 0.0
        self.dx = np.zeros(owner.nx)

    def _rhs(self, t, x):
        self.owner.fmu.derivatives_at(t, np.ascontiguousarray(x, dtype=float), self.dx)
        return self.dx.copy()

    def _indicators(self, t, x) -> np.ndarray:
        z = np.empty(self.owner.nz)
        self.owner.fmu.indicators_at(t, np.ascontiguousarray(x, dtype=float), z)
        return z

    def restart(self, t: float) -> None:
        self.t = t

    def close(self) -> None:
        """Nothing to free: each stretch makes its own solver object."""

    def advance(self, t_stop: float) -> tuple[float, bool]:
        """Integrate from the FMU's states at ``self.t`` towards ``t_stop``; stop early
        at a state or step event.  Leaves the FMU at the time and states reached."""
        owner = self.owner
        x0 = owner.x.copy()
        z_start = owner.z
        if owner.nx == 0:
            return self._advance_without_states(t_stop, z_start)
        solver = self._solver(self.t, x0, t_stop)
        while solver.status == "running":
            t_before, x_before = solver.t, solver.y.copy()
            self._step(solver)
            t_new = t_stop if solver.status == "finished" else solver.t
            z_new = self._indicators(t_new, solver.y)
            if _changed(z_start, z_new):
                t_new = self._locate(t_before, t_new, solver.dense_output(), z_start)
                # The interpolant is only as accurate as the method's current
                # order; integrate again for the state at the event.
                again = self._solver(t_before, x_before, t_new)
                while again.status == "running":
                    self._step(again)
                owner.x[:] = again.y
                owner.fmu.set_time(t_new)
                owner.fmu.set_continuous_states(owner.x)
                self.t = t_new
                return t_new, True
            owner.x[:] = solver.y
            owner.z = z_new
            self.t = t_new
            if owner.completed_step(t_new):
                return t_new, True
        return self.t, False

    def _solver(self, t0: float, x0: np.ndarray, t_bound: float):
        opts = self.owner.options
        # a scalar tolerance, or one per state scaled by its nominal value
        atol: float | np.ndarray | None = opts.atol
        if atol is None:
            nominals = np.empty(self.owner.nx)
            self.owner.fmu.get_nominals(nominals)
            atol = opts.rtol * np.abs(nominals)
        return self.method(self._rhs, t0, x0, t_bound, rtol=opts.rtol, atol=atol,
                           max_step=opts.max_step or np.inf)

    def _step(self, solver) -> None:
        message = solver.step()
        if solver.status == "failed":
            raise FmiCallError(f"{self.owner.options.method} solver", self.owner.name, STATUS_ERROR,
                               solver.t, f"integration failed: {message}")

    def _advance_without_states(self, t_stop, z_start):
        owner = self.owner
        empty = np.empty(0)
        z = self._indicators(t_stop, empty)
        if _changed(z_start, z):
            t_event = self._locate(self.t, t_stop, lambda tau: empty, z_start)
            owner.fmu.set_time(t_event)
            self.t = t_event
            return t_event, True
        owner.z = z
        self.t = t_stop
        return t_stop, False

    def _locate(self, lo: float, hi: float, states_at, z_start) -> float:
        """Bisect for the first time the indicators leave z_start's domains."""
        tolerance = self.owner.options.event_tolerance * max(1.0, abs(hi))
        while hi - lo > tolerance:
            mid = 0.5 * (lo + hi)
            if _changed(z_start, self._indicators(mid, states_at(mid))):
                hi = mid
            else:
                lo = mid
        return hi


class _CVodeIntegrator:
    """SUNDIALS CVode (BDF, dense Newton) from fmpy's bundled libraries, stepped
    one internal step at a time so that each step is reported to the FMU."""

    def __init__(self, owner: ModelExchangeInstance):
        from fmpy import sundials as sd
        from fmpy.sundials.libraries import sundials_core, sundials_cvode

        self.sd = sd
        self.owner = owner
        self.error = None
        self.solver_message = ""
        n = owner.nx
        # Functions fmpy's bindings leave undeclared.
        self._set_stop_time = sundials_cvode.CVodeSetStopTime
        self._set_stop_time.argtypes = [ctypes.c_void_p, ctypes.c_double]
        self._set_stop_time.restype = ctypes.c_int
        self._context_free = sundials_core.SUNContext_Free
        self._context_free.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        self._context_free.restype = ctypes.c_int
        self._clear_error_handlers = sundials_core.SUNContext_ClearErrHandlers
        self._clear_error_handlers.argtypes = [ctypes.c_void_p]
        self._clear_error_handlers.restype = ctypes.c_int
        self._free_linear_solver = sundials_core.SUNLinSolFree
        self._free_linear_solver.argtypes = [ctypes.c_void_p]
        self._free_linear_solver.restype = ctypes.c_int
        self._free_matrix = sundials_core.SUNMatDestroy
        self._free_matrix.argtypes = [ctypes.c_void_p]
        self._free_matrix.restype = None
        self.context = ctypes.c_void_p()
        self._ok(sd.SUNContext_Create(sd.SUN_COMM_NULL, ctypes.byref(self.context)), "SUNContext_Create")
        self.y = sd.N_VNew_Serial(n, self.context)
        self.abstol = sd.N_VNew_Serial(n, self.context)
        self.y_data = np.ctypeslib.as_array(sd.NV_DATA_S(self.y), (n,))
        self.abstol_data = np.ctypeslib.as_array(sd.NV_DATA_S(self.abstol), (n,))
        self.mem = None
        self.matrix = None
        self.linear_solver = None
        self._views: dict = {}
        # Keep the callbacks referenced: CVode holds only their C pointers.
        self._rhs_c = sd.CVRhsFn(self._rhs)
        self._roots_c = sd.CVRootFn(self._roots)
        self._errors_c = sd.SUNErrHandlerFn(self._on_error)
        self.t = 0.0

    def _ok(self, flag: int, function: str) -> None:
        if flag < 0:
            raise FmiCallError(f"cvode solver ({function})", self.owner.name, STATUS_ERROR,
                               self.owner.time, f"returned {flag}: {self.solver_message}".rstrip(": "))

    def _view(self, vector, n: int) -> np.ndarray:
        # CVode passes a handful of work vectors; cache a numpy view of each.
        address = ctypes.cast(vector, ctypes.c_void_p).value
        view = self._views.get(address)
        if view is None:
            view = self._views[address] = np.ctypeslib.as_array(self.sd.NV_DATA_S(vector), (n,))
        return view

    def _rhs(self, t, y, ydot, user_data):
        try:
            n = self.owner.nx
            self.owner.fmu.derivatives_at(t, self._view(y, n), self._view(ydot, n))
            return 0
        except BaseException as exc:    # noqa: BLE001 - re-raised after CVode returns
            self.error = exc
            return -1

    def _roots(self, t, y, gout, user_data):
        try:
            owner = self.owner
            z = np.ctypeslib.as_array(gout, (owner.nz,))
            owner.fmu.indicators_at(t, self._view(y, owner.nx), z)
            return 0
        except BaseException as exc:    # noqa: BLE001
            self.error = exc
            return -1

    def _on_error(self, line, function, file, message, code, user_data, context):
        self.solver_message = (message or b"").decode(errors="replace")

    def _create(self, t: float) -> None:
        sd, owner, opts = self.sd, self.owner, self.owner.options
        self.mem = sd.CVodeCreate(sd.CV_BDF, self.context)
        self._ok(sd.CVodeInit(self.mem, self._rhs_c, t, self.y), "CVodeInit")
        self._ok(sd.CVodeSVtolerances(self.mem, opts.rtol, self.abstol), "CVodeSVtolerances")
        if owner.nz:
            self._ok(sd.CVodeRootInit(self.mem, owner.nz, self._roots_c), "CVodeRootInit")
            self._ok(sd.CVodeSetNoInactiveRootWarn(self.mem), "CVodeSetNoInactiveRootWarn")
        self.matrix = sd.SUNDenseMatrix(owner.nx, owner.nx, self.context)
        self.linear_solver = sd.SUNLinSol_Dense(self.y, self.matrix, self.context)
        self._ok(sd.CVodeSetLinearSolver(self.mem, self.linear_solver, self.matrix),
                 "CVodeSetLinearSolver")
        if opts.max_step:
            self._ok(sd.CVodeSetMaxStep(self.mem, opts.max_step), "CVodeSetMaxStep")
        self._ok(sd.CVodeSetMaxNumSteps(self.mem, 100_000), "CVodeSetMaxNumSteps")
        # Replace the default handler, which prints to stderr: the message
        # travels in the FmiCallError instead.
        self._ok(self._clear_error_handlers(self.context), "SUNContext_ClearErrHandlers")
        self._ok(sd.SUNContext_PushErrHandler(self.context, self._errors_c, None),
                 "SUNContext_PushErrHandler")

    def restart(self, t: float) -> None:
        owner, opts = self.owner, self.owner.options
        self.y_data[:] = owner.x
        if opts.atol is not None:
            self.abstol_data[:] = opts.atol
        else:
            nominals = np.empty(owner.nx)
            owner.fmu.get_nominals(nominals)
            self.abstol_data[:] = opts.rtol * np.abs(nominals)
        if self.mem is None:
            self._create(t)
        else:
            self._ok(self.sd.CVodeReInit(self.mem, t, self.y), "CVodeReInit")
            self._ok(self.sd.CVodeSVtolerances(self.mem, opts.rtol, self.abstol), "CVodeSVtolerances")
        self.t = t

    def advance(self, t_stop: float) -> tuple[float, bool]:
        """One internal step after another up to ``t_stop``; stop early at a root
        or a step event.  Leaves the FMU at the time and states reached."""
        sd, owner = self.sd, self.owner
        self._ok(self._set_stop_time(self.mem, t_stop), "CVodeSetStopTime")
        t_reached = ctypes.c_double(self.t)
        while True:
            self.error = None
            flag = sd.CVode(self.mem, t_stop, self.y, ctypes.byref(t_reached), 2)  # CV_ONE_STEP
            if self.error is not None:
                raise self.error
            self._ok(flag, "CVode")
            root, reached = flag == sd.CV_ROOT_RETURN, flag == 1    # CV_TSTOP_RETURN
            t = t_stop if reached else t_reached.value
            owner.x[:] = self.y_data
            owner.fmu.set_time(t)
            owner.fmu.set_continuous_states(owner.x)
            self.t = t
            if root:
                return t, True
            if owner.completed_step(t):
                return t, True
            if reached or t >= t_stop:
                if owner.nz:
                    owner.fmu.get_event_indicators(owner.z)
                return t, False

    def close(self) -> None:
        sd = self.sd
        if self.mem is not None:
            sd.CVodeFree(ctypes.byref(ctypes.c_void_p(self.mem)))
            self.mem = None
        if self.linear_solver is not None:
            self._free_linear_solver(self.linear_solver)
            self.linear_solver = None
        if self.matrix is not None:
            self._free_matrix(self.matrix)
            self.matrix = None
        for vector in ("y", "abstol"):
            if getattr(self, vector, None) is not None:
                sd.N_VDestroy_Serial(getattr(self, vector))
                setattr(self, vector, None)
        if self.context:
            self._context_free(ctypes.byref(self.context))
            self.context = ctypes.c_void_p()
