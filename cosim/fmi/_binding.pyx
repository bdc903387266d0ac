# cython: language_level=3
"""Native FMI 1.0 / 2.0 / 3.0 co-simulation binding, and FMI 2.0 model exchange.

A :class:`Library` is an FMU binary opened with ``dlopen`` and its functions
resolved into a C table (:mod:`cosim.fmi._library`); an :class:`Instance` is
one instantiated model, an :class:`MEInstance` one instantiated for model
exchange (its integration is :mod:`cosim.fmi.model_exchange`'s job).
Every FMI status goes through :meth:`Instance.check`
(:mod:`cosim.fmi._handle`), the one place that turns a status above warning
into :class:`~cosim.errors.FmiCallError`.

This module is the instance's life cycle; its other roles live beside it:
the calls of the step loop (``_calls.pxd``, ``_fmi2.pxd``, ``_fmi3.pxd``),
value access (:mod:`cosim.fmi._values`), saved states
(:mod:`cosim.fmi._state`) and the FMU's log (:mod:`cosim.fmi._log`).

FMI 1.0 co-simulation slaves take the same life cycle: they have no
initialization mode, so start values go to the instantiated slave,
:meth:`Instance.enter_initialization_mode` does nothing and
:meth:`Instance.exit_initialization_mode` calls fmiInitializeSlave.
"""

cimport cython
from cosim.fmi cimport _state, _values
from cosim.fmi._fmi3 cimport slave_update_discrete_states
from cosim.fmi._types cimport Fmi2EventInfo, f_instance_t

from cosim.errors import FmiCallError, ModelError, SimulationTerminated
from cosim.fmi._library import TYPE_CODES, fmi_name, function_name  # noqa: F401  (re-exported)
from cosim.fmi._log import LOG_RATE, SUMMARY_INTERVAL, drain_unrouted_log  # noqa: F401

# Python callers find the binary's class here beside the instances made from
# it (the name is a cimported type in this module, so it is bound by hand).
globals()["Library"] = Library

# The FMI status after which no function of the FMU may be called again.
FATAL = STATUS_FATAL

# The FMI 3 function of each CALL_* code: what a failed step names.
EVENT_CALLS = ("fmi3DoStep", "fmi3EnterEventMode", "fmi3UpdateDiscreteStates", "fmi3EnterStepMode",
               "fmi3SetClock", "fmi3GetClock", "fmi3GetIntervalDecimal")


