# The log of one instance: the C sink its FMU logs into, the callbacks that
# route messages there, and their draining to Python logging (_log.pyx).
from cosim.fmi._types cimport CosimLogSink, Fmi1Callbacks, log_fn_t


cdef class LogSink:
    cdef CosimLogSink* sink
    cdef void* callbacks2           # the fmi2CallbackFunctions, made when first asked for
    cdef readonly str name
    cdef readonly double rate
    cdef readonly unsigned long long suppressed
    cdef unsigned long long unreported
    cdef double reported_at
    # The FMI 3 logger (cosim_log_fmi3); the step loop logs its own findings with it too.
    cdef log_fn_t logger
    cdef Fmi1Callbacks callbacks1(self)
    cdef void* callbacks2_for(self) except NULL
    cdef void fmi1_instantiating(self, bint active)
    cdef bint fmi1_register(self, void* component)
    cdef void fmi1_unregister(self, void* component)
    cdef drain(self, bint errors_raised, bint final)
    cdef str take_error(self)
