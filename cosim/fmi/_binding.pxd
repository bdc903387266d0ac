# Native FMI binding: function tables resolved with dlopen/dlsym, and inline
# nogil dispatch used by the master's step loop.
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
    N_VALUE_TYPES = 12

cdef enum:
    STATUS_OK = 0
    STATUS_WARNING = 1
    STATUS_DISCARD = 2
    STATUS_ERROR = 3
    STATUS_FATAL = 4

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
ctypedef int (*f_get_state_t)(void*, void**) noexcept nogil
ctypedef int (*f_set_state_t)(void*, void*) noexcept nogil
ctypedef int (*f_state_size_t)(void*, void*, size_t*) noexcept nogil
ctypedef int (*f_serialize_t)(void*, void*, char*, size_t) noexcept nogil
ctypedef int (*f_deserialize_t)(void*, const char*, size_t, void**) noexcept nogil
ctypedef int (*f_debug_logging_t)(void*, int, size_t, const char**) noexcept nogil
ctypedef int (*f2_input_derivatives_t)(void*, const uint32_t*, size_t, const int*, const double*) noexcept nogil
ctypedef int (*f2_output_derivatives_t)(void*, const uint32_t*, size_t, const int*, double*) noexcept nogil
ctypedef int (*f3_output_derivatives_t)(void*, const uint32_t*, size_t, const int*, double*, size_t) noexcept nogil

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


cdef inline int slave_do_step(Slave* s, double t, double h) noexcept nogil:
    cdef cbool event = 0, terminate = 0, early = 0
    cdef double last = 0.0
    cdef int status
    if s.version == 2:
        return s.fn.f2_do_step(s.component, t, h, 1)
    if s.version == 1:
        return s.fn.f1_do_step(s.component, t, h, 1)
    status = s.fn.f3_do_step(s.component, t, h, 1, &event, &terminate, &early, &last)
    if status <= STATUS_WARNING and (terminate or early):
        s.log(s.sink, STATUS_ERROR, "cosim",
              "the FMU ended the step early or asked to terminate the simulation")
        return STATUS_ERROR
    return status


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


cdef class Library:
    cdef void* handle
    cdef FmiFunctions fn
    cdef MEFunctions me
    cdef readonly str path
    cdef readonly str fmi_version
    cdef readonly str interface
    cdef readonly frozenset missing
    cdef readonly str prefix
    cdef void* _need(self, str name) except NULL
    cdef void* _want(self, str name, list missing)
    cdef _resolve_fmi1(self, list missing)
    cdef _resolve_fmi2(self, list missing)
    cdef _resolve_fmi3(self, list missing)
    cdef _resolve_fmi2_me(self)


cdef class Instance:
    cdef Slave slave
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
    cdef readonly double log_rate
    cdef readonly unsigned long long suppressed_messages
    cdef unsigned long long unreported
    cdef double reported_at
    cdef Slave* c_slave(self)
    cdef int _code(self, str value_type, str action) except -1
    cdef size_t _values(self, size_t n, counts) except? 0
    cpdef int check(self, int status, str function) except -1


cdef class MEInstance(Instance):
    cdef readonly Py_ssize_t n_states
    cdef readonly Py_ssize_t n_event_indicators
    cdef MEFunctions* me
    cdef int _sized(self, Py_ssize_t n, Py_ssize_t expected, str what) except -1