# Instances keep their Library (and states their Instance) alive until they
# are freed: the garbage collector must not clear those references first, or a
# cycle collected at exit would dlclose the binary before freeInstance runs.
@cython.no_gc_clear
cdef class Instance(Handle):
    """One instance of an FMU, created in the instantiated state.

    Parameters
    ----------
    archive : cosim.fmi.archive.FmuArchive
        The extracted FMU; it must stay open while the instance lives.
    library : Library
        The loaded binary of ``archive`` (shared by its instances).
    name : str
        Instance name, used in every log line and error message.
    logging_on : bool, keyword-only
        Passed to instantiate; debug messages then reach the ``cosim.fmu`` logger.
    log_rate : float, keyword-only
        At most this many FMU log messages per second reach the logger (in
        bursts of up to as many); the others are counted in
        :attr:`suppressed_messages` and summarized in a warning.  0 lifts the
        limit (a bounded buffer between drains still applies).
    """

    def __cinit__(self, archive, Library library, str name, *, bint logging_on=False,
                  double log_rate=LOG_RATE):
        if library.isolated:
            library.proxy_configure(library.worker.encode(), library.path.encode(),
                                    library.fmi_version.encode(), library.model_identifier.encode(),
                                    library.call_timeout, library.memory_limit)
        if library.interface == "model-exchange" and not isinstance(self, MEInstance):
            raise ModelError(f"component '{name}': {library.path} was loaded for model exchange; "
                             "instantiate it with MEInstance")
        if library.fn.version == 1:
            self._instantiate1(logging_on)
            function = "fmiInstantiateSlave"
        elif library.fn.version == 2:
            self._instantiate2(logging_on)
            function = "fmi2Instantiate"
        else:
            self._instantiate3(logging_on)
            function = "fmi3InstantiateCoSimulation"
        if self.slave.component == NULL:
            crash = self._crash(function, None) if library.isolated else None
            if crash is not None:
                raise crash
            raise FmiCallError(function, name, STATUS_ERROR, None, self._take_error())
        self.alive = True
        self.time = 0.0

    cdef int _instantiate1(self, bint logging_on) except -1:
        """fmiInstantiateSlave; its logger finds this instance's sink by the
        component it returns (FMI 1.0 passes no environment)."""
        location = self.archive.directory.as_uri().encode()
        self.log_sink.fmi1_instantiating(True)
        try:
            self.slave.component = self.library.fn.f1_instantiate(
                self.name.encode(), self.model.token.encode(), location,
                b"application/x-fmu-sharedlibrary", 0.0, 0, 0, self.log_sink.callbacks1(),
                logging_on)
        finally:
            self.log_sink.fmi1_instantiating(False)
        if self.slave.component != NULL and not self.log_sink.fmi1_register(self.slave.component):
            self.library.fn.free_instance(self.slave.component)
            raise MemoryError()
        return 0

    cdef int _instantiate2(self, bint logging_on) except -1:
        """fmi2Instantiate, for co-simulation or model exchange."""
        # fmi2Type: 0 model exchange, 1 co-simulation
        cdef int fmu_type = 0 if self.library.interface == "model-exchange" else 1
        cdef void* callbacks = self.log_sink.callbacks2_for()
        self.slave.component = self.library.fn.f2_instantiate(
            self.name.encode(), fmu_type, self.model.token.encode(),
            self.archive.resources_uri.encode(), callbacks, 0, logging_on)
        return 0

    cdef int _instantiate3(self, bint logging_on) except -1:
        """fmi3InstantiateCoSimulation, with event mode where the FMU has it
        and the binary exports its functions."""
        cdef Library library = self.library
        self.slave.event_mode = bool(getattr(self.model, "has_event_mode", False)) and \
            library.fn.f3_enter_event_mode != NULL and library.fn.f3_enter_step_mode != NULL \
            and library.fn.f3_update_discrete_states != NULL
        early = bool(getattr(self.model, "might_return_early", False))
        self.slave.component = library.fn.f3_instantiate(
            self.name.encode(), self.model.token.encode(), self.archive.resources_path.encode(),
            0, logging_on, self.slave.event_mode, early, NULL, 0, self.log_sink.sink,
            <void*>self.log_sink.logger, NULL)
        return 0

    def __dealloc__(self):
        # The FMU goes before its log sink (a Handle attribute, released after this).
        if self.alive and not self.library.corrupted:
            self.library.fn.free_instance(self.slave.component)
            if self.slave.version == 1:
                self.log_sink.fmi1_unregister(self.slave.component)

    # -- life cycle -------------------------------------------------------------

    def setup_experiment(self, double start_time=0.0, stop_time=None, tolerance=None):
        """Fix the start (and optionally stop) time and the relative tolerance of
        an FMU's own solver (None: not defined); call before initialization.

        FMI 1.0 takes the times only at fmiInitializeSlave, and FMI 3.0 takes
        them with the tolerance at fmi3EnterInitializationMode, so for them they
        are recorded here and passed on later.
        """
        self.require_alive()
        self.start_time = self.time = start_time
        self.stop_time_defined = stop_time is not None
        self.stop_time = stop_time if stop_time is not None else 0.0
        self.tolerance_defined = tolerance is not None
        self.tolerance = tolerance if tolerance is not None else 0.0
        if self.slave.version == 2:
            self.check(self.library.fn.f2_setup_experiment(
                self.slave.component, self.tolerance_defined, self.tolerance, start_time,
                self.stop_time_defined, self.stop_time), "fmi2SetupExperiment")

    def enter_initialization_mode(self):
        """Enter initialization mode (FMI 2.0 and 3.0); nothing to do for FMI 1.0."""
        self.require_alive()
        if self.slave.version == 2:
            self.check(self.library.fn.f2_enter_initialization_mode(self.slave.component),
                       "fmi2EnterInitializationMode")
        elif self.slave.version == 3:
            self.check(self.library.fn.f3_enter_initialization_mode(
                self.slave.component, self.tolerance_defined, self.tolerance, self.start_time,
                self.stop_time_defined, self.stop_time), "fmi3EnterInitializationMode")

    def exit_initialization_mode(self):
        """Leave initialization mode; for FMI 1.0 initialize the slave with the
        start and stop time given to :meth:`setup_experiment`."""
        self.require_alive()
        if self.slave.version == 1:
            self.check(self.library.fn.f1_initialize_slave(
                self.slave.component, self.start_time, self.stop_time_defined, self.stop_time),
                "fmiInitializeSlave")
            return
        self.check(self.library.fn.exit_initialization_mode(self.slave.component),
                   f"fmi{self.slave.version}ExitInitializationMode")
        if self.slave.event_mode:
            # FMI 3 leaves an instance that uses event mode in event mode here.
            self._check_events(slave_update_discrete_states(&self.slave, self.start_time,
                                                            &self.step_events))

    def restores_states(self, bint may_restore):
        """Tell the FMU, at every do step, whether the master may later set a
        state saved before that step (``noSetFMUStatePriorToCurrentPoint``)."""
        self.slave.may_restore = may_restore

    def do_step(self, double t, double h):
        """Advance from communication point ``t`` by ``h``.

        FMI 3: events the FMU asks for are handled in event mode and early
        returns stepped on from where the FMU stopped (counted in
        :attr:`events` and :attr:`early_returns`).  Raises
        SimulationTerminated when the FMU asks to end the simulation (FMI 3
        terminateSimulation; FMI 2 a discarded step with fmi2Terminated),
        with the time it asked at; :attr:`time` is then that time.
        """
        self.require_alive()
        self.time = t
        cdef int status = slave_do_step(&self.slave, t, h, &self.step_events)
        self._check_events(status)
        self.time = t + h

    cdef int _check_events(self, int status) except -1:
        """Check the status of a step or of FMI 3 event handling."""
        if status == STATUS_TERMINATED or (status <= STATUS_WARNING and self.step_events.terminated):
            self.time = self.step_events.stop_time
            self.drain_log()
            raise SimulationTerminated(self.name, self.time, request=self.termination_request)
        return self.check(status, EVENT_CALLS[self.step_events.call] if self.slave.version == 3
                          else fmi_name(self.slave.version, "DoStep"))

    @property
    def termination_request(self):
        """How this FMU asks to end the simulation, as error messages name it."""
        return "fmi2Terminated" if self.slave.version == 2 else "terminateSimulation"

    @property
    def events(self):
        """Events handled in event mode during :meth:`do_step` (FMI 3), since instantiation."""
        return self.step_events.events

    @property
    def early_returns(self):
        """fmi3DoStep calls that ended before their communication point, since instantiation."""
        return self.step_events.early_returns

    @property
    def event_mode(self):
        """Whether the instance was created with eventModeUsed (FMI 3 with hasEventMode)."""
        return bool(self.slave.event_mode)

    def terminate(self):
        self.require_alive()
        self.check(self.library.fn.terminate(self.slave.component),
                   "fmiTerminateSlave" if self.slave.version == 1 else
                   f"fmi{self.slave.version}Terminate")

    def reset(self):
        """Return to the instantiated state with start values (optional in the FMU)."""
        self.require_alive()
        function = "fmiResetSlave" if self.slave.version == 1 else f"fmi{self.slave.version}Reset"
        self.require(function)
        self.check(self.library.fn.reset(self.slave.component), function)

    def can_configure(self):
        """Whether the binary exports the FMI 3 configuration-mode functions."""
        return self.slave.version == 3 and self.library.has("fmi3EnterConfigurationMode") \
            and self.library.has("fmi3ExitConfigurationMode")

    def enter_configuration_mode(self):
        """Enter FMI 3 configuration mode, where structural parameters are set;
        call in the instantiated state, before :meth:`enter_initialization_mode`."""
        self._configuration_call("fmi3EnterConfigurationMode")

    def exit_configuration_mode(self):
        """Leave FMI 3 configuration mode for the instantiated state."""
        self._configuration_call("fmi3ExitConfigurationMode")

    def _configuration_call(self, str function):
        self.require_alive()
        if not self.can_configure():
            raise ModelError(f"component '{self.name}' ({self.model.name}): the FMU binary does "
                             f"not export {function}")
        # Resolved here, not at load: only FMUs with structural parameters use them.
        cdef f_instance_t call = <f_instance_t>self.library._lookup(function)
        self.check(call(self.slave.component), function)

    def free(self):
        """Free the instance; later calls raise ModelError."""
        if self.alive:
            self.alive = False
            if self.library.corrupted:      # see abandon()
                return
            self.library.fn.free_instance(self.slave.component)
            if self.slave.version == 1:
                self.log_sink.fmi1_unregister(self.slave.component)
            self.drain_log(final=True)

    # -- values -----------------------------------------------------------------

    def get(self, str value_type, vrs, *, counts=None):
        """Values of the variables with value references ``vrs``, as a numpy array
        (a list for strings); ``value_type`` is a canonical type name such as "float64".

        ``counts`` gives the number of elements of each variable (FMI 3
        arrays); the result then holds every element, variable after
        variable, each array in row-major order.
        """
        return _values.get_values(self, value_type, vrs, counts)

    def set(self, str value_type, vrs, values, *, counts=None):
        """Set the variables with value references ``vrs`` to ``values``
        (with ``counts``, every element of FMI 3 arrays in turn, as :meth:`get` gives them)."""
        _values.set_values(self, value_type, vrs, values, counts)

    def clock_intervals(self, vrs):
        """fmi3GetIntervalDecimal of the clocks ``vrs``: (intervals, qualifiers), with
        qualifiers 0 (not yet known), 1 (unchanged) or 2 (changed)."""
        return _values.clock_intervals(self, vrs)

    def clock_shifts(self, vrs):
        """fmi3GetShiftDecimal of the clocks ``vrs``, as a float64 array."""
        return _values.clock_shifts(self, vrs)

    def get_output_derivatives(self, vrs, *, counts=None):
        """First time derivatives of the float64 outputs ``vrs`` at the current
        communication point (fmi2GetRealOutputDerivatives, fmi3GetOutputDerivatives),
        as a float64 array; ``counts`` as for :meth:`get`.

        Raises ModelError if the binary does not export the function.
        """
        return _values.output_derivatives(self, vrs, counts)

    # -- state ------------------------------------------------------------------

    def get_state(self):
        """Save the instance state (FMI get FMU state)."""
        return _state.get_state(self)

    def set_state(self, _state.FmuState state not None):
        """Restore a state saved from this instance or from another instance of the same FMU."""
        _state.set_state(self, state)

    def serialize_state(self, _state.FmuState state not None):
        """The bytes of a saved state (FMI serialize FMU state)."""
        return _state.serialize_state(self, state)

    def deserialize_state(self, bytes data not None):
        """A state from bytes made by :meth:`serialize_state`; apply it with :meth:`set_state`."""
        return _state.deserialize_state(self, data)


