# Native FMI binding: function tables resolved with dlopen/dlsym, and inline
# nogil dispatch used by the master's step loop.
from libc.stdint cimport uint32_t
from libc.stdio cimport snprintf

cdef extern from "<stdbool.h>":
    ctypedef unsigned char cbool "bool"     # fmi3Boolean; also passes an fmi1Boolean (char)

cdef extern from "logsink.h" nogil:
    ctypedef struct CosimLogSink:
        pass

ctypedef void (*log_fn_t)(void*, int, const char*, const char*) noexcept nogil

# Canonical value types (cosim.fmi.model.CANONICAL_TYPES) as codes.
cdef enum:
    T_FLOAT64 = 0
    T_FLOAT32 = 1
    T_INT8 = 2
    T_UINT8 = 3
    T_INT16 = 4
    T_UINT16 = 5
    T_INT32 = 6
    T_UINT32 = 7
    T_INT64 = 8
    T_UINT64 = 9
    T_BOOL = 10
    T_STRING = 11
    T_BINARY = 12          # FMI 3 only; its functions take the value sizes too
    N_VALUE_TYPES = 13

cdef enum:
    STATUS_OK = 0
    STATUS_WARNING = 1
    STATUS_DISCARD = 2
    STATUS_ERROR = 3
    STATUS_FATAL = 4
    # Not an FMI status: slave_do_step's answer when the FMU asked to end the
    # simulation (terminateSimulation) before reaching the communication
    # point.  Above every FMI status, so that callers stop as on a failure.
    STATUS_TERMINATED = 16

# fmi2StatusKind values of fmi2GetRealStatus and fmi2GetBooleanStatus.
cdef enum:
    FMI2_LAST_SUCCESSFUL_TIME = 2
    FMI2_TERMINATED = 3

# The FMI 3 function a step called last: the failing one when a step fails.
cdef enum:
    CALL_DO_STEP = 0
    CALL_ENTER_EVENT_MODE = 1
    CALL_UPDATE_DISCRETE_STATES = 2
    CALL_ENTER_STEP_MODE = 3
    CALL_SET_CLOCK = 4         # the clock calls of an event (cosim.master._clocks)
    CALL_GET_CLOCK = 5
    CALL_GET_INTERVAL = 6

cdef enum:
    # fmi3UpdateDiscreteStates calls an event may take before the discrete
    # states count as never settling
    MAX_EVENT_ITERATIONS = 100
    # early returns one communication step may take (each at an event, as a
    # rule): the same bound the test FMUs put on events inside one step
    MAX_EARLY_RETURNS = 10000

# What FMI 3 event handling did in the steps of one instance.
cdef struct StepEvents:
    long long events           # event mode entries (eventHandlingNeeded)
    long long early_returns    # fmi3DoStep calls that ended before their communication point
    int call                   # CALL_*: the function called last
    int terminated             # the last step ended because the FMU asked to terminate
    double stop_time           # the FMU's time when it asked
    int next_event_defined     # nextEventTimeDefined at the last event (noted only)
    double next_event_time

# All value getters/setters of one FMI version share a shape; each table slot
# holds the function for one value type (NULL if the version lacks the type).
# FMI 1.0 getters and setters have the FMI 2.0 shape (fmi1Boolean is a char).
ctypedef int (*f2_get_t)(void*, const uint32_t*, size_t, void*) noexcept nogil
ctypedef int (*f2_set_t)(void*, const uint32_t*, size_t, const void*) noexcept nogil
ctypedef int (*f3_get_t)(void*, const uint32_t*, size_t, void*, size_t) noexcept nogil
ctypedef int (*f3_set_t)(void*, const uint32_t*, size_t, const void*, size_t) noexcept nogil

