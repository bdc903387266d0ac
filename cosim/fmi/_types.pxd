# Shared declarations of the native FMI binding: value type and status codes,
# the FMI function pointer types, the function tables a Library fills, and
# the C view of an instance (Slave) that the master's step loop works on.
# Declarations only: every FMI call goes through cosim/fmi/_calls.pxd.
from libc.stdint cimport uint32_t

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


# The proxy of isolated FMUs (cosim/isolation/proxy.c): its own entry points.
ctypedef int (*proxy_configure_t)(const char*, const char*, const char*, const char*, double,
                                  unsigned long long) noexcept nogil
ctypedef int (*proxy_fate_t)(void*, int*, char*, size_t, char*, size_t) noexcept nogil
ctypedef void (*proxy_discard_t)(void*) noexcept nogil
ctypedef int (*proxy_deferred_t)(void*, char*, size_t) noexcept nogil
ctypedef int (*proxy_respawn_t)(void*) noexcept nogil