@cython.no_gc_clear
cdef class MEInstance(Instance):
    """One instance of an FMI 2.0 model exchange FMU, created in the instantiated state.

    Same parameters as :class:`Instance`; ``library`` must be loaded with
    ``interface="model-exchange"``.  Besides the life cycle, values and state
    of :class:`Instance`, it wraps the model exchange functions one to one,
    each status checked; arrays are contiguous float64 of ``n_states`` or
    ``n_event_indicators`` elements.  It has no ``do_step``: integrating it
    is :class:`cosim.fmi.model_exchange.ModelExchangeInstance`'s job.
    """

    def __cinit__(self, archive, Library library, str name, *, bint logging_on=False,
                  double log_rate=LOG_RATE):
        if library.interface != "model-exchange":
            raise ModelError(f"component '{name}': {library.path} was not loaded for model exchange")
        self.me = &library.me
        self.n_states = archive.model.number_of_states
        self.n_event_indicators = archive.model.number_of_event_indicators

    def do_step(self, double t, double h):
        raise ModelError(f"component '{self.name}': a model exchange instance has no doStep; "
                         "cosim.fmi.model_exchange.ModelExchangeInstance integrates it")

    cdef int _sized(self, Py_ssize_t n, Py_ssize_t expected, str what) except -1:
        if n != expected:
            raise ValueError(f"component '{self.name}': {n} {what} given, the model has {expected}")
        return 0

    def set_time(self, double t):
        """fmi2SetTime."""
        self.time = t
        self.check(self.me.set_time(self.slave.component, t), "fmi2SetTime")

    def set_continuous_states(self, const double[::1] x):
        """fmi2SetContinuousStates."""
        self._sized(x.shape[0], self.n_states, "states")
        self.check(self.me.set_continuous_states(self.slave.component, &x[0] if x.shape[0] else NULL,
                                                 x.shape[0]), "fmi2SetContinuousStates")

    def get_continuous_states(self, double[::1] out):
        """fmi2GetContinuousStates into ``out``."""
        self._sized(out.shape[0], self.n_states, "states")
        self.check(self.me.get_continuous_states(self.slave.component, &out[0] if out.shape[0] else NULL,
                                                 out.shape[0]), "fmi2GetContinuousStates")

    def get_nominals(self, double[::1] out):
        """fmi2GetNominalsOfContinuousStates into ``out``."""
        self._sized(out.shape[0], self.n_states, "nominals")
        self.check(self.me.get_nominals(self.slave.component, &out[0] if out.shape[0] else NULL,
                                        out.shape[0]), "fmi2GetNominalsOfContinuousStates")

    def get_derivatives(self, double[::1] out):
        """fmi2GetDerivatives into ``out``."""
        self._sized(out.shape[0], self.n_states, "derivatives")
        self.check(self.me.get_derivatives(self.slave.component, &out[0] if out.shape[0] else NULL,
                                           out.shape[0]), "fmi2GetDerivatives")

    def get_event_indicators(self, double[::1] out):
        """fmi2GetEventIndicators into ``out``."""
        self._sized(out.shape[0], self.n_event_indicators, "event indicators")
        self.check(self.me.get_event_indicators(
            self.slave.component, &out[0] if out.shape[0] else NULL, out.shape[0]),
            "fmi2GetEventIndicators")

    def derivatives_at(self, double t, const double[::1] x, double[::1] dx):
        """Derivatives ``dx`` at time ``t`` and states ``x`` (set time, set states,
        get derivatives in one call: the solver's right-hand side)."""
        self._sized(x.shape[0], self.n_states, "states")
        self._sized(dx.shape[0], self.n_states, "derivatives")
        self.time = t
        self.check(self.me.set_time(self.slave.component, t), "fmi2SetTime")
        if x.shape[0] == 0:
            return
        self.check(self.me.set_continuous_states(self.slave.component, &x[0], x.shape[0]),
                   "fmi2SetContinuousStates")
        self.check(self.me.get_derivatives(self.slave.component, &dx[0], dx.shape[0]),
                   "fmi2GetDerivatives")

    def indicators_at(self, double t, const double[::1] x, double[::1] z):
        """Event indicators ``z`` at time ``t`` and states ``x``."""
        self._sized(x.shape[0], self.n_states, "states")
        self._sized(z.shape[0], self.n_event_indicators, "event indicators")
        self.time = t
        self.check(self.me.set_time(self.slave.component, t), "fmi2SetTime")
        if x.shape[0]:
            self.check(self.me.set_continuous_states(self.slave.component, &x[0], x.shape[0]),
                       "fmi2SetContinuousStates")
        if z.shape[0]:
            self.check(self.me.get_event_indicators(self.slave.component, &z[0], z.shape[0]),
                       "fmi2GetEventIndicators")

    def enter_event_mode(self):
        """fmi2EnterEventMode."""
        self.check(self.me.enter_event_mode(self.slave.component), "fmi2EnterEventMode")

    def enter_continuous_time_mode(self):
        """fmi2EnterContinuousTimeMode."""
        self.check(self.me.enter_continuous_time_mode(self.slave.component),
                   "fmi2EnterContinuousTimeMode")

    def new_discrete_states(self):
        """fmi2NewDiscreteStates: (new_discrete_states_needed, terminate_simulation,
        nominals_changed, values_changed, next_event_time or None)."""
        cdef Fmi2EventInfo info
        info.newDiscreteStatesNeeded = 0
        info.terminateSimulation = 0
        info.nominalsOfContinuousStatesChanged = 0
        info.valuesOfContinuousStatesChanged = 0
        info.nextEventTimeDefined = 0
        info.nextEventTime = 0.0
        self.check(self.me.new_discrete_states(self.slave.component, &info), "fmi2NewDiscreteStates")
        return (info.newDiscreteStatesNeeded != 0, info.terminateSimulation != 0,
                info.nominalsOfContinuousStatesChanged != 0,
                info.valuesOfContinuousStatesChanged != 0,
                info.nextEventTime if info.nextEventTimeDefined else None)

    def completed_integrator_step(self, bint no_set_state_prior=True):
        """fmi2CompletedIntegratorStep: (enter_event_mode, terminate_simulation)."""
        cdef int enter = 0, terminate = 0
        self.check(self.me.completed_integrator_step(self.slave.component, no_set_state_prior,
                                                     &enter, &terminate),
                   "fmi2CompletedIntegratorStep")
        return enter != 0, terminate != 0