ctypedef int (*f2_do_step_t)(void*, double, double, int) noexcept nogil
ctypedef int (*f3_do_step_t)(void*, double, double, cbool, cbool*, cbool*, cbool*, double*) noexcept nogil
ctypedef int (*f_instance_t)(void*) noexcept nogil
ctypedef void (*f_free_instance_t)(void*) noexcept nogil
ctypedef void* (*f2_instantiate_t)(const char*, int, const char*, const char*, const void*, int, int) noexcept nogil
ctypedef void* (*f3_instantiate_t)(const char*, const char*, const char*, cbool, cbool, cbool, cbool,
                                   const uint32_t*, size_t, void*, void*, void*) noexcept nogil
ctypedef int (*f2_setup_t)(void*, int, double, double, int, double) noexcept nogil
ctypedef int (*f3_enter_init_t)(void*, cbool, double, double, cbool, double) noexcept nogil
ctypedef int (*f2_get_strings_t)(void*, const uint32_t*, size_t, const char**) noexcept nogil
ctypedef int (*f3_get_strings_t)(void*, const uint32_t*, size_t, const char**, size_t) noexcept nogil
ctypedef int (*f3_get_binary_t)(void*, const uint32_t*, size_t, size_t*, const unsigned char**,
                                size_t) noexcept nogil
ctypedef int (*f3_set_binary_t)(void*, const uint32_t*, size_t, const size_t*,
                                const unsigned char**, size_t) noexcept nogil
ctypedef int (*f_get_state_t)(void*, void**) noexcept nogil
ctypedef int (*f_set_state_t)(void*, void*) noexcept nogil
ctypedef int (*f_state_size_t)(void*, void*, size_t*) noexcept nogil
ctypedef int (*f_serialize_t)(void*, void*, char*, size_t) noexcept nogil
ctypedef int (*f_deserialize_t)(void*, const char*, size_t, void**) noexcept nogil
ctypedef int (*f_debug_logging_t)(void*, int, size_t, const char**) noexcept nogil
ctypedef int (*f2_input_derivatives_t)(void*, const uint32_t*, size_t, const int*, const double*) noexcept nogil
ctypedef int (*f2_output_derivatives_t)(void*, const uint32_t*, size_t, const int*, double*) noexcept nogil
ctypedef int (*f3_output_derivatives_t)(void*, const uint32_t*, size_t, const int*, double*, size_t) noexcept nogil
ctypedef int (*f3_update_discrete_states_t)(void*, cbool*, cbool*, cbool*, cbool*, cbool*, double*) noexcept nogil
# FMI 3 clocks: fmi3GetClock/fmi3SetClock, fmi3GetIntervalDecimal (intervals, qualifiers), fmi3GetShiftDecimal
ctypedef int (*f3_get_clock_t)(void*, const uint32_t*, size_t, cbool*) noexcept nogil
ctypedef int (*f3_set_clock_t)(void*, const uint32_t*, size_t, const cbool*) noexcept nogil
ctypedef int (*f3_get_intervals_t)(void*, const uint32_t*, size_t, double*, int*) noexcept nogil
ctypedef int (*f3_get_shifts_t)(void*, const uint32_t*, size_t, double*) noexcept nogil

# fmi3IntervalQualifier
cdef enum:
    INTERVAL_NOT_YET_KNOWN = 0
    INTERVAL_UNCHANGED = 1
    INTERVAL_CHANGED = 2

# FMI 1.0 passes its callbacks by value; the layout of fmi1CallbackFunctions.
cdef struct Fmi1Callbacks:
    void* logger
    void* allocate_memory
    void* free_memory
    void* step_finished

ctypedef void* (*f1_instantiate_t)(const char*, const char*, const char*, const char*, double,
                                   cbool, cbool, Fmi1Callbacks, cbool) noexcept nogil
ctypedef int (*f1_initialize_t)(void*, double, cbool, double) noexcept nogil
ctypedef int (*f1_do_step_t)(void*, double, double, cbool) noexcept nogil
ctypedef int (*f1_debug_logging_t)(void*, cbool) noexcept nogil
ctypedef int (*f1_real_status_t)(void*, int, double*) noexcept nogil
ctypedef int (*f2_real_status_t)(void*, int, double*) noexcept nogil
ctypedef int (*f2_boolean_status_t)(void*, int, int*) noexcept nogil

cdef struct FmiFunctions:
    int version                      # 1, 2 or 3
    f1_instantiate_t f1_instantiate
    f1_initialize_t f1_initialize_slave
    f1_do_step_t f1_do_step
    f1_debug_logging_t f1_set_debug_logging
    f1_real_status_t f1_get_real_status
    f2_instantiate_t f2_instantiate
    f3_instantiate_t f3_instantiate
    f_free_instance_t free_instance
    f2_setup_t f2_setup_experiment
    f3_enter_init_t f3_enter_initialization_mode
    f_instance_t f2_enter_initialization_mode
    f_instance_t exit_initialization_mode
    f_instance_t terminate
    f_instance_t reset
    f2_do_step_t f2_do_step
    f2_real_status_t f2_get_real_status            # NULL if not exported
    f2_boolean_status_t f2_get_boolean_status      # NULL if not exported
    f3_do_step_t f3_do_step
    void* get[N_VALUE_TYPES]
    void* set[N_VALUE_TYPES]
    f_get_state_t get_state
    f_set_state_t set_state
    f_get_state_t free_state
    f_state_size_t serialized_state_size
    f_serialize_t serialize_state
    f_deserialize_t deserialize_state
    f_debug_logging_t set_debug_logging
    f2_input_derivatives_t f2_set_input_derivatives
    f2_output_derivatives_t f2_get_output_derivatives
    f3_output_derivatives_t f3_get_output_derivatives
    f_instance_t f3_enter_event_mode
    f_instance_t f3_enter_step_mode
    f3_update_discrete_states_t f3_update_discrete_states
    f3_get_clock_t f3_get_clock
    f3_set_clock_t f3_set_clock
    f3_get_intervals_t f3_get_interval_decimal
    f3_get_shifts_t f3_get_shift_decimal

# FMI 2.0 model exchange.
cdef struct Fmi2EventInfo:
    int newDiscreteStatesNeeded
    int terminateSimulation
    int nominalsOfContinuousStatesChanged
    int valuesOfContinuousStatesChanged
    int nextEventTimeDefined
    double nextEventTime

ctypedef int (*f2_set_time_t)(void*, double) noexcept nogil
ctypedef int (*f2_set_reals_t)(void*, const double*, size_t) noexcept nogil
ctypedef int (*f2_get_reals_t)(void*, double*, size_t) noexcept nogil
ctypedef int (*f2_new_discrete_states_t)(void*, Fmi2EventInfo*) noexcept nogil
ctypedef int (*f2_completed_step_t)(void*, int, int*, int*) noexcept nogil

cdef struct MEFunctions:
    f_instance_t enter_event_mode
    f_instance_t enter_continuous_time_mode
    f2_new_discrete_states_t new_discrete_states
    f2_completed_step_t completed_integrator_step
    f2_set_time_t set_time
    f2_set_reals_t set_continuous_states
    f2_get_reals_t get_derivatives
    f2_get_reals_t get_event_indicators
    f2_get_reals_t get_continuous_states
    f2_get_reals_t get_nominals

# The C view of one instance that the step loop works on.
cdef struct Slave:
    int version
    void* component
    FmiFunctions* fn
    CosimLogSink* sink
    log_fn_t log          # writes into sink; lets the loop report its own findings
    int event_mode        # FMI 3: instantiated with eventModeUsed
    int may_restore       # the master may set a state saved before the current point


cdef inline int slave_do_step(Slave* s, double t, double h, StepEvents* ev) noexcept nogil:
    """Advance from t by h.  FMI 3: handle events and early returns on the way
    (see slave_do_step3), counting them in ``ev``."""
    cdef int status
    if s.version == 2:
        ev.terminated = 0
        status = s.fn.f2_do_step(s.component, t, h, not s.may_restore)
        return slave_discarded2(s, t, h, ev) if status == STATUS_DISCARD else status
    if s.version == 1:
        return s.fn.f1_do_step(s.component, t, h, 1)
    return slave_do_step3(s, t, h, ev)


cdef inline int slave_discarded2(Slave* s, double t, double h, StepEvents* ev) noexcept nogil:
    """An FMI 2 step from t by h answered fmi2Discard.  The FMU asks to end the
    simulation when fmi2GetBooleanStatus(fmi2Terminated) says so, at its
    fmi2LastSuccessfulTime (the step's start if it gives none within the
    step); the answer is then as for FMI 3 (``ev`` says when; STATUS_OK if it
    had reached t + h, else STATUS_TERMINATED).  Any other discard stays one.
    """
    cdef int terminated = 0
    cdef double last = t, target = t + h
    cdef char text[320]
    if s.fn.f2_get_boolean_status == NULL or s.fn.f2_get_boolean_status(
            s.component, FMI2_TERMINATED, &terminated) > STATUS_WARNING or not terminated:
        return STATUS_DISCARD
    if s.fn.f2_get_real_status == NULL or s.fn.f2_get_real_status(
            s.component, FMI2_LAST_SUCCESSFUL_TIME, &last) > STATUS_WARNING:
        last = t
    elif not (t <= last and last <= target):        # NaN fails too
        snprintf(text, sizeof(text), "fmi2GetRealStatus(fmi2LastSuccessfulTime) gave %.17g, "
                 "outside the step from t=%.17g to %.17g s; the simulation ends at the step's "
                 "start", last, t, target)
        s.log(s.sink, STATUS_WARNING, "cosim", text)
        last = t
    ev.terminated = 1
    ev.stop_time = last
    return STATUS_OK if last >= target else STATUS_TERMINATED


cdef inline int slave_step_once3(Slave* s, double now, double end, StepEvents* ev,
                                 cbool* event, cbool* terminate, cbool* early,
                                 double* last) noexcept nogil:
    """One fmi3DoStep from ``now`` to ``end``.  ``*last`` is where the FMU
    stopped: ``end``, unless it returned early at a lastSuccessfulTime, which
    must lie within the step (an error status otherwise)."""
    cdef char text[320]
    cdef int status
    event[0] = terminate[0] = early[0] = 0
    last[0] = end
    ev.call = CALL_DO_STEP
    status = s.fn.f3_do_step(s.component, now, end - now, not s.may_restore, event,
                                      terminate, early, last)
    if status > STATUS_WARNING:
        return status
    if not early[0]:
        last[0] = end
    elif not (now <= last[0] and last[0] <= end):     # NaN fails too
        snprintf(text, sizeof(text), "fmi3DoStep returned early with lastSuccessfulTime="
                 "%.17g, outside the step from t=%.17g to %.17g s", last[0], now, end)
        s.log(s.sink, STATUS_ERROR, "cosim", text)
        return STATUS_ERROR
    return status


cdef inline int slave_do_step3(Slave* s, double t, double h, StepEvents* ev) noexcept nogil:
    """fmi3DoStep from t to t + h, however many calls it takes.

    An FMU that asks for event handling gets it (event mode, discrete states
    updated until they settle, step mode) where it stopped; one that returns
    early is stepped on from its lastSuccessfulTime, so that the step ends
    on the communication point.  When the FMU asks to terminate, ``ev`` says
    when; the answer is STATUS_OK if it had reached t + h, else
    STATUS_TERMINATED.  An event asked for without event mode is an error.
    """
    cdef cbool event, terminate, early
    cdef double now = t, target = t + h, last
    cdef int status, returns = 0
    cdef char text[320]
    ev.terminated = 0
    while True:
        status = slave_step_once3(s, now, target, ev, &event, &terminate, &early, &last)
        if status > STATUS_WARNING:
            return status
        if terminate:
            ev.terminated = 1
            ev.stop_time = last
            return STATUS_OK if last >= target else STATUS_TERMINATED
        if event:
            if not s.event_mode:
                snprintf(text, sizeof(text), "fmi3DoStep asked for event handling "
                         "(eventHandlingNeeded) at t=%.9g s, but the FMU was instantiated "
                         "without event mode (its hasEventMode is false)", last)
                s.log(s.sink, STATUS_ERROR, "cosim", text)
                return STATUS_ERROR
            ev.call = CALL_ENTER_EVENT_MODE
            status = s.fn.f3_enter_event_mode(s.component)
            if status > STATUS_WARNING:
                return status
            ev.events += 1
            status = slave_update_discrete_states(s, last, ev)
            if status > STATUS_WARNING:
                return status
            if ev.terminated:
                return STATUS_OK if last >= target else STATUS_TERMINATED
        if last >= target:
            return status
        ev.early_returns += 1
        returns += 1
        if returns > MAX_EARLY_RETURNS:
            snprintf(text, sizeof(text), "fmi3DoStep returned early %d times in the step from "
                     "t=%.9g to %.9g s without reaching its end (last at t=%.17g s): its events "
                     "chatter", MAX_EARLY_RETURNS, t, target, last)
            s.log(s.sink, STATUS_ERROR, "cosim", text)
            return STATUS_ERROR
        now = last


cdef inline int slave_update_discrete_states(Slave* s, double t, StepEvents* ev) noexcept nogil:
    """In event mode at t: fmi3UpdateDiscreteStates until the discrete states
    settle, then fmi3EnterStepMode.  An FMU that asks to terminate stays in
    event mode, with ``ev.terminated`` set."""
    cdef int status = slave_settle(s, t, ev)
    if status > STATUS_WARNING or ev.terminated:
        return status
    ev.call = CALL_ENTER_STEP_MODE
    return s.fn.f3_enter_step_mode(s.component)


cdef inline int slave_settle(Slave* s, double t, StepEvents* ev) noexcept nogil:
    """In event mode at t: fmi3UpdateDiscreteStates until the discrete states
    settle (the FMU stays in event mode); ``ev.terminated`` when it asks to end."""
    cdef cbool again, terminate, nominals, values, defined
    cdef double next_time
    cdef int i, status
    cdef char text[320]
    ev.call = CALL_UPDATE_DISCRETE_STATES
    for i in range(MAX_EVENT_ITERATIONS):
        again = terminate = nominals = values = defined = 0
        next_time = 0.0
        status = s.fn.f3_update_discrete_states(s.component, &again, &terminate, &nominals,
                                                &values, &defined, &next_time)
        if status > STATUS_WARNING:
            return status
        if terminate:
            ev.terminated = 1
            ev.stop_time = t
            return status
        if not again:
            ev.next_event_defined = defined
            ev.next_event_time = next_time
            return status
    snprintf(text, sizeof(text), "the discrete states did not settle at t=%.9g s: "
             "fmi3UpdateDiscreteStates still asked for another update (discreteStatesNeedUpdate) "
             "after %d calls", t, MAX_EVENT_ITERATIONS)
    s.log(s.sink, STATUS_ERROR, "cosim", text)
    return STATUS_ERROR


# ``nvalues`` counts the values: n for scalars, more when FMI 3 arrays are among
# the variables (one value per element); FMI 1 and 2 have scalars only.
cdef inline int slave_get(Slave* s, int value_type, const uint32_t* vr, size_t n,
                          void* values, size_t nvalues) noexcept nogil:
    if n == 0:
        return STATUS_OK
    if s.version <= 2:
        return (<f2_get_t>s.fn.get[value_type])(s.component, vr, n, values)
    return (<f3_get_t>s.fn.get[value_type])(s.component, vr, n, values, nvalues)


cdef inline int slave_get_output_derivatives(Slave* s, const uint32_t* vr, size_t n,
                                             const int* order, double* values,
                                             size_t nvalues) noexcept nogil:
    """Derivatives of float64 outputs (FMI 2 and 3; the caller checks the function exists)."""
    if n == 0:
        return STATUS_OK
    if s.version == 2:
        return s.fn.f2_get_output_derivatives(s.component, vr, n, order, values)
    return s.fn.f3_get_output_derivatives(s.component, vr, n, order, values, nvalues)


cdef inline int slave_set_input_derivatives(Slave* s, const uint32_t* vr, size_t n,
                                            const int* order, const double* values) noexcept nogil:
    """First derivatives of real inputs over the coming step (FMI 2 only)."""
    if n == 0:
        return STATUS_OK
    return s.fn.f2_set_input_derivatives(s.component, vr, n, order, values)


cdef inline int slave_set(Slave* s, int value_type, const uint32_t* vr, size_t n,
                          const void* values, size_t nvalues) noexcept nogil:
    if n == 0:
        return STATUS_OK
    if s.version <= 2:
        return (<f2_set_t>s.fn.set[value_type])(s.component, vr, n, values)
    return (<f3_set_t>s.fn.set[value_type])(s.component, vr, n, values, nvalues)


# The proxy of isolated FMUs (cosim/isolation/proxy.c): its own entry points.
ctypedef int (*proxy_configure_t)(const char*, const char*, const char*, const char*, double) noexcept nogil
ctypedef int (*proxy_fate_t)(void*, int*, char*, size_t, char*, size_t) noexcept nogil
ctypedef void (*proxy_discard_t)(void*) noexcept nogil
ctypedef int (*proxy_deferred_t)(void*, char*, size_t) noexcept nogil


cdef class Library:
    cdef void* handle
    cdef FmiFunctions fn
    cdef MEFunctions me
    cdef readonly str path
    cdef readonly str fmi_version
    cdef readonly str interface
    cdef readonly frozenset missing
    cdef readonly str prefix
    cdef readonly bint corrupted
    # Isolated: the handle is the proxy library's (cosim/isolation), and
    # ``exports`` lists the functions the real binary has.
    cdef readonly bint isolated
    cdef readonly frozenset exports
    cdef readonly str model_identifier
    cdef readonly str worker
    cdef public double call_timeout
    cdef proxy_configure_t proxy_configure
    cdef proxy_fate_t proxy_fate
    cdef proxy_discard_t proxy_discard
    cdef proxy_deferred_t proxy_deferred
    cdef void* _lookup(self, str name)
    cdef void* _need(self, str name) except NULL
    cdef void* _want(self, str name, list missing)
    cdef _resolve_fmi1(self, list missing)
    cdef _resolve_fmi2(self, list missing)
    cdef _resolve_fmi3(self, list missing)
    cdef _resolve_fmi2_me(self)


cdef class Instance:
    cdef Slave slave
    cdef StepEvents step_events
    cdef CosimLogSink* sink
    cdef void* callbacks
    cdef readonly Library library
    cdef readonly object archive
    cdef readonly object model
    cdef readonly str name
    cdef readonly bint alive
    cdef public double time
    cdef double start_time
    cdef double stop_time
    cdef bint stop_time_defined
    cdef readonly double tolerance
    cdef readonly bint tolerance_defined
    cdef readonly double log_rate
    cdef readonly unsigned long long suppressed_messages
    cdef unsigned long long unreported
    cdef double reported_at
    cdef Slave* c_slave(self)
    cdef int _code(self, str value_type, str action) except -1
    cdef size_t _values(self, size_t n, counts) except? 0
    cdef list _get_binary(self, const uint32_t* vr, size_t n)
    cdef _set_binary(self, const uint32_t* vr, size_t n, values)
    cpdef int check(self, int status, str function) except -1
    cdef int _check_events(self, int status) except -1
    cdef object _crash(self, str function, object time)


cdef class MEInstance(Instance):
    cdef readonly Py_ssize_t n_states
    cdef readonly Py_ssize_t n_event_indicators
    cdef MEFunctions* me
    cdef int _sized(self, Py_ssize_t n, Py_ssize_t expected, str what) except -1
